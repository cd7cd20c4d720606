//! Merging duplicate accounts, contacts or leads into one (ADR 0010). The survivor takes the
//! chosen value of each field; activities, deals, documents, links and history of the merged
//! records move to it; the merged records are removed. Everything the merge changed is kept
//! with it, so it can be undone while the survivor's merged fields are unchanged.

mod bulk;
pub mod references;
pub mod scan;
mod snapshot;
mod undo;
mod values;

use crate::access::{Access, OwnerFilter};
use crate::objects::def_of;
use crate::records::{self, ObjectDef, Record};
use crate::{audit, outbox, Store};
use chrono::{DateTime, Utc};
use rapport_core::{ids, Action, DomainError, Object, Scope};
use rapport_db::{all, db_err, exec, get, one};
use references::Moved;
use sea_orm::sea_query::{Alias, Condition, Expr, Order, Query};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use snapshot::{Cell, Row};
use std::collections::BTreeMap;

pub use bulk::{bulk, BulkOutcome, MAX_BULK_GROUPS};
use undo::current_blind_tokens;
pub use undo::{forget_undo, undo};
pub use values::{mergeable_fields, Choices};

/// At most this many records go into one merge (the survivor and nine others).
pub const MAX_RECORDS: usize = 10;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// Whether the actor may merge records of some type (update a survivor and delete others):
/// the API asks before reading a merge request, whose body names the type.
pub fn may_merge_some(store: &crate::Store, actor: &Access) -> Result<(), DomainError> {
    let some = store.types().all().iter().any(|def| {
        def.hooks.merging().is_some()
            && actor.owners(def.object, Action::Update).is_some()
            && actor.owners(def.object, Action::Delete).is_some()
    });
    if some {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "merging needs the update and delete rights on a record type".into(),
        ))
    }
}

/// The record types that can be merged.
pub fn merge_def(object: Object) -> Result<&'static ObjectDef, DomainError> {
    match def_of(object) {
        Some(def) if def.hooks.merging().is_some() => Ok(def),
        _ => Err(DomainError::field(
            "object",
            "not_mergeable",
            format!("{} records cannot be merged", object.key()),
        )),
    }
}

/// A merge as asked for: which record survives, which go into it, and for any field, the
/// record whose value the survivor takes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    pub survivor_id: String,
    pub merged_ids: Vec<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// A merge as done.
#[derive(Debug, Clone, Serialize)]
pub struct Merge {
    pub id: String,
    pub object: String,
    pub survivor_id: String,
    pub merged_ids: Vec<String>,
    /// Fields of the survivor the merge changed.
    pub fields: Vec<String>,
    pub status: String,
    pub actor_id: String,
    pub created_at: DateTime<Utc>,
    pub undone_at: Option<DateTime<Utc>>,
    /// Rows moved to the survivor, per table.
    pub moved: Value,
}

/// What an undo needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UndoData {
    survivor_before: Row,
    survivor_after: Row,
    merged_rows: Vec<Row>,
    tokens: Vec<Row>,
    moved: Moved,
}

impl UndoData {
    /// Read kept undo data. Merges kept before migration 17 hold 64-digit blind-index tokens
    /// (in every row's `_bidx` columns and in the search tokens); they are cut to the length
    /// written now, so comparing with and restoring into today's rows sees the same value.
    fn parse(text: &str) -> Result<UndoData, DomainError> {
        let mut data: UndoData = serde_json::from_str(text)
            .map_err(|e| DomainError::Internal(format!("merge undo data: {e}")))?;
        current_blind_tokens(std::slice::from_mut(&mut data.survivor_before), "_bidx");
        current_blind_tokens(std::slice::from_mut(&mut data.survivor_after), "_bidx");
        current_blind_tokens(&mut data.merged_rows, "_bidx");
        current_blind_tokens(&mut data.tokens, "token");
        Ok(data)
    }
}

