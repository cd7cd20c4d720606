//! Copies of personal data outside the records: the rows of uploaded files (sealed at rest,
//! deleted after the retention period and by an erasure), stored export files and activity
//! contents (removed by an erasure).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::imports::{import_contacts, upload};
use common::{id, App, Backend, Session};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const FILE: &str = "姓,手机,邮箱\n王,13811112222,wang.raw@example.com\n李,13833334444,li.raw@example.com\n张,not a phone,zhang.raw@example.com\n";

async fn admin(app: &App) -> Session {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.login("admin@example.com").await
}

/// Every `import_rows` cell as the database holds it, as one text.
async fn stored_rows(app: &App) -> String {
    app.sql_rows("SELECT cells, cells_enc FROM import_rows")
        .await
        .iter()
        .map(|r| {
            format!(
                "{}|{}",
                r.try_get::<String>("", "cells").unwrap(),
                r.try_get::<Option<String>>("", "cells_enc")
                    .unwrap()
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

story!(
    uploaded_rows_are_sealed_and_deleted_after_their_retention,
    |app| {
        let s = admin(&app).await;
        let (import, done) = import_contacts(&app, &s, "people.csv", FILE.into(), &[]).await;
        assert_eq!(done["failed"], 1, "{done}");
        let raw = stored_rows(&app).await;
        assert!(!raw.is_empty());
        for secret in ["13811112222", "wang.raw@example.com", "not a phone"] {
            assert!(
                !raw.contains(secret),
                "{secret} stored in plain text: {raw}"
            );
        }
        // Still readable where they are shown: the preview and the error file.
        let (st, p) = app.get(&s, &format!("/api/v1/imports/{import}")).await;
        assert_eq!(st, StatusCode::OK, "{p}");
        assert_eq!(p["rows"][1][1], "13811112222", "{p}");
        let res = app
            .http
            .get(format!("{}/api/v1/imports/{import}/errors.csv", app.base))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.text().await.unwrap().contains("zhang.raw@example.com"));
        // The key commands see them.
        let (_, status, _) = app.cli(&["keys", "status"]);
        assert!(status.contains("import_rows.cells_enc\tk1: 4"), "{status}");

        // Retention: settings right only; bounded.
        let (st, r) = app.get(&s, "/api/v1/settings/imports").await;
        assert_eq!(
            (st, r["keep_raw_days"].as_i64()),
            (StatusCode::OK, Some(30))
        );
        app.user("rep@example.com", "sales_rep", None, None).await;
        let rep = app.login("rep@example.com").await;
        let (st, _) = app
            .call(
                &rep,
                Method::PUT,
                "/api/v1/settings/imports",
                Some(json!({"keep_raw_days": 1})),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, e) = app
            .call(
                &s,
                Method::PUT,
                "/api/v1/settings/imports",
                Some(json!({"keep_raw_days": 0})),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["errors"][0]["field"], "keep_raw_days");
        let (st, e) = app
            .call(
                &s,
                Method::PUT,
                "/api/v1/settings/imports",
                Some(json!({"keep_raw_days": 1})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{e}");
        // The import ended long ago; the daily housekeeping job runs now.
        app.sql(match app.backend {
            Backend::Sqlite => "UPDATE imports SET finished_at = '2000' || substr(finished_at, 5)",
            Backend::Postgres => {
                "UPDATE imports SET finished_at = finished_at - interval '1000 days'"
            }
        })
        .await;
        app.sql(
            "UPDATE jobs SET run_at = created_at WHERE kind = 'jobs.purge' AND status = 'pending'",
        )
        .await;
        let mut imp = Value::Null;
        for _ in 0..100 {
            imp = app.get(&s, &format!("/api/v1/imports/{import}")).await.1["import"].clone();
            if !imp["raw_deleted_at"].is_null() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert!(!imp["raw_deleted_at"].is_null(), "{imp}");
        assert_eq!(stored_rows(&app).await, "");
        let rows = app
            .sql_rows("SELECT COUNT(*) AS n FROM import_errors")
            .await;
        assert_eq!(rows[0].try_get::<i64>("", "n").unwrap(), 0);
        // The error file says why it is gone; the import's counts stay.
        let res = app
            .http
            .get(format!("{}/api/v1/imports/{import}/errors.csv", app.base))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert_eq!(imp["created"], 2, "{imp}");
    }
);

story!(
    an_erasure_removes_the_person_from_files_exports_and_activities,
    |app| {
        let s = admin(&app).await;
        // One import created the contact; another file, not imported, also holds their number.
        let (_, done) = import_contacts(&app, &s, "people.csv", FILE.into(), &[]).await;
        assert_eq!(done["created"], 2, "{done}");
        let (st, other) = upload(
            &app,
            &s,
            "contacts",
            "other.csv",
            "姓,电话\n王,+86 138-1111-2222\n赵,13900000000\n"
                .as_bytes()
                .to_vec(),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{other}");
        let other_id = other["import"]["id"].as_str().unwrap().to_string();
        let (_, list) = app.get(&s, "/api/v1/contacts?q=wang.raw@example.com").await;
        let wang = id(&list["data"][0]);
        let act = app
            .created(
                &s,
                "/api/v1/activities",
                json!({"kind": "call", "subject": "王先生说他下月搬家", "body": "新地址：海淀区",
                   "related_type": "contact", "related_id": wang}),
            )
            .await;
        let (st, e) = app
            .post(
                &s,
                "/api/v1/exports",
                json!({"object": "contacts", "cols": ["family_name", "mobile"]}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{e}");
        let export = id(&e);
        for _ in 0..100 {
            if app.get(&s, &format!("/api/v1/exports/{export}")).await.1["status"] == "done" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }

        let (st, body) = app
            .post(
                &s,
                &format!("/api/v1/contacts/{wang}/erase"),
                json!({"reason": "request #7"}),
            )
            .await;
        assert!(st.is_success(), "{body}");

        // The file that created them is gone; of the other, only their row.
        let (_, imports) = app.get(&s, "/api/v1/imports").await;
        let created_by = imports["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["file_name"] == "people.csv")
            .unwrap()
            .clone();
        assert!(!created_by["raw_deleted_at"].is_null(), "{created_by}");
        let (st, p) = app.get(&s, &format!("/api/v1/imports/{other_id}")).await;
        assert_eq!(st, StatusCode::OK, "{p}");
        let rows = p["rows"].to_string();
        assert!(
            !rows.contains("1111") && rows.contains("13900000000"),
            "{rows}"
        );
        // Export files of contacts are gone.
        let (st, _) = app.get(&s, &format!("/api/v1/exports/{export}")).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        // The activity stays, without what it said.
        let (st, a) = app
            .get(&s, &format!("/api/v1/activities/{}", id(&act)))
            .await;
        assert_eq!(st, StatusCode::OK, "{a}");
        assert_eq!(a["subject"], "[erased]", "{a}");
        assert!(a["body"].is_null(), "{a}");
        // The other contact of the same file is untouched.
        let (_, list) = app.get(&s, "/api/v1/contacts?q=li.raw@example.com").await;
        assert_eq!(list["data"][0]["mobile"], "+8613833334444");
    }
);

story!(rows_stored_before_sealing_are_sealed_at_start, |app| {
    let mut app = app;
    let s = admin(&app).await;
    let (st, up) = upload(&app, &s, "contacts", "old.csv", FILE.as_bytes().to_vec()).await;
    assert_eq!(st, StatusCode::CREATED, "{up}");
    let import = up["import"]["id"].as_str().unwrap().to_string();
    // As a server before migration 25 stored it.
    app.sql(
        "UPDATE import_rows SET cells = '[\"王\",\"13811112222\",\"wang.raw@example.com\"]', \
         cells_enc = NULL WHERE row_no = 1",
    )
    .await;
    assert!(stored_rows(&app).await.contains("13811112222"));
    app.stop();
    app.spawn();
    let raw = stored_rows(&app).await;
    assert!(!raw.contains("13811112222"), "{raw}");
    let s = app.login("admin@example.com").await;
    let (st, p) = app.get(&s, &format!("/api/v1/imports/{import}")).await;
    assert_eq!(st, StatusCode::OK, "{p}");
    assert_eq!(p["rows"][1][1], "13811112222", "{p}");
});

story!(file_rows_hide_what_the_readers_role_hides, |app| {
    let s = admin(&app).await;
    let (import, done) = import_contacts(&app, &s, "people.csv", FILE.into(), &[]).await;
    assert_eq!(done["failed"], 1, "{done}");
    app.set_field_rule(&s, "administrator", "contact", "mobile", "hidden")
        .await;
    let (st, p) = app.get(&s, &format!("/api/v1/imports/{import}")).await;
    assert_eq!(st, StatusCode::OK, "{p}");
    // The header keeps its title; the mapped phone column is masked, the rest shown.
    assert_eq!(p["rows"][0][1], "手机", "{p}");
    assert_eq!(p["rows"][1][1], "***", "{p}");
    assert_eq!(p["rows"][1][2], "wang.raw@example.com", "{p}");
    assert!(!p.to_string().contains("13811112222"), "{p}");
    let res = app
        .http
        .get(format!("{}/api/v1/imports/{import}/errors.csv", app.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    let csv = res.text().await.unwrap();
    assert!(csv.contains("***") && !csv.contains("not a phone"), "{csv}");
});
