//! Full copies from the job queue: on a schedule (`RAPPORT_BACKUP_SCHEDULED`, every
//! `RAPPORT_BACKUP_FULL_HOURS`) or when an administrator asks for one on the backup page.
//! SQLite is copied while the server writes (SQLite's online backup API), PostgreSQL is
//! dumped (pg_dump in one snapshot). Each run prunes by the retention rules, goes into the
//! audit trail and into `last-run.json` in the backup directory (the backup page reads it);
//! a failure notifies every administrator in the app and by email, and is tried again within
//! the hour.

use super::full::Written;
use super::repo::Repo;
use super::BackupKey;
use crate::access::Access;
use crate::{audit, jobs, Store};
use chrono::{DateTime, Duration, Utc};
use rapport_core::{DomainError, Principal};
use rapport_db::db_err;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::Path;

pub const JOB: &str = "backup.full";
/// The last run's result, in the backup directory.
pub const LAST_RUN: &str = "last-run.json";

/// What one backup run did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LastRun {
    /// When the run ended.
    pub at: DateTime<Utc>,
    /// `schedule` (the job queue's slot), `manual` (an administrator) or `command`
    /// (`rapport backup`).
    pub trigger: String,
    pub generation: Option<String>,
    pub bytes: u64,
    pub seconds: f64,
    pub error: Option<String>,
}

impl LastRun {
    pub fn passed(&self) -> bool {
        self.error.is_none()
    }

    fn details(&self) -> serde_json::Value {
        json!({
            "result": if self.passed() { "passed" } else { "failed" },
            "trigger": self.trigger,
            "generation": self.generation,
            "bytes": self.bytes,
            "seconds": self.seconds,
            "error": self.error,
        })
    }
}

/// The last run recorded in `dir`, if any.
pub fn last_run(dir: &Path) -> Option<LastRun> {
    let text = std::fs::read_to_string(dir.join(LAST_RUN)).ok()?;
    serde_json::from_str(&text).ok()
}

/// One full copy of the store's database into `dir`.
pub async fn take(store: &Store, dir: &Path, key: BackupKey) -> Result<Written, DomainError> {
    let repo = Repo::new(dir);
    let clock = store.clock.clone();
    if let Some(file) = store.db.file().map(Path::to_path_buf) {
        return tokio::task::spawn_blocking(move || {
            super::full::sqlite(&file, &repo, &key, &|| clock.now())
        })
        .await
        .map_err(DomainError::internal)?;
    }
    let url = store
        .settings
        .backup
        .as_ref()
        .and_then(|b| b.database_url.clone())
        .filter(|u| u.starts_with("postgres"))
        .ok_or_else(|| {
            DomainError::Internal("the database is neither a SQLite file nor PostgreSQL".into())
        })?;
    super::postgres::backup(&store.db, &url, &repo, &key, &|| clock.now()).await
}

/// Takes a copy into the configured directory, prunes, and records the run (never an error:
/// a failed copy is a recorded, notified result).
pub async fn run(store: &Store, trigger: &str) -> Result<LastRun, DomainError> {
    let Some(settings) = store.settings.backup.clone() else {
        return Err(DomainError::Internal("backups are not configured".into()));
    };
    let started = std::time::Instant::now();
    let result = async {
        let ring = store.keys()?;
        let key = BackupKey::of(&ring).ok_or_else(|| {
            DomainError::Internal(
                "the key file has no backup key yet: run rapport backup once (it adds one), \
                     or start the server with RAPPORT_BACKUP_SCHEDULED=on"
                    .into(),
            )
        })?;
        std::fs::create_dir_all(&settings.dir)
            .map_err(|e| DomainError::Internal(format!("{}: {e}", settings.dir.display())))?;
        let written = take(store, &settings.dir, key).await?;
        let pruned =
            super::continuous::prune(&Repo::new(&settings.dir), settings.retention, store.now())?;
        if pruned > 0 {
            tracing::info!(pruned, "older backups deleted by the retention rules");
        }
        Ok::<_, DomainError>(written)
    }
    .await;
    if result.is_err() {
        if let Ok(mut s) = store.backup_status().lock() {
            s.failures += 1;
        }
    }
    let run = LastRun {
        at: store.now(),
        trigger: trigger.to_string(),
        generation: result.as_ref().ok().map(|w| w.generation.id.clone()),
        bytes: result.as_ref().map_or(0, |w| w.bytes),
        seconds: started.elapsed().as_secs_f64(),
        error: result.as_ref().err().map(|e| e.to_string()),
    };
    record(store, &settings.dir, &run).await?;
    Ok(run)
}