fn check_request(req: &MergeRequest) -> Result<(), DomainError> {
    if !ids::is_valid_id(&req.survivor_id) {
        return Err(DomainError::field(
            "survivor_id",
            "invalid",
            "survivor_id must be a record id",
        ));
    }
    if req.merged_ids.is_empty() || req.merged_ids.len() >= MAX_RECORDS {
        return Err(DomainError::field(
            "merged_ids",
            "invalid",
            format!("merge 1 to {} records into the survivor", MAX_RECORDS - 1),
        ));
    }
    let mut seen = vec![req.survivor_id.as_str()];
    for id in &req.merged_ids {
        if !ids::is_valid_id(id) {
            return Err(DomainError::field(
                "merged_ids",
                "invalid",
                "merged_ids must be record ids",
            ));
        }
        if seen.contains(&id.as_str()) {
            return Err(DomainError::field(
                "merged_ids",
                "repeated",
                "each record may appear once, and not as both survivor and merged",
            ));
        }
        seen.push(id);
    }
    Ok(())
}

fn forbidden(def: &ObjectDef, what: &str) -> DomainError {
    DomainError::Forbidden(format!("you may not {what} these {} records", def.key()))
}

/// Load the records of a merge the actor may carry out: every one readable (or 404), the
/// survivor updatable and the others deletable (or 403).
async fn load_group(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    req: &MergeRequest,
) -> Result<(Record, Vec<Record>), DomainError> {
    let read = actor
        .owners(def.object, Action::Read)
        .ok_or(DomainError::NotFound)?;
    let find = |id: String| {
        let read = read.clone();
        async move {
            records::find_in_scope_fresh(store, def, &read, &id)
                .await?
                .ok_or(DomainError::NotFound)
        }
    };
    let survivor = find(req.survivor_id.clone()).await?;
    let mut merged = Vec::new();
    for id in &req.merged_ids {
        merged.push(find(id.clone()).await?);
    }
    let update = actor.owners(def.object, Action::Update);
    if !update.is_some_and(|f| f.allows(survivor.owner_id())) {
        return Err(forbidden(def, "update"));
    }
    let delete = actor.owners(def.object, Action::Delete);
    if !merged
        .iter()
        .all(|m| delete.as_ref().is_some_and(|f| f.allows(m.owner_id())))
    {
        return Err(forbidden(def, "merge away (delete)"));
    }
    Ok((survivor, merged))
}

