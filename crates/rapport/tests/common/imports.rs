//! Imports through the API: upload a file, map it, run it and wait for it.

use super::{App, Session};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Upload `bytes` as an import of `object` records named `name`: the status and the answer.
pub async fn upload(
    app: &App,
    s: &Session,
    object: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let res = app
        .http
        .post(format!(
            "{}/api/v1/imports?object={object}&file_name={name}",
            app.base
        ))
        .bearer_auth(&s.token)
        .header("content-type", "text/csv")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let st = res.status();
    (st, res.json().await.unwrap_or(Value::Null))
}

/// Wait until the import reaches `status` (or fail after 15 minutes).
pub async fn wait_for(app: &App, s: &Session, import: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let (_, v) = app.get(s, &format!("/api/v1/imports/{import}")).await;
        if v["import"]["status"] == status {
            return v["import"].clone();
        }
        assert!(
            Instant::now() < deadline && v["import"]["status"] != "failed",
            "import stuck: {v}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Map an uploaded import with `mapping`, start it and wait until it is done.
pub async fn run_with(app: &App, s: &Session, import: &str, mapping: Value) -> Value {
    let (st, v) = app
        .call(
            s,
            Method::PUT,
            &format!("/api/v1/imports/{import}/mapping"),
            Some(mapping),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    app.post(s, &format!("/api/v1/imports/{import}/start"), json!({}))
        .await;
    wait_for(app, s, import, "done").await
}

/// Upload `file` as contacts, start it with the suggested mapping changed by `settings`
/// (such as `match_on`), wait until it is done, and return its id and final state.
pub async fn import_contacts(
    app: &App,
    s: &Session,
    name: &str,
    file: String,
    settings: &[(&str, &str)],
) -> (String, Value) {
    let (st, v) = upload(app, s, "contacts", name, file.into_bytes()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let import = v["import"]["id"].as_str().unwrap().to_string();
    let mut mapping = v["suggested"].clone();
    for (key, value) in settings {
        mapping[*key] = json!(value);
    }
    let done = run_with(app, s, &import, mapping).await;
    (import, done)
}
