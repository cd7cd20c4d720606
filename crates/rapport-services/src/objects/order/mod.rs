//! Orders (订单): what is delivered, confirmed → shipped → delivered → completed, or
//! cancelled before delivery ([`rules`]).

mod fields;
mod rules;

use super::common::{name_norm, text_of};
use crate::records::hooks::{Branch, Change, Cx, Effects, Hooks, Loaded, SearchText, Values};
use crate::records::{ObjectDef, Record};
use chrono::{DateTime, Utc};
use rapport_core::input::Input;
use rapport_core::permission::Ownership;
use rapport_core::{DomainError, Object};
use sea_orm::sea_query::Value as SqlValue;
use sea_orm::DatabaseTransaction;

pub use fields::FIELDS;

/// The permission key of order records (roles grant on it; paths use its plural).
pub const ORDER: Object = Object::record("order", "orders", Ownership::Owned);

pub const ORDERS: ObjectDef = ObjectDef {
    object: ORDER,
    table: "orders",
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
                super::documents::load(cx.store, input, before, true, false).await?,
            )),
            None => Ok(Loaded::of(super::documents::Context::default())),
        }
    }

    fn apply(&self, loaded: &Loaded, change: Change<'_>) -> Result<Effects, DomainError> {
        let empty = super::documents::Context::default();
        let ctx = loaded.get::<super::documents::Context>().unwrap_or(&empty);
        rules::prepare_order(ctx, change.before, change.values, change.input, change.now)?;
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
        super::documents::number(tx, values, "order", "SO", now).await
    }

    fn label(&self, rec: &Record) -> String {
        super::documents::label(rec)
    }

    fn quick_search(&self, text: &SearchText<'_>) -> Vec<Branch> {
        super::documents::quick_search(text)
    }
}
