//! Bulk actions respect scope, field rules and validation record by record.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn names(v: &Value) -> Vec<String> {
    let mut n: Vec<String> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

story!(bulk_actions_stay_in_scope, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.user("boss@example.com", "sales_manager", Some("North"), None)
        .await;
    let a_id = app
        .user(
            "a@example.com",
            "sales_rep",
            Some("North"),
            Some("boss@example.com"),
        )
        .await;
    let b_id = app
        .user(
            "b@example.com",
            "sales_rep",
            Some("North"),
            Some("boss@example.com"),
        )
        .await;
    let admin = app.login("admin@example.com").await;
    let boss = app.login("boss@example.com").await;
    let a = app.login("a@example.com").await;
    let b = app.login("b@example.com").await;
    let mut a_ids = Vec::new();
    for i in 0..5 {
        let (_, acc) = app.post(&admin, "/api/v1/accounts", json!({"name": format!("A{i} Ltd"), "owner_id": a_id, "level": if i < 2 { "A" } else { "C" }})).await;
        a_ids.push(acc["id"].as_str().unwrap().to_string());
    }
    let (_, b_acc) = app
        .post(
            &admin,
            "/api/v1/accounts",
            json!({"name": "B0 Ltd", "owner_id": b_id}),
        )
        .await;
    let b_acc = b_acc["id"].as_str().unwrap().to_string();

    // Rep A tags "all matching": only A's five records.
    let (st, res) = app
        .post(
            &a,
            "/api/v1/accounts/bulk",
            json!({"all_matching": {}, "action": "add_tag", "tag": "q3"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{res}");
    assert_eq!(res["matched"], 5);
    assert_eq!(res["succeeded"], 5);
    let f = "%7B%22field%22%3A%22tags%22%2C%22op%22%3A%22has%22%2C%22value%22%3A%22q3%22%7D";
    let (_, tagged) = app
        .get(&admin, &format!("/api/v1/accounts?filter={f}"))
        .await;
    assert_eq!(
        names(&tagged),
        vec!["A0 Ltd", "A1 Ltd", "A2 Ltd", "A3 Ltd", "A4 Ltd"]
    );

    // Selecting someone else's record reports it as not found; the rest succeed.
    let (_, res) = app.post(&a, "/api/v1/accounts/bulk", json!({"ids": [a_ids[0], b_acc], "action": "set_field", "field": "level", "value": "B"})).await;
    assert_eq!(res["succeeded"], 1);
    assert_eq!(res["failed"][0]["id"], json!(b_acc));
    assert_eq!(res["failed"][0]["code"], "not_found");
    assert!(app.get(&b, &format!("/api/v1/accounts/{b_acc}")).await.1["level"].is_null());

    // Field rules and validation apply per record.
    let (_, res) = app.post(&a, "/api/v1/accounts/bulk", json!({"ids": [a_ids[1]], "action": "set_field", "field": "credit_limit", "value": "1"})).await;
    assert_eq!(res["failed"][0]["code"], "validation_failed");
    let (_, res) = app
        .post(
            &a,
            "/api/v1/accounts/bulk",
            json!({"ids": [a_ids[1]], "action": "set_field", "field": "level", "value": "Z"}),
        )
        .await;
    assert_eq!(res["failed"][0]["code"], "validation_failed");
    let (st, body) = app
        .post(
            &a,
            "/api/v1/accounts/bulk",
            json!({"ids": [a_ids[1]], "action": "set_field", "field": "owner_id", "value": b_id}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // A rep has no transfer right: refused before anything happens.
    let (st, _) = app
        .post(
            &a,
            "/api/v1/accounts/bulk",
            json!({"all_matching": {}, "action": "assign_owner", "owner_id": b_id, "reason": "x"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // The manager reassigns all level-A accounts of the team to B, with a reason.
    let filter = json!({"field": "level", "op": "eq", "value": "A"});
    let (st, res) = app.post(&boss, "/api/v1/accounts/bulk", json!({"all_matching": {"filter": filter}, "action": "assign_owner", "owner_id": b_id, "reason": "rebalancing"})).await;
    assert_eq!(st, StatusCode::OK, "{res}");
    assert_eq!(
        res["succeeded"], 1,
        "A0 was changed to level B above, so only A1 is level A: {res}"
    );
    let (_, mine) = app.get(&b, "/api/v1/accounts").await;
    assert_eq!(names(&mine), vec!["A1 Ltd", "B0 Ltd"]);

    // Remove the tag, then delete (only with confirmation).
    let (_, res) = app
        .post(
            &a,
            "/api/v1/accounts/bulk",
            json!({"all_matching": {"q": "A"}, "action": "remove_tag", "tag": "q3"}),
        )
        .await;
    assert_eq!(res["succeeded"], 4);
    let (st, body) = app
        .post(
            &a,
            "/api/v1/accounts/bulk",
            json!({"all_matching": {}, "action": "delete"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "confirm");
    let (_, res) = app
        .post(
            &a,
            "/api/v1/accounts/bulk",
            json!({"all_matching": {}, "action": "delete", "confirm": true}),
        )
        .await;
    assert_eq!(res["succeeded"], 4);
    assert_eq!(
        app.get(&a, "/api/v1/accounts").await.1["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        app.get(&admin, "/api/v1/accounts").await.1["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Bad requests name the problem.
    for (body, field) in [
        (json!({"action": "add_tag", "tag": "x"}), "ids"),
        (json!({"ids": [], "action": "add_tag", "tag": "x"}), "ids"),
        (json!({"ids": ["x"], "action": "explode"}), "action"),
        (json!({"ids": ["x"], "action": "add_tag"}), "tag"),
        (
            json!({"ids": ["x"], "action": "set_field", "field": "nope", "value": 1}),
            "field",
        ),
        (
            json!({"all_matching": {"colour": 1}, "action": "add_tag", "tag": "x"}),
            "all_matching.colour",
        ),
    ] {
        let (st, err) = app
            .post(&admin, "/api/v1/accounts/bulk", body.clone())
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert_eq!(err["errors"][0]["field"], field, "{body}: {err}");
    }
    // The bulk actions are in the audit trail.
    let (_, audit) = app.get(&admin, "/api/v1/audit?action=account.bulk").await;
    assert!(audit["data"].as_array().unwrap().len() >= 6);
});

async fn csv(app: &common::App, s: &common::Session, path: &str) -> (StatusCode, String) {
    let res = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    let st = res.status();
    let bytes = res.bytes().await.unwrap();
    (
        st,
        String::from_utf8_lossy(&bytes)
            .trim_start_matches('\u{feff}')
            .to_string(),
    )
}

story!(csv_export_respects_scope_and_field_rules, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let a_id = app.user("a@example.com", "sales_rep", None, None).await;
    app.user("support@example.com", "support_agent", None, None)
        .await;
    app.user("mkt@example.com", "marketer", None, None).await;
    let admin = app.login("admin@example.com").await;
    let a = app.login("a@example.com").await;
    let support = app.login("support@example.com").await;
    let mkt = app.login("mkt@example.com").await;
    app.call(
        &admin,
        reqwest::Method::PUT,
        "/api/v1/custom-fields/accounts/cf_region",
        Some(json!({"label_en": "Region", "label_zh": "区域", "kind": "text"})),
    )
    .await;
    app.post(&admin, "/api/v1/accounts", json!({"name": "Export, \"Quoted\" Ltd", "owner_id": a_id, "phone": "13911112222", "annual_revenue": "5000", "cf_region": "华北"})).await;
    app.post(
        &admin,
        "/api/v1/accounts",
        json!({"name": "Admin Only Ltd"}),
    )
    .await;

    let (st, body) = csv(
        &app,
        &a,
        "/api/v1/accounts/export?cols=name,phone,annual_revenue,cf_region",
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "id,name,phone,annual_revenue,cf_region");
    assert_eq!(lines.len(), 2, "only the rep's own account: {body}");
    assert!(
        // A phone number starts with "+": neutralised so no spreadsheet reads it as a formula.
        lines[1].ends_with(",\"Export, \"\"Quoted\"\" Ltd\",'+8613911112222,5000.00,华北"),
        "{}",
        lines[1]
    );

    // The marketer exports everything; the support agent has no export right.
    let (_, body) = csv(&app, &mkt, "/api/v1/accounts/export?cols=name").await;
    assert_eq!(body.lines().count(), 3);
    let (st, _) = csv(&app, &support, "/api/v1/accounts/export").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Unknown columns are named; hidden fields never appear.
    let (st, body) = csv(&app, &a, "/api/v1/accounts/export?cols=name,nope").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    app.call(
        &admin,
        reqwest::Method::PUT,
        "/api/v1/roles/marketer",
        Some(json!({"field_rules": {"account": {"annual_revenue": "hidden"}}})),
    )
    .await;
    let (_, body) = csv(
        &app,
        &mkt,
        "/api/v1/accounts/export?cols=name,annual_revenue",
    )
    .await;
    assert_eq!(body.lines().next().unwrap(), "id,name");
    assert!(!body.contains("5000.00"));
    let (_, audit) = app
        .get(&admin, "/api/v1/audit?action=account.exported")
        .await;
    assert_eq!(audit["data"].as_array().unwrap().len(), 3);
});

story!(bulk_tags_on_records_the_caller_may_not_change_fail, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let rep = app.user("rep@example.com", "sales_rep", None, None).await;
    let mkt_id = app.user("mkt@example.com", "marketer", None, None).await;
    let admin = app.login("admin@example.com").await;
    let mkt = app.login("mkt@example.com").await;
    // The rep's contact, tagged "vip": the marketer reads every contact but updates only
    // their own.
    let (_, c) = app
        .post(
            &admin,
            "/api/v1/contacts",
            json!({"family_name": "Tagged", "owner_id": rep, "tags": ["vip"]}),
        )
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    for (action, tag) in [
        ("add_tag", "vip"),
        ("remove_tag", "never-there"),
        ("add_tag", "new"),
    ] {
        let (st, res) = app
            .post(
                &mkt,
                "/api/v1/contacts/bulk",
                json!({"ids": [id], "action": action, "tag": tag}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{res}");
        assert_eq!(res["matched"], 1, "{action} {tag}: {res}");
        assert_eq!(res["succeeded"], 0, "{action} {tag}: {res}");
        assert_eq!(res["failed"].as_array().unwrap().len(), 1, "{res}");
    }
    let (_, after) = app.get(&admin, &format!("/api/v1/contacts/{id}")).await;
    assert_eq!(after["tags"], json!(["vip"]));
    // The marketer's own contact takes the same actions, a tag already there included.
    let own = app
        .created(
            &admin,
            "/api/v1/contacts",
            json!({"family_name": "Mine", "tags": ["vip"], "owner_id": mkt_id}),
        )
        .await;
    let (_, res) = app
        .post(
            &mkt,
            "/api/v1/contacts/bulk",
            json!({"ids": [own["id"]], "action": "add_tag", "tag": "vip"}),
        )
        .await;
    assert_eq!(res["succeeded"], 1, "{res}");
});
