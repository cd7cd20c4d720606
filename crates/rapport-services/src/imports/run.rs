//! Running an import: a job checks batches of rows on one task and writes them on another,
//! several batches to a transaction that also moves the checkpoint and adds the counts and the
//! failed rows; after `RUN_FOR` its last transaction enqueues the next job (ADR 0020). A
//! transaction interrupted by a crash is rolled back whole and its rows run again after
//! restart (the job is released and runs from the checkpoint); a transaction that committed is
//! never run twice (the checkpoint is checked and moved in the same transaction).

use super::{batch, load, rows_between, Import};
use crate::access::Access;
use crate::objects;
use crate::records::batch::run_all;
use crate::records::fast_create::FastCreate;
use crate::{audit, jobs, notifications, users, Store};
use chrono::{DateTime, Utc};
use rapport_core::fields::FieldKind;
use rapport_core::{Action, DomainError, Object};
use rapport_db::{build, db_err, exec};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The job kind of one batch.
pub const IMPORT_JOB: &str = "import.batch";
/// Rows read, checked and written together.
const BATCH: i64 = 2000;
/// Batches per transaction. A commit writes every index page the transaction
/// touched, and new rows land on random pages of the blind-index and name indexes: five
/// batches per commit write each such page once instead of up to five times (ADR 0012),
/// while only one batch's rows are held in memory at a time.
const BATCHES_PER_COMMIT: usize = 5;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

pub(super) async fn enqueue<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
    id: &str,
    run: &str,
    after: i64,
) -> Result<(), DomainError> {
    jobs::enqueue(c, now, super::jobs_new(id, run, after, now)).await?;
    Ok(())
}

/// The importing user with their current rights.
pub(crate) async fn principal_of(store: &Store, user_id: &str) -> Result<Access, DomainError> {
    crate::users::access_of(store, user_id, false)
        .await?
        .ok_or_else(|| DomainError::Conflict("the importing user is no longer active".into()))
}

async fn fail(store: &Store, imp: &Import, msg: &str) -> Result<(), DomainError> {
    exec(
        store.db.writer(),
        Query::update()
            .table(t("imports"))
            .value(t("status"), "failed")
            .value(t("error"), msg)
            .value(t("finished_at"), store.now())
            .and_where(Expr::col(t("id")).eq(imp.id.as_str())),
    )
    .await?;
    Ok(())
}

