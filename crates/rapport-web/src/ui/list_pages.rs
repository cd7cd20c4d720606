//! List pages of records: filters (AND/OR conditions on any field), sort, columns chosen and
//! ordered, saved views, cursor pages; bulk actions on a selection or on every match, and
//! exporting the list as it is shown.

use super::form::{self, field};
use super::i18n::Lang;
use super::posted::Posted;
use super::record_pages::{choices, page_error, posted_def, record_label, title_of};
use super::{field_message, render, Ctx, Page};
use crate::api::records::def_for;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use rapport_core::fields::FieldKind;
use rapport_core::{Action, DomainError, Scope};
use rapport_services::objects;
use rapport_services::records::query::{self, ListParams};
use rapport_services::records::{self, ObjectDef};
use rapport_services::views;
use serde_json::{json, Value};

pub struct Row {
    pub id: String,
    pub cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    ctx: Ctx,
    title: String,
    plural: String,
    can_create: bool,
    q: String,
    match_any: bool,
    conditions: Vec<(String, String, String)>,
    filter_fields: Vec<(String, String)>,
    ops: Vec<(String, String)>,
    sort: String,
    sort_options: Vec<(String, String)>,
    /// (key, label, shown, position)
    column_options: Vec<(String, String, bool, String)>,
    columns: Vec<(String, String)>,
    rows: Vec<Row>,
    next_href: Option<String>,
    query_string: String,
    views: Vec<(String, String, bool)>,
    error: Option<String>,
    notice: Option<String>,
    owners: Vec<(String, String)>,
    settable_fields: Vec<(String, String)>,
}

const DEFAULT_COLUMNS_ACCOUNT: &[&str] =
    &["name", "level", "industry", "city", "phone", "owner_id"];
const DEFAULT_COLUMNS_CONTACT: &[&str] =
    &["name", "title", "mobile", "email", "accounts", "owner_id"];
const DEFAULT_COLUMNS_LEAD: &[&str] = &[
    "name", "company", "status", "source", "score", "mobile", "owner_id",
];
const DEFAULT_COLUMNS_OPPORTUNITY: &[&str] = &[
    "name",
    "account_id",
    "stage",
    "amount",
    "expected_close_date",
    "owner_id",
];
const DEFAULT_COLUMNS_PRODUCT: &[&str] = &[
    "code", "name", "category", "unit", "price", "tax_rate", "active",
];
const DEFAULT_COLUMNS_QUOTE: &[&str] = &[
    "number",
    "name",
    "account_id",
    "status",
    "total",
    "valid_until",
    "owner_id",
];
const DEFAULT_COLUMNS_CONTRACT: &[&str] = &[
    "number",
    "name",
    "account_id",
    "status",
    "amount",
    "received_amount",
    "owner_id",
];
const DEFAULT_COLUMNS_ORDER: &[&str] = &[
    "number",
    "name",
    "account_id",
    "status",
    "total",
    "order_date",
    "owner_id",
];
const DEFAULT_COLUMNS_PAYMENT: &[&str] = &[
    "number",
    "contract_id",
    "account_id",
    "amount",
    "paid_on",
    "method",
    "owner_id",
];
const OPS: &[&str] = &[
    "eq",
    "ne",
    "contains",
    "starts_with",
    "gt",
    "gte",
    "lt",
    "lte",
    "has",
    "is_empty",
    "is_not_empty",
];

/// Build the filter tree from the list form's condition slots.
fn filter_from(
    def: &ObjectDef,
    q: &[(String, String)],
) -> (Option<Value>, Vec<(String, String, String)>, bool) {
    let any = field(q, "match") == "any";
    let mut conds = Vec::new();
    let mut slots = Vec::new();
    for i in 0..3 {
        let f = field(q, &format!("f{i}_field"));
        let op = field(q, &format!("f{i}_op"));
        let v = field(q, &format!("f{i}_value"));
        slots.push((f.clone(), op.clone(), v.clone()));
        if f.is_empty() {
            continue;
        }
        let spec = def.field(&f);
        let value = match spec.map(|s| s.kind) {
            Some(FieldKind::Bool) | Some(FieldKind::Consent) => {
                json!(v == "true" || v == "1" || v == "是" || v.eq_ignore_ascii_case("yes"))
            }
            // Custom checkboxes: the same words mean true.
            None if f.starts_with("cf_")
                && matches!(v.as_str(), "true" | "false" | "是" | "否") =>
            {
                json!(v == "true" || v == "是")
            }
            _ => json!(v),
        };
        conds.push(if matches!(op.as_str(), "is_empty" | "is_not_empty") {
            json!({"field": f, "op": op})
        } else {
            json!({"field": f, "op": op, "value": value})
        });
    }
    let filter = if conds.is_empty() {
        None
    } else {
        Some(json!({ if any { "or" } else { "and" }: conds }))
    };
    (filter, slots, any)
}

