//! Custom fields: every kind, required and default values, validation, filters, field rules,
//! encryption of sensitive ones, history.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::Backend;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn enc(v: &Value) -> String {
    common::urlencode(&v.to_string())
}

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

story!(custom_fields_behave_like_built_in_ones, |app| {
    let admin_id = app
        .user("admin@example.com", "administrator", None, None)
        .await;
    app.user("rep@example.com", "sales_rep", None, None).await;
    let admin = app.login("admin@example.com").await;
    let rep = app.login("rep@example.com").await;
    let defs = [
        (
            "cf_region",
            json!({"label_en": "Region", "label_zh": "区域", "kind": "text", "required": true}),
        ),
        (
            "cf_notes",
            json!({"label_en": "Notes", "label_zh": "备注", "kind": "long_text"}),
        ),
        (
            "cf_employees",
            json!({"label_en": "Employees", "label_zh": "员工数", "kind": "number"}),
        ),
        (
            "cf_budget",
            json!({"label_en": "Budget", "label_zh": "预算", "kind": "money"}),
        ),
        (
            "cf_founded",
            json!({"label_en": "Founded", "label_zh": "成立日期", "kind": "date"}),
        ),
        (
            "cf_next_call",
            json!({"label_en": "Next call", "label_zh": "下次联系", "kind": "datetime"}),
        ),
        (
            "cf_tier",
            json!({"label_en": "Tier", "label_zh": "等级", "kind": "choice", "default": "silver",
            "options": [{"value": "gold", "label_en": "Gold", "label_zh": "金牌"}, {"value": "silver", "label_en": "Silver", "label_zh": "银牌"}]}),
        ),
        (
            "cf_channels",
            json!({"label_en": "Channels", "label_zh": "渠道", "kind": "multi_choice",
            "options": [{"value": "online", "label_en": "Online", "label_zh": "线上"}, {"value": "retail", "label_en": "Retail", "label_zh": "门店"}]}),
        ),
        (
            "cf_listed",
            json!({"label_en": "Listed", "label_zh": "上市公司", "kind": "checkbox"}),
        ),
        (
            "cf_csm",
            json!({"label_en": "Success manager", "label_zh": "客户成功经理", "kind": "user"}),
        ),
        (
            "cf_portal",
            json!({"label_en": "Portal", "label_zh": "门户", "kind": "url"}),
        ),
        (
            "cf_billing_email",
            json!({"label_en": "Billing email", "label_zh": "账单邮箱", "kind": "email", "sensitive": true}),
        ),
        (
            "cf_hotline",
            json!({"label_en": "Hotline", "label_zh": "热线", "kind": "phone", "sensitive": true}),
        ),
    ];
    for (key, body) in &defs {
        let (st, res) = app
            .call(
                &admin,
                Method::PUT,
                &format!("/api/v1/custom-fields/accounts/{key}"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{key}: {res}");
    }
    // Definitions are validated and only administrators may change them.
    let (st, res) = app
        .call(
            &admin,
            Method::PUT,
            "/api/v1/custom-fields/accounts/Region",
            Some(json!({"label_en": "x", "label_zh": "x", "kind": "text"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res["errors"][0]["field"], "key");
    let (st, _) = app
        .call(
            &admin,
            Method::PUT,
            "/api/v1/custom-fields/accounts/cf_x",
            Some(json!({"label_en": "x", "label_zh": "x", "kind": "choice"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, _) = app
        .call(
            &admin,
            Method::PUT,
            "/api/v1/custom-fields/accounts/cf_region",
            Some(json!({"label_en": "Region", "label_zh": "区域", "kind": "number"})),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the kind of an existing field cannot change"
    );
    let (st, _) = app
        .call(
            &rep,
            Method::PUT,
            "/api/v1/custom-fields/accounts/cf_y",
            Some(json!({"label_en": "y", "label_zh": "y", "kind": "text"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (_, list) = app.get(&rep, "/api/v1/custom-fields/accounts").await;
    assert_eq!(list["data"].as_array().unwrap().len(), defs.len());

    // Required: cf_region. Default: cf_tier.
    let (st, res) = app
        .post(&rep, "/api/v1/accounts", json!({"name": "No Region Ltd"}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res["errors"][0]["field"], "cf_region");
    let full = json!({
        "name": "Custom One Ltd", "cf_region": "华东", "cf_notes": "long\\ntext", "cf_employees": 250, "cf_budget": "120000.5",
        "cf_founded": "2001-05-01", "cf_next_call": "2026-12-01T10:00:00+08:00", "cf_tier": "gold", "cf_channels": ["online", "retail"],
        "cf_listed": true, "cf_csm": admin_id, "cf_portal": "https://portal.example.com", "cf_billing_email": "Billing@Custom.example",
        "cf_hotline": "400 800 8820"
    });
    let (st, one) = app.post(&rep, "/api/v1/accounts", full).await;
    assert_eq!(st, StatusCode::CREATED, "{one}");
    assert_eq!(one["cf_budget"], "120000.50");
    assert_eq!(one["cf_employees"], 250);
    assert_eq!(one["cf_billing_email"], "billing@custom.example");
    assert_eq!(one["cf_channels"], json!(["online", "retail"]));
    let (st, two) = app.post(&rep, "/api/v1/accounts", json!({"name": "Custom Two Ltd", "cf_region": "华南", "cf_employees": "12", "cf_listed": false})).await;
    assert_eq!(st, StatusCode::CREATED, "{two}");
    assert_eq!(two["cf_tier"], "silver", "the default applies");

    // Each bad value names its field; nothing is written.
    for (k, v, code) in [
        ("cf_employees", json!("many"), "invalid_number"),
        ("cf_budget", json!("1.234"), "invalid_amount"),
        ("cf_founded", json!("yesterday"), "invalid_date"),
        ("cf_tier", json!("bronze"), "invalid_choice"),
        ("cf_channels", json!(["tv"]), "invalid_choice"),
        ("cf_listed", json!("yes"), "invalid_type"),
        (
            "cf_csm",
            json!("01a2027c-22ed-7012-bfd2-349135b6c66d"),
            "invalid_reference",
        ),
        ("cf_portal", json!("portal"), "invalid_url"),
        ("cf_billing_email", json!("nope"), "invalid_email"),
        ("cf_hotline", json!("12"), "invalid_phone"),
        ("cf_unknown", json!(1), "unknown_custom_field"),
    ] {
        let mut d = json!({"name": "Bad Custom", "cf_region": "x"});
        d[k] = v;
        let (st, res) = app.post(&rep, "/api/v1/accounts", d).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{k}: {res}");
        assert_eq!(res["errors"][0]["field"], k, "{res}");
        assert_eq!(res["errors"][0]["code"], code, "{k}: {res}");
    }
    assert_eq!(
        names(&app.get(&rep, "/api/v1/accounts").await.1),
        vec!["Custom One Ltd", "Custom Two Ltd"]
    );

    // Filters on custom fields, on both backends.
    for (filter, expected) in [
        (
            json!({"field": "cf_employees", "op": "gt", "value": 100}),
            vec!["Custom One Ltd"],
        ),
        (
            json!({"field": "cf_budget", "op": "gte", "value": "100000"}),
            vec!["Custom One Ltd"],
        ),
        (
            json!({"field": "cf_tier", "op": "eq", "value": "silver"}),
            vec!["Custom Two Ltd"],
        ),
        (
            json!({"field": "cf_channels", "op": "has", "value": "retail"}),
            vec!["Custom One Ltd"],
        ),
        (
            json!({"field": "cf_listed", "op": "eq", "value": true}),
            vec!["Custom One Ltd"],
        ),
        (
            json!({"field": "cf_listed", "op": "eq", "value": false}),
            vec!["Custom Two Ltd"],
        ),
        (
            json!({"field": "cf_region", "op": "contains", "value": "南"}),
            vec!["Custom Two Ltd"],
        ),
        (
            json!({"field": "cf_founded", "op": "lt", "value": "2010-01-01"}),
            vec!["Custom One Ltd"],
        ),
        (
            json!({"field": "cf_notes", "op": "is_empty"}),
            vec!["Custom Two Ltd"],
        ),
        (
            json!({"field": "cf_billing_email", "op": "eq", "value": "BILLING@custom.example"}),
            vec!["Custom One Ltd"],
        ),
        (
            json!({"field": "cf_hotline", "op": "eq", "value": "4008008820"}),
            vec!["Custom One Ltd"],
        ),
    ] {
        let (st, list) = app
            .get(&rep, &format!("/api/v1/accounts?filter={}", enc(&filter)))
            .await;
        assert_eq!(st, StatusCode::OK, "{filter}: {list}");
        assert_eq!(names(&list), expected, "{filter}");
    }
    let (st, _) = app
        .get(
            &rep,
            &format!(
                "/api/v1/accounts?filter={}",
                enc(&json!({"field": "cf_billing_email", "op": "contains", "value": "b"}))
            ),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::UNPROCESSABLE_ENTITY,
        "sensitive custom fields only match exactly"
    );

    // Updates, history (sensitive values masked), clearing a value.
    let path = format!("/api/v1/accounts/{}", one["id"].as_str().unwrap());
    let (st, upd) = app
        .patch(
            &rep,
            &path,
            json!({"cf_tier": "silver", "cf_hotline": "400 800 8821", "cf_notes": null}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{upd}");
    assert!(upd.get("cf_notes").is_none());
    let (_, hist) = app.get(&rep, &format!("{path}/history")).await;
    let changes = &hist["data"][0]["changes"];
    assert_eq!(
        changes["cf_tier"],
        json!({"before": "gold", "after": "silver"})
    );
    assert_eq!(changes["cf_hotline"]["after"], "[encrypted]");
    let (st, res) = app.patch(&rep, &path, json!({"cf_region": null})).await;
    assert_eq!(
        st,
        StatusCode::UNPROCESSABLE_ENTITY,
        "required stays required: {res}"
    );

    // Field rules apply to custom fields too.
    let (st, _) = app.call(&admin, Method::PUT, "/api/v1/roles/sales_rep", Some(json!({"field_rules": {"account": {"cf_budget": "hidden", "cf_tier": "read_only"}}}))).await;
    assert_eq!(st, StatusCode::OK);
    let (_, seen) = app.get(&rep, &path).await;
    assert!(seen.get("cf_budget").is_none());
    assert_eq!(seen["cf_tier"], "silver");
    let (st, res) = app.patch(&rep, &path, json!({"cf_tier": "gold"})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res["errors"][0]["code"], "field_not_writable");
    let (st, _) = app
        .get(
            &rep,
            &format!(
                "/api/v1/accounts?filter={}",
                enc(&json!({"field": "cf_budget", "op": "gt", "value": 1}))
            ),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

    // Sensitive custom values are encrypted at rest.
    let bytes: Vec<u8> = match app.backend {
        Backend::Sqlite => ["rapport.db", "rapport.db-wal"]
            .iter()
            .filter_map(|n| std::fs::read(app.dir.join(n)).ok())
            .flatten()
            .collect(),
        Backend::Postgres => {
            std::process::Command::new("pg_dump")
                .arg(&app.database_url)
                .output()
                .unwrap()
                .stdout
        }
    };
    for needle in ["billing@custom.example", "4008008821", "4008008820"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} stored in clear"
        );
    }
});
