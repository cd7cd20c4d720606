//! Duplicate scan and merge: groups with a confidence (exact credit code, email and phone,
//! normalised and swapped names, similar company names), merging with chosen values, moving
//! activities, deals, links and history to the survivor, undo, bulk merges, and users
//! without the right refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{id, App, Session};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Team {
    admin: Session,
    rep_a: Session,
    rep_b: Session,
}

async fn team(app: &App) -> Team {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.user("manager@example.com", "sales_manager", Some("East"), None)
        .await;
    for rep in ["rep.a@example.com", "rep.b@example.com"] {
        app.user(rep, "sales_rep", Some("East"), Some("manager@example.com"))
            .await;
    }
    Team {
        admin: app.login("admin@example.com").await,
        rep_a: app.login("rep.a@example.com").await,
        rep_b: app.login("rep.b@example.com").await,
    }
}

/// Create despite the duplicate warnings (the point is to have duplicates).
async fn dup(app: &App, s: &Session, path: &str, body: Value) -> String {
    id(&app
        .created(s, &format!("{path}?override_duplicates=true"), body)
        .await)
}

fn group_with<'a>(scan: &'a Value, ids: &[&str]) -> Option<&'a Value> {
    scan["data"].as_array().unwrap().iter().find(|g| {
        let members: Vec<&str> = g["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        ids.iter().all(|i| members.contains(i))
    })
}

