//! Backups proven by restoring them (SQLite): a continuous backup under a minute of writes,
//! the server killed, restored to its last point and to a point in the middle; a damaged
//! backup reported by the restore drill, not restored; keys carried to a new machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Utc};
use common::{App, Backend};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the load runs (the issue asks for a minute).
const LOAD: Duration = Duration::from_secs(60);

#[allow(clippy::disallowed_methods)]
fn now() -> DateTime<Utc> {
    Utc::now()
}

/// A create as the client saw it: sent, then acknowledged (the commit lies between).
#[derive(Clone)]
struct Write {
    id: String,
    sent: DateTime<Utc>,
    acked: DateTime<Utc>,
}

async fn ids_in(db_file: &Path) -> HashSet<String> {
    let db = Database::connect(format!("sqlite://{}?mode=ro", db_file.display()))
        .await
        .unwrap();
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM contacts",
        ))
        .await
        .unwrap();
    db.close().await.ok();
    rows.iter()
        .map(|r| r.try_get::<String>("", "id").unwrap())
        .collect()
}

/// The restore point a `rapport restore` printed.
fn point(out: &str) -> DateTime<Utc> {
    let t = out
        .split(" to ")
        .nth(1)
        .and_then(|r| r.split(" into ").next())
        .unwrap_or_else(|| panic!("no restore point in {out}"));
    DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc)
}

