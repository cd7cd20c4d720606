//! Mail through a real SMTP server (aiosmtpd, started by the test): the administrators' settings
//! and test message, notification emails a user chose, and an email to a contact that is logged
//! on its timeline, Chinese subjects and bodies included.
#![allow(clippy::disallowed_methods)] // the server under test runs on the wall clock
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::SmtpServer;
use reqwest::StatusCode;
use serde_json::json;

fn soon(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

story!(mail_goes_through_the_configured_smtp_server, |app| {
    let smtp = SmtpServer::start();
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let rep_id = app
        .user("li.lei@example.com", "sales_rep", Some("华东"), None)
        .await;
    app.user("han.mei@example.com", "sales_rep", Some("华东"), None)
        .await;
    let admin = app.login("admin@example.com").await;
    let rep = app.login("li.lei@example.com").await;
    let other = app.login("han.mei@example.com").await;

    // Nothing configured yet: emailing a contact says so, and nothing is logged.
    let (_, contact) = app
        .post(
            &rep,
            "/api/v1/contacts",
            json!({"family_name": "王", "given_name": "芳", "email": "wang.fang@example.com"}),
        )
        .await;
    let cid = contact["id"].as_str().unwrap().to_string();
    let (s, err) = app
        .post(
            &rep,
            &format!("/api/v1/contacts/{cid}/emails"),
            json!({"subject": "报价", "body": "您好"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{err}");

    // Settings: only administrators; bad values are named and change nothing.
    let settings = json!({"host": "127.0.0.1", "port": smtp.port, "security": "none",
        "username": "", "password": "smtp-secret-canary", "from_address": "crm@example.com",
        "from_name": "Rapport 销售"});
    let (s, _) = app
        .call(
            &rep,
            reqwest::Method::PUT,
            "/api/v1/settings/smtp",
            Some(settings.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, err) = app
        .call(
            &admin,
            reqwest::Method::PUT,
            "/api/v1/settings/smtp",
            Some(json!({"host": "", "port": 0, "security": "ssl3", "from_address": "nope"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = err["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["host", "port", "security", "from_address"]);
    assert_eq!(
        app.get(&admin, "/api/v1/settings/smtp").await.1,
        serde_json::Value::Null
    );
    let (s, saved) = app
        .call(
            &admin,
            reqwest::Method::PUT,
            "/api/v1/settings/smtp",
            Some(settings),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    assert_eq!(saved["password_set"], true);
    assert!(
        saved.get("password").is_none(),
        "the password is never shown"
    );
    let rows = app.sql_rows("SELECT password_enc FROM smtp_servers").await;
    let stored: String = rows[0].try_get("", "password_enc").unwrap();
    assert!(!stored.contains("smtp-secret-canary"), "stored encrypted");

    // The test message arrives, in the administrator's language (Chinese by default).
    let (s, r) = app
        .post(
            &admin,
            "/api/v1/settings/smtp/test",
            json!({"to": "ops@example.com"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let got = smtp.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["subject"], "Rapport 测试邮件");
    assert!(got[0]["to"].as_str().unwrap().contains("ops@example.com"));
    assert!(got[0]["from"].as_str().unwrap().contains("Rapport 销售"));
    assert!(got[0]["body"].as_str().unwrap().contains("测试邮件"));

    // The rep wants reminders by email (and not assignments).
    let (s, me) = app
        .patch(
            &rep,
            "/api/v1/me",
            json!({"email_notifications": ["reminder"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["email_notifications"], json!(["reminder"]));
    let (s, _) = app
        .patch(&rep, "/api/v1/me", json!({"email_notifications": ["spam"]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, acc) = app
        .post(
            &rep,
            "/api/v1/accounts",
            json!({"name": "华为技术有限公司"}),
        )
        .await;
    let (s, _) = app
        .post(
            &rep,
            "/api/v1/activities",
            json!({"kind": "task", "subject": "准备合同草稿", "related_type": "account",
                   "related_id": acc["id"], "remind_at": soon(1)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // Han Mei gives Li Lei a task: an in-app notification, but no email (not chosen).
    let (_, acc2) = app
        .post(&other, "/api/v1/accounts", json!({"name": "Other Co"}))
        .await;
    app.post(
        &other,
        "/api/v1/activities",
        json!({"kind": "task", "subject": "Assigned only in the app", "related_type": "account",
               "related_id": acc2["id"], "assignee_id": rep_id}),
    )
    .await;
    let got = smtp.wait_for(2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let reminder = &got
        .iter()
        .find(|m| m["to"].as_str().unwrap().contains("li.lei"))
        .unwrap();
    assert_eq!(reminder["subject"], "[Rapport] 提醒：准备合同草稿");

    // An email to a contact: logged on its timeline at once, sent by the queue, then done.
    let (s, logged) = app
        .post(
            &rep,
            &format!("/api/v1/contacts/{cid}/emails"),
            json!({"subject": "二期方案报价", "body": "王经理您好：\n附件是二期方案的报价，请查收。\n李雷"}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{logged}");
    assert_eq!(logged["kind"], "email");
    assert_eq!(logged["status"], "open");
    let got = smtp.wait_for(3).await;
    let sent = got
        .iter()
        .find(|m| m["subject"] == "二期方案报价")
        .expect("the contact email arrived");
    assert!(sent["to"]
        .as_str()
        .unwrap()
        .contains("wang.fang@example.com"));
    assert!(sent["body"]
        .as_str()
        .unwrap()
        .contains("附件是二期方案的报价"));
    assert!(sent["reply_to"]
        .as_str()
        .unwrap()
        .contains("li.lei@example.com"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, a) = app
            .get(
                &rep,
                &format!("/api/v1/activities/{}", logged["id"].as_str().unwrap()),
            )
            .await;
        if a["status"] == "done" {
            assert_eq!(a["outcome"], "sent");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the email was not marked sent: {a}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (_, tl) = app
        .get(
            &rep,
            &format!("/api/v1/contacts/{cid}/timeline?kinds=email"),
        )
        .await;
    assert_eq!(tl["data"][0]["activity"]["subject"], "二期方案报价");

    // Someone who may not see the contact cannot email it; bad input is named.
    let (s, _) = app
        .post(
            &other,
            &format!("/api/v1/contacts/{cid}/emails"),
            json!({"subject": "x", "body": "y"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, err) = app
        .post(
            &rep,
            &format!("/api/v1/contacts/{cid}/emails"),
            json!({"subject": "", "cc": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");

    // A mail server that is down: the test message reports it (502), nothing crashes.
    drop(smtp);
    let (s, err) = app
        .post(&admin, "/api/v1/settings/smtp/test", json!({}))
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{err}");
    assert_eq!(err["code"], "upstream_failed");
});

story!(approvals_are_emailed_to_those_who_chose_them, |app| {
    let smtp = SmtpServer::start();
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.user("manager@example.com", "sales_manager", Some("华东"), None)
        .await;
    app.user(
        "rep@example.com",
        "sales_rep",
        Some("华东"),
        Some("manager@example.com"),
    )
    .await;
    let admin = app.login("admin@example.com").await;
    let manager = app.login("manager@example.com").await;
    let rep = app.login("rep@example.com").await;
    let (s, _) = app
        .call(
            &admin,
            reqwest::Method::PUT,
            "/api/v1/settings/smtp",
            Some(
                json!({"host": "127.0.0.1", "port": smtp.port, "security": "none",
                "from_address": "crm@example.com"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .patch(
            &manager,
            "/api/v1/me",
            json!({"email_notifications": ["approval_requested"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let acc = app
        .created(
            &rep,
            "/api/v1/accounts",
            json!({"name": "宁波海港物流有限公司"}),
        )
        .await;
    let c = app
        .created(
            &rep,
            "/api/v1/contracts",
            json!({"name": "仓储服务合同", "account_id": acc["id"], "amount": "50000.00"}),
        )
        .await;
    let (s, _) = app
        .post(
            &rep,
            &format!("/api/v1/contracts/{}/submit", c["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let got = smtp.wait_for(1).await;
    assert!(got[0]["to"]
        .as_str()
        .unwrap()
        .contains("manager@example.com"));
    assert!(
        got[0]["subject"]
            .as_str()
            .unwrap()
            .starts_with("[Rapport] 待审批合同：C-"),
        "{got:?}"
    );
    // The rep did not choose approval emails: approving sends nothing more.
    let (s, _) = app
        .post(
            &manager,
            &format!("/api/v1/contracts/{}/approve", c["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(smtp.messages().len(), 1);
});

story!(
    a_queued_contact_email_holds_no_address_and_skips_an_erased_person,
    |app| {
        let mut app = app;
        // The queue holds the emails until a worker runs.
        app.set_env("RAPPORT_JOBS_ENABLED", "false");
        app.stop();
        app.spawn();
        let smtp = SmtpServer::start();
        app.user("admin@example.com", "administrator", None, None)
            .await;
        let admin = app.login("admin@example.com").await;
        let (s, body) = app
            .call(
                &admin,
                reqwest::Method::PUT,
                "/api/v1/settings/smtp",
                Some(
                    json!({"host": "127.0.0.1", "port": smtp.port, "security": "none",
                "username": "", "password": "", "from_address": "crm@example.com"}),
                ),
            )
            .await;
        assert!(s.is_success(), "{body}");
        let mut logged = Vec::new();
        for (name, email) in [
            ("Kept", "kept.person@example.com"),
            ("Gone", "gone.person@example.com"),
        ] {
            let c = app
                .created(
                    &admin,
                    "/api/v1/contacts",
                    json!({"family_name": name, "email": email}),
                )
                .await;
            let (s, a) = app
                .post(
                    &admin,
                    &format!("/api/v1/contacts/{}/emails", c["id"].as_str().unwrap()),
                    json!({"subject": format!("Hello {name}"), "body": "…"}),
                )
                .await;
            assert_eq!(s, StatusCode::ACCEPTED, "{a}");
            logged.push((
                c["id"].as_str().unwrap().to_string(),
                a["id"].as_str().unwrap().to_string(),
            ));
        }
        let payloads: Vec<String> = app
            .sql_rows("SELECT payload FROM jobs WHERE kind = 'mail.contact'")
            .await
            .iter()
            .map(|r| r.try_get::<String>("", "payload").unwrap())
            .collect();
        assert_eq!(payloads.len(), 2);
        for p in &payloads {
            assert!(!p.contains("@example.com"), "an address in the queue: {p}");
        }
        let (s, e) = app
            .post(
                &admin,
                &format!("/api/v1/contacts/{}/erase", logged[1].0),
                json!({"reason": "asked to be forgotten"}),
            )
            .await;
        assert!(s.is_success(), "{e}");
        app.set_env("RAPPORT_JOBS_ENABLED", "true");
        app.stop();
        app.spawn();
        let admin = app.login("admin@example.com").await;
        let got = smtp.wait_for(1).await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0]["to"]
            .as_str()
            .unwrap()
            .contains("kept.person@example.com"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (_, a) = app
                .get(&admin, &format!("/api/v1/activities/{}", logged[1].1))
                .await;
            if a["status"] == "done" {
                assert!(
                    a["outcome"].as_str().unwrap().starts_with("not sent"),
                    "{a}"
                );
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{a}");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(smtp.messages().len(), 1);
    }
);

story!(
    audit_anchors_are_also_emailed_when_an_address_is_set,
    |app| {
        let smtp = SmtpServer::start();
        app.user("admin@example.com", "administrator", None, None)
            .await;
        app.user("rep@example.com", "sales_rep", None, None).await;
        let admin = app.login("admin@example.com").await;
        let rep = app.login("rep@example.com").await;
        let (s, _) = app
            .call(
                &admin,
                reqwest::Method::PUT,
                "/api/v1/settings/smtp",
                Some(
                    json!({"host": "127.0.0.1", "port": smtp.port, "security": "none",
                "username": "", "password": "", "from_address": "crm@example.com"}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        // Nobody by default; only administrators set it; a bad address changes nothing.
        let (s, none) = app.get(&admin, "/api/v1/settings/audit-anchors").await;
        assert_eq!((s, none["email"].clone()), (StatusCode::OK, json!(null)));
        let (s, _) = put_anchor_mail(&app, &rep, json!({"email": "audit@example.com"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, err) = put_anchor_mail(&app, &admin, json!({"email": "not an address"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["errors"][0]["code"], "invalid_email");
        let (s, err) = put_anchor_mail(&app, &admin, json!({"emails": "audit@example.com"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(
            app.get(&admin, "/api/v1/settings/audit-anchors").await.1["email"],
            json!(null)
        );
        let (s, set) = put_anchor_mail(&app, &admin, json!({"email": " Audit@Example.com "})).await;
        assert_eq!(s, StatusCode::OK, "{set}");
        assert_eq!(set["email"], "audit@example.com");

        // An anchor written now is emailed, as the line the anchor file holds.
        let (code, out, err) = app.cli(&["audit", "anchor"]);
        assert_eq!(code, 0, "{out}{err}");
        let got = smtp.wait_for(1).await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0]["to"].as_str().unwrap().contains("audit@example.com"));
        let body = got[0]["body"].as_str().unwrap();
        let line = body
            .lines()
            .find(|l| l.starts_with('{'))
            .expect("the anchor's line");
        let anchor: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(anchor["seq"].as_i64().unwrap() > 0, "{anchor}");
        assert_eq!(
            got[0]["subject"],
            format!("[Rapport] audit anchor #{}", anchor["seq"])
        );
        let dir = app.dir.join("audit-anchors").join("anchors.jsonl");
        let kept = std::fs::read_to_string(&dir).unwrap();
        assert!(kept.lines().any(|l| l == line), "{kept}\n{line}");

        // Cleared: the next anchor is not emailed.
        let (s, _) = put_anchor_mail(&app, &admin, json!({"email": null})).await;
        assert_eq!(s, StatusCode::OK);
        app.post(&admin, "/api/v1/accounts", json!({"name": "锚点之后"}))
            .await;
        let (code, out, _) = app.cli(&["audit", "anchor"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("anchored entry"), "{out}");
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        assert_eq!(smtp.messages().len(), 1);
    }
);

async fn put_anchor_mail(
    app: &common::App,
    who: &common::Session,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    app.call(
        who,
        reqwest::Method::PUT,
        "/api/v1/settings/audit-anchors",
        Some(body),
    )
    .await
}
