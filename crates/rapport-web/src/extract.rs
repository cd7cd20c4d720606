//! Request extractors: JSON bodies with clear errors, the authenticated caller, client info.

use crate::error::{problem, ApiError};
use crate::AppState;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rapport_core::DomainError;
use rapport_services::access::Access;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;

pub const SESSION_COOKIE: &str = "rapport_session";

/// Read a request body of one of the media `types`, at most `limit` bytes; a wrong content type
/// (415) or an oversized body (413, connection closed) is refused with problem+json.
pub async fn read_body(
    req: Request,
    types: &[&str],
    limit: usize,
) -> Result<axum::body::Bytes, Response> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !types.iter().any(|t| ct.starts_with(t)) {
        return Err(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            format!("send the body as {}", types.join(" or ")),
            json!({}),
        ));
    }
    let too_large = || {
        let mut res = problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "Body too large",
            format!("the request body is larger than {limit} bytes"),
            json!({}),
        );
        // The rest of the body was not read: the connection cannot be reused.
        res.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        res
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // Collected into one buffer sized from the declared length: a large upload is held once
    // (gathering its frames first and joining them would hold it twice).
    let mut buf = Vec::with_capacity(declared.unwrap_or(0));
    let mut frames = req.into_body().into_data_stream();
    while let Some(frame) = futures_util::StreamExt::next(&mut frames).await {
        let frame = frame.map_err(|_| {
            problem(
                StatusCode::BAD_REQUEST,
                "malformed_body",
                "Malformed body",
                "the request body could not be read",
                json!({}),
            )
        })?;
        if buf.len() + frame.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&frame);
    }
    Ok(buf.into())
}

/// A JSON object body. Malformed JSON, a non-object, a wrong content type or an oversized
/// body are refused with problem+json before any handler runs.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject
where
    AppState: axum::extract::FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let app: AppState = axum::extract::FromRef::from_ref(state);
        let bytes = read_body(req, &["application/json"], app.max_body).await?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
            problem(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "Malformed JSON",
                format!("the body is not valid JSON: {e}"),
                json!({"line": e.line(), "column": e.column()}),
            )
        })?;
        match integral(v) {
            Value::Object(m) => Ok(JsonObject(m)),
            _ => Err(problem(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "Malformed JSON",
                "the body must be a JSON object",
                json!({}),
            )),
        }
    }
}

/// Read typed fields out of a JSON object, naming the field on any error.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    allowed: &'a [&'a str],
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>, allowed: &'a [&'a str]) -> Result<Self, ApiError> {
        for k in map.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(DomainError::field(
                    k.clone(),
                    "unknown_field",
                    format!("there is no field named {k}"),
                )
                .into());
            }
        }
        Ok(Fields { map, allowed })
    }

    pub fn opt_str(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        debug_assert!(self.allowed.contains(&name));
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => {
                Err(
                    DomainError::field(name, "invalid_type", format!("{name} must be a string"))
                        .into(),
                )
            }
        }
    }

    pub fn str(&self, name: &str) -> Result<&'a str, ApiError> {
        self.opt_str(name)?.ok_or_else(|| {
            DomainError::field(name, "required", format!("{name} is required")).into()
        })
    }

    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(DomainError::field(
                name,
                "invalid_type",
                format!("{name} must be true or false"),
            )
            .into()),
        }
    }

    pub fn opt_str_list(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        DomainError::field(
                            name,
                            "invalid_type",
                            format!("{name} must be an array of strings"),
                        )
                        .into()
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()
                .map(Some),
            Some(_) => Err(DomainError::field(
                name,
                "invalid_type",
                format!("{name} must be an array of strings"),
            )
            .into()),
        }
    }

    pub fn opt_value(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name)
    }
}

/// Where a request came from, for the audit trail and throttling.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(300).collect());
        Ok(Client { ip, user_agent })
    }
}

/// The token a request presents: `Authorization: Bearer`, else the session cookie.
pub fn presented_token(parts: &Parts) -> Option<(String, bool)> {
    if let Some(auth) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
        {
            return Some((t.trim().to_string(), false));
        }
    }
    cookie(parts, SESSION_COOKIE).map(|c| (c, true))
}

pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    cookie_in(&parts.headers, name)
}

/// The value of cookie `name` among `headers`.
pub fn cookie_in(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    for h in headers.get_all(header::COOKIE) {
        let Ok(s) = h.to_str() else { continue };
        for pair in s.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                if k == name {
                    return Some(v.to_string());
                }
            }
        }
    }
    None
}

/// The CSRF token bound to a session token (double-submit without server state).
pub fn csrf_for(session_token: &str) -> String {
    rapport_auth::token::hash_token(&format!("csrf:{session_token}"))[..32].to_string()
}

/// The authenticated caller. Cookie-authenticated unsafe requests must carry the CSRF token.
pub struct Auth {
    /// The caller's rights, resolved once for the request.
    pub access: Access,
    pub user: rapport_services::users::User,
    pub token: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Auth
where
    AppState: axum::extract::FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app: AppState = axum::extract::FromRef::from_ref(state);
        let client = Client::from_request_parts(parts, state)
            .await
            .unwrap_or(Client {
                ip: None,
                user_agent: None,
            });
        let (token, via_cookie) = presented_token(parts)
            .ok_or_else(|| ApiError(DomainError::Unauthenticated).into_response())?;
        if via_cookie && !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if sent != csrf_for(&token) {
                return Err(problem(
                    StatusCode::FORBIDDEN,
                    "csrf_failed",
                    "CSRF check failed",
                    "send the x-csrf-token header from the page",
                    json!({}),
                ));
            }
        }
        let authed = rapport_auth::service::authenticate(
            &app.store,
            &app.auth,
            &token,
            client.ip,
            client.user_agent,
        )
        .await
        .map_err(|e| ApiError(e).into_response())?;
        let path = parts.uri.path();
        if authed.must_enrol_mfa
            && !(path.starts_with("/api/v1/me")
                || path.starts_with("/api/v1/auth/")
                || path.starts_with("/me"))
        {
            return Err(problem(
                StatusCode::FORBIDDEN,
                "mfa_enrolment_required",
                "Set up two-factor sign-in",
                "your role requires two-factor sign-in: enrol at /api/v1/me/mfa/enroll first",
                json!({}),
            ));
        }
        let mut principal = authed.principal;
        // An administrator may preview what another user sees (read-only).
        if let Some(target) = parts.headers.get("x-view-as").and_then(|v| v.to_str().ok()) {
            if !principal.is_admin() {
                return Err(ApiError(DomainError::Forbidden(
                    "view as is for administrators".into(),
                ))
                .into_response());
            }
            let user = rapport_services::users::get_user(&app.store, target)
                .await
                .map_err(|e| ApiError(e).into_response())?
                .ok_or_else(|| ApiError(DomainError::NotFound).into_response())?;
            let (mut viewed, _) = rapport_auth::service::principal_for(
                &app.store,
                &user,
                principal.session_id.clone(),
                principal.token_id.clone(),
                true,
                principal.ip.clone(),
                principal.user_agent.clone(),
            )
            .await
            .map_err(|e| ApiError(e).into_response())?;
            viewed.viewed_by = Some(principal.user_id.clone());
            principal = viewed;
        }
        // Read-only (a read-only token, a preview as another user) means no change of state
        // at all, whoever's state it is; only signing out is left.
        if principal.read_only
            && !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
            && path != "/api/v1/auth/logout"
        {
            return Err(problem(
                StatusCode::FORBIDDEN,
                "read_only",
                "Read-only access",
                "this token or preview is read-only: it cannot change anything",
                json!({}),
            ));
        }
        let access = Access::resolve(&app.store, principal)
            .await
            .map_err(|e| ApiError(e).into_response())?;
        Ok(Auth {
            access,
            user: authed.user,
            token,
        })
    }
}

/// JSON does not tell 3 from 3.0: a number with no fraction is read as the integer it is, so
/// fields that take whole numbers accept either spelling.
fn integral(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => json!(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, integral(v))).collect()),
        other => other,
    }
}
