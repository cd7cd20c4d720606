//! Mail over the API: the SMTP server (administrators), a test message, and emailing a contact.

use crate::error::ApiResult;
use crate::extract::{Auth, Fields, JsonObject};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use rapport_services::mail;
use serde_json::{json, Value};

pub async fn get_smtp(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    Ok(Json(mail::settings_for(&app.store, &auth.access).await?))
}

pub async fn put_smtp(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    rapport_services::mail::may_change(&auth.access)?;
    Ok(Json(
        mail::save_settings(&app.store, &auth.access, &body).await?,
    ))
}

/// `GET /api/v1/settings/audit-anchors`: where audit anchors are emailed.
pub async fn get_anchor_mail(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        mail::anchors::settings(&app.store, &auth.access).await?
    )))
}

/// `PUT /api/v1/settings/audit-anchors` `{"email": "audit@example.com"}` (or `null`).
pub async fn put_anchor_mail(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    rapport_services::mail::anchors::may_change(&auth.access)?;
    let named = body.contains_key("email");
    let new: mail::anchors::AnchorMail = super::sales::from_doc(body)?;
    if !named {
        return Err(rapport_core::DomainError::field(
            "email",
            "required",
            "email is required (null stops the emails)",
        )
        .into());
    }
    Ok(Json(json!(
        mail::anchors::set_settings(&app.store, &auth.access, new).await?
    )))
}

/// Send a test message at once; a refusal by the server is a 502 naming the server's answer.
pub async fn test_smtp(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let f = Fields::new(&body, &["to"])?;
    let to = f.opt_str("to")?.unwrap_or(&auth.user.email).to_string();
    let zh = auth.user.language != "en";
    rapport_services::mail::send::test_send(&app.store, &auth.access, &to, zh).await?;
    Ok(Json(json!({"sent_to": to})))
}

/// Email a contact: logged on its timeline at once, sent by the job queue.
pub async fn email_contact(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let logged = mail::send_to_contact(&app.store, &auth.access, &id, &body).await?;
    Ok((StatusCode::ACCEPTED, Json(logged)))
}
