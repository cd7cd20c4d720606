//! Accounts, contacts and later record types: one set of handlers over the record engine.

use super::{parse_bool, query_params};
use crate::error::ApiResult;
use crate::extract::{Auth, Fields, JsonObject};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rapport_core::DomainError;
use rapport_services::records::{self, query, ObjectDef, WriteOptions};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The record type behind a plural path segment.
pub fn def_for(plural: &str) -> ApiResult<&'static ObjectDef> {
    rapport_services::objects::by_plural(plural).ok_or_else(|| DomainError::NotFound.into())
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    Path(object): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let def = def_for(&object)?;
    let p = query_params(raw, super::query::RECORD_LIST)?;
    let filter = match p.get("filter") {
        Some(f) => Some(serde_json::from_str::<Value>(f).map_err(|e| {
            DomainError::field(
                "filter",
                "malformed_filter",
                format!("filter is not valid JSON: {e}"),
            )
        })?),
        None => None,
    };
    let params = query::ListParams {
        q: p.get("q").cloned(),
        filter,
        sort: p.get("sort").cloned(),
        limit: Some(super::parse_limit(&p, 50)?),
        cursor: p.get("cursor").cloned(),
        ..Default::default()
    };

    let page = query::list_rows(&app.store, &auth.access, def, &params).await?;
    let lens = records::Lens::new(def, &auth.access);
    let body = ListBody {
        data: page.shown(&lens),
        next_cursor: page.next_cursor.as_deref(),
    };
    // Written into a buffer sized for the page at once: axum's `Json` starts at 128 bytes and
    // grows (and copies) its buffer a dozen times for a 50-row page of ~40 KB.
    let mut buf = Vec::with_capacity(1024 * (page.len() + 1));
    serde_json::to_writer(&mut buf, &body).map_err(DomainError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], buf).into_response())
}

/// A list page: the records serialised straight from the store's rows.
#[derive(serde::Serialize)]
struct ListBody<'a> {
    data: records::ShownRows<'a>,
    next_cursor: Option<&'a str>,
}

/// The ETag of a record at `version`.
fn etag(version: i64) -> header::HeaderValue {
    header::HeaderValue::from_str(&format!("\"{version}\""))
        .unwrap_or(header::HeaderValue::from_static("\"0\""))
}

/// The version an `If-Match` header names (`"3"`, or weak `W/"3"`); `None` without one or
/// for `*` (any version).
fn if_match(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || {
        DomainError::field(
            "If-Match",
            "invalid_etag",
            "If-Match takes the ETag of the record as it was read, such as \"3\"",
        )
    };
    let text = raw.to_str().map_err(|_| bad())?.trim();
    if text == "*" {
        return Ok(None);
    }
    let tag = text.strip_prefix("W/").unwrap_or(text);
    let version = tag
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(bad)?;
    Ok(Some(version))
}

/// A record in a response, with its ETag.
fn seen(status: StatusCode, rec: records::Seen, location: Option<String>) -> Response {
    let mut res = (status, Json(rec.json)).into_response();
    res.headers_mut().insert(header::ETAG, etag(rec.version));
    if let Some(l) = location.and_then(|l| header::HeaderValue::from_str(&l).ok()) {
        res.headers_mut().insert(header::LOCATION, l);
    }
    res
}

pub async fn create(
    State(app): State<AppState>,
    auth: Auth,
    Path(object): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let def = def_for(&object)?;
    let p = query_params(raw, super::query::RECORD_WRITE)?;
    let opts = WriteOptions {
        override_duplicates: parse_bool(&p, "override_duplicates")?,
        ..WriteOptions::default()
    };
    let rec = records::create_seen(&app.store, &auth.access, def, &body, opts).await?;
    let location = format!(
        "/api/v1/{object}/{}",
        rec.json["id"].as_str().unwrap_or_default()
    );
    Ok(seen(StatusCode::CREATED, rec, Some(location)))
}

pub async fn read(
    State(app): State<AppState>,
    auth: Auth,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let def = def_for(&object)?;
    let rec = records::read_seen(&app.store, &auth.access, def, &id).await?;
    Ok(seen(StatusCode::OK, rec, None))
}

/// Change fields of a record. With `If-Match`, only if the record is still at that version
/// (409 `version_conflict` otherwise); without, the change is still made only to the record
/// as it was checked.
pub async fn update(
    State(app): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path((object, id)): Path<(String, String)>,
    Query(raw): Query<HashMap<String, String>>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let def = def_for(&object)?;
    let p = query_params(raw, super::query::RECORD_WRITE)?;
    let opts = WriteOptions {
        override_duplicates: parse_bool(&p, "override_duplicates")?,
        if_version: if_match(&headers)?,
    };
    let rec = records::update_seen(&app.store, &auth.access, def, &id, &body, opts).await?;
    Ok(seen(StatusCode::OK, rec, None))
}

