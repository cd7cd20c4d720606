//! Off-site backups to S3-compatible storage (moto's server on loopback, from PyPI): the
//! target configured by an administrator only (secret stored encrypted), the backup directory
//! mirrored by the job queue, a lost machine restored from what is off-site, and an
//! unreachable storage reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{App, Backend};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BUCKET: &str = "crm-backups";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// moto's S3 server on a free loopback port, stopped when dropped.
struct S3Server {
    child: Child,
    endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn s3_server() -> S3Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto's S3 server (pip install 'moto[server]')");
    let endpoint = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let until = Instant::now() + Duration::from_secs(30);
    // The bucket, as its owner would have made it.
    loop {
        if let Ok(r) = http.put(format!("{endpoint}/{BUCKET}")).send().await {
            assert!(r.status().is_success(), "{}", r.status());
            break;
        }
        assert!(Instant::now() < until, "moto's S3 server did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    S3Server { child, endpoint }
}

/// The keys in the bucket (moto answers a listing without a signature).
async fn keys(endpoint: &str) -> Vec<String> {
    let text = reqwest::get(format!("{endpoint}/{BUCKET}?list-type=2&max-keys=1000"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(str::to_string)
        .collect()
}

async fn overview_until(
    app: &App,
    s: &common::Session,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let until = Instant::now() + Duration::from_secs(90);
    loop {
        let (_, o) = app.get(s, "/api/v1/backups").await;
        if done(&o) {
            return o;
        }
        assert!(Instant::now() < until, "{what} did not happen: {o}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_go_off_site_and_a_lost_machine_is_restored_from_there() {
    let s3 = s3_server().await;
    let mut app = App::start_with(
        Backend::Sqlite,
        &[
            ("RAPPORT_BACKUP_SCHEDULED", "on"),
            ("RAPPORT_BACKUP_OFFSITE_SECS", "1"),
            ("RAPPORT_JOB_POLL_MS", "100"),
        ],
    )
    .await
    .unwrap();
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.user("rep@example.com", "sales_rep", None, None).await;
    let admin = app.login("admin@example.com").await;
    let rep = app.login("rep@example.com").await;
    let mut ids = Vec::new();
    for n in 0..12 {
        let c = app
            .created(
                &admin,
                "/api/v1/contacts",
                json!({"family_name": "孙", "given_name": format!("o{n}"), "email": format!("o{n}@example.com")}),
            )
            .await;
        ids.push(common::id(&c));
    }
    let target = json!({
        "endpoint": s3.endpoint, "bucket": BUCKET, "region": "us-east-1",
        "prefix": "rapport/prod", "access_key": "AKIAIOSFODNN7EXAMPLE", "secret_key": SECRET,
    });

    // Only an administrator sees or sets the target.
    let (code, _) = app.get(&rep, "/api/v1/settings/backup-target").await;
    assert_eq!(code, 403);
    let (code, _) = app
        .call(
            &rep,
            reqwest::Method::PUT,
            "/api/v1/settings/backup-target",
            Some(target.clone()),
        )
        .await;
    assert_eq!(code, 403);
    let (code, _) = app
        .post(&rep, "/api/v1/settings/backup-target/test", json!({}))
        .await;
    assert_eq!(code, 403);
    // Bad input names each field and stores nothing.
    let (code, body) = app
        .call(
            &admin,
            reqwest::Method::PUT,
            "/api/v1/settings/backup-target",
            Some(json!({"endpoint": "ftp://x", "bucket": "No", "access_key": "AK"})),
        )
        .await;
    assert_eq!(code, 422, "{body}");
    let text = body.to_string();
    for f in ["endpoint", "bucket", "secret_key"] {
        assert!(text.contains(f), "{f} not named: {text}");
    }
    let (_, none) = app.get(&admin, "/api/v1/settings/backup-target").await;
    assert!(none.is_null(), "{none}");
    let (code, _) = app
        .post(&admin, "/api/v1/settings/backup-target/test", json!({}))
        .await;
    assert_eq!(code, 404);

    // Set: the secret is never shown again and is stored encrypted.
    let (code, saved) = app
        .call(
            &admin,
            reqwest::Method::PUT,
            "/api/v1/settings/backup-target",
            Some(target),
        )
        .await;
    assert_eq!(code, 200, "{saved}");
    assert_eq!(saved["secret_key_set"], true);
    assert!(!saved.to_string().contains(SECRET));
    let rows = app
        .sql_rows("SELECT secret_enc FROM backup_targets WHERE id = 'default'")
        .await;
    let stored: String = rows[0].try_get("", "secret_enc").unwrap();
    assert!(!stored.contains("EXAMPLEKEY"), "{stored}");
    let (code, tested) = app
        .post(&admin, "/api/v1/settings/backup-target/test", json!({}))
        .await;
    assert_eq!(code, 200, "{tested}");

    // A backup now: it reaches the storage, the copy before its manifest.
    let (code, _) = app.post(&admin, "/api/v1/backups", json!({})).await;
    assert_eq!(code, 202);
    let o = overview_until(&app, &admin, "the off-site copy", |o| {
        o["offsite"]["last"]["generations"].as_u64() == Some(1)
    })
    .await;
    assert!(o["offsite"]["last"]["error"].is_null(), "{o}");
    let generation = o["last_success"]["id"].as_str().unwrap().to_string();
    let there = keys(&s3.endpoint).await;
    for file in ["base.rpb", "journal.rpb", "manifest.json"] {
        let key = format!("rapport/prod/{generation}/{file}");
        assert!(there.contains(&key), "{key} not in {there:?}");
    }
    let (_, audit) = app
        .get(&admin, "/api/v1/audit?action=backup.offsite_copied")
        .await;
    assert!(!audit["data"].as_array().unwrap().is_empty(), "{audit}");
    let (_, audit) = app
        .get(
            &admin,
            "/api/v1/audit?action=settings.backup_target_updated",
        )
        .await;
    assert!(!audit["data"].to_string().contains(SECRET), "{audit}");

    // The machine is lost with its backups: only the key export and the storage remain.
    app.stop();
    std::fs::remove_dir_all(app.dir.join("backups")).unwrap();
    let pulled = app.dir.join("pulled");
    let (code, out, err) = app.cli_input(
        &[
            "backup",
            "pull",
            "--to",
            pulled.to_str().unwrap(),
            "--endpoint",
            &s3.endpoint,
            "--bucket",
            BUCKET,
            "--prefix",
            "rapport/prod",
            "--access-key",
            "AKIAIOSFODNN7EXAMPLE",
        ],
        &format!("{SECRET}\n"),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&generation), "{out}");
    let restored = app.dir.join("restored");
    let (code, out, err) = app.cli(&[
        "restore",
        "--from",
        pulled.to_str().unwrap(),
        "--to",
        restored.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("every table matches the manifest"), "{out}");
    let db = sea_orm::Database::connect(format!(
        "sqlite://{}?mode=ro",
        restored.join("rapport.db").display()
    ))
    .await
    .unwrap();
    use sea_orm::ConnectionTrait;
    let rows = db
        .query_all(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            "SELECT id FROM contacts",
        ))
        .await
        .unwrap();
    let found: Vec<String> = rows.iter().map(|r| r.try_get("", "id").unwrap()).collect();
    for id in &ids {
        assert!(found.contains(id), "contact {id} not restored");
    }
    db.close().await.unwrap();
    // A wrong bucket is named, not a stack trace.
    let (code, _, err) = app.cli_input(
        &[
            "backup",
            "pull",
            "--to",
            pulled.to_str().unwrap(),
            "--endpoint",
            &s3.endpoint,
            "--bucket",
            "Bad_Bucket",
            "--access-key",
            "AK",
        ],
        "secret\n",
    );
    assert_ne!(code, 0);
    assert!(err.contains("--bucket"), "{err}");

    // The storage becomes unreachable: the page says so and administrators are told, once.
    app.spawn();
    let admin = app.login("admin@example.com").await;
    drop(s3);
    let o = overview_until(&app, &admin, "the failure report", |o| {
        o["offsite"]["last"]["error"].is_string()
    })
    .await;
    assert!(
        o["offsite"]["last"]["error"]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{o}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, notes) = app.get(&admin, "/api/v1/notifications").await;
    let failures = notes["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "backup_failed")
        .count();
    assert_eq!(failures, 1, "{notes}");
}

/// OpenSSH's server (Debian's openssh-server) on a free loopback port, with its own host key
/// and one authorised client key, serving SFTP; stopped when dropped.
struct SshServer {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
    host_key: String,
    client_key: String,
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn keygen(path: &std::path::Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen");
    assert!(ok.success());
}

async fn ssh_server() -> SshServer {
    let dir = std::env::temp_dir().join(format!("rapport-sshd-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("remote")).unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap();
    keygen(&dir.join("host_key"));
    keygen(&dir.join("client_key"));
    std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = dir.display();
    std::fs::write(
        dir.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n\
             Subsystem sftp internal-sftp\n"
        ),
    )
    .unwrap();
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(dir.join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sshd (apt-get install openssh-server)");
    let until = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "sshd did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let host_key = std::fs::read_to_string(dir.join("host_key.pub")).unwrap();
    let client_key = std::fs::read_to_string(dir.join("client_key")).unwrap();
    SshServer {
        child,
        port,
        dir,
        host_key: host_key.trim().to_string(),
        client_key,
    }
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_go_to_an_sftp_server_whose_host_key_is_pinned() {
    let ssh = ssh_server().await;
    let app = App::start_with(
        Backend::Sqlite,
        &[
            ("RAPPORT_BACKUP_SCHEDULED", "on"),
            ("RAPPORT_BACKUP_OFFSITE_SECS", "1"),
            ("RAPPORT_JOB_POLL_MS", "100"),
        ],
    )
    .await
    .unwrap();
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let admin = app.login("admin@example.com").await;
    let c = app
        .created(
            &admin,
            "/api/v1/contacts",
            json!({"family_name": "周", "given_name": "sftp"}),
        )
        .await;
    let endpoint = format!("sftp://{}@127.0.0.1:{}", user(), ssh.port);
    let remote = ssh.dir.join("remote");
    let mut target = json!({
        "kind": "sftp", "endpoint": endpoint, "prefix": remote.display().to_string(),
        "secret_key": ssh.client_key,
        // Another server's key: the connection must be refused.
        "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
    });
    // A private key that is not one is named.
    let mut bad = target.clone();
    bad["secret_key"] = json!("not a key");
    let (code, body) = app
        .call(
            &admin,
            reqwest::Method::PUT,
            "/api/v1/settings/backup-target",
            Some(bad),
        )
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(body.to_string().contains("invalid_private_key"), "{body}");
    let (code, body) = app
        .call(
            &admin,
            reqwest::Method::PUT,
            "/api/v1/settings/backup-target",
            Some(target.clone()),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert!(!body.to_string().contains("PRIVATE KEY"), "{body}");
    let (code, body) = app
        .post(&admin, "/api/v1/settings/backup-target/test", json!({}))
        .await;
    assert_eq!(code, 502, "{body}");
    let offered = ssh
        .host_key
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        body.to_string().contains(&offered),
        "the refusal shows the key the server offered: {body}"
    );
    // The right key (as ssh-keyscan prints it, host name first).
    target["host_key"] = json!(format!("[127.0.0.1]:{} {}", ssh.port, ssh.host_key));
    target.as_object_mut().unwrap().remove("secret_key");
    let (code, body) = app
        .call(
            &admin,
            reqwest::Method::PUT,
            "/api/v1/settings/backup-target",
            Some(target),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = app
        .post(&admin, "/api/v1/settings/backup-target/test", json!({}))
        .await;
    assert_eq!(code, 200, "{body}");

    let (code, _) = app.post(&admin, "/api/v1/backups", json!({})).await;
    assert_eq!(code, 202);
    let o = overview_until(&app, &admin, "the SFTP copy", |o| {
        o["offsite"]["last"]["generations"].as_u64() == Some(1)
    })
    .await;
    let generation = o["last_success"]["id"].as_str().unwrap().to_string();
    for file in ["base.rpb", "journal.rpb", "manifest.json"] {
        assert!(
            remote.join(&generation).join(file).is_file(),
            "{file} not on the server"
        );
    }
    assert!(
        std::fs::read_dir(remote.join(&generation))
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().ends_with(".part")),
        "a temporary file was left"
    );

    // Fetched back with the command line alone, and restored.
    let key_file = app.dir.join("client_key");
    std::fs::write(&key_file, &ssh.client_key).unwrap();
    let pulled = app.dir.join("pulled");
    let (code, out, err) = app.cli(&[
        "backup",
        "pull",
        "--to",
        pulled.to_str().unwrap(),
        "--kind",
        "sftp",
        "--endpoint",
        &endpoint,
        "--prefix",
        remote.to_str().unwrap(),
        "--host-key",
        &ssh.host_key,
        "--private-key",
        key_file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let restored = app.dir.join("restored");
    let (code, out, err) = app.cli(&[
        "restore",
        "--from",
        pulled.to_str().unwrap(),
        "--to",
        restored.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&generation), "{out}");
    let _ = c;
}
