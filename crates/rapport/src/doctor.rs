//! `rapport doctor`: checks what a running Rapport depends on and prints, for each problem,
//! what to do about it. It changes nothing: no database, key file or directory is created and
//! no migration is applied. Exit status 1 when something must be fixed before Rapport can run
//! safely, 0 otherwise (warnings included).

use crate::config::Config;
use crate::{keys, serve};
use rapport_core::Clock;
use rapport_services::crypto::KeyFile;
use rapport_services::Db;
use sea_orm::{ConnectionTrait, Statement};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Default)]
struct Report {
    failed: bool,
}

impl Report {
    fn say(&mut self, level: Level, what: &str, message: String, fix: Option<String>) {
        let tag = match level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => {
                self.failed = true;
                "FAIL"
            }
        };
        match fix {
            Some(fix) => println!("{tag}  {what}: {message} — fix: {fix}"),
            None => println!("{tag}  {what}: {message}"),
        }
    }
}

/// Run every check; `Ok(false)` when one failed.
pub async fn run(cfg: &Config) -> anyhow::Result<bool> {
    let mut r = Report::default();
    configuration(cfg, &mut r);
    let db = database(cfg, &mut r).await;
    key_file(cfg, db.as_ref(), &mut r).await;
    if let Some(db) = &db {
        clock(db, &mut r).await;
    }
    disk(cfg, &mut r);
    backups(cfg, &mut r);
    anchors(cfg, &mut r);
    if let Some(db) = db {
        db.close().await;
    }
    Ok(!r.failed)
}

fn configuration(cfg: &Config, r: &mut Report) {
    match cfg.listen.parse::<std::net::SocketAddr>() {
        Ok(_) => r.say(Level::Ok, "listen", cfg.listen.clone(), None),
        Err(_) => r.say(
            Level::Fail,
            "listen",
            format!("{} is not an address and port", cfg.listen),
            Some("set RAPPORT_LISTEN to e.g. 127.0.0.1:8080".into()),
        ),
    }
    writable_dir(r, "data directory", &cfg.data_dir);
    match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => match serve::tls_config(cert, key) {
            Ok(_) => r.say(
                Level::Ok,
                "TLS",
                format!("{} and its key load and match", cert.display()),
                None,
            ),
            Err(e) => r.say(
                Level::Fail,
                "TLS",
                format!("{e:#}"),
                Some(
                    "point RAPPORT_TLS_CERT and RAPPORT_TLS_KEY at a PEM chain and its key".into(),
                ),
            ),
        },
        _ => r.say(
            Level::Warn,
            "TLS",
            "not configured: serve behind a proxy that terminates TLS, or set RAPPORT_TLS_CERT \
             and RAPPORT_TLS_KEY"
                .into(),
            None,
        ),
    }
}

/// Whether a file can be written in `dir` (written and removed at once); a directory that
/// does not exist yet is made by `rapport serve`.
fn writable_dir(r: &mut Report, what: &str, dir: &Path) {
    if !dir.is_dir() {
        r.say(
            Level::Warn,
            what,
            format!(
                "{} does not exist yet: it is created when Rapport first starts",
                dir.display()
            ),
            None,
        );
        return;
    }
    let probe = dir.join(format!(".rapport-doctor-{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            r.say(
                Level::Ok,
                what,
                format!("{} is writable", dir.display()),
                None,
            );
        }
        Err(e) => r.say(
            Level::Fail,
            what,
            format!("cannot write in {}: {e}", dir.display()),
            Some(format!(
                "give the user running Rapport write access to {}",
                dir.display()
            )),
        ),
    }
}

/// The SQLite file a `sqlite:` URL names, if it is one.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

