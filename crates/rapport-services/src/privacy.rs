//! Privacy-law tooling for the record types that hold a person (those whose hooks declare an
//! [`Erasure`]: contacts and leads): export everything held about them, and erase them.
//!
//! Personal values never enter the append-only audit trail in clear (sensitive and personal
//! fields are masked there, contact searches are redacted), so erasure only has to clear the
//! contact row, its blind-index tokens, and the saved views that searched for them.

use crate::access::Access;
use crate::objects::ACCOUNTS;
use crate::records::hooks::Erasure;
use crate::records::{self, codec, ObjectDef};
use crate::{audit, outbox, Store};
use rapport_core::fields::FieldValue;
use rapport_core::{Action, DomainError};
use rapport_db::{db_err, exec};
use sea_orm::sea_query::{Alias, Expr, Query};
use serde_json::{json, Value};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// The erasure rules of a type that holds a person (404 for any other type).
fn erasure_of(def: &ObjectDef) -> Result<Erasure, DomainError> {
    def.hooks.erasure().ok_or(DomainError::NotFound)
}

/// 404 unless records of `def` hold a person (the privacy routes exist only for those).
pub fn ensure_erasable(def: &ObjectDef) -> Result<(), DomainError> {
    erasure_of(def).map(|_| ())
}

/// Everything Rapport holds about one person (a contact or a lead) that the caller may see, as
/// JSON: the record (decrypted; fields the caller's role hides are left out, custom fields
/// included), the accounts it belongs to (named where the caller may read them), and the
/// history of changes and access (changes to hidden fields left out).
pub async fn export(
    store: &Store,
    actor: &Access,
    def: &'static ObjectDef,
    id: &str,
) -> Result<Value, DomainError> {
    erasure_of(def)?;
    let read = actor
        .owners(def.object, Action::Read)
        .ok_or(DomainError::NotFound)?;
    let rec = records::find_in_scope_fresh(store, def, &read, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let export = actor.owners(def.object, Action::Export).ok_or_else(|| {
        DomainError::Forbidden(format!("exporting {} needs the export right", def.plural()))
    })?;
    if !export.allows(rec.owner_id()) {
        return Err(DomainError::Forbidden(format!(
            "exporting this {} needs the export right",
            def.key()
        )));
    }
    let mut data = serde_json::Map::new();
    for f in def
        .fields
        .iter()
        .filter(|f| actor.may_read_field(def.object, f.name))
    {
        data.insert(
            f.name.into(),
            rec.values
                .get(f.name)
                .cloned()
                .unwrap_or(FieldValue::Null)
                .to_json(),
        );
    }
    for (k, v) in &rec.custom {
        if actor.may_read_field(def.object, k) {
            data.insert(k.clone(), v.clone());
        }
    }
    let mut accounts = Vec::new();
    let links = match rec.values.get("accounts") {
        Some(FieldValue::Links(links)) if actor.may_read_field(def.object, "accounts") => {
            links.clone()
        }
        _ => Vec::new(),
    };
    // The accounts' names as the caller may read them: an account outside their scope, or
    // a hidden name, is not named.
    let ids: Vec<String> = links.iter().map(|l| l.account_id.clone()).collect();
    let readable = records::read_many(store, actor, &ACCOUNTS, &ids).await?;
    for l in &links {
        let name = readable
            .iter()
            .find(|a| a.id == l.account_id)
            .filter(|_| actor.may_read_field(ACCOUNTS.object, "name"))
            .and_then(|a| a.text("name"));
        accounts.push(json!({"account_id": l.account_id, "name": name, "role": l.role}));
    }
    let history = audit::search_unchecked(
        store,
        &audit::AuditFilter {
            object_type: Some(def.key().into()),
            object_id: Some(id.into()),
            limit: 500,
            ..Default::default()
        },
    )
    .await?;
    // The activities on the record the caller may see, with what they say, every one.
    let mut activities = Vec::new();
    let mut filter = crate::activities::ListFilter {
        related_type: Some(def.key().into()),
        related_id: Some(id.into()),
        limit: 200,
        ..Default::default()
    };
    loop {
        let page = crate::activities::list(store, actor, &filter).await?;
        let Some((last, _)) = page.last() else { break };
        filter.after = Some((last.at, last.id.clone()));
        let more = page.len() == 200;
        activities.extend(page.iter().map(|(a, _)| a.to_json(None)));
        if !more {
            break;
        }
    }
    let tx = store.db.begin().await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new(format!("{}.privacy_exported", def.key())).object(def.key(), id),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(json!({
        "exported_at": store.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "subject": {"type": def.key(), "id": id},
        "record": data,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "accounts": accounts,
        "activities": activities,
        "activity": history.into_iter().map(|mut h| {
            if let Some(Value::Object(changes)) = h.details.get_mut("changes") {
                changes.retain(|field, _| actor.may_read_field(def.object, field));
            }
            json!({"at": h.at, "action": h.action, "by": h.actor_email, "details": h.details})
        }).collect::<Vec<_>>(),
    }))
}

pub const ERASED_NAME: &str = "[erased]";

/// Erase a person's data (a contact or a lead): every personal and sensitive field is
/// cleared, the name replaced by a placeholder, blind-index tokens removed, and the fields the
/// type names as describing the person cleared too. The record id, owner and links stay so
/// reports keep their counts. The erasure itself is audited (without personal data).
pub async fn erase(
    store: &Store,
    actor: &Access,
    def: &'static ObjectDef,
    id: &str,
    reason: &str,
) -> Result<(), DomainError> {
    let erasure = erasure_of(def)?;
    let read = actor
        .owners(def.object, Action::Read)
        .ok_or(DomainError::NotFound)?;
    let rec = records::find_in_scope_fresh(store, def, &read, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let delete = actor.owners(def.object, Action::Delete).ok_or_else(|| {
        DomainError::Forbidden(format!("erasing {} needs the delete right", def.plural()))
    })?;
    if !delete.allows(rec.owner_id()) {
        return Err(DomainError::Forbidden(format!(
            "erasing this {} needs the delete right",
            def.key()
        )));
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(DomainError::field(
            "reason",
            "required",
            "an erasure needs a reason (at most 500 characters)",
        ));
    }
    let keys = store.keys()?;
    let mut q = Query::update();
    q.table(t(def.table))
        .value(t("updated_at"), store.now())
        .value(t("version"), Expr::col(t("version")).add(1))
        .and_where(Expr::col(t("id")).eq(id));
    let mut cleared = Vec::new();
    for f in def.fields {
        if !(f.personal || f.sensitive) {
            continue;
        }
        let v = if f.name == erasure.placeholder {
            FieldValue::Text(ERASED_NAME.into())
        } else {
            FieldValue::Null
        };
        for (c, val) in codec::encode(f, &v, &keys, def.table, id)? {
            q.value(Alias::new(c), val);
        }
        cleared.push(f.name);
    }
    // Consent evidence and free-text fields that may describe the person go too.
    for f in erasure.also {
        if let Some(spec) = def.field(f) {
            let v = if *f == "tags" {
                FieldValue::List(vec![])
            } else {
                FieldValue::Null
            };
            for (c, val) in codec::encode(spec, &v, &keys, def.table, id)? {
                q.value(Alias::new(c), val);
            }
            cleared.push(spec.name);
        }
    }
    // The normalised names kept for search, sorting and duplicates are of the name too.
    let erased = [(erasure.placeholder, FieldValue::Text(ERASED_NAME.into()))].into();
    for (c, val) in records::derived(def, &erased) {
        q.value(Alias::new(c), val);
    }
    q.value(t("custom"), Option::<String>::None);
    q.value(t("custom_enc"), Option::<String>::None);
    let tx = store.db.begin().await?;
    exec(&tx, &q).await?;
    crate::records::clear_tokens(&tx, def, id).await?;
    // Merges into this contact keep the merged records' rows for their undo: the same
    // person's data, erased with it (those merges can no longer be undone).
    crate::merge::forget_undo(&tx, id).await?;
    // What the audit trail says about the person was sealed with their key: without it,
    // it reads as erased, and the chain over it still verifies.
    audit::subjects::shred(&tx, def.key(), id).await?;
    // Copies of the person elsewhere: the rows of uploaded files that hold them, stored
    // export files of the type, and what activities on the record say.
    let needles = crate::imports::raw::needles(def, &rec);
    let import_rows = crate::imports::raw::forget_person(&tx, store, id, &needles).await?;
    let export_files = crate::exports::forget_files(&tx, def.key()).await?;
    let activities = crate::activities::erase_contents(&tx, def.key(), id, ERASED_NAME).await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new(format!("{}.erased", def.key()))
            .object(def.key(), id)
            .details(json!({
                "fields": cleared,
                "reason": reason,
                "import_rows": import_rows,
                "export_files": export_files,
                "activities": activities,
            })),
    )
    .await?;
    outbox::emit(
        &tx,
        store,
        actor,
        &format!("{}.erased", def.key()),
        def.key(),
        id,
        json!({"id": id}),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    // Old page images, the person's values among them, linger in the WAL until a checkpoint.
    if !store.db.scrub_wal().await {
        tracing::warn!(
            record = id,
            "after an erasure the WAL could not be emptied: the erased values stay in it until the next full checkpoint"
        );
    }
    Ok(())
}
