//! The one mapping from domain errors to HTTP: `application/problem+json` (RFC 9457) with a
//! stable machine `code`, the offending fields listed, and internal details logged with the
//! request id but never returned.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rapport_core::{DomainError, FieldError};
use serde_json::{json, Value};

#[derive(Debug)]
pub struct ApiError(pub DomainError);

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

pub fn problem(
    status: StatusCode,
    code: &str,
    title: &str,
    detail: impl Into<String>,
    extra: Value,
) -> Response {
    let mut body = json!({
        "type": format!("https://rapport.dev/problems/{code}"),
        "title": title,
        "status": status.as_u16(),
        "code": code,
        "detail": detail.into(),
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

pub fn field_errors_json(errors: &[FieldError]) -> Value {
    Value::Array(
        errors
            .iter()
            .map(|e| json!({"field": e.field, "code": e.code, "message": e.message}))
            .collect(),
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.0 {
            DomainError::NotFound => problem(
                StatusCode::NOT_FOUND,
                "not_found",
                "Not found",
                "no such record, or you may not see it",
                json!({}),
            ),
            DomainError::Validation(errors) => {
                let names: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                let detail = match errors.first() {
                    Some(first) if errors.len() == 1 => first.message.clone(),
                    _ => format!("invalid fields: {}", names.join(", ")),
                };
                problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    "Validation failed",
                    detail,
                    json!({"errors": field_errors_json(&errors)}),
                )
            }
            DomainError::Duplicate {
                rule,
                matches,
                overridable,
            } => problem(
                StatusCode::CONFLICT,
                "duplicate",
                "Likely duplicate",
                if overridable {
                    format!("similar records exist (rule {rule}); repeat with ?override_duplicates=true to save anyway")
                } else {
                    format!("a record with the same {rule} exists")
                },
                json!({"rule": rule, "duplicates": matches, "overridable": overridable}),
            ),
            DomainError::Conflict(m) => {
                problem(StatusCode::CONFLICT, "conflict", "Conflict", m, json!({}))
            }
            DomainError::VersionConflict => problem(
                StatusCode::CONFLICT,
                "version_conflict",
                "Changed meanwhile",
                "the record changed since you read it; read it again and repeat the change",
                json!({}),
            ),
            DomainError::Forbidden(m) => problem(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Forbidden",
                m,
                json!({}),
            ),
            DomainError::Unauthenticated => problem(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Sign-in required",
                "sign in or send a valid bearer token",
                json!({}),
            ),
            DomainError::InvalidCredentials => problem(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Sign-in failed",
                "the email or password is not correct",
                json!({}),
            ),
            DomainError::MfaRequired => problem(
                StatusCode::UNAUTHORIZED,
                "mfa_required",
                "Second factor required",
                "send the code from your authenticator app as totp",
                json!({}),
            ),
            DomainError::SetupDone => problem(
                StatusCode::CONFLICT,
                "setup_done",
                "Already set up",
                "the first administrator exists already",
                json!({}),
            ),
            DomainError::RateLimited { retry_after_secs } => {
                let mut res = problem(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "Too many attempts",
                    format!("try again in {retry_after_secs} seconds"),
                    json!({"retry_after": retry_after_secs}),
                );
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
                res
            }
            DomainError::Upstream(detail) => problem(
                StatusCode::BAD_GATEWAY,
                "upstream_failed",
                "Upstream failure",
                detail,
                json!({}),
            ),
            DomainError::Storage(rapport_core::StorageError::Unique { constraint }) => {
                tracing::info!(constraint, "unique key taken");
                problem(
                    StatusCode::CONFLICT,
                    "conflict",
                    "Conflict",
                    "another request wrote the same key meanwhile; read the record again",
                    json!({}),
                )
            }
            DomainError::Storage(rapport_core::StorageError::Unavailable(detail)) => {
                tracing::error!(error = %detail, "database unavailable");
                let mut res = problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "the database did not answer in time; try again shortly",
                    json!({}),
                );
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                res
            }
            DomainError::Storage(detail) => {
                tracing::error!(error = %detail, "database error");
                problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error", "something went wrong on our side; the request id is in the x-request-id header", json!({}))
            }
            DomainError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error", "something went wrong on our side; the request id is in the x-request-id header", json!({}))
            }
        }
    }
}
