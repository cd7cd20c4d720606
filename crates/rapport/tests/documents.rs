//! Lead to cash, second part: products and price lists, quotes with exact totals and yearly
//! numbers, contracts through their approval flow (never self-approved), orders through their
//! lifecycle, payments against a plan, receivables, and who may see or do what.
#![allow(clippy::disallowed_methods)] // the server under test runs on the wall clock
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{id, App, Session};
use reqwest::StatusCode;
use serde_json::json;

struct Team {
    admin: Session,
    manager: Session,
    rep_a: Session,
    rep_b: Session,
    finance: Session,
    manager_id: String,
    finance_id: String,
}

async fn team(app: &App) -> Team {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let manager_id = app
        .user("manager@example.com", "sales_manager", Some("East"), None)
        .await;
    app.user(
        "rep.a@example.com",
        "sales_rep",
        Some("East"),
        Some("manager@example.com"),
    )
    .await;
    app.user(
        "rep.b@example.com",
        "sales_rep",
        Some("West"),
        Some("manager@example.com"),
    )
    .await;
    let finance_id = app.user("cfo@example.com", "finance", None, None).await;
    Team {
        admin: app.login("admin@example.com").await,
        manager: app.login("manager@example.com").await,
        rep_a: app.login("rep.a@example.com").await,
        rep_b: app.login("rep.b@example.com").await,
        finance: app.login("cfo@example.com").await,
        manager_id,
        finance_id,
    }
}

/// A product, and an account owned by `s`.
async fn basics(app: &App, t: &Team, s: &Session) -> (String, String) {
    let product = app.created(
        &t.admin,
        "/api/v1/products",
        json!({"code": "CRM-PRO", "name": "Rapport 专业版", "unit": "套", "price": "12000.00", "tax_rate": 13}),
    )
    .await;
    let account = app
        .created(
            s,
            "/api/v1/accounts",
            json!({"name": "苏州精工机械有限公司"}),
        )
        .await;
    (id(&product), id(&account))
}

