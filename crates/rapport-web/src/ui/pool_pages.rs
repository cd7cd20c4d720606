//! The public pool page (claim accounts), releasing an account from its page, and the sales
//! targets page (progress, and setting targets for one's team).

use super::form::field;
use super::i18n::t;
use super::posted::Posted;
use super::{back_with_error, redirect_or_error, render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use rapport_core::{Action, Object, Scope};
use rapport_services::objects;
use rapport_services::pool::{self, PoolAccount, Standing};
use rapport_services::targets::{self, Progress, TargetDraft};
use serde_json::json;

#[derive(Template)]
#[template(path = "pool.html")]
struct PoolPage {
    ctx: Ctx,
    q: String,
    /// (account, industry label, in pool since, reason label)
    rows: Vec<(PoolAccount, String, String, String)>,
    standing: Standing,
    error: Option<String>,
}

pub async fn pool_page(
    State(app): State<AppState>,
    mut page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    let text = field(&q, "q");
    let list = match pool::list(&app.store, &page.access, Some(&text), 200).await {
        Ok(l) => l,
        Err(e) => return redirect_or_error(lang, Err::<(), _>(e), ""),
    };
    let standing = match pool::standing(&app.store, &page.access).await {
        Ok(s) => s,
        Err(e) => return redirect_or_error(lang, Err::<(), _>(e), ""),
    };
    let choices = super::record_pages::choices(&app.store, &page.access, lang, objects::ACCOUNT)
        .await
        .unwrap_or_default();
    let label = |list: &str, v: &Option<String>| {
        let v = v.clone().unwrap_or_default();
        choices
            .picklists
            .get(list)
            .and_then(|l| l.iter().find(|(k, _)| *k == v))
            .map_or(v.clone(), |(_, l)| l.clone())
    };
    let rows = list
        .into_iter()
        .map(|a| {
            let industry = label("industry", &a.industry);
            let since = a
                .pool_entered_at
                .map(super::form::local_time)
                .unwrap_or_default();
            let reason = match a.reason.as_deref() {
                Some(r @ ("no_follow_up" | "no_won_deal")) => t(lang, &format!("pool.reason_{r}")),
                _ => label("pool_release_reason", &a.reason),
            };
            (a, industry, since, reason)
        })
        .collect();
    page.ctx.search = String::new();
    render(&PoolPage {
        q: text,
        rows,
        standing,
        error: super::message(&q, &page.ctx, "error"),
        // Last: the messages above read it.
        ctx: page.ctx,
    })
}

pub async fn claim(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: _f }: Posted,
) -> Response {
    match pool::claim(&app.store, &page.access, &id).await {
        Ok(()) => Redirect::to(&format!("/accounts/{id}")).into_response(),
        Err(e) => back_with_error("/pool", &page.ctx, &e),
    }
}

pub async fn release(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: f }: Posted,
) -> Response {
    match pool::release(
        &app.store,
        &page.access,
        &id,
        &field(&f, "reason"),
        &field(&f, "note"),
    )
    .await
    {
        Ok(()) => Redirect::to("/pool").into_response(),
        Err(e) => back_with_error(&format!("/accounts/{id}"), &page.ctx, &e),
    }
}

#[derive(Template)]
#[template(path = "targets.html")]
struct TargetsPage {
    ctx: Ctx,
    period: String,
    periods: [String; 3],
    /// (subject name, metric label, progress)
    rows: Vec<(String, String, Progress)>,
    /// People and departments the caller may set targets for: (value "user:<id>", label).
    subjects: Vec<(String, String)>,
    error: Option<String>,
}

pub async fn targets_page(
    State(app): State<AppState>,
    page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    let actor = &page.access;
    let periods = targets::periods_of(rapport_services::sales::local_date(app.store.now()));
    let period = Some(field(&q, "period"))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| periods[0].clone());
    let list = match targets::progress(&app.store, actor, &period).await {
        Ok(l) => l,
        Err(e) => return redirect_or_error(lang, Err::<(), _>(e), ""),
    };
    let choices = super::record_pages::choices(&app.store, actor, lang, objects::OPPORTUNITY)
        .await
        .unwrap_or_default();
    let name = |kind: &str, id: &str| {
        let list = if kind == "user" {
            &choices.users
        } else {
            &choices.departments
        };
        list.iter()
            .find(|(k, _)| k == id)
            .map_or(id.to_string(), |(_, n)| n.clone())
    };
    let rows = list
        .into_iter()
        .map(|p| {
            (
                name(&p.subject_type, &p.subject_id),
                t(lang, &format!("targets.metric_{}", p.metric)),
                p,
            )
        })
        .collect();
    // Whom the form offers: the users the caller's transfer scope reaches (never themself),
    // and every department for administrators.
    let admin = actor.scope(Object::SETTINGS, Action::Update) == Scope::All;
    let mut subjects = Vec::new();
    if let Some(reach) = actor.owners(objects::OPPORTUNITY, Action::Transfer) {
        for (id, n) in &choices.users {
            if *id != actor.user_id && (admin || reach.allows(Some(id))) {
                subjects.push((format!("user:{id}"), n.clone()));
            }
        }
        if admin || actor.scope(objects::OPPORTUNITY, Action::Transfer) >= Scope::Department {
            for (id, n) in &choices.departments {
                subjects.push((
                    format!("department:{id}"),
                    format!("{} · {n}", t(lang, "targets.department")),
                ));
            }
        }
    }
    render(&TargetsPage {
        period,
        periods,
        rows,
        subjects,
        error: super::message(&q, &page.ctx, "error"),
        // Last: the messages above read it.
        ctx: page.ctx,
    })
}

pub async fn set_target(State(app): State<AppState>, Posted { page, form: f }: Posted) -> Response {
    let period = field(&f, "period");
    let subject = field(&f, "subject");
    let (kind, id) = subject.split_once(':').unwrap_or(("", ""));
    let draft = TargetDraft {
        subject_type: kind.to_string(),
        subject_id: id.to_string(),
        period: period.clone(),
        metric: field(&f, "metric"),
        amount: json!(field(&f, "amount").trim()),
        currency: "CNY".into(),
    };
    let to = format!("/targets?period={}", super::form::urlencode(&period));
    match targets::set(&app.store, &page.access, &[draft]).await {
        Ok(_) => Redirect::to(&to).into_response(),
        Err(e) => back_with_error(&to, &page.ctx, &e),
    }
}
