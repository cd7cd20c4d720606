//! The kanban board of opportunities (drag a card to another stage, or use its form) and the
//! lead conversion page. Both call the same services as the API.

use super::form::{self, field};
use super::i18n::{t, Lang};
use super::posted::Posted;
use super::record_pages::choices;
use super::{error_message, render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use rapport_core::{validate, Action, DomainError, Object, Scope};
use rapport_services::objects;
use rapport_services::objects::lead::convert::{self as leads, ConvertRequest};
use rapport_services::objects::opportunity::board;
use rapport_services::objects::{LEADS, OPPORTUNITIES};
use rapport_services::pipelines::StageKind;
use rapport_services::records::{self, WriteOptions};
use serde_json::{json, Map, Value};

pub struct BoardCard {
    pub id: String,
    pub name: String,
    pub account: String,
    pub amount: String,
    pub owner: String,
    pub close: String,
    pub stale: bool,
    pub no_next: bool,
    pub days: i64,
}

pub struct BoardColumn {
    pub key: String,
    pub name: String,
    pub kind: &'static str,
    pub count: i64,
    pub total: String,
    pub weighted: String,
    pub cards: Vec<BoardCard>,
    pub more: bool,
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    ctx: Ctx,
    pipelines: Vec<(String, String, bool)>,
    pipeline_id: String,
    columns: Vec<BoardColumn>,
    /// (stage key, name) for the move forms.
    stages: Vec<(String, String)>,
    lost_reasons: Vec<(String, String)>,
    can_create: bool,
    error: Option<String>,
}

fn totals(t: &board::Totals) -> String {
    t.iter()
        .map(|(c, v)| format!("{} {c}", validate::money_string(*v)))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// A validation error as one line, each field named by its label.
fn explain(lang: Lang, e: &DomainError) -> String {
    match e {
        DomainError::Validation(errs) => errs
            .iter()
            .map(|f| {
                let label = OPPORTUNITIES
                    .field(&f.field)
                    .map_or(f.field.clone(), |s| form::label(s, lang));
                format!("{label}: {}", super::field_message(lang, f))
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => error_message(lang, other),
    }
}

pub async fn board_page(
    State(app): State<AppState>,
    page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    let zh = lang == Lang::Zh;
    let pipeline_id = field(&q, "pipeline_id");
    let b = match board::board(
        &app.store,
        &page.access,
        Some(pipeline_id.as_str()).filter(|s| !s.is_empty()),
    )
    .await
    {
        Ok(b) => b,
        Err(e) => return super::error_page(lang, e),
    };
    // Only what the board shows: owners' names and the lost reasons (not every picker list).
    let owners = if page.access.scope(Object::USER, Action::Read) != Scope::None {
        match rapport_services::users::list(&app.store, &page.access).await {
            Ok(list) => list.into_iter().map(|u| (u.id, u.name)).collect(),
            Err(e) => return super::error_page(lang, e),
        }
    } else {
        Vec::new()
    };
    let lost_reasons = match rapport_services::picklists::values(&app.store.db, "lost_reason").await
    {
        Ok(v) => v
            .into_iter()
            .filter(|v| v.active)
            .map(|v| (v.value, if zh { v.label_zh } else { v.label_en }))
            .collect(),
        Err(e) => return super::error_page(lang, e),
    };
    let pipelines = rapport_services::pipelines::list(app.store.db.reader())
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.active)
        .map(|p| {
            let sel = p.id == b.pipeline.id;
            (p.id.clone(), p.name(zh).to_string(), sel)
        })
        .collect();
    let now = app.store.now();
    let user_name = |id: &Option<String>| {
        id.as_ref()
            .and_then(|i| owners.iter().find(|(u, _): &&(String, String)| u == i))
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    let columns = b
        .columns
        .iter()
        .map(|col| BoardColumn {
            key: col.stage.key.clone(),
            name: col.stage.name(zh).to_string(),
            kind: col.stage.kind.key(),
            count: col.count,
            total: totals(&col.total),
            weighted: if col.stage.kind == StageKind::Open {
                totals(&col.weighted)
            } else {
                String::new()
            },
            more: col.count > col.cards.len() as i64,
            cards: col
                .cards
                .iter()
                .map(|k| BoardCard {
                    id: k.id.clone(),
                    name: k.name.clone(),
                    account: k.account_name.clone().unwrap_or_default(),
                    amount: k
                        .amount
                        .map(|a| format!("{} {}", validate::money_string(a), k.currency))
                        .unwrap_or_default(),
                    owner: user_name(&k.owner_id),
                    close: k.expected_close_date.clone().unwrap_or_default(),
                    stale: k.stale,
                    no_next: k.no_next_activity,
                    days: k.stage_entered_at.map_or(0, |e| (now - e).num_days()),
                })
                .collect(),
        })
        .collect();
    render(&BoardPage {
        pipelines,
        pipeline_id: b.pipeline.id.clone(),
        stages: b
            .pipeline
            .stages
            .iter()
            .map(|s| (s.key.clone(), s.name(zh).to_string()))
            .collect(),
        lost_reasons,
        can_create: page.access.scope(objects::OPPORTUNITY, Action::Create) != Scope::None,
        columns,
        error: super::message(&q, &page.ctx, "error"),
        ctx: page.ctx,
    })
}

/// Move a card: the same update as `PATCH /api/v1/opportunities/{id}` with the stage.
pub async fn move_stage(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: f }: Posted,
) -> Response {
    let lang = page.ctx.lang;
    let mut doc = Map::new();
    doc.insert("stage".into(), json!(field(&f, "stage")));
    let reason = field(&f, "lost_reason");
    if !reason.is_empty() {
        doc.insert("lost_reason".into(), json!(reason));
    }
    let pipeline = field(&f, "pipeline_id");
    let back = |error: Option<String>| {
        let mut to = format!(
            "/opportunities/board?pipeline_id={}",
            form::urlencode(&pipeline)
        );
        if let Some(e) = error {
            to = super::with_message(&to, &page.ctx, "error", &e);
        }
        to.push_str(&format!("#card-{id}"));
        Redirect::to(&to).into_response()
    };
    match records::update(
        &app.store,
        &page.access,
        &OPPORTUNITIES,
        &id,
        &doc,
        WriteOptions::default(),
    )
    .await
    {
        Ok(_) => back(None),
        Err(e @ (DomainError::Validation(_) | DomainError::Forbidden(_))) => {
            back(Some(explain(lang, &e)))
        }
        Err(e) => super::error_page(lang, e),
    }
}

#[derive(Template)]
#[template(path = "lead_convert.html")]
struct ConvertPage {
    ctx: Ctx,
    id: String,
    lead_label: String,
    account_name: String,
    accounts: Vec<(String, String)>,
    use_existing: bool,
    existing_id: String,
    with_opportunity: bool,
    opportunity_name: String,
    amount: String,
    close: String,
    stage: String,
    stages: Vec<(String, String)>,
    error: Option<String>,
    duplicates: Vec<(String, Option<String>)>,
    overridable: bool,
}

/// "opportunity.amount" as people read it: "商机 · 金额".
fn part_label(lang: Lang, field: &str) -> String {
    use rapport_services::objects::{ACCOUNTS, CONTACTS};
    let Some((part, name)) = field.split_once('.') else {
        return field.to_string();
    };
    let (def, nav) = match part {
        "account" => (&ACCOUNTS, "nav.accounts"),
        "contact" => (&CONTACTS, "nav.contacts"),
        "opportunity" => (&OPPORTUNITIES, "nav.opportunities"),
        _ => return field.to_string(),
    };
    let label = def
        .field(name)
        .map_or(name.to_string(), |s| form::label(s, lang));
    format!("{} · {label}", t(lang, nav))
}

async fn convert_page(
    app: &AppState,
    page: Page,
    id: &str,
    posted: Option<&[(String, String)]>,
    error: Option<DomainError>,
) -> Response {
    let lang = page.ctx.lang;
    let lead = match records::read(&app.store, &page.access, &LEADS, id).await {
        Ok(l) => l,
        Err(e) => return super::error_page(lang, e),
    };
    let c = match choices(&app.store, &page.access, lang, objects::OPPORTUNITY).await {
        Ok(c) => c,
        Err(e) => return super::error_page(lang, e),
    };
    let company = lead["company"].as_str().unwrap_or("").to_string();
    let get = |name: &str, default: &str| match posted {
        Some(p) => field(p, name),
        None => default.to_string(),
    };
    let (mut duplicates, mut overridable) = (Vec::new(), false);
    let message = match &error {
        Some(DomainError::Duplicate {
            matches,
            overridable: o,
            ..
        }) => {
            overridable = *o;
            duplicates = matches
                .iter()
                .map(|m| {
                    (
                        m["label"].as_str().unwrap_or("").to_string(),
                        m["id"].as_str().map(|i| format!("/accounts/{i}")),
                    )
                })
                .collect();
            Some(t(lang, "form.duplicates"))
        }
        Some(DomainError::Validation(errs)) => Some(
            errs.iter()
                .map(|f| {
                    format!(
                        "{}: {}",
                        part_label(lang, &f.field),
                        super::field_message(lang, f)
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Some(e) => Some(error_message(lang, e)),
        None => None,
    };
    let status = if error.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    let mut res = render(&ConvertPage {
        id: id.to_string(),
        lead_label: super::record_pages::record_label(&LEADS, &lead),
        account_name: get("account_name", &company),
        accounts: c.accounts.clone(),
        use_existing: get("account_mode", "new") == "existing",
        existing_id: get("account_id", ""),
        with_opportunity: posted.is_none_or(|p| !field(p, "with_opportunity").is_empty()),
        opportunity_name: get("opportunity_name", &company),
        amount: get("amount", ""),
        close: get("expected_close_date", ""),
        stage: get("stage", ""),
        stages: c.stages.clone(),
        error: message,
        duplicates,
        overridable,
        ctx: page.ctx,
    });
    *res.status_mut() = status;
    res
}

pub async fn convert_form(
    State(app): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    convert_page(&app, page, &id, None, None).await
}

pub async fn convert(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: f }: Posted,
) -> Response {
    let mut req = ConvertRequest {
        override_duplicates: !field(&f, "_override").is_empty(),
        ..Default::default()
    };
    if field(&f, "account_mode") == "existing" {
        req.account_id = Some(field(&f, "account_id"));
    } else {
        let name = form::trimmed(&f, "account_name");
        if !name.is_empty() {
            req.account.insert("name".into(), json!(name));
        }
    }
    if !field(&f, "with_opportunity").is_empty() {
        let mut o = Map::new();
        for (k, v) in [
            ("name", form::trimmed(&f, "opportunity_name")),
            ("amount", form::trimmed(&f, "amount")),
            (
                "expected_close_date",
                form::trimmed(&f, "expected_close_date"),
            ),
            ("stage", form::trimmed(&f, "stage")),
        ] {
            if !v.is_empty() {
                o.insert(k.into(), Value::String(v));
            }
        }
        req.opportunity = Some(o);
    }
    match leads::convert(&app.store, &page.access, &id, req).await {
        Ok(out) => {
            let to = match &out.opportunity_id {
                Some(o) => format!("/opportunities/{o}"),
                None => format!("/accounts/{}", out.account_id),
            };
            Redirect::to(&to).into_response()
        }
        Err(
            e @ (DomainError::Validation(_)
            | DomainError::Duplicate { .. }
            | DomainError::Conflict(_)),
        ) => convert_page(&app, page, &id, Some(&f), Some(e)).await,
        Err(e) => super::error_page(page.ctx.lang, e),
    }
}
