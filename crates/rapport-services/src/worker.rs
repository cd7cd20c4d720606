//! The worker that runs queued jobs. Every `rapport serve` process runs one: it claims due jobs
//! under a lease, runs each inside one transaction together with marking it done, and records
//! failures for a retry with backoff. Several processes on one PostgreSQL database share the
//! queue safely (each job is claimed by one of them); see `crate::jobs` and ADR 0006.

use crate::jobs::{self, Job, NewJob};
use crate::{activities, Store};
use chrono::Duration;
use rapport_core::DomainError;
use rapport_db::db_err;
use serde_json::json;
use std::time::Duration as StdDuration;

use crate::mail::send as mail;

/// The housekeeping job: delete finished jobs after a while, then schedule the next run.
pub const PURGE_JOB: &str = "jobs.purge";
/// How long finished jobs stay visible to administrators.
pub const KEEP_FINISHED_DAYS: i64 = 14;

#[derive(Debug, Clone)]
pub struct Settings {
    /// How often an idle worker looks for due jobs.
    pub poll: StdDuration,
    /// How long a claimed job is reserved; a worker that dies leaves it to others after this.
    pub lease: Duration,
    /// Jobs claimed at a time.
    pub batch: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            poll: StdDuration::from_millis(1000),
            lease: Duration::minutes(5),
            batch: 20,
        }
    }
}

/// Run one job's work inside `tx`. A new kind of job gets its arm here.
async fn dispatch(
    tx: &sea_orm::DatabaseTransaction,
    store: &Store,
    job: &Job,
) -> Result<(), DomainError> {
    match job.kind.as_str() {
        activities::REMIND_JOB => activities::remind(tx, store, &job.payload).await,
        crate::mail::NOTIFICATION_JOB => mail::run_notification_job(tx, store, &job.payload).await,
        crate::mail::CONTACT_JOB => mail::run_contact_job(tx, store, &job.payload).await,
        crate::mail::anchors::JOB => crate::mail::anchors::run_job(tx, store, &job.payload).await,
        PURGE_JOB => {
            let now = store.now();
            let n = jobs::purge(tx, now, Duration::days(KEEP_FINISHED_DAYS)).await?;
            tracing::info!(deleted = n, "purged finished jobs");
            let n = crate::imports::raw::purge_expired(tx, now).await?;
            if n > 0 {
                tracing::info!(
                    imports = n,
                    "deleted the rows of imports past their retention"
                );
            }
            schedule_purge(tx, store).await
        }
        crate::pool::SWEEP_JOB => {
            crate::pool::sweep(tx, store, store.now()).await?;
            schedule_daily(tx, store, crate::pool::SWEEP_JOB, 18).await
        }
        other => Err(DomainError::Internal(format!(
            "no handler for job kind {other}"
        ))),
    }
}

/// Enqueue the next daily housekeeping run (once per day, whoever asks).
pub async fn schedule_purge<C: sea_orm::ConnectionTrait>(
    c: &C,
    store: &Store,
) -> Result<(), DomainError> {
    schedule_daily(c, store, PURGE_JOB, 3).await
}

/// Enqueue the next run of a daily job at `hour_utc` (once per day, whoever asks: the dedupe
/// key holds the date). The pool sweep runs at 18:00 UTC, 02:00 in the instance's zone.
pub async fn schedule_daily<C: sea_orm::ConnectionTrait>(
    c: &C,
    store: &Store,
    kind: &str,
    hour_utc: u32,
) -> Result<(), DomainError> {
    let now = store.now();
    let next = (now + Duration::days(1))
        .date_naive()
        .and_hms_opt(hour_utc, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now + Duration::days(1));
    jobs::enqueue(
        c,
        now,
        NewJob::new(kind, json!({}), next).dedupe(format!("{kind}@{}", next.date_naive())),
    )
    .await?;
    Ok(())
}

