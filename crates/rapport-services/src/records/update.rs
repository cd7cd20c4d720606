//! Updating a record: preparing a change (validation, field rules, duplicate rules, the
//! record's business rules), writing it with its tokens, links, audit entry and change-feed
//! event, and the diff the audit trail keeps.

use super::hooks::{Cx, Effects, Written};
use super::{
    apply_rules, check_field_rules, check_references, codec, custom_values, derived, duplicates,
    find_in_scope_fresh, forbidden, normalise_doc, read_both, rule_context, t, to_json, tokens,
    write_links, ObjectDef, Record, Seen, WriteOptions,
};
use crate::access::{Access, OwnerFilter};
use crate::{audit, outbox, Store};
use rapport_core::fields::{FieldSpec, FieldValue};
use rapport_core::input::Mode;
use rapport_core::{Action, DomainError};
use rapport_db::{db_err, exec};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::DatabaseTransaction;
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
    effects: Effects,
    opts: WriteOptions,
}

impl PreparedUpdate {
    /// Whether the change changes anything.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.custom_after.is_none()
    }
}

/// Write a prepared change, its audit entry and outbox event inside `tx`.
pub async fn apply_update(
    tx: &DatabaseTransaction,
    store: &Store,
    actor: &Access,
    p: &PreparedUpdate,
) -> Result<(), DomainError> {
    if p.is_empty() {
        return Ok(());
    }
    duplicates::confirm(
        tx,
        store,
        actor,
        p.def,
        &p.after,
        Some((&p.before.id, &p.before.values)),
        p.opts,
        &mut Default::default(),
    )
    .await?;
    write_changes(
        tx,
        store,
        actor,
        Changes {
            def: p.def,
            before: &p.before,
            after: &p.after,
            changed: p.changes.clone(),
            verb: "updated",
            extra: json!({}),
            custom_after: p.custom_after.clone(),
            effects: p.effects,
        },
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
    Ok(update_seen(store, actor, def, id, doc, opts).await?.json)
}

/// Update fields of a record; the record after, as the caller sees it, with its version. The
/// write changes the record only if it is still at the version the change was checked
/// against ([`DomainError::VersionConflict`] otherwise), and at `opts.if_version` when given.
pub async fn update_seen(
    store: &Store,
    actor: &Access,
    def: &'static ObjectDef,
    id: &str,
    doc: &Map<String, Value>,
    opts: WriteOptions,
) -> Result<Seen, DomainError> {
    let p = prepare_update(store, actor, def, id, doc, opts).await?;
    if p.is_empty() {
        return Ok(Seen {
            json: to_json(def, actor, &p.before),
            version: p.before.version,
        });
    }
    let tx = store.db.begin().await?;
    apply_update(&tx, store, actor, &p).await?;
    tx.commit().await.map_err(db_err)?;
    let rec = find_in_scope_fresh(store, def, &OwnerFilter::All, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok(Seen {
        json: to_json(def, actor, &rec),
        version: rec.version,
    })
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
    if opts.if_version.is_some_and(|v| v != before.version) {
        return Err(DomainError::VersionConflict);
    }
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
    def.hooks
        .check(
            Cx { store, actor },
            &input,
            Some(&before),
            before.owner_id(),
        )
        .await?;
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
    let rules = rule_context(store, actor, def, Some(&input), Some(&before)).await?;
    let effects = apply_rules(&rules, def, Some(&before), &mut after, &input, store.now())?;
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
        effects,
        opts,
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

/// A change of one record as the writer takes it: the record before and the values after,
/// the fields that changed, what the audit entry calls it (`updated`, `transferred`,
/// `merged`) with its extra details, the custom values after (when they changed), and what
/// the type's rules said the write must also do.
pub(crate) struct Changes<'a> {
    pub def: &'a ObjectDef,
    pub before: &'a Record,
    pub after: &'a BTreeMap<&'static str, FieldValue>,
    pub changed: Vec<&'static FieldSpec>,
    pub verb: &'a str,
    pub extra: Value,
    pub custom_after: Option<Map<String, Value>>,
    pub effects: Effects,
}

/// Write a change inside `tx`: the row, its links and search tokens, the rows the type's rules
/// keep in step ([`super::hooks::Hooks::after_write`]), the audit entry and the change-feed
/// event. Every path that changes a record (updates, transfers, merges, imports) goes through
/// here.
pub(crate) async fn write_changes(
    tx: &DatabaseTransaction,
    store: &Store,
    actor: &Access,
    ch: Changes<'_>,
) -> Result<(), DomainError> {
    let Changes {
        def,
        before,
        after,
        changed,
        verb,
        extra,
        custom_after,
        effects,
    } = ch;
    // A value that does not decrypt reads as null: writing the record would replace it (or
    // its search tokens) with nothing, unless the change gives it a new value.
    let stuck: Vec<&str> = before
        .unreadable
        .iter()
        .copied()
        .filter(|f| *f == super::unreadable::CUSTOM || !changed.iter().any(|s| s.name == *f))
        .collect();
    if !stuck.is_empty() {
        return Err(DomainError::Conflict(format!(
            "stored values of this record do not decrypt with the loaded keys ({}); an \
             administrator must restore the key they need (`rapport keys status` lists them) \
             before the record can be changed",
            stuck.join(", ")
        )));
    }
    let keys = store.keys()?;
    let defs = crate::custom_fields::list(store, def.object).await?;
    let now = store.now();
    // The record as it was read, or nothing: a change made meanwhile (an update, a transfer,
    // a delete) is never overwritten.
    let mut q = Query::update();
    q.table(t(def.table))
        .value(t("updated_at"), now)
        .value(t("version"), Expr::col(t("version")).add(1))
        .and_where(Expr::col(t("id")).eq(before.id.as_str()))
        .and_where(Expr::col(t("version")).eq(before.version));
    let mut audit_changes = Map::new();
    let mut links_changed = None;
    // What describes a person is kept in the trail sealed under their own key.
    let sealer = if changed.iter().any(|s| super::sealed_in_audit(def, s)) {
        Some(audit::subjects::sealer(tx, store, def.key(), &before.id).await?)
    } else {
        None
    };
    for spec in &changed {
        let v = after.get(spec.name).cloned().unwrap_or(FieldValue::Null);
        if let FieldValue::Links(l) = &v {
            links_changed = Some(l.clone());
        }
        for (c, val) in codec::encode(spec, &v, &keys, def.table, &before.id)? {
            q.value(Alias::new(c), val);
        }
        let was = before.values.get(spec.name).unwrap_or(&FieldValue::Null);
        let change = match &sealer {
            Some(s) if super::sealed_in_audit(def, spec) => {
                json!({"before": s.seal(&was.to_json())?, "after": s.seal(&v.to_json())?})
            }
            _ => {
                json!({"before": codec::audit_value(spec, was), "after": codec::audit_value(spec, &v)})
            }
        };
        audit_changes.insert(spec.name.into(), change);
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
    if exec(tx, &q).await? != 1 {
        return Err(DomainError::VersionConflict);
    }
    if let Some(links) = links_changed {
        write_links(tx, &before.id, &links).await?;
    }
    def.hooks
        .after_write(
            tx,
            &Written {
                id: &before.id,
                before: Some(before),
                values: after,
                effects,
                actor_id: &actor.user_id,
                now,
            },
        )
        .await?;
    tokens::write(
        tx,
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
        tx,
        store,
        actor,
        audit::Entry::new(format!("{}.{verb}", def.key()))
            .object(def.key(), &before.id)
            .details(details),
    )
    .await?;
    let fields = changed_names;
    outbox::emit(
        tx,
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
