//! The JSON API under `/api/v1`, the health checks and the OpenAPI document.

mod activities;
mod admin;
pub(crate) mod auth;
mod documents;
pub(crate) mod exports;
pub(crate) mod imports;
pub(crate) mod interop;
mod mail;
pub(crate) mod merges;
pub mod openapi;
pub(crate) mod records;
mod sales;

use crate::error::ApiResult;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use rapport_core::DomainError;
use serde_json::{json, Value};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/v1/setup", get(auth::setup_status).post(auth::setup))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/me", get(auth::me).patch(auth::update_me))
        .route("/api/v1/me/password", post(auth::change_password))
        .route("/api/v1/me/email", post(auth::change_email))
        .route("/api/v1/me/mfa/enroll", post(auth::mfa_enroll))
        .route("/api/v1/me/mfa/confirm", post(auth::mfa_confirm))
        .route("/api/v1/me/mfa/disable", post(auth::mfa_disable))
        .route("/api/v1/sessions", get(auth::list_sessions))
        .route("/api/v1/sessions/{id}", delete(auth::revoke_session))
        .route(
            "/api/v1/api-tokens",
            get(auth::list_tokens).post(auth::create_token),
        )
        .route("/api/v1/api-tokens/{id}", delete(auth::revoke_token))
        .route(
            "/api/v1/users",
            get(admin::list_users).post(admin::create_user),
        )
        .route(
            "/api/v1/users/{id}",
            get(admin::get_user).patch(admin::update_user),
        )
        .route(
            "/api/v1/users/{id}/sessions",
            delete(admin::revoke_user_sessions),
        )
        .route(
            "/api/v1/departments",
            get(admin::list_departments).post(admin::create_department),
        )
        .route(
            "/api/v1/roles",
            get(admin::list_roles).post(admin::create_role),
        )
        .route(
            "/api/v1/roles/{key}",
            put(admin::update_role).delete(admin::delete_role),
        )
        .route("/api/v1/audit", get(admin::audit))
        .route(
            "/api/v1/picklists/{list}",
            get(admin::picklist).put(admin::put_picklist_value),
        )
        .route(
            "/api/v1/duplicate-rules/{object}",
            get(admin::get_duplicate_rules).put(admin::put_duplicate_rules),
        )
        .route(
            "/api/v1/custom-fields/{object}",
            get(admin::list_custom_fields),
        )
        .route(
            "/api/v1/custom-fields/{object}/{key}",
            put(admin::put_custom_field),
        )
        .route(
            "/api/v1/activities",
            get(activities::list).post(activities::create),
        )
        .route(
            "/api/v1/activities/{id}",
            get(activities::read)
                .patch(activities::update)
                .delete(activities::remove),
        )
        .route("/api/v1/notifications", get(activities::list_notifications))
        .route(
            "/api/v1/notifications/read-all",
            post(activities::mark_all_notifications_read),
        )
        .route(
            "/api/v1/notifications/{id}/read",
            post(activities::mark_notification_read),
        )
        .route("/api/v1/jobs", get(activities::list_jobs))
        .route(
            "/api/v1/contacts/vcard",
            get(interop::export_vcards).post(interop::import_vcards),
        )
        .route("/api/v1/me/calendar-feed", get(interop::calendar_feed))
        .route(
            "/api/v1/settings/smtp",
            get(mail::get_smtp).put(mail::put_smtp),
        )
        .route("/api/v1/settings/smtp/test", post(mail::test_smtp))
        .route("/api/v1/contacts/{id}/emails", post(mail::email_contact))
        .route(
            "/api/v1/me/calendar-feed/reset",
            post(interop::reset_calendar_feed),
        )
        .route("/calendar/{file}", get(interop::calendar_ics))
        .route("/api/v1/jobs/{id}/retry", post(activities::retry_job))
        .route("/api/v1/leads/{id}/convert", post(sales::convert))
        .route(
            "/api/v1/pipelines",
            get(sales::list_pipelines).post(sales::create_pipeline),
        )
        .route("/api/v1/pipelines/{id}", put(sales::update_pipeline))
        .route("/api/v1/opportunities/board", get(sales::board))
        .route(
            "/api/v1/price-lists",
            get(documents::list_price_lists).post(documents::create_price_list),
        )
        .route(
            "/api/v1/price-lists/{id}",
            put(documents::update_price_list),
        )
        .route(
            "/api/v1/quotes/{id}/contract",
            post(documents::contract_from_quote),
        )
        .route(
            "/api/v1/quotes/{id}/order",
            post(documents::order_from_quote),
        )
        .route(
            "/api/v1/contracts/{id}/order",
            post(documents::order_from_contract),
        )
        .route("/api/v1/contracts/{id}/submit", post(documents::submit))
        .route("/api/v1/contracts/{id}/approve", post(documents::approve))
        .route("/api/v1/contracts/{id}/reject", post(documents::reject))
        .route(
            "/api/v1/contracts/{id}/terminate",
            post(documents::terminate),
        )
        .route(
            "/api/v1/contracts/{id}/approvals",
            get(documents::approval_history),
        )
        .route(
            "/api/v1/contracts/{id}/payment-plan",
            get(documents::get_plan).put(documents::put_plan),
        )
        .route("/api/v1/approvals", get(documents::my_approvals))
        .route("/api/v1/receivables", get(documents::receivables))
        .route(
            "/api/v1/imports",
            get(imports::list)
                .post(imports::upload)
                .layer(axum::extract::DefaultBodyLimit::max(
                    imports::MAX_IMPORT_BYTES,
                )),
        )
        .route("/api/v1/imports/{id}", get(imports::get_one))
        .route("/api/v1/imports/{id}/mapping", put(imports::set_mapping))
        .route("/api/v1/imports/{id}/dry-run", post(imports::dry_run))
        .route("/api/v1/imports/{id}/start", post(imports::start))
        .route("/api/v1/imports/{id}/errors", get(imports::errors))
        .route("/api/v1/imports/{id}/errors.csv", get(imports::error_file))
        .route("/api/v1/imports/{id}/undo", post(imports::undo))
        .route("/api/v1/exports", get(exports::list).post(exports::start))
        .route("/api/v1/exports/{id}", get(exports::get_one))
        .route("/api/v1/exports/{id}/file", get(exports::file))
        .route("/api/v1/duplicates", get(merges::scan))
        .route("/api/v1/merges", get(merges::list).post(merges::create))
        .route("/api/v1/merges/bulk", post(merges::bulk))
        .route("/api/v1/merges/{id}", get(merges::get_one))
        .route("/api/v1/merges/{id}/undo", post(merges::undo))
        .route("/api/v1/pool", get(documents::pool))
        .route("/api/v1/pool/sweep", post(documents::sweep))
        .route("/api/v1/pool/{id}/claim", post(documents::claim))
        .route("/api/v1/accounts/{id}/release", post(documents::release))
        .route(
            "/api/v1/accounts/{id}/pool-history",
            get(documents::pool_history),
        )
        .route(
            "/api/v1/settings/imports",
            get(imports::get_retention).put(imports::put_retention),
        )
        .route(
            "/api/v1/settings/pool",
            get(documents::get_pool_settings).put(documents::put_pool_settings),
        )
        .route(
            "/api/v1/targets",
            get(documents::target_progress).put(documents::set_targets),
        )
        .route(
            "/api/v1/settings/approval-flow",
            get(documents::get_flow).put(documents::put_flow),
        )
        .route(
            "/api/v1/opportunities/{id}/stages",
            get(sales::stage_history),
        )
        .route("/api/v1/{object}", get(records::list).post(records::create))
        .route("/api/v1/{object}/transfer", post(records::transfer))
        .route("/api/v1/{object}/bulk", post(records::bulk))
        .route("/api/v1/{object}/export", get(records::export))
        .route(
            "/api/v1/{object}/{id}",
            get(records::read)
                .patch(records::update)
                .delete(records::remove),
        )
        .route("/api/v1/{object}/{id}/history", get(records::history))
        .route("/api/v1/{object}/{id}/timeline", get(activities::timeline))
        .route(
            "/api/v1/{object}/{id}/privacy-export",
            get(records::privacy_export),
        )
        .route("/api/v1/{object}/{id}/erase", post(records::erase))
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(app): State<AppState>) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    match app.store.db.ping().await {
        Ok(()) => Ok(Json(json!({"status": "ready", "database": "ok"}))),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": "unreachable"})),
            ))
        }
    }
}

/// Query-string parameters, refusing any not in `allowed` (so typos are reported, not ignored).
pub(crate) fn query_params(
    raw: HashMap<String, String>,
    allowed: &[&str],
) -> ApiResult<HashMap<String, String>> {
    for k in raw.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(DomainError::field(
                k.clone(),
                "unknown_parameter",
                format!("there is no query parameter named {k}"),
            )
            .into());
        }
    }
    Ok(raw)
}

pub(crate) fn parse_u64(params: &HashMap<String, String>, name: &str) -> ApiResult<Option<u64>> {
    match params.get(name) {
        None => Ok(None),
        Some(s) => s.parse::<u64>().map(Some).map_err(|_| {
            DomainError::field(
                name,
                "invalid_type",
                format!("{name} must be a whole number"),
            )
            .into()
        }),
    }
}

pub(crate) fn parse_bool(params: &HashMap<String, String>, name: &str) -> ApiResult<bool> {
    match params.get(name).map(String::as_str) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(DomainError::field(
            name,
            "invalid_type",
            format!("{name} must be true or false"),
        )
        .into()),
    }
}