pub async fn list(
    State(app): State<AppState>,
    page: Page,
    Path(object): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    let Ok(def) = def_for(&object) else {
        return page_error(lang, DomainError::NotFound);
    };
    let actor = &page.access;
    let (filter, conditions, match_any) = filter_from(def, &q);
    let sort = field(&q, "sort");
    let chosen: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "cols")
        .map(|(_, v)| v.clone())
        .collect();
    let defaults = match def.object {
        objects::ACCOUNT => DEFAULT_COLUMNS_ACCOUNT,
        objects::LEAD => DEFAULT_COLUMNS_LEAD,
        objects::OPPORTUNITY => DEFAULT_COLUMNS_OPPORTUNITY,
        objects::PRODUCT => DEFAULT_COLUMNS_PRODUCT,
        objects::QUOTE => DEFAULT_COLUMNS_QUOTE,
        objects::CONTRACT => DEFAULT_COLUMNS_CONTRACT,
        objects::ORDER => DEFAULT_COLUMNS_ORDER,
        objects::PAYMENT => DEFAULT_COLUMNS_PAYMENT,
        _ => DEFAULT_COLUMNS_CONTACT,
    };
    let readable = |name: &str| name == "name" || actor.grants.can_read_field(def.object, name);
    let mut cols: Vec<String> = if chosen.is_empty() {
        defaults.iter().map(|s| s.to_string()).collect()
    } else {
        chosen.clone()
    };
    // Column order: the `pos.<column>` numbers, then the order they were chosen in.
    let pos_of = |c: &str| {
        field(&q, &format!("pos.{c}"))
            .parse::<u32>()
            .unwrap_or(u32::MAX)
    };
    cols.sort_by_key(|c| pos_of(c));
    let customs = rapport_services::custom_fields::active(&app.store, def.object)
        .await
        .unwrap_or_default();
    let cols: Vec<String> = cols
        .into_iter()
        .filter(|c| {
            readable(c)
                && (c == "name" || def.field(c).is_some() || customs.iter().any(|x| x.key == *c))
        })
        .collect();
    let params = ListParams {
        q: Some(field(&q, "q")).filter(|s| !s.trim().is_empty()),
        filter,
        sort: Some(sort.clone()).filter(|s| !s.is_empty()),
        limit: Some(50),
        cursor: Some(field(&q, "cursor")).filter(|s| !s.is_empty()),
        ..Default::default()
    };

    let choices = match choices(&app.store, actor, lang, def.object).await {
        Ok(c) => c,
        Err(e) => return page_error(lang, e),
    };
    let (data, next, error) = match query::list(&app.store, actor, def, &params).await {
        Ok(p) => (p.data, p.next_cursor, None),
        Err(DomainError::Validation(errs)) => (
            vec![],
            None,
            Some(
                errs.iter()
                    .map(|e| format!("{}: {}", e.field, field_message(lang, e)))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ),
        Err(e) => return page_error(lang, e),
    };
    let label_of = |name: &str| -> String {
        if name == "name" && matches!(def.object, objects::CONTACT | objects::LEAD) {
            super::i18n::t(lang, "setup.name")
        } else if let Some(c) = customs.iter().find(|c| c.key == name) {
            c.label(lang == Lang::Zh).to_string()
        } else {
            def.field(name)
                .map(|s| form::label(s, lang))
                .unwrap_or_else(|| name.to_string())
        }
    };
    let columns: Vec<(String, String)> = cols.iter().map(|c| (c.clone(), label_of(c))).collect();
    let rows = data
        .iter()
        .map(|r| Row {
            id: r["id"].as_str().unwrap_or("").to_string(),
            cells: cols
                .iter()
                .map(|c| {
                    if c == "name" {
                        let l = record_label(def, r);
                        if l.is_empty() {
                            "—".into()
                        } else {
                            l
                        }
                    } else if let Some(cf) = customs.iter().find(|x| x.key == *c) {
                        form::custom_display(
                            cf,
                            &r[c.as_str()],
                            lang,
                            &choices,
                            &app.store.settings.phone_region,
                        )
                    } else {
                        def.field(c)
                            .map(|s| {
                                form::display(
                                    s,
                                    &r[c.as_str()],
                                    lang,
                                    &choices,
                                    &app.store.settings.phone_region,
                                )
                            })
                            .unwrap_or_default()
                    }
                })
                .collect(),
        })
        .collect();
    // Keep everything but the cursor for the next link and for saving the view.
    let kept: Vec<(String, String)> = q
        .iter()
        .filter(|(k, v)| k != "cursor" && k != "bulk_ok" && k != "bulk_failed" && !v.is_empty())
        .cloned()
        .collect();
    let query_string = serde_urlencoded::to_string(&kept).unwrap_or_default();
    let next_href = next.map(|c| {
        format!(
            "/{object}?{}{}cursor={}",
            query_string,
            if query_string.is_empty() { "" } else { "&" },
            form::urlencode(&c)
        )
    });
    let filter_fields: Vec<(String, String)> = def
        .fields
        .iter()
        .filter(|s| {
            actor.grants.can_read_field(def.object, s.name)
                && !matches!(s.kind, FieldKind::JsonObject | FieldKind::DepartmentRef)
        })
        .map(|s| (s.name.to_string(), form::label(s, lang)))
        .chain(
            customs
                .iter()
                .filter(|c| actor.grants.can_read_field(def.object, &c.key))
                .map(|c| (c.key.clone(), c.label(lang == Lang::Zh).to_string())),
        )
        .collect();
    let sort_options: Vec<(String, String)> = def
        .fields
        .iter()
        .filter(|s| {
            actor.grants.can_read_field(def.object, s.name)
                && !s.sensitive
                && matches!(
                    s.kind,
                    FieldKind::Text { .. }
                        | FieldKind::Picklist(_)
                        | FieldKind::Money
                        | FieldKind::Date
                        | FieldKind::DateTime
                )
        })
        .flat_map(|s| {
            let l = form::label(s, lang);
            [
                (s.name.to_string(), format!("{l} ↑")),
                (format!("-{}", s.name), format!("{l} ↓")),
            ]
        })
        .chain([(
            "-updated_at".to_string(),
            format!("{} ↓", super::i18n::t(lang, "record.updated")),
        )])
        .collect();
    let position = |n: &str| {
        cols.iter()
            .position(|c| c == n)
            .map(|i| (i + 1).to_string())
            .unwrap_or_default()
    };
    let mut column_options: Vec<(String, String, bool, String)> = vec![(
        "name".into(),
        label_of("name"),
        cols.contains(&"name".to_string()),
        position("name"),
    )];
    column_options.extend(
        filter_fields
            .iter()
            .filter(|(n, _)| n != "name")
            .map(|(n, l)| (n.clone(), l.clone(), cols.contains(n), position(n))),
    );
    let notice = match (
        field(&q, "bulk_ok").parse::<usize>(),
        field(&q, "bulk_failed").parse::<usize>(),
    ) {
        (Ok(ok), Ok(failed)) => Some(
            super::i18n::t(lang, "bulk.done")
                .replace("{ok}", &ok.to_string())
                .replace("{failed}", &failed.to_string()),
        ),
        _ => None,
    };
    let settable_fields: Vec<(String, String)> = def
        .fields
        .iter()
        .filter(|s| {
            !s.system
                && s.name != "owner_id"
                && actor.grants.can_write_field(def.object, s.name)
                && !matches!(
                    s.kind,
                    FieldKind::AccountLinks | FieldKind::JsonObject | FieldKind::Consent
                )
        })
        .map(|s| (s.name.to_string(), form::label(s, lang)))
        .collect();
    let views = views::list(&app.store, actor, def.object)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|v| (v.name, v.query, v.shared))
        .collect();
    let ops = OPS
        .iter()
        .map(|o| (o.to_string(), super::i18n::t(lang, &format!("op.{o}"))))
        .collect();
    render(&ListPage {
        title: title_of(def, lang),
        plural: object.clone(),
        can_create: actor.scope(def.object, Action::Create) != Scope::None,
        q: field(&q, "q"),
        match_any,
        conditions,
        filter_fields,
        ops,
        sort,
        sort_options,
        column_options,
        columns,
        rows,
        next_href,
        query_string,
        views,
        error,
        notice,
        owners: choices.users.clone(),
        settable_fields,
        ctx: page.ctx,
    })
}

