//! Quick search reads each way of matching on its own, names through the name index newest
//! first (ADR 0041): the pages must be exactly those of the plain definition, newest first,
//! within the caller's scope, while records keep arriving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{App, Backend};
use reqwest::StatusCode;
use serde_json::json;

async fn pages_match_the_definition(app: App) {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let rep = app.user("rep@example.com", "sales_rep", None, None).await;
    let admin = app.login("admin@example.com").await;
    let rep_s = app.login("rep@example.com").await;
    // 14 王, 3 汪, some others; a few of the 王 owned by the rep.
    let mut wang = Vec::new();
    for i in 0..14 {
        let owner = if i % 4 == 0 {
            rep.clone()
        } else {
            String::new()
        };
        let mut body = json!({"family_name": "王", "given_name": format!("测{i}")});
        if !owner.is_empty() {
            body["owner_id"] = json!(owner);
        }
        let (s, c) = app.post(&admin, "/api/v1/contacts", body).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        wang.push((c["id"].as_str().unwrap().to_string(), !owner.is_empty()));
    }
    for name in ["汪", "汪", "汪", "李", "Wang"] {
        app.post(&admin, "/api/v1/contacts", json!({"family_name": name}))
            .await;
    }
    let mut expected: Vec<String> = wang.iter().map(|(id, _)| id.clone()).collect();
    expected.sort_by(|a, b| b.cmp(a));

    let collect = |s: common::Session, q: &'static str| {
        let app = &app;
        async move {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let path = match &cursor {
                    Some(c) => format!("/api/v1/contacts?limit=5&q={q}&cursor={c}"),
                    None => format!("/api/v1/contacts?limit=5&q={q}"),
                };
                let (st, page) = app.get(&s, &path).await;
                assert_eq!(st, StatusCode::OK, "{page}");
                for r in page["data"].as_array().unwrap() {
                    seen.push(r["id"].as_str().unwrap().to_string());
                }
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_string()),
                    None => break,
                }
            }
            seen
        }
    };
    assert_eq!(
        collect(admin.clone(), "%E7%8E%8B").await,
        expected,
        "王, newest first"
    );
    assert_eq!(
        collect(admin.clone(), "%E6%B1%AA").await.len(),
        3,
        "汪 (sparse)"
    );
    let mine: Vec<String> = expected
        .iter()
        .filter(|id| wang.iter().any(|(w, r)| w == *id && *r))
        .cloned()
        .collect();
    assert_eq!(
        collect(rep_s, "%E7%8E%8B").await,
        mine,
        "the rep sees only their own"
    );

    // Six more 汪: all nine found, the new ones first.
    let mut wang2 = Vec::new();
    for i in 0..6 {
        let (s, c) = app
            .post(
                &admin,
                "/api/v1/contacts",
                json!({"family_name": "汪", "given_name": format!("新{i}")}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        wang2.push(c["id"].as_str().unwrap().to_string());
    }
    let found = collect(admin.clone(), "%E6%B1%AA").await;
    assert_eq!(found.len(), 9, "{found:?}");
    let mut newest: Vec<String> = found[..6].to_vec();
    newest.sort();
    wang2.sort();
    assert_eq!(newest, wang2, "the six new ones first");
    let mut sorted = found.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(found, sorted, "newest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_quick_search_pages_match_the_definition() {
    let app = App::start_with(Backend::Sqlite, &[]).await.unwrap();
    pages_match_the_definition(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_quick_search_pages_match_the_definition() {
    match App::start_with(Backend::Postgres, &[]).await {
        Some(app) => pages_match_the_definition(app).await,
        None => eprintln!("RAPPORT_TEST_DATABASE_URL not set: PostgreSQL run skipped"),
    }
}
