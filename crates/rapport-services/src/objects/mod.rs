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

pub use account::{ACCOUNT, ACCOUNTS};
pub use contact::{CONTACT, CONTACTS};
pub use contract::{CONTRACT, CONTRACTS};
pub use lead::{LEAD, LEADS};
pub use opportunity::{OPPORTUNITIES, OPPORTUNITY};
pub use order::{ORDER, ORDERS};
pub use payment::{PAYMENT, PAYMENTS};
pub use product::{PRODUCT, PRODUCTS};
pub use quote::{QUOTE, QUOTES};

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

/// Make the record types known to the permission vocabulary (`Object::parse`,
/// `Object::from_plural`, `Object::all`). The store and the migrations call it; it is
/// idempotent.
pub fn register() {
    rapport_core::permission::register_records(ALL.iter().map(|d| d.object));
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_core::{Action, Grants, Scope};

    #[test]
    fn the_vocabulary_knows_every_registered_type_and_nothing_else() {
        register();
        let records = Object::records();
        assert_eq!(records.len(), ALL.len());
        for def in ALL {
            assert!(def.object.is_record());
            assert_eq!(Object::parse(def.object.key()), Some(def.object));
            assert_eq!(Object::from_plural(def.plural()), Some(def.object));
            assert_eq!(def_of(def.object).map(|d| d.table), Some(def.table));
        }
        assert_eq!(Object::parse("settings"), Some(Object::SETTINGS));
        assert_eq!(Object::parse("ticket"), None);
        assert_eq!(Object::from_plural("settings"), None);
        assert!(!PRODUCT.is_owned());
        assert!(PAYMENT.is_owned());
        // Record types first, in menu order, then the administrative areas.
        let all = Object::all();
        assert_eq!(all.first(), Some(&ACCOUNT));
        assert_eq!(all.last(), Some(&Object::SETTINGS));
        assert_eq!(all.len(), ALL.len() + Object::AREAS.len());
    }

    #[test]
    fn grants_keep_their_keys_through_json_and_refuse_unknown_ones() {
        register();
        let mut g = Grants::default();
        g.permissions
            .entry(OPPORTUNITY)
            .or_default()
            .insert(Action::Read, Scope::Own);
        g.permissions
            .entry(Object::AUDIT)
            .or_default()
            .insert(Action::Read, Scope::All);
        let json = serde_json::to_string(&g).unwrap();
        assert!(
            json.contains("\"opportunity\":{\"read\":\"own\"}"),
            "{json}"
        );
        let back: Grants = serde_json::from_str(&json).unwrap();
        assert_eq!(back, g);
        let err = serde_json::from_str::<Grants>(r#"{"permissions":{"ticket":{"read":"all"}}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("unknown object `ticket`"), "{err}");
    }
}
