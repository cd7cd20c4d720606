//! Document numbers: a prefix, the year and a sequence that restarts every year
//! (`Q-2026-0001`), taken from the `counters` table inside the creating transaction so that
//! concurrent creations never share a number and a rolled-back creation takes none.

use rapport_core::DomainError;
use rapport_db::{build, db_err, get};
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::ConnectionTrait;

/// Take the next number of the record type `object_key` for `year`, with its `prefix`.
pub async fn next<C: ConnectionTrait>(
    c: &C,
    object_key: &str,
    prefix: &str,
    year: i32,
) -> Result<String, DomainError> {
    let key = format!("{object_key}:{year}");
    let q = Query::insert()
        .into_table(Alias::new("counters"))
        .columns([Alias::new("key"), Alias::new("value")])
        .values_panic([key.into(), 1i64.into()])
        .on_conflict(
            OnConflict::column(Alias::new("key"))
                .value(
                    Alias::new("value"),
                    Expr::col((Alias::new("counters"), Alias::new("value"))).add(1i64),
                )
                .to_owned(),
        )
        .returning_col(Alias::new("value"))
        .to_owned();
    let row = c
        .query_one(build(c.get_database_backend(), &q))
        .await
        .map_err(db_err)?
        .ok_or_else(|| DomainError::Internal("the counter returned no value".into()))?;
    let n: i64 = get(&row, "value")?;
    Ok(format!("{prefix}-{year}-{n:04}"))
}
