//! The one place where SQL differs between SQLite and PostgreSQL. Nothing above this crate asks
//! which backend it runs on: it calls a function here that says what it wants done.

use crate::error::db_err;
use rapport_core::DomainError;
use sea_orm::sea_query::{
    Alias, Expr, LockBehavior, LockType, Query, SelectStatement, SimpleExpr, Value as SqlValue,
};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement};

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

/// Lock the rows `pick` selects for the transaction, skipping rows other transactions hold:
/// `FOR UPDATE SKIP LOCKED` on PostgreSQL, where several servers claim from one queue. SQLite
/// needs nothing: its one writer claims alone.
pub fn claim_skipping_locked(backend: DatabaseBackend, pick: &mut SelectStatement) {
    if backend == DatabaseBackend::Postgres {
        pick.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
}

/// Hold the row `id` of `table` until the transaction ends, so that two transactions working
/// for the same row (one person's claims) run one after the other: `SELECT … FOR UPDATE` on
/// PostgreSQL; on SQLite a write transaction already holds the database's one write lock.
pub async fn lock_row(tx: &DatabaseTransaction, table: &str, id: &str) -> Result<(), DomainError> {
    if tx.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let q = Query::select()
        .column(Alias::new("id"))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .lock(LockType::Update)
        .to_owned();
    tx.query_one(crate::statements::build(DatabaseBackend::Postgres, &q))
        .await
        .map_err(db_err)?;
    Ok(())
}

/// The value under `key` in the JSON text column `column`, as text, as a number
/// (`as_type == "numeric"`) or as a boolean (`"boolean"`; SQLite's JSON true and false are
/// already 1 and 0). `column` and `key` are the schema's own names, never input.
pub fn json_field(backend: DatabaseBackend, column: &str, key: &str, as_type: &str) -> SimpleExpr {
    let sql = match (backend == DatabaseBackend::Sqlite, as_type) {
        (true, "numeric") => format!("CAST(json_extract({column}, '$.{key}') AS REAL)"),
        (true, _) => format!("json_extract({column}, '$.{key}')"),
        (false, "numeric") => format!("(({column}::jsonb ->> '{key}')::numeric)"),
        (false, "boolean") => format!("(({column}::jsonb ->> '{key}')::boolean)"),
        (false, _) => format!("({column}::jsonb ->> '{key}')"),
    };
    Expr::cust(sql)
}

/// The rows of `child` naming a row of `parent` through `fk`, as one JSON array of
/// `[col, col…]` per parent row (text; NULL or `[]` when there are none), to read with the
/// parent's page in one statement (a page's contacts with their account links): one query a
/// page instead of two (ADR 0019; on PostgreSQL measured in ADR 0040).
pub fn inline_children(
    backend: DatabaseBackend,
    parent: &str,
    child: &str,
    fk: &str,
    cols: &[&str],
) -> Option<SimpleExpr> {
    let cols = cols.join(", ");
    match backend {
        DatabaseBackend::Sqlite => Some(Expr::cust(format!(
            "(SELECT json_group_array(json_array({cols})) FROM {child} WHERE {child}.{fk} = \"{parent}\".id)"
        ))),
        DatabaseBackend::Postgres => Some(Expr::cust(format!(
            "(SELECT json_agg(json_build_array({cols}))::text FROM {child} WHERE {child}.{fk} = \"{parent}\".id)"
        ))),
        _ => None,
    }
}

/// Check the transaction's foreign keys at its commit rather than statement by statement:
/// SQLite then keeps no statement journal for bulk INSERTs (ADR 0020). PostgreSQL checks
/// them as declared; nothing to do.
pub async fn defer_foreign_keys(tx: &DatabaseTransaction) -> Result<(), DomainError> {
    if tx.get_database_backend() == DatabaseBackend::Sqlite {
        tx.execute_unprepared("PRAGMA defer_foreign_keys = ON")
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

/// Whether one server process owns the database: SQLite (a file one process serves), so work
/// it was doing when it stopped can be taken back at once; PostgreSQL may be shared by several
/// servers, whose leases must run out instead.
pub fn one_server_per_database(backend: DatabaseBackend) -> bool {
    backend == DatabaseBackend::Sqlite
}

/// A column of a row read with every column (`SELECT *`), whatever its type, as the backend
/// returns it: PostgreSQL's typed columns (integers, booleans, times) and SQLite's dynamic
/// ones alike.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyCell {
    Null,
    Int(i64),
    Bool(bool),
    Time(chrono::DateTime<chrono::Utc>),
    Float(f64),
    Text(String),
}

/// Read column `col` of `row` as an [`AnyCell`].
pub fn any_cell(
    backend: DatabaseBackend,
    row: &sea_orm::QueryResult,
    col: &str,
) -> Result<AnyCell, DomainError> {
    fn try_get<T: sea_orm::TryGetable>(row: &sea_orm::QueryResult, col: &str) -> Option<Option<T>> {
        row.try_get::<Option<T>>("", col).ok()
    }
    if let Some(v) = try_get::<i64>(row, col) {
        return Ok(v.map_or(AnyCell::Null, AnyCell::Int));
    }
    if backend == DatabaseBackend::Postgres {
        if let Some(v) = try_get::<i32>(row, col) {
            return Ok(v.map_or(AnyCell::Null, |i| AnyCell::Int(i.into())));
        }
        if let Some(v) = try_get::<bool>(row, col) {
            return Ok(v.map_or(AnyCell::Null, AnyCell::Bool));
        }
        if let Some(v) = try_get::<chrono::DateTime<chrono::Utc>>(row, col) {
            return Ok(v.map_or(AnyCell::Null, AnyCell::Time));
        }
    }
    if let Some(v) = try_get::<String>(row, col) {
        return Ok(v.map_or(AnyCell::Null, AnyCell::Text));
    }
    if let Some(v) = try_get::<f64>(row, col) {
        return Ok(v.map_or(AnyCell::Null, AnyCell::Float));
    }
    Err(DomainError::Internal(format!(
        "column {col} has a type that cannot be read"
    )))
}

/// Every `(table, column)` of the database's own tables, as the schema holds them now: what
/// a check compares with the code's lists (the registry of encrypted columns).
pub async fn schema_columns<C: ConnectionTrait>(
    c: &C,
) -> Result<Vec<(String, String)>, DomainError> {
    let backend = c.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
             WHERE table_schema = current_schema() ORDER BY 1, 2"
        }
        _ => {
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1, 2"
        }
    };
    let rows = c
        .query_all(Statement::from_string(backend, sql))
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String>("", "t").map_err(db_err)?,
                r.try_get::<String>("", "c").map_err(db_err)?,
            ))
        })
        .collect()
}
