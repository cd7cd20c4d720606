//! Privacy-law tooling for contacts: export everything held about a person, and erase them.
//!
//! Personal values never enter the append-only audit trail in clear (sensitive and personal
//! fields are masked there, contact searches are redacted), so erasure only has to clear the
//! contact row, its blind-index tokens, and the saved views that searched for them.

use crate::access::Access;
use crate::objects::{ACCOUNTS, CONTACTS};
use crate::records::{self, codec};
use crate::{audit, outbox, Store};
use rapport_core::fields::FieldValue;
use rapport_core::{Action, DomainError};
use rapport_db::{db_err, exec};
use sea_orm::sea_query::{Alias, Expr, Query};
use serde_json::{json, Value};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// Everything Rapport holds about one contact that the caller may see, as JSON: the record
/// (decrypted; fields the caller's role hides are left out, custom fields included), the
/// accounts it belongs to (named where the caller may read them), and the history of changes
/// and access (changes to hidden fields left out).
pub async fn export_contact(store: &Store, actor: &Access, id: &str) -> Result<Value, DomainError> {
    let read = actor
        .owners(CONTACTS.object, Action::Read)
        .ok_or(DomainError::NotFound)?;
    let rec = records::find_in_scope_fresh(store, &CONTACTS, &read, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let export = actor
        .owners(CONTACTS.object, Action::Export)
        .ok_or_else(|| {
            DomainError::Forbidden("exporting contacts needs the export right".into())
        })?;
    if !export.allows(rec.owner_id()) {
        return Err(DomainError::Forbidden(
            "exporting this contact needs the export right".into(),
        ));
    }
    let mut data = serde_json::Map::new();
    for f in CONTACTS
        .fields
        .iter()
        .filter(|f| actor.may_read_field(CONTACTS.object, f.name))
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
        if actor.may_read_field(CONTACTS.object, k) {
            data.insert(k.clone(), v.clone());
        }
    }
    let mut accounts = Vec::new();
    let links = match rec.values.get("accounts") {
        Some(FieldValue::Links(links)) if actor.may_read_field(CONTACTS.object, "accounts") => {
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
            object_type: Some("contact".into()),
            object_id: Some(id.into()),
            limit: 500,
            ..Default::default()
        },
    )
    .await?;
    let tx = store.db.begin().await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("contact.privacy_exported").object("contact", id),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(json!({
        "exported_at": store.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "subject": {"type": "contact", "id": id},
        "record": data,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "accounts": accounts,
        "activity": history.into_iter().map(|mut h| {
            if let Some(Value::Object(changes)) = h.details.get_mut("changes") {
                changes.retain(|field, _| actor.may_read_field(CONTACTS.object, field));
            }
            json!({"at": h.at, "action": h.action, "by": h.actor_email, "details": h.details})
        }).collect::<Vec<_>>(),
    }))
}

pub const ERASED_NAME: &str = "[erased]";

/// Erase a contact's personal data: every personal and sensitive field is cleared, the name
/// replaced by a placeholder, blind-index tokens removed. The record id, owner and account links
/// stay so reports keep their counts. The erasure itself is audited (without personal data).
pub async fn erase_contact(
    store: &Store,
    actor: &Access,
    id: &str,
    reason: &str,
) -> Result<(), DomainError> {
    let read = actor
        .owners(CONTACTS.object, Action::Read)
        .ok_or(DomainError::NotFound)?;
    let rec = records::find_in_scope_fresh(store, &CONTACTS, &read, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let delete = actor
        .owners(CONTACTS.object, Action::Delete)
        .ok_or_else(|| DomainError::Forbidden("erasing contacts needs the delete right".into()))?;
    if !delete.allows(rec.owner_id()) {
        return Err(DomainError::Forbidden(
            "erasing this contact needs the delete right".into(),
        ));
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
    q.table(t("contacts"))
        .value(t("updated_at"), store.now())
        .value(t("version"), Expr::col(t("version")).add(1))
        .and_where(Expr::col(t("id")).eq(id));
    let mut cleared = Vec::new();
    for f in CONTACTS.fields {
        if !(f.personal || f.sensitive) {
            continue;
        }
        let v = if f.name == "family_name" {
            FieldValue::Text(ERASED_NAME.into())
        } else {
            FieldValue::Null
        };
        for (c, val) in codec::encode(f, &v, &keys, "contacts", id)? {
            q.value(Alias::new(c), val);
        }
        cleared.push(f.name);
    }
    // Consent evidence and free-text fields that may describe the person go too.
    for f in [
        "title",
        "department",
        "consent_email",
        "consent_sms",
        "tags",
    ] {
        if let Some(spec) = CONTACTS.field(f) {
            let v = if f == "tags" {
                FieldValue::List(vec![])
            } else {
                FieldValue::Null
            };
            for (c, val) in codec::encode(spec, &v, &keys, "contacts", id)? {
                q.value(Alias::new(c), val);
            }
            cleared.push(spec.name);
        }
    }
    // The normalised names kept for search, sorting and duplicates are of the name too.
    let erased = [("family_name", FieldValue::Text(ERASED_NAME.into()))].into();
    for (c, val) in records::derived(&CONTACTS, &erased) {
        q.value(Alias::new(c), val);
    }
    q.value(t("custom"), Option::<String>::None);
    q.value(t("custom_enc"), Option::<String>::None);
    let tx = store.db.begin().await?;
    exec(&tx, &q).await?;
    crate::records::clear_tokens(&tx, &CONTACTS, id).await?;
    // Merges into this contact keep the merged records' rows for their undo: the same
    // person's data, erased with it (those merges can no longer be undone).
    crate::merge::forget_undo(&tx, id).await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("contact.erased")
            .object("contact", id)
            .details(json!({"fields": cleared, "reason": reason})),
    )
    .await?;
    outbox::emit(
        &tx,
        store,
        actor,
        "contact.erased",
        "contact",
        id,
        json!({"id": id}),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    // Old page images, the person's values among them, linger in the WAL until a checkpoint.
    if !store.db.scrub_wal().await {
        tracing::warn!(
            contact = id,
            "after an erasure the WAL could not be emptied: the erased values stay in it until the next full checkpoint"
        );
    }
    Ok(())
}
