//! Sign-in, sign-out, one's own profile, password, email, MFA, sessions and API tokens.

use super::query_params;
use crate::error::ApiResult;
use crate::extract::{csrf_for, Auth, Client, Fields, JsonObject, SESSION_COOKIE};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rapport_auth::service::{self as auth, LoginRequest};
use rapport_core::DomainError;
use rapport_services::{sessions, users};
use serde_json::{json, Value};
use std::collections::HashMap;

pub fn session_cookie(app: &AppState, token: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if app.tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub async fn login(
    State(app): State<AppState>,
    client: Client,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let f = Fields::new(&body, &["email", "password", "totp"])?;
    let req = LoginRequest {
        email: f.str("email")?.to_string(),
        password: f.str("password")?.to_string(),
        totp: f.opt_str("totp")?.map(str::to_string),
        ip: client.ip,
        user_agent: client.user_agent,
    };
    let res = auth::login(&app.store, &app.auth, req).await?;
    let cookie = session_cookie(&app, &res.token, app.auth.absolute_timeout.num_seconds());
    let body = json!({
        "token": res.token,
        "csrf_token": csrf_for(&res.token),
        "expires_at": res.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "user": res.user,
    });
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

pub async fn logout(State(app): State<AppState>, auth: Auth) -> ApiResult<Response> {
    auth::logout(&app.store, &auth.access).await?;
    Ok((
        [(header::SET_COOKIE, session_cookie(&app, "", 0))],
        StatusCode::NO_CONTENT,
    )
        .into_response())
}

pub async fn setup_status(State(app): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"needs_setup": users::count(&app.store).await? == 0}),
    ))
}

pub async fn setup(
    State(app): State<AppState>,
    client: Client,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let f = Fields::new(&body, &["email", "name", "password", "language"])?;
    let user = auth::setup_first_admin(
        &app.store,
        f.str("email")?,
        f.opt_str("name")?.unwrap_or("Administrator"),
        f.str("password")?,
        f.opt_str("language")?.unwrap_or("zh-CN"),
        client.ip,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(user))).into_response())
}

pub async fn me(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    let email_notifications =
        rapport_services::notifications::email_preferences(app.store.db.reader(), &auth.user.id)
            .await?;
    Ok(Json(
        json!({"user": auth.user, "grants": auth.access.grants, "read_only": auth.access.read_only,
               "email_notifications": email_notifications}),
    ))
}

pub async fn update_me(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let f = Fields::new(&body, &["language", "email_notifications"])?;
    let kinds = f.opt_str_list("email_notifications")?;
    if let Some(lang) = f.opt_str("language")? {
        users::set_language(&app.store, &auth.user.id, lang).await?;
    }
    if let Some(kinds) = kinds {
        rapport_services::notifications::set_email_preferences(&app.store, &auth.access, &kinds)
            .await?;
    }
    let user = users::get_user(&app.store, &auth.user.id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let email_notifications =
        rapport_services::notifications::email_preferences(app.store.db.reader(), &user.id).await?;
    Ok(Json(
        json!({"user": user, "email_notifications": email_notifications}),
    ))
}

pub async fn change_password(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let f = Fields::new(&body, &["current_password", "new_password"])?;
    auth::change_password(
        &app.store,
        &auth.access,
        f.str("current_password")?,
        f.str("new_password")?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn change_email(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let f = Fields::new(&body, &["current_password", "email"])?;
    auth::change_email(
        &app.store,
        &auth.access,
        f.str("current_password")?,
        f.str("email")?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn mfa_enroll(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let f = Fields::new(&body, &["current_password"])?;
    let e = auth::mfa_begin(&app.store, &auth.access, f.str("current_password")?).await?;
    Ok(Json(json!(e)))
}

pub async fn mfa_confirm(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let f = Fields::new(&body, &["code"])?;
    let codes = auth::mfa_confirm(&app.store, &auth.access, f.str("code")?).await?;
    Ok(Json(json!({"recovery_codes": codes})))
}

pub async fn mfa_disable(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let f = Fields::new(&body, &["current_password"])?;
    auth::mfa_disable(&app.store, &auth.access, f.str("current_password")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_sessions(
    State(app): State<AppState>,
    auth: Auth,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let p = query_params(raw, super::query::SESSIONS)?;
    let user_id = p
        .get("user_id")
        .cloned()
        .unwrap_or_else(|| auth.user.id.clone());
    let rows = auth::list_sessions(&app.store, &auth.access, &user_id).await?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|s| {
            let current = auth.access.session_id.as_deref() == Some(s.id.as_str());
            let mut v = json!(s);
            v["current"] = json!(current);
            v
        })
        .collect();
    Ok(Json(json!({"data": data})))
}

pub async fn revoke_session(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    auth::revoke_session(&app.store, &auth.access, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_tokens(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"data": sessions::tokens_of(&app.store, &auth.user.id).await?}),
    ))
}

pub async fn create_token(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let f = Fields::new(&body, &["name", "read_only", "expires_at"])?;
    let expires_at = match f.opt_str("expires_at")? {
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|_| {
                    DomainError::field(
                        "expires_at",
                        "invalid_datetime",
                        "expires_at must be an RFC 3339 date-time",
                    )
                })?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let (token, row) = auth::create_api_token(
        &app.store,
        &auth.access,
        f.str("name")?,
        f.opt_bool("read_only")?.unwrap_or(true),
        expires_at,
    )
    .await?;
    let mut v = json!(row);
    v["token"] = json!(token);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub async fn revoke_token(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    auth::revoke_api_token(&app.store, &auth.access, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
