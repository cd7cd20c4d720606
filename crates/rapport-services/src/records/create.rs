//! Creating records, in two halves so that one transaction can create several (a lead's
//! conversion): `prepare_create` checks rights, validates and computes every value without
//! writing; `insert` writes one prepared record with its audit entry and outbox event. A
//! single create's write goes through the group-commit writer (`group`).

use super::duplicates::Claimed;
use super::hooks::{Cx, Effects, Written};
use super::{
    apply_rules, check_field_rules, check_references, codec, custom_values, derived, duplicates,
    find_in_scope_fresh, forbidden, normalise_doc, read_both, rule_context, t, to_json, tokens,
    write_links, ObjectDef, Seen, WriteOptions, RULE_FIELDS,
};
use crate::access::{Access, OwnerFilter};
use crate::{audit, outbox, Store};
use rapport_core::custom::CustomField;
use rapport_core::fields::{FieldKind, FieldValue};
use rapport_core::input::Mode;
use rapport_core::{ids, Action, DomainError};
use rapport_db::exec;
use sea_orm::sea_query::{Alias, Query, SimpleExpr};
use sea_orm::DatabaseTransaction;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// What the system decides about a record created on a user's behalf.
#[derive(Debug, Clone, Default)]
pub struct Preset {
    /// The new record's id (known in advance when other new records refer to it).
    pub id: Option<String>,
    /// Reference fields the system filled with records it creates in the same transaction:
    /// they are not looked up.
    pub trusted: Vec<&'static str>,
    /// System fields to set (a converted lead's id on its opportunity).
    pub system: Vec<(&'static str, FieldValue)>,
}

/// A record ready to be written.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub def: &'static ObjectDef,
    pub id: String,
    pub values: BTreeMap<&'static str, FieldValue>,
    custom: Map<String, Value>,
    defs: Vec<CustomField>,
    audit_values: Map<String, Value>,
    effects: Effects,
    pub(crate) opts: WriteOptions,
    now: chrono::DateTime<chrono::Utc>,
}

/// Check and compute a new record without writing anything.
pub async fn prepare_create(
    store: &Store,
    actor: &Access,
    def: &'static ObjectDef,
    doc: &Map<String, Value>,
    opts: WriteOptions,
    preset: Preset,
) -> Result<Prepared, DomainError> {
    let filter = actor
        .owners(def.object, Action::Create)
        .ok_or_else(|| forbidden(def, Action::Create))?;
    let doc = normalise_doc(def, doc)?;
    let (doc, custom_doc) = custom_values::split(&doc);
    let defs = crate::custom_fields::active(store, def.object).await?;
    let (mut input, custom) =
        read_both(store, actor, def, &defs, &doc, &custom_doc, Mode::Create).await?;
    check_field_rules(def, actor, &input)?;
    // References first: a default taken from a record the actor may not see (a payment's
    // owner from its contract) must not answer differently from a record that does not exist.
    check_references(store, actor, def, &input, None, &preset.trusted).await?;
    let cx = Cx { store, actor };
    // Owner: the caller unless another owner inside the caller's create scope is named.
    let owner = match input.get("owner_id") {
        Some(FieldValue::Text(o)) => o.clone(),
        _ => def
            .hooks
            .default_owner(cx, &input)
            .await?
            .unwrap_or_else(|| actor.user_id.clone()),
    };
    if !filter.allows(Some(&owner)) {
        return Err(DomainError::field(
            "owner_id",
            "owner_out_of_scope",
            "you may not create records for that owner",
        ));
    }
    if let Some(spec) = def.field("owner_id") {
        input.set(spec, FieldValue::Text(owner.clone()));
    }
    def.hooks.check(cx, &input, None, Some(&owner)).await?;
    if let Some(spec) = def.field("currency") {
        if input.get("currency").is_none_or(FieldValue::is_null) {
            input.set(spec, FieldValue::Text("CNY".into()));
        }
    }
    let id = preset.id.unwrap_or_else(ids::new_id);
    let now = store.now();
    let mut values = def.values_from(&input);
    for (name, v) in preset.system {
        values.insert(name, v);
    }
    let rules = rule_context(store, actor, def, Some(&input), None).await?;
    let effects = apply_rules(&rules, def, None, &mut values, &input, now)?;
    duplicates::check(store, actor, def, &values, None, opts).await?;
    // The caller's own department came with their sign-in (kept at most a second).
    let dept = if owner == actor.user_id {
        actor.department_id.clone()
    } else {
        actor.department_of(store, &owner).await?
    };
    if let Some(spec) = def.field("department_id") {
        values.insert(spec.name, dept.map_or(FieldValue::Null, FieldValue::Text));
    }
    let mut audit_values = Map::new();
    for (spec, v) in &input.values {
        // Values to seal under the person's key are sealed when the record is written.
        let shown = if super::sealed_in_audit(def, spec) {
            v.to_json()
        } else {
            codec::audit_value(spec, v)
        };
        audit_values.insert(spec.name.into(), shown);
    }
    for name in RULE_FIELDS {
        if let (Some(spec), Some(v)) = (def.field(name), values.get(name)) {
            if !v.is_null() {
                audit_values.insert((*name).into(), codec::audit_value(spec, v));
            }
        }
    }
    for (k, change) in custom_values::audit_changes(&defs, &Map::new(), &custom) {
        audit_values.insert(k, change["after"].clone());
    }
    Ok(Prepared {
        def,
        id,
        values,
        custom,
        defs,
        audit_values,
        effects,
        opts,
        now,
    })
}