story!(quote_totals_are_exact_and_numbered_per_year, |app| {
    let t = team(&app).await;
    let (product, account) = basics(&app, &t, &t.rep_a).await;
    let year = chrono::Utc::now().format("%Y").to_string();
    let (st, dup) = app
        .post(
            &t.admin,
            "/api/v1/products",
            json!({"code": "CRM-PRO", "name": "again"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{dup}");
    assert_eq!(dup["errors"][0]["code"], "duplicate_code");
    // A rep may read products but not create them.
    let (st, _) = app
        .post(
            &t.rep_a,
            "/api/v1/products",
            json!({"code": "X", "name": "X"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    let q = app.created(
        &t.rep_a,
        "/api/v1/quotes",
        json!({"name": "首年订阅", "account_id": account, "valid_until": "2099-12-31", "lines": [
            {"product_id": product, "quantity": "3", "discount": "10"},
            {"name": "实施服务", "quantity": "2.5", "unit_price": "33.33", "tax_rate": "6"}
        ]}),
    )
    .await;
    assert_eq!(q["number"], format!("Q-{year}-0001"));
    assert_eq!(q["status"], "draft");
    // 3 × 12000 = 36000, 10 % off = 32400, 13 % = 4212; 2.5 × 33.33 = 83.325 → 83.33, 6 % = 5.00
    assert_eq!(q["lines"][0]["name"], "Rapport 专业版");
    assert_eq!(q["lines"][0]["net"], "32400.00");
    assert_eq!(q["lines"][0]["tax"], "4212.00");
    assert_eq!(q["lines"][1]["net"], "83.33");
    assert_eq!(q["lines"][1]["tax"], "5.00");
    assert_eq!(q["gross_amount"], "36083.33");
    assert_eq!(q["discount_amount"], "3600.00");
    assert_eq!(q["net_amount"], "32483.33");
    assert_eq!(q["tax_amount"], "4217.00");
    assert_eq!(q["total"], "36700.33");
    let second = app.created(
        &t.rep_a,
        "/api/v1/quotes",
        json!({"name": "备选", "account_id": account, "lines": [{"name": "x", "unit_price": "1"}]}),
    )
    .await;
    assert_eq!(second["number"], format!("Q-{year}-0002"));

    // Bad lines name the line and field, and change nothing.
    let (st, v) = app
        .patch(
            &t.rep_a,
            &format!("/api/v1/quotes/{}", id(&q)),
            json!({"lines": [{"name": "a", "unit_price": "1"}, {"name": "b", "unit_price": "1", "quantity": "0"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "lines[1].quantity");
    let (_, same) = app
        .get(&t.rep_a, &format!("/api/v1/quotes/{}", id(&q)))
        .await;
    assert_eq!(same["total"], "36700.33");

    // Sent quotes stop changing; accepted ones are final.
    let path = format!("/api/v1/quotes/{}", id(&q));
    let (st, _) = app.patch(&t.rep_a, &path, json!({"status": "sent"})).await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = app
        .patch(
            &t.rep_a,
            &path,
            json!({"lines": [{"name": "z", "unit_price": "1"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    let (st, v) = app
        .patch(&t.rep_a, &path, json!({"status": "accepted"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v["decided_at"].is_string());
    let (st, _) = app.patch(&t.rep_a, &path, json!({"status": "draft"})).await;
    assert_eq!(st, StatusCode::CONFLICT);

    // Another rep sees none of it.
    let (st, _) = app.get(&t.rep_b, &path).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, v) = app
        .post(
            &t.rep_b,
            "/api/v1/quotes",
            json!({"name": "窥探", "account_id": account, "lines": []}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "account_id");

    // A price list prices what it lists.
    let (st, list) = app
        .post(
            &t.admin,
            "/api/v1/price-lists",
            json!({"name": "代理商价", "currency": "CNY", "items": [{"product_id": product, "price": "9999.99"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{list}");
    let (st, _) = app
        .post(&t.rep_a, "/api/v1/price-lists", json!({"name": "mine"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let listed = app
        .created(
            &t.rep_a,
            "/api/v1/quotes",
            json!({"name": "代理", "account_id": account, "price_list_id": list["id"],
               "lines": [{"product_id": product, "quantity": 2, "tax_rate": "0"}]}),
        )
        .await;
    assert_eq!(listed["lines"][0]["unit_price"], "9999.99");
    assert_eq!(listed["total"], "19999.98");

    // The quote becomes a contract and an order with the same figures.
    let (st, contract) = app
        .post(
            &t.rep_a,
            &format!("/api/v1/quotes/{}/contract", id(&q)),
            json!({"start_date": "2026-01-01", "end_date": "2026-12-31"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{contract}");
    assert_eq!(contract["amount"], "36700.33");
    assert_eq!(contract["quote_id"], q["id"]);
    assert_eq!(contract["number"], format!("C-{year}-0001"));
    let (st, order) = app
        .post(
            &t.rep_a,
            &format!("/api/v1/quotes/{}/order", id(&q)),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{order}");
    assert_eq!(order["total"], "36700.33");
    assert_eq!(order["status"], "confirmed");
    assert!(order["confirmed_at"].is_string());
    let (st, _) = app
        .post(
            &t.rep_a,
            &format!("/api/v1/quotes/{}/order", id(&second)),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "a draft quote makes no order");
    // Documents hold on to their account.
    let (st, _) = app
        .delete(&t.rep_a, &format!("/api/v1/accounts/{account}"))
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
});

story!(orders_move_forward_and_cancel_with_a_reason, |app| {
    let t = team(&app).await;
    let (_, account) = basics(&app, &t, &t.rep_a).await;
    let order = app.created(
        &t.rep_a,
        "/api/v1/orders",
        json!({"name": "硬件", "account_id": account, "lines": [{"name": "服务器", "unit_price": "50000", "quantity": 2}]}),
    )
    .await;
    let path = format!("/api/v1/orders/{}", id(&order));
    let (st, v) = app
        .patch(&t.rep_a, &path, json!({"status": "delivered"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // Skipping ahead fills the steps passed.
    assert!(v["shipped_at"].is_string() && v["delivered_at"].is_string());
    let (st, _) = app
        .patch(&t.rep_a, &path, json!({"status": "shipped"}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "no going back");
    let (st, _) = app
        .patch(
            &t.rep_a,
            &path,
            json!({"status": "cancelled", "cancel_reason": "客户变更"}),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::CONFLICT,
        "delivered orders are not cancelled"
    );
    let other = app.created(
        &t.rep_a,
        "/api/v1/orders",
        json!({"name": "软件", "account_id": account, "lines": [{"name": "许可", "unit_price": "1"}]}),
    )
    .await;
    let path = format!("/api/v1/orders/{}", id(&other));
    let (st, v) = app
        .patch(&t.rep_a, &path, json!({"status": "cancelled"}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "cancel_reason");
    let (st, v) = app
        .patch(
            &t.rep_a,
            &path,
            json!({"status": "cancelled", "cancel_reason": "客户变更"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v["cancelled_at"].is_string());
    let (st, _) = app.get(&t.rep_b, &path).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
});

story!(contracts_are_approved_by_the_manager_then_finance, |app| {
    let t = team(&app).await;
    let (_, account) = basics(&app, &t, &t.rep_a).await;
    let big = app.created(
        &t.rep_a,
        "/api/v1/contracts",
        json!({"name": "年度框架协议", "account_id": account, "amount": "800000.00", "signed_date": "2026-03-01"}),
    )
    .await;
    assert_eq!(big["status"], "draft");
    let path = format!("/api/v1/contracts/{}", id(&big));
    // Status moves only through the flow.
    let (st, v) = app
        .patch(&t.rep_a, &path, json!({"status": "approved"}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    let (st, steps) = app
        .post(&t.rep_a, &format!("{path}/submit"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{steps}");
    let steps = steps["data"].as_array().unwrap().clone();
    assert_eq!(steps.len(), 2, "manager, then finance above 500,000");
    assert_eq!(steps[0]["approvers"], json!([t.manager_id]));
    assert_eq!(steps[1]["approvers"], json!([t.finance_id]));
    let (_, v) = app.get(&t.rep_a, &path).await;
    assert_eq!(v["status"], "pending_approval");
    // Terms are fixed while it waits.
    let (st, _) = app.patch(&t.rep_a, &path, json!({"amount": "1.00"})).await;
    assert_eq!(st, StatusCode::CONFLICT);

    // The submitter cannot approve; finance cannot approve before the manager; another rep
    // learns nothing.
    let (st, _) = app
        .post(&t.rep_a, &format!("{path}/approve"), json!({}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = app
        .post(&t.finance, &format!("{path}/approve"), json!({}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "finance waits for the manager");
    let (st, _) = app
        .post(&t.rep_b, &format!("{path}/approve"), json!({}))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // The manager sees it waiting and approves; finance is asked next and notified.
    let (_, inbox) = app.get(&t.manager, "/api/v1/approvals").await;
    assert_eq!(inbox["data"][0]["step"]["contract_id"], big["id"]);
    let (st, v) = app
        .post(
            &t.manager,
            &format!("{path}/approve"),
            json!({"comment": "同意"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (_, v) = app.get(&t.rep_a, &path).await;
    assert_eq!(v["status"], "pending_approval");
    let (_, notes) = app.get(&t.finance, "/api/v1/notifications").await;
    assert!(
        notes["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "approval_requested" && n["object_id"] == big["id"]),
        "{notes}"
    );
    let (st, v) = app
        .post(&t.finance, &format!("{path}/reject"), json!({}))
        .await;
    assert_eq!(
        st,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a rejection needs a comment: {v}"
    );
    let (st, _) = app
        .post(
            &t.finance,
            &format!("{path}/reject"),
            json!({"comment": "付款条件需修改"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, v) = app.get(&t.rep_a, &path).await;
    assert_eq!(v["status"], "rejected");
    let (_, notes) = app.get(&t.rep_a, "/api/v1/notifications").await;
    assert!(notes["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["kind"] == "contract_rejected"));

    // Revised and resubmitted, it goes through both steps again.
    let (st, _) = app
        .patch(
            &t.rep_a,
            &path,
            json!({"terms": "30% 预付，70% 验收后 30 天"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = app
        .post(&t.rep_a, &format!("{path}/submit"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK);
    for s in [&t.manager, &t.finance] {
        let (st, v) = app.post(s, &format!("{path}/approve"), json!({})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
    }
    let (_, v) = app.get(&t.rep_a, &path).await;
    assert_eq!(v["status"], "approved");
    assert!(v["approved_at"].is_string());
    let (_, hist) = app.get(&t.rep_a, &format!("{path}/approvals")).await;
    assert_eq!(hist["data"].as_array().unwrap().len(), 4);
    let (_, audit) = app
        .get(&t.admin, &format!("/api/v1/audit?object_id={}", id(&big)))
        .await;
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "contract.submitted",
        "contract.approval_step",
        "contract.rejected",
        "contract.approved",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }

    // A manager's own contract goes to an administrator, never to themselves.
    let own_account = app
        .created(
            &t.manager,
            "/api/v1/accounts",
            json!({"name": "经理自己的客户"}),
        )
        .await;
    let own = app
        .created(
            &t.manager,
            "/api/v1/contracts",
            json!({"name": "经理的合同", "account_id": id(&own_account), "amount": "1000.00"}),
        )
        .await;
    let (st, steps) = app
        .post(
            &t.manager,
            &format!("/api/v1/contracts/{}/submit", id(&own)),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{steps}");
    assert!(!steps["data"][0]["approvers"]
        .as_array()
        .unwrap()
        .contains(&json!(t.manager_id)));
    let (st, _) = app
        .post(
            &t.manager,
            &format!("/api/v1/contracts/{}/approve", id(&own)),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = app
        .post(
            &t.admin,
            &format!("/api/v1/contracts/{}/approve", id(&own)),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
});

story!(payments_follow_the_plan_and_receivables_add_up, |app| {
    let t = team(&app).await;
    let (_, account) = basics(&app, &t, &t.rep_a).await;
    let c = app
        .created(
            &t.rep_a,
            "/api/v1/contracts",
            json!({"name": "实施合同", "account_id": account, "amount": "100000.00"}),
        )
        .await;
    let path = format!("/api/v1/contracts/{}", id(&c));
    // No payment before approval.
    let (st, v) = app
        .post(
            &t.finance,
            "/api/v1/payments",
            json!({"contract_id": id(&c), "amount": "10.00", "paid_on": "2026-01-05"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    app.post(&t.rep_a, &format!("{path}/submit"), json!({}))
        .await;
    let (st, _) = app
        .post(&t.manager, &format!("{path}/approve"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK);

    let (st, v) = app
        .call(
            &t.rep_a,
            reqwest::Method::PUT,
            &format!("{path}/payment-plan"),
            Some(json!({"instalments": [
                {"due_date": "2020-01-31", "amount": "30000.00", "note": "预付款"},
                {"due_date": "2020-06-30", "amount": "30000.00"},
                {"due_date": "2099-12-31", "amount": "40000.00", "note": "验收款"}
            ]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["overdue"], "60000.00");
    let (st, v) = app
        .call(
            &t.rep_a,
            reqwest::Method::PUT,
            &format!("{path}/payment-plan"),
            Some(json!({"instalments": [{"due_date": "2020-01-31", "amount": "100000.01"}]})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    let p = app.created(
        &t.finance,
        "/api/v1/payments",
        json!({"contract_id": id(&c), "amount": "40000.00", "paid_on": "2020-02-01", "method": "bank_transfer", "instalment": 1}),
    )
    .await;
    assert_eq!(p["account_id"], account.as_str());
    assert_eq!(p["currency"], "CNY");
    let (_, v) = app.get(&t.rep_a, &path).await;
    assert_eq!(v["received_amount"], "40000.00");
    let (_, plan) = app.get(&t.rep_a, &format!("{path}/payment-plan")).await;
    assert_eq!(plan["outstanding"], "60000.00");
    assert_eq!(plan["overdue"], "20000.00");
    assert_eq!(plan["instalments"][0]["state"], "paid");
    assert_eq!(plan["instalments"][1]["state"], "overdue");
    // More than is outstanding is refused, and nothing changes.
    let (st, v) = app
        .post(
            &t.finance,
            "/api/v1/payments",
            json!({"contract_id": id(&c), "amount": "60000.01", "paid_on": "2020-03-01"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["code"], "exceeds_outstanding");

    for group in ["contract", "account", "owner"] {
        let (st, r) = app
            .get(&t.manager, &format!("/api/v1/receivables?group={group}"))
            .await;
        assert_eq!(st, StatusCode::OK, "{r}");
        assert_eq!(r["data"][0]["outstanding"], "60000.00", "{group}");
        assert_eq!(r["data"][0]["overdue"], "20000.00", "{group}");
    }
    let (_, r) = app.get(&t.rep_b, "/api/v1/receivables").await;
    assert_eq!(
        r["data"].as_array().unwrap().len(),
        0,
        "not rep B's contract"
    );

    // Deleting the payment gives the amount back; a contract with payments stays.
    let (st, _) = app.delete(&t.rep_a, &path).await;
    assert!(
        st == StatusCode::CONFLICT || st == StatusCode::FORBIDDEN,
        "{st}"
    );
    let (st, _) = app
        .delete(&t.finance, &format!("/api/v1/payments/{}", id(&p)))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, v) = app.get(&t.rep_a, &path).await;
    assert_eq!(v["received_amount"], "0.00");
    // Reps and marketers may not record payments on contracts they cannot see.
    let (st, _) = app
        .post(
            &t.rep_b,
            "/api/v1/payments",
            json!({"contract_id": id(&c), "amount": "1.00", "paid_on": "2020-03-01"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
});

story!(users_without_rights_are_refused, |app| {
    let t = team(&app).await;
    app.user("support@example.com", "support_agent", None, None)
        .await;
    let support = app.login("support@example.com").await;
    let (_, account) = basics(&app, &t, &t.rep_a).await;
    let c = app
        .created(
            &t.rep_a,
            "/api/v1/contracts",
            json!({"name": "合同", "account_id": account, "amount": "10.00"}),
        )
        .await;
    for path in [
        "/api/v1/quotes".to_string(),
        "/api/v1/contracts".to_string(),
        "/api/v1/orders".to_string(),
        "/api/v1/payments".to_string(),
        "/api/v1/receivables".to_string(),
    ] {
        let (st, _) = app.get(&support, &path).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
    }
    let (st, _) = app
        .get(&support, &format!("/api/v1/contracts/{}", id(&c)))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = app
        .post(
            &support,
            &format!("/api/v1/contracts/{}/submit", id(&c)),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = app
        .get(&support, &format!("/api/v1/contracts/{}/approvals", id(&c)))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = app
        .call(
            &t.rep_a,
            reqwest::Method::PUT,
            "/api/v1/settings/approval-flow",
            Some(json!({"steps": [{"approver": "manager"}]})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = app
        .call(
            &t.admin,
            reqwest::Method::PUT,
            "/api/v1/settings/approval-flow",
            Some(json!({"steps": [{"approver": "boss"}]})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (st, _) = app
        .call(
            &t.admin,
            reqwest::Method::PUT,
            "/api/v1/settings/approval-flow",
            Some(json!({"steps": [{"approver": "role:finance"}]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    // Settings are read with the settings right only.
    for path in ["/api/v1/settings/approval-flow", "/api/v1/settings/pool"] {
        let (st, _) = app.get(&t.rep_a, path).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
        let (st, _) = app.get(&t.admin, path).await;
        assert_eq!(st, StatusCode::OK, "{path}");
    }
    // Reading receivables is audited.
    app.get(&t.manager, "/api/v1/receivables").await;
    let (_, audit) = app
        .get(&t.admin, "/api/v1/audit?action=receivables.read")
        .await;
    assert!(!audit["data"].as_array().unwrap().is_empty(), "{audit}");
    // The sales settings pages are for administrators.
    let res = app
        .http
        .get(format!("{}/admin/sales", app.base))
        .header("cookie", format!("rapport_session={}", t.manager.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (st, steps) = app
        .post(
            &t.rep_a,
            &format!("/api/v1/contracts/{}/submit", id(&c)),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{steps}");
    assert_eq!(steps["data"][0]["approvers"], json!([t.finance_id]));
    // The manager is no approver of this flow.
    let (st, _) = app
        .post(
            &t.manager,
            &format!("/api/v1/contracts/{}/approve", id(&c)),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
});

async fn html(app: &App, s: &Session, path: &str) -> String {
    let res = app
        .http
        .get(format!("{}{path}", app.base))
        .header("cookie", format!("rapport_session={}", s.token))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.text().await.unwrap()
}

story!(
    the_account_timeline_shows_deals_and_payments_to_those_who_may_see_them,
    |app| {
        let t = team(&app).await;
        app.user("support@example.com", "support_agent", None, None)
            .await;
        let support = app.login("support@example.com").await;
        let (_, account) = basics(&app, &t, &t.rep_a).await;
        let opp = app
            .created(
                &t.rep_a,
                "/api/v1/opportunities",
                json!({"name": "二期扩容", "account_id": account, "amount": "88000.00"}),
            )
            .await;
        let (st, _) = app
            .patch(
                &t.rep_a,
                &format!("/api/v1/opportunities/{}", id(&opp)),
                json!({"stage": "proposal"}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let c = app
            .created(
                &t.rep_a,
                "/api/v1/contracts",
                json!({"name": "二期合同", "account_id": account, "amount": "88000.00"}),
            )
            .await;
        app.post(
            &t.rep_a,
            &format!("/api/v1/contracts/{}/submit", id(&c)),
            json!({}),
        )
        .await;
        app.post(
            &t.manager,
            &format!("/api/v1/contracts/{}/approve", id(&c)),
            json!({}),
        )
        .await;
        app.created(
            &t.finance,
            "/api/v1/payments",
            json!({"contract_id": id(&c), "amount": "30000.00", "paid_on": "2026-11-01"}),
        )
        .await;

        let path = format!("/api/v1/accounts/{account}/timeline?kinds=related");
        let (st, tl) = app.get(&t.rep_a, &path).await;
        assert_eq!(st, StatusCode::OK, "{tl}");
        let events: Vec<&str> = tl["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["related"]["event"].as_str())
            .collect();
        assert_eq!(
            events,
            [
                "payment.received",
                "opportunity.stage_changed",
                "opportunity.created"
            ],
            "{tl}"
        );
        assert_eq!(tl["data"][0]["related"]["amount"], "30000.00");
        assert_eq!(tl["data"][1]["related"]["stage"], "proposal");
        // Support reads the account but no deals or payments: none of those events, not a trace.
        let (st, tl) = app.get(&support, &path).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(tl["data"].as_array().unwrap().len(), 0, "{tl}");

        // My day: the open deal has no next activity.
        let home = html(&app, &t.rep_a, "/").await;
        let section = home.split("id=\"myday-no-next\"").nth(1).unwrap();
        let section = section.split("</section>").next().unwrap();
        assert!(section.contains("二期扩容"), "{section}");
        // The account page shows the same events.
        let page = html(&app, &t.rep_a, &format!("/accounts/{account}")).await;
        assert!(page.contains("Payment received") && page.contains("New opportunity"));
    }
);

#[path = "documents/search_and_transfer.rs"]
mod search_and_transfer;
