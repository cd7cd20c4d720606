//! Rows kept exactly as stored, column by column, so an undo can write them back: encrypted
//! columns stay ciphertext, timestamps keep their type on PostgreSQL.

use chrono::{DateTime, Utc};
use rapport_core::DomainError;
use rapport_db::{all, exec};
use sea_orm::sea_query::{Alias, Asterisk, Condition, Expr, Query, SimpleExpr, Value as SqlValue};
use sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One stored value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cell {
    Null,
    Int(i64),
    Bool(bool),
    Time(DateTime<Utc>),
    Float(f64),
    Text(String),
}

impl Cell {
    pub fn text(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn to_sql(&self) -> SqlValue {
        match self {
            Cell::Null => SqlValue::String(None),
            Cell::Int(i) => SqlValue::BigInt(Some(*i)),
            Cell::Bool(b) => SqlValue::Bool(Some(*b)),
            Cell::Time(t) => SqlValue::ChronoDateTimeUtc(Some(Box::new(*t))),
            Cell::Float(f) => SqlValue::Double(Some(*f)),
            Cell::Text(s) => SqlValue::String(Some(Box::new(s.clone()))),
        }
    }

    /// `column = self` (or `IS NULL`).
    pub fn matches(&self, column: &str) -> SimpleExpr {
        let col = Expr::col(Alias::new(column));
        match self {
            Cell::Null => col.is_null(),
            v => col.eq(v.to_sql()),
        }
    }
}

/// A row: column → value.
pub type Row = BTreeMap<String, Cell>;

fn cell(backend: DatabaseBackend, row: &QueryResult, col: &str) -> Result<Cell, DomainError> {
    use rapport_db::dialect::{any_cell, AnyCell};
    Ok(match any_cell(backend, row, col)? {
        AnyCell::Null => Cell::Null,
        AnyCell::Int(i) => Cell::Int(i),
        AnyCell::Bool(b) => Cell::Bool(b),
        AnyCell::Time(t) => Cell::Time(t),
        AnyCell::Float(f) => Cell::Float(f),
        AnyCell::Text(s) => Cell::Text(s),
    })
}

/// The rows of `table` matching `cond`, every column.
pub async fn rows<C: ConnectionTrait>(
    c: &C,
    table: &str,
    cond: Condition,
) -> Result<Vec<Row>, DomainError> {
    let backend = c.get_database_backend();
    let found = all(
        c,
        Query::select()
            .column(Asterisk)
            .from(Alias::new(table))
            .cond_where(cond),
    )
    .await?;
    found
        .iter()
        .map(|r| {
            r.column_names()
                .into_iter()
                .map(|col| Ok((col.clone(), cell(backend, r, &col)?)))
                .collect()
        })
        .collect()
}

/// Insert rows as they were (NULL columns are left to the table's default, which is NULL for
/// every nullable column of the tables kept).
pub async fn insert<C: ConnectionTrait>(
    c: &C,
    table: &str,
    rows: &[Row],
) -> Result<(), DomainError> {
    for row in rows {
        let present: Vec<(&String, &Cell)> =
            row.iter().filter(|(_, v)| **v != Cell::Null).collect();
        if present.is_empty() {
            continue;
        }
        let mut q = Query::insert();
        q.into_table(Alias::new(table))
            .columns(present.iter().map(|(k, _)| Alias::new(k.as_str())));
        q.values(present.iter().map(|(_, v)| v.to_sql().into()))
            .map_err(|e| DomainError::Internal(format!("snapshot insert: {e}")))?;
        exec(c, &q).await?;
    }
    Ok(())
}

/// Set `values` on the row of `table` matching `cond`; the number of rows changed.
pub async fn update<C: ConnectionTrait>(
    c: &C,
    table: &str,
    values: &Row,
    cond: Condition,
) -> Result<u64, DomainError> {
    if values.is_empty() {
        return Ok(0);
    }
    let mut q = Query::update();
    q.table(Alias::new(table));
    for (k, v) in values {
        // An untyped NULL: a NULL bound as text would not go into a number column on
        // PostgreSQL.
        let v: SimpleExpr = match v {
            Cell::Null => Expr::cust("NULL"),
            v => v.to_sql().into(),
        };
        q.value(Alias::new(k.as_str()), v);
    }
    q.cond_where(cond);
    exec(c, &q).await
}
