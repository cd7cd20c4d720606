//! Mail in the web UI: the administrators' mail server page with a test message, the user's
//! choice of notification emails, and writing an email to a contact from its page.

use super::form::field;
use super::i18n::t;
use super::posted::Posted;
use super::{error_message, field_message, redirect_or_error, render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use rapport_core::DomainError;
use rapport_services::mail;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

#[derive(Template)]
#[template(path = "mail_settings.html")]
struct MailPage {
    ctx: Ctx,
    host: String,
    port: String,
    security: String,
    username: String,
    password_set: bool,
    from_address: String,
    from_name: String,
    configured: bool,
    test_to: String,
    /// Where audit anchors are also emailed.
    anchor_email: String,
    errors: HashMap<String, String>,
    notice: Option<String>,
    error: Option<String>,
}

impl MailPage {
    fn err(&self, name: &str) -> String {
        self.errors.get(name).cloned().unwrap_or_default()
    }
}

async fn show(
    app: &AppState,
    page: Page,
    typed: Option<&[(String, String)]>,
    errors: HashMap<String, String>,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let lang = page.ctx.lang;
    let saved = match mail::settings_for(&app.store, &page.access).await {
        Ok(s) => s,
        Err(e) => return super::error_page(lang, e),
    };
    let v = |k: &str| match typed {
        Some(form) => field(form, k),
        None => match &saved[k] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        },
    };
    let status = if errors.is_empty() && error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let security = Some(v("security")).filter(|s| !s.is_empty());
    let mut res = render(&MailPage {
        host: v("host"),
        port: Some(v("port"))
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "587".into()),
        security: security.unwrap_or_else(|| "starttls".into()),
        username: v("username"),
        password_set: saved["password_set"] == json!(true),
        from_address: v("from_address"),
        from_name: v("from_name"),
        configured: !saved.is_null(),
        test_to: page.user.email.clone(),
        anchor_email: mail::anchors::settings(&app.store, &page.access)
            .await
            .ok()
            .and_then(|a| a.email)
            .unwrap_or_default(),
        errors,
        notice,
        error,
        ctx: page.ctx,
    });
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}

pub async fn page(State(app): State<AppState>, page: Page) -> Response {
    show(&app, page, None, HashMap::new(), None, None).await
}

pub async fn save(State(app): State<AppState>, Posted { page, form }: Posted) -> Response {
    let lang = page.ctx.lang;
    let mut doc = Map::new();
    for k in ["host", "security", "username", "from_address", "from_name"] {
        doc.insert(k.into(), json!(field(&form, k)));
    }
    let port = field(&form, "port");
    doc.insert(
        "port".into(),
        port.trim()
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or(json!(0)),
    );
    let password = field(&form, "password");
    if !password.is_empty() {
        doc.insert("password".into(), json!(password));
    }
    match mail::save_settings(&app.store, &page.access, &doc).await {
        Ok(_) => {
            let notice = Some(t(lang, "mail.saved"));
            show(&app, page, None, HashMap::new(), notice, None).await
        }
        Err(DomainError::Validation(errs)) => {
            let errors = errs
                .iter()
                .map(|e| (e.field.clone(), field_message(lang, e)))
                .collect();
            show(&app, page, Some(&form), errors, None, None).await
        }
        Err(e) => super::error_page(lang, e),
    }
}

pub async fn test(State(app): State<AppState>, Posted { page, form }: Posted) -> Response {
    let lang = page.ctx.lang;
    let to = field(&form, "to").trim().to_string();
    let zh = lang == super::i18n::Lang::Zh;
    match rapport_services::mail::send::test_send(&app.store, &page.access, &to, zh).await {
        Ok(()) => {
            let notice = Some(format!("{} {to}", t(lang, "mail.test_sent")));
            show(&app, page, None, HashMap::new(), notice, None).await
        }
        Err(DomainError::Forbidden(_)) => {
            super::error_page(lang, DomainError::Forbidden(String::new()))
        }
        Err(e) => {
            let msg = match &e {
                DomainError::Upstream(m) => format!("{}: {m}", t(lang, "mail.test_failed")),
                other => error_message(lang, other),
            };
            show(&app, page, None, HashMap::new(), None, Some(msg)).await
        }
    }
}

/// Where audit anchors are also emailed (empty: nowhere).
pub async fn save_anchor_email(
    State(app): State<AppState>,
    Posted { page, form }: Posted,
) -> Response {
    let lang = page.ctx.lang;
    let email = Some(field(&form, "anchor_email")).filter(|e| !e.trim().is_empty());
    match mail::anchors::set_settings(
        &app.store,
        &page.access,
        mail::anchors::AnchorMail { email },
    )
    .await
    {
        Ok(_) => {
            let notice = Some(t(lang, "mail.saved"));
            show(&app, page, None, HashMap::new(), notice, None).await
        }
        Err(DomainError::Validation(errs)) => {
            let errors = errs
                .iter()
                .map(|e| ("anchor_email".to_string(), field_message(lang, e)))
                .collect();
            show(&app, page, None, errors, None, None).await
        }
        Err(e) => super::error_page(lang, e),
    }
}

/// The notifications the user also wants by email (from the security page).
pub async fn save_preferences(
    State(app): State<AppState>,
    Posted { page, form }: Posted,
) -> Response {
    let kinds: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "email_notifications")
        .map(|(_, v)| v.clone())
        .collect();
    let result =
        rapport_services::notifications::set_email_preferences(&app.store, &page.access, &kinds)
            .await;
    redirect_or_error(page.ctx.lang, result, "/me/security#email-notifications")
}

/// Write to a contact from its page.
pub async fn email_contact(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form }: Posted,
) -> Response {
    let mut doc = Map::new();
    doc.insert("subject".into(), json!(field(&form, "subject")));
    doc.insert("body".into(), json!(field(&form, "body")));
    let result = mail::send_to_contact(&app.store, &page.access, &id, &doc).await;
    redirect_or_error(page.ctx.lang, result, &format!("/contacts/{id}#timeline"))
}
