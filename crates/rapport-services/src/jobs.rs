//! Durable background work as rows (ADR 0006); [`crate::worker`] runs them.
//!
//! The durable job queue. A job is a row: enqueued in the same transaction as the change that
//! causes it, claimed by one worker at a time under a lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, the single writer on SQLite), and marked done in the same transaction as the
//! work it did, so work that committed never runs again and work that did not (a crash, a
//! kill -9) runs again once its lease runs out. Failures are retried with backoff and end up
//! visible to administrators, who can retry them by hand.

use crate::access::Access;
use crate::{audit, Store};
use chrono::{DateTime, Duration, Utc};
use rapport_core::{ids, Action, DomainError, Object, Scope};
use rapport_db::{all, db_err, exec, get, one};
use sea_orm::sea_query::{Alias, Cond, Condition, Expr, OnConflict, Order, Query};
use sea_orm::{ConnectionTrait, QueryResult};
use serde::Serialize;
use serde_json::{json, Value};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

pub const PENDING: &str = "pending";
pub const RUNNING: &str = "running";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: Value,
    pub run_at: DateTime<Utc>,
    /// At most one job with this key ever exists (later enqueues are ignored).
    pub dedupe_key: Option<String>,
    pub max_attempts: i32,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: Value, run_at: DateTime<Utc>) -> NewJob {
        NewJob {
            kind: kind.into(),
            payload,
            run_at,
            dedupe_key: None,
            max_attempts: 5,
        }
    }

    pub fn dedupe(mut self, key: impl Into<String>) -> NewJob {
        self.dedupe_key = Some(key.into());
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub payload: Value,
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub locked_by: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub dedupe_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const COLS: [&str; 14] = [
    "id",
    "kind",
    "payload",
    "status",
    "attempts",
    "max_attempts",
    "run_at",
    "locked_by",
    "locked_until",
    "last_error",
    "dedupe_key",
    "created_at",
    "updated_at",
    "finished_at",
];

fn row_to_job(r: &QueryResult) -> Result<Job, DomainError> {
    let payload: String = get(r, "payload")?;
    Ok(Job {
        id: get(r, "id")?,
        kind: get(r, "kind")?,
        payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
        status: get(r, "status")?,
        attempts: get(r, "attempts")?,
        max_attempts: get(r, "max_attempts")?,
        run_at: get(r, "run_at")?,
        locked_by: get(r, "locked_by")?,
        locked_until: get(r, "locked_until")?,
        last_error: get(r, "last_error")?,
        dedupe_key: get(r, "dedupe_key")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
        finished_at: get(r, "finished_at")?,
    })
}

/// Enqueue a job inside the caller's transaction. A job whose dedupe key already exists is
/// ignored (returns false).
pub async fn enqueue<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
    job: NewJob,
) -> Result<bool, DomainError> {
    let mut q = Query::insert();
    q.into_table(t("jobs"))
        .columns(
            [
                "id",
                "kind",
                "payload",
                "status",
                "attempts",
                "max_attempts",
                "run_at",
                "dedupe_key",
                "created_at",
                "updated_at",
            ]
            .map(t),
        )
        .values_panic([
            ids::new_id().into(),
            job.kind.into(),
            job.payload.to_string().into(),
            PENDING.into(),
            0i32.into(),
            job.max_attempts.max(1).into(),
            job.run_at.into(),
            job.dedupe_key.into(),
            now.into(),
            now.into(),
        ]);
    q.on_conflict(OnConflict::column(t("dedupe_key")).do_nothing().to_owned());
    Ok(exec(c, &q).await? == 1)
}

