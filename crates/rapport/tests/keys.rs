//! Key rotation and retirement over every encrypted value (the registry of encrypted
//! columns), resumed after an interruption, and values that do not decrypt shown as
//! unreadable instead of failing the page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{id, urlencode, App, Backend, Session};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn text_cell(app: &App, sql: &str, col: &str) -> String {
    let rows = app.sql_rows(sql).await;
    rows[0].try_get::<String>("", col).unwrap()
}

/// A contact with encrypted built-in and custom values, a lead with its encrypted fields,
/// and a stored export file: one value in each kind of place the registry covers.
async fn seed(app: &App) -> (Session, Value, Value, String) {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    let (st, v) = app
        .call(
            &s,
            Method::PUT,
            "/api/v1/custom-fields/contacts/cf_secret",
            Some(json!({"label_en": "Secret", "label_zh": "机密", "kind": "text", "sensitive": true})),
        )
        .await;
    assert!(st.is_success(), "{v}");
    let contact = app
        .created(
            &s,
            "/api/v1/contacts",
            json!({"family_name": "Key", "mobile": "13600000000", "email": "key@example.com", "cf_secret": "S-1"}),
        )
        .await;
    let lead = app
        .created(
            &s,
            "/api/v1/leads",
            json!({"family_name": "Lead Key", "company": "钥匙公司", "email": "lead@example.com", "mobile": "13700000000", "wechat": "leadwx"}),
        )
        .await;
    let (st, e) = app
        .post(
            &s,
            "/api/v1/exports",
            json!({"object": "contacts", "cols": ["family_name", "mobile"]}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{e}");
    let export = id(&e);
    for _ in 0..100 {
        let (_, e) = app.get(&s, &format!("/api/v1/exports/{export}")).await;
        if e["status"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    (s, contact, lead, export)
}

async fn export_file(app: &App, s: &Session, export: &str) -> (StatusCode, String) {
    let res = app
        .http
        .get(format!("{}/api/v1/exports/{export}/file", app.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap_or_default())
}

story!(rotation_covers_every_encrypted_value_and_resumes, |app| {
    if app.backend == Backend::Postgres {
        // The same code on both backends; the SQLite run covers it without the extra waits.
        return;
    }
    let (s, contact, lead, export) = seed(&app).await;
    let cid = id(&contact);
    let old_mobile = text_cell(
        &app,
        &format!("SELECT mobile_enc FROM contacts WHERE id = '{cid}'"),
        "mobile_enc",
    )
    .await;
    // A rotation stopped after it made the new key active (here: while it waits for the
    // servers to load it) resumes with that key instead of adding a third.
    let key_file = app.dir.join("rapport.key");
    let mut first = app.command().args(["keys", "rotate"]).spawn().unwrap();
    for _ in 0..100 {
        if std::fs::read_to_string(&key_file)
            .unwrap_or_default()
            .contains("rotating")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let (code, out, err) = app.cli(&["keys", "rotate"]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(
        out.contains("resuming the unfinished rotation to k2"),
        "{out}"
    );
    let file = std::fs::read_to_string(&key_file).unwrap();
    assert!(
        !file.contains("\"k3\"") && !file.contains("rotating"),
        "{file}"
    );

    let (_, status, _) = app.cli(&["keys", "status"]);
    assert!(status.contains("k2\tactive"), "{status}");
    assert!(status.contains("k1\tdecrypt_only\t0 values"), "{status}");
    for place in [
        "leads.email_enc",
        "leads.mobile_enc",
        "leads.wechat_enc",
        "contacts.custom_enc",
        "export_chunks.data_enc",
    ] {
        assert!(
            status.contains(&format!("{place}\tk2: ")),
            "{place}: {status}"
        );
    }
    assert!(!status.contains("do not decrypt"), "{status}");
    assert!(!status.contains("does not know"), "{status}");

    // A value written back under the old key (a server that had not reloaded yet) keeps the
    // old key from being retired, counted from the data.
    app.sql(&format!(
        "UPDATE contacts SET mobile_enc = '{old_mobile}' WHERE id = '{cid}'"
    ))
    .await;
    let (code, _, err) = app.cli(&["keys", "retire", "k1"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("1 stored values still use k1") && err.contains("contacts.mobile_enc"),
        "{err}"
    );
    let (code, out, err) = app.cli(&["keys", "rotate"]);
    assert_eq!(code, 0, "{out} {err}");
    for k in ["k1", "k2"] {
        let (code, out, err) = app.cli(&["keys", "retire", k]);
        assert_eq!(code, 0, "{k}: {out} {err}");
    }
    let (code, _, err) = app.cli(&["keys", "retire", "k3"]);
    assert_ne!(code, 0);
    assert!(err.contains("active"), "{err}");

    // With only the newest key left, every value still reads.
    let (st, list) = app.get(&s, "/api/v1/leads").await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(list["data"][0]["email"], "lead@example.com");
    assert_eq!(list["data"][0]["wechat"], "leadwx");
    let (st, c) = app.get(&s, &format!("/api/v1/contacts/{cid}")).await;
    assert_eq!(st, StatusCode::OK, "{c}");
    assert_eq!(
        (c["mobile"].as_str(), c["cf_secret"].as_str()),
        (Some("+8613600000000"), Some("S-1"))
    );
    let (st, l) = app.get(&s, &format!("/api/v1/leads/{}", id(&lead))).await;
    assert_eq!(
        (st, l["mobile"].as_str()),
        (StatusCode::OK, Some("+8613700000000"))
    );
    let (st, file) = export_file(&app, &s, &export).await;
    assert_eq!(st, StatusCode::OK);
    assert!(file.contains("13600000000"), "{file}");
});

story!(undecryptable_values_are_shown_as_unreadable, |app| {
    let (s, contact, _, _) = seed(&app).await;
    let cid = id(&contact);
    let other = app
        .created(
            &s,
            "/api/v1/contacts",
            json!({"family_name": "Other", "mobile": "13900000000", "cf_secret": "S-2"}),
        )
        .await;
    let oid = id(&other);
    // Another row's ciphertexts, moved here: they do not decrypt in this row.
    for col in ["mobile_enc", "custom_enc"] {
        let moved = text_cell(
            &app,
            &format!("SELECT {col} FROM contacts WHERE id = '{oid}'"),
            col,
        )
        .await;
        app.sql(&format!(
            "UPDATE contacts SET {col} = '{moved}' WHERE id = '{cid}'"
        ))
        .await;
    }
    let (st, list) = app.get(&s, "/api/v1/contacts?sort=family_name").await;
    assert_eq!(st, StatusCode::OK, "{list}");
    let row = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == cid.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["mobile"], Value::Null, "{row}");
    assert_eq!(row["unreadable"], json!(["mobile", "custom"]), "{row}");
    assert_eq!(row["email"], "key@example.com", "{row}");
    let (st, one) = app.get(&s, &format!("/api/v1/contacts/{cid}")).await;
    assert_eq!(st, StatusCode::OK, "{one}");
    assert_eq!(one["unreadable"], json!(["mobile", "custom"]), "{one}");
    assert!(one.get("cf_secret").is_none(), "{one}");
    // The intact record is not marked.
    let (_, fine) = app.get(&s, &format!("/api/v1/contacts/{oid}")).await;
    assert!(fine.get("unreadable").is_none(), "{fine}");
    // The record page shows the record, the field marked.
    let res = app
        .http
        .get(format!("{}/contacts/{cid}", app.base))
        .header("cookie", format!("rapport_session={}", s.token))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("Cannot be decrypted"), "{html}");
    // A write that would replace the unreadable values with nothing is refused, and changes
    // nothing.
    let (st, err) = app
        .patch(
            &s,
            &format!("/api/v1/contacts/{cid}"),
            json!({"title": "CTO"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{err}");
    assert!(
        err["detail"].as_str().unwrap().contains("mobile, custom"),
        "{err}"
    );
    let (_, one) = app.get(&s, &format!("/api/v1/contacts/{cid}")).await;
    assert_eq!(one["title"], Value::Null);
    // `keys status` names the rows.
    let (code, status, err) = app.cli(&["keys", "status"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        status.contains("2 stored values do not decrypt")
            && status.contains(&format!("contacts.mobile_enc row {cid}"))
            && status.contains(&format!("contacts.custom_enc row {cid}")),
        "{status}"
    );
    // An encrypted column the registry lacks is named, and keys are not changed meanwhile.
    app.sql("ALTER TABLE accounts ADD COLUMN notes_enc TEXT")
        .await;
    let (_, status, _) = app.cli(&["keys", "status"]);
    assert!(status.contains("accounts.notes_enc"), "{status}");
    let (code, _, err) = app.cli(&["keys", "rotate"]);
    assert_ne!(code, 0);
    assert!(err.contains("accounts.notes_enc"), "{err}");
    let file = std::fs::read_to_string(app.dir.join("rapport.key")).unwrap();
    assert!(!file.contains("\"k2\""), "{file}");
});

story!(the_blind_index_key_rotates_and_lookups_still_find, |app| {
    if app.backend == Backend::Postgres {
        // The same code on both backends; the SQLite run covers it without the extra waits.
        return;
    }
    let (s, contact, lead, _) = seed(&app).await;
    let key_file = app.dir.join("rapport.key");
    let before = std::fs::read_to_string(&key_file).unwrap();
    let index_of = |text: &str| -> String {
        let v: Value = serde_json::from_str(text).unwrap();
        v["index_key"].as_str().unwrap().to_string()
    };
    let cid = id(&contact);
    let bidx_now = || async {
        let rows = app
            .sql_rows(&format!(
                "SELECT email_bidx FROM contacts WHERE id = '{cid}'"
            ))
            .await;
        rows[0].try_get::<String>("", "email_bidx").unwrap()
    };
    let old_bidx = bidx_now().await;
    let (code, _, _) = app.cli(&["audit", "anchor"]);
    assert_eq!(code, 0);
    let (code, out, err) = app.cli(&["keys", "rotate-index"]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(err.contains("contacts: rebuilt"), "{err}");
    assert!(out.contains("rebuilt the lookups of"), "{out}");
    let after = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(index_of(&before), index_of(&after));
    assert!(!after.contains("rebuilding_index"), "{after}");
    // The lookup columns hold new tokens.
    assert_ne!(bidx_now().await, old_bidx);
    // Exact search, sensitive filters and duplicate checks find what was stored before.
    let (_, found) = app.get(&s, "/api/v1/contacts?q=key@example.com").await;
    assert_eq!(found["data"][0]["id"], cid.as_str(), "{found}");
    let (_, found) = app.get(&s, "/api/v1/contacts?q=13600000000").await;
    assert_eq!(found["data"][0]["id"], cid.as_str(), "{found}");
    let (_, found) = app.get(&s, "/api/v1/leads?q=lead@example.com").await;
    assert_eq!(found["data"][0]["id"], id(&lead).as_str(), "{found}");
    for (field, value) in [("email", "key@example.com"), ("cf_secret", "S-1")] {
        let f = urlencode(&json!({"field": field, "op": "eq", "value": value}).to_string());
        let (_, found) = app.get(&s, &format!("/api/v1/contacts?filter={f}")).await;
        assert_eq!(found["data"][0]["id"], cid.as_str(), "{field}: {found}");
    }
    let (st, dup) = app
        .post(
            &s,
            "/api/v1/contacts",
            json!({"family_name": "Again", "email": "key@example.com"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{dup}");
    // The audit chain still verifies: its key did not move with the index key.
    let (code, out, _) = app.cli(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
});
