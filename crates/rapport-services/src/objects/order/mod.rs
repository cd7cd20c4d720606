//! Orders (订单): what is delivered, confirmed → shipped → delivered → completed, or
//! cancelled before delivery ([`rules`]).

mod fields;
mod rules;

use super::documents::Document;
use crate::records::ObjectDef;
use rapport_core::permission::Ownership;
use rapport_core::Object;

pub use fields::FIELDS;

/// The permission key of order records (roles grant on it; paths use its plural).
pub const ORDER: Object = Object::record("order", "orders", Ownership::Owned);

pub const ORDERS: ObjectDef = ObjectDef {
    object: ORDER,
    table: "orders",
    fields: FIELDS,
    hooks: &RULES,
};

const RULES: Document = Document {
    key: "order",
    prefix: "SO",
    with_lines: true,
    with_price_list: false,
    prepare: rules::prepare_order,
    blockers: &[],
};
