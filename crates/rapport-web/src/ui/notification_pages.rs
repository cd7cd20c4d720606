//! The caller's notifications: the page behind the bell, mark one or all read.

use super::activity_pages::{plural_of, user_names};
use super::form::local_time;
use super::i18n::{t, Lang};
use super::posted::Posted;
use super::{error_page, redirect_or_error, render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use rapport_services::notifications;

pub struct NoteItem {
    pub id: String,
    pub text: String,
    pub detail: String,
    pub at: String,
    pub unread: bool,
    pub link: Option<String>,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    ctx: Ctx,
    items: Vec<NoteItem>,
}

/// The caller's notifications.
pub async fn notifications_page(State(app): State<AppState>, page: Page) -> Response {
    let lang = page.ctx.lang;
    let rows = match notifications::list(&app.store, &page.access, false, None, 100).await {
        Ok(r) => r,
        Err(e) => return error_page(lang, e),
    };
    let names = user_names(
        &rapport_services::users::list(&app.store, &page.access)
            .await
            .unwrap_or_default(),
    );
    let items = rows
        .into_iter()
        .map(|n| {
            let who = n
                .actor_id
                .as_ref()
                .and_then(|a| names.get(a).cloned())
                .unwrap_or_default();
            let colon = if lang == Lang::Zh { "：" } else { ": " };
            let text = match n.kind.as_str() {
                notifications::REMINDER => {
                    format!("{}{colon}{}", t(lang, "notifications.reminder"), n.subject)
                }
                k => format!(
                    "{who} {}{colon}{}",
                    t(lang, &format!("notifications.{k}")),
                    n.subject
                ),
            };
            let detail = n.payload["at"]
                .as_str()
                .or(n.payload["due_at"].as_str())
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| local_time(t.with_timezone(&Utc)))
                .unwrap_or_default();
            NoteItem {
                link: match (n.object_type.as_deref(), &n.object_id) {
                    (Some(ot @ ("account" | "contact")), Some(oid)) => {
                        Some(format!("/{}/{oid}#timeline", plural_of(ot)))
                    }
                    (Some("import"), Some(oid)) => Some(format!("/imports/{oid}")),
                    (Some("export"), Some(_)) => Some("/exports".to_string()),
                    (Some(ot), Some(oid)) => rapport_core::Object::parse(ot)
                        .and_then(rapport_core::Object::plural)
                        .map(|p| format!("/{p}/{oid}")),
                    _ => None,
                },
                id: n.id,
                text,
                detail,
                at: local_time(n.created_at),
                unread: n.read_at.is_none(),
            }
        })
        .collect();
    render(&NotificationsPage {
        ctx: page.ctx,
        items,
    })
}

pub async fn mark_read(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: _ }: Posted,
) -> Response {
    let result = notifications::mark_read(&app.store, &page.access, &id).await;
    redirect_or_error(page.ctx.lang, result, "/notifications")
}

pub async fn mark_all_read(
    State(app): State<AppState>,
    Posted { page, form: _ }: Posted,
) -> Response {
    let result = notifications::mark_all_read(&app.store, &page.access).await;
    redirect_or_error(page.ctx.lang, result, "/notifications")
}