/// Merge records into a survivor, in one transaction. Returns the merge (its id undoes it).
pub async fn merge(
    store: &Store,
    actor: &Access,
    object: Object,
    req: &MergeRequest,
) -> Result<Merge, DomainError> {
    let def = merge_def(object)?;
    check_request(req)?;
    let (survivor, merged) = load_group(store, actor, def, req).await?;
    let plan = values::plan(store, actor, def, &survivor, &merged, &req.fields).await?;
    let merge_id = ids::new_id();
    let merged_ids: Vec<String> = merged.iter().map(|m| m.id.clone()).collect();
    let now = store.now();

    let tx = store.db.begin().await?;
    let by_id = |ids: Vec<String>| Condition::all().add(Expr::col(t("id")).is_in(ids));
    let survivor_before = snapshot::rows(&tx, def.table, by_id(vec![survivor.id.clone()]))
        .await?
        .pop()
        .ok_or(DomainError::NotFound)?;
    let merged_rows = snapshot::rows(&tx, def.table, by_id(merged_ids.clone())).await?;
    if merged_rows.len() != merged_ids.len() {
        return Err(DomainError::NotFound);
    }
    let tokens: Vec<Row> = records::kept_tokens(&tx, &merged_ids)
        .await?
        .into_iter()
        .map(|(object_type, record_id, token)| {
            Row::from([
                ("object_type".to_string(), Cell::Text(object_type)),
                ("record_id".to_string(), Cell::Text(record_id)),
                ("token".to_string(), Cell::Text(token)),
            ])
        })
        .collect();
    let moved = references::move_all(&tx, def, &survivor.id, &merged_ids).await?;
    let mut after = plan.after.clone();
    // The survivor cannot be its own parent.
    for field in def.hooks.merging().map(|m| m.self_refs).unwrap_or(&[]) {
        if survivor
            .text(field)
            .is_some_and(|p| merged_ids.iter().any(|m| m == p))
        {
            after.insert(*field, rapport_core::fields::FieldValue::Null);
        }
    }
    let changed = records::diff(def, &survivor.values, &after);
    let changed_names: Vec<String> = changed
        .iter()
        .map(|s| s.name.to_string())
        .chain(plan.custom_changed.iter().cloned())
        .collect();
    records::write_changes(
        &tx,
        store,
        actor,
        records::Changes {
            def,
            before: &survivor,
            after: &after,
            changed,
            verb: "merged",
            extra: json!({"merge_id": merge_id, "merged_ids": merged_ids, "moved": moved.counts()}),
            custom_after: plan.custom_after.clone(),
            effects: records::hooks::Effects::default(),
        },
    )
    .await?;
    for id in &merged_ids {
        records::clear_tokens(&tx, def, id).await?;
    }
    exec(
        &tx,
        Query::delete()
            .from_table(t(def.table))
            .cond_where(by_id(merged_ids.clone())),
    )
    .await?;
    for m in &merged {
        exec(
            &tx,
            Query::insert()
                .into_table(t("merged_records"))
                .columns(["merged_id", "survivor_id", "merge_id", "object_type"].map(t))
                .values_panic([
                    m.id.as_str().into(),
                    survivor.id.as_str().into(),
                    merge_id.as_str().into(),
                    def.key().into(),
                ]),
        )
        .await?;
        audit::record(
            &tx,
            store,
            actor,
            audit::Entry::new(format!("{}.merged_into", def.key()))
                .object(def.key(), &m.id)
                .details(json!({"survivor_id": survivor.id, "merge_id": merge_id})),
        )
        .await?;
        outbox::emit(
            &tx,
            store,
            actor,
            &format!("{}.deleted", def.key()),
            def.key(),
            &m.id,
            json!({"id": m.id, "merged_into": survivor.id}),
        )
        .await?;
    }
    let survivor_after = snapshot::rows(&tx, def.table, by_id(vec![survivor.id.clone()]))
        .await?
        .pop()
        .ok_or(DomainError::NotFound)?;
    let counts = moved.counts();
    let undo = UndoData {
        survivor_before,
        survivor_after,
        merged_rows,
        tokens,
        moved,
    };
    let undo_text = serde_json::to_string(&undo)
        .map_err(|e| DomainError::Internal(format!("merge undo data: {e}")))?;
    exec(
        &tx,
        Query::insert()
            .into_table(t("merges"))
            .columns(
                [
                    "id",
                    "object_type",
                    "survivor_id",
                    "merged_ids",
                    "actor_id",
                    "status",
                    "fields",
                    "undo",
                    "created_at",
                ]
                .map(t),
            )
            .values_panic([
                merge_id.as_str().into(),
                def.key().into(),
                survivor.id.as_str().into(),
                json!(merged_ids).to_string().into(),
                actor.user_id.as_str().into(),
                "done".into(),
                json!(changed_names).to_string().into(),
                undo_text.into(),
                now.into(),
            ]),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(Merge {
        id: merge_id,
        object: def.key().to_string(),
        survivor_id: survivor.id,
        merged_ids,
        fields: changed_names,
        status: "done".into(),
        actor_id: actor.user_id.clone(),
        created_at: now,
        undone_at: None,
        moved: counts,
    })
}

fn merge_of(row: &sea_orm::QueryResult) -> Result<(Merge, String), DomainError> {
    let parse = |s: String| serde_json::from_str::<Vec<String>>(&s).unwrap_or_default();
    let undo: String = get(row, "undo")?;
    let moved = serde_json::from_str::<UndoData>(&undo)
        .map(|u| u.moved.counts())
        .unwrap_or(Value::Null);
    Ok((
        Merge {
            id: get(row, "id")?,
            object: get(row, "object_type")?,
            survivor_id: get(row, "survivor_id")?,
            merged_ids: parse(get(row, "merged_ids")?),
            fields: parse(get(row, "fields")?),
            status: get(row, "status")?,
            actor_id: get(row, "actor_id")?,
            created_at: get(row, "created_at")?,
            undone_at: get(row, "undone_at")?,
            moved,
        },
        undo,
    ))
}

const MERGE_COLUMNS: [&str; 10] = [
    "id",
    "object_type",
    "survivor_id",
    "merged_ids",
    "fields",
    "status",
    "actor_id",
    "created_at",
    "undone_at",
    "undo",
];

/// A merge and its undo data, or 404.
async fn load<C: sea_orm::ConnectionTrait>(
    c: &C,
    id: &str,
) -> Result<(Merge, String), DomainError> {
    let row = one(
        c,
        Query::select()
            .columns(MERGE_COLUMNS.map(t))
            .from(t("merges"))
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?
    .ok_or(DomainError::NotFound)?;
    merge_of(&row)
}

/// Whether the actor may see a merge: its survivor must be readable, or, once the survivor
/// is gone, the actor made the merge or reads every record of the type.
async fn may_see(store: &Store, actor: &Access, m: &Merge) -> Result<bool, DomainError> {
    let def = merge_def(Object::parse(&m.object).ok_or(DomainError::NotFound)?)?;
    if m.actor_id == actor.user_id || actor.scope(def.object, Action::Read) == Scope::All {
        return Ok(true);
    }
    Ok(records::read_record(store, actor, def, &m.survivor_id)
        .await
        .is_ok())
}

/// One merge (404 unless the actor may see it).
pub async fn read(store: &Store, actor: &Access, id: &str) -> Result<Merge, DomainError> {
    if !ids::is_valid_id(id) {
        return Err(DomainError::NotFound);
    }
    let (m, _) = load(store.db.reader(), id).await?;
    if !may_see(store, actor, &m).await? {
        return Err(DomainError::NotFound);
    }
    Ok(m)
}

/// Recent merges of a type the actor may see, newest first.
pub async fn list(
    store: &Store,
    actor: &Access,
    object: Object,
    limit: u64,
) -> Result<Vec<Merge>, DomainError> {
    let def = merge_def(object)?;
    if actor.owners(object, Action::Read).is_none() {
        return Err(DomainError::Forbidden(format!(
            "you may not read {} records",
            def.key()
        )));
    }
    let mut q = Query::select();
    q.columns(MERGE_COLUMNS.map(t))
        .from(t("merges"))
        .and_where(Expr::col(t("object_type")).eq(def.key()))
        .order_by(t("created_at"), Order::Desc)
        .limit(limit.clamp(1, 200));
    if actor.scope(object, Action::Read) != Scope::All {
        q.and_where(Expr::col(t("actor_id")).eq(actor.user_id.as_str()));
    }
    // The query already holds `may_see`: everyone's merges for those who read every record
    // of the type, otherwise the actor's own.
    let rows = all(store.db.reader(), &q).await?;
    rows.iter().map(|r| merge_of(r).map(|(m, _)| m)).collect()
}

/// The records of a planned merge, for comparing them side by side: every one readable (or
/// 404), 2 to [`MAX_RECORDS`] of them (else 404), each read audited.
pub async fn candidates(
    store: &Store,
    actor: &Access,
    object: Object,
    ids: &[String],
) -> Result<Vec<Record>, DomainError> {
    let def = merge_def(object)?;
    let recs = records::read_many(store, actor, def, ids).await?;
    if recs.len() != ids.len() || !(2..=MAX_RECORDS).contains(&recs.len()) {
        return Err(DomainError::NotFound);
    }
    for r in &recs {
        audit::record_alone(
            store,
            actor,
            audit::Entry::new(format!("{}.read", def.key())).object(def.key(), &r.id),
        )
        .await?;
    }
    Ok(recs)
}

/// The record a merged-away id went into, if it did (old links lead there).
pub async fn survivor_of(store: &Store, id: &str) -> Result<Option<String>, DomainError> {
    if !ids::is_valid_id(id) {
        return Ok(None);
    }
    let row = one(
        store.db.reader(),
        Query::select()
            .column(t("survivor_id"))
            .from(t("merged_records"))
            .and_where(Expr::col(t("merged_id")).eq(id)),
    )
    .await?;
    row.map(|r| get(&r, "survivor_id")).transpose()
}
