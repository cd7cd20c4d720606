//! Activities, record timelines, the caller's notifications and the administrators' job queue.

use super::{parse_bool, parse_limit, query_params};
use crate::error::ApiResult;
use crate::extract::{Auth, JsonObject};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use rapport_core::activity::{Kind, Status};
use rapport_core::DomainError;
use rapport_services::{activities, jobs, notifications, timeline};
use serde_json::{json, Value};
use std::collections::HashMap;

fn bad(field: &str, code: &'static str, msg: impl Into<String>) -> DomainError {
    DomainError::field(field, code, msg)
}

/// `at~id` cursors for activity lists.
fn activity_cursor(s: &str) -> ApiResult<(DateTime<Utc>, String)> {
    let err = || {
        bad(
            "cursor",
            "invalid_cursor",
            "the cursor is not one this server gave",
        )
    };
    let (ms, id) = s.split_once('~').ok_or_else(err)?;
    let at = ms
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(err)?;
    Ok((at, id.to_string()))
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let p = query_params(raw, super::query::ACTIVITIES)?;
    let me = &auth.access.user_id;
    let kind = match p.get("kind") {
        Some(k) => Some(Kind::parse(k).ok_or_else(|| {
            bad(
                "kind",
                "invalid_choice",
                format!("kind must be one of: {}", Kind::keys()),
            )
        })?),
        None => None,
    };
    let status = match p.get("status") {
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            bad(
                "status",
                "invalid_choice",
                format!("status must be one of: {}", Status::keys()),
            )
        })?),
        None => None,
    };
    if let Some(rt) = p.get("related_type") {
        if !rapport_services::activities::access::related_types().contains(&rt.as_str()) {
            return Err(bad(
                "related_type",
                "invalid_choice",
                format!(
                    "related_type is one of {}",
                    rapport_services::activities::access::related_types().join(", ")
                ),
            )
            .into());
        }
    }
    let ascending = match p.get("order").map(String::as_str) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(bad("order", "invalid_choice", "order must be asc or desc").into()),
    };
    let limit = parse_limit(&p, 50)?;
    let filter = activities::ListFilter {
        assignee_id: p
            .get("assignee_id")
            .map(|a| if a == "me" { me.clone() } else { a.clone() }),
        include_attending: parse_bool(&p, "attending")?,
        kind,
        status,
        since: super::time_param(&p, "since")?,
        until: super::time_param(&p, "until")?,
        related_type: p.get("related_type").cloned(),
        related_id: p.get("related_id").cloned(),
        after: p.get("cursor").map(|c| activity_cursor(c)).transpose()?,
        ascending,
        limit,
    };
    let rows = activities::list(&app.store, &auth.access, &filter).await?;
    activities::audit_list(
        &app.store,
        &auth.access,
        json!({"assignee_id": filter.assignee_id, "kind": p.get("kind"), "status": p.get("status"),
               "related_type": p.get("related_type"), "related_id": p.get("related_id")}),
    )
    .await?;
    let next = if rows.len() as u64 >= limit {
        rows.last()
            .map(|(a, _)| format!("{}~{}", a.at.timestamp_millis(), a.id))
    } else {
        None
    };
    let data: Vec<Value> = rows.iter().map(|(a, l)| a.to_json(l.as_deref())).collect();
    Ok(Json(json!({"data": data, "next_cursor": next})))
}

pub async fn create(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let a = activities::create(&app.store, &auth.access, &body).await?;
    let location = format!(
        "/api/v1/activities/{}",
        a["id"].as_str().unwrap_or_default()
    );
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(a)).into_response())
}

pub async fn read(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(activities::read(&app.store, &auth.access, &id).await?))
}

pub async fn update(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        activities::update(&app.store, &auth.access, &id, &body).await?,
    ))
}

pub async fn remove(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    activities::delete(&app.store, &auth.access, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn timeline(
    State(app): State<AppState>,
    auth: Auth,
    Path((object, id)): Path<(String, String)>,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let object = rapport_services::activities::access::def_of_plural(&object)
        .ok_or(DomainError::NotFound)?
        .object
        .key();
    let p = query_params(raw, super::query::TIMELINE)?;
    let params = timeline::Params {
        kinds: p
            .get("kinds")
            .map(|k| {
                k.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
        cursor: p.get("cursor").cloned(),
        limit: parse_limit(&p, 30)?,
    };
    let page = timeline::of_record(&app.store, &auth.access, object, &id, &params).await?;
    let data: Vec<Value> = page.data.iter().map(timeline::Entry::to_json).collect();
    Ok(Json(json!({"data": data, "next_cursor": page.next_cursor})))
}

pub async fn list_notifications(
    State(app): State<AppState>,
    auth: Auth,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let p = query_params(raw, super::query::NOTIFICATIONS)?;
    let limit = parse_limit(&p, 50)?;
    let before = p.get("cursor").map(|c| activity_cursor(c)).transpose()?;
    let rows = notifications::list(
        &app.store,
        &auth.access,
        parse_bool(&p, "unread")?,
        before,
        limit,
    )
    .await?;
    let unread = notifications::unread_count(&app.store, &auth.access).await?;
    let next = if rows.len() as u64 >= limit {
        rows.last()
            .map(|n| format!("{}~{}", n.created_at.timestamp_millis(), n.id))
    } else {
        None
    };
    Ok(Json(
        json!({"data": rows, "unread": unread, "next_cursor": next}),
    ))
}

pub async fn mark_notification_read(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    notifications::mark_read(&app.store, &auth.access, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn mark_all_notifications_read(
    State(app): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<Value>> {
    let n = notifications::mark_all_read(&app.store, &auth.access).await?;
    Ok(Json(json!({"marked": n})))
}

pub async fn list_jobs(
    State(app): State<AppState>,
    auth: Auth,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let p = query_params(raw, super::query::JOBS)?;
    let limit = parse_limit(&p, 100)?;
    let rows = jobs::list(
        &app.store,
        &auth.access,
        p.get("status").map(String::as_str),
        limit,
    )
    .await?;
    let counts: serde_json::Map<String, Value> = jobs::counts(&app.store, &auth.access)
        .await?
        .into_iter()
        .map(|(s, n)| (s, json!(n)))
        .collect();
    Ok(Json(json!({"data": rows, "counts": counts})))
}

pub async fn retry_job(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let job = jobs::retry(&app.store, &auth.access, &id).await?;
    Ok(Json(json!(job)))
}
