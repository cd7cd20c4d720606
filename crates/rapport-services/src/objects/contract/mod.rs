//! Contracts (合同): the signed agreement, approved before it counts; its terms are fixed
//! once it is submitted for approval ([`rules`]).

mod fields;
mod rules;

use super::common::{name_norm, text_of};
use crate::records::hooks::{Branch, Change, Cx, Effects, Hooks, Loaded, SearchText, Values};
use crate::records::{ObjectDef, Record};
use crate::Store;
use chrono::{DateTime, Utc};
use rapport_core::input::Input;
use rapport_core::permission::Ownership;
use rapport_core::{DomainError, Object};
use sea_orm::sea_query::Value as SqlValue;
use sea_orm::DatabaseTransaction;

pub use fields::FIELDS;

/// The permission key of contract records (roles grant on it; paths use its plural).
pub const CONTRACT: Object = Object::record("contract", "contracts", Ownership::Owned);

pub const CONTRACTS: ObjectDef = ObjectDef {
    object: CONTRACT,
    table: "contracts",
    fields: FIELDS,
    hooks: &Rules,
};

struct Rules;

#[async_trait::async_trait]
impl Hooks for Rules {
    async fn load(
        &self,
        cx: Cx<'_>,
        input: Option<&Input>,
        before: Option<&Record>,
    ) -> Result<Loaded, DomainError> {
        match input {
            Some(input) => Ok(Loaded::of(
                super::documents::load(cx.store, input, before, false, false).await?,
            )),
            None => Ok(Loaded::of(super::documents::Context::default())),
        }
    }

    fn apply(&self, loaded: &Loaded, change: Change<'_>) -> Result<Effects, DomainError> {
        let empty = super::documents::Context::default();
        let ctx = loaded.get::<super::documents::Context>().unwrap_or(&empty);
        rules::prepare_contract(ctx, change.before, change.values)?;
        Ok(Effects::default())
    }

    fn derived(&self, values: &Values) -> Vec<(&'static str, SqlValue)> {
        vec![name_norm(&text_of(values, "name"))]
    }

    async fn before_insert(
        &self,
        tx: &DatabaseTransaction,
        values: &mut Values,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        super::documents::number(tx, values, "contract", "C", now).await
    }

    async fn delete_blocker(&self, store: &Store, id: &str) -> Result<Option<String>, DomainError> {
        super::blocked_by(
            store,
            "contract",
            id,
            &[
                ("payments", "contract_id", "payments"),
                ("orders", "contract_id", "orders"),
            ],
        )
        .await
    }

    fn label(&self, rec: &Record) -> String {
        super::documents::label(rec)
    }

    fn quick_search(&self, text: &SearchText<'_>) -> Vec<Branch> {
        super::documents::quick_search(text)
    }
}
