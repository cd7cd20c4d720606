//! The record engine every record type plugs into (`crate::objects`): create, read, list,
//! update, delete and transfer, each checking the actor's rights ([`Access`]), applying the
//! scope in the SQL query and the field rules to every value, calling the type's rules at the
//! fixed points of one pipeline ([`hooks`]), and writing audit + outbox in the same
//! transaction as the change. The engine never names a record type.
//!
//! Where each part lives: `create` and `fast_create` (one record, and many at a time for
//! imports and demo data), `update`, `transfer`, `references` (the checks a save makes
//! against the database), `rules` (where the type's hooks run), `duplicates`, `read` and
//! `page` (reading records and list pages), `query` and `filter` (quick search, sorts and
//! filter trees), `codec` and `tokens` (encrypted columns and their blind-index tokens), `merging` (what a
//! type declares to be mergeable);
//! deleting and the change history stay here.

pub mod batch;
pub mod bulk;

pub mod codec;
mod create;
pub use create::{create, create_seen, insert, insert_unaudited, prepare_create, Prepared, Preset};
pub mod custom_values;
pub mod export;
pub mod fast_create;
pub(crate) mod group;

pub mod duplicates;
pub mod hooks;
pub mod merging;
pub mod name_index;
mod page;
pub mod query;
pub(crate) mod search;
#[cfg(test)]
mod search_tests;
pub use page::{RowPage, ShownRows};
mod read;
use read::{custom_values, inline_links, links_of, sort_links, PageQuery, LINKS_COLUMN};
pub(crate) use read::{find_all_in_scope_fresh, read_records_fresh, row_to_partial, Needed};
pub(crate) use read::{find_in_scope, find_in_scope_fresh};
mod shown;
pub use shown::{Lens, Shown};
mod filter;
mod references;
pub mod rekey;
use references::check_references;
mod rules;
pub(crate) use rules::RuleContext;
use rules::{apply_rules, rule_context};
mod tokens;
mod transfer;
mod types;
pub mod unreadable;
pub use transfer::transfer;
pub use types::RecordTypes;
mod update;
pub use update::{apply_update, prepare_update, update, update_seen, PreparedUpdate};
pub(crate) use update::{diff, write_changes, Changes};

use crate::access::{Access, OwnerFilter};
use crate::{audit, outbox, Store};
use hooks::Hooks;
use rapport_core::fields::{FieldSpec, FieldValue};
use rapport_core::input::{self, Input, Mode};
use rapport_core::{ids, Action, DomainError, FieldError, Object};
use rapport_db::{db_err, exec};
use sea_orm::sea_query::{Alias, Expr, Query, Value as SqlValue};
use sea_orm::ConnectionTrait;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A record type: its object key, table, path and fields, and its rules ([`Hooks`]). Each
/// type declares one in its folder under `crate::objects`.
#[derive(Clone, Copy)]
pub struct ObjectDef {
    pub object: Object,
    pub table: &'static str,
    pub fields: &'static [FieldSpec],
    pub hooks: &'static dyn Hooks,
}

impl ObjectDef {
    /// The plural used in paths (`/api/v1/opportunities`), from the type's permission key.
    pub fn plural(&self) -> &'static str {
        self.object.plural().unwrap_or(self.table)
    }
}

impl std::fmt::Debug for ObjectDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectDef")
            .field("object", &self.object)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

/// Whether the audit trail keeps `spec`'s values sealed under the person's own key (see
/// `audit::subjects`): the fields that describe the person a record holds (personal ones and
/// those its erasure clears), except sensitive ones, which the trail never holds at all.
pub(crate) fn sealed_in_audit(def: &ObjectDef, spec: &FieldSpec) -> bool {
    !spec.sensitive
        && def
            .hooks
            .erasure()
            .is_some_and(|e| spec.personal || e.also.contains(&spec.name))
}

/// Fields the rules set themselves; recorded in the creation audit.
const RULE_FIELDS: &[&str] = &[
    "pipeline_id",
    "stage",
    "probability",
    "status",
    "lines",
    "total",
    "account_id",
    "currency",
];