pub async fn remove(
    State(app): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let def = def_for(&object)?;
    records::delete(&app.store, &auth.access, def, &id, if_match(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn transfer(
    State(app): State<AppState>,
    auth: Auth,
    Path(object): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let def = def_for(&object)?;
    if def.field("owner_id").is_none() {
        // A type without owners has no transfer route.
        return Err(DomainError::NotFound.into());
    }
    records::may(&auth.access, def, rapport_core::Action::Transfer)?;
    let f = Fields::new(&body, &["ids", "owner_id", "reason"])?;
    let ids = f
        .opt_str_list("ids")?
        .ok_or_else(|| DomainError::field("ids", "required", "ids is required"))?;
    let n = records::transfer(
        &app.store,
        &auth.access,
        def,
        &ids,
        f.str("owner_id")?,
        f.str("reason")?,
    )
    .await?;
    Ok(Json(json!({"transferred": n})))
}

/// The field change history of one record, from the audit trail (needs read access to it).
pub async fn history(
    State(app): State<AppState>,
    auth: Auth,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let def = def_for(&object)?;
    let rows = records::history(&app.store, &auth.access, def, &id, 200).await?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let changes = r.details.get("changes").cloned().unwrap_or(Value::Null);
            json!({"at": r.at, "action": r.action, "record_id": r.object_id, "actor_id": r.actor_id, "actor_email": r.actor_email, "changes": changes, "reason": r.details.get("reason")})
        })
        .collect();
    Ok(Json(json!({"data": data})))
}

/// Everything held about one contact, as a JSON download.
pub async fn privacy_export(
    State(app): State<AppState>,
    auth: Auth,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let def = def_for(&object)?;
    let doc = rapport_services::privacy::export(&app.store, &auth.access, def, &id).await?;
    let disposition = format!("attachment; filename=\"{}-{id}.json\"", def.key());
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(doc)).into_response())
}

