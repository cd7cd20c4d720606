//! Record pages: the record page with edit in place and history, delete and erase, and what
//! the other record pages share (titles, labels, choices). The home page and global search are
//! in `home_pages`, the create form in `create_pages`; lists, saved views, bulk actions and
//! exports in `list_pages`.

use super::form::{self, build_input, Choices, FormField};
use super::i18n::Lang;
use super::posted::Posted;
use super::{field_message, render, Ctx, Page};
use crate::api::records::def_for;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rapport_core::fields::FieldValue;
use rapport_core::{Action, DomainError, Object, Scope};
use rapport_services::access::Access;
use rapport_services::objects;
use rapport_services::records::{self, ObjectDef, WriteOptions};
use rapport_services::{picklists, users, Store};
use serde_json::{json, Value};

pub struct DetailRow {
    pub field: FormField,
    pub display: String,
    /// Phone numbers and emails as links (`tel:`, `mailto:`) and their text; empty for other
    /// values, which show `display`.
    pub links: Vec<(String, String)>,
    pub editable: bool,
}

pub struct HistoryItem {
    pub at: String,
    pub who: String,
    pub action: String,
    pub changes: Vec<String>,
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    ctx: Ctx,
    title: String,
    plural: String,
    id: String,
    can_delete: bool,
    key_fields: Vec<(String, String)>,
    rows: Vec<DetailRow>,
    related: Vec<super::related::Group>,
    can_convert: bool,
    /// The record holds a person: their data can be exported and erased.
    person: bool,
    doc: Option<super::document_pages::DocPanel>,
    history: Vec<HistoryItem>,
    timeline: Option<super::activity_pages::TimelineView>,
    has_email: bool,
    error: Option<String>,
}

use super::form::field;

pub(super) fn page_error(lang: Lang, e: DomainError) -> Response {
    super::error_page(lang, e)
}

/// The record type a form on its pages posts to: the refusal page for an unknown type (not
/// found).
pub(super) fn posted_def(lang: Lang, object: &str) -> Result<&'static ObjectDef, Box<Response>> {
    def_for(object).map_err(|_| Box::new(page_error(lang, DomainError::NotFound)))
}

pub fn title_of(def: &ObjectDef, lang: Lang) -> String {
    super::i18n::t(lang, &format!("nav.{}", def.plural()))
}

/// The label a record is known by.
pub fn record_label(def: &ObjectDef, rec: &Value) -> String {
    if matches!(def.object, objects::CONTACT | objects::LEAD) {
        rapport_core::names::person_name(
            rec["family_name"].as_str().unwrap_or(""),
            rec["given_name"].as_str().unwrap_or(""),
        )
    } else {
        let name = rec["name"].as_str().unwrap_or("");
        match rec["number"].as_str() {
            Some(n) if name.is_empty() => n.to_string(),
            Some(n) => format!("{n} {name}"),
            None => name.to_string(),
        }
    }
}

/// Picklists, users and (visible) accounts for selects and labels.
pub(super) async fn choices(
    store: &Store,
    actor: &Access,
    lang: Lang,
    object: Object,
) -> Result<Choices, DomainError> {
    let mut c = Choices {
        customs: rapport_services::custom_fields::active(store, object).await?,
        ..Default::default()
    };
    for (list, _) in picklists::DEFAULTS {
        let vals = picklists::values(&store.db, list).await?;
        c.picklists.insert(
            list.to_string(),
            vals.into_iter()
                .filter(|v| v.active)
                .map(|v| {
                    (
                        v.value,
                        if lang == Lang::Zh {
                            v.label_zh
                        } else {
                            v.label_en
                        },
                    )
                })
                .collect(),
        );
    }
    if actor.scope(Object::USER, Action::Read) != Scope::None {
        c.users = users::list(store, actor)
            .await?
            .into_iter()
            .filter(|u| u.active)
            .map(|u| (u.id, u.name))
            .collect();
    }
    c.accounts = rapport_services::objects::account::names(store, actor, 500).await?;
    c.departments = rapport_services::departments::list(&store.db)
        .await?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    if matches!(object, objects::OPPORTUNITY | objects::LEAD) {
        let zh = lang == Lang::Zh;
        for p in rapport_services::pipelines::list(store.db.reader()).await? {
            c.pipelines.push((p.id.clone(), p.name(zh).to_string()));
            for s in &p.stages {
                if !c.stages.iter().any(|(k, _)| *k == s.key) {
                    c.stages.push((s.key.clone(), s.name(zh).to_string()));
                }
            }
        }
        c.contacts = rapport_services::objects::contact::names(store, actor, 500).await?;
    }
    super::document_pages::add_choices(store, actor, lang, object, &mut c).await?;
    Ok(c)
}

