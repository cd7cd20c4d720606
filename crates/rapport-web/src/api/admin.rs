//! Administration: users, departments, roles and field rules, picklists, duplicate rules,
//! and the audit trail. Each service checks the caller's rights itself.

use super::{parse_u64, query_params};
use crate::error::ApiResult;
use crate::extract::{Auth, Fields, JsonObject};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rapport_core::{Action, DomainError, Grants, Object, Scope};
use rapport_services::audit::{self, AuditFilter};
use rapport_services::objects;
use rapport_services::picklists::{self, PicklistValue};
use rapport_services::records::duplicates;
use rapport_services::{departments, roles, users};
use serde_json::{json, Value};
use std::collections::HashMap;

pub async fn list_users(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"data": users::list(&app.store, &auth.access).await?}),
    ))
}

pub async fn get_user(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        users::get_for(&app.store, &auth.access, &id).await?
    )))
}

pub async fn create_user(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    users::may_create(&auth.access)?;
    let f = Fields::new(
        &body,
        &[
            "email",
            "name",
            "password",
            "roles",
            "department",
            "manager_email",
            "language",
            "phone",
            "time_zone",
        ],
    )?;
    let roles = f
        .opt_str_list("roles")?
        .unwrap_or_else(|| vec!["sales_rep".into()]);
    let own = |v: Option<&str>| v.map(str::to_string);
    let spec = rapport_auth::service::UserSpec {
        email: f.str("email")?.into(),
        name: own(f.opt_str("name")?),
        password: f.str("password")?.into(),
        roles,
        department: own(f.opt_str("department")?),
        manager_email: own(f.opt_str("manager_email")?),
        language: own(f.opt_str("language")?),
        phone: own(f.opt_str("phone")?),
        time_zone: own(f.opt_str("time_zone")?),
    };
    let user = rapport_auth::service::create_user(&app.store, &auth.access, spec).await?;

    Ok((StatusCode::CREATED, Json(json!(user))).into_response())
}

pub async fn update_user(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let f = Fields::new(&body, &["active", "roles"])?;
    if let Some(active) = f.opt_bool("active")? {
        users::set_active(&app.store, &auth.access, &id, active).await?;
    }
    if let Some(roles) = f.opt_str_list("roles")? {
        users::set_roles(&app.store, &auth.access, &id, &roles).await?;
    }
    Ok(Json(json!(users::get_user(&app.store, &id)
        .await?
        .ok_or(DomainError::NotFound)?)))
}

/// A new password for a user (the user right); their sessions end.
pub async fn reset_password(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    rapport_auth::service::may_reset(&auth.access)?;
    let f = Fields::new(&body, &["new_password"])?;
    rapport_auth::service::reset_password(&app.store, &auth.access, &id, f.str("new_password")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a user's second factor (the user right); their sessions end.
pub async fn reset_mfa(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    rapport_auth::service::reset_mfa(&app.store, &auth.access, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn revoke_user_sessions(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    rapport_auth::service::revoke_all_of_user(&app.store, &auth.access, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_departments(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"data": departments::list_for(&app.store, &auth.access).await?}),
    ))
}

pub async fn create_department(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    departments::may_create(&auth.access)?;
    let f = Fields::new(&body, &["name", "parent_id"])?;
    let d = departments::create(
        &app.store,
        &auth.access,
        f.str("name")?,
        f.opt_str("parent_id")?,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(d))).into_response())
}

pub async fn list_roles(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"data": roles::list_for(&app.store, &auth.access).await?}),
    ))
}

pub async fn update_role(
    State(app): State<AppState>,
    auth: Auth,
    Path(key): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    // The right first, then the body; and the whole body checked before anything is written.
    roles::may(&auth.access, Action::Update)?;
    let f = Fields::new(
        &body,
        &[
            "permissions",
            "field_rules",
            "require_mfa",
            "name_en",
            "name_zh",
        ],
    )?;
    let current = roles::by_key(app.store.db.reader(), &key)
        .await?
        .ok_or(DomainError::NotFound)?;
    let grants = grants_from(&f, current.grants.clone())?;
    roles::check_grants(&app.store, &grants)?;
    let require_mfa = f.opt_bool("require_mfa")?.unwrap_or(current.require_mfa);
    let (name_en, name_zh) = (f.opt_str("name_en")?, f.opt_str("name_zh")?);
    if name_en.is_some() || name_zh.is_some() {
        roles::rename(
            &app.store,
            &auth.access,
            &key,
            name_en.unwrap_or(&current.name_en),
            name_zh.unwrap_or(&current.name_zh),
        )
        .await?;
    }
    Ok(Json(json!(
        roles::update(&app.store, &auth.access, &key, grants, require_mfa).await?
    )))
}

