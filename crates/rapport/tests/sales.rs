//! Lead to cash, first part: leads and their conversion, opportunities moving through the
//! stages of configurable pipelines (history, probability, won/lost), the kanban board's
//! counts and exact totals, and who may see, move or convert what.
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
    rep_a_id: String,
}

async fn team(app: &App) -> Team {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.user("manager@example.com", "sales_manager", Some("East"), None)
        .await;
    let rep_a_id = app
        .user(
            "rep.a@example.com",
            "sales_rep",
            Some("East"),
            Some("manager@example.com"),
        )
        .await;
    app.user(
        "rep.b@example.com",
        "sales_rep",
        Some("East"),
        Some("manager@example.com"),
    )
    .await;
    Team {
        admin: app.login("admin@example.com").await,
        manager: app.login("manager@example.com").await,
        rep_a: app.login("rep.a@example.com").await,
        rep_b: app.login("rep.b@example.com").await,
        rep_a_id,
    }
}

async fn count(app: &App, s: &Session, path: &str) -> usize {
    let (st, v) = app.get(s, path).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["data"].as_array().unwrap().len()
}

story!(conversion_keeps_attribution_in_one_step, |app| {
    let t = team(&app).await;
    let lead = app
        .created(
            &t.rep_a,
            "/api/v1/leads",
            json!({"company": "杭州云栖科技有限公司", "family_name": "王", "given_name": "磊",
               "title": "CTO", "mobile": "138 0013 8000", "email": "wanglei@yunqi.example",
               "source": "exhibition", "campaign": "2026 杭州展会", "score": 80, "industry": "it"}),
        )
        .await;
    assert_eq!(lead["status"], "new");
    assert_eq!(lead["mobile"], "+8613800138000");
    let lead_id = id(&lead);

    let (st, out) = app
        .post(
            &t.rep_a,
            &format!("/api/v1/leads/{lead_id}/convert"),
            json!({"opportunity": {"name": "云栖 CRM 项目", "amount": "120000.50", "expected_close_date": "2026-12-31"}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{out}");
    assert_eq!(out["account_created"], true);
    let (account_id, contact_id, opp_id) = (
        out["account_id"].as_str().unwrap().to_string(),
        out["contact_id"].as_str().unwrap().to_string(),
        out["opportunity_id"].as_str().unwrap().to_string(),
    );

    let (_, account) = app
        .get(&t.rep_a, &format!("/api/v1/accounts/{account_id}"))
        .await;
    assert_eq!(account["name"], "杭州云栖科技有限公司");
    assert_eq!(account["source"], "exhibition");
    assert_eq!(account["industry"], "it");
    assert_eq!(account["owner_id"], t.rep_a_id.as_str());
    let (_, contact) = app
        .get(&t.rep_a, &format!("/api/v1/contacts/{contact_id}"))
        .await;
    assert_eq!(contact["family_name"], "王");
    assert_eq!(contact["mobile"], "+8613800138000");
    assert_eq!(contact["account_ids"], json!([account_id]));
    let (_, opp) = app
        .get(&t.rep_a, &format!("/api/v1/opportunities/{opp_id}"))
        .await;
    assert_eq!(opp["source"], "exhibition");
    assert_eq!(opp["campaign"], "2026 杭州展会");
    assert_eq!(opp["lead_id"], lead_id.as_str());
    assert_eq!(opp["account_id"], account_id.as_str());
    assert_eq!(opp["stage"], "prospecting");
    assert_eq!(opp["probability"], 10);
    assert_eq!(opp["status"], "open");
    assert_eq!(opp["amount"], "120000.50");
    assert_eq!(opp["contacts"][0]["contact_id"], contact_id.as_str());

    let (_, lead) = app.get(&t.rep_a, &format!("/api/v1/leads/{lead_id}")).await;
    assert_eq!(lead["status"], "converted");
    assert_eq!(lead["converted_account_id"], account_id.as_str());
    assert_eq!(lead["converted_opportunity_id"], opp_id.as_str());
    assert!(lead["converted_at"].is_string());

    // Once only; and a converted lead no longer changes.
    let (st, again) = app
        .post(
            &t.rep_a,
            &format!("/api/v1/leads/{lead_id}/convert"),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{again}");
    let (st, _) = app
        .patch(
            &t.rep_a,
            &format!("/api/v1/leads/{lead_id}"),
            json!({"title": "CEO"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(count(&app, &t.rep_a, "/api/v1/accounts").await, 1);

    // Audited: the conversion and each record it created.
    let (_, trail) = app
        .get(&t.admin, &format!("/api/v1/audit?object_id={lead_id}"))
        .await;
    let actions: Vec<&str> = trail["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"lead.converted"), "{actions:?}");
    let (_, trail) = app
        .get(
            &t.admin,
            &format!("/api/v1/audit?object_id={opp_id}&action=opportunity.created"),
        )
        .await;
    assert_eq!(trail["data"][0]["action"], "opportunity.created");
    assert_eq!(
        trail["data"][0]["details"]["values"]["stage"],
        "prospecting"
    );
});

story!(conversion_into_an_existing_duplicate_account, |app| {
    let t = team(&app).await;
    let acc = app
        .created(
            &t.rep_a,
            "/api/v1/accounts",
            json!({"name": "Acme Industrial Ltd"}),
        )
        .await;
    let lead = app.created(
        &t.rep_a,
        "/api/v1/leads",
        json!({"company": "ACME Industrial Ltd.", "family_name": "Smith", "given_name": "Jane"}),
    )
    .await;
    let path = format!("/api/v1/leads/{}/convert", id(&lead));
    // A new account would duplicate the existing one: refused with the match, nothing written.
    let (st, dup) = app.post(&t.rep_a, &path, json!({})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{dup}");
    assert_eq!(dup["duplicates"][0]["id"], id(&acc).as_str());
    assert_eq!(count(&app, &t.rep_a, "/api/v1/contacts").await, 0);
    let (_, l) = app
        .get(&t.rep_a, &format!("/api/v1/leads/{}", id(&lead)))
        .await;
    assert_eq!(l["status"], "new");
    // Another rep's account is not offered: it cannot be named.
    let other = app
        .created(&t.rep_b, "/api/v1/accounts", json!({"name": "Other Co"}))
        .await;
    let (st, e) = app
        .post(&t.rep_a, &path, json!({"account_id": id(&other)}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["errors"][0]["field"], "account_id");
    // Into the existing one.
    let (st, out) = app
        .post(&t.rep_a, &path, json!({"account_id": id(&acc)}))
        .await;
    assert_eq!(st, StatusCode::OK, "{out}");
    assert_eq!(out["account_created"], false);
    assert!(out["opportunity_id"].is_null());
    let (_, c) = app
        .get(
            &t.rep_a,
            &format!("/api/v1/contacts/{}", out["contact_id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(c["account_ids"], json!([id(&acc)]));
    assert_eq!(count(&app, &t.rep_a, "/api/v1/accounts").await, 1);
});

story!(stage_changes_follow_the_pipeline_and_keep_history, |app| {
    let t = team(&app).await;
    let acc = app
        .created(&t.rep_a, "/api/v1/accounts", json!({"name": "Stage Co"}))
        .await;
    let opp = app
        .created(
            &t.rep_a,
            "/api/v1/opportunities",
            json!({"name": "Deal", "account_id": id(&acc), "amount": "5000"}),
        )
        .await;
    let path = format!("/api/v1/opportunities/{}", id(&opp));
    assert_eq!(opp["stage"], "prospecting");
    assert_eq!(opp["currency"], "CNY");

    let (st, moved) = app
        .patch(&t.rep_a, &path, json!({"stage": "negotiation"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{moved}");
    assert_eq!(moved["probability"], 75);
    // An explicit probability wins over the stage's.
    let (_, p) = app
        .patch(
            &t.rep_a,
            &path,
            json!({"stage": "proposal", "probability": 60}),
        )
        .await;
    assert_eq!(p["probability"], 60);

    // Unknown stage: named, with the stages there are; nothing changes.
    let (st, e) = app
        .patch(&t.rep_a, &path, json!({"stage": "closing"}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["errors"][0]["field"], "stage");
    assert!(e["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("negotiation"));
    // Lost needs a reason.
    let (st, e) = app.patch(&t.rep_a, &path, json!({"stage": "lost"})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["errors"][0]["field"], "lost_reason");
    let (_, still) = app.get(&t.rep_a, &path).await;
    assert_eq!(still["stage"], "proposal");

    let (_, lost) = app
        .patch(
            &t.rep_a,
            &path,
            json!({"stage": "lost", "lost_reason": "price"}),
        )
        .await;
    assert_eq!(lost["status"], "lost");
    assert!(lost["closed_at"].is_string());
    // Reopened: open again, the reason goes.
    let (_, reopened) = app
        .patch(&t.rep_a, &path, json!({"stage": "negotiation"}))
        .await;
    assert_eq!(reopened["status"], "open");
    assert!(reopened["closed_at"].is_null());
    assert!(reopened["lost_reason"].is_null());
    let (_, won) = app.patch(&t.rep_a, &path, json!({"stage": "won"})).await;
    assert_eq!(won["status"], "won");
    assert_eq!(won["probability"], 100);

    let (st, h) = app.get(&t.rep_a, &format!("{path}/stages")).await;
    assert_eq!(st, StatusCode::OK);
    let stages: Vec<&str> = h["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "prospecting",
            "negotiation",
            "proposal",
            "lost",
            "negotiation",
            "won"
        ]
    );
    let visits = h["data"].as_array().unwrap();
    assert!(visits[..5].iter().all(|v| v["left_at"].is_string()));
    assert!(visits[5]["left_at"].is_null());
    // Every change is in the audit trail with before and after.
    let (_, hist) = app.get(&t.rep_a, &format!("{path}/history")).await;
    let stage_changes = hist["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["changes"]["stage"].is_object())
        .count();
    assert_eq!(stage_changes, 5);
});

story!(reps_cannot_see_move_or_convert_outside_their_scope, |app| {
    let t = team(&app).await;
    let acc = app
        .created(&t.rep_a, "/api/v1/accounts", json!({"name": "A's account"}))
        .await;
    let opp = app
        .created(
            &t.rep_a,
            "/api/v1/opportunities",
            json!({"name": "A's deal", "account_id": id(&acc), "amount": "100"}),
        )
        .await;
    let lead = app
        .created(
            &t.rep_a,
            "/api/v1/leads",
            json!({"family_name": "李", "company": "李氏"}),
        )
        .await;
    let opath = format!("/api/v1/opportunities/{}", id(&opp));

    assert_eq!(app.get(&t.rep_b, &opath).await.0, StatusCode::NOT_FOUND);
    let (st, _) = app.patch(&t.rep_b, &opath, json!({"stage": "won"})).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&t.rep_b, &format!("{opath}/stages")).await.0,
        StatusCode::NOT_FOUND
    );
    let (st, _) = app
        .post(
            &t.rep_b,
            &format!("/api/v1/leads/{}/convert", id(&lead)),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(count(&app, &t.rep_b, "/api/v1/opportunities").await, 0);
    assert_eq!(count(&app, &t.rep_b, "/api/v1/leads").await, 0);
    // Rep B cannot open a deal on rep A's account.
    let (st, e) = app
        .post(
            &t.rep_b,
            "/api/v1/opportunities",
            json!({"name": "x", "account_id": id(&acc)}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["errors"][0]["field"], "account_id");
    // The board shows each only what they may see; the manager sees the team.
    let (_, b) = app.get(&t.rep_b, "/api/v1/opportunities/board").await;
    let total: i64 = b["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 0);
    let (_, b) = app.get(&t.manager, "/api/v1/opportunities/board").await;
    assert_eq!(b["columns"][0]["count"], 1);
    assert_eq!(b["columns"][0]["cards"][0]["name"], "A's deal");
    // The manager may move the team's deal; the stage is still checked.
    let (st, _) = app
        .patch(&t.manager, &opath, json!({"stage": "proposal"}))
        .await;
    assert_eq!(st, StatusCode::OK);
    // A viewer reads but does not move.
    app.user("viewer@example.com", "viewer", None, None).await;
    let viewer = app.login("viewer@example.com").await;
    let (st, _) = app.patch(&viewer, &opath, json!({"stage": "won"})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (_, o) = app.get(&t.rep_a, &opath).await;
    assert_eq!(o["stage"], "proposal");
    // Pipelines are settings: a rep may read but not change them.
    let (st, p) = app.get(&t.rep_a, "/api/v1/pipelines").await;
    assert_eq!(st, StatusCode::OK);
    let draft = json!({"name_en": "X", "name_zh": "X", "stages": p["data"][0]["stages"]});
    assert_eq!(
        app.post(&t.rep_a, "/api/v1/pipelines", draft).await.0,
        StatusCode::FORBIDDEN
    );
});

story!(board_totals_are_exact_and_cards_stand_out, |app| {
    let t = team(&app).await;
    let acc = app
        .created(&t.rep_a, "/api/v1/accounts", json!({"name": "Board Co"}))
        .await;
    for amount in ["100.05", "0.10", "0.20"] {
        app.created(
            &t.rep_a,
            "/api/v1/opportunities",
            json!({"name": format!("Deal {amount}"), "account_id": id(&acc), "amount": amount, "stage": "needs_analysis"}),
        )
        .await;
    }
    let old = app
        .created(
            &t.rep_a,
            "/api/v1/opportunities",
            json!({"name": "Old", "account_id": id(&acc), "stage": "proposal"}),
        )
        .await;
    app.sql(&format!(
        "UPDATE opportunities SET stage_entered_at = '2020-01-01T00:00:00Z' WHERE id = '{}'",
        id(&old)
    ))
    .await;
    let (st, b) = app.get(&t.rep_a, "/api/v1/opportunities/board").await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let col = |k: &str| {
        b["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["stage"]["key"] == k)
            .unwrap()
            .clone()
    };
    let needs = col("needs_analysis");
    assert_eq!(needs["count"], 3);
    assert_eq!(needs["total"]["CNY"], "100.35");
    // 100.35 × 25 % = 25.0875 → 25.09
    assert_eq!(needs["weighted"]["CNY"], "25.09");
    assert_eq!(needs["cards"][0]["name"], "Deal 100.05");
    assert_eq!(needs["cards"][0]["no_next_activity"], true);
    let proposal = col("proposal");
    assert_eq!(proposal["cards"][0]["stale"], true);
    assert_eq!(col("prospecting")["count"], 0);
    // Unknown pipeline: 404; unknown parameter: named.
    let (st, _) = app
        .get(
            &t.rep_a,
            "/api/v1/opportunities/board?pipeline_id=01a2027c-22ed-7012-bfd2-349135b6c66d",
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, e) = app
        .get(&t.rep_a, "/api/v1/opportunities/board?pipline=1")
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
});

story!(administrators_shape_pipelines, |app| {
    let t = team(&app).await;
    let stages = json!([
        {"key": "qualify", "name_en": "Qualify", "name_zh": "资格确认", "probability": 20, "kind": "open"},
        {"key": "tender", "name_en": "Tender", "name_zh": "投标", "probability": 60, "kind": "open"},
        {"key": "won", "name_en": "Won", "name_zh": "中标", "probability": 100, "kind": "won"},
        {"key": "lost", "name_en": "Lost", "name_zh": "未中标", "probability": 0, "kind": "lost"}
    ]);
    // Bad drafts are named and change nothing.
    let (st, e) = app
        .post(
            &t.admin,
            "/api/v1/pipelines",
            json!({"name_en": "Tenders", "name_zh": "招投标", "stages": [stages[0], stages[1]]}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (st, e) = app
        .post(
            &t.admin,
            "/api/v1/pipelines",
            json!({"name_en": "T", "name_zh": "T", "stages": stages, "colour": "red"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["errors"][0]["field"], "colour");
    assert_eq!(count(&app, &t.admin, "/api/v1/pipelines").await, 1);

    let (st, p) = app
        .post(
            &t.admin,
            "/api/v1/pipelines",
            json!({"name_en": "Tenders", "name_zh": "招投标", "stages": stages}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{p}");
    let pid = p["id"].as_str().unwrap().to_string();
    let acc = app
        .created(&t.rep_a, "/api/v1/accounts", json!({"name": "Gov"}))
        .await;
    // A stage of another pipeline is refused; the new pipeline's first open stage is the default.
    let (st, _) = app
        .post(&t.rep_a, "/api/v1/opportunities", json!({"name": "Bid", "account_id": id(&acc), "pipeline_id": pid, "stage": "negotiation"}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let opp = app
        .created(
            &t.rep_a,
            "/api/v1/opportunities",
            json!({"name": "Bid", "account_id": id(&acc), "pipeline_id": pid}),
        )
        .await;
    assert_eq!(opp["stage"], "qualify");
    assert_eq!(opp["probability"], 20);
    // A stage that deals are in cannot be removed.
    let fewer = json!({"name_en": "Tenders", "name_zh": "招投标", "stages": [stages[1], stages[2], stages[3]]});
    let (st, e) = app
        .call(
            &t.admin,
            reqwest::Method::PUT,
            &format!("/api/v1/pipelines/{pid}"),
            Some(fewer),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["errors"][0]["code"], "stage_in_use");
    let (_, b) = app
        .get(
            &t.rep_a,
            &format!("/api/v1/opportunities/board?pipeline_id={pid}"),
        )
        .await;
    assert_eq!(b["columns"].as_array().unwrap().len(), 4);
    assert_eq!(b["columns"][0]["count"], 1);
});

story!(bad_lead_input_is_named_and_changes_nothing, |app| {
    let t = team(&app).await;
    for (body, field) in [
        (json!({"family_name": "张", "score": 101}), "score"),
        (json!({"family_name": "张", "score": "high"}), "score"),
        (
            json!({"family_name": "张", "status": "converted"}),
            "status",
        ),
        (
            json!({"family_name": "张", "status": "disqualified"}),
            "disqualify_reason",
        ),
        (json!({"family_name": "张", "status": "won"}), "status"),
        (json!({"family_name": "张", "email": "nope"}), "email"),
        (
            json!({"family_name": "张", "converted_account_id": "x"}),
            "converted_account_id",
        ),
        (json!({"company": "No person"}), "family_name"),
    ] {
        let (st, e) = app.post(&t.rep_a, "/api/v1/leads", body.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert_eq!(e["errors"][0]["field"], field, "{body}: {e}");
    }
    assert_eq!(count(&app, &t.rep_a, "/api/v1/leads").await, 0);
    // Disqualified with a reason; then it cannot be converted until requalified.
    let lead = app.created(
        &t.rep_a,
        "/api/v1/leads",
        json!({"family_name": "赵", "company": "赵氏", "status": "disqualified", "disqualify_reason": "no_budget"}),
    )
    .await;
    let (st, _) = app
        .post(
            &t.rep_a,
            &format!("/api/v1/leads/{}/convert", id(&lead)),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (_, l) = app
        .patch(
            &t.rep_a,
            &format!("/api/v1/leads/{}", id(&lead)),
            json!({"status": "qualified"}),
        )
        .await;
    assert!(l["disqualify_reason"].is_null());
    // Conversion errors name the part they belong to.
    let nameless = app
        .created(&t.rep_a, "/api/v1/leads", json!({"family_name": "钱"}))
        .await;
    let (st, e) = app
        .post(
            &t.rep_a,
            &format!("/api/v1/leads/{}/convert", id(&nameless)),
            json!({"opportunity": {"amount": "abc"}, "account": {"name": "钱氏"}}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["errors"][0]["field"], "opportunity.amount");
    let (st, e) = app
        .post(
            &t.rep_a,
            &format!("/api/v1/leads/{}/convert", id(&nameless)),
            json!({"accout": {}}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["errors"][0]["field"], "accout");
    assert_eq!(count(&app, &t.rep_a, "/api/v1/accounts").await, 0);
    // A lead's quick search finds it by company and by person.
    app.created(
        &t.rep_a,
        "/api/v1/leads",
        json!({"family_name": "Smith", "given_name": "Ann", "company": "Globex"}),
    )
    .await;
    assert_eq!(count(&app, &t.rep_a, "/api/v1/leads?q=glob").await, 1);
    assert_eq!(count(&app, &t.rep_a, "/api/v1/leads?q=smith").await, 1);
});

story!(an_account_with_deals_is_not_deleted, |app| {
    let t = team(&app).await;
    let acc = app
        .created(&t.rep_a, "/api/v1/accounts", json!({"name": "Keep Co"}))
        .await;
    let opp = app
        .created(
            &t.rep_a,
            "/api/v1/opportunities",
            json!({"name": "D", "account_id": id(&acc)}),
        )
        .await;
    let (st, _) = app
        .delete(&t.rep_a, &format!("/api/v1/accounts/{}", id(&acc)))
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (st, _) = app
        .delete(&t.rep_a, &format!("/api/v1/opportunities/{}", id(&opp)))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = app
        .delete(&t.rep_a, &format!("/api/v1/accounts/{}", id(&acc)))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
});

fn at(offset_secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset_secs))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

story!(
    activities_on_deals_and_leads_roll_up_and_stay_in_scope,
    |app| {
        let t = team(&app).await;
        let acc = app
            .created(&t.rep_a, "/api/v1/accounts", json!({"name": "Rollup Co"}))
            .await;
        let opp = app
            .created(
                &t.rep_a,
                "/api/v1/opportunities",
                json!({"name": "Deal", "account_id": id(&acc)}),
            )
            .await;
        let (st, call) = app
        .post(
            &t.rep_a,
            "/api/v1/activities",
            json!({"kind": "call", "subject": "需求沟通", "related_type": "opportunity", "related_id": id(&opp),
                   "start_at": at(-3600), "direction": "outbound", "duration_minutes": 20}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{call}");
        let (st, task) = app
        .post(
            &t.rep_a,
            "/api/v1/activities",
            json!({"kind": "task", "subject": "发方案", "related_type": "opportunity", "related_id": id(&opp), "due_at": at(86_400)}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{task}");
        let (_, o) = app
            .get(&t.rep_a, &format!("/api/v1/opportunities/{}", id(&opp)))
            .await;
        assert_eq!(o["next_activity_at"], task["due_at"]);
        assert!(o["last_activity_at"].is_string());
        // The account's figures and timeline include its deals' activity.
        let (_, a) = app
            .get(&t.rep_a, &format!("/api/v1/accounts/{}", id(&acc)))
            .await;
        assert_eq!(a["next_activity_at"], task["due_at"]);
        let (_, tl) = app
            .get(
                &t.rep_a,
                &format!("/api/v1/accounts/{}/timeline?kinds=call,task", id(&acc)),
            )
            .await;
        assert_eq!(tl["data"].as_array().unwrap().len(), 2, "{tl}");
        // On the board the card no longer lacks a next activity.
        let (_, b) = app.get(&t.rep_a, "/api/v1/opportunities/board").await;
        assert_eq!(b["columns"][0]["cards"][0]["no_next_activity"], false);
        // Rep B can neither log on rep A's deal or lead nor read their timelines.
        let lead = app
            .created(&t.rep_a, "/api/v1/leads", json!({"family_name": "周"}))
            .await;
        for (ty, rid) in [("opportunity", id(&opp)), ("lead", id(&lead))] {
            let (st, e) = app
                .post(
                    &t.rep_b,
                    "/api/v1/activities",
                    json!({"kind": "note", "subject": "x", "related_type": ty, "related_id": rid}),
                )
                .await;
            assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
            assert_eq!(e["errors"][0]["field"], "related_id");
        }
        let (st, _) = app
            .get(
                &t.rep_b,
                &format!("/api/v1/opportunities/{}/timeline", id(&opp)),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _) = app
            .get(
                &t.rep_b,
                &format!("/api/v1/activities/{}", call["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        // A note on the lead shows on its timeline and sets its last activity.
        let (st, _) = app
        .post(&t.rep_a, "/api/v1/activities", json!({"kind": "note", "subject": "展会上交换名片", "related_type": "lead", "related_id": id(&lead)}))
        .await;
        assert_eq!(st, StatusCode::CREATED);
        let (_, l) = app
            .get(&t.rep_a, &format!("/api/v1/leads/{}", id(&lead)))
            .await;
        assert!(l["last_activity_at"].is_string(), "{l}");
        let (_, tl) = app
            .get(
                &t.rep_a,
                &format!("/api/v1/leads/{}/timeline?kinds=note", id(&lead)),
            )
            .await;
        assert_eq!(
            tl["data"][0]["activity"]["subject"], "展会上交换名片",
            "{tl}"
        );
    }
);

story!(users_without_deal_rights_are_refused, |app| {
    let t = team(&app).await;
    app.user("support@example.com", "support_agent", None, None)
        .await;
    let support = app.login("support@example.com").await;
    for path in [
        "/api/v1/opportunities/board",
        "/api/v1/pipelines",
        "/api/v1/opportunities",
        "/api/v1/leads",
    ] {
        let (st, e) = app.get(&support, path).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}: {e}");
    }
    let acc = app
        .created(&t.rep_a, "/api/v1/accounts", json!({"name": "S Co"}))
        .await;
    let opp = app
        .created(
            &t.rep_a,
            "/api/v1/opportunities",
            json!({"name": "D", "account_id": id(&acc)}),
        )
        .await;
    let (st, _) = app
        .get(
            &support,
            &format!("/api/v1/opportunities/{}/stages", id(&opp)),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = app
        .post(
            &support,
            "/api/v1/opportunities",
            json!({"name": "x", "account_id": id(&acc)}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Reading a deal's stage history is in the audit trail, not in the deal's change history.
    let (_, _) = app
        .get(
            &t.rep_a,
            &format!("/api/v1/opportunities/{}/stages", id(&opp)),
        )
        .await;
    let (_, trail) = app
        .get(
            &t.admin,
            "/api/v1/audit?action=opportunity.stage_history.read",
        )
        .await;
    assert_eq!(trail["data"].as_array().unwrap().len(), 1);
    let (_, hist) = app
        .get(
            &t.rep_a,
            &format!("/api/v1/opportunities/{}/history", id(&opp)),
        )
        .await;
    assert_eq!(hist["data"].as_array().unwrap().len(), 1, "{hist}");
});
