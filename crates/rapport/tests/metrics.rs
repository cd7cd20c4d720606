//! `GET /metrics`: off unless configured, refused without its token, and in a format the
//! Prometheus text parser from PyPI reads, with requests by route and status, the pools, the
//! job queue and imports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{App, Backend};
use reqwest::StatusCode;
use serde_json::{json, Value};

const TOKEN: &str = "a-scraper-token-of-32-characters";

/// Every sample the parser read: (name, labels, value).
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.argv[1]):
    for s in family.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;

async fn scrape(app: &App, token: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(format!("{}/metrics", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

fn value(samples: &Value, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples.as_array().unwrap().iter().find_map(|s| {
        let matches = s[0] == name
            && labels
                .iter()
                .all(|(k, v)| s[1].get(*k).and_then(Value::as_str) == Some(*v));
        matches.then(|| s[2].as_f64().unwrap())
    })
}

async fn metrics_are_served_to_their_token(backend: Backend) {
    // Off by default: the route is unknown.
    let Some(plain) = App::start(backend).await else {
        return;
    };
    assert_eq!(scrape(&plain, None).await.status(), StatusCode::NOT_FOUND);
    drop(plain);

    let app = App::start_with(backend, &[("RAPPORT_METRICS_TOKEN", TOKEN)])
        .await
        .unwrap();
    assert_eq!(scrape(&app, None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        scrape(&app, Some("a-scraper-token-of-32-characterZ"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // Some traffic: a record created, one not found, an import started.
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    let (st, _) = app
        .post(&s, "/api/v1/accounts", json!({"name": "Metrics Ltd"}))
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _) = app
        .get(&s, "/api/v1/accounts/01a00000-0000-7000-8000-000000000000")
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    let res = scrape(&app, Some(TOKEN)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = res.text().await.unwrap();
    let samples = common::python(PARSE, &[&text]);
    let created = value(
        &samples,
        "rapport_http_requests_total",
        &[
            ("route", "/api/v1/{object}"),
            ("method", "POST"),
            ("status", "201"),
        ],
    );
    assert_eq!(created, Some(1.0), "{text}");
    let missing = value(
        &samples,
        "rapport_http_requests_total",
        &[("route", "/api/v1/{object}/{id}"), ("status", "404")],
    );
    assert_eq!(missing, Some(1.0), "{text}");
    let timed = value(
        &samples,
        "rapport_http_request_duration_seconds_count",
        &[("route", "/api/v1/{object}"), ("method", "POST")],
    );
    assert_eq!(timed, Some(1.0), "{text}");
    assert!(
        value(
            &samples,
            "rapport_db_pool_connections",
            &[("state", "idle")]
        )
        .is_some(),
        "{text}"
    );
    for gauge in [
        "rapport_jobs_due",
        "rapport_jobs_oldest_due_seconds",
        "rapport_jobs_failed",
        "rapport_imports_running",
        "rapport_import_rows_done",
        "rapport_exports_running",
    ] {
        assert!(value(&samples, gauge, &[]).is_some(), "{gauge} in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_to_their_token_sqlite() {
    metrics_are_served_to_their_token(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_to_their_token_postgres() {
    metrics_are_served_to_their_token(Backend::Postgres).await;
}
