//! Administration pages: the audit log with filters.

use super::{render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use rapport_core::{Action, DomainError, Object, Scope};
use rapport_store::audit::{self, AuditFilter, Entry};

pub struct AuditView {
    pub seq: i64,
    pub at: String,
    pub who: String,
    pub action: String,
    pub object: String,
    pub ip: String,
    pub details: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    ctx: Ctx,
    users: Vec<(String, String)>,
    actor_id: String,
    action: String,
    object_type: String,
    since: String,
    until: String,
    rows: Vec<AuditView>,
    next_href: Option<String>,
}

fn field(q: &[(String, String)], name: &str) -> String {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string()).unwrap_or_default()
}

pub async fn audit(State(app): State<AppState>, page: Page, Query(q): Query<Vec<(String, String)>>) -> Response {
    let lang = page.ctx.lang;
    if page.principal.scope(Object::Audit, Action::Read) != Scope::All {
        return super::error_page(lang, DomainError::Forbidden("audit".into()));
    }
    let opt = |n: &str| Some(field(&q, n)).filter(|s| !s.is_empty());
    let filter = AuditFilter {
        actor_id: opt("actor_id"),
        action: opt("action"),
        object_type: opt("object_type"),
        object_id: opt("object_id"),
        since: opt("since"),
        until: opt("until"),
        before_seq: opt("before_seq").and_then(|s| s.parse().ok()),
        limit: 100,
    };
    let rows = match audit::search(&app.store, &filter).await {
        Ok(r) => r,
        Err(e) => return super::error_page(lang, e),
    };
    let _ = audit::record_alone(&app.store, &page.principal, Entry::new("audit.searched").details(serde_json::json!({"action": filter.action, "actor_id": filter.actor_id, "object_type": filter.object_type}))).await;
    let users: Vec<(String, String)> = rapport_store::users::list(&app.store, &page.principal).await.unwrap_or_default().into_iter().map(|u| (u.id, format!("{} <{}>", u.name, u.email))).collect();
    let next_href = if rows.len() >= 100 {
        rows.last().map(|r| {
            let kept: Vec<(String, String)> = q.iter().filter(|(k, v)| k != "before_seq" && !v.is_empty()).cloned().collect();
            let qs = serde_urlencoded::to_string(&kept).unwrap_or_default();
            format!("/admin/audit?{qs}{}before_seq={}", if qs.is_empty() { "" } else { "&" }, r.seq)
        })
    } else {
        None
    };
    let views = rows
        .into_iter()
        .map(|r| AuditView {
            seq: r.seq,
            at: r.at.replace('T', " ").chars().take(19).collect(),
            who: r.actor_email.unwrap_or(r.actor_id),
            action: r.action,
            object: match (r.object_type, r.object_id) {
                (Some(t), Some(i)) => format!("{t} {i}"),
                (Some(t), None) => t,
                _ => String::new(),
            },
            ip: r.ip.unwrap_or_default(),
            details: { let d = r.details.to_string(); if d == "{}" { String::new() } else { d.chars().take(300).collect() } },
        })
        .collect();
    render(&AuditPage {
        users,
        actor_id: field(&q, "actor_id"),
        action: field(&q, "action"),
        object_type: field(&q, "object_type"),
        since: field(&q, "since"),
        until: field(&q, "until"),
        rows: views,
        next_href,
        ctx: page.ctx,
    })
}
