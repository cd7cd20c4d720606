//! The administrators' view of the background job queue: counts, recent jobs, retry.

use super::form::{field, local_time};
use super::i18n::t;
use super::posted::Posted;
use super::{error_page, redirect_or_error, render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use rapport_services::jobs;

pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub status_label: String,
    pub attempts: String,
    pub run_at: String,
    pub error: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    ctx: Ctx,
    filter: String,
    counts: Vec<(String, String, i64)>,
    rows: Vec<JobRow>,
}

/// The administrators' view of the job queue.
pub async fn jobs_page(
    State(app): State<AppState>,
    page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    let filter = field(&q, "status");
    let status = Some(filter.as_str()).filter(|s| !s.is_empty());
    let rows = match jobs::list(&app.store, &page.access, status, 200).await {
        Ok(r) => r,
        Err(e) => return error_page(lang, e),
    };
    let counts = jobs::counts(&app.store, &page.access)
        .await
        .unwrap_or_default();
    let count_of = |s: &str| counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    let counts = [jobs::PENDING, jobs::RUNNING, jobs::DONE, jobs::FAILED]
        .iter()
        .map(|s| (s.to_string(), t(lang, &format!("jobs.{s}")), count_of(s)))
        .collect();
    let rows = rows
        .into_iter()
        .map(|j| JobRow {
            status_label: t(lang, &format!("jobs.{}", j.status)),
            attempts: format!("{}/{}", j.attempts, j.max_attempts),
            run_at: local_time(j.run_at),
            error: j.last_error.unwrap_or_default(),
            updated: local_time(j.updated_at),
            id: j.id,
            kind: j.kind,
            status: j.status,
        })
        .collect();
    render(&JobsPage {
        ctx: page.ctx,
        filter,
        counts,
        rows,
    })
}

pub async fn retry_job(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: _ }: Posted,
) -> Response {
    let result = jobs::retry(&app.store, &page.access, &id).await;
    redirect_or_error(page.ctx.lang, result, "/admin/jobs?status=pending")
}