/// Claim up to `limit` due jobs for `worker`: pending ones whose time has come, and running
/// ones whose lease ran out (their worker died). Each claim counts as an attempt.
pub async fn claim(
    store: &Store,
    worker: &str,
    lease: Duration,
    limit: u32,
) -> Result<Vec<Job>, DomainError> {
    let now = store.now();
    // Look before taking the write lock: an idle queue costs one read, not a write.
    let mut probe = Query::select();
    probe
        .column(t("id"))
        .from(t("jobs"))
        .cond_where(due(now))
        .limit(1);
    if one(store.db.reader(), &probe).await?.is_none() {
        return Ok(Vec::new());
    }
    // One statement: pick (and on PostgreSQL lock, skipping rows other workers hold) the due
    // rows, mark them running, return them.
    let mut pick = Query::select();
    pick.column(t("id"))
        .from(t("jobs"))
        .cond_where(due(now))
        .order_by(t("run_at"), Order::Asc)
        .limit(u64::from(limit.clamp(1, 100)));
    rapport_db::dialect::claim_skipping_locked(store.db.backend(), &mut pick);
    let mut q = Query::update();
    q.table(t("jobs"))
        .value(t("status"), RUNNING)
        .value(t("locked_by"), worker)
        .value(t("locked_until"), now + lease)
        .value(t("attempts"), Expr::col(t("attempts")).add(1))
        .value(t("updated_at"), now)
        .and_where(Expr::col(t("id")).in_subquery(pick))
        .returning(Query::returning().columns(COLS.map(t)));
    let rows = all(store.db.writer(), &q).await?;
    rows.iter().map(row_to_job).collect()
}

/// Jobs whose time has come: pending and due, or running under a lease that ran out.
fn due(now: DateTime<Utc>) -> Condition {
    Cond::any()
        .add(
            Cond::all()
                .add(Expr::col(t("status")).eq(PENDING))
                .add(Expr::col(t("run_at")).lte(now)),
        )
        .add(
            Cond::all()
                .add(Expr::col(t("status")).eq(RUNNING))
                .add(Expr::col(t("locked_until")).lt(now)),
        )
}

/// Mark a claimed job done inside the transaction that did its work. Fails (and the caller
/// rolls back) when the lease was lost to another worker in the meantime.
pub async fn complete<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
    job: &Job,
) -> Result<(), DomainError> {
    let n = exec(
        c,
        Query::update()
            .table(t("jobs"))
            .value(t("status"), DONE)
            .value(t("finished_at"), now)
            .value(t("updated_at"), now)
            .value(t("locked_until"), Option::<DateTime<Utc>>::None)
            .and_where(Expr::col(t("id")).eq(job.id.clone()))
            .and_where(Expr::col(t("status")).eq(RUNNING))
            .and_where(Expr::col(t("locked_by")).eq(job.locked_by.clone()))
            .and_where(Expr::col(t("attempts")).eq(job.attempts)),
    )
    .await?;
    if n == 1 {
        Ok(())
    } else {
        Err(DomainError::Conflict(format!(
            "job {} was claimed by another worker",
            job.id
        )))
    }
}

/// The delay before the next attempt: 10 s, 40 s, 160 s, ... capped at one hour.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 10) as u32 - 1;
    Duration::seconds((10i64 * 4i64.pow(exp)).min(3600))
}

/// Record a failed attempt: retry later with backoff, or give up after `max_attempts`.
pub async fn fail(store: &Store, job: &Job, error: &str) -> Result<(), DomainError> {
    let now = store.now();
    let give_up = job.attempts >= job.max_attempts;
    let error: String = error.chars().take(2000).collect();
    let mut q = Query::update();
    q.table(t("jobs"))
        .value(t("last_error"), error)
        .value(t("updated_at"), now)
        .value(t("locked_until"), Option::<DateTime<Utc>>::None)
        .and_where(Expr::col(t("id")).eq(job.id.clone()))
        .and_where(Expr::col(t("locked_by")).eq(job.locked_by.clone()))
        .and_where(Expr::col(t("attempts")).eq(job.attempts));
    if give_up {
        q.value(t("status"), FAILED).value(t("finished_at"), now);
    } else {
        q.value(t("status"), PENDING)
            .value(t("run_at"), now + backoff(job.attempts));
    }
    exec(store.db.writer(), &q).await?;
    Ok(())
}

/// Delete finished jobs older than `keep` (the housekeeping job).
pub async fn purge<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
    keep: Duration,
) -> Result<u64, DomainError> {
    exec(
        c,
        Query::delete()
            .from_table(t("jobs"))
            .and_where(Expr::col(t("status")).eq(DONE))
            .and_where(Expr::col(t("finished_at")).lt(now - keep)),
    )
    .await
}

fn require_admin(actor: &Access) -> Result<(), DomainError> {
    if actor.scope(Object::SETTINGS, Action::Read) == Scope::All {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "the job queue is for administrators".into(),
        ))
    }
}