/// Records a run: in the backup directory, in the audit trail, and, when it failed, as a
/// notification (and email) to every administrator.
pub async fn record(store: &Store, dir: &Path, run: &LastRun) -> Result<(), DomainError> {
    let path = dir.join(LAST_RUN);
    match serde_json::to_vec(run) {
        Ok(bytes) => {
            if let Err(e) = std::fs::write(&path, bytes) {
                tracing::warn!(error = %e, path = %path.display(), "cannot record the backup run");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot record the backup run"),
    }
    let action = if run.passed() {
        "backup.created"
    } else {
        "backup.failed"
    };
    let tx = store.db.begin().await?;
    audit::record(
        &tx,
        store,
        &Principal::system(),
        audit::Entry::new(action).details(run.details()),
    )
    .await?;
    if !run.passed() {
        super::notify_admins(
            &tx,
            store,
            run.error.clone().unwrap_or_default(),
            run.details(),
        )
        .await?;
    }
    tx.commit().await.map_err(db_err)
}

/// The backup job: copies, records, and enqueues the next scheduled copy (or, after a
/// failure, another try within the hour).
pub async fn run_job(store: &Store, payload: &serde_json::Value) -> Result<(), DomainError> {
    let trigger = payload["trigger"].as_str().unwrap_or("schedule");
    let trigger = if trigger == "manual" {
        "manual"
    } else {
        "schedule"
    };
    let run = run(store, trigger).await?;
    if run.passed() {
        tracing::info!(generation = ?run.generation, seconds = run.seconds, "backup written");
        super::offsite::soon(store).await?;
    } else {
        tracing::error!(error = ?run.error, "backup failed");
        if trigger == "schedule" {
            return retry(store).await;
        }
    }
    schedule(store).await
}

fn every(store: &Store) -> Option<Duration> {
    let b = store.settings.backup.as_ref()?;
    (b.scheduled && !b.continuous)
        .then(|| Duration::from_std(b.full_every).ok())
        .flatten()
        .map(|d| d.max(Duration::minutes(1)))
}

/// Enqueues the next scheduled copy: at the next multiple of the interval since the Unix
/// epoch, so that every process and every restart asks for the same slot.
pub async fn schedule(store: &Store) -> Result<(), DomainError> {
    let Some(every) = every(store) else {
        return Ok(());
    };
    let now = store.now();
    let every_ms = every.num_milliseconds();
    let slot = (now.timestamp_millis() / every_ms + 1) * every_ms;
    let at = DateTime::<Utc>::from_timestamp_millis(slot).unwrap_or(now);
    enqueue(store, at, format!("{JOB}@{slot}"), "schedule").await
}

/// After a failed scheduled copy: another try in an hour (sooner if copies are more
/// frequent), then the schedule goes on.
async fn retry(store: &Store) -> Result<(), DomainError> {
    let Some(every) = every(store) else {
        return Ok(());
    };
    let at = store.now() + every.min(Duration::hours(1));
    enqueue(
        store,
        at,
        format!("{JOB}@retry-{}", at.timestamp()),
        "schedule",
    )
    .await
}

async fn enqueue(
    store: &Store,
    at: DateTime<Utc>,
    dedupe: String,
    trigger: &str,
) -> Result<(), DomainError> {
    let tx = store.db.begin().await?;
    jobs::enqueue(
        &tx,
        store.now(),
        jobs::NewJob::new(JOB, json!({ "trigger": trigger }), at).dedupe(dedupe),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

/// Whether `actor` may start backups and drills (the right to change settings for all).
pub fn may_start(actor: &Access) -> Result<(), DomainError> {
    crate::settings::may_change(actor, "starting a backup or a restore drill")
}

/// An administrator asks for a copy now (or a restore drill, `drill`): queued at once, run by
/// the job worker, recorded like a scheduled one. Returns false when the same request was
/// already queued that millisecond.
pub async fn request(store: &Store, actor: &Access, drill: bool) -> Result<bool, DomainError> {
    may_start(actor)?;
    if store.settings.backup.is_none() {
        return Err(DomainError::Conflict("backups are not configured".into()));
    }
    let now = store.now();
    let (kind, action) = if drill {
        (super::drill::JOB, "backup.drill_requested")
    } else {
        (JOB, "backup.requested")
    };
    let tx = store.db.begin().await?;
    // Keyed to the millisecond: the same request sent twice at once queues one job.
    let queued = jobs::enqueue(
        &tx,
        now,
        jobs::NewJob::new(kind, json!({ "trigger": "manual" }), now)
            .dedupe(format!("{kind}@manual-{}", now.timestamp_millis())),
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new(action).details(json!({ "queued": queued })),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(queued)
}
