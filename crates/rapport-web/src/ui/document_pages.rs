//! Pages of the documents of a sale: the actions panel on quote, contract and order pages
//! (send, accept, make a contract or order, submit for approval, approve or reject, the payment
//! plan), the printable quote, the approvals inbox and receivables. Every action calls the
//! same services as the API.

use super::form::{field, Choices};
use super::i18n::{t, Lang};
use super::posted::Posted;
use super::{back_with_error, redirect_or_error, render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use rapport_core::{lines, Action, DomainError, Object, Scope};
use rapport_services::access::Access;
use rapport_services::objects;
use rapport_services::objects::QUOTES;
use rapport_services::records::query::{self, ListParams};
use rapport_services::records::{self, ObjectDef, WriteOptions};
use rapport_services::sales::{approvals, convert, receivables};
use rapport_services::Store;
use serde_json::{json, Map, Value};

/// A button on a record page that posts to `url` (with a text box when `input` names one).
pub struct PostAction {
    pub url: String,
    pub label: String,
    pub input: Option<(String, String)>,
    pub primary: bool,
}

/// One approval step as the page shows it.
pub struct StepRow {
    pub round: i32,
    pub step: i32,
    pub rule: String,
    pub approvers: String,
    pub decision: String,
    pub decided_by: String,
    pub comment: String,
    pub at: String,
}

/// The document part of a record page.
pub struct DocPanel {
    /// (label, href)
    pub links: Vec<(String, String)>,
    pub actions: Vec<PostAction>,
    /// (label, amount) under the lines.
    pub totals: Vec<(String, String)>,
    pub lines: Vec<[String; 8]>,
    pub steps: Vec<StepRow>,
    pub plan: Option<receivables::Plan>,
    pub can_plan: bool,
    /// Reasons to release an account to the pool (empty: no release form).
    pub release_reasons: Vec<(String, String)>,
}

/// Choices a document form needs: products for lines, price lists, and the opportunities,
/// quotes and contracts it may point to.
pub async fn add_choices(
    store: &Store,
    actor: &Access,
    lang: Lang,
    object: Object,
    c: &mut Choices,
) -> Result<(), DomainError> {
    let _ = lang;
    if matches!(object, objects::QUOTE | objects::ORDER)
        && actor.scope(objects::PRODUCT, Action::Read) != Scope::None
    {
        let params = ListParams {
            filter: Some(json!({"field": "active", "op": "eq", "value": true})),
            sort: Some("code".into()),
            limit: Some(200),
            ..Default::default()
        };
        c.products = query::list(store, actor, &rapport_services::objects::PRODUCTS, &params)
            .await?
            .data
            .iter()
            .map(|p| {
                (
                    p["id"].as_str().unwrap_or("").to_string(),
                    format!(
                        "{} {}",
                        p["code"].as_str().unwrap_or(""),
                        p["name"].as_str().unwrap_or("")
                    ),
                )
            })
            .collect();
        c.price_lists = rapport_services::price_lists::list(store, actor)
            .await?
            .into_iter()
            .filter(|l| l.active)
            .map(|l| (l.id, format!("{} ({})", l.name, l.currency)))
            .collect();
    }
    let targets: &[Object] = match object {
        objects::QUOTE => &[objects::OPPORTUNITY],
        objects::CONTRACT => &[objects::OPPORTUNITY, objects::QUOTE],
        objects::ORDER => &[objects::CONTRACT, objects::QUOTE],
        objects::PAYMENT => &[objects::CONTRACT],
        _ => &[],
    };
    for o in targets {
        let Some(def) = rapport_services::objects::def_of(*o) else {
            continue;
        };
        if actor.scope(*o, Action::Read) == Scope::None {
            continue;
        }
        let params = ListParams {
            limit: Some(200),
            ..Default::default()
        };
        let list = query::list(store, actor, def, &params).await?;
        c.records.insert(
            *o,
            list.data
                .iter()
                .map(|r| {
                    (
                        r["id"].as_str().unwrap_or("").to_string(),
                        super::record_pages::record_label(def, r),
                    )
                })
                .collect(),
        );
    }
    Ok(())
}

fn money_line(label: String, v: &Value, currency: &str) -> (String, String) {
    (
        label,
        format!("{} {currency}", v.as_str().unwrap_or("0.00")),
    )
}

fn post(url: String, label: String, primary: bool) -> PostAction {
    PostAction {
        url,
        label,
        input: None,
        primary,
    }
}

/// The actions, lines and approval state of a quote, contract or order page.
/// `choices` and `can_update` are the record page's own (the user names, whether the viewer
/// may change this record).
pub async fn panel(
    app: &AppState,
    page: &Page,
    def: &ObjectDef,
    id: &str,
    rec: &Value,
    choices: &Choices,
    can_update: bool,
) -> Option<DocPanel> {
    let lang = page.ctx.lang;
    let actor = &page.access;
    let status = rec["status"].as_str().unwrap_or("");
    let currency = rec["currency"].as_str().unwrap_or("CNY");
    let may = |o: Object, a: Action| actor.scope(o, a) != Scope::None;
    let mut p = DocPanel {
        links: vec![],
        actions: vec![],
        totals: vec![],
        lines: vec![],
        steps: vec![],
        plan: None,
        can_plan: false,
        release_reasons: vec![],
    };
    if matches!(def.object, objects::QUOTE | objects::ORDER) {
        for l in rec["lines"].as_array().into_iter().flatten() {
            let s = |k: &str| l[k].as_str().unwrap_or("").to_string();
            p.lines.push([
                s("name"),
                s("unit"),
                s("quantity"),
                s("unit_price"),
                format!("{}%", s("discount")),
                s("net"),
                format!("{}%", s("tax_rate")),
                s("total"),
            ]);
        }
        for (key, field) in [
            ("doc.gross", "gross_amount"),
            ("doc.discount", "discount_amount"),
            ("doc.net", "net_amount"),
            ("doc.tax", "tax_amount"),
            ("doc.total", "total"),
        ] {
            if actor.grants.can_read_field(def.object, field) {
                p.totals
                    .push(money_line(t(lang, key), &rec[field], currency));
            }
        }
    }
    match def.object {
        objects::OPPORTUNITY => {
            if may(objects::QUOTE, Action::Create) {
                p.links.push((
                    t(lang, "doc.new_quote"),
                    format!(
                        "/quotes/new?opportunity_id={id}&account_id={}",
                        rec["account_id"].as_str().unwrap_or("")
                    ),
                ));
            }
        }
        objects::ACCOUNT => {
            if rec["owner_id"].is_null() {
                p.actions.push(post(
                    format!("/pool/{id}/claim"),
                    t(lang, "pool.claim"),
                    true,
                ));
            } else if can_update {
                let zh = lang == Lang::Zh;
                p.release_reasons =
                    rapport_services::picklists::values(&app.store.db, "pool_release_reason")
                        .await
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|v| v.active)
                        .map(|v| (v.value, if zh { v.label_zh } else { v.label_en }))
                        .collect();
            }
            for (o, key) in [
                (objects::QUOTE, "doc.new_quote"),
                (objects::CONTRACT, "doc.new_contract"),
            ] {
                if may(o, Action::Create) {
                    p.links.push((
                        t(lang, key),
                        format!("/{}/new?account_id={id}", o.plural().unwrap_or("")),
                    ));
                }
            }
        }
        objects::QUOTE => {
            p.links
                .push((t(lang, "doc.print"), format!("/quotes/{id}/print")));
            if can_update {
                let to = |s: &str, key: &str, primary| {
                    post(format!("/quotes/{id}/status/{s}"), t(lang, key), primary)
                };
                match status {
                    "draft" => p.actions.push(to("sent", "doc.mark_sent", true)),
                    "sent" => {
                        p.actions.push(to("accepted", "doc.mark_accepted", true));
                        p.actions.push(to("rejected", "doc.mark_rejected", false));
                        p.actions.push(to("draft", "doc.revise", false));
                    }
                    "rejected" => p.actions.push(to("draft", "doc.revise", false)),
                    _ => {}
                }
            }
            if status == "accepted" {
                if may(objects::CONTRACT, Action::Create) {
                    p.actions.push(post(
                        format!("/quotes/{id}/contract"),
                        t(lang, "doc.make_contract"),
                        true,
                    ));
                }
                if may(objects::ORDER, Action::Create) {
                    p.actions.push(post(
                        format!("/quotes/{id}/order"),
                        t(lang, "doc.make_order"),
                        false,
                    ));
                }
            }
        }
        objects::CONTRACT => {
            if can_update && matches!(status, "draft" | "rejected") {
                p.actions.push(post(
                    format!("/contracts/{id}/submit"),
                    t(lang, "doc.submit"),
                    true,
                ));
            }
            let steps = approvals::history(&app.store, actor, id)
                .await
                .unwrap_or_default();
            let waiting = steps
                .iter()
                .filter(|s| s.decision.is_none())
                .min_by_key(|s| (std::cmp::Reverse(s.round), s.step))
                .filter(|s| status == "pending_approval" && s.approvers.contains(&actor.user_id));
            if waiting.is_some() {
                p.actions.push(post(
                    format!("/contracts/{id}/approve"),
                    t(lang, "doc.approve"),
                    true,
                ));
                p.actions.push(PostAction {
                    url: format!("/contracts/{id}/reject"),
                    label: t(lang, "doc.reject"),
                    input: Some(("comment".into(), t(lang, "doc.reject_comment"))),
                    primary: false,
                });
            }
            if status == "approved" {
                if may(objects::PAYMENT, Action::Create) {
                    p.links.push((
                        t(lang, "doc.new_payment"),
                        format!("/payments/new?contract_id={id}"),
                    ));
                }
                if may(objects::ORDER, Action::Create) {
                    p.actions.push(post(
                        format!("/contracts/{id}/order"),
                        t(lang, "doc.make_order"),
                        false,
                    ));
                }
                if can_update {
                    p.actions.push(PostAction {
                        url: format!("/contracts/{id}/terminate"),
                        label: t(lang, "doc.terminate"),
                        input: Some(("reason".into(), t(lang, "doc.terminate_reason"))),
                        primary: false,
                    });
                }
            }
            let name = |u: &str| {
                choices
                    .users
                    .iter()
                    .find(|(id, _)| id == u)
                    .map_or(u.to_string(), |(_, n)| n.clone())
            };
            p.steps = steps
                .iter()
                .map(|s| StepRow {
                    round: s.round,
                    step: s.step,
                    rule: rule_label(lang, &s.rule),
                    approvers: s
                        .approvers
                        .iter()
                        .map(|a| name(a))
                        .collect::<Vec<_>>()
                        .join(", "),
                    decision: t(
                        lang,
                        &format!(
                            "doc.decision_{}",
                            s.decision.as_deref().unwrap_or("waiting")
                        ),
                    ),
                    decided_by: s.decided_by.as_deref().map(name).unwrap_or_default(),
                    comment: s.comment.clone().unwrap_or_default(),
                    at: s
                        .decided_at
                        .map(super::form::local_time)
                        .unwrap_or_default(),
                })
                .collect();
            p.plan = receivables::plan(&app.store, actor, id).await.ok();
            p.can_plan = can_update;
        }
        _ => return None,
    }
    Some(p)
}

