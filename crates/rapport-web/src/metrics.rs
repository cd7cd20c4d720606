//! `GET /metrics` in the Prometheus text format (OpenMetrics): requests by route and status,
//! their latency, the database pools, the job queue and the imports and exports under way.
//! Off unless configured: with a token (`RAPPORT_METRICS_TOKEN`) a scraper sends it as a
//! bearer token; `RAPPORT_METRICS=open` serves it to anyone who reaches the server (for a
//! private network). Otherwise the route answers 404 like any unknown path.

use crate::AppState;
use axum::body::Body;
use axum::extract::{MatchedPath, State};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Who may read the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Those who send this bearer token.
    Token(String),
    /// Anyone who reaches the server.
    Open,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReadLabels {
    on: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: String,
    state: String,
}

/// The registry and what it holds.
pub struct Metrics {
    access: Access,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pool: Family<PoolLabels, Gauge>,
    bulk_reads: Family<ReadLabels, Gauge>,
    jobs_due: Gauge,
    jobs_oldest_due: Gauge<f64, AtomicU64>,
    jobs_running: Gauge,
    jobs_failed: Gauge,
    imports_running: Gauge,
    import_rows: Gauge,
    import_rows_done: Gauge,
    exports_running: Gauge,
    backup_continuous: Gauge,
    backup_age: Gauge<f64, AtomicU64>,
    backup_failures: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new(access: Access) -> Metrics {
        let mut registry = Registry::with_prefix("rapport");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer, by method and route",
            latency.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections, by pool and state (idle or in use)",
            pool.clone(),
        );
        let bulk_reads = Family::<ReadLabels, Gauge>::default();
        registry.register(
            "db_bulk_reads",
            "Bulk reads (exports) since the process started, by where they read: the read replica, or the primary when the replica had not caught up (only with a read replica)",
            bulk_reads.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let seconds = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::<f64, AtomicU64>::default();
            registry.register(name, help, g.clone());
            g
        };
        let jobs_due = gauge(&mut registry, "jobs_due", "Jobs due now and not started");
        let jobs_oldest_due = seconds(
            &mut registry,
            "jobs_oldest_due_seconds",
            "How long the oldest job due has waited",
        );
        let jobs_running = gauge(&mut registry, "jobs_running", "Jobs running");
        let jobs_failed = gauge(
            &mut registry,
            "jobs_failed",
            "Jobs that used up their attempts",
        );
        let imports_running = gauge(&mut registry, "imports_running", "Imports under way");
        let import_rows = gauge(
            &mut registry,
            "import_rows",
            "Rows of the imports under way",
        );
        let import_rows_done = gauge(
            &mut registry,
            "import_rows_done",
            "Rows of the imports under way already processed",
        );
        let exports_running = gauge(&mut registry, "exports_running", "Exports being written");
        let backup_continuous = gauge(
            &mut registry,
            "backup_continuous",
            "1 while this process backs its SQLite database up continuously",
        );
        let backup_age = seconds(
            &mut registry,
            "backup_age_seconds",
            "How far behind now the newest moment a restore reaches is",
        );
        let backup_failures = gauge(
            &mut registry,
            "backup_failures",
            "Backups (files of a continuous backup, scheduled copies) that failed since the process started",
        );
        Metrics {
            access,
            registry,
            requests,
            latency,
            pool,
            bulk_reads,
            jobs_due,
            jobs_oldest_due,
            jobs_running,
            jobs_failed,
            imports_running,
            import_rows,
            import_rows_done,
            exports_running,
            backup_continuous,
            backup_age,
            backup_failures,
        }
    }
}

/// Count and time every request a route answered (route layer: the matched route's pattern
/// is the label, so ids in paths do not make new series).
pub async fn track(State(state): State<AppState>, req: Request<Body>, next: Next) -> Response {
    let Some(metrics) = state.metrics.clone() else {
        return next.run(req).await;
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().as_str().to_string();
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    metrics
        .latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: res.status().as_u16(),
        })
        .inc();
    res
}

/// `GET /metrics`.
pub async fn serve(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(metrics) = state.metrics.clone() else {
        return not_found();
    };
    if let Access::Token(token) = &metrics.access {
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let matches = sent.is_some_and(|s| {
            // Compared in constant time: the token is a secret.
            s.len() == token.len()
                && s.bytes()
                    .zip(token.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        });
        if !matches {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "the metrics need their token\n",
            )
                .into_response();
        }
    }
    refresh(&state, &metrics).await;
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &metrics.registry) {
        tracing::warn!(error = %e, "encoding the metrics failed");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The gauges read at each scrape: the pools, and the work held in the database.
async fn refresh(state: &AppState, m: &Metrics) {
    for (pool, size, idle) in state.store.db.pool_stats() {
        let idle = i64::try_from(idle).unwrap_or(i64::MAX);
        let label = |s: &str| PoolLabels {
            pool: pool.to_string(),
            state: s.to_string(),
        };
        m.pool.get_or_create(&label("idle")).set(idle);
        m.pool
            .get_or_create(&label("in_use"))
            .set((i64::from(size) - idle).max(0));
    }
    if let Some((replica, primary)) = state.store.db.replica_reads() {
        let on = |s: &str| ReadLabels { on: s.to_string() };
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        m.bulk_reads.get_or_create(&on("replica")).set(n(replica));
        m.bulk_reads.get_or_create(&on("primary")).set(n(primary));
    }
    {
        let status = state.store.backup_status();
        let s = status.lock().unwrap_or_else(|p| p.into_inner()).clone();
        m.backup_continuous.set(i64::from(s.running));
        // Without a continuous backup: the newest backup in the directory (scheduled copies,
        // rapport backup).
        let newest = match (s.last_point, state.store.settings.backup.as_ref()) {
            (Some(p), _) => Some(p),
            (None, Some(b)) => {
                let dir = b.dir.clone();
                tokio::task::spawn_blocking(move || {
                    rapport_services::backup::Repo::new(dir)
                        .generations()
                        .ok()?
                        .iter()
                        .rev()
                        .find_map(|g| g.last_point())
                })
                .await
                .ok()
                .flatten()
            }
            (None, None) => None,
        };
        if let Some(p) = newest {
            let age = (state.store.now() - p).num_milliseconds() as f64 / 1000.0;
            m.backup_age.set(age.max(0.0));
        }
        m.backup_failures
            .set(i64::try_from(s.failures).unwrap_or(i64::MAX));
    }
    match rapport_services::health::snapshot(&state.store).await {
        Ok(s) => {
            m.jobs_due.set(s.jobs_due);
            m.jobs_oldest_due.set(s.jobs_oldest_due_secs);
            m.jobs_running.set(s.jobs_running);
            m.jobs_failed.set(s.jobs_failed);
            m.imports_running.set(s.imports_running);
            m.import_rows.set(s.import_rows);
            m.import_rows_done.set(s.import_rows_done);
            m.exports_running.set(s.exports_running);
        }
        Err(e) => tracing::warn!(error = %e, "reading the job queue for the metrics failed"),
    }
}

fn not_found() -> Response {
    crate::error::problem(
        StatusCode::NOT_FOUND,
        "no_route",
        "Not found",
        "there is no such page or endpoint",
        serde_json::json!({}),
    )
}

/// The metrics of a server configured with `access`, if any.
pub fn configured(access: Option<Access>) -> Option<Arc<Metrics>> {
    access.map(|a| Arc::new(Metrics::new(a)))
}
