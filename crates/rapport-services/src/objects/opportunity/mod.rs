//! Opportunities (商机): deals moving through the stages of a pipeline. The stage decides the
//! probability, status and close time ([`stages`]); entering a stage writes the stage history
//! in the same transaction, whichever path moved it (form, kanban, import, conversion).

pub mod board;
mod fields;
pub mod stages;

use super::common::{name_norm, text_of};
use crate::pipelines::Pipeline;
use crate::records::hooks::{Change, Cx, Effects, Hooks, Loaded, NameSource, Values, Written};
use crate::records::{ObjectDef, Record};
use crate::Store;
use rapport_core::input::Input;
use rapport_core::permission::Ownership;
use rapport_core::{DomainError, Object};
use sea_orm::sea_query::Value as SqlValue;
use sea_orm::DatabaseTransaction;

pub use fields::FIELDS;

/// The permission key of opportunity records (roles grant on it; paths use its plural).
pub const OPPORTUNITY: Object = Object::record("opportunity", "opportunities", Ownership::Owned);

pub const OPPORTUNITIES: ObjectDef = ObjectDef {
    object: OPPORTUNITY,
    table: "opportunities",
    fields: FIELDS,
    hooks: &Rules,
};

struct Rules;

#[async_trait::async_trait]
impl Hooks for Rules {
    fn has_activities(&self) -> bool {
        true
    }

    /// Every pipeline, read once per write or batch.
    async fn load(
        &self,
        cx: Cx<'_>,
        _input: Option<&Input>,
        _before: Option<&Record>,
    ) -> Result<Loaded, DomainError> {
        Ok(Loaded::of(
            crate::pipelines::list(cx.store.db.reader()).await?,
        ))
    }

    fn apply(&self, loaded: &Loaded, change: Change<'_>) -> Result<Effects, DomainError> {
        let pipelines: &[Pipeline] = loaded.get::<Vec<Pipeline>>().map_or(&[], Vec::as_slice);
        let enters_stage = stages::prepare_opportunity(
            pipelines,
            change.before,
            change.values,
            change
                .input
                .get("probability")
                .is_some_and(|p| !p.is_null()),
            change.now,
        )?;
        Ok(Effects { enters_stage })
    }

    fn derived(&self, values: &Values) -> Vec<(&'static str, SqlValue)> {
        vec![name_norm(&text_of(values, "name"))]
    }

    async fn after_write(
        &self,
        tx: &DatabaseTransaction,
        w: &Written<'_>,
    ) -> Result<(), DomainError> {
        if w.effects.enters_stage {
            stages::record_stage(tx, w.id, w.values, w.actor_id, w.now).await?;
        }
        Ok(())
    }

    fn batch_creatable(&self) -> bool {
        true
    }

    async fn delete_blocker(&self, store: &Store, id: &str) -> Result<Option<String>, DomainError> {
        super::blocked_by(
            store,
            "opportunity",
            id,
            &[
                ("quotes", "opportunity_id", "quotes"),
                ("contracts", "opportunity_id", "contracts"),
            ],
        )
        .await
    }

    fn name_sources(&self) -> &'static [NameSource] {
        &[super::common::NAME]
    }
}
