//! The business rules a save applies by record type (pipelines for leads and opportunities,
//! `sales::rules` for sales documents), and what they read from the database first. Creates,
//! updates and imports go through them alike.

use super::{ObjectDef, Record};
use crate::Store;
use rapport_core::fields::FieldValue;
use rapport_core::input::Input;
use rapport_core::{DomainError, Object};
use std::collections::BTreeMap;

/// What the rules of `def` need from the database, read once per write or batch.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleContext {
    /// Every pipeline, for opportunities.
    pipelines: Vec<crate::pipelines::Pipeline>,
    /// Products, price list and contract of a sales document.
    sales: crate::sales::rules::Context,
}

pub(super) async fn rule_context(
    store: &Store,
    def: &ObjectDef,
    input: Option<&Input>,
    before: Option<&Record>,
) -> Result<RuleContext, DomainError> {
    let mut ctx = RuleContext::default();
    if def.object == Object::Opportunity {
        ctx.pipelines = crate::pipelines::list(store.db.reader()).await?;
    }
    if let Some(input) = input {
        ctx.sales = crate::sales::rules::load(store, def.object, input, before).await?;
    }
    Ok(ctx)
}

/// The rules of each record type (`pipelines::rules`, `sales::rules`); returns whether an
/// opportunity enters a stage.
pub(super) fn apply_rules(
    ctx: &RuleContext,
    def: &ObjectDef,
    before: Option<&Record>,
    values: &mut BTreeMap<&'static str, FieldValue>,
    input: &Input,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, DomainError> {
    use crate::pipelines::rules;
    match def.object {
        Object::Lead => {
            rules::prepare_lead(before, values, input.get("status").is_some())?;
            Ok(false)
        }
        Object::Opportunity => rules::prepare_opportunity(
            &ctx.pipelines,
            before,
            values,
            input.get("probability").is_some_and(|p| !p.is_null()),
            now,
        ),
        object => {
            crate::sales::rules::prepare(&ctx.sales, object, before, values, input, now)?;
            Ok(false)
        }
    }
}
