//! Privacy: export everything about a person (a contact or a lead), erase them everywhere they
//! were stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{App, Backend};
use reqwest::StatusCode;
use serde_json::json;

async fn stored_bytes(app: &App) -> Vec<u8> {
    match app.backend {
        Backend::Sqlite => ["rapport.db", "rapport.db-wal"]
            .iter()
            .filter_map(|n| std::fs::read(app.dir.join(n)).ok())
            .flatten()
            .collect(),
        Backend::Postgres => {
            std::process::Command::new("pg_dump")
                .arg("--no-owner")
                .arg(&app.database_url)
                .output()
                .unwrap()
                .stdout
        }
    }
}

/// Whether `needle` is in `hay`, in any ASCII case: the normalised copies of a name that
/// search and duplicate checks keep are lower-cased.
fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

story!(export_and_erase_a_contact, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let rep_id = app.user("rep@example.com", "sales_rep", None, None).await;
    app.user("other@example.com", "sales_rep", None, None).await;
    let admin = app.login("admin@example.com").await;
    let rep = app.login("rep@example.com").await;
    let other = app.login("other@example.com").await;
    let (_, acc) = app
        .post(
            &rep,
            "/api/v1/accounts",
            json!({"name": "Privacy Holdings"}),
        )
        .await;
    let (st, c) = app
        .post(
            &rep,
            "/api/v1/contacts",
            json!({"family_name": "Zyxwvutsrq", "given_name": "Qponmlk", "mobile": "13722223333", "email": "zyx@privacy.example", "birthday": "1990-02-03",
                   "title": "Buyer", "account_ids": [acc["id"]], "consent_email": {"granted": true, "source": "web form"}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    app.patch(
        &rep,
        &format!("/api/v1/contacts/{id}"),
        json!({"given_name": "Qponmlkj"}),
    )
    .await;
    // A search for them by name is recorded without the name.
    app.get(&rep, "/api/v1/contacts?q=Zyxwvutsrq").await;
    let (st, call) = app
        .post(
            &rep,
            "/api/v1/activities",
            json!({"kind": "call", "subject": "Zyx asked about invoices", "body": "prefers calls after 5pm",
                   "related_type": "contact", "related_id": id}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{call}");

    // Export: the record decrypted, its accounts by name, its history.
    let (st, export) = app
        .get(&rep, &format!("/api/v1/contacts/{id}/privacy-export"))
        .await;
    assert_eq!(st, StatusCode::OK, "{export}");
    assert_eq!(export["record"]["mobile"], "+8613722223333");
    assert_eq!(export["record"]["email"], "zyx@privacy.example");
    assert_eq!(export["accounts"][0]["name"], "Privacy Holdings");
    // What the activities on the record say is held about them too.
    assert_eq!(
        export["activities"][0]["subject"], "Zyx asked about invoices",
        "{export}"
    );
    assert_eq!(export["activities"][0]["body"], "prefers calls after 5pm");
    assert!(export["activity"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["action"] == "contact.created"));
    // Another rep may neither export nor erase it (404).
    assert_eq!(
        app.get(&other, &format!("/api/v1/contacts/{id}/privacy-export"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(
            &other,
            &format!("/api/v1/contacts/{id}/erase"),
            json!({"reason": "no"})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    // A reason is required.
    let (st, body) = app
        .post(&rep, &format!("/api/v1/contacts/{id}/erase"), json!({}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "reason");

    // The history shows the name's change, which the trail holds sealed with the person's
    // own key.
    let (_, hist) = app
        .get(&rep, &format!("/api/v1/contacts/{id}/history"))
        .await;
    assert!(hist.to_string().contains("Qponmlkj"), "{hist}");
    let sealed = app
        .sql_rows(
            "SELECT details FROM audit_log WHERE action IN ('contact.created', 'contact.updated')",
        )
        .await;
    assert!(!sealed.is_empty());
    for r in &sealed {
        let d: String = r.try_get("", "details").unwrap();
        assert!(!d.contains("Qponmlk") && !d.contains("Buyer"), "{d}");
    }
    // So are the words of activities logged on the person's record: readable in the trail
    // while the person's key exists, never stored in the clear.
    let call_id = call["id"].as_str().unwrap();
    let activity_entry = format!("/api/v1/audit?object_id={call_id}&action=activity.created");
    let (_, entry) = app.get(&admin, &activity_entry).await;
    assert_eq!(
        entry["data"][0]["details"]["subject"], "Zyx asked about invoices",
        "{entry}"
    );
    for r in app
        .sql_rows("SELECT details FROM audit_log WHERE action LIKE 'activity.%'")
        .await
    {
        let d: String = r.try_get("", "details").unwrap();
        assert!(!d.contains("asked about invoices"), "{d}");
    }

    // Erase.
    let (st, _) = app
        .post(
            &rep,
            &format!("/api/v1/contacts/{id}/erase"),
            json!({"reason": "data subject request #42"}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    // The person's key is gone: the history says erased where it held them.
    let (_, hist) = app
        .get(&rep, &format!("/api/v1/contacts/{id}/history"))
        .await;
    let text = hist.to_string();
    assert!(
        text.contains("[erased]") && !text.contains("Qponmlk"),
        "{hist}"
    );
    let (_, after) = app.get(&rep, &format!("/api/v1/contacts/{id}")).await;
    assert_eq!(after["family_name"], "[erased]");
    for f in [
        "given_name",
        "mobile",
        "email",
        "birthday",
        "title",
        "consent_email",
    ] {
        assert!(after[f].is_null(), "{f} should be gone: {after}");
    }
    assert_eq!(
        after["account_ids"],
        json!([acc["id"]]),
        "the business link stays"
    );
    assert_eq!(after["owner_id"], json!(rep_id));
    // Not findable by its old phone or email any more.
    assert!(app.get(&rep, "/api/v1/contacts?q=3333").await.1["data"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(app
        .get(&rep, "/api/v1/contacts?q=zyx@privacy.example")
        .await
        .1["data"]
        .as_array()
        .unwrap()
        .is_empty());
    // The erasure is audited, the chain still verifies, and the name is nowhere in storage.
    let (_, audit) = app
        .get(
            &admin,
            &format!("/api/v1/audit?object_id={id}&action=contact.erased"),
        )
        .await;
    assert_eq!(
        audit["data"][0]["details"]["reason"],
        "data subject request #42"
    );
    let (_, entry) = app.get(&admin, &activity_entry).await;
    assert_eq!(
        entry["data"][0]["details"]["subject"], "[erased]",
        "{entry}"
    );
    let (code, out, _) = app.cli(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    let bytes = stored_bytes(&app).await;
    for needle in [
        "Zyxwvutsrq",
        "Qponmlk",
        "zyx@privacy",
        "13722223333",
        "1990-02-03",
        "Buyer",
        "asked about invoices",
    ] {
        assert!(
            !contains(&bytes, needle),
            "{needle} still stored after erasure"
        );
    }
});

story!(a_privacy_export_shows_only_what_the_caller_may_see, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let rep_id = app.user("rep@example.com", "sales_rep", None, None).await;
    app.user("mkt@example.com", "marketer", None, None).await;
    let admin = app.login("admin@example.com").await;
    let rep = app.login("rep@example.com").await;
    let mkt = app.login("mkt@example.com").await;
    // The admin's account and one of the rep's, and the rep's contact linked to both (the
    // administrator links it: the rep may not see the first).
    let shared = app
        .created(
            &admin,
            "/api/v1/accounts",
            json!({"name": "Shared Visible Co"}),
        )
        .await;
    let own = app
        .created(&rep, "/api/v1/accounts", json!({"name": "Rep Private Co"}))
        .await;
    let contact = app
        .created(
            &admin,
            "/api/v1/contacts",
            json!({"family_name": "张", "given_name": "若安", "mobile": "+8613975425313",
                   "email": "ra.zhang@example.com", "title": "采购经理", "owner_id": rep_id,
                   "account_ids": [common::id(&shared), common::id(&own)]}),
        )
        .await;
    let path = format!("/api/v1/contacts/{}/privacy-export", common::id(&contact));
    // Before any rule the marketer's export holds the mobile and email: the probes can fail.
    let (s, doc) = app.get(&mkt, &path).await;
    assert_eq!(s, StatusCode::OK, "{doc}");
    assert_eq!(doc["record"]["mobile"], "+8613975425313");
    for field in ["mobile", "email", "phones", "emails"] {
        app.set_field_rule(&admin, "marketer", "contact", field, "hidden")
            .await;
    }
    app.patch(
        &admin,
        &format!("/api/v1/contacts/{}", common::id(&contact)),
        json!({"mobile": "+8613975420000"}),
    )
    .await;
    let (s, doc) = app.get(&mkt, &path).await;
    assert_eq!(s, StatusCode::OK, "{doc}");
    let text = doc.to_string();
    for hidden in ["+861397542", "ra.zhang@example.com"] {
        assert!(!text.contains(hidden), "{hidden} leaked: {text}");
    }
    for field in ["mobile", "email", "phones", "emails"] {
        assert!(doc["record"].get(field).is_none(), "{field} in {doc}");
    }
    assert_eq!(doc["record"]["title"], "采购经理");
    // The marketer reads every account (its role), so both are named; the rep's own export
    // shows the mobile and names only the account the rep may read.
    let names = |doc: &serde_json::Value| -> Vec<String> {
        doc["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["name"].as_str().map(String::from))
            .collect()
    };
    assert_eq!(names(&doc).len(), 2, "{doc}");
    let (_, mine) = app.get(&rep, &path).await;
    assert_eq!(mine["record"]["mobile"], "+8613975420000");
    assert_eq!(names(&mine), ["Rep Private Co"], "{mine}");
    assert_eq!(mine["accounts"].as_array().unwrap().len(), 2);
    // Hiding the account name from the marketer leaves the links unnamed.
    app.set_field_rule(&admin, "marketer", "account", "name", "hidden")
        .await;
    let (_, doc) = app.get(&mkt, &path).await;
    assert!(!doc.to_string().contains("Private Co"), "{doc}");
    assert!(doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["name"].is_null()));
});

story!(export_and_erase_a_lead, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let rep_id = app.user("rep@example.com", "sales_rep", None, None).await;
    app.user("other@example.com", "sales_rep", None, None).await;
    let admin = app.login("admin@example.com").await;
    let rep = app.login("rep@example.com").await;
    let other = app.login("other@example.com").await;
    let lead = app
        .created(
            &rep,
            "/api/v1/leads",
            json!({"company": "Leadco Privacy Ltd", "family_name": "Wvutsrqp", "given_name": "Onmlkji",
                   "title": "CTO", "mobile": "13644445555", "email": "wvu@lead-privacy.example",
                   "wechat": "wvu_wechat_77", "city": "Hangzhou", "tags": ["vip"],
                   "description": "met at the fair"}),
        )
        .await;
    let id = common::id(&lead);

    // The export holds the lead, its history and nothing the caller may not see.
    let (st, doc) = app
        .get(&rep, &format!("/api/v1/leads/{id}/privacy-export"))
        .await;
    assert_eq!(st, StatusCode::OK, "{doc}");
    assert_eq!(doc["subject"]["type"], "lead");
    assert_eq!(doc["record"]["email"], "wvu@lead-privacy.example");
    assert_eq!(doc["record"]["mobile"], "+8613644445555");
    assert!(doc["activity"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["action"] == "lead.created"));
    app.set_field_rule(&admin, "sales_rep", "lead", "wechat", "hidden")
        .await;
    let (_, doc) = app
        .get(&rep, &format!("/api/v1/leads/{id}/privacy-export"))
        .await;
    assert!(doc["record"].get("wechat").is_none(), "{doc}");
    // Another rep may neither export nor erase it (404); types without a person have neither.
    let (st, _) = app
        .get(&other, &format!("/api/v1/leads/{id}/privacy-export"))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = app
        .post(
            &other,
            &format!("/api/v1/leads/{id}/erase"),
            json!({"reason": "no"}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let acc = app
        .created(&rep, "/api/v1/accounts", json!({"name": "No Person Ltd"}))
        .await;
    let (st, _) = app
        .get(
            &rep,
            &format!("/api/v1/accounts/{}/privacy-export", common::id(&acc)),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Erased: a reason is needed; the person's values go, the lead's business fields stay.
    let (st, _) = app
        .post(&rep, &format!("/api/v1/leads/{id}/erase"), json!({}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, _) = app
        .post(
            &rep,
            &format!("/api/v1/leads/{id}/erase"),
            json!({"reason": "data subject request #43"}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, after) = app.get(&admin, &format!("/api/v1/leads/{id}")).await;
    assert_eq!(after["family_name"], "[erased]");
    for f in [
        "given_name",
        "mobile",
        "email",
        "wechat",
        "title",
        "city",
        "description",
    ] {
        assert!(after[f].is_null(), "{f} should be gone: {after}");
    }
    assert_eq!(after["company"], "Leadco Privacy Ltd");
    assert_eq!(after["owner_id"], json!(rep_id));
    assert!(app
        .get(&rep, "/api/v1/leads?q=wvu@lead-privacy.example")
        .await
        .1["data"]
        .as_array()
        .unwrap()
        .is_empty());
    let (_, audit) = app
        .get(
            &admin,
            &format!("/api/v1/audit?object_id={id}&action=lead.erased"),
        )
        .await;
    assert_eq!(
        audit["data"][0]["details"]["reason"],
        "data subject request #43"
    );
    let (code, out, _) = app.cli(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    let bytes = stored_bytes(&app).await;
    for needle in [
        "Wvutsrqp",
        "Onmlkji",
        "wvu@lead-privacy",
        "13644445555",
        "wvu_wechat_77",
    ] {
        assert!(
            !contains(&bytes, needle),
            "{needle} still stored after erasure"
        );
    }
});