/// A time as the trail stores it (UTC, milliseconds), so that comparing the text compares the
/// instants.
fn audit_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub async fn audit(
    State(app): State<AppState>,
    auth: Auth,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    if auth.access.scope(Object::AUDIT, Action::Read) != Scope::All {
        return Err(DomainError::Forbidden("the audit trail is for administrators".into()).into());
    }
    let p = query_params(raw, super::query::AUDIT)?;
    let filter = AuditFilter {
        actor_id: p.get("actor_id").cloned(),
        action: p.get("action").cloned(),
        object_type: p.get("object_type").cloned(),
        object_id: p.get("object_id").cloned(),
        since: super::time_param(&p, "since")?.map(audit_time),
        until: super::time_param(&p, "until")?.map(audit_time),
        before_seq: parse_u64(&p, "before_seq")?
            .map(|v| {
                i64::try_from(v).map_err(|_| {
                    DomainError::field(
                        "before_seq",
                        "out_of_range",
                        "before_seq is a sequence number of the trail",
                    )
                })
            })
            .transpose()?,
        limit: super::parse_limit(&p, 100)?,
        ..Default::default()
    };
    let rows = audit::search_trail(&app.store, &auth.access, &filter).await?;
    let next = if rows.len() as u64 >= filter.limit.clamp(1, 500) {
        rows.last().map(|r| r.seq)
    } else {
        None
    };
    Ok(Json(json!({"data": rows, "next_before_seq": next})))
}

pub async fn picklist(
    State(app): State<AppState>,
    _auth: Auth,
    Path(list): Path<String>,
) -> ApiResult<Json<Value>> {
    if !picklists::DEFAULTS.iter().any(|(k, _)| *k == list) {
        return Err(DomainError::NotFound.into());
    }
    Ok(Json(
        json!({"data": picklists::values(&app.store.db, &list).await?}),
    ))
}

pub async fn put_picklist_value(
    State(app): State<AppState>,
    auth: Auth,
    Path(list): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    picklists::may_change(&auth.access)?;
    let f = Fields::new(
        &body,
        &["value", "label_en", "label_zh", "position", "active"],
    )?;
    let position = match f.opt_value("position") {
        None | Some(Value::Null) => 100,
        Some(v) => v
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| {
                DomainError::field(
                    "position",
                    "invalid_type",
                    "position must be a whole number",
                )
            })?,
    };
    let v = PicklistValue {
        list: list.clone(),
        value: f.str("value")?.trim().to_string(),
        label_en: f.str("label_en")?.trim().to_string(),
        label_zh: f.str("label_zh")?.trim().to_string(),
        position,
        active: f.opt_bool("active")?.unwrap_or(true),
    };
    picklists::upsert(&app.store, &auth.access, &v).await?;
    Ok(Json(
        json!({"data": picklists::values(&app.store.db, &list).await?}),
    ))
}

/// The record type of a duplicate-rules path: one that declares duplicate rules.
fn object_of(path: &str) -> ApiResult<Object> {
    objects::by_plural(path)
        .filter(|d| !d.hooks.duplicate_rules().is_empty())
        .map(|d| d.object)
        .ok_or_else(|| DomainError::NotFound.into())
}

pub async fn get_duplicate_rules(
    State(app): State<AppState>,
    _auth: Auth,
    Path(object): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"rules": duplicates::rules(&app.store, object_of(&object)?).await?}),
    ))
}

pub async fn put_duplicate_rules(
    State(app): State<AppState>,
    auth: Auth,
    Path(object): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    duplicates::may_change(&auth.access)?;
    let rules: duplicates::Rules = serde_json::from_value(Value::Object(body)).map_err(|e| {
        DomainError::field(
            "rules",
            "invalid",
            format!("each rule is block, warn or off: {e}"),
        )
    })?;
    Ok(Json(
        json!({"rules": duplicates::set_rules(&app.store, &auth.access, object_of(&object)?, rules).await?}),
    ))
}

