//! Quotes (报价单): priced lines for an opportunity, valid until a date; draft → sent →
//! accepted or rejected, and fixed once sent ([`rules`]).

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

/// The permission key of quote records (roles grant on it; paths use its plural).
pub const QUOTE: Object = Object::record("quote", "quotes", Ownership::Owned);

pub const QUOTES: ObjectDef = ObjectDef {
    object: QUOTE,
    table: "quotes",
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
                super::documents::load(cx.store, input, before, true, true).await?,
            )),
            None => Ok(Loaded::of(super::documents::Context::default())),
        }
    }

    fn apply(&self, loaded: &Loaded, change: Change<'_>) -> Result<Effects, DomainError> {
        let empty = super::documents::Context::default();
        let ctx = loaded.get::<super::documents::Context>().unwrap_or(&empty);
        rules::prepare_quote(ctx, change.before, change.values, change.input, change.now)?;
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
        super::documents::number(tx, values, "quote", "Q", now).await
    }

    async fn delete_blocker(&self, store: &Store, id: &str) -> Result<Option<String>, DomainError> {
        super::blocked_by(
            store,
            "quote",
            id,
            &[
                ("contracts", "quote_id", "contracts"),
                ("orders", "quote_id", "orders"),
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
