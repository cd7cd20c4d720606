//! Imports: upload a file, map its columns, dry run, run, error file, undo.

use super::query_params;
use super::sales::from_doc;
use crate::error::ApiResult;
use crate::extract::{read_body, Auth, JsonObject};
use crate::AppState;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rapport_core::{DomainError, Object};
use rapport_services::imports::{self, Import, Mapping};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The largest file an import takes.
pub const MAX_IMPORT_BYTES: usize = 256 * 1024 * 1024;

/// The import as the API shows it: its fields and its progress.
pub fn import_json(i: &Import) -> Value {
    let mut v = json!(i);
    v["data_rows"] = json!(i.data_rows());
    v["percent"] = json!(i.percent());
    v
}

/// `GET /api/v1/settings/imports`: how long an import's rows are kept after it ends.
pub async fn get_retention(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        imports::raw::retention(&app.store, &auth.access).await?
    )))
}

/// `PUT /api/v1/settings/imports` `{"keep_raw_days": 30}` (settings right).
pub async fn put_retention(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    rapport_services::imports::raw::may_change(&auth.access)?;
    let r: imports::raw::Retention = from_doc(body)?;
    Ok(Json(json!(
        imports::raw::set_retention(&app.store, &auth.access, r).await?
    )))
}

/// `POST /api/v1/imports?object=contacts&file_name=…&sheet=0` with the file as the body
/// (text/csv, an XLSX type, text/vcard or application/octet-stream).
pub async fn upload(
    State(app): State<AppState>,
    auth: Auth,
    Query(raw): Query<HashMap<String, String>>,
    req: Request,
) -> Result<(StatusCode, Json<Value>), Response> {
    let p = query_params(raw, super::query::IMPORT_UPLOAD).map_err(IntoResponse::into_response)?;
    let object = p
        .get("object")
        .and_then(|o| Object::from_plural(o))
        .ok_or_else(|| {
            crate::error::ApiError::from(DomainError::field(
                "object",
                "invalid_choice",
                "object is accounts, contacts or leads",
            ))
            .into_response()
        })?;
    let sheet = match p.get("sheet") {
        Some(s) => Some(s.parse::<usize>().map_err(|_| {
            crate::error::ApiError::from(DomainError::field(
                "sheet",
                "invalid",
                "sheet is a number from 0",
            ))
            .into_response()
        })?),
        None => None,
    };
    let bytes = read_body(
        req,
        &[
            "text/csv",
            "text/plain",
            "text/vcard",
            "text/x-vcard",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/octet-stream",
        ],
        MAX_IMPORT_BYTES,
    )
    .await?;
    let preview = imports::upload(
        &app.store,
        &auth.access,
        object,
        p.get("file_name").map_or("upload", String::as_str),
        &bytes,
        sheet,
    )
    .await
    .map_err(|e| crate::error::ApiError::from(e).into_response())?;
    Ok((StatusCode::CREATED, Json(preview_json(&preview))))
}

fn preview_json(p: &imports::Preview) -> Value {
    json!({
        "import": import_json(&p.import),
        "rows": p.rows,
        "suggested": p.suggested,
        "targets": p.targets.iter().map(|(k, zh, en)| json!({"field": k, "label_zh": zh, "label_en": en})).collect::<Vec<_>>(),
    })
}

pub async fn list(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    let list = imports::list(&app.store, &auth.access).await?;
    Ok(Json(
        json!({"data": list.iter().map(import_json).collect::<Vec<_>>()}),
    ))
}

pub async fn get_one(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let p = query_params(raw, super::query::IMPORT_ONE)?;
    let header = super::parse_u64(&p, "header_row")?;
    let preview = imports::preview(&app.store, &auth.access, &id, header).await?;
    Ok(Json(preview_json(&preview)))
}

pub async fn set_mapping(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let m: Mapping = from_doc(body)?;
    let i = imports::set_mapping(&app.store, &auth.access, &id, m).await?;
    Ok(Json(import_json(&i)))
}

pub async fn dry_run(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let i = imports::start(&app.store, &auth.access, &id, true).await?;
    Ok((StatusCode::ACCEPTED, Json(import_json(&i))))
}

pub async fn start(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let i = imports::start(&app.store, &auth.access, &id, false).await?;
    Ok((StatusCode::ACCEPTED, Json(import_json(&i))))
}

pub async fn errors(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let rows = imports::errors(&app.store, &auth.access, &id, 1000).await?;
    Ok(Json(
        json!({"data": rows.iter().map(|(n, r)| json!({"row": n, "reason": r})).collect::<Vec<_>>()}),
    ))
}

pub async fn error_file(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let bytes = imports::error_file(&app.store, &auth.access, &id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"import-errors-{id}.csv\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

pub async fn undo(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let i = imports::undo(&app.store, &auth.access, &id).await?;
    Ok(Json(import_json(&i)))
}