/// Every write acknowledged before `p` is in `ids`; none sent after it is.
fn holds_exactly_to(writes: &[Write], ids: &HashSet<String>, p: DateTime<Utc>, what: &str) {
    let (mut before, mut after) = (0, 0);
    for w in writes {
        if w.acked <= p {
            before += 1;
            assert!(
                ids.contains(&w.id),
                "{what}: write acknowledged {} before the point {p} is missing",
                w.acked
            );
        }
        if w.sent >= p {
            after += 1;
            assert!(
                !ids.contains(&w.id),
                "{what}: write sent {} after the point {p} is present",
                w.sent
            );
        }
    }
    assert!(
        before > 50 && after > 0 || what == "last point",
        "{what}: {before} before, {after} after"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn continuous_backup_restores_every_acknowledged_write_to_any_point() {
    let app = App::start_with(Backend::Sqlite, &[("RAPPORT_BACKUP_CONTINUOUS", "on")])
        .await
        .unwrap();
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let admin = app.login("admin@example.com").await;
    let app = Arc::new(app);
    let writes = Arc::new(Mutex::new(Vec::<Write>::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let (app, writes, token) = (app.clone(), writes.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while started.elapsed() < LOAD {
                n += 1;
                let sent = now();
                let (status, v) = app
                    .post(
                        &token,
                        "/api/v1/contacts",
                        json!({"family_name": "王", "given_name": format!("w{worker}-{n}")}),
                    )
                    .await;
                let acked = now();
                assert_eq!(status, reqwest::StatusCode::CREATED, "{v}");
                writes.lock().unwrap().push(Write {
                    id: common::id(&v),
                    sent,
                    acked,
                });
            }
        }));
    }
    // A stand-alone copy taken by the command line while the server writes.
    tokio::time::sleep(LOAD / 3).await;
    let app2 = app.clone();
    let (code, out, err) = tokio::task::spawn_blocking(move || app2.cli(&["backup"]))
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    let middle = now() + chrono::Duration::from_std(LOAD / 6).unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let mut app = Arc::into_inner(app).expect("the writers are done");
    let killed = now();
    app.stop();
    let writes = writes.lock().unwrap().clone();
    assert!(
        writes.len() > 500,
        "only {} writes in a minute",
        writes.len()
    );

    let (code, out, err) = app.cli(&["backup", "list"]);
    assert_eq!(code, 0, "{out}{err}");
    // One continuous generation held the whole minute (no break in its chain), beside the
    // command line's stand-alone copy.
    assert_eq!(out.matches("\tcomplete").count(), 2, "{out}");

    // The last point: a second or so behind the kill (5 s allowed for a loaded CI machine:
    // what is checked exactly is that it holds every write acknowledged before it).
    let last = app.dir.join("restored-last");
    let (code, out, err) = app.cli(&["restore", "--to", last.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("audit chain intact"), "{err}");
    let p = point(&out);
    assert!(
        killed - p < chrono::Duration::seconds(5),
        "restored to {p}, killed at {killed}"
    );
    holds_exactly_to(
        &writes,
        &ids_in(&last.join("rapport.db")).await,
        p,
        "last point",
    );

    // A point in the middle, between two writes.
    let mid = app.dir.join("restored-middle");
    let (code, out, err) = app.cli(&[
        "restore",
        "--to",
        mid.to_str().unwrap(),
        "--at",
        &middle.to_rfc3339(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let p = point(&out);
    let segments: u64 = out
        .split(" WAL segments")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no segment count in {out}"));
    assert!(
        segments > 10,
        "the middle was reached without the WAL segments: {out}"
    );
    assert!(
        p <= middle && middle - p < chrono::Duration::seconds(5),
        "asked {middle}, got {p}"
    );
    holds_exactly_to(&writes, &ids_in(&mid.join("rapport.db")).await, p, "middle");

    // A restore never goes over a database.
    let (code, _, err) = app.cli(&["restore", "--to", mid.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");
}

/// The arguments of `rapport restore` into a new, empty place for `app`'s backend.
async fn empty_target(app: &App) -> (Vec<String>, Box<dyn Fn() -> bool>) {
    match app.backend {
        Backend::Sqlite => {
            let dir = app
                .dir
                .join(format!("restored-{}", uuid::Uuid::new_v4().simple()));
            let file = dir.join("rapport.db");
            (
                vec!["--to".into(), dir.display().to_string()],
                Box::new(move || file.exists()),
            )
        }
        Backend::Postgres => {
            let name = format!("rapport_r_{}", uuid::Uuid::new_v4().simple());
            app.sql(&format!("CREATE DATABASE {name}")).await;
            let url = common::with_db(&app.database_url, &name);
            (vec!["--to-database".into(), url], Box::new(|| true))
        }
    }
}

story!(
    a_damaged_backup_fails_its_drill_and_is_not_restored,
    |app| {
        app.user("admin@example.com", "administrator", None, None)
            .await;
        let admin = app.login("admin@example.com").await;
        for n in 0..30 {
            app.created(
            &admin,
            "/api/v1/contacts",
            json!({"family_name": "李", "given_name": format!("d{n}"), "email": format!("d{n}@example.com")}),
        )
        .await;
        }
        let (code, out, err) = app.cli(&["backup"]);
        assert_eq!(code, 0, "{out}{err}");
        let (code, out, err) = app.cli(&["backup", "verify"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("every table matches the manifest"), "{out}");

        // One flipped byte in the middle of the copy.
        let generation = std::fs::read_dir(app.dir.join("backups"))
            .unwrap()
            .flatten()
            .find(|e| e.path().join("manifest.json").exists())
            .unwrap()
            .path();
        let base = generation.join("base.rpb");
        let mut bytes = std::fs::read(&base).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        std::fs::write(&base, &bytes).unwrap();

        let (code, out, err) = app.cli(&["backup", "verify"]);
        assert_eq!(code, 1, "{out}{err}");
        assert!(err.contains("damaged"), "{err}");
        let target = app.dir.join("restored");
        let (code, _, err) = app.cli(&["restore", "--to", target.to_str().unwrap()]);
        assert_ne!(code, 0);
        assert!(err.contains("damaged"), "{err}");
        assert!(
            !target.join("rapport.db").exists(),
            "a damaged backup was restored"
        );

        // Repaired, it restores, and every table matches the manifest.
        bytes[at] ^= 0x01;
        std::fs::write(&base, &bytes).unwrap();
        let (target, _) = empty_target(&app).await;
        let mut args = vec!["restore"];
        args.extend(target.iter().map(String::as_str));
        let (code, out, err) = app.cli(&args);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("every table matches the manifest"), "{out}");
        assert!(err.contains("audit chain intact"), "{err}");

        // A changed manifest (a row count edited) is caught by its signature.
        let manifest = generation.join("manifest.json");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let edited = text.replacen("\"rows\": 30", "\"rows\": 31", 1);
        assert_ne!(text, edited, "no table with 30 rows in {text}");
        std::fs::write(&manifest, edited).unwrap();
        let (code, _, err) = app.cli(&["backup", "verify"]);
        assert_eq!(code, 1);
        assert!(err.contains("changed after it was written"), "{err}");

        // Each drill is in the audit trail with its result.
        let (_, audit) = app.get(&admin, "/api/v1/audit?action=backup.drill").await;
        let results: Vec<String> = audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["details"]["result"].as_str().unwrap_or("?").to_string())
            .collect();
        assert_eq!(
            results.iter().filter(|r| *r == "passed").count(),
            1,
            "{audit}"
        );
        assert_eq!(
            results.iter().filter(|r| *r == "failed").count(),
            2,
            "{audit}"
        );
        // Without the right, the audit trail (and its drill records) cannot be read.
        app.user("rep@example.com", "sales_rep", None, None).await;
        let rep = app.login("rep@example.com").await;
        assert_eq!(
            app.get(&rep, "/api/v1/audit?action=backup.drill").await.0,
            reqwest::StatusCode::FORBIDDEN
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_exported_with_a_password_restore_a_backup_on_a_new_machine() {
    let app = App::start(Backend::Sqlite).await.unwrap();
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let admin = app.login("admin@example.com").await;
    let c = app
        .created(
            &admin,
            "/api/v1/contacts",
            json!({"family_name": "赵", "given_name": "敏", "mobile": "+8613975425313"}),
        )
        .await;
    let (code, out, err) = app.cli(&["backup"]);
    assert_eq!(code, 0, "{out}{err}");
    let export = app.dir.join("keys.export");
    let (code, out, err) = app.cli_input(
        &["keys", "export", "--out", export.to_str().unwrap()],
        "a long export password\n",
    );
    assert_eq!(code, 0, "{out}{err}");

    // The new machine: an empty data directory and no key file.
    let new = app.dir.join("new-machine");
    std::fs::create_dir_all(&new).unwrap();
    let on_new = |args: &[&str], input: &str| {
        use std::io::Write;
        let mut cmd = app.command();
        cmd.env("RAPPORT_DATA_DIR", &new)
            .env(
                "RAPPORT_DATABASE_URL",
                format!("sqlite://{}", new.join("rapport.db").display()),
            )
            .env("RAPPORT_BACKUP_DIR", app.dir.join("backups"))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, _, err) = on_new(&["restore", "--to", new.to_str().unwrap()], "");
    assert_ne!(code, 0, "restored without the keys");
    assert!(!new.join("rapport.db").exists());
    let _ = err;
    let (code, _, err) = on_new(
        &["keys", "import", export.to_str().unwrap()],
        "the wrong password\n",
    );
    assert_ne!(code, 0);
    assert!(err.contains("password"), "{err}");
    let (code, out, err) = on_new(
        &["keys", "import", export.to_str().unwrap()],
        "a long export password\n",
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = on_new(&["restore", "--to", new.to_str().unwrap()], "");
    assert_eq!(code, 0, "{out}{err}");
    // The restored database reads with the imported keys: the contact's phone decrypts.
    let (code, out, err) = on_new(&["keys", "status"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("do not decrypt"), "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("k1\tactive") && !l.ends_with("\t0 values")),
        "{out}"
    );
    assert!(ids_in(&new.join("rapport.db"))
        .await
        .contains(&common::id(&c)));
}

/// The audit entries of restore drills, oldest first: their results.
async fn drill_results(app: &App, admin: &common::Session) -> Vec<String> {
    let (_, audit) = app.get(admin, "/api/v1/audit?action=backup.drill").await;
    let mut r: Vec<String> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["details"]["result"].as_str().unwrap_or("?").to_string())
        .collect();
    r.reverse();
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_drills_record_their_result_and_a_failure_alerts_administrators() {
    let app = App::start_with(
        Backend::Sqlite,
        &[
            ("RAPPORT_BACKUP_CONTINUOUS", "on"),
            ("RAPPORT_BACKUP_DRILL_SECS", "2"),
            ("RAPPORT_JOB_POLL_MS", "100"),
            ("RAPPORT_METRICS", "open"),
        ],
    )
    .await
    .unwrap();
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let admin = app.login("admin@example.com").await;
    app.created(
        &admin,
        "/api/v1/contacts",
        json!({"family_name": "周", "given_name": "一"}),
    )
    .await;

    let until = Instant::now() + Duration::from_secs(60);
    while !drill_results(&app, &admin)
        .await
        .iter()
        .any(|r| r == "passed")
    {
        assert!(Instant::now() < until, "no drill passed within a minute");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The result is kept beside the backup it drilled.
    let generation = std::fs::read_dir(app.dir.join("backups"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("drill.json").exists())
        .expect("a drill.json beside a backup");

    // The metrics show the continuous backup and how far behind it is.
    let text = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("rapport_backup_continuous 1"), "{text}");
    let age: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("rapport_backup_age_seconds "))
        .expect("backup age in the metrics")
        .parse()
        .unwrap();
    assert!((0.0..10.0).contains(&age), "backup {age} s behind");

    app.user("rep@example.com", "sales_rep", None, None).await;
    let rep = app.login("rep@example.com").await;

    // A damaged copy: the next drill fails and every administrator hears of it.
    let base = generation.join("base.rpb");
    let mut bytes = std::fs::read(&base).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x40;
    std::fs::write(&base, &bytes).unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    while !drill_results(&app, &admin)
        .await
        .iter()
        .any(|r| r == "failed")
    {
        assert!(
            Instant::now() < until,
            "the damaged backup's drill did not fail: {:?}\n{}",
            drill_results(&app, &admin).await,
            app.cli(&["backup", "list"]).1
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (_, notes) = app.get(&admin, "/api/v1/notifications").await;
    let failed = notes["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "backup_failed")
        .unwrap_or_else(|| panic!("no backup_failed notification: {notes}"));
    assert!(
        failed["subject"].as_str().unwrap().contains("damaged"),
        "{failed}"
    );
    // A user who is not an administrator is not told.
    let (_, notes) = app.get(&rep, "/api/v1/notifications").await;
    assert!(
        !notes["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "backup_failed"),
        "{notes}"
    );
}

/// The backup page's contents, as the API gives them.
async fn overview(app: &App, s: &common::Session) -> serde_json::Value {
    let (code, o) = app.get(s, "/api/v1/backups").await;
    assert_eq!(code, 200, "{o}");
    o
}

/// Polls the overview until `done` holds (a job runs within seconds).
async fn overview_until(
    app: &App,
    s: &common::Session,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let until = Instant::now() + Duration::from_secs(90);
    loop {
        let o = overview(app, s).await;
        if done(&o) {
            return o;
        }
        assert!(Instant::now() < until, "{what} did not happen: {o}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn audit_actions(app: &App, admin: &common::Session, action: &str) -> Vec<serde_json::Value> {
    let (_, audit) = app
        .get(admin, &format!("/api/v1/audit?action={action}"))
        .await;
    audit["data"].as_array().unwrap().clone()
}

/// Scheduled backups from the job queue, the backup page's API, a backup and a drill started
/// by hand, a failed backup reported, and the page and its actions refused to others.
async fn scheduled_backups_and_the_backup_page(backend: Backend) {
    let Some(app) = App::start_with(
        backend,
        &[
            ("RAPPORT_BACKUP_SCHEDULED", "on"),
            ("RAPPORT_BACKUP_FULL_HOURS", "6"),
            ("RAPPORT_JOB_POLL_MS", "100"),
        ],
    )
    .await
    else {
        eprintln!("RAPPORT_TEST_DATABASE_URL not set: PostgreSQL run skipped");
        return;
    };
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.user("rep@example.com", "sales_rep", None, None).await;
    let admin = app.login("admin@example.com").await;
    let rep = app.login("rep@example.com").await;
    for n in 0..5 {
        app.created(
            &admin,
            "/api/v1/contacts",
            json!({"family_name": "钱", "given_name": format!("b{n}")}),
        )
        .await;
    }

    // Someone who is not an administrator sees nothing and starts nothing.
    for (method, path) in [
        ("GET", "/api/v1/backups"),
        ("POST", "/api/v1/backups"),
        ("POST", "/api/v1/backups/drills"),
    ] {
        let (code, body) = if method == "GET" {
            app.get(&rep, path).await
        } else {
            app.post(&rep, path, json!({})).await
        };
        assert_eq!(code, 403, "{method} {path}: {body}");
    }
    assert!(audit_actions(&app, &admin, "backup.requested")
        .await
        .is_empty());

    // The schedule: the next copy is queued at the next 6-hour slot.
    let o = overview(&app, &admin).await;
    assert_eq!(o["mode"], "scheduled", "{o}");
    assert_eq!(
        o["backend"],
        match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    );
    assert!(
        o["last_success"].is_null() && o["generations"] == json!([]),
        "{o}"
    );
    assert_eq!(o["target"]["writable"], true, "{o}");
    assert!(o["target"]["free_bytes"].as_u64().unwrap() > 0, "{o}");
    let next: DateTime<Utc> = serde_json::from_value(o["next_backup"].clone()).unwrap();
    assert!(
        next > now() && next <= now() + chrono::Duration::hours(6),
        "{o}"
    );
    assert_eq!(next.timestamp() % (6 * 3600), 0, "not on a slot: {next}");
    assert_eq!(
        o["retention"],
        json!({"daily": 7, "weekly": 4, "monthly": 12})
    );

    // An administrator backs up now: the job copies, and the page shows it.
    let (code, body) = app.post(&admin, "/api/v1/backups", json!({})).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["queued"], true);
    let o = overview_until(&app, &admin, "the backup", |o| {
        o["last_run"]["generation"].is_string()
    })
    .await;
    assert!(o["last_run"]["error"].is_null(), "{o}");
    assert_eq!(o["last_run"]["trigger"], "manual");
    assert!(o["last_run"]["bytes"].as_u64().unwrap() > 0, "{o}");
    assert_eq!(o["last_success"]["id"], o["last_run"]["generation"], "{o}");
    assert_eq!(o["generations"].as_array().unwrap().len(), 1, "{o}");
    let requested = audit_actions(&app, &admin, "backup.requested").await;
    assert_eq!(requested.len(), 1, "{requested:?}");
    assert_eq!(requested[0]["actor_id"], admin_id(&app, &admin).await);
    let created = audit_actions(&app, &admin, "backup.created").await;
    assert_eq!(created[0]["details"]["trigger"], "manual", "{created:?}");

    // A restore drill by hand restores that copy and checks it.
    let (code, body) = app.post(&admin, "/api/v1/backups/drills", json!({})).await;
    assert_eq!(code, 202, "{body}");
    let o = overview_until(&app, &admin, "the drill", |o| o["last_drill"].is_object()).await;
    assert_eq!(o["last_drill"]["passed"], true, "{o}");
    assert_eq!(o["generations"][0]["drill"], true, "{o}");
    assert_eq!(
        audit_actions(&app, &admin, "backup.drill_requested")
            .await
            .len(),
        1
    );

    // A backup that cannot be written (the directory is now a file) is reported: on the
    // page, in the audit trail, and to every administrator.
    let dir = app.dir.join("backups");
    let kept = app.dir.join("backups-kept");
    std::fs::rename(&dir, &kept).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
    let (code, _) = app.post(&admin, "/api/v1/backups", json!({})).await;
    assert_eq!(code, 202);
    let until = Instant::now() + Duration::from_secs(90);
    while audit_actions(&app, &admin, "backup.failed")
        .await
        .is_empty()
    {
        assert!(Instant::now() < until, "the failed backup was not recorded");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let o = overview(&app, &admin).await;
    assert_eq!(o["target"]["writable"], false, "{o}");
    assert!(o["target"]["problem"].is_string(), "{o}");
    let (_, notes) = app.get(&admin, "/api/v1/notifications").await;
    assert!(
        notes["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "backup_failed"),
        "{notes}"
    );
    let (_, notes) = app.get(&rep, "/api/v1/notifications").await;
    assert!(
        !notes["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "backup_failed"),
        "{notes}"
    );
    std::fs::remove_file(&dir).unwrap();
    std::fs::rename(&kept, &dir).unwrap();
    let o = overview(&app, &admin).await;
    assert!(o["target"]["problem"].is_null(), "{o}");
    assert_eq!(o["generations"].as_array().unwrap().len(), 1, "{o}");
}

async fn admin_id(app: &App, admin: &common::Session) -> serde_json::Value {
    let (_, me) = app.get(admin, "/api/v1/me").await;
    me["user"]["id"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_and_the_backup_page_on_sqlite() {
    scheduled_backups_and_the_backup_page(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_and_the_backup_page_on_postgres() {
    scheduled_backups_and_the_backup_page(Backend::Postgres).await;
}