/// Run the next batch of an import (the job's payload names it).
pub async fn run_batch(store: &Store, payload: &Value) -> Result<(), DomainError> {
    let id = payload["import_id"].as_str().unwrap_or("");
    let Some(imp) = load(store.db.reader(), id).await? else {
        return Ok(());
    };
    let dry = match imp.status.as_str() {
        "running" => false,
        "dry_running" => true,
        _ => return Ok(()),
    };
    let actor = match principal_of(store, &imp.user_id).await {
        Ok(p) => p,
        Err(e) => return fail(store, &imp, &e.to_string()).await,
    };
    let (Some(object), Some(m)) = (Object::parse(&imp.object), imp.mapping.clone()) else {
        return fail(store, &imp, "the import has no mapping").await;
    };
    let Some(def) = super::importable(object) else {
        return fail(store, &imp, "this record type cannot be imported").await;
    };
    let mut kinds: HashMap<String, FieldKind> = def
        .fields
        .iter()
        .map(|f| (f.name.to_string(), f.kind))
        .collect();
    for c in crate::custom_fields::active(store, object).await? {
        kinds.insert(c.key.clone(), c.base_kind());
    }
    let mut user_keys = HashMap::new();
    for u in users::list(store, &actor).await.unwrap_or_default() {
        if u.active {
            user_keys.insert(u.email.to_lowercase(), u.id.clone());
            user_keys.insert(u.name.clone(), u.id.clone());
            user_keys.insert(u.id.clone(), u.id);
        }
    }
    let mut choices = HashMap::new();
    for f in def.fields {
        if let FieldKind::Picklist(list) = f.kind {
            let mut labels = HashMap::new();
            for v in crate::picklists::values(&store.db, list).await? {
                labels.insert(v.label_zh.to_lowercase(), v.value.clone());
                labels.insert(v.label_en.to_lowercase(), v.value.clone());
                labels.insert(v.value.to_lowercase(), v.value);
            }
            choices.insert(f.name.to_string(), labels);
        }
    }
    let accounts = &actor.owners(objects::ACCOUNT, Action::Read);
    let ctx = Arc::new(batch::Ctx {
        store: store.clone(),
        actor,
        def,
        mapping: m,
        kinds,
        users: user_keys,
        accounts: accounts.clone(),
        choices,
        dry,
    });
    let fast = Arc::new(ctx.fast().await?);
    // Batches are checked by a task of their own and written by this one: the checking and
    // the database's writing thread keep both cores busy, also while a transaction commits,
    // and the writer is handed its next statement without waiting for a check to give way.
    let (send, receive) = tokio::sync::mpsc::channel(CHECKED_AHEAD);
    let committed = Arc::new(AtomicU64::new(0));
    let imp = Arc::new(imp);
    let checker = tokio::spawn(check_ahead(
        ctx.clone(),
        fast.clone(),
        imp.clone(),
        send,
        committed.clone(),
    ));
    // The writing runs on a thread of its own (`threads`): each statement's answer from the
    // database's writing thread is taken up at once, not after the checking tasks give way.
    let writing = {
        let (ctx, fast, imp, payload) = (ctx.clone(), fast.clone(), imp.clone(), payload.clone());
        async move { write_all(&ctx, &fast, &imp, &payload, receive, &committed).await }
    };
    let outcome = match super::threads::writer() {
        Some(writer) => writer.spawn(writing).await.unwrap_or_else(|e| {
            Err(DomainError::Internal(format!(
                "an import's writing task ended: {e}"
            )))
        }),
        None => writing.await,
    };
    // The checker stops once the receiver is gone (it was dropped by `write_all`).
    if let Err(e) = checker.await {
        tracing::warn!(error = %e, "an import's checking task ended abnormally");
    }
    outcome
}

/// Checked batches waiting for the writer (besides the one being checked).
const CHECKED_AHEAD: usize = 2;

/// How long one job goes on committing batches before the next job takes over: a job's lease
/// stays far from running out, and the importer's rights are read again.
const RUN_FOR: std::time::Duration = std::time::Duration::from_secs(20);

/// A batch checked and on its way to the writer.
struct Ready {
    checked: batch::Checked,
    /// Its links to the import and failed rows, as statements (`bookkeeping`).
    bookkeeping: Vec<sea_orm::Statement>,
    /// Its number, from 0 in this job.
    seq: u64,
    /// The last row it holds.
    last: i64,
    /// Whether it is the import's last batch.
    last_batch: bool,
}

/// Read and check the import's batches in order, from its checkpoint, and hand them to the
/// writer until there are no more rows or the writer stops taking them. `committed`: the
/// first batch not committed yet; what the batches before it held is visible to lookups.
async fn check_ahead(
    ctx: Arc<batch::Ctx>,
    fast: Arc<FastCreate>,
    imp: Arc<Import>,
    send: tokio::sync::mpsc::Sender<Result<Ready, DomainError>>,
    committed: Arc<AtomicU64>,
) {
    let mut earlier = batch::Earlier::default();
    let mut next = imp.processed + 1;
    for seq in 0.. {
        earlier.forget_before(committed.load(Ordering::Acquire));
        earlier.start(seq);
        let checked = async {
            let rows = rows_between(&ctx.store, &imp.id, next, next + BATCH).await?;
            let last = rows.last().map_or(next - 1, |(n, _)| *n);
            let checked = ctx.check(&fast, &rows, &mut earlier).await?;
            let bookkeeping = bookkeeping(ctx.store.db.backend(), &imp.id, &checked, ctx.dry);
            Ok(Ready {
                checked,
                bookkeeping,
                seq,
                last,
                last_batch: rows.len() as i64 != BATCH || last + 1 >= imp.total_rows,
            })
        }
        .await;
        let stop = match &checked {
            Ok(ready) => {
                next = ready.last + 1;
                ready.last_batch
            }
            Err(_) => true,
        };
        if send.send(checked).await.is_err() || stop {
            return;
        }
    }
}