/// Jobs for the administrators' page, newest first, optionally of one status.
pub async fn list(
    store: &Store,
    actor: &Access,
    status: Option<&str>,
    limit: u64,
) -> Result<Vec<Job>, DomainError> {
    require_admin(actor)?;
    if let Some(s) = status {
        if ![PENDING, RUNNING, DONE, FAILED].contains(&s) {
            return Err(DomainError::field(
                "status",
                "invalid_choice",
                "status must be one of: pending, running, done, failed",
            ));
        }
    }
    let mut q = Query::select();
    q.columns(COLS.map(t))
        .from(t("jobs"))
        .order_by(t("updated_at"), Order::Desc)
        .order_by(t("id"), Order::Desc)
        .limit(limit.clamp(1, 500));
    if let Some(s) = status {
        q.and_where(Expr::col(t("status")).eq(s));
    }
    let rows = all(store.db.reader(), &q).await?;
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("jobs.listed").details(json!({"status": status})),
    )
    .await?;
    rows.iter().map(row_to_job).collect()
}

/// Counts per status, for the administrators' page.
pub async fn counts(store: &Store, actor: &Access) -> Result<Vec<(String, i64)>, DomainError> {
    require_admin(actor)?;
    let rows = all(
        store.db.reader(),
        Query::select()
            .column(t("status"))
            .expr_as(Expr::col(t("id")).count(), t("n"))
            .from(t("jobs"))
            .group_by_col(t("status")),
    )
    .await?;
    rows.iter()
        .map(|r| Ok((get(r, "status")?, get(r, "n")?)))
        .collect()
}

/// The earliest job of `kind` waiting or running: its status and when it is (was) due.
pub async fn next_of(
    store: &Store,
    kind: &str,
) -> Result<Option<(String, DateTime<Utc>)>, DomainError> {
    let row = one(
        store.db.reader(),
        Query::select()
            .columns([t("status"), t("run_at")])
            .from(t("jobs"))
            .and_where(Expr::col(t("kind")).eq(kind))
            .and_where(Expr::col(t("status")).is_in([PENDING, RUNNING]))
            .order_by(t("run_at"), Order::Asc)
            .limit(1),
    )
    .await?;
    row.map(|r| Ok((get(&r, "status")?, get(&r, "run_at")?)))
        .transpose()
}

/// Run a failed job again now, by hand (administrators).
pub async fn retry(store: &Store, actor: &Access, id: &str) -> Result<Job, DomainError> {
    require_admin(actor)?;
    let now = store.now();
    let tx = store.db.begin().await?;
    let n = exec(
        &tx,
        Query::update()
            .table(t("jobs"))
            .value(t("status"), PENDING)
            .value(t("attempts"), 0i32)
            .value(t("run_at"), now)
            .value(t("updated_at"), now)
            .value(t("finished_at"), Option::<DateTime<Utc>>::None)
            .and_where(Expr::col(t("id")).eq(id))
            .and_where(Expr::col(t("status")).eq(FAILED)),
    )
    .await?;
    if n == 0 {
        let exists = one(
            &tx,
            Query::select()
                .column(t("status"))
                .from(t("jobs"))
                .and_where(Expr::col(t("id")).eq(id)),
        )
        .await?;
        return Err(match exists {
            None => DomainError::NotFound,
            Some(_) => DomainError::Conflict("only a failed job can be retried".into()),
        });
    }
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("job.retried").object("job", id),
    )
    .await?;
    let row = one(
        &tx,
        Query::select()
            .columns(COLS.map(t))
            .from(t("jobs"))
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?
    .ok_or(DomainError::NotFound)?;
    tx.commit().await.map_err(db_err)?;
    row_to_job(&row)
}

/// Make every running job claimable now (SQLite start-up: the only process that could have
/// been running them is gone).
pub async fn release_all_running(store: &Store) -> Result<u64, DomainError> {
    let now = store.now();
    exec(
        store.db.writer(),
        Query::update()
            .table(t("jobs"))
            .value(t("locked_until"), now - Duration::seconds(1))
            .and_where(Expr::col(t("status")).eq(RUNNING)),
    )
    .await
}
