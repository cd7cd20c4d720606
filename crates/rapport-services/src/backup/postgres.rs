//! `rapport backup` and `rapport restore` on PostgreSQL: a logical dump (pg_dump's custom
//! format) taken in the snapshot the manifest is computed in, sealed like every backup file.
//! Fits small installations; larger ones back up with pgBackRest (operations guide), which
//! also gives point-in-time recovery.

use super::archive::{self, BackupKey};
use super::full::Written;
use super::manifest::{self, AuditHead, FileEntry, Manifest, TableSum};
use super::repo::{Repo, BASE, MANIFEST};
use crate::Db;
use chrono::{DateTime, Utc};
use rapport_core::DomainError;
use rapport_db::{db_err, get, PgUrl};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseBackend, IsolationLevel, Statement, TransactionTrait,
};
use std::process::{Command, Stdio};

fn fail(msg: String) -> DomainError {
    DomainError::Internal(msg)
}

/// The URL without its password, and the password (passed to pg_dump and pg_restore in
/// their environment, never on a command line others can read).
fn split_password(url: &str) -> Result<(String, Option<String>), DomainError> {
    let u = PgUrl::parse(url)?;
    // Percent-decoded only: a `+` in a URL's password is a plus, not a space.
    let password = u.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    Ok((u.without_password(), password))
}

fn tool(name: &str, url: &str) -> Result<Command, DomainError> {
    let (url, password) = split_password(url)?;
    let mut c = Command::new(name);
    c.arg("--dbname").arg(url);
    if let Some(p) = password {
        c.env("PGPASSWORD", p);
    }
    Ok(c)
}

fn missing(name: &str, e: std::io::Error) -> DomainError {
    if e.kind() == std::io::ErrorKind::NotFound {
        fail(format!(
            "{name} was not found: install PostgreSQL's client programs (Debian: postgresql-client) \
             in the same major version as the server"
        ))
    } else {
        fail(format!("cannot run {name}: {e}"))
    }
}

/// Every table of the current schema with its rows and a checksum of its rows' text (the sum
/// of each row's MD5, order-independent), the audit head and the schema version, read in the
/// connection's current snapshot.
pub async fn contents<C: ConnectionTrait>(
    c: &C,
) -> Result<(Vec<TableSum>, Option<AuditHead>, i64), DomainError> {
    let pg = DatabaseBackend::Postgres;
    let names = c
        .query_all(Statement::from_string(
            pg,
            "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema() \
             ORDER BY 1",
        ))
        .await
        .map_err(db_err)?;
    let mut tables = Vec::with_capacity(names.len());
    for row in names {
        let name: String = get(&row, "name")?;
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        let r = c
            .query_one(Statement::from_string(
                pg,
                format!(
                    "SELECT count(*) AS rows, coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text AS sum FROM {quoted} t"
                ),
            ))
            .await
            .map_err(db_err)?
            .ok_or_else(|| fail(format!("no count for {name}")))?;
        let rows: i64 = get(&r, "rows")?;
        let sum: String = get(&r, "sum")?;
        tables.push(TableSum {
            name,
            rows: rows as u64,
            checksum: sum,
        });
    }
    let head = c
        .query_one(Statement::from_string(
            pg,
            "SELECT seq, hash FROM audit_head WHERE id = 1",
        ))
        .await
        .map_err(db_err)?
        .map(|r| -> Result<AuditHead, DomainError> {
            Ok(AuditHead {
                seq: get(&r, "seq")?,
                hash: get(&r, "hash")?,
            })
        })
        .transpose()?;
    let schema: i64 = match c
        .query_one(Statement::from_string(
            pg,
            "SELECT coalesce(max(version), 0)::bigint AS v FROM schema_migrations",
        ))
        .await
        .map_err(db_err)?
    {
        Some(r) => get(&r, "v")?,
        None => 0,
    };
    Ok((tables, head, schema))
}

/// `rapport backup` on PostgreSQL: pg_dump in the snapshot the manifest was computed in.
pub async fn backup(
    db: &Db,
    url: &str,
    repo: &Repo,
    key: &BackupKey,
    now: &(dyn Fn() -> DateTime<Utc> + Sync),
) -> Result<Written, DomainError> {
    let tx = db
        .writer()
        .begin_with_config(
            Some(IsolationLevel::RepeatableRead),
            Some(AccessMode::ReadOnly),
        )
        .await
        .map_err(db_err)?;
    let snapshot: String = match tx
        .query_one(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT pg_export_snapshot() AS s",
        ))
        .await
        .map_err(db_err)?
    {
        Some(r) => get(&r, "s")?,
        None => return Err(fail("PostgreSQL exported no snapshot".into())),
    };
    let taken_at = now();
    let (tables, audit_head, schema_version) = contents(&tx).await?;
    let generation = repo.create_generation(taken_at)?;
    let dest = generation.dir.join(BASE);
    let mut cmd = tool("pg_dump", url)?;
    cmd.args([
        "--format=custom",
        "--compress=0",
        "--no-owner",
        "--no-privileges",
    ])
    .arg(format!("--snapshot={snapshot}"))
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let key2 = key.clone();
    let sealed = tokio::task::spawn_blocking(move || -> Result<_, DomainError> {
        let mut child = cmd.spawn().map_err(|e| missing("pg_dump", e))?;
        let mut out = child
            .stdout
            .take()
            .ok_or_else(|| fail("pg_dump has no output".into()))?;
        let sealed = archive::seal(&key2, "pgdump", &mut out, &dest);
        let done = child
            .wait_with_output()
            .map_err(|e| missing("pg_dump", e))?;
        if !done.status.success() {
            return Err(fail(format!(
                "pg_dump failed: {}",
                String::from_utf8_lossy(&done.stderr).trim()
            )));
        }
        sealed
    })
    .await
    .map_err(DomainError::internal)
    .and_then(|r| r);
    let _ = tx.commit().await;
    let sealed = match sealed {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&generation.dir);
            return Err(e);
        }
    };
    let mut m = Manifest {
        format: manifest::FORMAT,
        generation: generation.id.clone(),
        taken_at,
        backend: "postgres".into(),
        rapport_version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        key: key.fingerprint(),
        continuous: false,
        files: vec![FileEntry {
            name: BASE.into(),
            kind: "pgdump".into(),
            sealed,
        }],
        tables,
        audit_head,
        mac: String::new(),
    };
    m.sign(key)?;
    m.save(&generation.dir.join(MANIFEST))?;
    let bytes = generation.size();
    Ok(Written {
        generation,
        manifest: m,
        bytes,
    })
}