async fn render_detail(
    app: &AppState,
    page: Page,
    def: &'static ObjectDef,
    plural: &str,
    id: &str,
    edit_error: Option<(String, String, String)>,
    query: &[(String, String)],
) -> Response {
    let lang = page.ctx.lang;
    let actor = &page.access;
    let rec = match records::read(&app.store, actor, def, id).await {
        Ok(r) => r,
        Err(e) => return page_error(lang, e),
    };
    let choices = match choices(&app.store, actor, lang, def.object).await {
        Ok(c) => c,
        Err(e) => return page_error(lang, e),
    };
    let owner = rec["owner_id"].as_str();
    let update_filter = actor.owners(def.object, Action::Update);
    let can_update = update_filter.is_some_and(|f| f.allows(owner));
    let delete_filter = actor.owners(def.object, Action::Delete);
    let can_delete = delete_filter.is_some_and(|f| f.allows(owner));
    let region = app.store.settings.phone_region.clone();
    // Fields whose stored value does not decrypt: shown as such, not editable.
    let unreadable: Vec<&str> = rec[records::unreadable::KEY]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let can_update = can_update && unreadable.is_empty();
    let unreadable_text = super::i18n::t(lang, "record.unreadable_value");
    let mut rows: Vec<DetailRow> = def
        .fields
        .iter()
        .filter(|s| actor.grants.can_read_field(def.object, s.name))
        .map(|s| {
            let raw = &rec[s.name];
            let value = rapport_core::fields::parse_value(s, raw, &app.store.parse_context())
                .unwrap_or(FieldValue::Null);
            let mut input = build_input(s, &value, lang, &choices);
            if let Some((f, typed, msg)) = &edit_error {
                if f == s.name {
                    input.error = Some(msg.clone());
                    if !matches!(
                        input.input.as_str(),
                        "select" | "multiselect" | "checkbox" | "consent"
                    ) {
                        input.value = typed.clone();
                    }
                }
            }
            let hidden = unreadable.contains(&s.name);
            DetailRow {
                display: if hidden {
                    unreadable_text.clone()
                } else {
                    form::display(s, raw, lang, &choices, &region)
                },
                links: if hidden {
                    Vec::new()
                } else {
                    form::contact_links(s.kind, raw, &region)
                },
                editable: can_update
                    && !s.system
                    && actor.grants.can_write_field(def.object, s.name)
                    && (s.name != "owner_id"
                        || actor.scope(def.object, Action::Transfer) != Scope::None),
                field: input,
            }
        })
        .collect();
    for c in choices
        .customs
        .iter()
        .filter(|c| actor.grants.can_read_field(def.object, &c.key))
    {
        let raw = rec.get(&c.key).cloned().unwrap_or(Value::Null);
        let mut input = form::custom_input(c, &raw, lang, &choices);
        if let Some((f, typed, msg)) = &edit_error {
            if *f == c.key {
                input.error = Some(msg.clone());
                if !matches!(input.input.as_str(), "select" | "multiselect" | "checkbox") {
                    input.value = typed.clone();
                }
            }
        }
        let hidden = c.sensitive && unreadable.contains(&records::unreadable::CUSTOM);
        rows.push(DetailRow {
            display: if hidden {
                unreadable_text.clone()
            } else {
                form::custom_display(c, &raw, lang, &choices, &region)
            },
            links: match c.kind {
                _ if hidden => Vec::new(),
                rapport_core::custom::CustomKind::Phone => {
                    form::contact_links(rapport_core::fields::FieldKind::Phone, &raw, &region)
                }
                rapport_core::custom::CustomKind::Email => {
                    form::contact_links(rapport_core::fields::FieldKind::Email, &raw, &region)
                }
                _ => Vec::new(),
            },
            editable: can_update && actor.grants.can_write_field(def.object, &c.key),
            field: input,
        });
    }
    let key_names: &[&str] = match def.object {
        objects::ACCOUNT => &["level", "status", "phone", "owner_id"],
        objects::LEAD => &["company", "status", "mobile", "owner_id"],
        objects::OPPORTUNITY => &[
            "account_id",
            "stage",
            "amount",
            "expected_close_date",
            "owner_id",
        ],
        objects::PRODUCT => &["code", "price", "tax_rate", "active"],
        objects::QUOTE => &["account_id", "status", "total", "valid_until", "owner_id"],
        objects::CONTRACT => &[
            "account_id",
            "status",
            "amount",
            "received_amount",
            "owner_id",
        ],
        objects::ORDER => &["account_id", "status", "total", "order_date", "owner_id"],
        objects::PAYMENT => &["contract_id", "amount", "paid_on", "method", "owner_id"],
        _ => &["title", "mobile", "email", "owner_id"],
    };
    let can_convert = def.object == objects::LEAD
        && can_update
        && !matches!(rec["status"].as_str(), Some("converted" | "disqualified"));
    let key_fields = key_names
        .iter()
        .filter_map(|n| def.field(n))
        .filter(|s| actor.grants.can_read_field(def.object, s.name))
        .map(|s| {
            (form::label(s, lang), {
                let d = if unreadable.contains(&s.name) {
                    unreadable_text.clone()
                } else {
                    form::display(s, &rec[s.name], lang, &choices, &region)
                };
                if d.is_empty() {
                    "—".into()
                } else {
                    d
                }
            })
        })
        .collect();
    let related = super::related::groups(app, actor, def, id, &rec, &choices, lang).await;
    let hist = records::history(&app.store, actor, def, id, 100)
        .await
        .unwrap_or_default();
    let history = hist
        .into_iter()
        .map(|h| {
            let mut changes = Vec::new();
            if let Some(Value::Object(m)) = h.details.get("changes") {
                for (f, c) in m {
                    let Some(spec) = def.field(f) else { continue };
                    let show = |v: &Value| {
                        let d = form::display(spec, v, lang, &choices, &region);
                        if d.is_empty() {
                            "—".to_string()
                        } else {
                            d
                        }
                    };
                    changes.push(format!(
                        "{}: {} → {}",
                        form::label(spec, lang),
                        show(&c["before"]),
                        show(&c["after"])
                    ));
                }
            }
            if let Some(r) = h.details.get("reason").and_then(Value::as_str) {
                changes.push(r.to_string());
            }
            let key = format!("action.{}", h.action);
            HistoryItem {
                at: h.at.replace('T', " ").chars().take(16).collect(),
                who: choices
                    .users
                    .iter()
                    .find(|(id, _)| *id == h.actor_id)
                    .map(|(_, n)| n.clone())
                    .or(h.actor_email)
                    .unwrap_or_default(),
                action: if super::i18n::has(&key) {
                    super::i18n::t(lang, &key)
                } else {
                    h.action
                },
                changes,
            }
        })
        .collect();
    let status = if edit_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let timeline = super::activity_pages::timeline_view(
        app,
        &page,
        (plural, def.key(), id),
        &choices.users,
        query,
    )
    .await
    .ok();
    let mut res = render(&RecordPage {
        title: record_label(def, &rec),
        plural: plural.to_string(),
        id: id.to_string(),
        can_delete,
        key_fields,
        rows,
        related,
        can_convert,
        person: def.hooks.erasure().is_some(),
        doc: super::document_pages::panel(app, &page, def, id, &rec, &choices, can_update).await,
        history,
        timeline,
        has_email: rec["email"].as_str().is_some_and(|e| !e.is_empty()),
        error: (!unreadable.is_empty()).then(|| super::i18n::t(lang, "record.unreadable")),
        ctx: page.ctx,
    });
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}

