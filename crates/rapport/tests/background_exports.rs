//! Exports in the background: progress, the finished file (CSV with a BOM, XLSX), only for
//! the user who asked, hidden fields and scope as in a direct export, no export right → 403,
//! and a list larger than a direct export can carry (50,000) exported whole.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{id, App, Session};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn wait_done(app: &App, s: &Session, export: &str) -> Value {
    for _ in 0..600 {
        let (st, e) = app.get(s, &format!("/api/v1/exports/{export}")).await;
        assert_eq!(st, StatusCode::OK, "{e}");
        if matches!(e["status"].as_str(), Some("done" | "failed")) {
            return e;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("export {export} did not finish");
}

async fn file(app: &App, s: &Session, export: &str) -> (StatusCode, Vec<u8>) {
    let res = app
        .http
        .get(format!("{}/api/v1/exports/{export}/file", app.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    (res.status(), res.bytes().await.unwrap().to_vec())
}

story!(background_export_for_its_owner_only, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.user("rep.a@example.com", "sales_rep", Some("East"), None)
        .await;
    app.user("rep.b@example.com", "sales_rep", Some("East"), None)
        .await;
    app.user("help@example.com", "support_agent", None, None)
        .await;
    let admin = app.login("admin@example.com").await;
    let a = app.login("rep.a@example.com").await;
    let b = app.login("rep.b@example.com").await;
    let help = app.login("help@example.com").await;
    for (name, revenue) in [("北京星辰科技", "1000.00"), ("=HYPERLINK(\"x\")", "2.00")] {
        app.created(
            &a,
            "/api/v1/accounts",
            json!({"name": name, "annual_revenue": revenue}),
        )
        .await;
    }
    app.created(&b, "/api/v1/accounts", json!({"name": "B's own"}))
        .await;
    // Rep A may not see annual revenue.
    app.set_field_rule(&admin, "sales_rep", "account", "annual_revenue", "hidden")
        .await;

    let (st, e) = app
        .post(
            &a,
            "/api/v1/exports",
            json!({"object": "accounts", "cols": ["name", "annual_revenue"], "sort": "name"}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{e}");
    assert_eq!(e["total_rows"], 2);
    let done = wait_done(&app, &a, &id(&e)).await;
    assert_eq!(
        (
            done["status"].as_str(),
            done["processed"].as_i64(),
            done["percent"].as_i64()
        ),
        (Some("done"), Some(2), Some(100)),
        "{done}"
    );
    let (st, body) = file(&app, &a, &id(&e)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.starts_with(&[0xEF, 0xBB, 0xBF]), "UTF-8 with a BOM");
    let text = String::from_utf8(body[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "id,name", "the hidden column is left out");
    assert!(
        lines[1].ends_with(",\"'=HYPERLINK(\"\"x\"\")\""),
        "formula neutralised: {text}"
    );
    assert!(lines[2].ends_with(",北京星辰科技"));
    assert!(!text.contains("B's own"), "rep B's account is out of scope");
    // Another user neither sees it nor downloads it.
    let (st, _) = app.get(&b, &format!("/api/v1/exports/{}", id(&e))).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(file(&app, &b, &id(&e)).await.0, StatusCode::NOT_FOUND);
    let (_, mine) = app.get(&b, "/api/v1/exports").await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 0);
    // No export right, bad requests.
    let (st, _) = app
        .post(&help, "/api/v1/exports", json!({"object": "accounts"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    for (bad, field) in [
        (json!({"object": "accounts", "format": "pdf"}), "format"),
        (
            json!({"object": "accounts", "filter": "{not json"}),
            "filter",
        ),
        (json!({"object": "accounts", "cols": ["nope"]}), "cols"),
        (json!({"object": "nothing"}), "object"),
        (json!({"object": "accounts", "extra": "x"}), "extra"),
    ] {
        let (st, err) = app.post(&a, "/api/v1/exports", bad).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["errors"][0]["field"], field, "{err}");
    }
    // XLSX, read back.
    let (_, e) = app
        .post(
            &a,
            "/api/v1/exports",
            json!({"object": "accounts", "format": "xlsx", "cols": "name"}),
        )
        .await;
    let done = wait_done(&app, &a, &id(&e)).await;
    assert_eq!(done["status"], "done", "{done}");
    let (_, body) = file(&app, &a, &id(&e)).await;
    let path = std::env::temp_dir().join(format!("rapport-bg-{}.xlsx", id(&e)));
    std::fs::write(&path, &body).unwrap();
    let book = common::python(
        "import json, sys, openpyxl\nws = openpyxl.load_workbook(sys.argv[1]).active\nprint(json.dumps([[c.value for c in r] for r in ws.iter_rows()], ensure_ascii=False))",
        &[path.to_str().unwrap()],
    );
    let _ = std::fs::remove_file(&path);
    assert_eq!(book.as_array().unwrap().len(), 3, "{book}");
    assert_eq!(book[0], json!(["id", "name"]));
    // Audited, and the owner is told.
    let (_, audit) = app
        .get(&admin, "/api/v1/audit?action=export.downloaded")
        .await;
    assert_eq!(audit["data"].as_array().unwrap().len(), 2);
    let (_, notes) = app.get(&a, "/api/v1/notifications").await;
    assert!(
        notes["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "export_ready"),
        "{notes}"
    );
});

story!(
    a_list_too_large_to_download_at_once_exports_in_the_background,
    |app| {
        app.user("admin@example.com", "administrator", None, None)
            .await;
        let admin = app.login("admin@example.com").await;
        let (code, _, err) = app.cli(&["demo", "--accounts", "50001", "--contacts", "0"]);
        assert_eq!(code, 0, "{err}");
        let (st, e) = app.get(&admin, "/api/v1/accounts/export?cols=name").await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("background"));
        let (st, e) = app
            .post(
                &admin,
                "/api/v1/exports",
                json!({"object": "accounts", "cols": "name,industry"}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{e}");
        let done = wait_done(&app, &admin, &id(&e)).await;
        assert_eq!(done["status"], "done", "{done}");
        assert_eq!(done["processed"], 50_001);
        let (st, body) = file(&app, &admin, &id(&e)).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(body.len() as i64, done["bytes"].as_i64().unwrap());
        let text = String::from_utf8(body).unwrap();
        assert_eq!(text.lines().count(), 50_002, "a header and every account");
        let ids: std::collections::HashSet<&str> = text.lines().skip(1).map(|l| &l[..36]).collect();
        assert_eq!(ids.len(), 50_001, "no account twice");
    }
);