pub async fn save_view(
    State(app): State<AppState>,
    Path(object): Path<String>,
    Posted { page, form }: Posted,
) -> Response {
    let lang = page.ctx.lang;
    let def = match posted_def(lang, &object) {
        Ok(def) => def,
        Err(refused) => return *refused,
    };
    let query = field(&form, "query");
    match views::create(
        &app.store,
        &page.access,
        def.object,
        &field(&form, "name"),
        &query,
        !field(&form, "shared").is_empty(),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/{object}?{query}")).into_response(),
        Err(e) => page_error(lang, e),
    }
}

/// The list page's bulk bar: the same request the API takes, built from the form.
pub async fn bulk(
    State(app): State<AppState>,
    Path(object): Path<String>,
    Posted { page, form }: Posted,
) -> Response {
    let lang = page.ctx.lang;
    let def = match posted_def(lang, &object) {
        Ok(def) => def,
        Err(refused) => return *refused,
    };
    let query = field(&form, "query");
    let list_query: Vec<(String, String)> = serde_urlencoded::from_str(&query).unwrap_or_default();
    let mut body = serde_json::Map::new();
    if field(&form, "all_matching").is_empty() {
        let ids: Vec<Value> = form
            .iter()
            .filter(|(k, _)| k == "ids")
            .map(|(_, v)| json!(v))
            .collect();
        body.insert("ids".into(), Value::Array(ids));
    } else {
        let (filter, _, _) = filter_from(def, &list_query);
        let mut m = serde_json::Map::new();
        m.insert("q".into(), json!(field(&list_query, "q")));
        m.insert("filter".into(), filter.unwrap_or(Value::Null));
        body.insert("all_matching".into(), Value::Object(m));
    }
    let action = field(&form, "action");
    body.insert("action".into(), json!(action));
    match action.as_str() {
        "add_tag" | "remove_tag" => {
            body.insert("tag".into(), json!(field(&form, "tag")));
        }
        "assign_owner" => {
            body.insert("owner_id".into(), json!(field(&form, "owner_id")));
            body.insert("reason".into(), json!(field(&form, "reason")));
        }
        "set_field" => {
            let name = field(&form, "field");
            let raw = field(&form, "value");
            let value = match def.field(&name).map(|s| s.kind) {
                Some(FieldKind::Tags | FieldKind::EmailList | FieldKind::PhoneList) => {
                    Value::Array(
                        raw.split([',', '，'])
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(|s| json!(s))
                            .collect(),
                    )
                }
                Some(FieldKind::Bool) => json!(matches!(raw.as_str(), "true" | "1" | "是" | "yes")),
                _ if raw.trim().is_empty() => Value::Null,
                _ => json!(raw),
            };
            body.insert("field".into(), json!(name));
            body.insert("value".into(), value);
        }
        "delete" => {
            body.insert("confirm".into(), json!(true));
        }
        _ => {}
    }
    let parsed = crate::api::records::parse_bulk(&body).map_err(|e| e.0);
    let result = match parsed {
        Ok((target, action)) => {
            records::bulk::run(&app.store, &page.access, def, target, action).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(r) => {
            let sep = if query.is_empty() { "" } else { "&" };
            Redirect::to(&format!(
                "/{object}?{query}{sep}bulk_ok={}&bulk_failed={}",
                r.succeeded,
                r.failed.len()
            ))
            .into_response()
        }
        Err(e) => page_error(lang, e),
    }
}

/// CSV of the current list (filters and chosen columns), headers in the user's language.
pub async fn export(
    State(app): State<AppState>,
    page: Page,
    Path(object): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    let Ok(def) = def_for(&object) else {
        return page_error(lang, DomainError::NotFound);
    };
    let (filter, _, _) = filter_from(def, &q);
    let all_cols =
        match crate::api::records::export_columns(&app.store, def, Some(lang == Lang::Zh)).await {
            Ok(c) => c,
            Err(e) => return page_error(lang, e.0),
        };
    let mut chosen: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "cols")
        .map(|(_, v)| v.clone())
        .collect();
    chosen.sort_by_key(|c| {
        field(&q, &format!("pos.{c}"))
            .parse::<u32>()
            .unwrap_or(u32::MAX)
    });
    let cols: Vec<(String, String)> = if chosen.is_empty() {
        all_cols
    } else {
        chosen
            .iter()
            .flat_map(|c| {
                if c == "name" && def.object == objects::CONTACT {
                    all_cols
                        .iter()
                        .filter(|(k, _)| k == "family_name" || k == "given_name")
                        .cloned()
                        .collect::<Vec<_>>()
                } else {
                    all_cols.iter().filter(|(k, _)| k == c).cloned().collect()
                }
            })
            .collect()
    };
    let spec = records::export::ExportSpec {
        q: Some(field(&q, "q")).filter(|s| !s.trim().is_empty()),
        filter,
        sort: Some(field(&q, "sort")).filter(|s| !s.trim().is_empty()),
        columns: cols,
    };
    let format = if field(&q, "format") == "xlsx" {
        records::export::Format::Xlsx
    } else {
        records::export::Format::Csv
    };
    // More than a download can carry at once: the export runs in the background.
    let large = records::export::count(
        &app.store,
        &page.access,
        def,
        &spec,
        Some(records::export::MAX_ROWS),
    )
    .await
    .is_ok_and(|n| n > records::export::MAX_ROWS);
    if large || field(&q, "background") == "1" {
        return match rapport_services::exports::start(&app.store, &page.access, def, spec, format)
            .await
        {
            Ok(e) => Redirect::to(&format!("/exports?started={}", e.id)).into_response(),
            Err(e) => page_error(lang, e),
        };
    }
    match records::export::export(&app.store, &page.access, def, &spec, format).await {
        Ok(bytes) => (
            [
                (
                    axum::http::header::CONTENT_TYPE,
                    format.content_type().to_string(),
                ),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{object}.{}\"", format.extension()),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => page_error(lang, e),
    }
}
