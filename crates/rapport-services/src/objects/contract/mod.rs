//! Contracts (合同): the signed agreement, approved before it counts; its terms are fixed
//! once it is submitted for approval ([`rules`]).

mod fields;
mod rules;

use super::documents::Document;
use crate::records::ObjectDef;
use rapport_core::permission::Ownership;
use rapport_core::Object;

pub use fields::FIELDS;

/// The permission key of contract records (roles grant on it; paths use its plural).
pub const CONTRACT: Object = Object::record("contract", "contracts", Ownership::Owned);

pub const CONTRACTS: ObjectDef = ObjectDef {
    object: CONTRACT,
    table: "contracts",
    fields: FIELDS,
    hooks: &RULES,
};

const RULES: Document = Document {
    key: "contract",
    prefix: "C",
    with_lines: false,
    with_price_list: false,
    prepare: |ctx, before, values, _, _| rules::prepare_contract(ctx, before, values),
    blockers: &[
        ("payments", "contract_id", "payments"),
        ("orders", "contract_id", "orders"),
    ],
};