fn rule_label(lang: Lang, rule: &str) -> String {
    if rule == "manager" {
        t(lang, "doc.rule_manager")
    } else if let Some(role) = rule.strip_prefix("role:") {
        format!("{} {role}", t(lang, "doc.rule_role"))
    } else {
        t(lang, "doc.rule_user")
    }
}

/// Set a quote's status (send, accept, reject, revise).
pub async fn quote_status(
    State(app): State<AppState>,
    Path((id, status)): Path<(String, String)>,
    Posted { page, form: _f }: Posted,
) -> Response {
    let mut doc = Map::new();
    doc.insert("status".into(), json!(status));
    let to = format!("/quotes/{id}");
    match records::update(
        &app.store,
        &page.access,
        &QUOTES,
        &id,
        &doc,
        WriteOptions::default(),
    )
    .await
    {
        Ok(_) => Redirect::to(&to).into_response(),
        Err(e) => back_with_error(&to, &page.ctx, &e),
    }
}

async fn make(app: &AppState, page: &Page, from: &str, id: &str, what: &str) -> Response {
    let store = &app.store;
    let actor = &page.access;
    let result = match (from, what) {
        ("quotes", "contract") => convert::contract_from_quote(store, actor, id, &Map::new()).await,
        ("quotes", _) => convert::order_from(store, actor, "quote", id, &Map::new()).await,
        _ => convert::order_from(store, actor, "contract", id, &Map::new()).await,
    };
    let target = if what == "contract" {
        "contracts"
    } else {
        "orders"
    };
    match result {
        Ok(v) => {
            Redirect::to(&format!("/{target}/{}", v["id"].as_str().unwrap_or(""))).into_response()
        }
        Err(e) => back_with_error(&format!("/{from}/{id}"), &page.ctx, &e),
    }
}