/// Write the checked batches, `BATCHES_PER_COMMIT` to a transaction that also moves the
/// checkpoint, until the import is done or this job has run for `RUN_FOR` (its last
/// transaction then enqueues the next job).
async fn write_all(
    ctx: &batch::Ctx,
    fast: &FastCreate,
    imp: &Import,
    payload: &Value,
    mut receive: tokio::sync::mpsc::Receiver<Result<Ready, DomainError>>,
    committed: &AtomicU64,
) -> Result<(), DomainError> {
    let store = &ctx.store;
    let id = imp.id.as_str();
    let started = std::time::Instant::now();
    let mut processed = imp.processed;
    loop {
        // The first batch of a transaction is checked before the write lock is taken. The
        // checker ends only after the last batch, which ends this loop first, or after an
        // error it sends; ending otherwise (a panic) fails the job, which runs again.
        let Some(first) = receive.recv().await else {
            return Err(checking_stopped());
        };
        let mut ready = first?;
        let now = store.now();
        let tx = store.db.begin().await?;
        // Take the import: another runner of the same batch (a job run twice after a crash)
        // finds the checkpoint moved and does nothing.
        let mine = exec(
            &tx,
            Query::update()
                .table(t("imports"))
                .value(t("updated_at"), now)
                .and_where(Expr::col(t("id")).eq(id))
                .and_where(Expr::col(t("processed")).eq(processed))
                .and_where(Expr::col(t("status")).eq(imp.status.as_str())),
        )
        .await?;
        if mine != 1 {
            return Ok(());
        }
        // Foreign keys are checked at the commit (see `records::batch::record_statements`).
        rapport_db::dialect::defer_foreign_keys(&tx).await?;
        let (mut created, mut updated, mut skipped, mut failed) = (0i64, 0i64, 0i64, 0i64);
        let mut left = BATCHES_PER_COMMIT;
        let mut tokens = Vec::new();
        let mut trail = Vec::new();
        loop {
            let outcome = ctx
                .write(&tx, fast, id, ready.checked, &mut tokens, &mut trail)
                .await?;
            created += outcome.created.len() as i64;
            updated += outcome.updated.len() as i64;
            skipped += outcome.skipped;
            failed += outcome.failed.len() as i64;
            run_all(&tx, ready.bookkeeping).await?;
            processed = ready.last;
            left -= 1;
            if ready.last_batch || left == 0 {
                break;
            }
            match receive.recv().await {
                Some(next) => ready = next?,
                None => return Err(checking_stopped()),
            }
        }
        // The transaction's search tokens together: on SQLite, a generation of their own.
        let bulk =
            rapport_db::search_index::generations::write_bulk(&tx, ctx.def.key(), tokens).await?;
        let more = !ready.last_batch;
        let hand_over = more && started.elapsed() >= RUN_FOR;
        if hand_over {
            enqueue(
                &tx,
                now,
                id,
                payload["run"].as_str().unwrap_or(""),
                processed,
            )
            .await?;
        }
        // The audit entries last: the chain's head is locked only for the commit, so anyone
        // audited meanwhile (reading the import's progress) does not wait for the batches.
        finish_transaction(
            &tx,
            ctx,
            imp,
            now,
            processed,
            [created, updated, skipped, failed],
            more,
            trail,
        )
        .await?;
        // Counted before the commit: a check that sees this transaction's claims of key locks
        // then knows them for the import's own.
        fast.committing();
        tx.commit().await.map_err(db_err)?;
        committed.store(ready.seq + 1, Ordering::Release);
        if let Some(bulk) = bulk {
            let filters = ctx.store.db.token_filters().clone();
            tokio::task::spawn_blocking(move || filters.adopt(bulk));
        }
        if !more || hand_over {
            return Ok(());
        }
    }
}

fn checking_stopped() -> DomainError {
    DomainError::internal("the import's checking stopped before its last batch")
}

