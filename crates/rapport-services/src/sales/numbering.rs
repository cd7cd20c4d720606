//! Document numbers: a prefix, the year and a sequence that restarts every year
//! (`Q-2026-0001`), taken from the `counters` table inside the creating transaction so that
//! concurrent creations never share a number and a rolled-back creation takes none.

use rapport_core::{DomainError, Object};
use rapport_db::{build, db_err, get};
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::ConnectionTrait;

/// The prefix of an object's numbers, if its records are numbered.
pub fn prefix(object: Object) -> Option<&'static str> {
    match object {
        Object::Quote => Some("Q"),
        Object::Contract => Some("C"),
        Object::Order => Some("SO"),
        Object::Payment => Some("P"),
        _ => None,
    }
}

/// Take the next number of `object` for `year`.
pub async fn next<C: ConnectionTrait>(
    c: &C,
    object: Object,
    year: i32,
) -> Result<Option<String>, DomainError> {
    let Some(prefix) = prefix(object) else {
        return Ok(None);
    };
    let key = format!("{}:{year}", object.key());
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
    Ok(Some(format!("{prefix}-{year}-{n:04}")))
}
