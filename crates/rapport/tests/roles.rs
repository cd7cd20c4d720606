//! Least privilege: administrators create roles (from scratch, with rights, or as a copy of a
//! built-in one), rename them and delete those nobody holds; a user given a new role has
//! exactly its rights, field rules included; others are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn role<'a>(list: &'a Value, key: &str) -> Option<&'a Value> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
}

story!(administrators_create_rename_and_delete_roles, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.user("rep@example.com", "sales_rep", None, None).await;
    let admin = app.login("admin@example.com").await;
    let rep = app.login("rep@example.com").await;

    // Only administrators create roles; bad input is named and changes nothing.
    let body = json!({"key": "auditor", "name_en": "Auditor", "name_zh": "审计员",
        "permissions": {"account": {"read": "all", "export": "all"}, "contact": {"read": "all"}},
        "field_rules": {"contact": {"mobile": "hidden"}}});
    let (st, _) = app.post(&rep, "/api/v1/roles", body.clone()).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    for (bad, field) in [
        (
            json!({"key": "Auditor!", "name_en": "A", "name_zh": "审"}),
            "key",
        ),
        (
            json!({"key": "auditor", "name_en": " ", "name_zh": "审"}),
            "name_en",
        ),
        (
            json!({"key": "auditor", "name_en": "A", "name_zh": "审", "copy_of": "nobody"}),
            "copy_of",
        ),
        (
            json!({"key": "auditor", "name_en": "A", "name_zh": "审", "field_rules": {"contact": {"no_such_field": "hidden"}}}),
            "field_rules.contact.no_such_field",
        ),
    ] {
        let (st, v) = app.post(&admin, "/api/v1/roles", bad.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        assert_eq!(v["errors"][0]["field"], field, "{bad}: {v}");
    }
    // A key already taken is a conflict.
    let (st, v) = app
        .post(
            &admin,
            "/api/v1/roles",
            json!({"key": "sales_rep", "name_en": "A", "name_zh": "审"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    let (_, list) = app.get(&admin, "/api/v1/roles").await;
    assert!(role(&list, "auditor").is_none());

    // From scratch, with rights.
    let (st, auditor) = app.post(&admin, "/api/v1/roles", body).await;
    assert_eq!(st, StatusCode::CREATED, "{auditor}");
    assert_eq!(auditor["builtin"], false);
    assert_eq!(auditor["grants"]["permissions"]["account"]["read"], "all");
    // As a copy of a built-in role: the same rights, its own key and names.
    let (st, copy) = app
        .post(
            &admin,
            "/api/v1/roles",
            json!({"key": "senior_rep", "name_en": "Senior rep", "name_zh": "高级销售", "copy_of": "sales_rep"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{copy}");
    let (_, list) = app.get(&admin, "/api/v1/roles").await;
    assert_eq!(
        role(&list, "senior_rep").unwrap()["grants"],
        role(&list, "sales_rep").unwrap()["grants"]
    );

    // A user given the new role has exactly its rights.
    app.user("ann@example.com", "auditor", None, None).await;
    let ann = app.login("ann@example.com").await;
    let acc = app
        .created(
            &admin,
            "/api/v1/accounts",
            json!({"name": "审计对象有限公司"}),
        )
        .await;
    let contact = app
        .created(
            &admin,
            "/api/v1/contacts",
            json!({"family_name": "钱", "given_name": "多", "mobile": "13900139000"}),
        )
        .await;
    let (st, _) = app
        .get(&ann, &format!("/api/v1/accounts/{}", common::id(&acc)))
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, seen) = app
        .get(&ann, &format!("/api/v1/contacts/{}", common::id(&contact)))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(seen.get("mobile").is_none(), "hidden by the role: {seen}");
    let (st, _) = app
        .post(&ann, "/api/v1/accounts", json!({"name": "不可新建"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = app.get(&ann, "/api/v1/leads").await;
    assert_eq!(st, StatusCode::FORBIDDEN, "no right on leads");

    // Renamed; the key stays.
    let (st, v) = app
        .call(
            &admin,
            Method::PUT,
            "/api/v1/roles/auditor",
            Some(json!({"name_en": "Internal auditor", "name_zh": "内部审计"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        (v["key"].as_str(), v["name_zh"].as_str()),
        (Some("auditor"), Some("内部审计"))
    );
    assert_eq!(v["grants"]["permissions"]["account"]["read"], "all");
    let (st, _) = app
        .call(
            &rep,
            Method::PUT,
            "/api/v1/roles/auditor",
            Some(json!({"name_en": "Mine"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // Deleted only when nobody holds it; built-in roles stay.
    let (st, v) = app.delete(&admin, "/api/v1/roles/auditor").await;
    assert_eq!(st, StatusCode::CONFLICT, "held by Ann: {v}");
    let (st, _) = app.delete(&admin, "/api/v1/roles/sales_rep").await;
    assert_eq!(st, StatusCode::CONFLICT, "built in");
    let (st, _) = app.delete(&rep, "/api/v1/roles/senior_rep").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = app.delete(&admin, "/api/v1/roles/nobody").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = app.delete(&admin, "/api/v1/roles/senior_rep").await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, list) = app.get(&admin, "/api/v1/roles").await;
    assert!(role(&list, "senior_rep").is_none());
    assert!(role(&list, "auditor").is_some());

    // Every change is in the audit trail.
    for action in ["role.created", "role.renamed", "role.deleted"] {
        let (_, trail) = app
            .get(&admin, &format!("/api/v1/audit?action={action}"))
            .await;
        assert!(
            !trail["data"].as_array().unwrap().is_empty(),
            "{action}: {trail}"
        );
    }
});

story!(
    role_changes_check_the_right_first_and_write_nothing_on_bad_input,
    |app| {
        app.user("admin@example.com", "administrator", None, None)
            .await;
        app.user("rep@example.com", "sales_rep", None, None).await;
        let admin = app.login("admin@example.com").await;
        let rep = app.login("rep@example.com").await;
        // Without the right, the body is not even looked at: 403, not a validation error.
        for (method, path) in [
            (Method::PUT, "/api/v1/roles/viewer"),
            (Method::POST, "/api/v1/roles"),
        ] {
            let (st, body) = app
                .call(&rep, method, path, Some(json!({"no_such_field": 1})))
                .await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{path}: {body}");
        }
        // A rename together with a rule on a field that does not exist: refused as a whole.
        let (st, body) = app
            .call(
                &admin,
                Method::PUT,
                "/api/v1/roles/viewer",
                Some(json!({"name_en": "Renamed", "name_zh": "改名",
                "field_rules": {"contact": {"no_such_field": "hidden"}}})),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (_, roles) = app.get(&admin, "/api/v1/roles").await;
        let viewer = roles["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == "viewer")
            .unwrap()
            .clone();
        assert_ne!(viewer["name_en"], "Renamed", "{viewer}");
    }
);
