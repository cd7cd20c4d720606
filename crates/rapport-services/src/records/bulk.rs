//! Bulk actions on a selection or on every record matching a list query: assign owner,
//! add/remove a tag, set a field, delete. Each record goes through the same service call a
//! single edit would, so scope, field rules, validation and audit apply one by one; the answer
//! says which records succeeded and why others did not.

use super::query::{scoped_select, ListParams};
use super::{ObjectDef, WriteOptions};
use crate::access::Access;
use crate::{audit, Store};
use rapport_core::{Action, DomainError};
use rapport_db::{all, get};
use sea_orm::sea_query::{Alias, Order};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// Most records one bulk action touches.
pub const MAX_RECORDS: u64 = 10_000;

#[derive(Debug, Clone)]
pub enum Target {
    Ids(Vec<String>),
    Matching(ListParams),
}

#[derive(Debug, Clone)]
pub enum BulkAction {
    AssignOwner { owner_id: String, reason: String },
    AddTag(String),
    RemoveTag(String),
    SetField { field: String, value: Value },
    Delete,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub id: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BulkResult {
    pub matched: usize,
    pub succeeded: usize,
    pub failed: Vec<Failure>,
}

fn failure(id: &str, e: &DomainError) -> Failure {
    let (code, message) = match e {
        DomainError::NotFound => (
            "not_found".to_string(),
            "no such record, or you may not see it".to_string(),
        ),
        DomainError::Forbidden(m) => ("forbidden".into(), m.clone()),
        DomainError::Validation(errs) => (
            "validation_failed".into(),
            errs.iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        DomainError::Duplicate { rule, .. } => (
            "duplicate".into(),
            format!("a record with the same {rule} exists"),
        ),
        other => ("error".into(), other.to_string()),
    };
    Failure {
        id: id.to_string(),
        code,
        message,
    }
}

async fn target_ids(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    target: &Target,
) -> Result<Vec<String>, DomainError> {
    match target {
        Target::Ids(ids) => {
            if ids.is_empty() || ids.len() as u64 > MAX_RECORDS {
                return Err(DomainError::field(
                    "ids",
                    "invalid",
                    format!("select 1 to {MAX_RECORDS} records"),
                ));
            }
            let mut out: Vec<String> = Vec::new();
            for id in ids {
                if !out.contains(id) {
                    out.push(id.clone());
                }
            }
            Ok(out)
        }
        Target::Matching(params) => {
            let filter = actor.owners(def.object, Action::Read).ok_or_else(|| {
                DomainError::Forbidden(format!("you may not read {} records", def.key()))
            })?;
            let mut params = params.clone();
            params.customs = crate::custom_fields::active(store, def.object).await?;
            let mut q = scoped_select(def, actor, store, &filter, &params)?;
            q.column(Alias::new("id"))
                .order_by(Alias::new("id"), Order::Asc)
                .limit(MAX_RECORDS + 1);
            let rows = all(store.db.reader(), &q).await?;
            if rows.len() as u64 > MAX_RECORDS {
                return Err(DomainError::field(
                    "all_matching",
                    "too_many",
                    format!("more than {MAX_RECORDS} records match; narrow the filter"),
                ));
            }
            rows.iter().map(|r| get(r, "id")).collect()
        }
    }
}

fn tags_of(rec: &Value) -> Vec<String> {
    rec["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn run(
    store: &Store,
    actor: &Access,
    def: &'static ObjectDef,
    target: Target,
    action: BulkAction,
) -> Result<BulkResult, DomainError> {
    // Refuse early what can never succeed, before touching anything.
    let needed = match &action {
        BulkAction::AssignOwner { .. } => Action::Transfer,
        BulkAction::Delete => Action::Delete,
        _ => Action::Update,
    };
    super::may(actor, def, needed)?;
    if let BulkAction::SetField { field, .. } = &action {
        let spec = def.field(field).ok_or_else(|| {
            DomainError::field(
                "field",
                "unknown_field",
                format!("{} has no field named {field}", def.key()),
            )
        })?;
        if spec.system || spec.name == "owner_id" {
            return Err(DomainError::field(
                "field",
                "not_settable",
                format!("{field} cannot be set in bulk"),
            ));
        }
    }
    if let Target::Ids(ids) = &target {
        if let Some(bad) = ids.iter().find(|id| !rapport_core::ids::is_valid_id(id)) {
            return Err(DomainError::field(
                "ids",
                "invalid_id",
                format!("{bad:?} is not a record id"),
            ));
        }
    }
    let ids = target_ids(store, actor, def, &target).await?;
    let mut result = BulkResult {
        matched: ids.len(),
        succeeded: 0,
        failed: vec![],
    };
    for id in &ids {
        let outcome = match &action {
            BulkAction::AssignOwner { owner_id, reason } => super::transfer(
                store,
                actor,
                def,
                std::slice::from_ref(id),
                owner_id,
                reason,
            )
            .await
            .map(|_| ()),
            BulkAction::Delete => super::delete(store, actor, def, id, None).await,
            BulkAction::AddTag(tag) | BulkAction::RemoveTag(tag) => {
                let current = super::read_record(store, actor, def, id)
                    .await
                    .map(|r| super::to_json(def, actor, &r));
                match current {
                    Ok(rec) => {
                        let mut tags = tags_of(&rec);
                        if matches!(action, BulkAction::AddTag(_)) {
                            if !tags.contains(tag) {
                                tags.push(tag.clone());
                            }
                        } else {
                            tags.retain(|t| t != tag);
                        }
                        // Written even when nothing changes: the update checks that the
                        // caller may change the record and its tags, and changes nothing
                        // when they are the same.
                        let mut doc = Map::new();
                        doc.insert("tags".into(), json!(tags));
                        super::update(store, actor, def, id, &doc, WriteOptions::default())
                            .await
                            .map(|_| ())
                    }
                    Err(e) => Err(e),
                }
            }
            BulkAction::SetField { field, value } => {
                let mut doc = Map::new();
                doc.insert(field.clone(), value.clone());
                super::update(store, actor, def, id, &doc, WriteOptions::default())
                    .await
                    .map(|_| ())
            }
        };
        match outcome {
            Ok(()) => result.succeeded += 1,
            Err(e) if e.is_internal() => return Err(e),
            Err(e) => result.failed.push(failure(id, &e)),
        }
    }
    let action_name = match &action {
        BulkAction::AssignOwner { .. } => "assign_owner",
        BulkAction::AddTag(_) => "add_tag",
        BulkAction::RemoveTag(_) => "remove_tag",
        BulkAction::SetField { .. } => "set_field",
        BulkAction::Delete => "delete",
    };
    audit::record_alone(
        store,
        actor,
        audit::Entry::new(format!("{}.bulk", def.key())).object(def.key(), "*").details(json!({"action": action_name, "matched": result.matched, "succeeded": result.succeeded, "failed": result.failed.len()})),
    )
    .await?;
    Ok(result)
}
