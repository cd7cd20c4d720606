//! The record types, one folder each: its fields and its rules ([`crate::records::hooks`]).
//! The record engine knows them only through [`ALL`]; a new type is a folder and one line
//! there.

pub mod account;
mod common;
pub mod contact;
pub mod contract;
mod documents;
pub mod lead;
mod numbering;
pub mod opportunity;
pub mod order;
pub mod payment;
pub mod product;
pub mod quote;

pub use account::ACCOUNTS;
pub use contact::CONTACTS;
pub use contract::CONTRACTS;
pub use lead::LEADS;
pub use opportunity::OPPORTUNITIES;
pub use order::ORDERS;
pub use payment::PAYMENTS;
pub use product::PRODUCTS;
pub use quote::QUOTES;

use crate::records::{ObjectDef, RecordTypes};
use crate::Store;
use rapport_core::{DomainError, Object};
use sea_orm::sea_query::{Alias, Expr, Query};

/// Every record type, in the order menus and pickers show them.
pub const ALL: [&ObjectDef; 9] = [
    &ACCOUNTS,
    &CONTACTS,
    &LEADS,
    &OPPORTUNITIES,
    &PRODUCTS,
    &QUOTES,
    &CONTRACTS,
    &ORDERS,
    &PAYMENTS,
];

/// The registry the crate root gives the [`Store`](crate::Store): the engine finds types
/// through it.
pub const TYPES: RecordTypes = RecordTypes::new(&ALL);

/// The record type of an object, if it is one.
pub fn def_of(object: Object) -> Option<&'static ObjectDef> {
    TYPES.def_of(object)
}

/// The record type a path's plural names (`/api/v1/opportunities`).
pub fn by_plural(plural: &str) -> Option<&'static ObjectDef> {
    TYPES.by_plural(plural)
}

/// The field `name` of `object` records, if it has one.
pub fn field(object: Object, name: &str) -> Option<&'static rapport_core::fields::FieldSpec> {
    TYPES.field(object, name)
}

/// Whether a field rule may name this field (any built-in or custom field of a record type).
pub fn is_known_field(object: Object, name: &str) -> bool {
    TYPES.is_known_field(object, name)
}

/// Why the record `id` of type `key` cannot be deleted: the first of `checks` (table, column,
/// what to call them) that names it.
pub(crate) async fn blocked_by(
    store: &Store,
    key: &str,
    id: &str,
    checks: &[(&str, &str, &str)],
) -> Result<Option<String>, DomainError> {
    for (table, col, what) in checks {
        let found = rapport_db::one(
            store.db.reader(),
            Query::select()
                .column(Alias::new("id"))
                .from(Alias::new(*table))
                .and_where(Expr::col(Alias::new(*col)).eq(id))
                .limit(1),
        )
        .await?;
        if found.is_some() {
            return Ok(Some(format!(
                "this {key} has {what}; delete or move them first"
            )));
        }
    }
    Ok(None)
}
