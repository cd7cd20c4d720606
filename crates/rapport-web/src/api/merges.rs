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
use rapport_services::objects;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

fn object_param(v: Option<&str>) -> ApiResult<Object> {
    v.and_then(Object::from_plural)
        .filter(|o| matches!(*o, objects::ACCOUNT | objects::CONTACT | objects::LEAD))
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
    let p = query_params(raw, super::query::DUPLICATES)?;
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
    opts.limit = super::parse_limit(&p, opts.limit as u64)? as usize;
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
    rapport_services::merge::may_merge_some(&app.store, &auth.access)?;
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
    rapport_services::merge::may_merge_some(&app.store, &auth.access)?;
    let (object, body) = split_object(body)?;
    let req: BulkBody = from_doc(body)?;
    // The shape of every group is checked before any is merged: a malformed request changes
    // nothing. What depends on the records (found, mergeable) is answered per group.
    if req.groups.is_empty() || req.groups.len() > 100 {
        return Err(DomainError::field("groups", "invalid", "send 1 to 100 groups").into());
    }
    let valid = rapport_core::ids::is_valid_id;
    let mut errors = Vec::new();
    for (i, g) in req.groups.iter().enumerate() {
        if !valid(&g.survivor_id) {
            errors.push(rapport_core::FieldError::new(
                format!("groups[{i}].survivor_id"),
                "invalid_id",
                "survivor_id must be a record id",
            ));
        }
        if g.merged_ids.is_empty()
            || g.merged_ids.len() > 9
            || !g.merged_ids.iter().all(|m| valid(m))
        {
            errors.push(rapport_core::FieldError::new(
                format!("groups[{i}].merged_ids"),
                "invalid_id",
                "merged_ids holds 1 to 9 record ids",
            ));
        }
        if !g.fields.values().all(|v| valid(v)) {
            errors.push(rapport_core::FieldError::new(
                format!("groups[{i}].fields"),
                "invalid_id",
                "fields map a field to the id of the record whose value the survivor takes",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors).into());
    }
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
    let p = query_params(raw, super::query::MERGES)?;
    let object = object_param(p.get("object").map(String::as_str))?;
    let limit = super::parse_limit(&p, 50)?;
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
