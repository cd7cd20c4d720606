//! Encryption at rest, the audit chain and its verification, key handling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{App, Backend};
use reqwest::StatusCode;
use serde_json::json;

const CANARY_PHONE: &str = "+86 139 1234 5678";
const CANARY_DIGITS: &str = "13912345678";
const CANARY_EMAIL: &str = "canary.7f3a9@rapport-test.example";

/// Every byte the database keeps, as text: the SQLite file and WAL, or a pg_dump.
async fn database_bytes(app: &App) -> Vec<u8> {
    match app.backend {
        Backend::Sqlite => {
            let mut all = Vec::new();
            for name in ["rapport.db", "rapport.db-wal", "rapport.db-shm"] {
                if let Ok(b) = std::fs::read(app.dir.join(name)) {
                    all.extend(b);
                }
            }
            assert!(!all.is_empty());
            all
        }
        Backend::Postgres => {
            let out = std::process::Command::new("pg_dump")
                .arg("--no-owner")
                .arg(&app.database_url)
                .output()
                .expect("pg_dump");
            assert!(
                out.status.success(),
                "pg_dump failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

story!(canary_phone_and_email_never_stored_in_plaintext, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    let (st, c) = app
        .post(&s, "/api/v1/contacts", json!({"family_name": "Canary", "mobile": CANARY_PHONE, "email": CANARY_EMAIL, "phones": ["+86 10 6552 9988"], "emails": ["second.canary@rapport-test.example"], "address": "1 Secret Street", "id_number": "11010519491231002X"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    assert_eq!(c["mobile"], "+8613912345678");
    assert_eq!(c["email"], CANARY_EMAIL);
    let (st, acc) = app.post(&s, "/api/v1/accounts", json!({"name": "Canary Corp", "credit_code": "914403001922038216", "phone": "0755 2878 0808"})).await;
    assert_eq!(st, StatusCode::CREATED, "{acc}");
    // The values can be found by exact lookup and last digits through the blind index.
    let (_, found) = app
        .get(&s, &format!("/api/v1/contacts?q={}", CANARY_EMAIL))
        .await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    let (_, found) = app.get(&s, "/api/v1/contacts?q=5678").await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    let by_id = "%7B%22field%22%3A%22id_number%22%2C%22op%22%3A%22eq%22%2C%22value%22%3A%2211010519491231002x%22%7D";
    let (_, found) = app
        .get(&s, &format!("/api/v1/contacts?filter={by_id}"))
        .await;
    assert_eq!(
        found["data"].as_array().unwrap().len(),
        1,
        "exact lookup of an encrypted ID number"
    );

    let bytes = database_bytes(&app).await;
    for needle in [
        CANARY_DIGITS,
        "8613912345678",
        CANARY_EMAIL,
        "canary.7f3a9",
        "second.canary",
        "1065529988",
        "Secret Street",
        "914403001922038216",
        "75528780808",
    ] {
        assert!(
            !contains(&bytes, needle),
            "{needle} found in plaintext in the database"
        );
    }
    // The non-sensitive name is there, which shows the search above really looked at the data.
    assert!(contains(&bytes, "Canary"));
});

story!(ciphertext_moved_to_another_row_does_not_decrypt, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    let (_, a) = app
        .post(
            &s,
            "/api/v1/contacts",
            json!({"family_name": "A", "mobile": "13800000001"}),
        )
        .await;
    let (_, b) = app
        .post(
            &s,
            "/api/v1/contacts",
            json!({"family_name": "B", "mobile": "13800000002"}),
        )
        .await;
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    app.sql(&format!("UPDATE contacts SET mobile_enc = (SELECT mobile_enc FROM contacts WHERE id = '{a_id}') WHERE id = '{b_id}'")).await;
    // The moved value does not open in its new row: shown as unreadable, never as A's.
    let (st, body) = app.get(&s, &format!("/api/v1/contacts/{b_id}")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["mobile"], serde_json::Value::Null);
    assert_eq!(body["unreadable"], json!(["mobile"]));
    assert!(!body.to_string().contains("13800000001"));
    // The untouched row still reads.
    assert_eq!(
        app.get(&s, &format!("/api/v1/contacts/{a_id}")).await.1["mobile"],
        "+8613800000001"
    );
});

story!(audit_verify_names_the_tampered_entry, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    for i in 0..5 {
        app.post(
            &s,
            "/api/v1/accounts",
            json!({"name": format!("Audit Co {i}")}),
        )
        .await;
    }
    let (code, out, _) = app.cli(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("intact"), "{out}");
    let total: i64 = out.split_whitespace().find_map(|w| w.parse().ok()).unwrap();
    assert_eq!(total, 7, "user created + login + 5 accounts: {out}");

    // 1. A direct UPDATE of entry 4.
    app.sql("UPDATE audit_log SET details = '{\"forged\":true}' WHERE seq = 4")
        .await;
    let (code, out, _) = app.cli(&["audit", "verify"]);
    assert_eq!(code, 1);
    assert!(out.contains("entry 4 (changed)"), "{out}");
});

story!(audit_verify_finds_deleted_and_swapped_entries, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    for i in 0..6 {
        app.post(
            &s,
            "/api/v1/accounts",
            json!({"name": format!("Chain Co {i}")}),
        )
        .await;
    }
    // A DELETE in the middle.
    app.sql("DELETE FROM audit_log WHERE seq = 5").await;
    let (code, out, _) = app.cli(&["audit", "verify"]);
    assert_eq!(code, 1);
    assert!(out.contains("entry 5 (missing)"), "{out}");
});

story!(audit_verify_finds_reordered_entries, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    for i in 0..6 {
        app.post(
            &s,
            "/api/v1/accounts",
            json!({"name": format!("Order Co {i}")}),
        )
        .await;
    }
    // Swap entries 3 and 4 (renumbering them so the sequence has no gap).
    app.sql("UPDATE audit_log SET seq = -3 WHERE seq = 3").await;
    app.sql("UPDATE audit_log SET seq = 3 WHERE seq = 4").await;
    app.sql("UPDATE audit_log SET seq = 4 WHERE seq = -3").await;
    let (code, out, _) = app.cli(&["audit", "verify"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("entry 3 (reordered)") && out.contains("entries 3 and 4 were swapped"),
        "{out}"
    );

    // Deleting the newest entries is found too.
    let app2 = App::start(app.backend).await.unwrap();
    app2.user("admin@example.com", "administrator", None, None)
        .await;
    let s2 = app2.login("admin@example.com").await;
    app2.post(&s2, "/api/v1/accounts", json!({"name": "Tail Co"}))
        .await;
    // Reads wait in the read journal until they are moved into the trail (ADR 0017);
    // `audit verify` moves them first, so the newest entry is in `audit_log` after it.
    let (code, out, _) = app2.cli(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    let rows = app2.sql_rows("SELECT MAX(seq) AS m FROM audit_log").await;
    let max: i64 = rows[0].try_get("", "m").unwrap();
    app2.sql(&format!("DELETE FROM audit_log WHERE seq = {max}"))
        .await;
    let (code, out, _) = app2.cli(&["audit", "verify"]);
    assert_eq!(code, 1);
    assert!(out.contains(&format!("entry {max} (truncated)")), "{out}");
});

/// An audit trail with a few entries, every one of them in `audit_log` (the read journal
/// moved by a first verify), and a signed anchor of its head.
async fn anchored_trail(app: &App) -> i64 {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    for i in 0..4 {
        app.post(
            &s,
            "/api/v1/accounts",
            json!({"name": format!("Anchor Co {i}")}),
        )
        .await;
    }
    let (code, out, _) = app.cli(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no anchor in"), "{out}");
    let (code, out, err) = app.cli(&["audit", "anchor"]);
    assert_eq!(code, 0, "{out} {err}");
    let head: i64 = out.split_whitespace().find_map(|w| w.parse().ok()).unwrap();
    let (code, out, _) = app.cli(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("checked against 1 anchors")
            && out.contains(&format!("recorded entry {head}")),
        "{out}"
    );
    head
}

#[derive(serde::Serialize)]
struct Canonical {
    seq: i64,
    at: String,
    actor_id: String,
    actor_email: Option<String>,
    session_id: Option<String>,
    token_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    action: String,
    object_type: Option<String>,
    object_id: Option<String>,
    details: String,
    prev_hash: String,
}

/// What someone with write access to the database but not the key file can do: hash the
/// entries from `from` on again (plain SHA-256, the only hash they can compute), with entry
/// `from` changed, and move the head.
async fn rehash_from(app: &App, from: i64) {
    use sha2::Digest;
    let rows = app.sql_rows("SELECT * FROM audit_log ORDER BY seq").await;
    let mut prev = String::new();
    for r in &rows {
        let g = |c: &str| r.try_get::<Option<String>>("", c).unwrap();
        let seq: i64 = r.try_get("", "seq").unwrap();
        let hash: String = r.try_get("", "hash").unwrap();
        if seq < from {
            prev = hash;
            continue;
        }
        let mut c = Canonical {
            seq,
            at: g("at").unwrap(),
            actor_id: g("actor_id").unwrap(),
            actor_email: g("actor_email"),
            session_id: g("session_id"),
            token_id: g("token_id"),
            ip: g("ip"),
            user_agent: g("user_agent"),
            action: g("action").unwrap(),
            object_type: g("object_type"),
            object_id: g("object_id"),
            details: g("details").unwrap(),
            prev_hash: if seq == 1 {
                "0".repeat(64)
            } else {
                prev.clone()
            },
        };
        if seq == from {
            c.details = "{\"forged\":true}".into();
        }
        let new = hex::encode(sha2::Sha256::digest(serde_json::to_string(&c).unwrap()));
        app.sql(&format!(
            "UPDATE audit_log SET details = '{}', prev_hash = '{}', hash = '{new}' WHERE seq = {seq}",
            c.details, c.prev_hash
        ))
        .await;
        prev = new;
    }
    app.sql(&format!(
        "UPDATE audit_head SET hash = '{prev}' WHERE id = 1"
    ))
    .await;
}

fn anchor_lines(app: &App) -> usize {
    std::fs::read_to_string(app.dir.join("audit-anchors").join("anchors.jsonl"))
        .unwrap_or_default()
        .lines()
        .count()
}

/// The server anchors the chain by itself while it grows, and once more when it stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_anchors_the_chain_as_it_grows_and_when_it_stops() {
    let app = App::start_with(Backend::Sqlite, &[("RAPPORT_AUDIT_ANCHOR_SECS", "1")])
        .await
        .unwrap();
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.login("admin@example.com").await;
    let mut n = 0;
    for _ in 0..50 {
        n = anchor_lines(&app);
        if n > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(n > 0, "no anchor written while the chain grew");

    let mut app = App::start_with(Backend::Sqlite, &[("RAPPORT_AUDIT_ANCHOR_SECS", "3600")])
        .await
        .unwrap();
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    app.post(&s, "/api/v1/accounts", json!({"name": "Anchored Co"}))
        .await;
    assert_eq!(anchor_lines(&app), 0);
    app.terminate(std::time::Duration::from_secs(20));
    assert_eq!(anchor_lines(&app), 1, "no anchor written at the stop");
    let (code, out, _) = app.cli(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("intact") && out.contains("checked against 1 anchors"),
        "{out}"
    );
}

story!(audit_anchors_catch_a_trail_cut_short, |app| {
    let head = anchored_trail(&app).await;
    // The newest entry deleted and the head moved back to the one before: the chain alone
    // looks whole.
    let rows = app
        .sql_rows(&format!(
            "SELECT hash FROM audit_log WHERE seq = {}",
            head - 1
        ))
        .await;
    let hash: String = rows[0].try_get("", "hash").unwrap();
    app.sql(&format!("DELETE FROM audit_log WHERE seq = {head}"))
        .await;
    app.sql(&format!(
        "UPDATE audit_head SET seq = {}, hash = '{hash}' WHERE id = 1",
        head - 1
    ))
    .await;
    let (code, out, _) = app.cli(&["audit", "verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("entry {head} (truncated)"))
            && out.contains(&format!(
                "recorded entry {head}: its newest entries were deleted"
            )),
        "{out}"
    );
    // Everything deleted: reported as such, not as "entries 1..0".
    app.sql("DELETE FROM audit_log").await;
    app.sql(&format!(
        "UPDATE audit_head SET seq = 0, hash = '{}' WHERE id = 1",
        "0".repeat(64)
    ))
    .await;
    let (code, out, _) = app.cli(&["audit", "verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("(truncated)") && out.contains("every entry was deleted"),
        "{out}"
    );
    assert!(out.contains("no entry verified before the break"), "{out}");
});

story!(
    audit_chain_cannot_be_hashed_again_without_the_key_file,
    |app| {
        let head = anchored_trail(&app).await;
        // Rewritten from entry 3 on: the entries before are keyed, these are not.
        rehash_from(&app, 3).await;
        let (code, out, _) = app.cli(&["audit", "verify"]);
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains("entry 3 (changed)") && out.contains("without the key file"),
            "{out}"
        );
        // Rewritten as a whole: the chain is consistent again, but not the one the anchor signed.
        rehash_from(&app, 1).await;
        let (code, out, _) = app.cli(&["audit", "verify"]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains(&format!("entry {head} (rewritten)")), "{out}");
        // An anchor edited in its file is refused.
        let file = app.dir.join("audit-anchors").join("anchors.jsonl");
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, text.replace("\"seq\":", "\"seq\":1")).unwrap();
        let (code, out, _) = app.cli(&["audit", "verify"]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("(anchor)") && out.contains("line 1"), "{out}");
    }
);

story!(changes_are_audited_with_sensitive_values_masked, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    let (_, c) = app
        .post(
            &s,
            "/api/v1/contacts",
            json!({"family_name": "Li", "mobile": "13700000000", "title": "CTO"}),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    app.patch(
        &s,
        &format!("/api/v1/contacts/{id}"),
        json!({"mobile": "13700000001", "title": "CEO"}),
    )
    .await;
    app.get(&s, &format!("/api/v1/contacts/{id}")).await;
    let (_, hist) = app.get(&s, &format!("/api/v1/contacts/{id}/history")).await;
    let update = hist["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["action"] == "contact.updated")
        .unwrap();
    assert_eq!(
        update["changes"]["title"],
        json!({"before": "CTO", "after": "CEO"})
    );
    assert_eq!(update["changes"]["mobile"]["after"], "[encrypted]");
    let (_, audit) = app.get(&s, &format!("/api/v1/audit?object_id={id}")).await;
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"contact.read")
            && actions.contains(&"contact.created")
            && actions.contains(&"contact.updated"),
        "{actions:?}"
    );
    assert!(!audit.to_string().contains("13700000001"));
    let (_, logins) = app.get(&s, "/api/v1/audit?action=auth.login").await;
    assert_eq!(logins["data"][0]["actor_email"], "admin@example.com");
});

#[tokio::test]
async fn missing_key_file_is_a_clear_startup_error() {
    let mut app = App::start(Backend::Sqlite).await.unwrap();
    app.stop();
    std::fs::remove_file(app.dir.join("rapport.key")).unwrap();
    let (code, _, err) = app.cli(&["migrate"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("encryption key file") && err.contains("missing"),
        "{err}"
    );
}

/// A command-line write while the server is busy writing (SQLite: two processes share the
/// file) waits for its turn instead of failing with "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_writes_wait_for_a_busy_server_on_sqlite() {
    let app = common::App::start_with(common::Backend::Sqlite, &[("RAPPORT_JOB_POLL_MS", "10")])
        .await
        .unwrap();
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let admin = app.login("admin@example.com").await;
    let writer = {
        let http = app.http.clone();
        let base = app.base.clone();
        let token = admin.token.clone();
        tokio::spawn(async move {
            for i in 0..150 {
                let _ = http
                    .post(format!("{base}/api/v1/accounts"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"name": format!("Busy {i}")}))
                    .send()
                    .await;
            }
        })
    };
    for i in 0..8 {
        let (code, out, err) = app.cli(&[
            "user",
            "create",
            "--email",
            &format!("cli{i}@example.com"),
            "--password",
            common::PASSWORD,
            "--role",
            "sales_rep",
            "--department",
            &format!("Dept {i}"),
        ]);
        assert_eq!(code, 0, "user create {i} failed: {out} {err}");
    }
    writer.await.unwrap();
}

// Migration 17 cuts blind-index tokens from 64 hex digits to 16 (ADR 0011). A database written
// before it is simulated by lengthening every token (the old token began with the new one)
// and forgetting the migration; after a restart, lookups by every kind of token find the
// records again and the duplicate rules still see them.
story!(
    tokens_written_before_migration_17_still_find_records,
    |app| {
        let mut app = app;
        app.user("admin@example.com", "administrator", None, None)
            .await;
        let s = app.login("admin@example.com").await;
        let c = app
            .created(
                &s,
                "/api/v1/contacts",
                json!({"family_name": "Token", "mobile": CANARY_PHONE, "email": CANARY_EMAIL}),
            )
            .await;
        app.created(
            &s,
            "/api/v1/accounts",
            json!({"name": "Token Corp", "credit_code": "914403001922038216"}),
        )
        .await;
        let short = app
            .sql_rows("SELECT token FROM search_tokens WHERE object_type = 'contact'")
            .await;
        assert_eq!(
            short.len(),
            3 + rapport_core::search_terms::index_terms("Token").len(),
            "email, mobile, its last four digits and the name's terms"
        );
        for r in &short {
            assert_eq!(r.try_get::<String>("", "token").unwrap().len(), 16);
        }
        app.stop();
        let pad = "'0123456789abcdef0123456789abcdef0123456789abcdef'";
        app.sql(&format!("UPDATE search_tokens SET token = token || {pad}"))
            .await;
        for (table, col) in [
            ("contacts", "email_bidx"),
            ("contacts", "mobile_bidx"),
            ("accounts", "credit_code_bidx"),
        ] {
            app.sql(&format!(
                "UPDATE {table} SET {col} = {col} || {pad} WHERE {col} IS NOT NULL"
            ))
            .await;
        }
        // A database from before migration 17 also had no generations (migration 22).
        before_migration_22(&app).await;
        app.sql("DELETE FROM schema_migrations WHERE version IN (17, 22)")
            .await;
        app.spawn();
        let s = app.login("admin@example.com").await;

        let lengths = app
            .sql_rows("SELECT DISTINCT length(token) AS n FROM search_tokens")
            .await;
        assert_eq!(lengths.len(), 1);
        assert_eq!(lengths[0].try_get::<i32>("", "n").unwrap(), 16);
        let (_, found) = app
            .get(&s, &format!("/api/v1/contacts?q={CANARY_EMAIL}"))
            .await;
        assert_eq!(found["data"][0]["id"], c["id"], "by email: {found}");
        let (_, found) = app.get(&s, "/api/v1/contacts?q=5678").await;
        assert_eq!(found["data"][0]["id"], c["id"], "by last digits: {found}");
        let by_email = format!(
        "/api/v1/contacts?filter=%7B%22field%22%3A%22email%22%2C%22op%22%3A%22eq%22%2C%22value%22%3A%22{CANARY_EMAIL}%22%7D"
    );
        let (_, found) = app.get(&s, &by_email).await;
        assert_eq!(
            found["data"][0]["id"], c["id"],
            "filter on the email column: {found}"
        );
        let (st, body) = app
            .post(
                &s,
                "/api/v1/contacts",
                json!({"family_name": "Again", "email": CANARY_EMAIL}),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["rule"], "email");
        let (st, body) = app
            .post(
                &s,
                "/api/v1/accounts?override_duplicates=true",
                json!({"name": "Other", "credit_code": "914403001922038216"}),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["rule"], "credit_code");
    }
);

/// Drop what migration 22 added, so that it runs again after an earlier migration a test
/// runs again (which rebuilds `search_tokens` in its own, older layout).
async fn before_migration_22(app: &common::App) {
    app.sql("DROP TABLE token_generations").await;
    app.sql("DROP TABLE record_tokens").await;
}

// Migration 18 (SQLite) rebuilds the search tokens and import links as tables clustered on
// their keys and drops the email and phone blind-index indexes, whose lookups go through the
// tokens. Running it again over a database with records keeps every token, and lookups by
// email, mobile and last digits (search, filters, duplicate rules) still find the record.
story!(tables_rebuilt_by_migration_18_keep_their_rows, |app| {
    let mut app = app;
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    let c = app
        .created(
            &s,
            "/api/v1/contacts",
            json!({"family_name": "Clustered", "mobile": CANARY_PHONE, "email": CANARY_EMAIL,
                    "emails": ["other.clustered@rapport-test.example"]}),
        )
        .await;
    app.created(
        &s,
        "/api/v1/contacts",
        json!({"family_name": "Bystander", "mobile": "+86 139 0000 1111",
                "emails": [CANARY_EMAIL.replace("canary", "other")]}),
    )
    .await;
    let count = |rows: Vec<sea_orm::QueryResult>| rows[0].try_get::<i64>("", "n").unwrap();
    let tokens = count(
        app.sql_rows("SELECT COUNT(*) AS n FROM search_tokens")
            .await,
    );
    assert!(tokens >= 7, "{tokens} tokens");
    if app.backend == Backend::Sqlite {
        let rows = app
            .sql_rows(
                "SELECT name FROM sqlite_master WHERE name IN ('search_tokens', 'import_records') \
                     AND sql LIKE '%WITHOUT ROWID%'",
            )
            .await;
        assert_eq!(rows.len(), 2, "both tables are clustered on their keys");
        let rows = app
            .sql_rows("SELECT name FROM sqlite_master WHERE name = 'contacts_email'")
            .await;
        assert!(
            rows.is_empty(),
            "the email blind index has no index of its own"
        );
    }
    app.stop();
    before_migration_22(&app).await;
    app.sql("DELETE FROM schema_migrations WHERE version IN (18, 22)")
        .await;
    app.spawn();
    let s = app.login("admin@example.com").await;
    assert_eq!(
        count(
            app.sql_rows("SELECT COUNT(*) AS n FROM search_tokens")
                .await
        ),
        tokens
    );
    let (_, found) = app
        .get(&s, &format!("/api/v1/contacts?q={CANARY_EMAIL}"))
        .await;
    assert_eq!(found["data"].as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found["data"][0]["id"], c["id"], "by email: {found}");
    let (_, found) = app.get(&s, "/api/v1/contacts?q=5678").await;
    assert_eq!(found["data"][0]["id"], c["id"], "by last digits: {found}");
    let filter = |field: &str, value: &str| {
        let f = json!({"field": field, "op": "eq", "value": value}).to_string();
        format!("/api/v1/contacts?filter={}", common::urlencode(&f))
    };
    let (st, found) = app.get(&s, &filter("email", CANARY_EMAIL)).await;
    assert_eq!(st, StatusCode::OK, "{found}");
    assert_eq!(found["data"].as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found["data"][0]["id"], c["id"], "email filter: {found}");
    let (_, found) = app.get(&s, &filter("mobile", CANARY_PHONE)).await;
    assert_eq!(found["data"][0]["id"], c["id"], "mobile filter: {found}");
    // The other contact holds the value in its list of emails, not in its email field.
    let other = CANARY_EMAIL.replace("canary", "other");
    let (_, found) = app.get(&s, &filter("email", &other)).await;
    assert_eq!(found["data"].as_array().map(Vec::len), Some(0), "{found}");
    let (st, body) = app
        .post(
            &s,
            "/api/v1/contacts",
            json!({"family_name": "Again", "mobile": CANARY_PHONE}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["rule"], "phone");
});

story!(sqlite_wal_is_checkpointed_in_the_background, |app| {
    // SQLite only: the server copies committed pages from the WAL into the database file on
    // its own, within seconds, rather than in the commit that crosses SQLite's threshold.
    if app.backend != Backend::Sqlite {
        return;
    }
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    let name = "Checkpointed Background Trading 7c1e";
    app.created(&s, "/api/v1/accounts", json!({"name": name}))
        .await;
    let in_main_file = || {
        std::fs::read(app.dir.join("rapport.db"))
            .map(|b| contains(&b, name))
            .unwrap_or(false)
    };
    let mut waited = 0;
    while !in_main_file() && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    assert!(
        in_main_file(),
        "the new account was not copied from the WAL into the database file within 10 s"
    );
});

story!(audited_reads_written_together_keep_the_chain, |app| {
    // Reads arriving together are audited in one transaction (one head read, multi-row
    // inserts): the chain stays intact and every read has its entry.
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let (http, base, token) = (app.http.clone(), app.base.clone(), s.token.clone());
        tasks.push(tokio::spawn(async move {
            http.get(format!("{base}/api/v1/accounts?limit=5"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let (code, out, _) = app.cli(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("intact"), "{out}");
    let total: i64 = out.split_whitespace().find_map(|w| w.parse().ok()).unwrap();
    assert_eq!(total, 42, "user created + login + 40 lists: {out}");
});

story!(a_terminated_server_finishes_its_work_and_stops, |app| {
    let mut app = app;
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let admin = app.login("admin@example.com").await;
    // Creates and audited reads in flight up to the signal.
    let mut ids = Vec::new();
    for i in 0..20 {
        let (s, c) = app
            .post(
                &admin,
                "/api/v1/contacts",
                json!({"family_name": format!("停止{i}")}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        ids.push(c["id"].as_str().unwrap().to_string());
        app.get(&admin, &format!("/api/v1/contacts/{}", ids[i]))
            .await;
    }
    // The server stops on its own, promptly and cleanly: every background task ended.
    let status = app
        .terminate(std::time::Duration::from_secs(30))
        .expect("the server did not stop within 30 s of SIGTERM");
    assert!(status.success(), "exit status {status}");
    // Started again, nothing acknowledged is missing and the audit trail holds every read.
    app.spawn();
    let admin = app.login("admin@example.com").await;
    for id in &ids {
        assert_eq!(
            app.get(&admin, &format!("/api/v1/contacts/{id}")).await.0,
            StatusCode::OK
        );
    }
    let (s, trail) = app
        .get(&admin, "/api/v1/audit?action=contact.read&limit=200")
        .await;
    assert_eq!(s, StatusCode::OK, "{trail}");
    assert!(trail["data"].as_array().unwrap().len() >= 20, "{trail}");
    let (code, out, err) = app.cli(&["audit", "verify"]);
    assert_eq!(code, 0, "{out} {err}");
});
