//! Backups over the API (administrators): what is kept and how it is going, and a copy or a
//! restore drill started now.

use crate::error::ApiResult;
use crate::extract::{Auth, JsonObject};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rapport_services::backup::{offsite, overview, scheduled};
use serde_json::{json, Value};

/// `GET /api/v1/backups`.
pub async fn get(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        overview::overview(&app.store, &auth.access).await?
    )))
}

/// `POST /api/v1/backups`: a full copy, queued at once.
pub async fn start(
    State(app): State<AppState>,
    auth: Auth,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let queued = scheduled::request(&app.store, &auth.access, false).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "queued": queued }))))
}

/// `POST /api/v1/backups/drills`: a restore drill of the newest backup, queued at once.
pub async fn drill(
    State(app): State<AppState>,
    auth: Auth,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let queued = scheduled::request(&app.store, &auth.access, true).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "queued": queued }))))
}

/// `GET /api/v1/settings/backup-target`: the off-site target (`null` when none).
pub async fn get_target(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    Ok(Json(offsite::settings_for(&app.store, &auth.access).await?))
}

/// `PUT /api/v1/settings/backup-target`.
pub async fn put_target(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    offsite::may_change(&auth.access)?;
    Ok(Json(offsite::save(&app.store, &auth.access, &body).await?))
}

/// `DELETE /api/v1/settings/backup-target`.
pub async fn delete_target(State(app): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    offsite::remove(&app.store, &auth.access).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/settings/backup-target/test`: 502 with the storage's answer when it refuses.
pub async fn test_target(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    Ok(Json(offsite::test(&app.store, &auth.access).await?))
}
