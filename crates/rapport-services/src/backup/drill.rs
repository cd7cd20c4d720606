//! Restore drills from the job queue: on a schedule (weekly by default) the newest backup is
//! restored into a scratch directory and checked (file checksums, manifest signature,
//! integrity, the manifest's counts and checksums, the audit chain). The result goes into the
//! audit trail and beside the generation (`drill.json`, which retention reads: the newest
//! generation that passed a drill is never deleted); a failure notifies every administrator
//! in the app and by email.

use super::repo::{Repo, DRILL};
use super::restore;
use crate::{audit, jobs, Store};
use chrono::{DateTime, Utc};
use rapport_core::{DomainError, Principal};
use rapport_db::db_err;
use serde_json::json;
use std::path::PathBuf;

pub const JOB: &str = "backup.drill";

/// What a drill found.
#[derive(Debug, Clone)]
pub struct Drill {
    pub generation: Option<String>,
    pub point: Option<DateTime<Utc>>,
    pub segments: u64,
    pub error: Option<String>,
    pub seconds: f64,
}

impl Drill {
    pub fn passed(&self) -> bool {
        self.error.is_none()
    }

    pub fn details(&self) -> serde_json::Value {
        json!({
            "result": if self.passed() { "passed" } else { "failed" },
            "generation": self.generation,
            "point": self.point,
            "segments": self.segments,
            "error": self.error,
            "seconds": self.seconds,
        })
    }
}

/// Restores the newest backup in `dir` into a scratch directory beside it (SQLite) or a
/// scratch database beside `database_url`'s (PostgreSQL), checks it and deletes it.
pub async fn drill(store: &Store, dir: PathBuf, database_url: Option<String>) -> Drill {
    let started = std::time::Instant::now();
    let mut found = Drill {
        generation: None,
        point: None,
        segments: 0,
        error: None,
        seconds: 0.0,
    };
    let scratch = dir.join(format!(".drill-{}", uuid::Uuid::new_v4().simple()));
    let result = async {
        let ring = store.keys()?;
        let key = super::BackupKey::of(&ring).ok_or_else(|| {
            DomainError::Internal("the key file has no backup key: no backup was made".into())
        })?;
        let repo = Repo::new(dir);
        let g = repo.pick(None, None)?;
        found.generation = Some(g.id.clone());
        let postgres = g.manifest.as_ref().is_some_and(|m| m.backend == "postgres");
        let (url, scratch_db) = if postgres {
            let Some(url) = database_url.filter(|u| u.starts_with("postgres")) else {
                return Err(DomainError::Internal(format!(
                    "backup {} is of a PostgreSQL database; this server runs on SQLite",
                    g.id
                )));
            };
            let db = super::postgres::ScratchDatabase::create(&url).await?;
            let restored =
                super::postgres::restore(&repo, &key, &db.url, Some(&g.id), &mut |_| {}).await;
            let manifest = match restored {
                Ok(m) => m,
                Err(e) => {
                    db.drop_it().await;
                    return Err(e);
                }
            };
            found.point = Some(manifest.taken_at);
            (db.url.clone(), Some(db))
        } else {
            std::fs::create_dir_all(&scratch)
                .map_err(|e| DomainError::Internal(format!("{}: {e}", scratch.display())))?;
            let target = scratch.join("rapport.db");
            let target2 = target.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                restore::sqlite(
                    &restore::Request {
                        repo: &repo,
                        key: &key,
                        target: &target2,
                        at: None,
                        generation: Some(&g.id),
                    },
                    &mut |_| {},
                )
            })
            .await
            .map_err(DomainError::internal)??;
            found.point = Some(outcome.point);
            found.segments = outcome.segments;
            (format!("sqlite://{}", target.display()), None)
        };
        let report = restore::verify_trail(&url, ring, store.clock.clone()).await;
        if let Some(db) = scratch_db {
            db.drop_it().await;
        }
        if let Some(p) = report?.problem {
            return Err(DomainError::Internal(format!(
                "the restored audit trail does not verify: entry {}: {}",
                p.seq, p.message
            )));
        }
        Ok::<_, DomainError>(())
    }
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    found.error = result.err().map(|e| e.to_string());
    found.seconds = started.elapsed().as_secs_f64();
    found
}

/// Records a drill: beside its generation, in the audit trail, and, when it failed, as a
/// notification (and email) to every administrator.
pub async fn record(store: &Store, dir: &std::path::Path, d: &Drill) -> Result<(), DomainError> {
    if let Some(g) = &d.generation {
        let mut details = d.details();
        details["at"] = json!(store.now());
        let path = dir.join(g).join(DRILL);
        if let Err(e) = std::fs::write(&path, details.to_string()) {
            tracing::warn!(error = %e, path = %path.display(), "cannot record the drill beside its backup");
        }
    }
    let tx = store.db.begin().await?;
    audit::record(
        &tx,
        store,
        &Principal::system(),
        audit::Entry::new("backup.drill").details(d.details()),
    )
    .await?;
    if !d.passed() {
        super::notify_admins(&tx, store, d.error.clone().unwrap_or_default(), d.details()).await?;
    }
    tx.commit().await.map_err(db_err)
}

/// The drill job: drills, records, and enqueues the next drill.
pub async fn run_job(store: &Store) -> Result<(), DomainError> {
    let Some(settings) = store.settings.backup.clone() else {
        return Ok(());
    };
    let d = drill(store, settings.dir.clone(), settings.database_url.clone()).await;
    if d.passed() {
        tracing::info!(generation = ?d.generation, seconds = d.seconds, "restore drill passed");
    } else {
        tracing::error!(error = ?d.error, "restore drill failed");
    }
    record(store, &settings.dir, &d).await?;
    // The drill's result goes off-site with its backup.
    super::offsite::soon(store).await?;
    schedule(store).await
}

/// Enqueues the next drill: at the next multiple of `drill_every` since the Unix epoch, so
/// that every process and every restart asks for the same slot and the queue keeps one.
pub async fn schedule(store: &Store) -> Result<(), DomainError> {
    let Some(every) = store.settings.backup.as_ref().and_then(|b| b.drill_every) else {
        return Ok(());
    };
    let now = store.now();
    let every_ms = (every.as_millis() as i64).max(1000);
    let slot = (now.timestamp_millis() / every_ms + 1) * every_ms;
    let at = DateTime::<Utc>::from_timestamp_millis(slot).unwrap_or(now);
    let tx = store.db.begin().await?;
    jobs::enqueue(
        &tx,
        now,
        jobs::NewJob::new(JOB, json!({}), at).dedupe(format!("{JOB}@{slot}")),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}