impl ObjectDef {
    pub fn key(&self) -> &'static str {
        self.object.key()
    }

    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Every field of the type, null unless `input` gives it a value: what a new record holds
    /// before defaults and rules.
    pub(crate) fn values_from(&self, input: &Input) -> BTreeMap<&'static str, FieldValue> {
        let mut values: BTreeMap<&'static str, FieldValue> = self
            .fields
            .iter()
            .map(|f| (f.name, FieldValue::Null))
            .collect();
        for (spec, v) in &input.values {
            values.insert(spec.name, v.clone());
        }
        values
    }
}

/// A record as stored, before field rules are applied.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub values: BTreeMap<&'static str, FieldValue>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub created_by: Option<String>,
    /// Raised by every change a user makes (see migration 24): a write names the version it
    /// read.
    pub version: i64,
    /// Custom field values (decrypted), keyed by `cf_...`, as the API shows them.
    pub custom: Map<String, Value>,
    /// Fields whose stored value does not decrypt (null in `values`), [`unreadable::CUSTOM`]
    /// for the sealed custom values.
    pub unreadable: Vec<&'static str>,
}

impl Record {
    pub fn owner_id(&self) -> Option<&str> {
        match self.values.get("owner_id") {
            Some(FieldValue::Text(t)) => Some(t.as_str()),
            _ => None,
        }
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(FieldValue::Text(t)) => Some(t.as_str()),
            _ => None,
        }
    }

    /// A short label for lists of related records and duplicate hints.
    pub fn label(&self, def: &ObjectDef) -> String {
        def.hooks.label(self)
    }
}

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// The record as the actor may see it: hidden fields removed. A page of records is better
/// serialised through one [`Lens`] without the trees.
pub fn to_json(def: &ObjectDef, actor: &Access, rec: &Record) -> Value {
    Lens::new(def, actor).show(rec).to_json()
}

/// Options the caller controls on a write.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// Proceed despite duplicates found by rules set to "warn".
    pub override_duplicates: bool,
    /// Change the record only if it is still at this version (the API's `If-Match`).
    pub if_version: Option<i64>,
}

/// Whether the actor holds `action` on the type at any scope (the API asks before reading a
/// body; which records the scope reaches is decided with the records).
pub fn may(actor: &Access, def: &ObjectDef, action: Action) -> Result<(), DomainError> {
    if actor.scope(def.object, action) == rapport_core::Scope::None {
        return Err(forbidden(def, action));
    }
    Ok(())
}

/// Whether the actor holds at least one of `actions` on the type (a bulk request, whose
/// action is in its body).
pub fn may_any(actor: &Access, def: &ObjectDef, actions: &[Action]) -> Result<(), DomainError> {
    match actions.iter().find(|a| may(actor, def, **a).is_ok()) {
        Some(_) => Ok(()),
        None => Err(forbidden(
            def,
            actions.first().copied().unwrap_or(Action::Update),
        )),
    }
}

fn forbidden(def: &ObjectDef, action: Action) -> DomainError {
    DomainError::Forbidden(format!(
        "you may not {} {} records",
        action.key(),
        def.key()
    ))
}

/// The posted document as the type reads it (its aliases resolved).
fn normalise_doc(
    def: &ObjectDef,
    doc: &Map<String, Value>,
) -> Result<Map<String, Value>, DomainError> {
    let mut doc = doc.clone();
    def.hooks.normalise(&mut doc)?;
    Ok(doc)
}