async fn database(cfg: &Config, r: &mut Report) -> Option<Db> {
    if let Some(path) = sqlite_path(&cfg.database_url) {
        if !path.exists() {
            r.say(
                Level::Warn,
                "database",
                format!(
                    "no database at {} yet: it is created when Rapport first starts",
                    path.display()
                ),
                None,
            );
            return None;
        }
    }
    // A server that does not answer is reported, not waited for.
    let connect = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        Db::connect(&cfg.database_url),
    )
    .await
    .unwrap_or_else(|_| {
        Err(rapport_core::DomainError::Internal(
            "no answer within 5 s".into(),
        ))
    });
    let db = match connect {
        Ok(db) => db,
        Err(e) => {
            r.say(
                Level::Fail,
                "database",
                format!("cannot connect: {e}"),
                Some(
                    "check RAPPORT_DATABASE_URL, that the database server runs and that the \
                     user may log in"
                        .into(),
                ),
            );
            return None;
        }
    };
    match rapport_db::migrate::pending(&db).await {
        Ok(pending) if pending.is_empty() => r.say(
            Level::Ok,
            "database",
            format!(
                "reachable; all {} migrations applied",
                rapport_db::migrate::known()
            ),
            None,
        ),
        Ok(pending) => r.say(
            Level::Warn,
            "database",
            format!(
                "{} migrations not applied yet ({}): `rapport serve` and `rapport migrate` \
                 apply them when they start",
                pending.len(),
                pending
                    .iter()
                    .map(|(v, name)| format!("{v} {name}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
        ),
        Err(e) => r.say(
            Level::Fail,
            "database",
            format!("cannot read the applied migrations: {e}"),
            None,
        ),
    }
    Some(db)
}

async fn key_file(cfg: &Config, db: Option<&Db>, r: &mut Report) {
    if cfg.master_key.is_some() {
        r.say(
            Level::Ok,
            "keys",
            "from RAPPORT_MASTER_KEY (no key file)".into(),
            None,
        );
        return;
    }
    let path = &cfg.key_file;
    if !path.exists() {
        let initialised = match db {
            Some(db) => keys::database_initialised(db).await,
            None => false,
        };
        if initialised {
            r.say(
                Level::Fail,
                "key file",
                format!(
                    "{} is missing and the database holds encrypted data",
                    path.display()
                ),
                Some("restore the key file from its backup (or set RAPPORT_KEY_FILE)".into()),
            );
        } else {
            r.say(
                Level::Warn,
                "key file",
                format!(
                    "{} does not exist yet: it is created when Rapport first starts; back it up \
                     apart from the database",
                    path.display()
                ),
                None,
            );
        }
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                r.say(
                    Level::Fail,
                    "key file",
                    format!("{} can be read by others (mode {mode:o})", path.display()),
                    Some(format!("chmod 600 {}", path.display())),
                );
                return;
            }
        }
    }
    match KeyFile::load(path).and_then(|f| f.keyring()) {
        Ok(_) => r.say(
            Level::Ok,
            "key file",
            format!("{} loads and only its owner can read it", path.display()),
            None,
        ),
        Err(e) => r.say(
            Level::Fail,
            "key file",
            format!("{} does not load: {e}", path.display()),
            Some("restore the key file from its backup".into()),
        ),
    }
}

/// The database server's clock against this machine's (PostgreSQL: sessions, jobs and
/// anchors compare times written by several servers).
async fn clock(db: &Db, r: &mut Report) {
    if db.is_sqlite() {
        r.say(
            Level::Ok,
            "clock",
            "SQLite uses this machine's clock".into(),
            None,
        );
        return;
    }
    // This machine's clock is exactly what is being checked.
    let clock = rapport_core::SystemClock;
    let before = clock.now();
    let row = db
        .reader()
        .query_one(Statement::from_string(
            db.backend(),
            "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) AS ms",
        ))
        .await;
    let after = clock.now();
    let Ok(Some(row)) = row else {
        r.say(
            Level::Warn,
            "clock",
            "could not read the database server's time".into(),
            None,
        );
        return;
    };
    let Ok(ms) = row.try_get::<i64>("", "ms") else {
        return;
    };
    let here = (before.timestamp_millis() + after.timestamp_millis()) / 2;
    let skew = (ms - here).abs();
    if skew <= 2_000 {
        r.say(
            Level::Ok,
            "clock",
            format!("within {skew} ms of the database server's"),
            None,
        );
    } else {
        r.say(
            Level::Warn,
            "clock",
            format!("{:.1} s off the database server's", skew as f64 / 1000.0),
            Some("keep the clocks in step (chrony or systemd-timesyncd)".into()),
        );
    }
}

