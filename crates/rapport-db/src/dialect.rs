//! The one place where SQL differs between SQLite and PostgreSQL. Nothing above this crate asks
//! which backend it runs on: it calls a function here that says what it wants done.

use crate::error::db_err;
use rapport_core::DomainError;
use sea_orm::sea_query::Value as SqlValue;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement};

/// Hold a lock on each of `keys` (any text) until the transaction ends, so that of two
/// transactions writing the same key one waits for the other. PostgreSQL: an advisory
/// transaction lock per key, taken in the order given (callers sort them, so two transactions
/// never wait for each other in a circle). SQLite: nothing to do, a write transaction holds the
/// database's one write lock from its start ([`crate::Db::begin`]).
pub async fn lock_keys(tx: &DatabaseTransaction, keys: &[String]) -> Result<(), DomainError> {
    if tx.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    for key in keys {
        tx.execute(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [key.as_str().into()],
        ))
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

/// `INSERT [OR ROLLBACK] INTO "table" ("col", ...) VALUES (?, ...), ...` with the rows'
/// values bound in order (`$n` placeholders on PostgreSQL). Built as text: sea-query's
/// builder copies every value twice on the way, which cost more than the INSERT's own
/// preparation. `table` and `cols` are the schema's own names, never input.
///
/// On SQLite it is `INSERT OR ROLLBACK`: a row that breaks a constraint ends the whole
/// transaction, as the callers' error handling does anyway, and SQLite then keeps no
/// statement journal (a copy of every page the statement changes, kept so that a failed
/// statement could be undone on its own; ADR 0020).
pub fn multi_row_insert(
    backend: DatabaseBackend,
    table: &str,
    cols: &[String],
    rows: Vec<Vec<SqlValue>>,
) -> Statement {
    use std::fmt::Write;
    let width = cols.len();
    let mut sql = String::with_capacity(64 + cols.len() * 24 + rows.len() * width * 4);
    sql.push_str(if backend == DatabaseBackend::Sqlite {
        "INSERT OR ROLLBACK INTO \""
    } else {
        "INSERT INTO \""
    });
    sql.push_str(table);
    sql.push_str("\" (");
    for (i, c) in cols.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('"');
        sql.push_str(c);
        sql.push('"');
    }
    sql.push_str(") VALUES ");
    let mut n = 0;
    for (r, row) in rows.iter().enumerate() {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for i in 0..row.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            n += 1;
            if backend == DatabaseBackend::Sqlite {
                sql.push('?');
            } else {
                let _ = write!(sql, "${n}");
            }
        }
        sql.push(')');
    }
    Statement::from_sql_and_values(backend, sql, rows.into_iter().flatten())
}
