//! Duplicates and merges: the duplicate scan, merging records (one group or many), reading
//! and undoing a merge.

use super::query_params;
use super::sales::from_doc;
use crate::error::ApiResult;
use crate::extract::{Auth, JsonObject};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use rapport_core::{DomainError, Object};
use rapport_services::merge::{self, scan, MergeRequest};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

fn object_param(v: Option<&str>) -> ApiResult<Object> {
    v.and_then(Object::from_plural)
        .filter(|o| matches!(o, Object::Account | Object::Contact | Object::Lead))
        .ok_or_else(|| {
            DomainError::field(
                "object",
                "invalid_choice",
                "object is accounts, contacts or leads",
            )
            .into()
        })
}

/// `GET /api/v1/duplicates?object=accounts&min_confidence=50&limit=100`
pub async fn scan(
    State(app): State<AppState>,
    auth: Auth,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let p = query_params(raw, &["object", "min_confidence", "limit"])?;
    let object = object_param(p.get("object").map(String::as_str))?;
    let mut opts = scan::ScanOptions::default();
    if let Some(c) = super::parse_u64(&p, "min_confidence")? {
        if c > 100 {
            return Err(DomainError::field(
                "min_confidence",
                "invalid",
                "min_confidence is 0 to 100",
            )
            .into());
        }
        opts.min_confidence = c as u8;
    }
    if let Some(l) = super::parse_u64(&p, "limit")? {
        opts.limit = l.clamp(1, 500) as usize;
    }
    let result = scan::scan(&app.store, &auth.access, object, opts).await?;
    Ok(Json(json!({
        "object": result.object,
        "data": result.groups,
        "truncated": result.truncated,
    })))
}

fn split_object(mut body: Map<String, Value>) -> ApiResult<(Object, Map<String, Value>)> {
    let object = match body.remove("object") {
        Some(Value::String(s)) => object_param(Some(&s))?,
        _ => object_param(None)?,
    };
    Ok((object, body))
}

/// `POST /api/v1/merges` `{object, survivor_id, merged_ids, fields: {field: record_id}}`
pub async fn create(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (object, body) = split_object(body)?;
    let req: MergeRequest = from_doc(body)?;
    let m = merge::merge(&app.store, &auth.access, object, &req).await?;
    Ok((StatusCode::CREATED, Json(json!(m))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkBody {
    groups: Vec<MergeRequest>,
}

/// `POST /api/v1/merges/bulk` `{object, groups: [{survivor_id, merged_ids, fields?}]}`
pub async fn bulk(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let (object, body) = split_object(body)?;
    let req: BulkBody = from_doc(body)?;
    let out = merge::bulk(&app.store, &auth.access, object, &req.groups).await?;
    let merged = out.iter().filter(|o| o.merge_id.is_some()).count();
    Ok(Json(json!({
        "merged": merged,
        "failed": out.len() - merged,
        "data": out,
    })))
}

/// `GET /api/v1/merges?object=accounts&limit=50`
pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let p = query_params(raw, &["object", "limit"])?;
    let object = object_param(p.get("object").map(String::as_str))?;
    let limit = super::parse_u64(&p, "limit")?.unwrap_or(50);
    let list = merge::list(&app.store, &auth.access, object, limit).await?;
    Ok(Json(json!({"data": list})))
}

pub async fn get_one(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        merge::read(&app.store, &auth.access, &id).await?
    )))
}

pub async fn undo(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        merge::undo(&app.store, &auth.access, &id).await?
    )))
}
