//! Record-level and field-level access: scopes applied in the query, 404 outside them, field
//! rules on read and write, "view as".
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{urlencode, App, Session};
use reqwest::StatusCode;
use serde_json::json;

struct Team {
    admin: Session,
    manager: Session,
    rep_a: Session,
    rep_b: Session,
    rep_a_id: String,
    rep_b_id: String,
    other_rep: Session,
}

async fn team(app: &App) -> Team {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.user(
        "manager@example.com",
        "sales_manager",
        Some("East sales"),
        None,
    )
    .await;
    let rep_a_id = app
        .user(
            "rep.a@example.com",
            "sales_rep",
            Some("East sales"),
            Some("manager@example.com"),
        )
        .await;
    let rep_b_id = app
        .user(
            "rep.b@example.com",
            "sales_rep",
            Some("East sales"),
            Some("manager@example.com"),
        )
        .await;
    app.user("rep.c@example.com", "sales_rep", Some("West sales"), None)
        .await;
    Team {
        admin: app.login("admin@example.com").await,
        manager: app.login("manager@example.com").await,
        rep_a: app.login("rep.a@example.com").await,
        rep_b: app.login("rep.b@example.com").await,
        other_rep: app.login("rep.c@example.com").await,
        rep_a_id,
        rep_b_id,
    }
}

