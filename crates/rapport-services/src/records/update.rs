//! Updating a record: preparing a change (validation, field rules, duplicate rules, the
//! record's business rules), writing it with its tokens, links, audit entry and change-feed
//! event, and the diff the audit trail keeps.

use super::{
    apply_rules, check_field_rules, check_references, codec, custom_values, derived, duplicates,
    find_in_scope_fresh, forbidden, normalise_doc, read_both, rule_context, t, to_json, tokens,
    write_links, ObjectDef, Record, WriteOptions,
};
use crate::access::{Access, OwnerFilter};
use crate::{audit, outbox, Store};
use rapport_core::fields::{FieldSpec, FieldValue};
use rapport_core::input::Mode;
use rapport_core::{Action, DomainError, Object};
use rapport_db::{db_err, exec};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::ConnectionTrait;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A checked change of a record, ready to be written (`apply_update`).
#[derive(Debug, Clone)]
pub struct PreparedUpdate {
    pub def: &'static ObjectDef,
    pub before: Record,
    after: BTreeMap<&'static str, FieldValue>,
    changes: Vec<&'static FieldSpec>,
    custom_after: Option<Map<String, Value>>,
}

impl PreparedUpdate {
    /// Whether the change changes anything.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.custom_after.is_none()
    }
}

/// Write a prepared change, its audit entry and outbox event inside `tx`.
pub async fn apply_update<C: ConnectionTrait>(
    tx: &C,
    store: &Store,
    actor: &Access,
    p: &PreparedUpdate,
) -> Result<(), DomainError> {
    if p.is_empty() {
        return Ok(());
    }
    write_changes(
        tx,
        store,
        actor,
        p.def,
        &p.before,
        &p.after,
        p.changes.clone(),
        "updated",
        json!({}),
        p.custom_after.clone(),
    )
    .await
}

