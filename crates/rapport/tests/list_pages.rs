//! A list page is written straight from the rows it was read in (ADR 0019); reading one
//! record goes through the record. Both must show the same thing: every field kind, custom
//! fields plain and sensitive, contacts' account links, what a field rule hides, and the
//! cursor that continues the list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{id, urlencode as enc, App, Session};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Every record of `path`'s list, read in pages of `limit`, each compared with the record
/// read on its own by the same user.
async fn same_as_reads(
    app: &App,
    s: &Session,
    path: &str,
    query: &str,
    limit: usize,
) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{path}?limit={limit}{query}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", enc(c)));
        }
        let (st, page) = app.get(s, &url).await;
        assert_eq!(st, StatusCode::OK, "{url}: {page}");
        let rows = page["data"].as_array().unwrap();
        assert!(rows.len() <= limit, "{url}: {} rows", rows.len());
        for row in rows {
            let (st, one) = app.get(s, &format!("{path}/{}", id(row))).await;
            assert_eq!(st, StatusCode::OK, "{one}");
            assert_eq!(
                row, &one,
                "{path}: the list shows the record as reading it does"
            );
            seen.push(row.clone());
        }
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(rows.len(), limit, "a cursor only after a full page");
                cursor = Some(c.to_string());
            }
            None => break,
        }
    }
    seen
}

