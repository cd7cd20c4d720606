//! Running an import: one batch of rows per job, in one transaction with the checkpoint, the
//! counts, the failed rows and the next batch's job. A batch interrupted by a crash is rolled
//! back whole and run again after restart; a batch that committed is never run twice (the
//! checkpoint is checked and moved in the same transaction).

use super::{batch, load, rows_between, Import};
use crate::db::{db_err, exec};
use crate::scope::owner_filter;
use crate::{audit, jobs, notifications, users, Store};
use chrono::{DateTime, Utc};
use rapport_core::fields::FieldKind;
use rapport_core::{Action, DomainError, Object, Principal};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The job kind of one batch.
pub const IMPORT_JOB: &str = "import.batch";
/// Rows read, checked and written together.
const BATCH: i64 = 2000;
/// Batches per transaction (per job). A commit writes every index page the transaction
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

/// The importing user as a principal with their current rights.
pub(crate) async fn principal_of(store: &Store, user_id: &str) -> Result<Principal, DomainError> {
    let user = users::get_user(store, user_id)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| DomainError::Conflict("the importing user is no longer active".into()))?;
    let (grants, _) = users::grants_of(store.db.reader(), user_id).await?;
    Ok(Principal {
        user_id: user.id,
        email: user.email,
        department_id: user.department_id,
        grants,
        session_id: None,
        token_id: None,
        read_only: false,
        viewed_by: None,
        ip: None,
        user_agent: None,
    })
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
    let ctx = batch::Ctx {
        store,
        actor: &actor,
        def,
        mapping: &m,
        kinds,
        users: user_keys,
        accounts: owner_filter(store, &actor, Object::Account, Action::Read).await?,
        choices,
        dry,
    };
    // The first batch is checked before the write lock is taken (nothing is written yet).
    let fast = ctx.fast().await?;
    let mut earlier = batch::Earlier::default();
    let mut rows = rows_between(store, id, imp.processed + 1, imp.processed + 1 + BATCH).await?;
    let mut checked = ctx.check(&fast, &rows, &mut earlier).await?;
    let now = store.now();
    let tx = store.db.begin().await?;
    // Take the import: another runner of the same batch (a job run twice after a crash) finds
    // the checkpoint moved and does nothing.
    let mine = exec(
        &tx,
        Query::update()
            .table(t("imports"))
            .value(t("updated_at"), now)
            .and_where(Expr::col(t("id")).eq(id))
            .and_where(Expr::col(t("processed")).eq(imp.processed))
            .and_where(Expr::col(t("status")).eq(imp.status.as_str())),
    )
    .await?;
    if mine != 1 {
        return Ok(());
    }
    // Batch k is written while batch k+1 is checked: the writing happens on the database's
    // own thread, the checking on this task, so both cores work.
    let (mut created, mut updated, mut skipped, mut failed) = (0i64, 0i64, 0i64, 0i64);
    let mut last = imp.processed;
    let mut more;
    let mut left = BATCHES_PER_COMMIT;
    loop {
        last = rows.last().map_or(last, |(n, _)| *n);
        more = rows.len() as i64 == BATCH && last + 1 < imp.total_rows;
        left -= 1;
        let next = if more && left > 0 {
            rows = rows_between(store, id, last + 1, last + 1 + BATCH).await?;
            Some(&rows)
        } else {
            None
        };
        let (outcome, next) = tokio::join!(ctx.write(&tx, &fast, id, checked), async {
            match next {
                Some(rows) => Some(ctx.check(&fast, rows, &mut earlier).await),
                None => None,
            }
        });
        let outcome = outcome?;
        created += outcome.created.len() as i64;
        updated += outcome.updated.len() as i64;
        skipped += outcome.skipped;
        failed += outcome.failed.len() as i64;
        if !dry {
            record_links(&tx, id, &outcome).await?;
        }
        record_failures(&tx, id, &outcome).await?;
        match next {
            Some(next) => checked = next?,
            None => break,
        }
    }
    let finished_status = if dry { "dry_done" } else { "done" };
    let mut q = Query::update();
    q.table(t("imports"))
        .value(t("processed"), last)
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
    exec(&tx, &q).await?;
    if more {
        enqueue(&tx, now, id, payload["run"].as_str().unwrap_or(""), last).await?;
    } else {
        let totals = super::load(&tx, id).await?.ok_or(DomainError::NotFound)?;
        let counts = json!({"created": totals.created, "updated": totals.updated,
            "skipped": totals.skipped, "failed": totals.failed, "dry_run": dry});
        audit::record(
            &tx,
            store,
            &actor,
            audit::Entry::new(if dry {
                "import.dry_run_finished"
            } else {
                "import.finished"
            })
            .object("import", id)
            .details(json!({"object": def.key(), "file_name": imp.file_name, "counts": counts})),
        )
        .await?;
        notifications::notify(
            &tx,
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
    }
    tx.commit().await.map_err(db_err)
}

/// Link the records a batch created or updated to the import (for its undo and its report).
async fn record_links<C: ConnectionTrait>(
    tx: &C,
    id: &str,
    outcome: &batch::Outcome,
) -> Result<(), DomainError> {
    let links: Vec<(&String, &str)> = outcome
        .created
        .iter()
        .map(|r| (r, "created"))
        .chain(outcome.updated.iter().map(|r| (r, "updated")))
        .collect();
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
        exec(tx, &q).await?;
    }
    Ok(())
}

/// Keep a batch's failed rows with their reasons (the error file).
async fn record_failures<C: ConnectionTrait>(
    tx: &C,
    id: &str,
    outcome: &batch::Outcome,
) -> Result<(), DomainError> {
    for chunk in outcome.failed.chunks(1000) {
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
        exec(tx, &q).await?;
    }
    Ok(())
}
