//! Administration pages: the audit log with filters.

use super::posted::Posted;
use super::{render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use rapport_core::DomainError;
use rapport_services::audit::{self, AuditFilter, Entry};

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

use super::form::trimmed as field;

pub async fn audit(
    State(app): State<AppState>,
    page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
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
        ..Default::default()
    };
    let rows = match audit::search_trail(&app.store, &page.access, &filter).await {
        Ok(r) => r,
        Err(e) => return super::error_page(lang, e),
    };
    let users: Vec<(String, String)> = rapport_services::users::list(&app.store, &page.access)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|u| (u.id, format!("{} <{}>", u.name, u.email)))
        .collect();
    let next_href = if rows.len() >= 100 {
        rows.last().map(|r| {
            let kept: Vec<(String, String)> = q
                .iter()
                .filter(|(k, v)| k != "before_seq" && !v.is_empty())
                .cloned()
                .collect();
            let qs = serde_urlencoded::to_string(&kept).unwrap_or_default();
            format!(
                "/admin/audit?{qs}{}before_seq={}",
                if qs.is_empty() { "" } else { "&" },
                r.seq
            )
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
            details: {
                let d = r.details.to_string();
                if d == "{}" {
                    String::new()
                } else {
                    d.chars().take(300).collect()
                }
            },
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

pub struct UserView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub department: String,
    pub roles: String,
    pub mfa: bool,
    pub active: bool,
    pub is_self: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    ctx: Ctx,
    users: Vec<UserView>,
    roles: Vec<(String, String)>,
    departments: Vec<String>,
    managers: Vec<(String, String)>,
    error: Option<String>,
    notice: Option<String>,
}

async fn users_page(
    app: &AppState,
    page: Page,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let lang = page.ctx.lang;
    if !page.access.is_admin() {
        return super::error_page(lang, DomainError::Forbidden("users".into()));
    }
    let users = match rapport_services::users::list(&app.store, &page.access).await {
        Ok(u) => u,
        Err(e) => return super::error_page(lang, e),
    };
    let departments = rapport_services::departments::list(&app.store.db)
        .await
        .unwrap_or_default();
    let roles = rapport_services::roles::list(&app.store.db)
        .await
        .unwrap_or_default();
    let role_name = |key: &str| {
        roles
            .iter()
            .find(|r| r.key == key)
            .map(|r| {
                if lang == super::i18n::Lang::Zh {
                    r.name_zh.clone()
                } else {
                    r.name_en.clone()
                }
            })
            .unwrap_or_else(|| key.to_string())
    };
    let views = users
        .iter()
        .map(|u| UserView {
            id: u.id.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            department: u
                .department_id
                .as_ref()
                .and_then(|d| departments.iter().find(|x| &x.id == d))
                .map(|d| d.name.clone())
                .unwrap_or_default(),
            roles: u
                .roles
                .iter()
                .map(|r| role_name(r))
                .collect::<Vec<_>>()
                .join(", "),
            mfa: u.mfa_enabled,
            active: u.active,
            is_self: u.id == page.user.id,
        })
        .collect();
    render(&UsersPage {
        users: views,
        roles: roles
            .iter()
            .map(|r| (r.key.clone(), role_name(&r.key)))
            .collect(),
        departments: departments.iter().map(|d| d.name.clone()).collect(),
        managers: users
            .iter()
            .filter(|u| u.active)
            .map(|u| (u.email.clone(), u.name.clone()))
            .collect(),
        error,
        notice,
        ctx: page.ctx,
    })
}

pub async fn users(
    State(app): State<AppState>,
    page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    // After a reset (post, redirect, get): what was done, to whom.
    let done = match field(&q, "done").as_str() {
        "password" => Some("users.password_reset_done"),
        "mfa" => Some("users.mfa_reset_done"),
        _ => None,
    };
    let notice = match done {
        Some(key) => {
            let name = rapport_services::users::get_user(&app.store, &field(&q, "user"))
                .await
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or_default();
            Some(format!("{}{name}", super::i18n::t(page.ctx.lang, key)))
        }
        None => None,
    };
    users_page(&app, page, None, notice).await
}

pub async fn create_user(State(app): State<AppState>, Posted { page, form }: Posted) -> Response {
    let opt = |n: &str| Some(field(&form, n)).filter(|s| !s.is_empty());
    let spec = rapport_auth::service::UserSpec {
        email: field(&form, "email"),
        name: opt("name"),
        password: field(&form, "password"),
        roles: vec![field(&form, "role")],
        department: opt("department"),
        manager_email: opt("manager_email"),
        ..Default::default()
    };
    let res = rapport_auth::service::create_user(&app.store, &page.access, spec).await;

    match res {
        Ok(_) => axum::response::Redirect::to("/admin/users").into_response(),
        Err(e) => {
            let msg = super::error_message(page.ctx.lang, &e);
            users_page(&app, page, Some(msg), None).await
        }
    }
}

pub async fn set_active(
    State(app): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    Posted { page, form }: Posted,
) -> Response {
    match rapport_services::users::set_active(
        &app.store,
        &page.access,
        &id,
        field(&form, "active") == "1",
    )
    .await
    {
        Ok(()) => axum::response::Redirect::to("/admin/users").into_response(),
        Err(e) => super::error_page(page.ctx.lang, e),
    }
}

pub async fn revoke_sessions(
    State(app): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    Posted { page, form: _ }: Posted,
) -> Response {
    match rapport_auth::service::revoke_all_of_user(&app.store, &page.access, &id).await {
        Ok(()) => axum::response::Redirect::to("/admin/users").into_response(),
        Err(e) => super::error_page(page.ctx.lang, e),
    }
}

/// A new password for a user, from the users page.
pub async fn reset_password(
    State(app): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    Posted { page, form }: Posted,
) -> Response {
    let res = rapport_auth::service::reset_password(
        &app.store,
        &page.access,
        &id,
        &field(&form, "new_password"),
    )
    .await;
    after_reset(&app, page, &id, res, "password").await
}

/// Remove a user's second factor, from the users page.
pub async fn reset_mfa(
    State(app): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    Posted { page, form: _ }: Posted,
) -> Response {
    let res = rapport_auth::service::reset_mfa(&app.store, &page.access, &id).await;
    after_reset(&app, page, &id, res, "mfa").await
}

/// Back to the users page, which says what was done to whom; or the page with what was wrong.
async fn after_reset(
    app: &AppState,
    page: Page,
    id: &str,
    res: Result<(), DomainError>,
    done: &str,
) -> Response {
    let lang = page.ctx.lang;
    match res {
        Ok(()) => axum::response::Redirect::to(&format!("/admin/users?done={done}&user={id}"))
            .into_response(),
        Err(e @ (DomainError::NotFound | DomainError::Forbidden(_))) => super::error_page(lang, e),
        Err(e) => {
            let msg = super::error_message(lang, &e);
            users_page(app, page, Some(msg), None).await
        }
    }
}

pub async fn view_as(State(app): State<AppState>, Posted { page, form }: Posted) -> Response {
    if !page.access.is_admin() || page.access.read_only {
        return super::error_page(page.ctx.lang, DomainError::Forbidden("view as".into()));
    }
    let target = field(&form, "user_id");
    match rapport_services::users::get_user(&app.store, &target).await {
        Ok(Some(u)) => {
            let _ = audit::record_alone(
                &app.store,
                &page.access,
                Entry::new("auth.view_as_started").object("user", &u.id),
            )
            .await;
            let mut r = axum::response::Redirect::to("/").into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&format!(
                "{}={}; Path=/; HttpOnly; SameSite=Lax{}",
                super::VIEW_AS_COOKIE,
                u.id,
                if app.tls { "; Secure" } else { "" }
            )) {
                r.headers_mut().append(axum::http::header::SET_COOKIE, v);
            }
            r
        }
        Ok(None) => super::error_page(page.ctx.lang, DomainError::NotFound),
        Err(e) => super::error_page(page.ctx.lang, e),
    }
}

pub async fn view_as_exit(
    State(app): State<AppState>,
    Posted { page: _, form: _ }: Posted,
) -> Response {
    let _ = app;
    let mut r = axum::response::Redirect::to("/admin/users").into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
        super::VIEW_AS_COOKIE
    )) {
        r.headers_mut().append(axum::http::header::SET_COOKIE, v);
    }
    r
}
