//! Documents and products in quick search, within the caller's scope; transfers of records
//! that have no owner refused.
#[allow(unused_imports)]
use super::*;

/// The ids a quick search answers.
async fn searched(app: &App, s: &Session, plural: &str, q: &str) -> Vec<String> {
    let (st, body) = app
        .get(s, &format!("/api/v1/{plural}?q={}", common::urlencode(q)))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

story!(quick_search_finds_documents_and_products_in_scope, |app| {
    let t = team(&app).await;
    let (product, account) = basics(&app, &t, &t.rep_a).await;
    let quote = app
        .created(
            &t.rep_a,
            "/api/v1/quotes",
            json!({"name": "RA Quote for Suzhou", "account_id": account, "lines": [{"product_id": product, "quantity": "1"}]}),
        )
        .await;
    let contract = app
        .created(
            &t.rep_a,
            "/api/v1/contracts",
            json!({"name": "RA Contract 实施", "account_id": account, "amount": "5000.00"}),
        )
        .await;
    let cpath = format!("/api/v1/contracts/{}", id(&contract));
    app.post(&t.rep_a, &format!("{cpath}/submit"), json!({}))
        .await;
    let (st, v) = app
        .post(&t.manager, &format!("{cpath}/approve"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let order = app
        .created(
            &t.rep_a,
            "/api/v1/orders",
            json!({"name": "RA Order 首批", "account_id": account, "lines": [{"product_id": product, "quantity": "2"}]}),
        )
        .await;
    let payment = app
        .created(
            &t.finance,
            "/api/v1/payments",
            json!({"contract_id": id(&contract), "amount": "100.00", "paid_on": "2026-01-05"}),
        )
        .await;
    let number = |v: &serde_json::Value| v["number"].as_str().unwrap().to_string();
    for (plural, q, want) in [
        (
            "products",
            "Rapport".to_string(),
            id(&serde_json::json!({"id": product})),
        ),
        ("products", "CRM-P".to_string(), product.clone()),
        ("quotes", "RA Quote".to_string(), id(&quote)),
        ("quotes", number(&quote), id(&quote)),
        ("contracts", "RA Contract".to_string(), id(&contract)),
        ("contracts", number(&contract).to_lowercase(), id(&contract)),
        ("orders", "RA Order".to_string(), id(&order)),
        ("orders", number(&order)[..4].to_string(), id(&order)),
        ("payments", number(&payment), id(&payment)),
    ] {
        let admin = searched(&app, &t.admin, plural, &q).await;
        assert_eq!(admin, vec![want.clone()], "admin: {plural}?q={q}");
        let owner = searched(&app, &t.rep_a, plural, &q).await;
        assert_eq!(owner, vec![want.clone()], "owner: {plural}?q={q}");
        if plural != "products" {
            // Another department's rep finds none of them.
            assert!(
                searched(&app, &t.rep_b, plural, &q).await.is_empty(),
                "{plural}?q={q}"
            );
        }
    }
    // A payment naming a contract the caller may not see is refused exactly as one naming
    // a contract that does not exist, and nothing is written.
    for contract_id in [
        id(&contract),
        "01a24bb4-b12d-77a8-ab14-e230a05b054a".to_string(),
    ] {
        let (st, err) = app
            .post(
                &t.rep_b,
                "/api/v1/payments",
                json!({"contract_id": contract_id, "amount": "1.00", "paid_on": "2026-01-12"}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["errors"][0]["field"], "contract_id", "{err}");
        assert_eq!(err["errors"][0]["code"], "invalid_reference", "{err}");
    }
    let (_, c) = app.get(&t.rep_a, &cpath).await;
    assert_eq!(c["received_amount"], "100.00");
});

story!(records_without_an_owner_are_not_transferred, |app| {
    let t = team(&app).await;
    let (product, _) = basics(&app, &t, &t.rep_a).await;
    let (st, err) = app
        .post(
            &t.admin,
            "/api/v1/products/transfer",
            json!({"ids": [product], "owner_id": t.manager_id, "reason": "reorganisation"}),
        )
        .await;
    // Products have no owner, so they have no transfer route.
    assert_eq!(st, StatusCode::NOT_FOUND, "{err}");
    let (st, trail) = app
        .get(&t.admin, "/api/v1/audit?action=product.transferred")
        .await;
    assert_eq!(st, StatusCode::OK, "{trail}");
    assert_eq!(trail["data"].as_array().unwrap().len(), 0, "{trail}");
});
