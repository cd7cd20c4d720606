//! Custom fields on every record type, not only accounts and contacts: defined by an
//! administrator, written and read through the API, filtered on, exported, imported, hidden by
//! field rules, sensitive values sealed at rest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::imports::{run_with, upload};
use common::{id, urlencode};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// (path plural, SQL table, field-rule object key)
const TYPES: [(&str, &str, &str); 7] = [
    ("leads", "leads", "lead"),
    ("opportunities", "opportunities", "opportunity"),
    ("products", "products", "product"),
    ("quotes", "quotes", "quote"),
    ("contracts", "contracts", "contract"),
    ("orders", "orders", "order"),
    ("payments", "payments", "payment"),
];

fn filter(field: &str, value: &str) -> String {
    urlencode(&json!({"field": field, "op": "eq", "value": value}).to_string())
}

story!(every_record_type_takes_custom_fields, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.user("manager@example.com", "sales_manager", Some("East"), None)
        .await;
    app.user(
        "rep@example.com",
        "sales_rep",
        Some("East"),
        Some("manager@example.com"),
    )
    .await;
    app.user("cfo@example.com", "finance", None, None).await;
    let admin = app.login("admin@example.com").await;
    let manager = app.login("manager@example.com").await;
    let rep = app.login("rep@example.com").await;
    let finance = app.login("cfo@example.com").await;

    // Only administrators define them; a path that names no record type is not found.
    let text = json!({"label_en": "Reference", "label_zh": "参考号", "kind": "text"});
    let (st, _) = app
        .call(
            &rep,
            Method::PUT,
            "/api/v1/custom-fields/leads/cf_ref",
            Some(text.clone()),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = app
        .call(
            &admin,
            Method::PUT,
            "/api/v1/custom-fields/widgets/cf_ref",
            Some(text.clone()),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    for (plural, _, _) in TYPES {
        for (key, body) in [
            ("cf_ref", text.clone()),
            (
                "cf_secret",
                json!({"label_en": "Secret", "label_zh": "机密", "kind": "text", "sensitive": true}),
            ),
        ] {
            let (st, v) = app
                .call(
                    &admin,
                    Method::PUT,
                    &format!("/api/v1/custom-fields/{plural}/{key}"),
                    Some(body),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{plural}.{key}: {v}");
        }
        let (st, defs) = app
            .get(&rep, &format!("/api/v1/custom-fields/{plural}"))
            .await;
        assert_eq!(st, StatusCode::OK, "{defs}");
        assert_eq!(
            defs["data"].as_array().unwrap().len(),
            2,
            "{plural}: {defs}"
        );
    }

    // One record of each type, created with its custom values.
    let account = id(&app
        .created(
            &rep,
            "/api/v1/accounts",
            json!({"name": "苏州精工机械有限公司"}),
        )
        .await);
    let custom =
        |n: &str| json!({"cf_ref": format!("REF-{n}"), "cf_secret": format!("secret-{n}-7731")});
    let with = |mut body: Value, n: &str| {
        body.as_object_mut()
            .unwrap()
            .extend(custom(n).as_object().unwrap().clone());
        body
    };
    let mut made: Vec<(&str, String)> = Vec::new();
    let lead = app
        .created(
            &rep,
            "/api/v1/leads",
            with(
                json!({"company": "杭州云栖科技", "family_name": "王", "given_name": "磊"}),
                "leads",
            ),
        )
        .await;
    made.push(("leads", id(&lead)));
    let opp = app
        .created(
            &rep,
            "/api/v1/opportunities",
            with(
                json!({"name": "Deal", "account_id": account, "amount": "5000"}),
                "opportunities",
            ),
        )
        .await;
    made.push(("opportunities", id(&opp)));
    let product = app
        .created(
            &admin,
            "/api/v1/products",
            with(
                json!({"code": "CRM-PRO", "name": "Rapport 专业版", "price": "12000.00"}),
                "products",
            ),
        )
        .await;
    made.push(("products", id(&product)));
    let lines = json!([{"name": "实施服务", "unit_price": "100"}]);
    let quote = app
        .created(
            &rep,
            "/api/v1/quotes",
            with(
                json!({"name": "首年订阅", "account_id": account, "lines": lines}),
                "quotes",
            ),
        )
        .await;
    made.push(("quotes", id(&quote)));
    let contract = app
        .created(
            &rep,
            "/api/v1/contracts",
            with(
                json!({"name": "实施合同", "account_id": account, "amount": "1000.00"}),
                "contracts",
            ),
        )
        .await;
    made.push(("contracts", id(&contract)));
    let order = app
        .created(
            &rep,
            "/api/v1/orders",
            with(
                json!({"name": "硬件", "account_id": account, "lines": lines}),
                "orders",
            ),
        )
        .await;
    made.push(("orders", id(&order)));
    let path = format!("/api/v1/contracts/{}", id(&contract));
    let (st, v) = app.post(&rep, &format!("{path}/submit"), json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = app
        .post(&manager, &format!("{path}/approve"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let payment = app
        .created(
            &finance,
            "/api/v1/payments",
            with(
                json!({"contract_id": id(&contract), "amount": "400.00", "paid_on": "2026-02-01"}),
                "payments",
            ),
        )
        .await;
    made.push(("payments", id(&payment)));

    for (plural, rid) in &made {
        let reader = if *plural == "payments" {
            &finance
        } else {
            &admin
        };
        // Read back as written.
        let (st, v) = app.get(reader, &format!("/api/v1/{plural}/{rid}")).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["cf_ref"], format!("REF-{plural}"), "{plural}: {v}");
        assert_eq!(v["cf_secret"], format!("secret-{plural}-7731"), "{plural}");
        // Lists filter on them, plain and sensitive alike.
        for (field, value) in [
            ("cf_ref", format!("REF-{plural}")),
            ("cf_secret", format!("secret-{plural}-7731")),
        ] {
            let (st, list) = app
                .get(
                    reader,
                    &format!("/api/v1/{plural}?filter={}", filter(field, &value)),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{plural} {field}: {list}");
            let ids: Vec<&str> = list["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap())
                .collect();
            assert_eq!(ids, vec![rid.as_str()], "{plural} {field}");
        }
        let (_, none) = app
            .get(
                reader,
                &format!("/api/v1/{plural}?filter={}", filter("cf_ref", "REF-other")),
            )
            .await;
        assert_eq!(none["data"].as_array().unwrap().len(), 0, "{plural}");
        // Updated, with the change in the record's history.
        let (st, v) = app
            .patch(
                reader,
                &format!("/api/v1/{plural}/{rid}"),
                json!({"cf_ref": format!("NEW-{plural}")}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{plural}: {v}");
        assert_eq!(v["cf_ref"], format!("NEW-{plural}"));
        let (_, hist) = app
            .get(reader, &format!("/api/v1/{plural}/{rid}/history"))
            .await;
        assert_eq!(
            hist["data"][0]["changes"]["cf_ref"],
            json!({"before": format!("REF-{plural}"), "after": format!("NEW-{plural}")}),
            "{plural}: {hist}"
        );
        // Exported as a column.
        let res = app
            .http
            .get(format!(
                "{}/api/v1/{plural}/export?format=csv&cols=cf_ref,cf_secret",
                app.base
            ))
            .bearer_auth(&reader.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{plural}");
        let csv = res.text().await.unwrap();
        assert!(
            csv.lines().next().unwrap().ends_with("id,cf_ref,cf_secret"),
            "{plural}: {csv}"
        );
        assert!(csv.contains(&format!("NEW-{plural}")), "{plural}: {csv}");
        assert!(
            csv.contains(&format!("secret-{plural}-7731")),
            "{plural}: {csv}"
        );
    }

    // Sensitive values are sealed at rest: never in the plain `custom` column.
    for (plural, table, _) in TYPES {
        let rows = app
            .sql_rows(&format!("SELECT custom, custom_enc FROM {table}"))
            .await;
        assert_eq!(rows.len(), 1, "{table}");
        let plain: Option<String> = rows[0].try_get("", "custom").unwrap();
        let sealed: Option<String> = rows[0].try_get("", "custom_enc").unwrap();
        let plain = plain.unwrap_or_default();
        assert!(plain.contains(&format!("NEW-{plural}")), "{table}: {plain}");
        assert!(!plain.contains("7731"), "{table} holds the secret in clear");
        let sealed = sealed.expect("sealed values");
        assert!(!sealed.contains("7731"), "{table}: {sealed}");
    }

    // Field rules hide them from a role, in reads and in filters.
    app.set_field_rule(&admin, "sales_rep", "opportunity", "cf_secret", "hidden")
        .await;
    let (_, seen) = app
        .get(&rep, &format!("/api/v1/opportunities/{}", id(&opp)))
        .await;
    assert_eq!(seen["cf_ref"], "NEW-opportunities");
    assert!(seen.get("cf_secret").is_none(), "{seen}");
    let (st, _) = app
        .get(
            &rep,
            &format!(
                "/api/v1/opportunities?filter={}",
                filter("cf_secret", "secret-opportunities-7731")
            ),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, defs) = app.get(&rep, "/api/v1/custom-fields/opportunities").await;
    assert_eq!(defs["data"].as_array().unwrap().len(), 1, "{defs}");

    // Imports map a lead file's custom column.
    let file = "company,family_name,given_name,cf_ref\n宁波港信,赵,敏,IMP-42\n";
    let (st, v) = upload(&app, &rep, "leads", "leads.csv", file.as_bytes().to_vec()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let import = v["import"]["id"].as_str().unwrap().to_string();
    let mut mapping = v["suggested"].clone();
    assert_eq!(mapping["columns"]["3"], "cf_ref", "{mapping}");
    mapping["match_on"] = json!("none");
    let done = run_with(&app, &rep, &import, mapping).await;
    assert_eq!(done["created"].as_i64(), Some(1), "{done}");
    let (_, list) = app
        .get(
            &rep,
            &format!("/api/v1/leads?filter={}", filter("cf_ref", "IMP-42")),
        )
        .await;
    assert_eq!(list["data"][0]["company"], "宁波港信", "{list}");
});
