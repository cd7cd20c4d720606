//! Accounts and contacts through the API: every field type, validation, duplicate rules,
//! filters, sort and cursor pagination.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{urlencode as enc, App, Session};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn admin(app: &App) -> Session {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.login("admin@example.com").await
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[key].as_str().unwrap_or_default().to_string())
        .collect()
}

story!(every_account_field_round_trips, |app| {
    let s = admin(&app).await;
    let (_, parent) = app
        .post(&s, "/api/v1/accounts", json!({"name": "Parent Group"}))
        .await;
    let doc = json!({
        "name": "深圳市示例科技有限公司",
        "short_name": "示例科技",
        "credit_code": "914403001922038216",
        "industry": "it",
        "size": "200-999",
        "level": "A",
        "source": "referral",
        "province": "广东",
        "city": "深圳",
        "address": "南山区科技园 1 号",
        "website": "https://example.cn",
        "phone": "0755-2878 0808",
        "tags": ["vip", "tech"],
        "parent_id": parent["id"],
        "status": "active",
        "annual_revenue": "12345678.90",
        "credit_limit": 500000,
        "currency": "CNY",
    });
    let (st, acc) = app.post(&s, "/api/v1/accounts", doc).await;
    assert_eq!(st, StatusCode::CREATED, "{acc}");
    let (_, got) = app
        .get(
            &s,
            &format!("/api/v1/accounts/{}", acc["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(got["phone"], "+8675528780808");
    assert_eq!(got["credit_limit"], "500000.00");
    assert_eq!(got["annual_revenue"], "12345678.90");
    assert_eq!(got["tags"], json!(["vip", "tech"]));
    assert_eq!(got["parent_id"], parent["id"]);
    assert_eq!(got["address"], "南山区科技园 1 号");

    // Each invalid value is named.
    for (field, value, code) in [
        (
            "credit_code",
            json!("914403001922038217"),
            "invalid_credit_code",
        ),
        ("industry", json!("astrology"), "not_in_picklist"),
        ("website", json!("example.com"), "invalid_url"),
        ("phone", json!("123"), "invalid_phone"),
        ("tags", json!(["a\"b"]), "invalid_tag"),
        (
            "parent_id",
            json!("01a2027c-22ed-7012-bfd2-349135b6c66d"),
            "invalid_reference",
        ),
        (
            "owner_id",
            json!("01a2027c-22ed-7012-bfd2-349135b6c66d"),
            "invalid_reference",
        ),
        ("annual_revenue", json!("1.234"), "invalid_amount"),
        ("currency", json!("yuan"), "too_long"),
        ("currency", json!("cny"), "invalid_currency"),
        // Three capital letters are not enough: the code must be one ISO 4217 assigns.
        ("currency", json!("XYZ"), "invalid_currency"),
        ("currency", json!("RMB"), "invalid_currency"),
        ("name", json!("x".repeat(201)), "too_long"),
    ] {
        let mut d = json!({"name": "Field Test"});
        d[field] = value;
        let (st, body) = app.post(&s, "/api/v1/accounts", d).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert_eq!(body["errors"][0]["field"], field, "{body}");
        assert_eq!(body["errors"][0]["code"], code, "{field}: {body}");
    }
});

story!(every_contact_field_round_trips, |app| {
    let s = admin(&app).await;
    let (_, acc) = app
        .post(
            &s,
            "/api/v1/accounts",
            json!({"name": "Contact Holder Ltd"}),
        )
        .await;
    let (_, acc2) = app
        .post(&s, "/api/v1/accounts", json!({"name": "Second Holder Ltd"}))
        .await;
    let doc = json!({
        "family_name": "王",
        "given_name": "芳",
        "title": "采购总监",
        "department": "采购部",
        "accounts": [{"account_id": acc["id"], "role": "decision_maker"}, {"account_id": acc2["id"], "role": "influencer"}],
        "mobile": "+86 138-0013-8000",
        "phones": ["010 6552 9988"],
        "email": "Wang.Fang@Example.CN",
        "emails": ["fang@example.org"],
        "wechat": "wangfang_88",
        "birthday": "1988-08-08",
        "address": "北京市朝阳区",
        "tags": ["key"],
        "preferences": {"contact_time": "morning"},
        "consent_email": {"granted": true, "at": "2026-01-05T10:00:00+08:00", "source": "trade show form"},
        "consent_sms": {"granted": false},
    });
    let (st, c) = app.post(&s, "/api/v1/contacts", doc).await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    assert_eq!(c["mobile"], "+8613800138000");
    assert_eq!(c["phones"], json!(["+861065529988"]));
    assert_eq!(c["email"], "wang.fang@example.cn");
    assert_eq!(c["birthday"], "1988-08-08");
    assert_eq!(c["consent_email"]["granted"], true);
    assert_eq!(c["consent_email"]["at"], "2026-01-05T02:00:00.000Z");
    assert_eq!(c["consent_email"]["source"], "trade show form");
    assert_eq!(c["preferences"]["contact_time"], "morning");
    assert_eq!(c["account_ids"].as_array().unwrap().len(), 2);
    let roles: Vec<&str> = c["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["role"].as_str().unwrap())
        .collect();
    assert!(roles.contains(&"decision_maker") && roles.contains(&"influencer"));

    // The contract's account_ids shorthand.
    let (st, c2) = app
        .post(
            &s,
            "/api/v1/contacts",
            json!({"family_name": "Smith", "given_name": "Jane", "account_ids": [acc["id"]]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{c2}");
    assert_eq!(c2["account_ids"], json!([acc["id"]]));
    // Contacts of an account, through the filter.
    let f = enc(&json!({"field": "accounts", "op": "has", "value": acc["id"]}).to_string());
    let (_, list) = app.get(&s, &format!("/api/v1/contacts?filter={f}")).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);

    for (field, value, code) in [
        ("email", json!("not-an-email"), "invalid_email"),
        ("emails", json!(["ok@example.com", "bad@"]), "invalid_email"),
        ("mobile", json!("555"), "invalid_phone"),
        ("birthday", json!("1988-13-01"), "invalid_date"),
        (
            "id_number",
            json!("110105194912310021"),
            "invalid_id_number",
        ),
        ("consent_email", json!({"granted": "yes"}), "invalid_type"),
        ("preferences", json!([1]), "invalid_type"),
        (
            "account_ids",
            json!(["01a2027c-22ed-7012-bfd2-349135b6c66d"]),
            "invalid_reference",
        ),
    ] {
        let mut d = json!({"family_name": "Bad"});
        d[field] = value;
        let (st, body) = app.post(&s, "/api/v1/contacts", d).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        let expected_field = if field == "account_ids" {
            "accounts"
        } else {
            field
        };
        assert!(
            body["errors"][0]["field"]
                .as_str()
                .unwrap()
                .starts_with(expected_field),
            "{body}"
        );
        assert_eq!(body["errors"][0]["code"], code, "{field}: {body}");
    }
    let (_, all) = app.get(&s, "/api/v1/contacts").await;
    assert_eq!(
        all["data"].as_array().unwrap().len(),
        2,
        "no invalid contact was written"
    );
});

story!(duplicate_rules_block_warn_and_off, |app| {
    let s = admin(&app).await;
    let (st, _) = app.post(&s, "/api/v1/accounts", json!({"name": "Duplicate Test Co., Ltd.", "credit_code": "914403001922038216", "phone": "13900000000"})).await;
    assert_eq!(st, StatusCode::CREATED);

    // Same credit code: blocked, even with the override.
    let (st, body) = app
        .post(
            &s,
            "/api/v1/accounts?override_duplicates=true",
            json!({"name": "Other", "credit_code": "914403001922038216"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(body["code"], "duplicate");
    assert_eq!(body["overridable"], false);
    assert_eq!(body["duplicates"][0]["label"], "Duplicate Test Co., Ltd.");

    // Same normalised name: a warning the caller may override.
    let (st, body) = app
        .post(
            &s,
            "/api/v1/accounts",
            json!({"name": "duplicate test  co ltd"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(body["overridable"], true);
    assert_eq!(body["rule"], "name");
    let (st, _) = app
        .post(
            &s,
            "/api/v1/accounts?override_duplicates=true",
            json!({"name": "duplicate test  co ltd"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);

    // Same phone written differently.
    let (st, body) = app
        .post(
            &s,
            "/api/v1/accounts",
            json!({"name": "Phone Twin", "phone": "+86 139 0000 0000"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["rule"], "phone");

    // Turn the phone rule off: now it saves.
    let (st, _) = app
        .call(
            &s,
            reqwest::Method::PUT,
            "/api/v1/duplicate-rules/accounts",
            Some(json!({"phone": "off"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = app
        .post(
            &s,
            "/api/v1/accounts",
            json!({"name": "Phone Twin", "phone": "+86 139 0000 0000"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, body) = app
        .call(
            &s,
            reqwest::Method::PUT,
            "/api/v1/duplicate-rules/accounts",
            Some(json!({"colour": "off"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Contacts: any of the emails, case-insensitively; on edit too.
    let (_, c) = app
        .post(
            &s,
            "/api/v1/contacts",
            json!({"family_name": "Dup", "email": "dup@example.com"}),
        )
        .await;
    let (st, body) = app
        .post(
            &s,
            "/api/v1/contacts",
            json!({"family_name": "Dup2", "emails": ["DUP@example.com"]}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    let (_, other) = app
        .post(
            &s,
            "/api/v1/contacts",
            json!({"family_name": "Other", "email": "other@example.com"}),
        )
        .await;
    let (st, _) = app
        .patch(
            &s,
            &format!("/api/v1/contacts/{}", other["id"].as_str().unwrap()),
            json!({"email": "dup@example.com"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    // Editing a record does not flag itself.
    let (st, _) = app
        .patch(
            &s,
            &format!("/api/v1/contacts/{}", c["id"].as_str().unwrap()),
            json!({"title": "Boss"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);

    // Every type that declares duplicate rules has them as a setting: leads too; a type
    // without rules has no such path.
    let (st, body) = app.get(&s, "/api/v1/duplicate-rules/leads").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["rules"]["email"], "warn", "{body}");
    app.post(
        &s,
        "/api/v1/leads",
        json!({"family_name": "Lead", "email": "lead@example.com"}),
    )
    .await;
    let twin = json!({"family_name": "Twin", "email": "LEAD@example.com"});
    let (st, body) = app.post(&s, "/api/v1/leads", twin.clone()).await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    let (st, _) = app
        .call(
            &s,
            reqwest::Method::PUT,
            "/api/v1/duplicate-rules/leads",
            Some(json!({"email": "off"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, body) = app.post(&s, "/api/v1/leads", twin).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, _) = app.get(&s, "/api/v1/duplicate-rules/products").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
});

story!(
    duplicates_outside_scope_are_reported_without_details,
    |app| {
        app.user("rep1@example.com", "sales_rep", None, None).await;
        app.user("rep2@example.com", "sales_rep", None, None).await;
        let r1 = app.login("rep1@example.com").await;
        let r2 = app.login("rep2@example.com").await;
        app.post(
            &r1,
            "/api/v1/contacts",
            json!({"family_name": "Hidden", "mobile": "13911112222"}),
        )
        .await;
        let (st, body) = app
            .post(
                &r2,
                "/api/v1/contacts",
                json!({"family_name": "Mine", "mobile": "13911112222"}),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT);
        assert_eq!(body["duplicates"][0]["visible"], false);
        assert!(body["duplicates"][0].get("label").is_none());
        assert!(!body.to_string().contains("Hidden"));
    }
);

story!(filters_sort_and_cursor_pagination, |app| {
    let s = admin(&app).await;
    let levels = ["A", "B", "C", "A", "B", "A", "C"];
    for (i, level) in levels.iter().enumerate() {
        let (st, body) = app
            .post(&s, "/api/v1/accounts", json!({"name": format!("Filter Co {i}"), "level": level, "annual_revenue": format!("{}", (i as i64 + 1) * 1000), "tags": if i % 2 == 0 { json!(["even"]) } else { json!([]) }}))
            .await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
    }
    app.post(&s, "/api/v1/accounts", json!({"name": "No Level Ltd"}))
        .await;

    let f = enc(&json!({"field": "level", "op": "eq", "value": "A"}).to_string());
    let (_, list) = app
        .get(&s, &format!("/api/v1/accounts?filter={f}&sort=name"))
        .await;
    assert_eq!(
        names(&list, "name"),
        vec!["Filter Co 0", "Filter Co 3", "Filter Co 5"]
    );

    let f = enc(&json!({"or": [{"field": "level", "op": "eq", "value": "C"}, {"and": [{"field": "annual_revenue", "op": "gte", "value": "5000"}, {"field": "tags", "op": "has", "value": "even"}]}]}).to_string());
    let (_, list) = app
        .get(
            &s,
            &format!("/api/v1/accounts?filter={f}&sort=-annual_revenue"),
        )
        .await;
    assert_eq!(
        names(&list, "name"),
        vec!["Filter Co 6", "Filter Co 4", "Filter Co 2"]
    );

    let f = enc(&json!({"field": "level", "op": "is_empty"}).to_string());
    let (_, list) = app.get(&s, &format!("/api/v1/accounts?filter={f}")).await;
    assert_eq!(names(&list, "name"), vec!["No Level Ltd"]);

    let f = enc(&json!({"field": "name", "op": "contains", "value": "co 1"}).to_string());
    let (_, list) = app.get(&s, &format!("/api/v1/accounts?filter={f}")).await;
    assert_eq!(names(&list, "name"), vec!["Filter Co 1"]);

    // Walk every page of a sort with NULLs and ties; every record exactly once, in order.
    for sort in [
        "level",
        "-level",
        "annual_revenue",
        "-annual_revenue",
        "name",
        "-created_at",
        "id",
    ] {
        let mut seen: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => format!("/api/v1/accounts?limit=3&sort={sort}&cursor={}", enc(c)),
                None => format!("/api/v1/accounts?limit=3&sort={sort}"),
            };
            let (st, page) = app.get(&s, &url).await;
            assert_eq!(st, StatusCode::OK, "{page}");
            seen.extend(names(&page, "name"));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 8, "{sort}: {seen:?}");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 8, "{sort}: {seen:?}");
        let (_, full) = app
            .get(&s, &format!("/api/v1/accounts?limit=200&sort={sort}"))
            .await;
        assert_eq!(
            seen,
            names(&full, "name"),
            "pages match the one-shot order for {sort}"
        );
    }
});

story!(quick_search_by_name_email_phone_tail_and_company, |app| {
    let s = admin(&app).await;
    let (_, acc) = app
        .post(
            &s,
            "/api/v1/accounts",
            json!({"name": "北京星辰科技有限公司", "short_name": "星辰"}),
        )
        .await;
    app.post(&s, "/api/v1/contacts", json!({"family_name": "李", "given_name": "娜", "mobile": "13512345678", "email": "li.na@xingchen.cn", "account_ids": [acc["id"]]})).await;
    app.post(&s, "/api/v1/contacts", json!({"family_name": "Brown", "given_name": "Alice", "phones": ["+1 415 555 2671"], "emails": ["alice@brown.example"]})).await;
    for (q, expected) in [
        ("李", "李"),
        ("李娜", "李"),
        ("alice", "Brown"),
        ("brown", "Brown"),
        ("LI.NA@xingchen.cn", "李"),
        ("alice@brown.example", "Brown"),
        ("5678", "李"),
        ("135 1234 5678", "李"),
        ("2671", "Brown"),
        ("北京星辰", "李"),
    ] {
        let (st, list) = app.get(&s, &format!("/api/v1/contacts?q={}", enc(q))).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(
            names(&list, "family_name"),
            vec![expected.to_string()],
            "q={q}"
        );
    }
    let (_, list) = app
        .get(&s, &format!("/api/v1/contacts?q={}", enc("9999")))
        .await;
    assert!(list["data"].as_array().unwrap().is_empty());
    let (_, list) = app
        .get(&s, &format!("/api/v1/accounts?q={}", enc("星辰")))
        .await;
    assert_eq!(names(&list, "name"), vec!["北京星辰科技有限公司"]);
});

story!(delete_and_history, |app| {
    let s = admin(&app).await;
    let (_, acc) = app
        .post(
            &s,
            "/api/v1/accounts",
            json!({"name": "Short Lived Ltd", "level": "C"}),
        )
        .await;
    let path = format!("/api/v1/accounts/{}", acc["id"].as_str().unwrap());
    app.patch(&s, &path, json!({"level": "B"})).await;
    let (_, hist) = app.get(&s, &format!("{path}/history")).await;
    let actions: Vec<&str> = hist["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["account.updated", "account.created"]);
    assert_eq!(
        hist["data"][0]["changes"]["level"],
        json!({"before": "C", "after": "B"})
    );
    assert_eq!(app.delete(&s, &path).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&s, &path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&s, &path).await.0, StatusCode::NOT_FOUND);
});

// A list page is written straight from the rows (not through a JSON tree per record) and a
// contact's account links are read in the page's own query on SQLite: each record in a list
// must still be exactly what its own page shows, hidden fields left out of both.
story!(a_list_shows_each_record_as_its_own_page_does, |app| {
    let s = admin(&app).await;
    app.user("rep@example.com", "sales_rep", None, None).await;
    let rep = app.login("rep@example.com").await;
    for (key, body) in [
        (
            "cf_nickname",
            json!({"label_en": "Nickname", "label_zh": "昵称", "kind": "text"}),
        ),
        (
            "cf_private_phone",
            json!({"label_en": "Private phone", "label_zh": "私人电话", "kind": "phone", "sensitive": true}),
        ),
    ] {
        let (st, res) = app
            .call(
                &s,
                reqwest::Method::PUT,
                &format!("/api/v1/custom-fields/contacts/{key}"),
                Some(body),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{key}: {res}");
    }
    let mut accounts = Vec::new();
    for name in ["Zeta Trading", "Alpha Works", "Mid Corp"] {
        let (st, a) = app
            .post(&rep, "/api/v1/accounts", json!({"name": name}))
            .await;
        assert_eq!(st, StatusCode::CREATED, "{a}");
        accounts.push(a["id"].as_str().unwrap().to_string());
    }
    let doc = json!({
        "family_name": "王", "given_name": "芳", "title": "采购经理",
        "mobile": "13800138000", "phones": ["010-6552 9988"],
        "email": "wang.fang@example.cn", "birthday": "1988-08-08",
        "tags": ["key", "vip"], "preferences": {"contact_time": "morning"},
        "consent_email": {"granted": true, "at": "2026-01-05T10:00:00+08:00", "source": "form"},
        "accounts": [
            {"account_id": accounts[0], "role": "decision_maker"},
            {"account_id": accounts[1], "role": "influencer"},
            {"account_id": accounts[2]},
        ],
        "cf_nickname": "芳芳", "cf_private_phone": "13912345678",
    });
    let (st, created) = app.post(&rep, "/api/v1/contacts", doc).await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    let (st, plain) = app
        .post(
            &rep,
            "/api/v1/contacts",
            json!({"family_name": "Lee", "given_name": "Ann"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{plain}");
    let mut sorted = accounts.clone();
    sorted.sort();
    assert_eq!(created["account_ids"], json!(sorted), "links in id order");

    let check = |who: &'static str, session: Session| {
        let app = &app;
        async move {
            let (st, list) = app.get(&session, "/api/v1/contacts?limit=10").await;
            assert_eq!(st, StatusCode::OK, "{who}: {list}");
            let rows = list["data"].as_array().unwrap();
            assert_eq!(rows.len(), 2, "{who}: {list}");
            for row in rows {
                let (st, own) = app
                    .get(
                        &session,
                        &format!("/api/v1/contacts/{}", row["id"].as_str().unwrap()),
                    )
                    .await;
                assert_eq!(st, StatusCode::OK, "{who}: {own}");
                assert_eq!(
                    row, &own,
                    "{who}: a list row differs from the record's page"
                );
            }
            rows.iter()
                .find(|r| r["family_name"] == "王")
                .cloned()
                .unwrap()
        }
    };
    let seen = check("rep", rep.clone()).await;
    assert_eq!(seen["account_ids"], json!(sorted));
    assert_eq!(seen["accounts"].as_array().unwrap().len(), 3);
    let role_of = |id: &str| {
        seen["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["account_id"] == id)
            .map(|l| l["role"].clone())
    };
    assert_eq!(
        role_of(&accounts[0]),
        Some(json!("decision_maker")),
        "{seen}"
    );
    assert_eq!(role_of(&accounts[2]), Some(Value::Null), "{seen}");
    assert_eq!(seen["cf_private_phone"], "+8613912345678");
    assert_eq!(seen["birthday"], "1988-08-08");
    assert_eq!(seen["consent_email"]["at"], "2026-01-05T02:00:00.000Z");
    assert_eq!(check("admin", s.clone()).await, seen);

    // Hidden from the rep: gone from the list and the record's page alike.
    app.set_field_rule(&s, "sales_rep", "contact", "mobile", "hidden")
        .await;
    app.set_field_rule(&s, "sales_rep", "contact", "cf_private_phone", "hidden")
        .await;
    let seen = check("rep", rep.clone()).await;
    assert!(seen.get("mobile").is_none(), "{seen}");
    assert!(seen.get("cf_private_phone").is_none(), "{seen}");
    assert_eq!(seen["cf_nickname"], "芳芳");
    let seen = check("admin", s.clone()).await;
    assert_eq!(seen["mobile"], "+8613800138000");
});

#[path = "records/concurrency.rs"]
mod concurrency;
