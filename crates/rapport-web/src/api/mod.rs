//! The JSON API under `/api/v1`, the health checks and the OpenAPI document.
//!
//! A handler that writes asks the service whether the caller holds the right (`may_*`, the
//! same function the service itself checks) before it reads the body: a caller without the
//! right learns nothing from validation errors (tests/input.rs,
//! `without_the_right_the_body_is_not_read`).

mod activities;
mod admin;
pub(crate) mod auth;
mod backups;
mod body;
mod documents;
pub(crate) mod exports;
pub(crate) mod imports;
pub(crate) mod interop;
mod mail;
pub(crate) mod merges;
pub mod openapi;
pub mod query;
pub(crate) mod records;
mod sales;

use crate::error::ApiResult;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use rapport_core::DomainError;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Declares the API routes once: the router, and [`SERVED`], the list of (method, path) that
/// the contract test compares with the OpenAPI document.
macro_rules! api_routes {
    ($($path:literal => $first:ident($($h:tt)*) $(.$next:ident($($h2:tt)*))*;)*) => {
        /// Every (method, path) the router serves; `layer` entries are not methods.
        pub const SERVED: &[(&str, &str)] = &[
            $(
                (stringify!($first), $path),
                $((stringify!($next), $path),)*
            )*
        ];

        pub fn routes() -> Router<AppState> {
            Router::new()
                $(.route($path, $first($($h)*) $(.$next($($h2)*))*))*
        }
    };
}