/// Write a prepared record, its audit entry and outbox event inside `tx`.
pub async fn insert(
    tx: &DatabaseTransaction,
    store: &Store,
    actor: &Access,
    p: &Prepared,
) -> Result<(), DomainError> {
    let entry = insert_unaudited(tx, store, actor, p).await?;
    audit::record(tx, store, actor, entry).await
}

/// Write a prepared record and its outbox event inside `tx`, and return its audit entry,
/// which the caller records in the same transaction (with others, as its last write).
pub async fn insert_unaudited(
    tx: &DatabaseTransaction,
    store: &Store,
    actor: &Access,
    p: &Prepared,
) -> Result<audit::Entry, DomainError> {
    let trail = write_record(tx, store, actor, p, &mut Claimed::default(), None).await?;
    rapport_db::search_index::insert(tx, [(p.def.key(), p.id.as_str(), &trail.tokens)]).await?;
    outbox::emit_many(tx, store, [(actor.principal(), &trail.event)]).await?;
    Ok(trail.entry)
}

/// What a written record still owes: its search tokens, audit entry and change-feed event,
/// written by [`insert`] at once, or together with others' by the group writer.
pub(crate) struct Trail {
    pub tokens: Vec<String>,
    pub entry: audit::Entry,
    pub event: outbox::Event,
}

/// The fields of a prepared record whose values the audit entry seals with the person's key
/// (none: the record needs no key).
pub(crate) fn sealed_fields(p: &Prepared) -> Vec<&'static str> {
    p.def
        .fields
        .iter()
        .filter(|f| super::sealed_in_audit(p.def, f) && p.audit_values.contains_key(f.name))
        .map(|f| f.name)
        .collect()
}

