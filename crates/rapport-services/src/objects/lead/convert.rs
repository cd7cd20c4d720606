//! Converting a lead into an account (new, or an existing one such as a likely duplicate), a
//! contact and optionally an opportunity, in one transaction. The lead's source and campaign
//! carry over so every deal can be traced back to where it came from.

use crate::access::Access;
use crate::objects;
use crate::objects::{ACCOUNTS, CONTACTS, LEADS, OPPORTUNITIES};
use crate::records::{self, find_in_scope_fresh, insert, prepare_create, Preset, WriteOptions};
use crate::{audit, outbox, Store};
use rapport_core::fields::FieldValue;
use rapport_core::{ids, Action, DomainError};
use rapport_db::{db_err, exec};
use sea_orm::sea_query::{Alias, Expr, Query};
use serde::Deserialize;
use serde_json::{json, Map, Value};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// What the converter chooses; every part has defaults taken from the lead.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvertRequest {
    /// Attach to this existing account instead of creating one.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Fields of the new account (over the ones taken from the lead).
    #[serde(default)]
    pub account: Map<String, Value>,
    /// Fields of the new contact (over the ones taken from the lead).
    #[serde(default)]
    pub contact: Map<String, Value>,
    /// Create an opportunity with these fields (`name` defaults to the company's name).
    #[serde(default)]
    pub opportunity: Option<Map<String, Value>>,
    /// Proceed despite likely duplicates found by "warn" rules.
    #[serde(default)]
    pub override_duplicates: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Converted {
    pub lead_id: String,
    pub account_id: String,
    pub account_created: bool,
    pub contact_id: String,
    pub opportunity_id: Option<String>,
}

fn put(doc: &mut Map<String, Value>, key: &str, v: Option<&FieldValue>) {
    if let Some(v) = v.filter(|v| !v.is_null()) {
        doc.entry(key.to_string()).or_insert_with(|| v.to_json());
    }
}

/// Prefix the fields named in a validation error with the part they belong to.
fn within(part: &str, e: DomainError) -> DomainError {
    match e {
        DomainError::Validation(errs) => DomainError::Validation(
            errs.into_iter()
                .map(|mut f| {
                    f.field = format!("{part}.{}", f.field);
                    f
                })
                .collect(),
        ),
        other => other,
    }
}