/// Reject writes to fields the actor's role makes read-only or hidden.
fn check_field_rules(def: &ObjectDef, actor: &Access, input: &Input) -> Result<(), DomainError> {
    let errors: Vec<FieldError> = input
        .values
        .iter()
        .filter(|(spec, _)| !actor.grants.can_write_field(def.object, spec.name))
        .map(|(spec, _)| {
            FieldError::new(
                spec.name,
                "field_not_writable",
                format!("your role may not change {}", spec.name),
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// Derived columns kept in step with the values: normalised names for search and duplicates.
pub(crate) fn derived(
    def: &ObjectDef,
    values: &BTreeMap<&'static str, FieldValue>,
) -> Vec<(String, SqlValue)> {
    def.hooks
        .derived(values)
        .into_iter()
        .map(|(c, v)| (c.to_string(), v))
        .collect()
}

async fn write_links<C: ConnectionTrait>(
    c: &C,
    contact_id: &str,
    links: &[rapport_core::fields::AccountLink],
) -> Result<(), DomainError> {
    exec(
        c,
        Query::delete()
            .from_table(t("contact_accounts"))
            .and_where(Expr::col(t("contact_id")).eq(contact_id)),
    )
    .await?;
    for l in links {
        exec(
            c,
            Query::insert()
                .into_table(t("contact_accounts"))
                .columns(["contact_id", "account_id", "role"].map(t))
                .values_panic([
                    contact_id.into(),
                    l.account_id.clone().into(),
                    l.role.clone().into(),
                ]),
        )
        .await?;
    }
    Ok(())
}

/// Validate the built-in and the custom parts of a document together, so every error is
/// reported at once.
async fn read_both(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    defs: &[rapport_core::custom::CustomField],
    doc: &Map<String, Value>,
    custom_doc: &Map<String, Value>,
    mode: Mode,
) -> Result<(Input, Map<String, Value>), DomainError> {
    let builtin = input::read(def.fields, doc, mode, &store.parse_context(), &[]);
    let custom = custom_values::read(store, actor, def.object, defs, custom_doc, mode).await;
    match (builtin, custom) {
        (Ok(i), Ok(c)) => Ok((i, c)),
        (Err(DomainError::Validation(mut a)), Err(b)) => {
            a.extend(b);
            Err(DomainError::Validation(a))
        }
        (Err(e), _) => Err(e),
        (Ok(_), Err(b)) => Err(DomainError::Validation(b)),
    }
}

/// Read one record (audited).
pub async fn read(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    id: &str,
) -> Result<Value, DomainError> {
    Ok(read_seen(store, actor, def, id).await?.json)
}

/// A record as the caller sees it, with its version (the API's ETag).
#[derive(Debug, Clone)]
pub struct Seen {
    pub json: Value,
    pub version: i64,
}

impl Seen {
    fn of(def: &ObjectDef, actor: &Access, rec: &Record) -> Seen {
        Seen {
            json: to_json(def, actor, rec),
            version: rec.version,
        }
    }
}

/// Read one record (audited), with its version.
pub async fn read_seen(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    id: &str,
) -> Result<Seen, DomainError> {
    let rec = read_record(store, actor, def, id).await?;
    audit::record_alone(
        store,
        actor,
        audit::Entry::new(format!("{}.read", def.key())).object(def.key(), id),
    )
    .await?;
    Ok(Seen::of(def, actor, &rec))
}

/// Load a record the actor may read, or `NotFound`.
pub async fn read_record(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    id: &str,
) -> Result<Record, DomainError> {
    let filter = actor
        .owners(def.object, Action::Read)
        .ok_or(DomainError::NotFound)?;
    find_in_scope_fresh(store, def, &filter, id)
        .await?
        .ok_or(DomainError::NotFound)
}

/// The records among `ids` the actor may read, in one query (unknown or unreadable ids are
/// simply absent), in the order of `ids`.
pub async fn read_many(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    ids: &[String],
) -> Result<Vec<Record>, DomainError> {
    let Some(filter) = actor.owners(def.object, Action::Read) else {
        return Ok(Vec::new());
    };
    let wanted: Vec<String> = ids
        .iter()
        .filter(|i| ids::is_valid_id(i))
        .cloned()
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Query::select();
    q.from(t(def.table))
        .and_where(Expr::col(t("id")).is_in(wanted.clone()));
    if let OwnerFilter::Owners(owners) = &filter {
        q.and_where(Expr::col(t("owner_id")).is_in(owners.clone()));
    }
    let keys = store.keys()?;
    let mut recs = read_records_fresh(store, &keys, def, q, &Needed::all(def)).await?;
    recs.sort_by_key(|r| wanted.iter().position(|w| *w == r.id));
    Ok(recs)
}

/// Delete a record; `if_version`: only if it is still at this version (the API's `If-Match`).
pub async fn delete(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    id: &str,
    if_version: Option<i64>,
) -> Result<(), DomainError> {
    let before = read_record(store, actor, def, id).await?;
    let filter = actor
        .owners(def.object, Action::Delete)
        .ok_or_else(|| forbidden(def, Action::Delete))?;
    if !filter.allows(before.owner_id()) {
        return Err(forbidden(def, Action::Delete));
    }
    if let Some(why) = def.hooks.delete_blocker(store, id).await? {
        return Err(DomainError::Conflict(why));
    }
    if if_version.is_some_and(|v| v != before.version) {
        return Err(DomainError::VersionConflict);
    }
    let tx = store.db.begin().await?;
    def.hooks.before_delete(&tx, &before).await?;
    rapport_db::search_index::clear(&tx, id).await?;
    // The record as it was read, or nothing (it changed meanwhile).
    let gone = exec(
        &tx,
        Query::delete()
            .from_table(t(def.table))
            .and_where(Expr::col(t("id")).eq(id))
            .and_where(Expr::col(t("version")).eq(before.version)),
    )
    .await?;
    if gone != 1 {
        return Err(DomainError::VersionConflict);
    }
    def.hooks.after_delete(&tx, &before).await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new(format!("{}.deleted", def.key()))
            .object(def.key(), id)
            .details(if def.hooks.personal() {
                json!({})
            } else {
                json!({"label": before.label(def)})
            }),
    )
    .await?;
    outbox::emit(
        &tx,
        store,
        actor,
        &format!("{}.deleted", def.key()),
        def.key(),
        id,
        json!({"id": id}),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

/// Remove a record's search tokens (inside the caller's transaction).
pub(crate) async fn clear_tokens<C: ConnectionTrait>(
    c: &C,
    def: &ObjectDef,
    id: &str,
) -> Result<(), DomainError> {
    let _ = def;
    rapport_db::search_index::clear(c, id).await
}

/// The search tokens of records `ids` as `(object_type, record_id, token)`, one a token (what
/// a merge keeps to undo).
pub(crate) async fn kept_tokens<C: ConnectionTrait>(
    c: &C,
    ids: &[String],
) -> Result<Vec<(String, String, String)>, DomainError> {
    rapport_db::search_index::of_records(c, ids).await
}

/// Write back search tokens [`kept_tokens`] returned (a merge's undo).
pub(crate) async fn restore_tokens<C: ConnectionTrait>(
    c: &C,
    kept: impl IntoIterator<Item = (String, String, String)>,
) -> Result<(), DomainError> {
    let mut by_record: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (object_type, record_id, token) in kept {
        by_record
            .entry((object_type, record_id))
            .or_default()
            .push(token);
    }
    for toks in by_record.values_mut() {
        toks.sort();
        toks.dedup();
    }
    rapport_db::search_index::insert(
        c,
        by_record
            .iter()
            .map(|((object_type, id), toks)| (object_type.as_str(), id.as_str(), toks)),
    )
    .await
}

/// Write a record's search tokens again from its values (inside the caller's transaction).
pub(crate) async fn rewrite_tokens<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    def: &ObjectDef,
    rec: &Record,
) -> Result<(), DomainError> {
    let keys = store.keys()?;
    let defs = crate::custom_fields::list(store, def.object).await?;
    tokens::write(
        c,
        &keys,
        def,
        &rec.id,
        &rec.values,
        custom_values::tokens(&keys, &defs, &rec.custom),
    )
    .await
}

/// The change history of a record the actor may read: audit entries other than reads, with
/// changes to fields the actor may not see removed.
pub async fn history(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    id: &str,
    limit: u64,
) -> Result<Vec<audit::AuditRow>, DomainError> {
    read_record(store, actor, def, id).await?;
    let rows = audit::search_unchecked(
        store,
        &audit::AuditFilter {
            object_type: Some(def.key().into()),
            object_id: Some(id.into()),
            also_object_ids: merged_into(store, id).await?,
            limit,
            ..Default::default()
        },
    )
    .await?;
    Ok(rows
        .into_iter()
        .filter(|r| !r.action.ends_with(".read"))
        .map(|mut r| {
            if let Some(Value::Object(changes)) = r.details.get_mut("changes") {
                changes.retain(|field, _| actor.grants.can_read_field(def.object, field));
            }
            r
        })
        .collect())
}

/// Ids of the records merged into `id` (their history is its history).
async fn merged_into(store: &Store, id: &str) -> Result<Vec<String>, DomainError> {
    let rows = rapport_db::all(
        store.db.reader(),
        Query::select()
            .column(Alias::new("merged_id"))
            .from(Alias::new("merged_records"))
            .and_where(Expr::col(Alias::new("survivor_id")).eq(id)),
    )
    .await?;
    rows.iter()
        .map(|r| rapport_db::get(r, "merged_id"))
        .collect()
}
