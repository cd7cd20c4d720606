//! Reader connections to SQLite that return a page's rows without sqlx (ADR 0016).
//!
//! sqlx hands SQLite rows one at a time from its connection thread, so pages were read as one
//! packed JSON row ([`super::all_rows`]): SQLite wrote every cell as JSON text and the server
//! parsed it back, a fifth of a list request's time. A [`LiteReaders`] connection steps the
//! statement on its own thread ([`super::workers`]) and returns the cells as they are, in one
//! hand-off.
//!
//! Only plain values are bound here (integers, reals, text, bytes, NULL); a statement with
//! any other value returns `None` from [`LiteReaders::rows`] and its caller reads it through
//! sqlx, so a value is never written to SQLite in a form sqlx would not have written.

use super::workers::Workers;
use rapport_core::DomainError;
use rusqlite::types::{Value as Cell, ValueRef};
use rusqlite::{Connection, OpenFlags};
use sea_orm::sea_query::Value;
use std::time::Duration;

/// Prepared statements each connection keeps (list pages differ by filter, sort and limit).
const STATEMENTS_KEPT: usize = 64;

/// A fixed set of read-only connections to one SQLite file, each on a thread of its own
/// ([`Workers`], ADR 0018).
#[derive(Debug)]
pub struct LiteReaders {
    workers: Workers<Connection>,
}

fn lite_err(e: rusqlite::Error) -> DomainError {
    DomainError::Internal(format!("database: {e}"))
}

impl LiteReaders {
    /// Open `count` connections to the database file at `path`, each with a page cache of
    /// `cache_kib`. The file must exist and be in WAL mode (the writer set it up).
    pub fn open(path: &str, count: usize, cache_kib: u32) -> Result<LiteReaders, DomainError> {
        let mut conns = Vec::with_capacity(count);
        for _ in 0..count {
            let c = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(lite_err)?;
            c.busy_timeout(Duration::from_secs(10)).map_err(lite_err)?;
            c.execute_batch(&format!(
                "PRAGMA query_only = ON; PRAGMA cache_size = -{cache_kib};"
            ))
            .map_err(lite_err)?;
            c.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
            conns.push(c);
        }
        Ok(LiteReaders {
            workers: Workers::start("rapport-reader", conns)?,
        })
    }

    /// Every row of `sql` with `values` bound, each as its cells in column order; `None`
    /// when a value is not one this reader binds (the caller reads through sqlx instead).
    pub async fn rows(
        &self,
        sql: String,
        values: &[Value],
    ) -> Result<Option<Vec<Vec<Cell>>>, DomainError> {
        let Some(cells) = values.iter().map(to_cell).collect::<Option<Vec<_>>>() else {
            return Ok(None);
        };
        let rows = self
            .workers
            .run(move |conn: &mut Connection| run(conn, &sql, &cells))
            .await?;
        Ok(Some(rows))
    }
}

fn run(conn: &Connection, sql: &str, values: &[Cell]) -> Result<Vec<Vec<Cell>>, DomainError> {
    let mut stmt = conn.prepare_cached(sql).map_err(lite_err)?;
    let n = stmt.column_count();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(values))
        .map_err(lite_err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(lite_err)? {
        let mut cells = Vec::with_capacity(n);
        for i in 0..n {
            cells.push(match row.get_ref(i).map_err(lite_err)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(i) => Cell::Integer(i),
                ValueRef::Real(f) => Cell::Real(f),
                // rusqlite's own conversion panics on text that is not UTF-8.
                ValueRef::Text(t) => Cell::Text(
                    std::str::from_utf8(t)
                        .map_err(|e| {
                            DomainError::Internal(format!("database: column {i} is not UTF-8: {e}"))
                        })?
                        .to_owned(),
                ),
                ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
            });
        }
        out.push(cells);
    }
    Ok(out)
}

/// A bound value as sqlx-sqlite binds it, for the plain kinds.
fn to_cell(v: &Value) -> Option<Cell> {
    fn int<T: Into<i64>>(v: Option<T>) -> Cell {
        v.map_or(Cell::Null, |i| Cell::Integer(i.into()))
    }
    Some(match v {
        Value::Bool(b) => int(b.map(i64::from)),
        Value::TinyInt(i) => int(*i),
        Value::SmallInt(i) => int(*i),
        Value::Int(i) => int(*i),
        Value::BigInt(i) => int(*i),
        Value::TinyUnsigned(i) => int(*i),
        Value::SmallUnsigned(i) => int(*i),
        Value::Unsigned(i) => int(*i),
        Value::BigUnsigned(i) => match i {
            None => Cell::Null,
            Some(i) => Cell::Integer(i64::try_from(*i).ok()?),
        },
        Value::Float(f) => f.map_or(Cell::Null, |f| Cell::Real(f64::from(f))),
        Value::Double(f) => f.map_or(Cell::Null, Cell::Real),
        Value::String(s) => s.as_ref().map_or(Cell::Null, |s| Cell::Text(s.to_string())),
        Value::Char(c) => c.map_or(Cell::Null, |c| Cell::Text(c.to_string())),
        Value::Bytes(b) => b.as_ref().map_or(Cell::Null, |b| Cell::Blob(b.to_vec())),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_rows_and_leaves_other_values_to_sqlx() {
        let dir = std::env::temp_dir().join(format!("rapport-lite-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("t.db");
        let path = path.to_string_lossy().to_string();
        {
            let c = Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
            c.execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (id TEXT, n INTEGER, r REAL, b BLOB);
                 INSERT INTO t VALUES ('a', 1, 0.5, x'00ff'), ('b', NULL, NULL, NULL), ('c', 3, 1.5, NULL);",
            )
            .unwrap_or_else(|e| panic!("{e}"));
        }
        let readers = LiteReaders::open(&path, 2, 1024).unwrap_or_else(|e| panic!("{e}"));
        let rows = readers
            .rows(
                "SELECT id, n, r, b FROM t WHERE n >= ? OR id = ? ORDER BY id".into(),
                &[
                    Value::Int(Some(2)),
                    Value::String(Some(Box::new("b".into()))),
                ],
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("plain values are bound here"));
        assert_eq!(
            rows,
            vec![
                vec![Cell::Text("b".into()), Cell::Null, Cell::Null, Cell::Null],
                vec![
                    Cell::Text("c".into()),
                    Cell::Integer(3),
                    Cell::Real(1.5),
                    Cell::Null
                ],
            ]
        );
        // A value sqlx would write in its own form is not bound here.
        let t = chrono::Utc::now();
        let other = readers
            .rows(
                "SELECT id FROM t WHERE ? IS NOT NULL".into(),
                &[Value::ChronoDateTimeUtc(Some(Box::new(t)))],
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(other.is_none());
        // Readers cannot write, and a bad statement is an error, not a panic.
        assert!(readers.rows("DELETE FROM t".into(), &[]).await.is_err());
        assert!(readers.rows("SELEKT".into(), &[]).await.is_err());
        // Text that is not UTF-8 is an error, not a panic.
        assert!(readers
            .rows("SELECT CAST(x'ff00' AS TEXT)".into(), &[])
            .await
            .is_err());
        // Both connections are still there after the errors.
        for _ in 0..4 {
            let n = readers
                .rows("SELECT count(*) FROM t".into(), &[])
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_default();
            assert_eq!(n, vec![vec![Cell::Integer(3)]]);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