story!(list_pages_show_records_as_reads_do, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let rep_id = app.user("rep@example.com", "sales_rep", None, None).await;
    let admin = app.login("admin@example.com").await;
    let rep = app.login("rep@example.com").await;
    for (key, body) in [
        (
            "cf_region",
            json!({"label_en": "Region", "label_zh": "区域", "kind": "text"}),
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
            "cf_listed",
            json!({"label_en": "Listed", "label_zh": "上市公司", "kind": "checkbox"}),
        ),
        (
            "cf_billing_email",
            json!({"label_en": "Billing email", "label_zh": "账单邮箱", "kind": "email", "sensitive": true}),
        ),
    ] {
        let (st, res) = app
            .call(
                &admin,
                Method::PUT,
                &format!("/api/v1/custom-fields/accounts/{key}"),
                Some(body),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{key}: {res}");
    }
    let parent = app
        .created(&rep, "/api/v1/accounts", json!({"name": "Parent Group"}))
        .await;
    // Made by the administrator (a rep may not set the credit limit) for the rep.
    let full = app
        .created(
            &admin,
            "/api/v1/accounts",
            json!({
                "owner_id": rep_id,
                "name": "深圳市示例科技有限公司", "short_name": "示例科技",
                "credit_code": "914403001922038216", "industry": "it", "size": "200-999",
                "level": "A", "source": "referral", "province": "广东", "city": "深圳",
                "address": "南山区科技园 1 号 \"东座\"", "website": "https://example.cn",
                "phone": "0755-2878 0808", "tags": ["vip", "tech"], "parent_id": id(&parent),
                "status": "active", "annual_revenue": "12345678.90", "credit_limit": 500000,
                "cf_region": "华南", "cf_budget": "120000.5", "cf_founded": "2001-05-01",
                "cf_listed": true, "cf_billing_email": "Billing@Custom.example"
            }),
        )
        .await;
    for i in 0..4 {
        app.created(
            &rep,
            "/api/v1/accounts",
            json!({"name": format!("Level A Holdings {i}"), "level": "A"}),
        )
        .await;
    }
    let contact = app
        .created(
            &rep,
            "/api/v1/contacts",
            json!({
                "family_name": "王", "given_name": "芳", "title": "采购总监",
                "accounts": [{"account_id": id(&full), "role": "decision_maker"},
                             {"account_id": id(&parent), "role": "influencer"}],
                "mobile": "+86 138-0013-8000", "phones": ["010 6552 9988"],
                "email": "Wang.Fang@Example.CN", "emails": ["fang@example.org"],
                "wechat": "wangfang_88", "birthday": "1988-08-08", "address": "北京市朝阳区",
                "tags": ["key"], "preferences": {"contact_time": "morning"},
                "consent_email": {"granted": true, "at": "2026-01-05T10:00:00+08:00", "source": "trade show form"},
                "consent_sms": {"granted": false}
            }),
        )
        .await;
    app.created(
        &rep,
        "/api/v1/contacts",
        json!({"family_name": "Smith", "given_name": "Grace"}),
    )
    .await;
    app.created(
        &rep,
        "/api/v1/leads",
        json!({"company": "杭州云栖科技有限公司", "family_name": "王", "given_name": "磊",
               "title": "CTO", "mobile": "138 0013 8000", "email": "wanglei@yunqi.example",
               "source": "exhibition", "score": 80, "industry": "it"}),
    )
    .await;
    app.created(
        &rep,
        "/api/v1/opportunities",
        json!({"name": "二期扩容", "account_id": id(&full), "amount": "88000.00",
               "contacts": [{"contact_id": id(&contact), "role": "decision_maker"}]}),
    )
    .await;
    let product = app
        .created(
            &admin,
            "/api/v1/products",
            json!({"code": "CRM-PRO", "name": "Rapport 专业版", "unit": "套", "price": "12000.00", "tax_rate": 13}),
        )
        .await;
    app.created(
        &rep,
        "/api/v1/quotes",
        json!({"name": "首年订阅", "account_id": id(&full), "valid_until": "2099-12-31", "lines": [
            {"product_id": id(&product), "quantity": "3", "discount": "10"},
            {"name": "实施服务", "quantity": "2.5", "unit_price": "33.33", "tax_rate": "6"}
        ]}),
    )
    .await;

    for s in [&admin, &rep] {
        let accounts = same_as_reads(&app, s, "/api/v1/accounts", "", 2).await;
        assert_eq!(accounts.len(), 6);
        let shown = accounts.iter().find(|a| id(a) == id(&full)).unwrap();
        assert_eq!(shown["cf_billing_email"], "billing@custom.example");
        assert_eq!(shown["cf_budget"], "120000.50");
        assert_eq!(shown["phone"], "+8675528780808");
        assert_eq!(shown["tags"], json!(["vip", "tech"]));
        // Filtered and sorted by name, as the benchmark's list is.
        let filter = enc(&json!({"field": "level", "op": "eq", "value": "A"}).to_string());
        let level_a = same_as_reads(
            &app,
            s,
            "/api/v1/accounts",
            &format!("&sort=name&filter={filter}"),
            2,
        )
        .await;
        assert_eq!(level_a.len(), 5);
        let names: Vec<&str> = level_a
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);

        let contacts = same_as_reads(&app, s, "/api/v1/contacts", "", 1).await;
        assert_eq!(contacts.len(), 2);
        let shown = contacts.iter().find(|c| id(c) == id(&contact)).unwrap();
        assert_eq!(shown["account_ids"].as_array().unwrap().len(), 2);
        assert_eq!(shown["accounts"].as_array().unwrap().len(), 2);
        assert_eq!(shown["consent_email"]["at"], "2026-01-05T02:00:00.000Z");
        assert_eq!(shown["mobile"], "+8613800138000");
        assert_eq!(shown["emails"], json!(["fang@example.org"]));
        // A quick search reads its page the same way.
        let found = same_as_reads(&app, s, "/api/v1/contacts", "&q=8000", 5).await;
        assert_eq!(found.len(), 1);
        assert_eq!(
            same_as_reads(&app, s, "/api/v1/leads", "", 5).await.len(),
            1
        );
        let opps = same_as_reads(&app, s, "/api/v1/opportunities", "", 5).await;
        assert_eq!(opps.len(), 1);
        assert_eq!(opps[0]["contacts"][0]["role"], "decision_maker");
        assert_eq!(
            same_as_reads(&app, s, "/api/v1/products", "", 5)
                .await
                .len(),
            1
        );
        let quotes = same_as_reads(&app, s, "/api/v1/quotes", "", 5).await;
        assert_eq!(quotes.len(), 1);
        assert_eq!(quotes[0]["lines"][1]["net"], "83.33");
    }

    // A field rule hides a built-in and a custom field from the rep's list as from a read.
    app.set_field_rule(&admin, "sales_rep", "account", "phone", "hidden")
        .await;
    app.set_field_rule(&admin, "sales_rep", "account", "cf_billing_email", "hidden")
        .await;
    let accounts = same_as_reads(&app, &rep, "/api/v1/accounts", "", 3).await;
    let shown = accounts.iter().find(|a| id(a) == id(&full)).unwrap();
    assert!(shown.get("phone").is_none(), "{shown}");
    assert!(shown.get("cf_billing_email").is_none(), "{shown}");
    assert_eq!(shown["cf_region"], "华南");
    let accounts = same_as_reads(&app, &admin, "/api/v1/accounts", "", 3).await;
    let shown = accounts.iter().find(|a| id(a) == id(&full)).unwrap();
    assert_eq!(shown["phone"], "+8675528780808");
});
