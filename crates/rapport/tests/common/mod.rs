//! Test harness: starts the real `rapport` binary on 127.0.0.1:0 with a fresh database (a
//! temporary SQLite file, or a new PostgreSQL database when RAPPORT_TEST_DATABASE_URL is set)
//! and talks to it over HTTP like any client.
#![allow(dead_code)]

pub mod imports;

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct App {
    pub base: String,
    pub dir: PathBuf,
    pub database_url: String,
    pub backend: Backend,
    pg_admin: Option<(String, String)>,
    child: Option<Child>,
    pub http: Client,
    env: Vec<(String, String)>,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rapport")
}

fn pg_base() -> Option<String> {
    std::env::var("RAPPORT_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Replace the database name in a postgres URL.
pub fn with_db(url: &str, db: &str) -> String {
    let (head, tail) = match url.split_once('?') {
        Some((h, t)) => (h, format!("?{t}")),
        None => (url, String::new()),
    };
    let cut = head
        .rfind('/')
        .filter(|i| *i > "postgres://".len())
        .unwrap_or(head.len());
    format!("{}/{db}{tail}", &head[..cut])
}

async fn pg_exec(admin_url: &str, sql: &str) {
    use sea_orm::{ConnectionTrait, Database};
    let conn = Database::connect(admin_url)
        .await
        .expect("connect to PostgreSQL admin database");
    conn.execute_unprepared(sql).await.expect(sql);
    conn.close().await.ok();
}

impl App {
    pub async fn start(backend: Backend) -> Option<App> {
        Self::start_with(backend, &[]).await
    }

    /// Start a server; `None` when PostgreSQL was asked for but not configured.
    pub async fn start_with(backend: Backend, env: &[(&str, &str)]) -> Option<App> {
        let dir =
            std::env::temp_dir().join(format!("rapport-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (database_url, pg_admin) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.join("rapport.db").display()),
                None,
            ),
            Backend::Postgres => {
                let base = pg_base()?;
                let name = format!("rapport_t_{}", uuid::Uuid::new_v4().simple());
                pg_exec(&base, &format!("CREATE DATABASE {name}")).await;
                (with_db(&base, &name), Some((base, name)))
            }
        };
        let mut app = App {
            base: String::new(),
            dir,
            database_url,
            backend,
            pg_admin,
            child: None,
            http: Client::builder()
                .cookie_store(false)
                .build()
                .expect("client"),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        app.spawn();
        Some(app)
    }

    /// Set an environment variable for the server processes started from now on.
    #[allow(dead_code)]
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(bin());
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RAPPORT_DATABASE_URL", &self.database_url)
            .env("RAPPORT_DATA_DIR", &self.dir)
            .env("RAPPORT_LOG", "warn")
            .current_dir(&self.dir);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Start a server process on this app's database; returns it and its base URL.
    fn start_process(&self) -> (Child, String) {
        let mut child = self
            .command()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start rapport serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut base = None;
        for line in lines.by_ref() {
            let line = line.expect("read server output");
            if let Some(rest) = line.strip_prefix("listening on ") {
                base = Some(rest.trim().to_string());
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        (child, base.expect("server did not report its address"))
    }

    /// Start (or restart) the server process and wait until it listens.
    pub fn spawn(&mut self) {
        let (child, base) = self.start_process();
        self.base = base;
        self.child = Some(child);
    }

    /// Start a second server process on the same database (dropped: killed).
    pub fn spawn_another(&self) -> Extra {
        let (child, base) = self.start_process();
        Extra { child, base }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Ask the server to stop as an operator would (SIGTERM) and wait for it to end, at most
    /// `within`; `None` if it was still running then (it is killed).
    pub fn terminate(&mut self, within: std::time::Duration) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let sent = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let until = std::time::Instant::now() + within;
        while std::time::Instant::now() < until {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }

    /// Run a CLI command against this app's database; returns (exit code, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command().args(args).output().expect("run rapport");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }

    /// [`App::cli`] with `input` written to the command's standard input.
    pub fn cli_input(&self, args: &[&str], input: &str) -> (i32, String, String) {
        use std::io::Write;
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run rapport");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("wait for rapport");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }

    /// Create a user through the documented CLI and return their id.
    pub async fn user(
        &self,
        email: &str,
        role: &str,
        department: Option<&str>,
        manager: Option<&str>,
    ) -> String {
        let mut args = vec![
            "user",
            "create",
            "--email",
            email,
            "--password",
            PASSWORD,
            "--role",
            role,
        ];
        if let Some(d) = department {
            args.extend(["--department", d]);
        }
        if let Some(m) = manager {
            args.extend(["--manager", m]);
        }
        let (code, out, err) = self.cli(&args);
        assert_eq!(code, 0, "user create failed: {out} {err}");
        out.split("with id ")
            .nth(1)
            .expect("id in output")
            .trim()
            .to_string()
    }

    pub async fn login(&self, email: &str) -> Session {
        let res = self
            .post_anon(
                "/api/v1/auth/login",
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.0, StatusCode::OK, "login failed: {}", res.1);
        Session {
            token: res.1["token"].as_str().expect("token").to_string(),
        }
    }

    pub async fn post_anon(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn call(
        &self,
        s: &Session,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&s.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, s: &Session, path: &str) -> (StatusCode, Value) {
        self.call(s, Method::GET, path, None).await
    }
    pub async fn post(&self, s: &Session, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(s, Method::POST, path, Some(body)).await
    }
    /// POST that must answer 201 Created; returns the new record.
    #[allow(dead_code)]
    pub async fn created(&self, s: &Session, path: &str, body: Value) -> Value {
        let (st, v) = self.post(s, path, body).await;
        assert_eq!(st, StatusCode::CREATED, "{path}: {v}");
        v
    }
    pub async fn patch(&self, s: &Session, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(s, Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, s: &Session, path: &str) -> (StatusCode, Value) {
        self.call(s, Method::DELETE, path, None).await
    }

    /// `PUT /api/v1/roles/{key}` as `admin`, which must succeed.
    #[allow(dead_code)]
    pub async fn update_role(&self, admin: &Session, key: &str, body: Value) {
        let (st, answer) = self
            .call(
                admin,
                Method::PUT,
                &format!("/api/v1/roles/{key}"),
                Some(body),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{answer}");
    }

    /// Give role `key` the field rule `rule` (hidden, read_only) on `object`'s `field`, keeping
    /// its other rules.
    #[allow(dead_code)]
    pub async fn set_field_rule(
        &self,
        admin: &Session,
        key: &str,
        object: &str,
        field: &str,
        rule: &str,
    ) {
        let (_, roles) = self.get(admin, "/api/v1/roles").await;
        let role = roles["data"]
            .as_array()
            .expect("roles")
            .iter()
            .find(|r| r["key"] == key)
            .expect("the role")
            .clone();
        let mut rules = role["grants"]["field_rules"].clone();
        rules[object][field] = Value::from(rule);
        self.update_role(admin, key, serde_json::json!({"field_rules": rules}))
            .await;
    }

    /// Run SQL directly against the database (tests that tamper with it).
    pub async fn sql(&self, sql: &str) {
        use sea_orm::{ConnectionTrait, Database};
        let conn = Database::connect(&self.database_url)
            .await
            .expect("connect");
        conn.execute_unprepared(sql).await.expect(sql);
        conn.close().await.ok();
    }

    pub async fn sql_rows(&self, sql: &str) -> Vec<sea_orm::QueryResult> {
        use sea_orm::{ConnectionTrait, Database, Statement};
        let conn = Database::connect(&self.database_url)
            .await
            .expect("connect");
        let backend = conn.get_database_backend();
        let rows = conn
            .query_all(Statement::from_string(backend, sql))
            .await
            .expect(sql);
        conn.close().await.ok();
        rows
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin, name)) = self.pg_admin.take() {
            // Best effort: drop the per-test database.
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(async {
                        use sea_orm::{ConnectionTrait, Database};
                        if let Ok(c) = Database::connect(&admin).await {
                            let _ = c
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                ))
                                .await;
                            let _ = c.close().await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// Run a Python snippet with arguments and read the JSON it prints (the packages it uses are
/// installed by scripts/test-deps.sh).
pub fn python(script: &str, args: &[&str]) -> Value {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 (run scripts/test-deps.sh)");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

/// A real SMTP server (aiosmtpd) on a free loopback port, keeping what it receives in a
/// Maildir; stopped when dropped.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let maildir =
            std::env::temp_dir().join(format!("rapport-mail-{}", uuid::Uuid::new_v4().simple()));
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start aiosmtpd (run scripts/test-deps.sh)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "aiosmtpd did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        SmtpServer {
            child,
            port,
            maildir,
        }
    }

    /// Every message received so far, decoded by Python's email package.
    pub fn messages(&self) -> Vec<Value> {
        const READ: &str = r#"
import json, mailbox, sys
from email import policy
from email.parser import BytesParser
out = []
if __import__("os").path.isdir(sys.argv[1]):
    for key, m in mailbox.Maildir(sys.argv[1], factory=None).items():
        msg = BytesParser(policy=policy.default).parsebytes(m.as_bytes())
        out.append({"to": str(msg["To"]), "from": str(msg["From"]), "subject": str(msg["Subject"]),
                    "reply_to": str(msg["Reply-To"] or ""), "body": msg.get_body(("plain",)).get_content()})
print(json.dumps(out, ensure_ascii=False))
"#;
        python(READ, &[self.maildir.to_str().expect("utf-8 path")])
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Wait until `n` messages arrived (or 20 s passed) and return them.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let m = self.messages();
            if m.len() >= n || std::time::Instant::now() > deadline {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

/// Another server process; killed when dropped.
pub struct Extra {
    child: Child,
    /// Where the second process listens.
    #[allow(dead_code)]
    pub base: String,
}

impl Drop for Extra {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
}

/// Run the same story on SQLite and (when configured) PostgreSQL.
#[macro_export]
macro_rules! story {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: common::App) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = common::App::start(common::Backend::Sqlite).await.expect("sqlite app");
                run(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match common::App::start(common::Backend::Postgres).await {
                    Some(app) => run(app).await,
                    None => eprintln!("RAPPORT_TEST_DATABASE_URL not set: PostgreSQL run skipped"),
                }
            }
        }
    };
}

/// The `id` of a record as the API returns it.
#[allow(dead_code)]
/// Percent-encode a query parameter (a filter's JSON, a search term).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}