/// Update fields of a record. Changing the owner needs the transfer right.
pub async fn update(
    store: &Store,
    actor: &Access,
    def: &'static ObjectDef,
    id: &str,
    doc: &Map<String, Value>,
    opts: WriteOptions,
) -> Result<Value, DomainError> {
    let p = prepare_update(store, actor, def, id, doc, opts).await?;
    if p.is_empty() {
        return Ok(to_json(def, actor, &p.before));
    }
    let tx = store.db.begin().await?;
    apply_update(&tx, store, actor, &p).await?;
    tx.commit().await.map_err(db_err)?;
    let rec = find_in_scope_fresh(store, def, &OwnerFilter::All, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok(to_json(def, actor, &rec))
}

/// Check a change of a record without writing anything.
pub async fn prepare_update(
    store: &Store,
    actor: &Access,
    def: &'static ObjectDef,
    id: &str,
    doc: &Map<String, Value>,
    opts: WriteOptions,
) -> Result<PreparedUpdate, DomainError> {
    let read_filter = actor
        .owners(def.object, Action::Read)
        .ok_or(DomainError::NotFound)?;
    let before = find_in_scope_fresh(store, def, &read_filter, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let filter = actor
        .owners(def.object, Action::Update)
        .ok_or_else(|| forbidden(def, Action::Update))?;
    if !filter.allows(before.owner_id()) {
        return Err(forbidden(def, Action::Update));
    }
    let doc = normalise_doc(def, doc)?;
    let (doc, custom_doc) = custom_values::split(&doc);
    let defs = crate::custom_fields::active(store, def.object).await?;
    let (input, custom_changes) =
        read_both(store, actor, def, &defs, &doc, &custom_doc, Mode::Update).await?;
    check_field_rules(def, actor, &input)?;
    if let Some(p) = input
        .get("protected")
        .filter(|_| def.object == Object::Account)
    {
        let was = matches!(before.values.get("protected"), Some(FieldValue::Bool(true)));
        if matches!(p, FieldValue::Bool(true)) != was {
            crate::pool::check_protect(store, actor, before.owner_id()).await?;
        }
    }
    if let Some(FieldValue::Text(new_owner)) = input.get("owner_id") {
        if Some(new_owner.as_str()) != before.owner_id() {
            let tf = actor
                .owners(def.object, Action::Transfer)
                .ok_or_else(|| forbidden(def, Action::Transfer))?;
            if !tf.allows(before.owner_id()) || !tf.allows(Some(new_owner)) {
                return Err(DomainError::field(
                    "owner_id",
                    "owner_out_of_scope",
                    "you may not transfer this record to that owner",
                ));
            }
        }
    } else if input.get("owner_id").is_some() {
        return Err(DomainError::field(
            "owner_id",
            "required",
            "a record must have an owner",
        ));
    }
    check_references(store, actor, def, &input, Some(id), &[]).await?;
    let mut after = before.values.clone();
    for (spec, v) in &input.values {
        after.insert(spec.name, v.clone());
    }
    let rules = rule_context(store, def, Some(&input), Some(&before)).await?;
    apply_rules(&rules, def, Some(&before), &mut after, &input, store.now())?;
    duplicates::check(store, actor, def, &after, Some(id), opts).await?;
    if let Some(FieldValue::Text(new_owner)) = input.get("owner_id") {
        let dept = actor.department_of(store, new_owner).await?;
        after.insert(
            "department_id",
            dept.map_or(FieldValue::Null, FieldValue::Text),
        );
    }
    let changes = diff(def, &before.values, &after);
    let custom_after = custom_values::merge(&before.custom, &custom_changes);
    let custom_changed = custom_after != before.custom;
    Ok(PreparedUpdate {
        def,
        before,
        after,
        changes,
        custom_after: custom_changed.then_some(custom_after),
    })
}

pub(crate) fn diff(
    def: &ObjectDef,
    before: &BTreeMap<&'static str, FieldValue>,
    after: &BTreeMap<&'static str, FieldValue>,
) -> Vec<&'static FieldSpec> {
    def.fields
        .iter()
        .filter(|f| before.get(f.name) != after.get(f.name))
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_changes<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    before: &Record,
    after: &BTreeMap<&'static str, FieldValue>,
    changed: Vec<&'static FieldSpec>,
    verb: &str,
    extra: Value,
    custom_after: Option<Map<String, Value>>,
) -> Result<(), DomainError> {
    let keys = store.keys()?;
    let defs = crate::custom_fields::list(store, def.object).await?;
    let now = store.now();
    let mut q = Query::update();
    q.table(t(def.table))
        .value(t("updated_at"), now)
        .and_where(Expr::col(t("id")).eq(before.id.as_str()));
    let mut audit_changes = Map::new();
    let mut links_changed = None;
    for spec in &changed {
        let v = after.get(spec.name).cloned().unwrap_or(FieldValue::Null);
        if let FieldValue::Links(l) = &v {
            links_changed = Some(l.clone());
        }
        for (c, val) in codec::encode(spec, &v, &keys, def.table, &before.id)? {
            q.value(Alias::new(c), val);
        }
        audit_changes.insert(
            spec.name.into(),
            json!({"before": codec::audit_value(spec, before.values.get(spec.name).unwrap_or(&FieldValue::Null)), "after": codec::audit_value(spec, &v)}),
        );
    }
    for (c, v) in derived(def, after) {
        q.value(Alias::new(c), v);
    }
    let mut changed_names: Vec<String> = changed.iter().map(|s| s.name.to_string()).collect();
    if let Some(custom) = &custom_after {
        for (c, v) in custom_values::encode(&keys, def.table, &before.id, &defs, custom)? {
            q.value(Alias::new(c), v);
        }
        for (k, change) in custom_values::audit_changes(&defs, &before.custom, custom) {
            changed_names.push(k.clone());
            audit_changes.insert(k, change);
        }
    }
    let custom_now = custom_after.as_ref().unwrap_or(&before.custom);
    let enters_stage =
        def.object == Object::Opportunity && changed.iter().any(|s| s.name == "stage_entered_at");
    exec(c, &q).await?;
    if enters_stage {
        crate::pipelines::rules::record_stage(c, &before.id, after, &actor.user_id, now).await?;
    }
    if let Some(links) = links_changed {
        if def.object == Object::Contact {
            write_links(c, &before.id, &links).await?;
        }
    }
    if def.object == Object::Payment {
        if let Some(contract) = before.text("contract_id") {
            crate::sales::rules::refresh_received(c, contract).await?;
        }
    }
    tokens::write(
        c,
        &keys,
        def,
        &before.id,
        after,
        custom_values::tokens(&keys, &defs, custom_now),
    )
    .await?;
    let mut details = json!({"changes": audit_changes});
    if let (Value::Object(d), Value::Object(e)) = (&mut details, extra) {
        d.extend(e);
    }
    audit::record(
        c,
        store,
        actor,
        audit::Entry::new(format!("{}.{verb}", def.key()))
            .object(def.key(), &before.id)
            .details(details),
    )
    .await?;
    let fields = changed_names;
    outbox::emit(
        c,
        store,
        actor,
        &format!("{}.{verb}", def.key()),
        def.key(),
        &before.id,
        json!({"id": before.id, "fields": fields}),
    )
    .await?;
    Ok(())
}