/// Run one claimed job: its work and its completion commit together, or neither does.
pub async fn run_job(store: &Store, job: &Job) -> Result<(), DomainError> {
    // An import batch is its own transaction (it writes records the way a user's save does,
    // and moves its checkpoint with them); the job is marked done after it.
    // So is an export: it writes its file in many small steps, started again after a crash.
    // So is a restore drill, which restores a whole backup before it records anything, and
    // a backup, which copies the whole database.
    let own_transaction = crate::imports::is_import_job(&job.kind)
        || crate::exports::is_export_job(&job.kind)
        || job.kind == crate::backup::drill::JOB
        || job.kind == crate::backup::scheduled::JOB
        || job.kind == crate::backup::offsite::JOB;
    if own_transaction {
        let work = if crate::exports::is_export_job(&job.kind) {
            crate::exports::run(store, &job.payload).await
        } else if job.kind == crate::backup::drill::JOB {
            crate::backup::drill::run_job(store).await
        } else if job.kind == crate::backup::scheduled::JOB {
            crate::backup::scheduled::run_job(store, &job.payload).await
        } else if job.kind == crate::backup::offsite::JOB {
            crate::backup::offsite::run_job(store).await
        } else {
            crate::imports::run_batch(store, &job.payload).await
        };
        let outcome = match work {
            Ok(()) => {
                let tx = store.db.begin().await?;
                jobs::complete(&tx, store.now(), job).await?;
                tx.commit().await.map_err(db_err)
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &outcome {
            tracing::warn!(job = %job.id, kind = %job.kind, error = %e, "job failed");
            jobs::fail(store, job, &e.to_string()).await?;
        }
        return outcome;
    }
    let tx = store.db.begin().await?;
    let outcome = match dispatch(&tx, store, job).await {
        Ok(()) => jobs::complete(&tx, store.now(), job).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => tx.commit().await.map_err(db_err),
        Err(e) => {
            let _ = tx.rollback().await;
            tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, error = %e, "job failed");
            jobs::fail(store, job, &e.to_string()).await?;
            Err(e)
        }
    }
}

/// One worker: claims and runs due jobs until the process ends.
pub struct Worker {
    store: Store,
    settings: Settings,
    id: String,
}

impl Worker {
    pub fn new(store: Store, settings: Settings) -> Worker {
        Worker {
            store,
            settings,
            id: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        }
    }

    /// Claim one batch and run it; returns how many jobs were claimed.
    pub async fn run_once(&self) -> Result<usize, DomainError> {
        let batch = jobs::claim(
            &self.store,
            &self.id,
            self.settings.lease,
            self.settings.batch,
        )
        .await?;
        for job in &batch {
            // A failed job is recorded for retry; the worker carries on with the next one.
            let _ = run_job(&self.store, job).await;
        }
        Ok(batch.len())
    }

    /// Run the worker until `stop` is requested: schedule housekeeping, then poll for due
    /// jobs. A batch already claimed is finished first (each job commits with its work, so one
    /// cut short would only run again after its lease).
    pub async fn run(self, stop: crate::background::Stop) {
        if let Ok(tx) = self.store.db.begin().await {
            let ok = schedule_purge(&tx, &self.store).await.is_ok()
                && schedule_daily(&tx, &self.store, crate::pool::SWEEP_JOB, 18)
                    .await
                    .is_ok();
            if ok {
                let _ = tx.commit().await;
            }
        }
        while !stop.is_requested() {
            match self.run_once().await {
                // Jobs ran: more may be due right now (a job often enqueues the next
                // step, such as an import's next batch), so look again at once.
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not claim jobs"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.poll) => {}
                _ = stop.requested() => break,
            }
        }
    }
}

/// On SQLite one server process owns the database: jobs it was running when it stopped
/// (a crash, kill -9) are released at start-up instead of waiting for their lease to end.
pub async fn release_orphans(store: &Store) -> Result<u64, DomainError> {
    if !rapport_db::dialect::one_server_per_database(store.db.backend()) {
        return Ok(0);
    }
    jobs::release_all_running(store).await
}

/// The server's own tasks: the WAL checkpointer (SQLite), the search tokens' generation
/// merger (SQLite), and the job worker when `jobs` is given.
pub fn start_server_tasks(store: &Store, jobs: Option<Settings>) {
    let tasks = store.background();
    if let Some(checkpoints) = store.db.checkpointer() {
        tasks.spawn("wal checkpointer", move |stop| async move {
            checkpoints.run(async move { stop.requested().await }).await
        });
    }
    // On PostgreSQL there is nothing to merge: the task ends at once.
    let db = store.db.clone();
    tasks.spawn("search token merger", move |stop| async move {
        rapport_db::search_index::generations::run(db, async move { stop.requested().await }).await
    });
    if let Some(settings) = jobs {
        let worker = Worker::new(store.clone(), settings);
        tasks.spawn("job worker", move |stop| worker.run(stop));
    }
}
