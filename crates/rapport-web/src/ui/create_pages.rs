//! The create form of every record type: fields by the caller's field rules, picklists and
//! pickers, duplicates shown with the choice to go ahead where a rule allows.

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
use rapport_core::{Action, DomainError, Scope};
use rapport_services::access::Access;
use rapport_services::records::{self, ObjectDef, WriteOptions};
use rapport_services::Store;
use serde_json::{json, Value};

use super::form::field;
use super::record_pages::{choices, page_error, posted_def, title_of};

#[derive(Template)]
#[template(path = "record_form.html")]
struct FormPage {
    ctx: Ctx,
    title: String,
    action: String,
    cancel: String,
    fields: Vec<FormField>,
    has_errors: bool,
    duplicates: Vec<(String, Option<String>)>,
    overridable: bool,
}

fn form_fields(
    def: &ObjectDef,
    actor: &Access,
    values: &serde_json::Map<String, Value>,
    lang: Lang,
    choices: &Choices,
    store: &Store,
) -> Vec<FormField> {
    def.fields
        .iter()
        .filter(|s| !s.system && actor.grants.can_write_field(def.object, s.name))
        .map(|s| {
            let v = values
                .get(s.name)
                .map(|raw| {
                    rapport_core::fields::parse_value(s, raw, &store.parse_context()).unwrap_or(
                        FieldValue::Text(raw.as_str().unwrap_or_default().to_string()),
                    )
                })
                .unwrap_or(FieldValue::Null);
            build_input(s, &v, lang, choices)
        })
        .chain(
            choices
                .customs
                .iter()
                .filter(|c| actor.grants.can_write_field(def.object, &c.key))
                .map(|c| {
                    form::custom_input(
                        c,
                        values
                            .get(&c.key)
                            .unwrap_or(&c.default.clone().unwrap_or(Value::Null)),
                        lang,
                        choices,
                    )
                }),
        )
        .collect()
}

pub async fn new_form(
    State(app): State<AppState>,
    page: Page,
    Path(object): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    let Ok(def) = def_for(&object) else {
        return page_error(lang, DomainError::NotFound);
    };
    if page.access.scope(def.object, Action::Create) == Scope::None {
        return page_error(lang, DomainError::Forbidden("create".into()));
    }
    let choices = match choices(&app.store, &page.access, lang, def.object).await {
        Ok(c) => c,
        Err(e) => return page_error(lang, e),
    };
    let mut initial = serde_json::Map::new();
    initial.insert("owner_id".into(), json!(page.user.id));
    // What the record type fills in when nobody says otherwise (a product is on sale).
    for (k, v) in def.hooks.new_defaults() {
        initial.insert(k.into(), v.to_json());
    }
    // Links from a related record fill in the reference (a new quote from its opportunity).
    for (k, v) in &q {
        if def
            .field(k)
            .is_some_and(|f| !f.system && rapport_core::ids::is_valid_id(v))
        {
            initial.insert(k.clone(), json!(v));
        }
    }
    let fields = form_fields(def, &page.access, &initial, lang, &choices, &app.store);
    render(&FormPage {
        title: format!(
            "{} · {}",
            super::i18n::t(lang, "list.new"),
            title_of(def, lang)
        ),
        action: format!("/{object}/new"),
        cancel: format!("/{object}"),
        fields,
        has_errors: false,
        duplicates: vec![],
        overridable: false,
        ctx: page.ctx,
    })
}

pub async fn create(
    State(app): State<AppState>,
    Path(object): Path<String>,
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
    let opts = WriteOptions {
        override_duplicates: !field(&form, "_override").is_empty(),
        ..WriteOptions::default()
    };
    match records::create(&app.store, &page.access, def, &doc, opts).await {
        Ok(rec) => {
            Redirect::to(&format!("/{object}/{}", rec["id"].as_str().unwrap_or(""))).into_response()
        }
        Err(err) => {
            let choices = match choices(&app.store, &page.access, lang, def.object).await {
                Ok(c) => c,
                Err(e) => return page_error(lang, e),
            };
            let mut fields = form_fields(def, &page.access, &doc, lang, &choices, &app.store);
            // Keep exactly what the user typed in the inputs.
            for f in &mut fields {
                if let Some(raw) = form
                    .iter()
                    .find(|(k, _)| *k == f.name)
                    .map(|(_, v)| v.clone())
                {
                    if !matches!(
                        f.input.as_str(),
                        "select" | "multiselect" | "checkbox" | "consent"
                    ) {
                        f.value = raw;
                    }
                }
            }
            let (mut duplicates, mut overridable, mut banner) = (vec![], false, None);
            match &err {
                DomainError::Validation(errs) => {
                    for e in errs {
                        let base = e.field.split(['.', '[']).next().unwrap_or(&e.field);
                        if let Some(f) = fields.iter_mut().find(|f| f.name == base) {
                            f.error = Some(field_message(lang, e));
                        } else {
                            banner = Some(field_message(lang, e));
                        }
                    }
                }
                DomainError::Duplicate {
                    matches,
                    overridable: o,
                    ..
                } => {
                    overridable = *o;
                    duplicates = matches
                        .iter()
                        .map(|m| {
                            (
                                m["label"].as_str().unwrap_or("").to_string(),
                                m["id"].as_str().map(|id| format!("/{object}/{id}")),
                            )
                        })
                        .collect();
                }
                other => return page_error(lang, DomainError::Internal(other.to_string())),
            }
            let _ = banner;
            let mut res = render(&FormPage {
                title: format!(
                    "{} · {}",
                    super::i18n::t(lang, "list.new"),
                    title_of(def, lang)
                ),
                action: format!("/{object}/new"),
                cancel: format!("/{object}"),
                has_errors: matches!(err, DomainError::Validation(_)),
                fields,
                duplicates,
                overridable,
                ctx: page.ctx,
            });
            *res.status_mut() = if matches!(err, DomainError::Duplicate { .. }) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            res
        }
    }
}