api_routes! {
    "/healthz" => get(healthz);
    "/readyz" => get(readyz);
    "/api/openapi.json" => get(openapi::document);
    "/api/v1/setup" => get(auth::setup_status).post(auth::setup);
    "/api/v1/auth/login" => post(auth::login);
    "/api/v1/auth/logout" => post(auth::logout);
    "/api/v1/me" => get(auth::me).patch(auth::update_me);
    "/api/v1/me/password" => post(auth::change_password);
    "/api/v1/me/email" => post(auth::change_email);
    "/api/v1/me/mfa/enroll" => post(auth::mfa_enroll);
    "/api/v1/me/mfa/confirm" => post(auth::mfa_confirm);
    "/api/v1/me/mfa/disable" => post(auth::mfa_disable);
    "/api/v1/sessions" => get(auth::list_sessions);
    "/api/v1/sessions/{id}" => delete(auth::revoke_session);
    "/api/v1/api-tokens" => get(auth::list_tokens).post(auth::create_token);
    "/api/v1/api-tokens/{id}" => delete(auth::revoke_token);
    "/api/v1/users" => get(admin::list_users).post(admin::create_user);
    "/api/v1/users/{id}" => get(admin::get_user).patch(admin::update_user);
    "/api/v1/users/{id}/sessions" => delete(admin::revoke_user_sessions);
    "/api/v1/users/{id}/password" => post(admin::reset_password);
    "/api/v1/users/{id}/mfa/reset" => post(admin::reset_mfa);
    "/api/v1/departments" => get(admin::list_departments).post(admin::create_department);
    "/api/v1/roles" => get(admin::list_roles).post(admin::create_role);
    "/api/v1/roles/{key}" => put(admin::update_role).delete(admin::delete_role);
    "/api/v1/audit" => get(admin::audit);
    "/api/v1/picklists/{list}" => get(admin::picklist).put(admin::put_picklist_value);
    "/api/v1/duplicate-rules/{object}" => get(admin::get_duplicate_rules).put(admin::put_duplicate_rules);
    "/api/v1/custom-fields/{object}" => get(admin::list_custom_fields);
    "/api/v1/custom-fields/{object}/{key}" => put(admin::put_custom_field);
    "/api/v1/activities" => get(activities::list).post(activities::create);
    "/api/v1/activities/{id}" => get(activities::read)
        .patch(activities::update)
        .delete(activities::remove);
    "/api/v1/notifications" => get(activities::list_notifications);
    "/api/v1/notifications/read-all" => post(activities::mark_all_notifications_read);
    "/api/v1/notifications/{id}/read" => post(activities::mark_notification_read);
    "/api/v1/jobs" => get(activities::list_jobs);
    "/api/v1/contacts/vcard" => get(interop::export_vcards).post(interop::import_vcards);
    "/api/v1/me/calendar-feed" => get(interop::calendar_feed);
    "/api/v1/settings/smtp" => get(mail::get_smtp).put(mail::put_smtp);
    "/api/v1/settings/smtp/test" => post(mail::test_smtp);
    "/api/v1/settings/audit-anchors" => get(mail::get_anchor_mail).put(mail::put_anchor_mail);
    "/api/v1/contacts/{id}/emails" => post(mail::email_contact);
    "/api/v1/me/calendar-feed/reset" => post(interop::reset_calendar_feed);
    "/calendar/{file}" => get(interop::calendar_ics);
    "/api/v1/jobs/{id}/retry" => post(activities::retry_job);
    "/api/v1/leads/{id}/convert" => post(sales::convert);
    "/api/v1/pipelines" => get(sales::list_pipelines).post(sales::create_pipeline);
    "/api/v1/pipelines/{id}" => put(sales::update_pipeline);
    "/api/v1/opportunities/board" => get(sales::board);
    "/api/v1/price-lists" => get(documents::list_price_lists).post(documents::create_price_list);
    "/api/v1/price-lists/{id}" => put(documents::update_price_list);
    "/api/v1/quotes/{id}/contract" => post(documents::contract_from_quote);
    "/api/v1/quotes/{id}/order" => post(documents::order_from_quote);
    "/api/v1/contracts/{id}/order" => post(documents::order_from_contract);
    "/api/v1/contracts/{id}/submit" => post(documents::submit);
    "/api/v1/contracts/{id}/approve" => post(documents::approve);
    "/api/v1/contracts/{id}/reject" => post(documents::reject);
    "/api/v1/contracts/{id}/terminate" => post(documents::terminate);
    "/api/v1/contracts/{id}/approvals" => get(documents::approval_history);
    "/api/v1/contracts/{id}/payment-plan" => get(documents::get_plan).put(documents::put_plan);
    "/api/v1/approvals" => get(documents::my_approvals);
    "/api/v1/receivables" => get(documents::receivables);
    "/api/v1/imports" => get(imports::list)
        .post(imports::upload)
        .layer(axum::extract::DefaultBodyLimit::max(imports::MAX_IMPORT_BYTES));
    "/api/v1/imports/{id}" => get(imports::get_one);
    "/api/v1/imports/{id}/mapping" => put(imports::set_mapping);
    "/api/v1/imports/{id}/dry-run" => post(imports::dry_run);
    "/api/v1/imports/{id}/start" => post(imports::start);
    "/api/v1/imports/{id}/errors" => get(imports::errors);
    "/api/v1/imports/{id}/errors.csv" => get(imports::error_file);
    "/api/v1/imports/{id}/undo" => post(imports::undo);
    "/api/v1/exports" => get(exports::list).post(exports::start);
    "/api/v1/exports/{id}" => get(exports::get_one);
    "/api/v1/exports/{id}/file" => get(exports::file);
    "/api/v1/duplicates" => get(merges::scan);
    "/api/v1/merges" => get(merges::list).post(merges::create);
    "/api/v1/merges/bulk" => post(merges::bulk);
    "/api/v1/merges/{id}" => get(merges::get_one);
    "/api/v1/merges/{id}/undo" => post(merges::undo);
    "/api/v1/pool" => get(documents::pool);
    "/api/v1/pool/sweep" => post(documents::sweep);
    "/api/v1/pool/{id}/claim" => post(documents::claim);
    "/api/v1/accounts/{id}/release" => post(documents::release);
    "/api/v1/accounts/{id}/pool-history" => get(documents::pool_history);
    "/api/v1/settings/imports" => get(imports::get_retention).put(imports::put_retention);
    "/api/v1/backups" => get(backups::get).post(backups::start);
    "/api/v1/backups/drills" => post(backups::drill);
    "/api/v1/settings/backup-target" => get(backups::get_target)
        .put(backups::put_target)
        .delete(backups::delete_target);
    "/api/v1/settings/backup-target/test" => post(backups::test_target);
    "/api/v1/settings/pool" => get(documents::get_pool_settings).put(documents::put_pool_settings);
    "/api/v1/targets" => get(documents::target_progress).put(documents::set_targets);
    "/api/v1/settings/approval-flow" => get(documents::get_flow).put(documents::put_flow);
    "/api/v1/opportunities/{id}/stages" => get(sales::stage_history);
    "/api/v1/{object}" => get(records::list).post(records::create);
    "/api/v1/{object}/transfer" => post(records::transfer);
    "/api/v1/{object}/bulk" => post(records::bulk);
    "/api/v1/{object}/export" => get(records::export);
    "/api/v1/{object}/{id}" => get(records::read)
        .patch(records::update)
        .delete(records::remove);
    "/api/v1/{object}/{id}/history" => get(records::history);
    "/api/v1/{object}/{id}/timeline" => get(activities::timeline);
    "/api/v1/{object}/{id}/privacy-export" => get(records::privacy_export);
    "/api/v1/{object}/{id}/erase" => post(records::erase);
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
    allowed: &[query::Param],
) -> ApiResult<HashMap<String, String>> {
    for k in raw.keys() {
        if !allowed.iter().any(|p| p.name == k) {
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

/// The largest page any list answers; every list refuses a `limit` outside 1..=MAX_LIMIT the
/// same way instead of clamping it silently.
pub(crate) const MAX_LIMIT: u64 = 200;

/// The `limit` query parameter of a list: `default` when absent, an error naming the bounds
/// when it is 0 or above [`MAX_LIMIT`].
pub(crate) fn parse_limit(params: &HashMap<String, String>, default: u64) -> ApiResult<u64> {
    let limit = parse_u64(params, "limit")?.unwrap_or(default);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(DomainError::field(
            "limit",
            "out_of_range",
            format!("limit is between 1 and {MAX_LIMIT}"),
        )
        .into());
    }
    Ok(limit)
}

/// An RFC 3339 date-time query parameter.
pub(crate) fn time_param(
    p: &HashMap<String, String>,
    name: &str,
) -> ApiResult<Option<DateTime<Utc>>> {
    match p.get(name) {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| {
                DomainError::field(
                    name,
                    "invalid_datetime",
                    format!("{name} must be an RFC 3339 date-time"),
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
