//! Statements built with sea-query for whichever backend a connection is on, run, and read.

use crate::error::db_err;
use rapport_core::DomainError;
use sea_orm::sea_query::{
    PostgresQueryBuilder, QueryStatementWriter, SchemaStatementBuilder, SelectStatement,
    SqliteQueryBuilder, UnionType,
};
use sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult, Statement};

/// One `UNION ALL` of `arms` in order, or `None` when there are none.
pub fn union_all(arms: impl IntoIterator<Item = SelectStatement>) -> Option<SelectStatement> {
    arms.into_iter().reduce(|mut u, arm| {
        u.union(UnionType::All, arm);
        u
    })
}

/// Build a sea-query statement for the connection's backend.
pub fn build<S: QueryStatementWriter>(backend: DatabaseBackend, q: &S) -> Statement {
    let (sql, values) = match backend {
        DatabaseBackend::Postgres => q.build(PostgresQueryBuilder),
        _ => q.build(SqliteQueryBuilder),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

pub fn build_schema<S: SchemaStatementBuilder>(backend: DatabaseBackend, q: &S) -> Statement {
    let sql = match backend {
        DatabaseBackend::Postgres => q.build(PostgresQueryBuilder),
        _ => q.build(SqliteQueryBuilder),
    };
    Statement::from_string(backend, sql)
}

pub async fn exec<C: ConnectionTrait, S: QueryStatementWriter>(
    c: &C,
    q: &S,
) -> Result<u64, DomainError> {
    let res = c
        .execute(build(c.get_database_backend(), q))
        .await
        .map_err(db_err)?;
    Ok(res.rows_affected())
}

pub async fn all<C: ConnectionTrait, S: QueryStatementWriter>(
    c: &C,
    q: &S,
) -> Result<Vec<QueryResult>, DomainError> {
    c.query_all(build(c.get_database_backend(), q))
        .await
        .map_err(db_err)
}

pub async fn one<C: ConnectionTrait, S: QueryStatementWriter>(
    c: &C,
    q: &S,
) -> Result<Option<QueryResult>, DomainError> {
    c.query_one(build(c.get_database_backend(), q))
        .await
        .map_err(db_err)
}

/// Read a column; a type mismatch is an internal error, never a panic.
pub fn get<T: sea_orm::TryGetable>(row: &QueryResult, col: &str) -> Result<T, DomainError> {
    row.try_get::<T>("", col).map_err(db_err)
}