fn account_ids(contact: &Value) -> Vec<String> {
    let mut ids: Vec<String> = contact["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["account_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

story!(
    accounts_merge_moves_everything_and_undo_restores_it,
    |app| {
        let t = team(&app).await;
        let a1v = app
            .created(
                &t.rep_a,
                "/api/v1/accounts",
                json!({"name": "华为技术有限公司", "tags": ["key"], "phone": "0755-28780808"}),
            )
            .await;
        let a1 = id(&a1v);
        let a2 = dup(
            &app,
            &t.rep_a,
            "/api/v1/accounts",
            json!({"name": "华为技术", "tags": ["south"], "website": "https://huawei.example.com"}),
        )
        .await;
        let a3 = dup(
            &app,
            &t.rep_a,
            "/api/v1/accounts",
            json!({"name": "华为技术（深圳）"}),
        )
        .await;
        let other = dup(
            &app,
            &t.rep_a,
            "/api/v1/accounts",
            json!({"name": "完全不同的公司"}),
        )
        .await;
        let both = id(&app
            .created(
                &t.rep_a,
                "/api/v1/contacts",
                json!({"family_name": "李", "given_name": "雷", "account_ids": [a1, a2]}),
            )
            .await);
        let only2 = id(&app
            .created(
                &t.rep_a,
                "/api/v1/contacts",
                json!({"family_name": "韩", "given_name": "梅梅", "account_ids": [a2]}),
            )
            .await);
        let opp = id(&app
            .created(
                &t.rep_a,
                "/api/v1/opportunities",
                json!({"name": "二期", "account_id": a2, "amount": "5000"}),
            )
            .await);
        let note = id(&app.created(&t.rep_a, "/api/v1/activities", json!({"kind": "note", "subject": "见了采购", "related_type": "account", "related_id": a2})).await);

        // The scan: the same normalised name, and a similar one.
        let (st, scan) = app
            .get(&t.rep_a, "/api/v1/duplicates?object=accounts")
            .await;
        assert_eq!(st, StatusCode::OK, "{scan}");
        let g = group_with(&scan, &[&a1, &a2, &a3]).expect("one group of three");
        assert_eq!(g["confidence"], 80, "{g}");
        assert_eq!(g["reasons"], json!(["name", "similar_name"]));
        assert!(group_with(&scan, &[&other]).is_none());
        // Rep B reads none of them: no groups, and no merge (404).
        let (_, scan_b) = app
            .get(&t.rep_b, "/api/v1/duplicates?object=accounts")
            .await;
        assert!(group_with(&scan_b, &[&a1]).is_none(), "{scan_b}");
        let body = json!({"object": "accounts", "survivor_id": a1, "merged_ids": [a2]});
        let (st, _) = app.post(&t.rep_b, "/api/v1/merges", body.clone()).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        // Bad requests change nothing.
        for (bad, field) in [
            (
                json!({"object": "accounts", "survivor_id": a1, "merged_ids": [a1]}),
                "merged_ids",
            ),
            (
                json!({"object": "accounts", "survivor_id": a1, "merged_ids": []}),
                "merged_ids",
            ),
            (
                json!({"object": "quotes", "survivor_id": a1, "merged_ids": [a2]}),
                "object",
            ),
            (
                json!({"object": "accounts", "survivor_id": a1, "merged_ids": [a2], "fields": {"website": other}}),
                "fields.website",
            ),
            (
                json!({"object": "accounts", "survivor_id": a1, "merged_ids": [a2], "fields": {"owner_idx": a2}}),
                "fields.owner_idx",
            ),
        ] {
            let (st, e) = app.post(&t.rep_a, "/api/v1/merges", bad).await;
            assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
            assert_eq!(e["errors"][0]["field"], field, "{e}");
        }

        // Merge: the survivor takes a2's website; tags combine; a1 keeps its phone.
        let mut req = body.clone();
        req["fields"] = json!({"website": a2});
        let (st, m) = app.post(&t.rep_a, "/api/v1/merges", req).await;
        assert_eq!(st, StatusCode::CREATED, "{m}");
        let merge_id = id(&m);
        assert_eq!(m["moved"]["opportunities"], 1, "{m}");
        let (st, _) = app.get(&t.rep_a, &format!("/api/v1/accounts/{a2}")).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "the merged account is gone");
        let (_, acc) = app.get(&t.rep_a, &format!("/api/v1/accounts/{a1}")).await;
        assert_eq!(acc["website"], "https://huawei.example.com");
        assert_eq!(acc["tags"], json!(["key", "south"]));
        assert_eq!(acc["phone"], a1v["phone"], "{acc}");
        let (_, o) = app
            .get(&t.rep_a, &format!("/api/v1/opportunities/{opp}"))
            .await;
        assert_eq!(o["account_id"], a1.as_str());
        let (_, n) = app
            .get(&t.rep_a, &format!("/api/v1/activities/{note}"))
            .await;
        assert_eq!(n["related_id"], a1.as_str());
        let (_, c) = app.get(&t.rep_a, &format!("/api/v1/contacts/{both}")).await;
        assert_eq!(account_ids(&c), vec![a1.clone()], "one link, not two");
        let (_, c) = app
            .get(&t.rep_a, &format!("/api/v1/contacts/{only2}"))
            .await;
        assert_eq!(account_ids(&c), vec![a1.clone()]);
        // History moves: the survivor's history shows the merged account's creation and the merge.
        let (_, h) = app
            .get(&t.rep_a, &format!("/api/v1/accounts/{a1}/history"))
            .await;
        let actions: Vec<(&str, &str)> = h["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap(),
                    e["record_id"].as_str().unwrap(),
                )
            })
            .collect();
        assert!(
            actions.contains(&("account.created", a2.as_str())),
            "{actions:?}"
        );
        assert!(
            actions.contains(&("account.merged", a1.as_str())),
            "{actions:?}"
        );
        let (_, merges) = app.get(&t.rep_a, "/api/v1/merges?object=accounts").await;
        assert_eq!(merges["data"][0]["id"], merge_id.as_str());
        let (st, _) = app
            .get(&t.rep_b, &format!("/api/v1/merges/{merge_id}"))
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND, "rep B may not see the merge");
        let (st, _) = app
            .post(
                &t.rep_b,
                &format!("/api/v1/merges/{merge_id}/undo"),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        // Undo: everything goes back.
        let (st, u) = app
            .post(
                &t.rep_a,
                &format!("/api/v1/merges/{merge_id}/undo"),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{u}");
        assert_eq!(u["status"], "undone");
        let (st, back) = app.get(&t.rep_a, &format!("/api/v1/accounts/{a2}")).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(back["name"], "华为技术");
        assert_eq!(back["tags"], json!(["south"]));
        let (_, acc) = app.get(&t.rep_a, &format!("/api/v1/accounts/{a1}")).await;
        assert_eq!(acc["website"], Value::Null, "{acc}");
        assert_eq!(acc["tags"], json!(["key"]));
        let (_, o) = app
            .get(&t.rep_a, &format!("/api/v1/opportunities/{opp}"))
            .await;
        assert_eq!(o["account_id"], a2.as_str());
        let (_, n) = app
            .get(&t.rep_a, &format!("/api/v1/activities/{note}"))
            .await;
        assert_eq!(n["related_id"], a2.as_str());
        let (_, c) = app.get(&t.rep_a, &format!("/api/v1/contacts/{both}")).await;
        let mut want = vec![a1.clone(), a2.clone()];
        want.sort();
        assert_eq!(account_ids(&c), want, "the removed link is back");
        let (_, c) = app
            .get(&t.rep_a, &format!("/api/v1/contacts/{only2}"))
            .await;
        assert_eq!(account_ids(&c), vec![a2.clone()]);
        // Quick search finds the restored account by its name again.
        let (_, found) = app
            .get(
                &t.rep_a,
                "/api/v1/accounts?q=%E5%8D%8E%E4%B8%BA%E6%8A%80%E6%9C%AF",
            )
            .await;
        assert!(found["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == a2.as_str()));
        let (st, _) = app
            .post(
                &t.rep_a,
                &format!("/api/v1/merges/{merge_id}/undo"),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "undone once only");

        // A merge whose survivor was changed since cannot be undone.
        let (_, m) = app.post(&t.rep_a, "/api/v1/merges", json!({"object": "accounts", "survivor_id": a1, "merged_ids": [a2, a3], "fields": {"website": a2}})).await;
        let (st, _) = app
            .patch(
                &t.rep_a,
                &format!("/api/v1/accounts/{a1}"),
                json!({"website": "https://new.example.com"}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let (st, e) = app
            .post(
                &t.rep_a,
                &format!("/api/v1/merges/{}/undo", id(&m)),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{e}");
        assert!(e["detail"].as_str().unwrap().contains("website"), "{e}");

        // Audited.
        let (_, trail) = app
            .get(&t.admin, &format!("/api/v1/audit?object_id={a3}"))
            .await;
        let actions: Vec<&str> = trail["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert!(actions.contains(&"account.merged_into"), "{actions:?}");
    }
);

story!(credit_code_and_people_duplicates_and_bulk_merge, |app| {
    let t = team(&app).await;
    let (st, _) = app
        .call(
            &t.admin,
            Method::PUT,
            "/api/v1/duplicate-rules/accounts",
            Some(json!({"credit_code": "off"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let c1 = dup(
        &app,
        &t.admin,
        "/api/v1/accounts",
        json!({"name": "深圳甲公司", "credit_code": "914403001922038216"}),
    )
    .await;
    let c2 = dup(
        &app,
        &t.admin,
        "/api/v1/accounts",
        json!({"name": "乙贸易", "credit_code": "914403001922038216"}),
    )
    .await;
    let (_, scan) = app
        .get(&t.admin, "/api/v1/duplicates?object=accounts")
        .await;
    let g = group_with(&scan, &[&c1, &c2]).expect("same credit code");
    assert_eq!(
        (g["confidence"].as_i64(), &g["reasons"]),
        (Some(100), &json!(["credit_code"]))
    );

    // People: the same email; a name written the other way round.
    let p1 = dup(&app, &t.rep_a, "/api/v1/contacts", json!({"family_name": "Zhang", "given_name": "San", "email": "zs@example.com", "mobile": "13800138000"})).await;
    let p2 = dup(
        &app,
        &t.rep_a,
        "/api/v1/contacts",
        json!({"family_name": "San", "given_name": "Zhang", "email": "zhang.san@example.org"}),
    )
    .await;
    let p3 = dup(
        &app,
        &t.rep_a,
        "/api/v1/contacts",
        json!({"family_name": "王", "given_name": "芳", "email": "wf@example.com"}),
    )
    .await;
    let p4 = dup(
        &app,
        &t.rep_a,
        "/api/v1/contacts",
        json!({"family_name": "Wang", "given_name": "Fang", "email": "WF@example.com"}),
    )
    .await;
    let (_, scan) = app
        .get(&t.rep_a, "/api/v1/duplicates?object=contacts")
        .await;
    let swapped = group_with(&scan, &[&p1, &p2]).expect("Zhang San / San Zhang");
    assert_eq!(swapped["reasons"], json!(["swapped_name"]), "{swapped}");
    assert_eq!(swapped["confidence"], 55);
    let email = group_with(&scan, &[&p3, &p4]).expect("same email");
    assert_eq!(email["confidence"], 95);
    let (_, high) = app
        .get(
            &t.rep_a,
            "/api/v1/duplicates?object=contacts&min_confidence=90",
        )
        .await;
    assert!(
        group_with(&high, &[&p1, &p2]).is_none(),
        "below the threshold"
    );
    let (st, _) = app
        .get(
            &t.rep_a,
            "/api/v1/duplicates?object=contacts&min_confidence=101",
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    // Leads with the same mobile.
    let l1 = dup(&app, &t.rep_a, "/api/v1/leads", json!({"family_name": "赵", "given_name": "六", "company": "某公司", "mobile": "13900139000"})).await;
    let l2 = dup(&app, &t.rep_a, "/api/v1/leads", json!({"family_name": "赵", "given_name": "小六", "company": "某公司", "mobile": "13900139000"})).await;
    let (_, scan) = app.get(&t.rep_a, "/api/v1/duplicates?object=leads").await;
    assert_eq!(
        group_with(&scan, &[&l1, &l2]).expect("same mobile")["reasons"],
        json!(["phone"])
    );

    // Bulk: two groups and one that cannot be merged; each stands alone.
    let (st, out) = app
        .post(
            &t.rep_a,
            "/api/v1/merges/bulk",
            json!({"object": "contacts", "groups": [
                {"survivor_id": p1, "merged_ids": [p2]},
                {"survivor_id": p3, "merged_ids": [p4]},
                {"survivor_id": p3, "merged_ids": [c1]}
            ]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{out}");
    assert_eq!(
        (out["merged"].as_i64(), out["failed"].as_i64()),
        (Some(2), Some(1)),
        "{out}"
    );
    assert_eq!(out["data"][2]["status"], 404);
    let (_, zs) = app.get(&t.rep_a, &format!("/api/v1/contacts/{p1}")).await;
    assert_eq!(zs["email"], "zs@example.com");
    assert_eq!(
        zs["emails"],
        json!(["zhang.san@example.org"]),
        "the other email is kept: {zs}"
    );
    assert_eq!(zs["mobile"], "+8613800138000");
    let (st, _) = app.get(&t.rep_a, &format!("/api/v1/contacts/{p2}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Rep B cannot bulk-merge rep A's contacts: each group is refused.
    let (_, out) = app
        .post(
            &t.rep_b,
            "/api/v1/merges/bulk",
            json!({"object": "contacts", "groups": [{"survivor_id": p1, "merged_ids": [p3]}]}),
        )
        .await;
    assert_eq!(out["failed"], 1);
    assert_eq!(out["data"][0]["status"], 404);
    let (st, _) = app.get(&t.rep_a, &format!("/api/v1/contacts/{p3}")).await;
    assert_eq!(st, StatusCode::OK);
});

story!(
    an_account_merged_into_its_sub_account_leaves_no_loop,
    |app| {
        // The parent is merged into its sub-account: the survivor cannot be its own parent, the
        // parent's other sub-account moves to the survivor, and the undo puts both back.
        let t = team(&app).await;
        let parent = id(&app
            .created(&t.admin, "/api/v1/accounts", json!({"name": "星辰集团"}))
            .await);
        let survivor = dup(
            &app,
            &t.admin,
            "/api/v1/accounts",
            json!({"name": "星辰集团华东", "parent_id": parent}),
        )
        .await;
        let sibling = dup(
            &app,
            &t.admin,
            "/api/v1/accounts",
            json!({"name": "星辰置业", "parent_id": parent}),
        )
        .await;
        let (st, m) = app
            .post(
                &t.admin,
                "/api/v1/merges",
                json!({"object": "accounts", "survivor_id": survivor, "merged_ids": [parent]}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{m}");
        let (_, s) = app
            .get(&t.admin, &format!("/api/v1/accounts/{survivor}"))
            .await;
        assert_eq!(s["parent_id"], Value::Null, "{s}");
        let (_, sib) = app
            .get(&t.admin, &format!("/api/v1/accounts/{sibling}"))
            .await;
        assert_eq!(sib["parent_id"], survivor.as_str(), "{sib}");
        let (st, u) = app
            .post(
                &t.admin,
                &format!("/api/v1/merges/{}/undo", id(&m)),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{u}");
        for child in [&survivor, &sibling] {
            let (_, c) = app
                .get(&t.admin, &format!("/api/v1/accounts/{child}"))
                .await;
            assert_eq!(c["parent_id"], parent.as_str(), "{c}");
        }
    }
);