pub async fn detail(
    State(app): State<AppState>,
    page: Page,
    Path((object, id)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    let Ok(def) = def_for(&object) else {
        return page_error(lang, DomainError::NotFound);
    };
    let actor = page.access.clone();
    let res = render_detail(&app, page, def, &object, &id, None, &query).await;
    if res.status() == axum::http::StatusCode::NOT_FOUND {
        // A record merged into another: its old links lead to the one it went into.
        if let Ok(Some(survivor)) = rapport_services::merge::survivor_of(&app.store, &id).await {
            if records::read_record(&app.store, &actor, def, &survivor)
                .await
                .is_ok()
            {
                return Redirect::to(&format!("/{object}/{survivor}")).into_response();
            }
        }
    }
    res
}

pub async fn edit_field(
    State(app): State<AppState>,
    Path((object, id)): Path<(String, String)>,
    Posted { page, form }: Posted,
) -> Response {
    let lang = page.ctx.lang;
    let def = match posted_def(lang, &object) {
        Ok(def) => def,
        Err(refused) => return *refused,
    };
    let mut doc = form::to_doc(def.fields, &form);
    let customs = rapport_services::custom_fields::active(&app.store, def.object)
        .await
        .unwrap_or_default();
    form::custom_to_doc(&customs, &form, &mut doc);
    // Changing the owner is a transfer: it needs the transfer right and a reason.
    let result = match doc.get("owner_id").and_then(Value::as_str) {
        Some(owner) if doc.len() == 1 => records::transfer(
            &app.store,
            &page.access,
            def,
            std::slice::from_ref(&id),
            owner,
            &field(&form, "reason"),
        )
        .await
        .map(|_| json!({})),
        _ => {
            records::update(
                &app.store,
                &page.access,
                def,
                &id,
                &doc,
                WriteOptions::default(),
            )
            .await
        }
    };
    match result {
        Ok(_) => Redirect::to(&format!("/{object}/{id}")).into_response(),
        Err(DomainError::Validation(errs)) => {
            let e = &errs[0];
            let base = e
                .field
                .split(['.', '['])
                .next()
                .unwrap_or(&e.field)
                .to_string();
            let base = if base == "reason" {
                "owner_id".to_string()
            } else {
                base
            };
            let typed = field(&form, &base);

            render_detail(
                &app,
                page,
                def,
                &object,
                &id,
                Some((base, typed, field_message(lang, e))),
                &[],
            )
            .await
        }
        Err(DomainError::Duplicate { rule, .. }) => {
            let name = doc.keys().next().cloned().unwrap_or(rule);
            let typed = field(&form, &name);
            let msg = super::i18n::t(lang, "form.duplicates");
            render_detail(&app, page, def, &object, &id, Some((name, typed, msg)), &[]).await
        }
        Err(e) => page_error(lang, e),
    }
}

pub async fn delete(
    State(app): State<AppState>,
    Path((object, id)): Path<(String, String)>,
    Posted { page, form: _ }: Posted,
) -> Response {
    let lang = page.ctx.lang;
    let def = match posted_def(lang, &object) {
        Ok(def) => def,
        Err(refused) => return *refused,
    };
    match records::delete(&app.store, &page.access, def, &id, None).await {
        Ok(()) => Redirect::to(&format!("/{object}")).into_response(),
        Err(e) => page_error(lang, e),
    }
}

pub async fn erase(
    State(app): State<AppState>,
    Path((object, id)): Path<(String, String)>,
    Posted { page, form }: Posted,
) -> Response {
    let lang = page.ctx.lang;
    let def = match posted_def(lang, &object) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    match rapport_services::privacy::erase(
        &app.store,
        &page.access,
        def,
        &id,
        &field(&form, "reason"),
    )
    .await
    {
        Ok(()) => Redirect::to(&format!("/{object}/{id}")).into_response(),
        Err(e) => page_error(lang, e),
    }
}
