//! One's own security page: two-step sign-in, sessions, API tokens.

use super::posted::Posted;
use super::{error_message, render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use rapport_auth::service as auth;
use rapport_services::sessions;

pub struct SessionView {
    pub id: String,
    pub last_seen: String,
    pub ip: String,
    pub agent: String,
    pub current: bool,
}

pub struct TokenView {
    pub id: String,
    pub name: String,
    pub read_only: bool,
    pub last_used: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    ctx: Ctx,
    must_enrol: bool,
    mfa_on: bool,
    qr_data_uri: Option<String>,
    secret: String,
    recovery: Vec<String>,
    sessions: Vec<SessionView>,
    tokens: Vec<TokenView>,
    new_token: Option<String>,
    calendar_path: String,
    email_prefs: Vec<(String, String, bool)>,
    error: Option<String>,
}

use super::form::field;

fn fmt(t: chrono::DateTime<chrono::Utc>) -> String {
    super::form::local_time(t)
}

#[derive(Default)]
struct Extra {
    qr: Option<(String, String)>,
    recovery: Vec<String>,
    new_token: Option<String>,
    error: Option<String>,
}

async fn show(app: &AppState, page: Page, extra: Extra) -> Response {
    let user = match rapport_services::users::get_user(&app.store, &page.user.id).await {
        Ok(Some(u)) => u,
        _ => page.user.clone(),
    };
    let sessions = sessions::sessions_of(&app.store, &user.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| SessionView {
            current: page.access.session_id.as_deref() == Some(s.id.as_str()),
            last_seen: fmt(s.last_seen_at),
            ip: s.ip.unwrap_or_default(),
            agent: s.user_agent.unwrap_or_default().chars().take(80).collect(),
            id: s.id,
        })
        .collect();
    let tokens = sessions::tokens_of(&app.store, &user.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|t| TokenView {
            last_used: t.last_used_at.map(fmt).unwrap_or_default(),
            revoked: t.revoked_at.is_some(),
            id: t.id,
            name: t.name,
            read_only: t.read_only,
        })
        .collect();
    let (qr_data_uri, secret) = match extra.qr {
        Some((svg, secret)) => (
            Some(format!(
                "data:image/svg+xml;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(svg)
            )),
            secret,
        ),
        None => (None, String::new()),
    };
    let calendar_path = rapport_services::interop::calendar::token(&app.store, &page.access)
        .await
        .map(|t| format!("/calendar/{t}.ics"))
        .unwrap_or_default();
    let chosen =
        rapport_services::notifications::email_preferences(app.store.db.reader(), &user.id)
            .await
            .unwrap_or_default();
    let email_prefs = rapport_services::notifications::EMAILABLE
        .iter()
        .map(|k| {
            (
                k.to_string(),
                super::i18n::t(page.ctx.lang, &format!("mail.pref.{k}")),
                chosen.iter().any(|c| c == k),
            )
        })
        .collect();
    render(&SecurityPage {
        email_prefs,
        calendar_path,
        must_enrol: page.must_enrol_mfa,
        mfa_on: user.mfa_enabled,
        qr_data_uri,
        secret,
        recovery: extra.recovery,
        sessions,
        tokens,
        new_token: extra.new_token,
        error: extra.error,
        ctx: page.ctx,
    })
}

/// Show the page again with a service error as its banner.
async fn show_error(app: &AppState, page: Page, e: &rapport_core::DomainError) -> Response {
    let msg = error_message(page.ctx.lang, e);
    show(
        app,
        page,
        Extra {
            error: Some(msg),
            ..Default::default()
        },
    )
    .await
}

pub async fn page(State(app): State<AppState>, page: Page) -> Response {
    show(&app, page, Extra::default()).await
}

pub async fn mfa_enroll(State(app): State<AppState>, Posted { page, form }: Posted) -> Response {
    match auth::mfa_begin(&app.store, &page.access, &field(&form, "current_password")).await {
        Ok(e) => {
            show(
                &app,
                page,
                Extra {
                    qr: Some((e.qr_svg, e.secret)),
                    ..Default::default()
                },
            )
            .await
        }
        Err(e) => show_error(&app, page, &e).await,
    }
}

pub async fn mfa_confirm(State(app): State<AppState>, Posted { page, form }: Posted) -> Response {
    match auth::mfa_confirm(&app.store, &page.access, &field(&form, "code")).await {
        Ok(codes) => {
            show(
                &app,
                page,
                Extra {
                    recovery: codes,
                    ..Default::default()
                },
            )
            .await
        }
        Err(e) => show_error(&app, page, &e).await,
    }
}

pub async fn mfa_disable(State(app): State<AppState>, Posted { page, form }: Posted) -> Response {
    match auth::mfa_disable(&app.store, &page.access, &field(&form, "current_password")).await {
        Ok(()) => Redirect::to("/me/security").into_response(),
        Err(e) => show_error(&app, page, &e).await,
    }
}

pub async fn revoke_session(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: _ }: Posted,
) -> Response {
    let result = auth::revoke_session(&app.store, &page.access, &id).await;
    super::redirect_or_error(page.ctx.lang, result, "/me/security")
}

pub async fn create_token(State(app): State<AppState>, Posted { page, form }: Posted) -> Response {
    let expires = field(&form, "expires");
    let expires_at = if expires.is_empty() {
        None
    } else {
        match chrono::NaiveDate::parse_from_str(&expires, "%Y-%m-%d") {
            Ok(d) => d.and_hms_opt(23, 59, 59).map(|t| t.and_utc()),
            Err(_) => {
                let msg = super::i18n::t(page.ctx.lang, "err.invalid_date");
                return show(
                    &app,
                    page,
                    Extra {
                        error: Some(msg),
                        ..Default::default()
                    },
                )
                .await;
            }
        }
    };
    let read_only = field(&form, "access") != "read_write";
    match auth::create_api_token(
        &app.store,
        &page.access,
        &field(&form, "name"),
        read_only,
        expires_at,
    )
    .await
    {
        Ok((tok, _)) => {
            show(
                &app,
                page,
                Extra {
                    new_token: Some(tok),
                    ..Default::default()
                },
            )
            .await
        }
        Err(e) => show_error(&app, page, &e).await,
    }
}

pub async fn revoke_token(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: _ }: Posted,
) -> Response {
    match auth::revoke_api_token(&app.store, &page.access, &id).await {
        Ok(()) => Redirect::to("/me/security").into_response(),
        Err(e) => super::error_page(page.ctx.lang, e),
    }
}

/// Replace the calendar feed address; the old one stops working.
pub async fn reset_calendar(
    State(app): State<AppState>,
    Posted { page, form: _ }: Posted,
) -> Response {
    let result = rapport_services::interop::calendar::reset(&app.store, &page.access).await;
    super::redirect_or_error(page.ctx.lang, result, "/me/security#calendar")
}
