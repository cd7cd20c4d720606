//! The user's background exports: progress, and the finished files to download.

use super::form::{self, field};
use super::i18n::t;
use super::{error_page, render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use rapport_services::exports::{self, Export};

#[derive(Template)]
#[template(path = "exports.html")]
struct ExportsPage {
    ctx: Ctx,
    /// (export, status label, when)
    rows: Vec<(Export, String, String)>,
    running: bool,
    started: bool,
}

pub async fn exports_page(
    State(app): State<AppState>,
    page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    let list = match exports::list(&app.store, &page.access).await {
        Ok(l) => l,
        Err(e) => return error_page(lang, e),
    };
    let running = list
        .iter()
        .any(|e| matches!(e.status.as_str(), "queued" | "running"));
    let rows = list
        .into_iter()
        .map(|e| {
            let status = t(lang, &format!("exports.status_{}", e.status));
            let when = form::local_time(e.created_at);
            (e, status, when)
        })
        .collect();
    render(&ExportsPage {
        ctx: page.ctx,
        rows,
        running,
        started: !field(&q, "started").is_empty(),
    })
}

pub async fn file(State(app): State<AppState>, page: Page, Path(id): Path<String>) -> Response {
    match crate::api::exports::download(&app, &page.access, &id).await {
        Ok(r) => r,
        Err(e) => error_page(page.ctx.lang, e.0),
    }
}