/// Restores a PostgreSQL backup into the empty database at `url` and checks every table
/// against the manifest. Returns the generation's manifest.
pub async fn restore(
    repo: &Repo,
    key: &BackupKey,
    url: &str,
    generation: Option<&str>,
    progress: &mut (dyn FnMut(String) + Send),
) -> Result<Manifest, DomainError> {
    let g = repo.pick(None, generation)?;
    let manifest = super::restore::check_files(&g, key)?;
    if manifest.backend != "postgres" {
        return Err(fail(format!(
            "backup {} is of a {} database: restore it into a data directory (--to)",
            g.id, manifest.backend
        )));
    }
    let target = Db::connect(url).await?;
    let existing = target
        .reader()
        .query_all(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LIMIT 1",
        ))
        .await
        .map_err(db_err)?;
    if !existing.is_empty() {
        target.close().await;
        return Err(fail(
            "the target database holds tables: restore into an empty database (a restore never \
             overwrites a database)"
                .into(),
        ));
    }
    progress(format!("backup {} ({})", g.id, g.dir.display()));
    let mut cmd = tool("pg_restore", url)?;
    cmd.args([
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let key2 = key.clone();
    let path = g.dir.join(BASE);
    tokio::task::spawn_blocking(move || -> Result<(), DomainError> {
        let mut child = cmd.spawn().map_err(|e| missing("pg_restore", e))?;
        let mut input = child
            .stdin
            .take()
            .ok_or_else(|| fail("pg_restore takes no input".into()))?;
        let fed = archive::open(&key2, "pgdump", &path, &mut input);
        drop(input);
        let done = child
            .wait_with_output()
            .map_err(|e| missing("pg_restore", e))?;
        fed?;
        if !done.status.success() {
            return Err(fail(format!(
                "pg_restore failed: {}",
                String::from_utf8_lossy(&done.stderr).trim()
            )));
        }
        Ok(())
    })
    .await
    .map_err(DomainError::internal)??;
    progress("dump restored; checking".into());
    let (tables, _, _) = contents(target.reader()).await?;
    target.close().await;
    let diff = manifest::differences(&manifest.tables, &tables);
    if !diff.is_empty() {
        return Err(fail(format!(
            "the restored database does not match the backup's manifest: {}",
            diff.join("; ")
        )));
    }
    Ok(manifest)
}

/// A database made for a restore drill on the PostgreSQL server of `url`, dropped after.
pub struct ScratchDatabase {
    admin: String,
    name: String,
    pub url: String,
}

impl ScratchDatabase {
    /// Creates an empty database beside the one at `url` (the account needs CREATEDB).
    pub async fn create(url: &str) -> Result<ScratchDatabase, DomainError> {
        let name = format!("rapport_drill_{}", uuid::Uuid::new_v4().simple());
        let scratch = PgUrl::parse(url)?.on_database(&name);
        let db = Db::connect(url).await?;
        let made = db
            .writer()
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await;
        db.close().await;
        made.map_err(|e| {
            fail(format!(
                "cannot create a scratch database for the drill: {e}"
            ))
        })?;
        Ok(ScratchDatabase {
            admin: url.to_string(),
            name,
            url: scratch,
        })
    }

    pub async fn drop_it(self) {
        if let Ok(db) = Db::connect(&self.admin).await {
            let _ = db
                .writer()
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
            db.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_password_leaves_the_url_decoded() {
        let (url, password) =
            super::split_password("postgres://rapport:p%40ss+w%2Frd@db.example.com:5432/crm")
                .unwrap();
        assert_eq!(password.as_deref(), Some("p@ss+w/rd"));
        assert_eq!(url, "postgres://rapport@db.example.com:5432/crm");
        let (_, none) = super::split_password("postgres://rapport@db/crm").unwrap();
        assert_eq!(none, None);
    }

    #[test]
    fn several_hosts_reach_libpq_as_one_url_that_wants_the_primary() {
        let (url, password) =
            super::split_password("postgres://app:s3cr%2Bt@db1:5432,db2:5433/crm").unwrap();
        assert_eq!(password.as_deref(), Some("s3cr+t"));
        assert_eq!(
            url,
            "postgres://app@db1:5432,db2:5433/crm?target_session_attrs=read-write"
        );
        let (url, _) = super::split_password("postgres://app@db1,db2/crm?sslmode=require").unwrap();
        assert_eq!(
            url,
            "postgres://app@db1,db2/crm?sslmode=require&target_session_attrs=read-write"
        );
        let u = super::PgUrl::parse("postgres://app:pw@db1,db2/crm?sslmode=require").unwrap();
        assert_eq!(
            u.on_database("scratch"),
            "postgres://app:pw@db1,db2/scratch?sslmode=require"
        );
        let u = super::PgUrl::parse("postgres://db1:5432").unwrap();
        assert_eq!(u.on_database("x"), "postgres://db1:5432/x");
    }
}