/// A contract from an accepted quote.
pub async fn make_contract(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: _f }: Posted,
) -> Response {
    make(&app, &page, "quotes", &id, "contract").await
}

/// An order from an accepted quote.
pub async fn make_quote_order(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: _f }: Posted,
) -> Response {
    make(&app, &page, "quotes", &id, "order").await
}

/// An order from an approved contract.
pub async fn make_contract_order(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: _f }: Posted,
) -> Response {
    make(&app, &page, "contracts", &id, "order").await
}

/// Submit, approve, reject or terminate a contract.
pub async fn contract_action(
    State(app): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    Posted { page, form: f }: Posted,
) -> Response {
    let store = &app.store;
    let actor = &page.access;
    let result = match action.as_str() {
        "submit" => approvals::submit(store, actor, &id).await.map(|_| ()),
        "approve" => approvals::decide(store, actor, &id, true, &field(&f, "comment"))
            .await
            .map(|_| ()),
        "reject" => approvals::decide(store, actor, &id, false, &field(&f, "comment"))
            .await
            .map(|_| ()),
        "terminate" => approvals::terminate(store, actor, &id, &field(&f, "reason")).await,
        _ => Err(DomainError::NotFound),
    };
    let back = if field(&f, "back") == "approvals" {
        "/approvals".to_string()
    } else {
        format!("/contracts/{id}")
    };
    match result {
        Ok(()) => Redirect::to(&back).into_response(),
        // An approver who may not read the contract goes back to the inbox.
        Err(e) if back == "/approvals" => back_with_error(&back, &page.ctx, &e),
        Err(e @ DomainError::NotFound) => redirect_or_error(page.ctx.lang, Err::<(), _>(e), ""),
        Err(e) => back_with_error(&back, &page.ctx, &e),
    }
}

