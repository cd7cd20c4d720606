//! Lead conversion, sales pipelines, the kanban board and opportunities' stage history.

use super::query_params;
use crate::error::ApiResult;
use crate::extract::{Auth, JsonObject};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use rapport_core::{Action, DomainError, Object, Scope};
use rapport_services::objects;
use rapport_services::objects::lead::convert::{self as leads, ConvertRequest};
use rapport_services::objects::opportunity::board;
use rapport_services::pipelines::{self, PipelineDraft};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// A JSON object read into `T`, naming the field at fault when it does not fit.
pub(super) use super::body::from_doc;

pub async fn convert(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let req: ConvertRequest = from_doc(body)?;
    let out = leads::convert(&app.store, &auth.access, &id, req).await?;
    Ok((StatusCode::OK, Json(json!(out))))
}

/// Pipelines are shown to whoever works with opportunities or administers settings.
fn may_see_pipelines(auth: &Auth) -> ApiResult<()> {
    if auth.access.scope(objects::OPPORTUNITY, Action::Read) == Scope::None
        && auth.access.scope(Object::SETTINGS, Action::Read) == Scope::None
    {
        return Err(DomainError::Forbidden("you may not see sales pipelines".into()).into());
    }
    Ok(())
}

pub async fn list_pipelines(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    may_see_pipelines(&auth)?;
    let list = pipelines::list(app.store.db.reader()).await?;
    Ok(Json(json!({"data": list})))
}

pub async fn create_pipeline(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    rapport_services::pipelines::may_change(&auth.access)?;
    let draft: PipelineDraft = from_doc(body)?;
    let p = pipelines::save(&app.store, &auth.access, None, &draft).await?;
    Ok((StatusCode::CREATED, Json(json!(p))))
}

pub async fn update_pipeline(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    rapport_services::pipelines::may_change(&auth.access)?;
    let draft: PipelineDraft = from_doc(body)?;
    let p = pipelines::save(&app.store, &auth.access, Some(&id), &draft).await?;
    Ok(Json(json!(p)))
}

pub async fn board(
    State(app): State<AppState>,
    auth: Auth,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let p = query_params(raw, super::query::BOARD)?;
    let b = board::board(
        &app.store,
        &auth.access,
        p.get("pipeline_id").map(String::as_str),
    )
    .await?;
    let money = |t: &board::Totals| -> Value {
        t.iter()
            .map(|(c, v)| (c.clone(), json!(rapport_core::validate::money_string(*v))))
            .collect::<Map<String, Value>>()
            .into()
    };
    let columns: Vec<Value> = b
        .columns
        .iter()
        .map(|c| {
            json!({
                "stage": c.stage,
                "count": c.count,
                "total": money(&c.total),
                "weighted": money(&c.weighted),
                "cards": c.cards.iter().map(|k| json!({
                    "id": k.id,
                    "name": k.name,
                    "account_id": k.account_id,
                    "account_name": k.account_name,
                    "amount": k.amount.map(rapport_core::validate::money_string),
                    "currency": k.currency,
                    "owner_id": k.owner_id,
                    "probability": k.probability,
                    "expected_close_date": k.expected_close_date,
                    "stage_entered_at": k.stage_entered_at,
                    "next_activity_at": k.next_activity_at,
                    "stale": k.stale,
                    "no_next_activity": k.no_next_activity,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({
        "pipeline": {"id": b.pipeline.id, "name_en": b.pipeline.name_en, "name_zh": b.pipeline.name_zh, "stale_days": b.pipeline.stale_days},
        "columns": columns,
    })))
}

pub async fn stage_history(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let visits = rapport_services::objects::opportunity::stages::stage_history(
        &app.store,
        &auth.access,
        &id,
    )
    .await?;
    Ok(Json(json!({"data": visits})))
}