/// Erase a person's data, a contact's or a lead's (a reason is required).
pub async fn erase(
    State(app): State<AppState>,
    auth: Auth,
    Path((object, id)): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let def = def_for(&object)?;
    // Only types that hold a person have this route: 404 before the body is read.
    rapport_services::privacy::ensure_erasable(def)?;
    let f = Fields::new(&body, &["reason"])?;
    rapport_services::privacy::erase(&app.store, &auth.access, def, &id, f.str("reason")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The fields a bulk action may carry besides ids, all_matching and action.
pub const BULK_ACTION_FIELDS: &[&str] = &["owner_id", "reason", "tag", "field", "value", "confirm"];

/// The fields of [`BULK_ACTION_FIELDS`] that `action` takes.
pub fn bulk_fields(action: &str) -> &'static [&'static str] {
    match action {
        "assign_owner" => &["owner_id", "reason"],
        "add_tag" | "remove_tag" => &["tag"],
        "set_field" => &["field", "value"],
        "delete" => &["confirm"],
        _ => &[],
    }
}

/// Parse a bulk request body into target and action (shared with the UI).
pub fn parse_bulk(
    body: &serde_json::Map<String, Value>,
) -> ApiResult<(records::bulk::Target, records::bulk::BulkAction)> {
    use records::bulk::{BulkAction, Target};
    let f = Fields::new(
        body,
        &[
            "ids",
            "all_matching",
            "action",
            "owner_id",
            "reason",
            "tag",
            "field",
            "value",
            "confirm",
        ],
    )?;
    for name in ["owner_id", "reason", "tag", "field"] {
        f.opt_str(name)?;
    }
    f.opt_bool("confirm")?;
    // Each action takes its own fields and no others, so a mistaken request (a tag sent with
    // delete) is refused instead of half-read.
    let action_name = f.str("action")?;
    for name in BULK_ACTION_FIELDS {
        if body.contains_key(*name) && !bulk_fields(action_name).contains(name) {
            return Err(DomainError::field(
                *name,
                "unknown_field",
                format!("{action_name} does not take {name}"),
            )
            .into());
        }
    }
    if let Some(owner) = f.opt_str("owner_id")? {
        if !rapport_core::ids::is_valid_id(owner) {
            return Err(
                DomainError::field("owner_id", "invalid_id", "owner_id must be a user id").into(),
            );
        }
    }
    let target = match (f.opt_str_list("ids")?, f.opt_value("all_matching")) {
        (Some(ids), None) => Target::Ids(ids),
        (None, Some(Value::Object(m))) => {
            for k in m.keys() {
                if !matches!(k.as_str(), "q" | "filter") {
                    return Err(DomainError::field(
                        format!("all_matching.{k}"),
                        "unknown_field",
                        format!("all_matching has no field {k}"),
                    )
                    .into());
                }
            }
            Target::Matching(query::ListParams {
                q: m.get("q").and_then(Value::as_str).map(str::to_string),
                filter: m.get("filter").cloned().filter(|v| !v.is_null()),
                ..Default::default()
            })
        }
        (Some(_), Some(_)) => {
            return Err(DomainError::field(
                "ids",
                "conflicting_fields",
                "send either ids or all_matching",
            )
            .into())
        }
        _ => return Err(DomainError::field("ids", "required", "send ids or all_matching").into()),
    };
    let need = |name: &str| -> ApiResult<String> { Ok(f.str(name)?.to_string()) };
    let action = match f.str("action")? {
        "assign_owner" => BulkAction::AssignOwner {
            owner_id: need("owner_id")?,
            reason: need("reason")?,
        },
        "add_tag" => BulkAction::AddTag(need("tag")?.trim().to_string()),
        "remove_tag" => BulkAction::RemoveTag(need("tag")?.trim().to_string()),
        "set_field" => BulkAction::SetField {
            field: need("field")?,
            value: f.opt_value("value").cloned().unwrap_or(Value::Null),
        },
        "delete" => {
            if f.opt_bool("confirm")? != Some(true) {
                return Err(DomainError::field(
                    "confirm",
                    "confirmation_required",
                    "deleting in bulk needs \"confirm\": true",
                )
                .into());
            }
            BulkAction::Delete
        }
        other => {
            return Err(DomainError::field(
                "action",
                "unknown_action",
                format!(
                    "{other} is not one of assign_owner, add_tag, remove_tag, set_field, delete"
                ),
            )
            .into())
        }
    };
    Ok((target, action))
}

pub async fn bulk(
    State(app): State<AppState>,
    auth: Auth,
    Path(object): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let def = def_for(&object)?;
    // The right before the body: the action (and so the exact right) is in the body.
    records::may_any(
        &auth.access,
        def,
        &[
            rapport_core::Action::Update,
            rapport_core::Action::Delete,
            rapport_core::Action::Transfer,
        ],
    )?;
    let (target, action) = parse_bulk(&body)?;
    let res = records::bulk::run(&app.store, &auth.access, def, target, action).await?;
    Ok(Json(json!(res)))
}

/// Every exportable column of a record type: built-in fields, then active custom fields.
pub async fn export_columns(
    store: &rapport_services::Store,
    def: &ObjectDef,
    zh: Option<bool>,
) -> ApiResult<Vec<(String, String)>> {
    let mut cols: Vec<(String, String)> = def
        .fields
        .iter()
        .filter(|f| !matches!(f.kind, rapport_core::fields::FieldKind::JsonObject))
        .map(|f| {
            (
                f.name.to_string(),
                match zh {
                    Some(true) => f.label_zh.to_string(),
                    Some(false) => f.label_en.to_string(),
                    None => f.name.to_string(),
                },
            )
        })
        .collect();
    for c in rapport_services::custom_fields::active(store, def.object).await? {
        let header = match zh {
            Some(z) => c.label(z).to_string(),
            None => c.key.clone(),
        };
        cols.push((c.key.clone(), header));
    }
    cols.push(("created_at".into(), "created_at".into()));
    cols.push(("updated_at".into(), "updated_at".into()));
    Ok(cols)
}

/// What to export and how, from the parameters of an export request: `q`, `filter` (JSON),
/// `cols` (comma-separated field keys), `sort`, `format` (csv or xlsx).
pub(crate) async fn export_request(
    app: &AppState,
    def: &ObjectDef,
    p: &HashMap<String, String>,
) -> ApiResult<(records::export::ExportSpec, records::export::Format)> {
    let format = match p.get("format").map(String::as_str) {
        None => records::export::Format::Csv,
        Some(f) => records::export::Format::parse(f).ok_or_else(|| {
            DomainError::field("format", "invalid_choice", "format must be csv or xlsx")
        })?,
    };
    let filter = match p.get("filter") {
        Some(f) => Some(serde_json::from_str::<Value>(f).map_err(|e| {
            DomainError::field(
                "filter",
                "malformed_filter",
                format!("filter is not valid JSON: {e}"),
            )
        })?),
        None => None,
    };
    let all_cols = export_columns(&app.store, def, None).await?;
    let cols = match p.get("cols") {
        Some(list) => {
            let mut out = Vec::new();
            for k in list.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                let c = all_cols.iter().find(|(key, _)| key == k).ok_or_else(|| {
                    DomainError::field(
                        "cols",
                        "unknown_field",
                        format!("there is no column named {k}"),
                    )
                })?;
                out.push(c.clone());
            }
            out
        }
        None => all_cols,
    };
    let spec = records::export::ExportSpec {
        q: p.get("q").cloned(),
        filter,
        sort: p.get("sort").cloned(),
        columns: cols,
    };
    Ok((spec, format))
}

/// Export of a list at once (CSV or XLSX; up to 50,000 records).
pub async fn export(
    State(app): State<AppState>,
    auth: Auth,
    Path(object): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let def = def_for(&object)?;
    let p = query_params(raw, super::query::RECORD_EXPORT)?;
    let (spec, format) = export_request(&app, def, &p).await?;
    let bytes = records::export::export(&app.store, &auth.access, def, &spec, format).await?;
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{object}.{}\"", format.extension()),
            ),
        ],
        bytes,
    )
        .into_response())
}
