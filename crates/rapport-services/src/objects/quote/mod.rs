//! Quotes (报价单): priced lines for an opportunity, valid until a date; draft → sent →
//! accepted or rejected, and fixed once sent ([`rules`]).

mod fields;
mod rules;

use super::documents::Document;
use crate::records::ObjectDef;
use rapport_core::permission::Ownership;
use rapport_core::Object;

pub use fields::FIELDS;

/// The permission key of quote records (roles grant on it; paths use its plural).
pub const QUOTE: Object = Object::record("quote", "quotes", Ownership::Owned);

pub const QUOTES: ObjectDef = ObjectDef {
    object: QUOTE,
    table: "quotes",
    fields: FIELDS,
    hooks: &RULES,
};

const RULES: Document = Document {
    key: "quote",
    prefix: "Q",
    with_lines: true,
    with_price_list: true,
    prepare: rules::prepare_quote,
    blockers: &[
        ("contracts", "quote_id", "contracts"),
        ("orders", "quote_id", "orders"),
    ],
};
