//! What the metrics endpoint reports of the work held in the database: the job queue, and
//! the imports and exports under way. Read at each scrape, a few aggregate queries.

use crate::Store;
use chrono::{DateTime, Utc};
use rapport_core::DomainError;
use rapport_db::{get, one};
use sea_orm::sea_query::{Alias, Expr, Query};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// The counts of one scrape.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Jobs due now and not started.
    pub jobs_due: i64,
    /// How long the oldest of them has been due, in seconds (0 when none).
    pub jobs_oldest_due_secs: f64,
    pub jobs_running: i64,
    /// Jobs that used up their attempts (kept for retry from the jobs page).
    pub jobs_failed: i64,
    /// Imports writing or checking rows now, their rows in all and the rows done.
    pub imports_running: i64,
    pub import_rows: i64,
    pub import_rows_done: i64,
    /// Exports being written now.
    pub exports_running: i64,
}

fn count_where(table: &str, col: &str, values: &[&str]) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .expr_as(Expr::cust("COUNT(*)"), t("n"))
        .from(t(table))
        .and_where(Expr::col(t(col)).is_in(values.iter().copied()))
        .to_owned()
}

pub async fn snapshot(store: &Store) -> Result<Snapshot, DomainError> {
    let c = store.db.reader();
    let now = store.now();
    let n = |row: Option<sea_orm::QueryResult>| -> Result<i64, DomainError> {
        row.map_or(Ok(0), |r| get::<i64>(&r, "n"))
    };
    let due = one(
        c,
        Query::select()
            .expr_as(Expr::cust("COUNT(*)"), t("n"))
            .expr_as(Expr::col(t("run_at")).min(), t("oldest"))
            .from(t("jobs"))
            .and_where(Expr::col(t("status")).eq(crate::jobs::PENDING))
            .and_where(Expr::col(t("run_at")).lte(now)),
    )
    .await?;
    let (jobs_due, oldest) = match &due {
        Some(r) => (
            get::<i64>(r, "n")?,
            get::<Option<DateTime<Utc>>>(r, "oldest")?,
        ),
        None => (0, None),
    };
    let imports = one(
        c,
        Query::select()
            .expr_as(Expr::cust("COUNT(*)"), t("n"))
            .expr_as(
                Expr::cust("CAST(COALESCE(SUM(total_rows), 0) AS BIGINT)"),
                t("total"),
            )
            .expr_as(
                Expr::cust("CAST(COALESCE(SUM(processed), 0) AS BIGINT)"),
                t("done"),
            )
            .from(t("imports"))
            .and_where(Expr::col(t("status")).is_in(["running", "dry_running"])),
    )
    .await?;
    let (imports_running, import_rows, import_rows_done) = match &imports {
        Some(r) => (
            get::<i64>(r, "n")?,
            get::<i64>(r, "total")?,
            get::<i64>(r, "done")?,
        ),
        None => (0, 0, 0),
    };
    Ok(Snapshot {
        jobs_due,
        jobs_oldest_due_secs: oldest
            .map(|o| (now - o).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0),
        jobs_running: n(one(c, &count_where("jobs", "status", &[crate::jobs::RUNNING])).await?)?,
        jobs_failed: n(one(c, &count_where("jobs", "status", &[crate::jobs::FAILED])).await?)?,
        imports_running,
        import_rows,
        import_rows_done,
        exports_running: n(one(c, &count_where("exports", "status", &["running"])).await?)?,
    })
}
