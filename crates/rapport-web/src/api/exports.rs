//! Exports in the background: start one, watch its progress, download the file.

use super::records::{def_for, export_request};
use crate::error::ApiResult;
use crate::extract::{Auth, JsonObject};
use crate::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rapport_core::DomainError;
use rapport_services::exports::{self, Export};
use serde_json::{json, Value};
use std::collections::HashMap;

pub fn export_json(e: &Export) -> Value {
    let mut v = json!(e);
    v["percent"] = json!(e.percent());
    v["file_name"] = json!(e.file_name());
    v
}

/// `POST /api/v1/exports` `{object, q, filter, sort, cols, format}`
pub async fn start(
    State(app): State<AppState>,
    auth: Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut p = HashMap::new();
    for (k, v) in body {
        let text = match (k.as_str(), v) {
            (_, Value::Null) => continue,
            ("filter", v @ (Value::Object(_) | Value::Array(_))) => v.to_string(),
            (_, Value::String(s)) => s,
            ("cols", Value::Array(a)) => a
                .iter()
                .map(|c| c.as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
                .join(","),
            (k, _) => {
                return Err(
                    DomainError::field(k, "invalid", format!("{k} has the wrong type")).into(),
                )
            }
        };
        if !["object", "q", "filter", "sort", "cols", "format"].contains(&k.as_str()) {
            return Err(DomainError::field(
                k.clone(),
                "unknown_field",
                format!("unknown field {k}"),
            )
            .into());
        }
        p.insert(k, text);
    }
    let plural = p.remove("object").unwrap_or_default();
    let def = def_for(&plural).map_err(|_| {
        DomainError::field(
            "object",
            "invalid_choice",
            "object is a record type such as accounts",
        )
    })?;
    let (spec, format) = export_request(&app, def, &p).await?;
    let e = exports::start(&app.store, &auth.access, def, spec, format).await?;
    Ok((StatusCode::ACCEPTED, Json(export_json(&e))))
}

pub async fn list(State(app): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    let list = exports::list(&app.store, &auth.access).await?;
    Ok(Json(
        json!({"data": list.iter().map(export_json).collect::<Vec<_>>()}),
    ))
}

pub async fn get_one(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let e = exports::read(&app.store, &auth.access, &id).await?;
    Ok(Json(export_json(&e)))
}

/// The finished file, streamed chunk by chunk.
pub async fn file(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    download(&app, &auth.access, &id).await
}

pub(crate) async fn download(
    app: &AppState,
    actor: &rapport_services::access::Access,
    id: &str,
) -> ApiResult<Response> {
    let (exp, chunks) = exports::chunk_count(&app.store, actor, id).await?;
    let store = app.store.clone();
    let id = id.to_string();
    let stream = futures_util::stream::unfold(0i64, move |seq| {
        let store = store.clone();
        let id = id.clone();
        async move {
            if seq >= chunks {
                return None;
            }
            let item = exports::chunk_unchecked(&store, &id, seq)
                .await
                .map_err(|e| std::io::Error::other(e.to_string()));
            Some((item, seq + 1))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, exp.format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", exp.file_name()),
            ),
            (header::CONTENT_LENGTH, exp.bytes.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