story!(rep_cannot_touch_another_reps_account, |app| {
    let t = team(&app).await;
    let (s, acc) = app
        .post(
            &t.rep_a,
            "/api/v1/accounts",
            json!({"name": "Acme Widgets Co., Ltd.", "level": "A"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{acc}");
    let id = acc["id"].as_str().unwrap().to_string();
    assert_eq!(acc["owner_id"], json!(t.rep_a_id));

    // Rep B: read, update, delete are 404; list and search do not show it.
    let path = format!("/api/v1/accounts/{id}");
    assert_eq!(app.get(&t.rep_b, &path).await.0, StatusCode::NOT_FOUND);
    let (s, body) = app
        .patch(&t.rep_b, &path, json!({"name": "Hijacked"}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
    assert_eq!(app.delete(&t.rep_b, &path).await.0, StatusCode::NOT_FOUND);
    let (_, list) = app.get(&t.rep_b, "/api/v1/accounts").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let (_, found) = app.get(&t.rep_b, "/api/v1/accounts?q=Acme").await;
    assert_eq!(found["data"].as_array().unwrap().len(), 0);
    let (_, hist) = app.get(&t.rep_b, &format!("{path}/history")).await;
    assert_eq!(hist["code"], "not_found");
    // Transfer by rep B is refused too (no transfer right at all).
    let (s, _) = app
        .post(
            &t.rep_b,
            "/api/v1/accounts/transfer",
            json!({"ids": [id], "owner_id": t.rep_b_id, "reason": "mine now"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Nothing changed.
    let (_, mine) = app.get(&t.rep_a, &path).await;
    assert_eq!(mine["name"], "Acme Widgets Co., Ltd.");

    // Rep A sees it in list and quick search.
    let (_, found) = app.get(&t.rep_a, "/api/v1/accounts?q=acme").await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);

    // The manager sees the team's account, the rep in another department does not.
    assert_eq!(app.get(&t.manager, &path).await.0, StatusCode::OK);
    let (_, list) = app.get(&t.manager, "/api/v1/accounts").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.get(&t.other_rep, &path).await.0, StatusCode::NOT_FOUND);

    // The manager may transfer within the team, with a reason; the audit history shows it.
    let (s, body) = app
        .post(
            &t.manager,
            "/api/v1/accounts/transfer",
            json!({"ids": [id], "owner_id": t.rep_b_id, "reason": "territory change"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["transferred"], 1);
    assert_eq!(app.get(&t.rep_a, &path).await.0, StatusCode::NOT_FOUND);
    let (_, acc) = app.get(&t.rep_b, &path).await;
    assert_eq!(acc["owner_id"], json!(t.rep_b_id));
    let (_, hist) = app.get(&t.rep_b, &format!("{path}/history")).await;
    let transfer = hist["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["action"] == "account.transferred")
        .expect("transfer in history");
    assert_eq!(transfer["reason"], "territory change");

    // The admin sees everything.
    let (_, list) = app.get(&t.admin, "/api/v1/accounts").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
});

story!(field_rules_hide_and_block, |app| {
    let t = team(&app).await;
    // Admin creates an account with a credit limit for rep A.
    let (s, acc) = app
        .post(&t.admin, "/api/v1/accounts", json!({"name": "Globex", "owner_id": t.rep_a_id, "credit_limit": "50000", "annual_revenue": "9000000"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{acc}");
    let id = acc["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/accounts/{id}");

    // The sales rep reads the credit limit but may not change it (read-only rule).
    let (_, seen) = app.get(&t.rep_a, &path).await;
    assert_eq!(seen["credit_limit"], "50000.00");
    let (s, err) = app
        .patch(&t.rep_a, &path, json!({"credit_limit": "99999999"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["errors"][0]["field"], "credit_limit");
    assert_eq!(err["errors"][0]["code"], "field_not_writable");
    let (_, seen) = app.get(&t.admin, &path).await;
    assert_eq!(seen["credit_limit"], "50000.00");

    // A support agent never sees annual revenue: not in the record, not in lists, not filterable.
    app.user("support@example.com", "support_agent", None, None)
        .await;
    let support = app.login("support@example.com").await;
    let (_, seen) = app.get(&support, &path).await;
    assert_eq!(seen["name"], "Globex");
    assert!(seen.get("annual_revenue").is_none(), "{seen}");
    let (_, list) = app.get(&support, "/api/v1/accounts").await;
    assert!(list["data"][0].get("annual_revenue").is_none());
    let filter =
        urlencode(&json!({"field": "annual_revenue", "op": "gt", "value": "1"}).to_string());
    let (s, _) = app
        .get(&support, &format!("/api/v1/accounts?filter={filter}"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app
        .get(&support, "/api/v1/accounts?sort=annual_revenue")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // ... and cannot write it (it has no update right on accounts at all).
    assert_eq!(
        app.patch(&support, &path, json!({"name": "x"})).await.0,
        StatusCode::FORBIDDEN
    );

    // The same rules in the web interface.
    let html = page(&app, &support, &format!("/accounts/{id}")).await;
    assert!(html.contains("Globex"));
    assert!(
        !html.contains("row-annual_revenue")
            && !html.contains("年营业额")
            && !html.contains("9000000"),
        "hidden on the record page"
    );
    let html = page(&app, &t.rep_a, &format!("/accounts/{id}")).await;
    assert!(
        html.contains("id=\"row-credit_limit\""),
        "the rep sees the credit limit"
    );
    assert!(
        !html.contains("name=\"credit_limit\""),
        "but gets no input to change it"
    );
    assert!(
        html.contains("name=\"name\""),
        "while other fields are editable"
    );
    let html = page(&app, &t.rep_b, &format!("/accounts/{id}")).await;
    assert!(
        !html.contains("Globex"),
        "another rep gets the not-found page"
    );

    // An admin changes the rule: support agents may now see revenue, on their next request.
    let (s, body) = app
        .call(
            &t.admin,
            reqwest::Method::PUT,
            "/api/v1/roles/support_agent",
            Some(json!({"field_rules": {"account": {"credit_limit": "hidden"}}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (_, seen) = app.get(&support, &path).await;
    assert_eq!(seen["annual_revenue"], "9000000.00");
    assert!(seen.get("credit_limit").is_none());

    // Unknown field names in a rule are refused.
    let (s, body) = app
        .call(
            &t.admin,
            reqwest::Method::PUT,
            "/api/v1/roles/support_agent",
            Some(json!({"field_rules": {"account": {"no_such_field": "hidden"}}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // A rep may not change roles.
    let (s, _) = app
        .call(
            &t.rep_a,
            reqwest::Method::PUT,
            "/api/v1/roles/sales_rep",
            Some(json!({"require_mfa": true})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
});

story!(admin_can_view_as_a_user, |app| {
    let t = team(&app).await;
    let (_, a) = app
        .post(&t.rep_a, "/api/v1/accounts", json!({"name": "Initech"}))
        .await;
    app.post(&t.rep_b, "/api/v1/accounts", json!({"name": "Umbrella"}))
        .await;
    let res = app
        .http
        .get(format!("{}/api/v1/accounts", app.base))
        .bearer_auth(&t.admin.token)
        .header("x-view-as", &t.rep_a_id)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    let names: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Initech"]);
    // The preview is read-only.
    let res = app
        .http
        .patch(format!(
            "{}/api/v1/accounts/{}",
            app.base,
            a["id"].as_str().unwrap()
        ))
        .bearer_auth(&t.admin.token)
        .header("x-view-as", &t.rep_a_id)
        .json(&json!({"name": "changed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A rep cannot use view-as.
    let res = app
        .http
        .get(format!("{}/api/v1/accounts", app.base))
        .bearer_auth(&t.rep_a.token)
        .header("x-view-as", &t.rep_b_id)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
});

story!(administration_is_refused_to_non_admins, |app| {
    let t = team(&app).await;
    let (s, _) = app
        .post(
            &t.rep_a,
            "/api/v1/users",
            json!({"email": "x@example.com", "password": common::PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get(&t.rep_a, "/api/v1/audit").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&t.manager, "/api/v1/roles").await.0,
        StatusCode::FORBIDDEN
    );
    let (s, _) = app
        .patch(
            &t.rep_a,
            &format!("/api/v1/users/{}", t.rep_b_id),
            json!({"active": false}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .call(
            &t.rep_a,
            reqwest::Method::PUT,
            "/api/v1/duplicate-rules/accounts",
            Some(json!({"name": "off"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The admin can do all of it.
    let (s, body) = app.post(&t.admin, "/api/v1/users", json!({"email": "new@example.com", "password": common::PASSWORD, "roles": ["viewer"], "department": "East sales"})).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(app.get(&t.admin, "/api/v1/audit").await.0, StatusCode::OK);
    let (s, body) = app
        .post(&t.admin, "/api/v1/users", json!({"email": "tz@example.com", "password": common::PASSWORD, "phone": "139 1111 2222", "time_zone": "Europe/Berlin", "language": "en"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["phone"], "+8613911112222");
    assert_eq!(body["time_zone"], "Europe/Berlin");
    assert_eq!(body["language"], "en");
    let (s, body) = app.post(&t.admin, "/api/v1/users", json!({"email": "tz2@example.com", "password": common::PASSWORD, "time_zone": "not a zone!"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "time_zone");
});

/// Fetch a UI page with the session cookie (as a browser would).
async fn page(app: &App, s: &Session, path: &str) -> String {
    let res = app
        .http
        .get(format!("{}{path}", app.base))
        .header("cookie", format!("rapport_session={}", s.token))
        .header("accept-language", "zh-CN")
        .send()
        .await
        .unwrap();
    res.text().await.unwrap()
}

/// The ids a list or search answers.
async fn found(app: &App, s: &Session, path: &str) -> Vec<String> {
    let (st, body) = app.get(s, path).await;
    assert_eq!(st, StatusCode::OK, "{path}: {body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

story!(quick_search_never_matches_a_hidden_field, |app| {
    let t = team(&app).await;
    app.user("viewer@example.com", "viewer", None, None).await;
    let viewer = app.login("viewer@example.com").await;
    let contact = app
        .created(
            &t.admin,
            "/api/v1/contacts",
            json!({"family_name": "张", "given_name": "若安", "mobile": "+8613975425313", "email": "ra.zhang@example.com"}),
        )
        .await;
    let account = app
        .created(
            &t.admin,
            "/api/v1/accounts",
            json!({"name": "Hidden Code Trading", "credit_code": "914403001922038216", "phone": "+862188886666"}),
        )
        .await;
    let (cid, aid) = (common::id(&contact), common::id(&account));
    let probes = [
        ("contacts", urlencode("+8613975425313")),
        ("contacts", "5313".to_string()),
        ("contacts", urlencode("ra.zhang@example.com")),
        ("accounts", "914403001922038216".to_string()),
        ("accounts", "6666".to_string()),
    ];
    // Before any rule, the viewer finds both by each value: the probes can find them.
    for (plural, q) in &probes {
        let want = if *plural == "contacts" { &cid } else { &aid };
        let ids = found(&app, &viewer, &format!("/api/v1/{plural}?q={q}")).await;
        assert_eq!(ids, vec![want.clone()], "{plural}?q={q} before the rules");
    }
    for field in ["mobile", "phones", "email", "emails"] {
        app.set_field_rule(&t.admin, "viewer", "contact", field, "hidden")
            .await;
    }
    for field in ["credit_code", "phone"] {
        app.set_field_rule(&t.admin, "viewer", "account", field, "hidden")
            .await;
    }
    // Now nothing the viewer cannot see finds them, by value or by the last four digits.
    for (plural, q) in &probes {
        let ids = found(&app, &viewer, &format!("/api/v1/{plural}?q={q}")).await;
        assert!(
            ids.is_empty(),
            "{plural}?q={q} matched a hidden field: {ids:?}"
        );
    }
    // What the viewer may read still finds them; the administrator still finds by value.
    let ids = found(
        &app,
        &viewer,
        &format!("/api/v1/contacts?q={}", urlencode("张若")),
    )
    .await;
    assert_eq!(ids, vec![cid.clone()]);
    let ids = found(&app, &viewer, "/api/v1/accounts?q=Hidden").await;
    assert_eq!(ids, vec![aid.clone()]);
    for (plural, q) in &probes {
        let ids = found(&app, &t.admin, &format!("/api/v1/{plural}?q={q}")).await;
        assert_eq!(ids.len(), 1, "admin {plural}?q={q}");
    }
});

story!(
    references_to_hidden_records_are_refused_like_missing_ones,
    |app| {
        let t = team(&app).await;
        // Rep A's account and contract, which rep C (another department) may not see.
        let hidden = app
            .created(
                &t.rep_a,
                "/api/v1/accounts",
                json!({"name": "RA Alpha Industrial"}),
            )
            .await;
        let hidden_id = common::id(&hidden);
        let missing = "01a24bb4-b111-739b-a31f-286996b94cdc";
        // A contact linked to it, and an account naming it as parent: the same 422 as for an id
        // that does not exist, and nothing written.
        for (path, body) in [
            (
                "/api/v1/contacts",
                json!({"family_name": "BLinkProbe", "account_ids": [hidden_id]}),
            ),
            (
                "/api/v1/contacts",
                json!({"family_name": "BLinkProbe", "account_ids": [missing]}),
            ),
            (
                "/api/v1/accounts",
                json!({"name": "BParentProbe", "parent_id": hidden_id}),
            ),
            (
                "/api/v1/accounts",
                json!({"name": "BParentProbe", "parent_id": missing}),
            ),
        ] {
            let (s, err) = app.post(&t.other_rep, path, body.clone()).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}: {err}");
            assert_eq!(err["errors"][0]["code"], "invalid_reference", "{err}");
        }
        let (_, mine) = app
            .post(
                &t.other_rep,
                "/api/v1/contacts",
                json!({"family_name": "Own"}),
            )
            .await;
        let (s, err) = app
            .patch(
                &t.other_rep,
                &format!("/api/v1/contacts/{}", common::id(&mine)),
                json!({"account_ids": [hidden_id]}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(found(&app, &t.other_rep, "/api/v1/contacts?q=BLinkProbe")
            .await
            .is_empty());
        assert!(found(&app, &t.other_rep, "/api/v1/accounts?q=BParentProbe")
            .await
            .is_empty());
        // An account may not be its own parent.
        let (s, err) = app
            .patch(
                &t.rep_a,
                &format!("/api/v1/accounts/{hidden_id}"),
                json!({"parent_id": hidden_id}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        // The account's owner links and parents as before.
        let (s, child) = app
            .post(
                &t.rep_a,
                "/api/v1/accounts",
                json!({"name": "RA Child", "parent_id": hidden_id}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{child}");
        let (s, c) = app
            .post(
                &t.rep_a,
                "/api/v1/contacts",
                json!({"family_name": "Linked", "account_ids": [hidden_id]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
    }
);
