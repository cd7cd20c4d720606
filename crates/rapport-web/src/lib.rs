//! Rapport's HTTP layer: thin handlers over the services in `rapport-services` and
//! `rapport-auth`. `api/` is the JSON API with its OpenAPI document; `metrics` counts requests for
//! `/metrics`; `middleware` adds request
//! ids, security headers and logging; `error` maps domain errors to problem+json.
// The OpenAPI document is one `json!` literal, deeper than the default limit allows.
#![recursion_limit = "256"]

pub mod api;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod ui;

use axum::extract::FromRef;
use axum::Router;
use rapport_auth::AuthSettings;
use rapport_services::Store;

#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub auth: AuthSettings,
    /// Served over TLS: cookies get the Secure flag and HSTS is sent.
    pub tls: bool,
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
    /// `GET /metrics`, when configured.
    pub metrics: Option<std::sync::Arc<metrics::Metrics>>,
}

impl FromRef<AppState> for Store {
    fn from_ref(s: &AppState) -> Store {
        s.store.clone()
    }
}

/// The whole application: API, health checks, middleware.
pub fn app(state: AppState) -> Router {
    let router = Router::new()
        .merge(api::routes())
        .merge(ui::routes())
        .route("/metrics", axum::routing::get(metrics::serve))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state.clone());
    middleware::wrap(router, &state)
}
