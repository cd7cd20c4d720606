//! Price lists, documents made from other documents, contract approval, payment plans,
//! receivables, the public pool and sales targets. Quotes, contracts, orders, payments and products themselves are records
//! (`records.rs`).

use super::query_params;
use super::sales::from_doc;
use crate::error::ApiResult;
use crate::extract::{Auth, JsonObject};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use rapport_services::price_lists::{self, PriceListDraft};
use rapport_services::sales::approvals::{self, Flow};
use rapport_services::sales::convert;
use rapport_services::sales::receivables::{self, InstalmentDraft};
use rapport_services::{pool, targets};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

pub async fn list_price_lists(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    let lists = price_lists::list(&app.store, &auth.access).await?;
    Ok(Json(json!({"data": lists})))
}

pub async fn create_price_list(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    rapport_services::price_lists::may_change(&auth.access)?;
    let draft: PriceListDraft = from_doc(body)?;
    let l = price_lists::save(&app.store, &auth.access, None, &draft).await?;
    Ok((StatusCode::CREATED, Json(json!(l))))
}

pub async fn update_price_list(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    rapport_services::price_lists::may_change(&auth.access)?;
    let draft: PriceListDraft = from_doc(body)?;
    let l = price_lists::save(&app.store, &auth.access, Some(&id), &draft).await?;
    Ok(Json(json!(l)))
}

/// A contract from an accepted quote; the body adds or overrides contract fields.
pub async fn contract_from_quote(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = convert::contract_from_quote(&app.store, &auth.access, &id, &body).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

pub async fn order_from_quote(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let o = convert::order_from(&app.store, &auth.access, "quote", &id, &body).await?;
    Ok((StatusCode::CREATED, Json(o)))
}

pub async fn order_from_contract(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let o = convert::order_from(&app.store, &auth.access, "contract", &id, &body).await?;
    Ok((StatusCode::CREATED, Json(o)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    #[serde(default)]
    comment: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reason {
    reason: String,
}

fn optional_body(body: Map<String, Value>) -> ApiResult<Decision> {
    from_doc(body)
}

pub async fn submit(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let steps = approvals::submit(&app.store, &auth.access, &id).await?;
    Ok(Json(json!({"data": steps})))
}

pub async fn approve(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let d = optional_body(body)?;
    let steps = approvals::decide(&app.store, &auth.access, &id, true, &d.comment).await?;
    Ok(Json(json!({"data": steps})))
}

pub async fn reject(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let d = optional_body(body)?;
    let steps = approvals::decide(&app.store, &auth.access, &id, false, &d.comment).await?;
    Ok(Json(json!({"data": steps})))
}

pub async fn terminate(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let r: Reason = from_doc(body)?;
    approvals::terminate(&app.store, &auth.access, &id, &r.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn approval_history(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let steps = approvals::history(&app.store, &auth.access, &id).await?;
    Ok(Json(json!({"data": steps})))
}

pub async fn my_approvals(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    let list = approvals::pending_for(&app.store, &auth.access).await?;
    Ok(Json(json!({"data": list})))
}

pub async fn get_flow(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        approvals::read_flow(&app.store, &auth.access).await?
    )))
}

pub async fn put_flow(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    rapport_services::sales::approvals::may_change(&auth.access)?;
    let flow: Flow = from_doc(body)?;
    Ok(Json(json!(
        approvals::set_flow(&app.store, &auth.access, flow).await?
    )))
}

pub async fn get_plan(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        receivables::plan(&app.store, &auth.access, &id).await?
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    instalments: Vec<InstalmentDraft>,
}

pub async fn put_plan(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let b: PlanBody = from_doc(body)?;
    Ok(Json(json!(
        receivables::set_plan(&app.store, &auth.access, &id, &b.instalments).await?
    )))
}

pub async fn receivables(
    State(app): State<AppState>,
    auth: Auth,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let p = query_params(raw, super::query::RECEIVABLES)?;
    let group = p.get("group").map_or("contract", String::as_str);
    let rows = receivables::summary(&app.store, &auth.access, group).await?;
    Ok(Json(json!({"group": group, "data": rows})))
}

pub async fn pool(
    State(app): State<AppState>,
    auth: Auth,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let p = query_params(raw, super::query::POOL)?;
    let limit = super::parse_limit(&p, 100)?;
    let list = pool::list(
        &app.store,
        &auth.access,
        p.get("q").map(String::as_str),
        limit,
    )
    .await?;
    let standing = pool::standing(&app.store, &auth.access).await?;
    Ok(Json(json!({"data": list, "standing": standing})))
}

pub async fn claim(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    pool::claim(&app.store, &auth.access, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Release {
    reason: String,
    #[serde(default)]
    note: String,
}

pub async fn release(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let r: Release = from_doc(body)?;
    pool::release(&app.store, &auth.access, &id, &r.reason, &r.note).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn pool_history(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"data": pool::history(&app.store, &auth.access, &id).await?}),
    ))
}

pub async fn sweep(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        pool::sweep_now(&app.store, &auth.access).await?
    )))
}

pub async fn get_pool_settings(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        pool::read_settings(&app.store, &auth.access).await?
    )))
}

pub async fn put_pool_settings(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    rapport_services::pool::may_change(&auth.access)?;
    let s: pool::PoolSettings = from_doc(body)?;
    Ok(Json(json!(
        pool::set_settings(&app.store, &auth.access, s).await?
    )))
}

pub async fn target_progress(
    State(app): State<AppState>,
    auth: Auth,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let p = query_params(raw, super::query::TARGETS)?;
    let period = match p.get("period") {
        Some(p) => p.clone(),
        None => {
            targets::periods_of(rapport_services::sales::local_date(app.store.now()))[0].clone()
        }
    };
    let rows = targets::progress(&app.store, &auth.access, &period).await?;
    Ok(Json(json!({"period": period, "data": rows})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsBody {
    targets: Vec<targets::TargetDraft>,
}

pub async fn set_targets(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    rapport_services::targets::may_set(&auth.access)?;
    let b: TargetsBody = from_doc(body)?;
    let n = targets::set(&app.store, &auth.access, &b.targets).await?;
    Ok(Json(json!({"saved": n})))
}
