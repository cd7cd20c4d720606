//! The public pool (claim within limits, release with a reason, automatic return with a
//! warning, protected accounts, exactly one winner under concurrent claims) and sales targets
//! (who sets and sees them; won amount and payments received against them).
#![allow(clippy::disallowed_methods)] // the server under test runs on the wall clock
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{id, App, Session};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Team {
    admin: Session,
    manager: Session,
    rep_a: Session,
    rep_b: Session,
    rep_a_id: String,
    rep_b_id: String,
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
    let rep_b_id = app
        .user(
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
        rep_b_id,
    }
}

/// `n` accounts created by the administrator and released to the pool.
async fn pooled(app: &App, t: &Team, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let a = app
            .created(
                &t.admin,
                "/api/v1/accounts",
                json!({"name": format!("公海客户{i}有限公司")}),
            )
            .await;
        let (st, v) = app
            .post(
                &t.admin,
                &format!("/api/v1/accounts/{}/release", id(&a)),
                json!({"reason": "no_need"}),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
        ids.push(id(&a));
    }
    ids
}

async fn set_pool(app: &App, t: &Team, rules: Value) {
    let (st, v) = app
        .call(&t.admin, Method::PUT, "/api/v1/settings/pool", Some(rules))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

story!(claim_and_release_follow_the_rules, |app| {
    let t = team(&app).await;
    let ids = pooled(&app, &t, 3).await;
    let (st, pool) = app.get(&t.rep_a, "/api/v1/pool").await;
    assert_eq!(st, StatusCode::OK, "{pool}");
    assert_eq!(pool["data"].as_array().unwrap().len(), 3);
    assert_eq!(pool["data"][0]["reason"], "no_need");
    assert_eq!(pool["standing"]["claimed_today"], 0);
    // Pool accounts are nobody's: a rep cannot open one until claiming it.
    let path = format!("/api/v1/accounts/{}", ids[0]);
    let (st, _) = app.get(&t.rep_a, &path).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    let (st, v) = app
        .post(
            &t.rep_a,
            &format!("/api/v1/pool/{}/claim", ids[0]),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, acc) = app.get(&t.rep_a, &path).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(acc["owner_id"], t.rep_a_id.as_str());
    assert!(acc["claimed_at"].is_string());
    let (st, _) = app
        .post(
            &t.rep_b,
            &format!("/api/v1/pool/{}/claim", ids[0]),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "claimed already");
    let (st, _) = app
        .post(
            &t.rep_b,
            &format!("{path}/release"),
            json!({"reason": "no_need"}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "not rep B's account");
    let (st, v) = app
        .post(
            &t.rep_a,
            &format!("{path}/release"),
            json!({"reason": "bored"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "reason");

    // Daily limit and cap.
    set_pool(&app, &t, json!({"daily_claim_limit": 2, "max_owned": 10})).await;
    let (st, _) = app
        .post(
            &t.rep_a,
            &format!("/api/v1/pool/{}/claim", ids[1]),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, v) = app
        .post(
            &t.rep_a,
            &format!("/api/v1/pool/{}/claim", ids[2]),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "third claim today: {v}");
    assert!(v["detail"].as_str().unwrap().contains("daily limit"), "{v}");
    set_pool(&app, &t, json!({"daily_claim_limit": 10, "max_owned": 2})).await;
    let (st, v) = app
        .post(
            &t.rep_a,
            &format!("/api/v1/pool/{}/claim", ids[2]),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "holds two already: {v}");

    // Releasing gives it back, with the reason, audited.
    let (st, _) = app
        .post(
            &t.rep_a,
            &format!("{path}/release"),
            json!({"reason": "unreachable", "note": "电话空号"}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, acc) = app.get(&t.admin, &path).await;
    assert!(acc["owner_id"].is_null());
    assert!(acc["pool_entered_at"].is_string());
    let (_, hist) = app.get(&t.admin, &format!("{path}/pool-history")).await;
    let actions: Vec<&str> = hist["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["release", "claim", "release"]);
    let (_, audit) = app
        .get(&t.admin, &format!("/api/v1/audit?object_id={}", ids[0]))
        .await;
    let names: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(names.contains(&"account.claimed") && names.contains(&"account.released"));

    // Support staff may not use the pool; settings need the settings right.
    app.user("support@example.com", "support_agent", None, None)
        .await;
    let support = app.login("support@example.com").await;
    let (st, _) = app.get(&support, "/api/v1/pool").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = app
        .post(
            &support,
            &format!("/api/v1/pool/{}/claim", ids[2]),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = app
        .call(
            &t.rep_a,
            Method::PUT,
            "/api/v1/settings/pool",
            Some(json!({"daily_claim_limit": 1000})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = app.post(&t.rep_a, "/api/v1/pool/sweep", json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
});

story!(
    concurrent_claims_have_one_winner_and_keep_the_limit,
    |app| {
        let t = team(&app).await;
        let ids = pooled(&app, &t, 5).await;
        // Two reps on the same account at once: exactly one gets it.
        let path = format!("/api/v1/pool/{}/claim", ids[0]);
        let (a, b) = tokio::join!(
            app.post(&t.rep_a, &path, json!({})),
            app.post(&t.rep_b, &path, json!({}))
        );
        let mut codes = [a.0, b.0];
        codes.sort();
        assert_eq!(
            codes,
            [StatusCode::NO_CONTENT, StatusCode::CONFLICT],
            "{a:?} {b:?}"
        );
        let (_, acc) = app
            .get(&t.admin, &format!("/api/v1/accounts/{}", ids[0]))
            .await;
        let winner = acc["owner_id"].as_str().unwrap().to_string();
        assert!(winner == t.rep_a_id || winner == t.rep_b_id);

        // One rep claiming four at once with a limit of two: exactly two succeed.
        set_pool(&app, &t, json!({"daily_claim_limit": 2})).await;
        let loser = if winner == t.rep_a_id {
            &t.rep_b
        } else {
            &t.rep_a
        };
        let paths: Vec<String> = ids[1..]
            .iter()
            .map(|i| format!("/api/v1/pool/{i}/claim"))
            .collect();
        let calls = paths.iter().map(|p| app.post(loser, p, json!({})));
        let results = futures_join(calls).await;
        let ok = results
            .iter()
            .filter(|(s, _)| *s == StatusCode::NO_CONTENT)
            .count();
        assert_eq!(ok, 2, "{results:?}");
        assert!(results
            .iter()
            .all(|(s, _)| *s == StatusCode::NO_CONTENT || *s == StatusCode::CONFLICT));
    }
);

async fn futures_join<F: std::future::Future<Output = (StatusCode, Value)>>(
    calls: impl Iterator<Item = F>,
) -> Vec<(StatusCode, Value)> {
    let handles: Vec<_> = calls.collect();
    let mut out = Vec::new();
    // Poll them together so the requests overlap.
    let joined = async {
        let mut futs: Vec<std::pin::Pin<Box<F>>> = handles.into_iter().map(Box::pin).collect();
        let mut results: Vec<Option<(StatusCode, Value)>> = futs.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (i, f) in futs.iter_mut().enumerate() {
                if results[i].is_none() {
                    match f.as_mut().poll(cx) {
                        std::task::Poll::Ready(v) => results[i] = Some(v),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        results.into_iter().flatten().collect::<Vec<_>>()
    };
    out.extend(joined.await);
    out
}

story!(
    neglected_accounts_return_to_the_pool_after_a_warning,
    |app| {
        let t = team(&app).await;
        set_pool(
            &app,
            &t,
            json!({"no_follow_up_days": 30, "no_won_days": 0, "warn_days": 3}),
        )
        .await;
        let old = app
            .created(
                &t.rep_a,
                "/api/v1/accounts",
                json!({"name": "久未跟进公司"}),
            )
            .await;
        let soon = app
            .created(
                &t.rep_a,
                "/api/v1/accounts",
                json!({"name": "即将到期公司"}),
            )
            .await;
        let kept = app
            .created(
                &t.rep_a,
                "/api/v1/accounts",
                json!({"name": "重点保护公司"}),
            )
            .await;
        let fresh = app
            .created(&t.rep_a, "/api/v1/accounts", json!({"name": "新客户公司"}))
            .await;
        // Age them: 40, 28 and 40 days without follow-up.
        let ts = |days: i64| {
            (chrono::Utc::now() - chrono::Duration::days(days))
                .format("%Y-%m-%d %H:%M:%S%.3f+00:00")
                .to_string()
        };
        for (acc, days) in [(&old, 40), (&soon, 28), (&kept, 40)] {
            app.sql(&format!(
                "UPDATE accounts SET created_at = '{}' WHERE id = '{}'",
                ts(days),
                id(acc)
            ))
            .await;
        }
        // Protection is the manager's call, not the rep's.
        let kept_path = format!("/api/v1/accounts/{}", id(&kept));
        let (st, v) = app
            .patch(&t.rep_a, &kept_path, json!({"protected": true}))
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["errors"][0]["code"], "field_not_writable");
        let (st, v) = app
            .patch(&t.manager, &kept_path, json!({"protected": true}))
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");

        let (st, swept) = app.post(&t.admin, "/api/v1/pool/sweep", json!({})).await;
        assert_eq!(st, StatusCode::OK, "{swept}");
        assert_eq!(swept, json!({"returned": 1, "warned": 1}));
        let (st, _) = app
            .get(&t.rep_a, &format!("/api/v1/accounts/{}", id(&old)))
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND, "returned to the pool");
        for acc in [&soon, &kept, &fresh] {
            let (st, _) = app
                .get(&t.rep_a, &format!("/api/v1/accounts/{}", id(acc)))
                .await;
            assert_eq!(st, StatusCode::OK);
        }
        let (_, notes) = app.get(&t.rep_a, "/api/v1/notifications").await;
        let kinds: Vec<(&str, &str)> = notes["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["kind"].as_str().unwrap(),
                    n["object_id"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert!(
            kinds.contains(&("pool_returned", old["id"].as_str().unwrap())),
            "{kinds:?}"
        );
        assert!(
            kinds.contains(&("pool_warning", soon["id"].as_str().unwrap())),
            "{kinds:?}"
        );
        // The owner's "my day" lists the account about to go.
        let res = app
            .http
            .get(format!("{}/", app.base))
            .header("cookie", format!("rapport_session={}", t.rep_a.token))
            .send()
            .await
            .unwrap();
        let home = res.text().await.unwrap();
        let section = home.split("id=\"myday-returning\"").nth(1).unwrap();
        let section = section.split("</section>").next().unwrap();
        assert!(section.contains("即将到期公司"), "{section}");
        assert!(
            !section.contains("重点保护公司"),
            "protected accounts stay: {section}"
        );
        // A second sweep the same day warns nobody twice.
        let (_, again) = app.post(&t.admin, "/api/v1/pool/sweep", json!({})).await;
        assert_eq!(again, json!({"returned": 0, "warned": 0}));
        let (_, audit) = app
            .get(&t.admin, &format!("/api/v1/audit?object_id={}", id(&old)))
            .await;
        assert!(audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "account.returned_to_pool"));
        // A recent follow-up keeps an account: log one on the 28-day account and age the rules.
        let (st, _) = app
        .post(
            &t.rep_a,
            "/api/v1/activities",
            json!({"kind": "call", "subject": "回访", "related_type": "account", "related_id": id(&soon), "status": "done"}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
        set_pool(
            &app,
            &t,
            json!({"no_follow_up_days": 20, "no_won_days": 0, "warn_days": 0}),
        )
        .await;
        let (_, swept) = app.post(&t.admin, "/api/v1/pool/sweep", json!({})).await;
        assert_eq!(swept["returned"], 0, "followed up today: {swept}");

        // The server runs the same rules itself: its nightly job, made due now, returns a
        // neglected account without anyone asking.
        let late = app
            .created(
                &t.rep_a,
                "/api/v1/accounts",
                json!({"name": "无人跟进公司"}),
            )
            .await;
        app.sql(&format!(
            "UPDATE accounts SET created_at = '{}' WHERE id = '{}'",
            ts(45),
            id(&late)
        ))
        .await;
        app.sql(
            "UPDATE jobs SET run_at = created_at WHERE kind = 'pool.sweep' AND status = 'pending'",
        )
        .await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let (st, _) = app
                .get(&t.rep_a, &format!("/api/v1/accounts/{}", id(&late)))
                .await;
            if st == StatusCode::NOT_FOUND {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the job did not run");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        // The job is done (and audited the return as the system).
        let rows = app
            .sql_rows("SELECT id FROM jobs WHERE kind = 'pool.sweep' AND status = 'done'")
            .await;
        assert_eq!(rows.len(), 1);
    }
);

async fn put(app: &App, s: &Session, body: Value) -> (StatusCode, Value) {
    app.call(s, Method::PUT, "/api/v1/targets", Some(body))
        .await
}

story!(targets_are_set_by_managers_and_measured, |app| {
    let t = team(&app).await;
    app.user("cfo@example.com", "finance", None, None).await;
    let finance = app.login("cfo@example.com").await;
    let month = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y-%m")
        .to_string();
    let target = |who: &str, metric: &str, amount: &str| json!({"subject_type": "user", "subject_id": who, "period": month, "metric": metric, "amount": amount});
    // A rep may not set their own target, nor a colleague's.
    let (st, _) = put(
        &app,
        &t.rep_a,
        json!({"targets": [target(&t.rep_a_id, "won", "1.00")]}),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = put(
        &app,
        &t.rep_a,
        json!({"targets": [target(&t.rep_b_id, "won", "1.00")]}),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = put(
        &app,
        &t.manager,
        json!({"targets": [target(&t.rep_a_id, "won", "100000.00"), target(&t.rep_a_id, "received", "50000.00"),
                           target(&t.rep_b_id, "won", "80000.00")]}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = put(&app, &t.manager, json!({"targets": [{"subject_type": "user", "subject_id": t.rep_a_id, "period": "2026-13", "metric": "won", "amount": "1"}]})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "targets[0].period");

    // Rep A wins 60,000 and receives 20,000 this month.
    let acc = app
        .created(
            &t.rep_a,
            "/api/v1/accounts",
            json!({"name": "目标测试公司"}),
        )
        .await;
    app.created(
        &t.rep_a,
        "/api/v1/opportunities",
        json!({"name": "赢单", "account_id": id(&acc), "amount": "60000.00", "stage": "won"}),
    )
    .await;
    app.created(
        &t.rep_a,
        "/api/v1/opportunities",
        json!({"name": "进行中", "account_id": id(&acc), "amount": "90000.00"}),
    )
    .await;
    let c = app
        .created(
            &t.rep_a,
            "/api/v1/contracts",
            json!({"name": "合同", "account_id": id(&acc), "amount": "60000.00"}),
        )
        .await;
    app.post(
        &t.rep_a,
        &format!("/api/v1/contracts/{}/submit", id(&c)),
        json!({}),
    )
    .await;
    let (st, _) = app
        .post(
            &t.manager,
            &format!("/api/v1/contracts/{}/approve", id(&c)),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y-%m-%d")
        .to_string();
    let p = app
        .created(
            &finance,
            "/api/v1/payments",
            json!({"contract_id": id(&c), "amount": "20000.00", "paid_on": today}),
        )
        .await;
    assert_eq!(
        p["owner_id"],
        t.rep_a_id.as_str(),
        "counts for the contract's owner"
    );

    let (st, v) = app
        .get(&t.rep_a, &format!("/api/v1/targets?period={month}"))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let rows = v["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "rep A sees only their own: {v}");
    let won = rows.iter().find(|r| r["metric"] == "won").unwrap();
    assert_eq!(
        (won["actual"].as_str(), won["percent"].as_i64()),
        (Some("60000.00"), Some(60))
    );
    let received = rows.iter().find(|r| r["metric"] == "received").unwrap();
    assert_eq!(received["actual"], "20000.00");
    assert_eq!(received["percent"], 40);
    let (_, v) = app
        .get(&t.manager, &format!("/api/v1/targets?period={month}"))
        .await;
    assert_eq!(
        v["data"].as_array().unwrap().len(),
        3,
        "the manager sees the team: {v}"
    );
    let (_, v) = app
        .get(&t.rep_b, &format!("/api/v1/targets?period={month}"))
        .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"][0]["actual"], "0.00");
    let (st, _) = app.get(&t.rep_b, "/api/v1/targets?period=last-year").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
});

story!(
    a_claim_of_a_hidden_account_answers_as_a_missing_one,
    |app| {
        let t = team(&app).await;
        // Rep A's own account, never in the pool, which rep B may not see.
        let (_, own) = app
            .post(
                &t.rep_a,
                "/api/v1/accounts",
                json!({"name": "RA Never Pooled"}),
            )
            .await;
        let own = own["id"].as_str().unwrap().to_string();
        let missing = "01a24bb4-b111-739b-a31f-286996b94cdc";
        for id in [own.as_str(), missing] {
            let (st, v) = app
                .post(&t.rep_b, &format!("/api/v1/pool/{id}/claim"), json!({}))
                .await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{id}: {v}");
            assert_eq!(v["code"], "not_found");
        }
        // Its owner, who sees it, is told it is not in the pool.
        let (st, _) = app
            .post(&t.rep_a, &format!("/api/v1/pool/{own}/claim"), json!({}))
            .await;
        assert_eq!(st, StatusCode::CONFLICT);
        let (_, acc) = app.get(&t.admin, &format!("/api/v1/accounts/{own}")).await;
        assert_eq!(acc["owner_id"], t.rep_a_id.as_str());
    }
);
