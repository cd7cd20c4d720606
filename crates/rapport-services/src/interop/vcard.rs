//! vCard interop: contacts out as vCard 4.0 (RFC 6350), and vCard 2.1/3.0/4.0 files in (what
//! phones and mail programs export), both through the `calcard` crate. Export shows only what
//! the caller may read (field rules applied) and needs the export right; import creates each
//! card through the same service as the API, so validation, duplicate rules, scope and audit
//! apply card by card, and a bad card does not hold back the good ones.

use crate::access::Access;
use crate::objects::{ACCOUNTS, CONTACTS};
use crate::records::{self, query, WriteOptions};
use crate::{audit, Store};
use rapport_core::{Action, DomainError, FieldError, Scope};
use rapport_interchange::vcard::{card_to_doc, contact_to_card, parse, write_card, MAX_CARDS};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Serialize)]
pub struct ImportFailure {
    /// Position of the card in the file, from 1.
    pub card: usize,
    pub name: String,
    pub code: String,
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ImportReport {
    pub created: Vec<String>,
    pub failed: Vec<ImportFailure>,
}

/// Import every card as a contact owned by the caller.
pub async fn import(
    store: &Store,
    actor: &Access,
    input: &str,
) -> Result<ImportReport, DomainError> {
    if actor.scope(CONTACTS.object, Action::Create) == Scope::None {
        return Err(DomainError::Forbidden("you may not create contacts".into()));
    }
    let cards = parse(input)?;
    let mut report = ImportReport::default();
    for (i, card) in cards.iter().enumerate() {
        let (doc, name) = card_to_doc(card);
        match records::create(store, actor, &CONTACTS, &doc, WriteOptions::default()).await {
            Ok(rec) => report
                .created
                .push(rec["id"].as_str().unwrap_or_default().to_string()),
            Err(e) => {
                let (code, errors) = match e {
                    DomainError::Validation(errs) => ("validation_failed", errs),
                    DomainError::Duplicate { rule, .. } => (
                        "duplicate",
                        vec![FieldError::new(
                            rule,
                            "duplicate",
                            "a likely duplicate exists",
                        )],
                    ),
                    e if e.is_internal() => return Err(e),
                    other => (
                        "refused",
                        vec![FieldError::new("card", "refused", other.to_string())],
                    ),
                };
                report.failed.push(ImportFailure {
                    card: i + 1,
                    name,
                    code: code.into(),
                    errors,
                });
            }
        }
    }
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("contact.vcard_imported").details(json!({
            "cards": cards.len(), "created": report.created.len(), "failed": report.failed.len()
        })),
    )
    .await?;
    Ok(report)
}

/// Contacts as one vCard 4.0 file: the given ones, else those matching a quick search, within
/// the caller's export scope; hidden fields are left out. Audited as an export.
pub async fn export(
    store: &Store,
    actor: &Access,
    ids: &[String],
    q: Option<String>,
) -> Result<(String, usize), DomainError> {
    // Exporting is narrower than reading: every contact must be inside the export scope.
    let filter = actor
        .owners(CONTACTS.object, Action::Export)
        .ok_or_else(|| {
            DomainError::Forbidden("exporting contacts needs the export right".into())
        })?;
    let mut contacts: Vec<Value> = Vec::new();
    if ids.is_empty() {
        let mut cursor = None;
        loop {
            let page = query::list(
                store,
                actor,
                &CONTACTS,
                &query::ListParams {
                    q: q.clone(),
                    limit: Some(200),
                    cursor: cursor.clone(),
                    ..Default::default()
                },
            )
            .await?;
            contacts.extend(page.data);
            if contacts.len() >= MAX_CARDS || page.next_cursor.is_none() {
                break;
            }
            cursor = page.next_cursor;
        }
        contacts.truncate(MAX_CARDS);
    } else {
        if ids.len() > MAX_CARDS {
            return Err(DomainError::field(
                "ids",
                "too_many",
                format!("at most {MAX_CARDS} contacts at a time"),
            ));
        }
        let found = records::read_many(store, actor, &CONTACTS, ids).await?;
        let mut wanted = ids.to_vec();
        wanted.sort();
        wanted.dedup();
        if found.len() < wanted.len() {
            return Err(DomainError::NotFound);
        }
        contacts.extend(found.iter().map(|r| records::to_json(&CONTACTS, actor, r)));
    }
    contacts.retain(|c| filter.allows(c["owner_id"].as_str()));
    // The names of the accounts the cards mention (ORG), those the caller may read.
    let mut account_ids: Vec<String> = contacts
        .iter()
        .flat_map(|c| c["accounts"].as_array().cloned().unwrap_or_default())
        .filter_map(|l| l["account_id"].as_str().map(String::from))
        .collect();
    account_ids.sort();
    account_ids.dedup();
    let names: Vec<(String, String)> = records::read_many(store, actor, &ACCOUNTS, &account_ids)
        .await?
        .iter()
        .map(|r| (r.id.clone(), r.label(&ACCOUNTS)))
        .collect();
    let mut out = String::new();
    for c in &contacts {
        write_card(&contact_to_card(c, &names), &mut out)?;
    }
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("contact.vcard_exported")
            .object(
                "contact",
                if contacts.len() == 1 {
                    contacts[0]["id"].as_str().unwrap_or("*")
                } else {
                    "*"
                },
            )
            .details(json!({"count": contacts.len()})),
    )
    .await?;
    Ok((out, contacts.len()))
}