/// Free space where the data lives, against the SQLite database's size: a consistent copy
/// (a backup, `VACUUM`) needs as much again.
fn disk(cfg: &Config, r: &mut Report) {
    let Ok(st) = rustix::fs::statvfs(&cfg.data_dir) else {
        r.say(
            Level::Warn,
            "disk",
            format!("cannot read the free space of {}", cfg.data_dir.display()),
            None,
        );
        return;
    };
    let free = st.f_bavail.saturating_mul(st.f_frsize);
    let db_size: u64 = sqlite_path(&cfg.database_url)
        .map(|p| {
            ["", "-wal"]
                .iter()
                .filter_map(|suffix| {
                    let mut name = p.clone().into_os_string();
                    name.push(suffix);
                    std::fs::metadata(PathBuf::from(name)).ok().map(|m| m.len())
                })
                .sum()
        })
        .unwrap_or(0);
    const GIB: u64 = 1 << 30;
    let gib = |b: u64| b as f64 / GIB as f64;
    let message = format!(
        "{:.1} GiB free in {}{}",
        gib(free),
        cfg.data_dir.display(),
        if db_size > 0 {
            format!(", the database takes {:.2} GiB", gib(db_size))
        } else {
            String::new()
        }
    );
    let fix = Some("free space or move the data directory to a larger disk".to_string());
    if free < 200 << 20 {
        r.say(Level::Fail, "disk", message, fix);
    } else if free < GIB.max(2 * db_size) {
        r.say(Level::Warn, "disk", message, fix);
    } else {
        r.say(Level::Ok, "disk", message, None);
    }
}

/// The newest backup: there is one, it is recent, its last drill did not fail, and it is not
/// on the disk the database is on.
fn backups(cfg: &Config, r: &mut Report) {
    use rapport_services::backup::repo::{drill_passed, Repo};
    let repo = Repo::new(&cfg.backup_dir);
    let newest = repo
        .generations()
        .ok()
        .and_then(|all| all.into_iter().rev().find(|g| g.manifest.is_some()));
    let Some(g) = newest else {
        r.say(
            Level::Warn,
            "backups",
            format!("no backup in {}", cfg.backup_dir.display()),
            Some(
                "run `rapport backup` regularly or set RAPPORT_BACKUP_CONTINUOUS=on, and keep \
                 `rapport keys export` apart from the backups"
                    .into(),
            ),
        );
        return;
    };
    let last = g.last_point().map(|p| p.to_rfc3339()).unwrap_or_default();
    let message = format!("newest backup {} restores to {last}", g.id);
    if drill_passed(&g) == Some(false) {
        r.say(
            Level::Fail,
            "backups",
            format!("{message}; its last restore drill failed"),
            Some("run `rapport backup verify` to see why, and make a new backup".into()),
        );
        return;
    }
    #[allow(clippy::disallowed_methods)]
    let age = g.last_point().map(|p| chrono::Utc::now() - p);
    if age.is_some_and(|a| a > chrono::Duration::days(2)) {
        r.say(
            Level::Warn,
            "backups",
            format!("{message}, more than two days ago"),
            Some("run `rapport backup` daily (cron) or set RAPPORT_BACKUP_CONTINUOUS=on".into()),
        );
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let device = |p: &Path| std::fs::metadata(p).ok().map(|m| m.dev());
        if device(&cfg.backup_dir).is_some() && device(&cfg.backup_dir) == device(&cfg.data_dir) {
            r.say(
                Level::Warn,
                "backups",
                format!("{message}, on the same disk as the database"),
                Some(
                    "point RAPPORT_BACKUP_DIR at another disk or a mounted NAS: a dead disk \
                     takes both"
                        .into(),
                ),
            );
            return;
        }
    }
    r.say(Level::Ok, "backups", message, None);
}

fn anchors(cfg: &Config, r: &mut Report) {
    writable_dir(r, "audit anchors", &cfg.audit_anchor_dir);
}

#[cfg(test)]
mod tests {
    use super::sqlite_path;
    use std::path::PathBuf;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/rapport/rapport.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/rapport/rapport.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:data/rapport.db"),
            Some(PathBuf::from("data/rapport.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
    }
}
