//! Cross-cutting HTTP behaviour: request ids, structured request logs, security headers,
//! no-store caching for API responses, a JSON fallback for unknown routes.

use crate::error::problem;
use crate::AppState;
use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, Request, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use serde_json::json;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

async fn security_headers(tls: bool, req: Request<Body>, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if !path.starts_with("/static/") && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// Every API error is problem+json: an error the framework answers by itself (a method the
/// route does not take, a path that is not valid UTF-8 or does not parse, a body it refuses)
/// comes as plain text and is rewritten here, its text kept as the detail and its headers
/// (`Allow`) kept.
async fn api_problems(req: Request<Body>, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"));
    if !api || status.as_u16() < 400 || is_json {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let (code, title) = match status {
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "Method not allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "Body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "Unsupported media type"),
        StatusCode::UNPROCESSABLE_ENTITY => ("malformed_body", "Malformed body"),
        StatusCode::NOT_FOUND => ("no_route", "Not found"),
        s if s.is_server_error() => ("internal", "Internal error"),
        _ => ("bad_request", "Bad request"),
    };
    let detail = if text.is_empty() || status.is_server_error() {
        match status {
            StatusCode::METHOD_NOT_ALLOWED => "this endpoint does not take that method".to_string(),
            _ => title.to_lowercase(),
        }
    } else {
        text
    };
    let mut out = problem(status, code, title, detail, json!({}));
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// No route: a page for a browser (in its language, with the site's look), a problem
/// document for everything else.
async fn fallback(uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    let wants_page = !uri.path().starts_with("/api/")
        && headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if wants_page {
        let lang = crate::ui::request_lang(&headers);
        return crate::ui::status_page(
            lang,
            StatusCode::NOT_FOUND,
            crate::ui::i18n::t(lang, "error.no_page"),
        );
    }
    problem(
        StatusCode::NOT_FOUND,
        "no_route",
        "Not found",
        "there is no such page or endpoint",
        json!({}),
    )
}

pub fn wrap(router: Router, state: &AppState) -> Router {
    let tls = state.tls;
    router
        .fallback(fallback)
        .layer(axum::middleware::from_fn(api_problems))
        .layer(axum::middleware::from_fn(move |req, next| security_headers(tls, req, next)))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
                let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
