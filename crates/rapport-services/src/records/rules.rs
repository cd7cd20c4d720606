//! The record type's own rules at the two points every save shares (creates, updates,
//! imports, the demo alike): what they read from the database first ([`rule_context`]), and
//! applying them to the values ([`apply_rules`]). The rules themselves are the type's hooks.

use super::hooks::{Change, Cx, Effects, Loaded};
use super::{ObjectDef, Record};
use crate::access::Access;
use crate::Store;
use rapport_core::fields::FieldValue;
use rapport_core::input::Input;
use rapport_core::DomainError;
use std::collections::BTreeMap;

/// What the rules of a type read before a write or batch.
pub(crate) type RuleContext = Loaded;

pub(super) async fn rule_context(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    input: Option<&Input>,
    before: Option<&Record>,
) -> Result<RuleContext, DomainError> {
    def.hooks.load(Cx { store, actor }, input, before).await
}

pub(super) fn apply_rules(
    ctx: &RuleContext,
    def: &ObjectDef,
    before: Option<&Record>,
    values: &mut BTreeMap<&'static str, FieldValue>,
    input: &Input,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Effects, DomainError> {
    def.hooks.apply(
        ctx,
        Change {
            before,
            values,
            input,
            now,
        },
    )
}