/// Replace a contract's payment plan from the form's rows.
pub async fn save_plan(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: f }: Posted,
) -> Response {
    let col = |name: &str| -> Vec<String> {
        f.iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .collect()
    };
    let (dues, amounts, notes) = (col("due_date"), col("amount"), col("note"));
    let drafts: Vec<receivables::InstalmentDraft> = dues
        .iter()
        .enumerate()
        .filter(|(i, d)| !d.is_empty() || amounts.get(*i).is_some_and(|a| !a.is_empty()))
        .map(|(i, d)| receivables::InstalmentDraft {
            due_date: d.clone(),
            amount: json!(amounts.get(i).cloned().unwrap_or_default()),
            note: notes.get(i).cloned(),
        })
        .collect();
    let to = format!("/contracts/{id}");
    match receivables::set_plan(&app.store, &page.access, &id, &drafts).await {
        Ok(_) => Redirect::to(&format!("{to}#plan")).into_response(),
        Err(e) => back_with_error(&to, &page.ctx, &e),
    }
}

#[derive(Template)]
#[template(path = "quote_print.html")]
struct PrintPage {
    lang: Lang,
    title: String,
    number: String,
    name: String,
    account: String,
    contact: String,
    owner: String,
    date: String,
    valid_until: String,
    status: String,
    currency: String,
    lines: Vec<[String; 8]>,
    totals: Vec<(String, String)>,
    terms: String,
}

impl PrintPage {
    fn t(&self, key: &str) -> String {
        t(self.lang, key)
    }
}