pub async fn convert(
    store: &Store,
    actor: &Access,
    lead_id: &str,
    req: ConvertRequest,
) -> Result<Converted, DomainError> {
    let lead = records::read_record(store, actor, &LEADS, lead_id).await?;
    let upd = actor
        .owners(objects::LEAD, Action::Update)
        .ok_or_else(|| DomainError::Forbidden("you may not convert leads".into()))?;
    if !upd.allows(lead.owner_id()) {
        return Err(DomainError::Forbidden(
            "you may not convert this lead".into(),
        ));
    }
    match lead.text("status") {
        Some("converted") => {
            return Err(DomainError::Conflict(
                "this lead has already been converted".into(),
            ))
        }
        Some("disqualified") => {
            return Err(DomainError::Conflict(
                "a disqualified lead cannot be converted; requalify it first".into(),
            ))
        }
        _ => {}
    }
    let opts = WriteOptions {
        override_duplicates: req.override_duplicates,
        ..WriteOptions::default()
    };
    let v = |n: &str| lead.values.get(n);
    let owner = lead.owner_id().map(|o| json!(o));

    // The account: an existing one the converter can see, or a new one from the lead.
    let (account_id, account) = match req.account_id.as_deref() {
        Some(id) => {
            let f = actor.owners(objects::ACCOUNT, Action::Read);
            let found = match f {
                Some(f) => find_in_scope_fresh(store, &ACCOUNTS, &f, id).await?,
                None => None,
            };
            if found.is_none() {
                return Err(DomainError::field(
                    "account_id",
                    "invalid_reference",
                    "account_id does not name an account you can see",
                ));
            }
            if !req.account.is_empty() {
                return Err(DomainError::field(
                    "account",
                    "conflicting_fields",
                    "send either account_id or account, not both",
                ));
            }
            (id.to_string(), None)
        }
        None => {
            let mut doc = req.account.clone();
            put(&mut doc, "name", v("company"));
            put(&mut doc, "industry", v("industry"));
            put(&mut doc, "province", v("province"));
            put(&mut doc, "city", v("city"));
            put(&mut doc, "source", v("source"));
            if let Some(o) = &owner {
                doc.entry("owner_id").or_insert(o.clone());
            }
            if !doc.contains_key("name") {
                return Err(DomainError::field(
                    "account.name",
                    "required",
                    "the lead has no company: name the account or choose an existing one",
                ));
            }
            let id = ids::new_id();
            let p = prepare_create(
                store,
                actor,
                &ACCOUNTS,
                &doc,
                opts,
                Preset {
                    id: Some(id.clone()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| within("account", e))?;
            (id, Some(p))
        }
    };
    let new_account = account.is_some();
    let trusted = if new_account {
        vec!["accounts", "account_id"]
    } else {
        vec![]
    };

    let mut doc = req.contact.clone();
    for f in [
        "family_name",
        "given_name",
        "title",
        "mobile",
        "email",
        "wechat",
    ] {
        put(&mut doc, f, v(f));
    }
    if let Some(o) = &owner {
        doc.entry("owner_id").or_insert(o.clone());
    }
    doc.remove("account_ids");
    doc.insert("accounts".into(), json!([account_id]));
    let contact = prepare_create(
        store,
        actor,
        &CONTACTS,
        &doc,
        opts,
        Preset {
            trusted: trusted.clone(),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| within("contact", e))?;

    let opportunity = match &req.opportunity {
        Some(o) => {
            let mut doc = o.clone();
            put(&mut doc, "source", v("source"));
            put(&mut doc, "campaign", v("campaign"));
            if !doc.contains_key("name") {
                let company = lead
                    .text("company")
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(|| lead.label(&LEADS));
                doc.insert("name".into(), json!(company));
            }
            if let Some(o) = &owner {
                doc.entry("owner_id").or_insert(o.clone());
            }
            doc.insert("account_id".into(), json!(account_id));
            let mut trusted = trusted.clone();
            if !doc.contains_key("contacts") {
                doc.insert("contacts".into(), json!([{"contact_id": contact.id}]));
                trusted.push("contacts");
            }
            Some(
                prepare_create(
                    store,
                    actor,
                    &OPPORTUNITIES,
                    &doc,
                    opts,
                    Preset {
                        trusted,
                        system: vec![("lead_id", FieldValue::Text(lead.id.clone()))],
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| within("opportunity", e))?,
            )
        }
        None => None,
    };

    let now = store.now();
    let tx = store.db.begin().await?;
    // Claim the lead first: of two people converting it at once, one wins.
    let claimed = exec(
        &tx,
        Query::update()
            .table(t("leads"))
            .value(t("status"), "converted")
            .value(t("converted_at"), now)
            .value(t("converted_account_id"), account_id.as_str())
            .value(t("converted_contact_id"), contact.id.as_str())
            .value(
                t("converted_opportunity_id"),
                opportunity.as_ref().map(|o| o.id.clone()),
            )
            .value(t("updated_at"), now)
            .value(t("version"), Expr::col(t("version")).add(1))
            .and_where(Expr::col(t("id")).eq(lead.id.as_str()))
            .and_where(Expr::col(t("status")).ne("converted")),
    )
    .await?;
    if claimed != 1 {
        return Err(DomainError::Conflict(
            "this lead has already been converted".into(),
        ));
    }
    if let Some(a) = &account {
        insert(&tx, store, actor, a).await?;
    }
    insert(&tx, store, actor, &contact).await?;
    if let Some(o) = &opportunity {
        insert(&tx, store, actor, o).await?;
    }
    let out = Converted {
        lead_id: lead.id.clone(),
        account_id: account_id.clone(),
        account_created: new_account,
        contact_id: contact.id.clone(),
        opportunity_id: opportunity.as_ref().map(|o| o.id.clone()),
    };
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("lead.converted")
            .object("lead", &lead.id)
            .details(json!({
                "changes": {"status": {"before": lead.text("status"), "after": "converted"}},
                "account_id": out.account_id,
                "account_created": out.account_created,
                "contact_id": out.contact_id,
                "opportunity_id": out.opportunity_id,
            })),
    )
    .await?;
    outbox::emit(
        &tx,
        store,
        actor,
        "lead.converted",
        "lead",
        &lead.id,
        json!(out),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(out)
}