/// Write a prepared record's rows (the record, its links, stage history) inside `tx`, and
/// return its search tokens, audit entry and outbox event unwritten.
pub(crate) async fn write_record(
    tx: &DatabaseTransaction,
    store: &Store,
    actor: &Access,
    p: &Prepared,
    claimed: &mut Claimed,
    sealer: Option<audit::subjects::Sealer>,
) -> Result<Trail, DomainError> {
    let def = p.def;
    let id = &p.id;
    let keys = store.keys()?;
    let mut values = p.values.clone();
    let mut audit_values = p.audit_values.clone();
    let to_seal = sealed_fields(p);
    if !to_seal.is_empty() {
        let sealer = match sealer {
            Some(s) => s,
            None => audit::subjects::sealer_for_new(tx, store, def.key(), id).await?,
        };
        for name in to_seal {
            if let Some(v) = audit_values.get_mut(name) {
                *v = sealer.seal(v)?;
            }
        }
    }
    // The duplicate rules hold against records committed since the check and written earlier
    // in this transaction (concurrent creates of the same key).
    duplicates::confirm(tx, store, actor, def, &values, None, p.opts, claimed).await?;
    def.hooks.before_insert(tx, &mut values, p.now).await?;
    if let Some(n) = values.get("number").filter(|n| !n.is_null()) {
        if p.values.get("number") != Some(n) {
            audit_values.insert("number".into(), n.to_json());
        }
    }
    let mut cols: Vec<Alias> = vec![t("id"), t("created_at"), t("updated_at"), t("created_by")];
    let mut vals: Vec<SimpleExpr> = vec![
        id.clone().into(),
        p.now.into(),
        p.now.into(),
        actor.user_id.clone().into(),
    ];
    for f in def.fields {
        let v = values.get(f.name).cloned().unwrap_or(FieldValue::Null);
        if v.is_null() && !matches!(f.kind, FieldKind::Tags) {
            continue;
        }
        for (c, v) in codec::encode(f, &v, &keys, def.table, id)? {
            cols.push(Alias::new(c));
            vals.push(v.into());
        }
    }
    for (c, v) in derived(def, &values) {
        cols.push(Alias::new(c));
        vals.push(v.into());
    }
    for (c, v) in custom_values::encode(&keys, def.table, id, &p.defs, &p.custom)? {
        cols.push(Alias::new(c));
        vals.push(v.into());
    }
    exec(
        tx,
        Query::insert()
            .into_table(t(def.table))
            .columns(cols)
            .values(vals)
            .map_err(DomainError::internal)?,
    )
    .await?;
    if let Some(FieldValue::Links(links)) = values.get("accounts") {
        write_links(tx, id, links).await?;
    }
    def.hooks
        .after_write(
            tx,
            &Written {
                id,
                before: None,
                values: &values,
                effects: p.effects,
                actor_id: &actor.user_id,
                now: p.now,
            },
        )
        .await?;
    // A new record has no tokens to clear; they are written with the trail.
    let tokens = tokens::for_record(
        &keys,
        def,
        &values,
        custom_values::tokens(&keys, &p.defs, &p.custom),
    );
    let action = format!("{}.created", def.key());
    Ok(Trail {
        tokens,
        entry: audit::Entry::new(action.clone())
            .object(def.key(), id)
            .details(json!({"values": audit_values})),
        event: outbox::Event {
            event: action,
            object_type: def.key().into(),
            object_id: id.clone(),
            payload: json!({"id": id}),
        },
    })
}

/// Create a record.
pub async fn create(
    store: &Store,
    actor: &Access,
    def: &'static ObjectDef,
    doc: &Map<String, Value>,
    opts: WriteOptions,
) -> Result<Value, DomainError> {
    Ok(create_seen(store, actor, def, doc, opts).await?.json)
}

/// Create a record; the record as the caller sees it, with its version.
pub async fn create_seen(
    store: &Store,
    actor: &Access,
    def: &'static ObjectDef,
    doc: &Map<String, Value>,
    opts: WriteOptions,
) -> Result<Seen, DomainError> {
    let p = prepare_create(store, actor, def, doc, opts, Preset::default()).await?;
    let id = p.id.clone();
    super::group::write(store, actor, p).await?;
    let rec = find_in_scope_fresh(store, def, &OwnerFilter::All, &id)
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok(Seen {
        json: to_json(def, actor, &rec),
        version: rec.version,
    })
}