/// Move the checkpoint and add a transaction's counts, then record the transaction's audit
/// entries (`trail`); when the import is done, record it as done, audit it and tell the
/// importer.
#[allow(clippy::too_many_arguments)]
async fn finish_transaction<C: ConnectionTrait>(
    tx: &C,
    ctx: &batch::Ctx,
    imp: &Import,
    now: DateTime<Utc>,
    processed: i64,
    [created, updated, skipped, failed]: [i64; 4],
    more: bool,
    mut trail: Vec<audit::Entry>,
) -> Result<(), DomainError> {
    let id = imp.id.as_str();
    let dry = ctx.dry;
    let finished_status = if dry { "dry_done" } else { "done" };
    let mut q = Query::update();
    q.table(t("imports"))
        .value(t("processed"), processed)
        .value(
            t("created_count"),
            Expr::col(t("created_count")).add(created),
        )
        .value(
            t("updated_count"),
            Expr::col(t("updated_count")).add(updated),
        )
        .value(
            t("skipped_count"),
            Expr::col(t("skipped_count")).add(skipped),
        )
        .value(t("failed_count"), Expr::col(t("failed_count")).add(failed))
        .value(t("updated_at"), now)
        .and_where(Expr::col(t("id")).eq(id));
    if !more {
        q.value(t("status"), finished_status)
            .value(t("finished_at"), now);
    }
    exec(tx, &q).await?;
    let record_trail = |trail: Vec<audit::Entry>| async move {
        let actor = ctx.actor.principal();
        audit::record_many(tx, &ctx.store, trail.iter().map(|e| (actor, e))).await
    };
    if more {
        return record_trail(trail).await;
    }
    let totals = super::load(tx, id).await?.ok_or(DomainError::NotFound)?;
    let counts = json!({"created": totals.created, "updated": totals.updated,
        "skipped": totals.skipped, "failed": totals.failed, "dry_run": dry});
    trail.push(
        audit::Entry::new(if dry {
            "import.dry_run_finished"
        } else {
            "import.finished"
        })
        .object("import", id)
        .details(json!({"object": ctx.def.key(), "file_name": imp.file_name, "counts": counts})),
    );
    notifications::notify(
        tx,
        now,
        notifications::NewNotification {
            user_id: imp.user_id.clone(),
            kind: "import_finished",
            subject: imp.file_name.clone(),
            object: Some(("import".into(), id.to_string())),
            actor_id: None,
            payload: counts,
            dedupe_key: Some(format!("import:{id}:{finished_status}")),
        },
    )
    .await?;
    record_trail(trail).await
}

/// The statements that link the records a batch creates or updates to the import (for its
/// undo and its report) and keep its failed rows with their reasons (the error file).
fn bookkeeping(
    backend: sea_orm::DatabaseBackend,
    id: &str,
    checked: &batch::Checked,
    dry: bool,
) -> Vec<sea_orm::Statement> {
    let mut out = Vec::new();
    let (created, updated) = checked.ids();
    let links: Vec<(&String, &str)> = created
        .into_iter()
        .map(|r| (r, "created"))
        .chain(updated.iter().map(|r| (r, "updated")))
        .collect();
    if !dry {
        for chunk in links.chunks(1000) {
            let mut q = Query::insert();
            q.into_table(t("import_records"))
                .columns(["import_id", "record_id", "action"].map(t))
                .on_conflict(
                    sea_orm::sea_query::OnConflict::columns(["import_id", "record_id"].map(t))
                        .do_nothing()
                        .to_owned(),
                );
            for (r, action) in chunk {
                q.values_panic([id.into(), r.as_str().into(), (*action).into()]);
            }
            out.push(build(backend, &q));
        }
    }
    for chunk in checked.failed().chunks(1000) {
        let mut q = Query::insert();
        q.into_table(t("import_errors"))
            .columns(["import_id", "row_no", "reason"].map(t));
        for (row_no, why) in chunk {
            q.values_panic([
                id.into(),
                (*row_no).into(),
                why.chars().take(1000).collect::<String>().into(),
            ]);
        }
        out.push(build(backend, &q));
    }
    out
}
