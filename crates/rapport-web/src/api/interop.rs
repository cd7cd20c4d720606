//! Standard formats over HTTP: vCard export and import of contacts, and the private calendar
//! feed (its address for the signed-in user, resetting it, and the feed itself).

use super::query_params;
use crate::error::ApiResult;
use crate::extract::{read_body, Auth};
use crate::AppState;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rapport_core::DomainError;
use rapport_services::interop::{calendar, vcard};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The largest vCard file accepted (cards with photos are big).
pub const MAX_VCARD_BYTES: usize = 16 * 1024 * 1024;

fn vcard_response(text: String, filename: &str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "text/vcard; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        text,
    )
        .into_response()
}

/// `GET /api/v1/contacts/vcard?ids=a,b` (or `q=` for a quick search, or everything in scope).
pub async fn export_vcards(
    State(app): State<AppState>,
    auth: Auth,
    Query(raw): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let p = query_params(raw, super::query::VCARD_EXPORT)?;
    let ids: Vec<String> = p
        .get("ids")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let (text, n) = vcard::export(&app.store, &auth.access, &ids, p.get("q").cloned()).await?;
    let name = if n == 1 && ids.len() == 1 {
        format!("contact-{}.vcf", ids[0])
    } else {
        "contacts.vcf".to_string()
    };
    Ok(vcard_response(text, &name))
}

/// Read a text body of one of `types`, up to `limit` bytes, as UTF-8.
pub async fn text_body(req: Request, types: &[&str], limit: usize) -> Result<String, Response> {
    let bytes = read_body(req, types, limit).await?;
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        crate::error::ApiError::from(DomainError::field(
            "file",
            "not_utf8",
            format!(
                "the file is not UTF-8 text (invalid byte at {})",
                e.utf8_error().valid_up_to()
            ),
        ))
        .into_response()
    })
}

/// `POST /api/v1/contacts/vcard` with a `text/vcard` body: one contact per card.
pub async fn import_vcards(
    State(app): State<AppState>,
    auth: Auth,
    req: Request,
) -> Result<Json<Value>, Response> {
    let text = text_body(
        req,
        &["text/vcard", "text/x-vcard", "text/directory"],
        MAX_VCARD_BYTES,
    )
    .await?;
    let report = vcard::import(&app.store, &auth.access, &text)
        .await
        .map_err(|e| crate::error::ApiError::from(e).into_response())?;
    Ok(Json(json!(report)))
}

fn feed_url(headers: &HeaderMap, tls: bool, token: &str) -> (String, String) {
    let path = format!("/calendar/{token}.ics");
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
        });
    let url = match host {
        Some(h) => format!("{}://{h}{path}", if tls { "https" } else { "http" }),
        None => path.clone(),
    };
    (path, url)
}

/// `GET /api/v1/me/calendar-feed`: the caller's private feed address.
pub async fn calendar_feed(
    State(app): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let token = calendar::token(&app.store, &auth.access).await?;
    let (path, url) = feed_url(&headers, app.tls, &token);
    Ok(Json(json!({"path": path, "url": url})))
}

/// `POST /api/v1/me/calendar-feed/reset`: a new address; the old one stops working.
pub async fn reset_calendar_feed(
    State(app): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let token = calendar::reset(&app.store, &auth.access).await?;
    let (path, url) = feed_url(&headers, app.tls, &token);
    Ok(Json(json!({"path": path, "url": url})))
}

/// `GET /calendar/{secret}.ics`: the feed itself (the secret is the credential).
pub async fn calendar_ics(
    State(app): State<AppState>,
    Path(file): Path<String>,
) -> ApiResult<Response> {
    let token = file.strip_suffix(".ics").ok_or(DomainError::NotFound)?;
    let body = calendar::render(&app.store, token).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"rapport.ics\"",
            ),
        ],
        body,
    )
        .into_response())
}