/// A clean printable quote (no navigation; the browser prints or saves it as PDF).
pub async fn print_quote(
    State(app): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> Response {
    let lang = page.ctx.lang;
    let actor = &page.access;
    let rec = match records::read(&app.store, actor, &QUOTES, &id).await {
        Ok(r) => r,
        Err(e) => return redirect_or_error(lang, Err::<(), _>(e), ""),
    };
    let choices = match super::record_pages::choices(&app.store, actor, lang, objects::QUOTE).await
    {
        Ok(c) => c,
        Err(e) => return redirect_or_error(lang, Err::<(), _>(e), ""),
    };
    let spec = |n: &str| QUOTES.field(n);
    let show = |n: &str| match spec(n) {
        Some(s) => super::form::display(s, &rec[n], lang, &choices, "CN"),
        None => String::new(),
    };
    let currency = rec["currency"].as_str().unwrap_or("CNY").to_string();
    let mut totals = Vec::new();
    for (key, f) in [
        ("doc.gross", "gross_amount"),
        ("doc.discount", "discount_amount"),
        ("doc.net", "net_amount"),
        ("doc.tax", "tax_amount"),
        ("doc.total", "total"),
    ] {
        if actor.grants.can_read_field(objects::QUOTE, f) {
            totals.push(money_line(t(lang, key), &rec[f], &currency));
        }
    }
    let lines = lines::from_stored(&rec["lines"])
        .iter()
        .map(|l| {
            [
                l.name.clone(),
                l.unit.clone().unwrap_or_default(),
                lines::fixed_string(l.quantity_milli, 3),
                rapport_core::validate::money_string(l.unit_price),
                format!("{}%", lines::fixed_string(l.discount_bp, 2)),
                rapport_core::validate::money_string(l.net),
                format!("{}%", lines::fixed_string(l.tax_bp, 2)),
                rapport_core::validate::money_string(l.total),
            ]
        })
        .collect();
    render(&PrintPage {
        lang,
        title: t(lang, "doc.quote_title"),
        number: show("number"),
        name: show("name"),
        account: show("account_id"),
        contact: show("contact_id"),
        owner: show("owner_id"),
        date: rec["created_at"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(10)
            .collect(),
        valid_until: show("valid_until"),
        status: show("status"),
        currency,
        lines,
        totals,
        terms: show("terms"),
    })
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    ctx: Ctx,
    items: Vec<(approvals::Pending, String, String)>,
    error: Option<String>,
}

/// Contracts waiting for the caller's decision.
pub async fn approvals_page(
    State(app): State<AppState>,
    page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    let pending = match approvals::pending_for(&app.store, &page.access).await {
        Ok(p) => p,
        Err(e) => return redirect_or_error(lang, Err::<(), _>(e), ""),
    };
    let choices = super::record_pages::choices(&app.store, &page.access, lang, objects::CONTRACT)
        .await
        .unwrap_or_default();
    let items = pending
        .into_iter()
        .map(|p| {
            let owner = p
                .owner_id
                .as_ref()
                .and_then(|o| choices.users.iter().find(|(id, _)| id == o))
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            let account = choices
                .accounts
                .iter()
                .find(|(id, _)| *id == p.account_id)
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            (p, owner, account)
        })
        .collect();
    let error = super::message(&q, &page.ctx, "error");
    render(&ApprovalsPage {
        ctx: page.ctx,
        items,
        error,
    })
}

#[derive(Template)]
#[template(path = "receivables.html")]
struct ReceivablesPage {
    ctx: Ctx,
    group: String,
    rows: Vec<(String, Option<String>, receivables::Receivable)>,
}

/// Outstanding and overdue amounts by contract, account or owner.
pub async fn receivables_page(
    State(app): State<AppState>,
    page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    let group = match field(&q, "group").as_str() {
        g @ ("account" | "owner") => g.to_string(),
        _ => "contract".to_string(),
    };
    let list = match receivables::summary(&app.store, &page.access, &group).await {
        Ok(l) => l,
        Err(e) => return redirect_or_error(lang, Err::<(), _>(e), ""),
    };
    let choices = super::record_pages::choices(&app.store, &page.access, lang, objects::PAYMENT)
        .await
        .unwrap_or_default();
    let rows = list
        .into_iter()
        .map(|r| {
            let (label, link) = match group.as_str() {
                "account" => (
                    choices
                        .accounts
                        .iter()
                        .find(|(id, _)| *id == r.key)
                        .map_or(r.key.clone(), |(_, n)| n.clone()),
                    Some(format!("/accounts/{}", r.key)),
                ),
                "owner" => (
                    choices
                        .users
                        .iter()
                        .find(|(id, _)| *id == r.key)
                        .map_or(r.key.clone(), |(_, n)| n.clone()),
                    None,
                ),
                _ => (
                    choices
                        .records
                        .get(&objects::CONTRACT)
                        .and_then(|l| l.iter().find(|(id, _)| *id == r.key))
                        .map_or(r.key.clone(), |(_, n)| n.clone()),
                    Some(format!("/contracts/{}", r.key)),
                ),
            };
            (label, link, r)
        })
        .collect();
    render(&ReceivablesPage {
        ctx: page.ctx,
        group,
        rows,
    })
}
