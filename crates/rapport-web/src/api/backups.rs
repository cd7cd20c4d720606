//! Backups over the API (administrators): what is kept and how it is going, and a copy or a
//! restore drill started now.

use crate::error::ApiResult;
use crate::extract::Auth;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rapport_services::backup::{overview, scheduled};
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