/// Custom field definitions of a record type (everyone who can read them may see them).
pub async fn list_custom_fields(
    State(app): State<AppState>,
    auth: Auth,
    Path(object): Path<String>,
) -> ApiResult<Json<Value>> {
    let object = super::records::def_for(&object)?.object;
    let visible =
        rapport_services::custom_fields::list_for(&app.store, &auth.access, object).await?;
    Ok(Json(json!({"data": visible})))
}

/// Create or change a custom field (administrators).
pub async fn put_custom_field(
    State(app): State<AppState>,
    auth: Auth,
    Path((object, key)): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    rapport_services::custom_fields::may_change(&auth.access)?;
    let object = super::records::def_for(&object)?.object;
    let f = Fields::new(
        &body,
        &[
            "label_en",
            "label_zh",
            "kind",
            "options",
            "required",
            "default",
            "sensitive",
            "position",
            "active",
        ],
    )?;
    let kind_text = f.str("kind")?;
    let kind = rapport_core::custom::CustomKind::parse(kind_text).ok_or_else(|| {
        DomainError::field("kind", "invalid", format!("{kind_text} is not one of text, long_text, number, money, date, datetime, choice, multi_choice, checkbox, user, url, email, phone"))
    })?;
    let options = match f.opt_value("options") {
        None | Some(Value::Null) => vec![],
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| DomainError::field("options", "invalid", format!("options: {e}")))?,
    };
    let position = match f.opt_value("position") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| {
                DomainError::field(
                    "position",
                    "invalid_type",
                    "position must be a whole number",
                )
            })?,
    };
    let field = rapport_core::custom::CustomField {
        id: String::new(),
        object,
        key,
        label_en: f.str("label_en")?.trim().to_string(),
        label_zh: f.str("label_zh")?.trim().to_string(),
        kind,
        options,
        required: f.opt_bool("required")?.unwrap_or(false),
        default: f.opt_value("default").cloned().filter(|v| !v.is_null()),
        sensitive: f.opt_bool("sensitive")?.unwrap_or(false),
        position,
        active: f.opt_bool("active")?.unwrap_or(true),
    };
    Ok(Json(json!(
        rapport_services::custom_fields::save(&app.store, &auth.access, field).await?
    )))
}

fn grants_from(f: &Fields, mut grants: Grants) -> ApiResult<Grants> {
    if let Some(p) = f.opt_value("permissions").filter(|v| !v.is_null()) {
        grants.permissions = serde_json::from_value(p.clone()).map_err(|e| {
            DomainError::field("permissions", "invalid", format!("permissions: {e}"))
        })?;
    }
    if let Some(r) = f.opt_value("field_rules").filter(|v| !v.is_null()) {
        grants.field_rules = serde_json::from_value(r.clone()).map_err(|e| {
            DomainError::field("field_rules", "invalid", format!("field_rules: {e}"))
        })?;
    }
    Ok(grants)
}

/// Create a role: from scratch, with `permissions`/`field_rules`, or as a copy (`copy_of`).
pub async fn create_role(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    roles::may(&auth.access, Action::Create)?;
    let f = Fields::new(
        &body,
        &[
            "key",
            "name_en",
            "name_zh",
            "copy_of",
            "permissions",
            "field_rules",
            "require_mfa",
        ],
    )?;
    let given = f
        .opt_value("permissions")
        .filter(|v| !v.is_null())
        .is_some()
        || f.opt_value("field_rules")
            .filter(|v| !v.is_null())
            .is_some();
    let draft = roles::RoleDraft {
        key: f.str("key")?.to_string(),
        name_en: f.str("name_en")?.to_string(),
        name_zh: f.str("name_zh")?.to_string(),
        copy_of: f.opt_str("copy_of")?.map(str::to_string),
        grants: if given {
            Some(grants_from(&f, Grants::default())?)
        } else {
            None
        },
        require_mfa: f.opt_bool("require_mfa")?.unwrap_or(false),
    };
    let role = roles::create(&app.store, &auth.access, draft).await?;
    Ok((StatusCode::CREATED, Json(json!(role))))
}

/// Delete a role nobody holds (not a built-in one).
pub async fn delete_role(
    State(app): State<AppState>,
    auth: Auth,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    roles::delete(&app.store, &auth.access, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
