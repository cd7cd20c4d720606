//! Reader connections to SQLite that return a page's rows without sqlx (ADR 0016).
//!
//! sqlx hands SQLite rows one at a time from its connection thread, so pages were read as one
//! packed JSON row ([`crate::all_rows`]): SQLite wrote every cell as JSON text and the server
//! parsed it back, a fifth of a list request's time. A [`LiteReaders`] connection steps the
//! statement on its own thread ([`super::threads`]) and returns the cells as they are, in one
//! hand-off.
//!
//! Only plain values are bound here (integers, reals, text, bytes, NULL); a statement with
//! any other value returns `None` from [`LiteReaders::rows`] and its caller reads it through
//! sqlx, so a value is never written to SQLite in a form sqlx would not have written.

use super::threads::Threads;
use rapport_core::DomainError;
use rusqlite::types::{Value as Cell, ValueRef};
use rusqlite::{Connection, OpenFlags};
use sea_orm::sea_query::Value;
use std::time::Duration;

/// Prepared statements each connection keeps (list pages differ by filter, sort and limit).
const STATEMENTS_KEPT: usize = 64;

/// A fixed set of read-only connections to one SQLite file, each on a thread of its own
/// ([`Threads`], ADR 0018).
#[derive(Debug)]
pub struct LiteReaders {
    workers: Threads<Connection>,
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
            workers: Threads::start("rapport-reader", conns)?,
        })
    }

    /// Every row of `sql` with `values` bound, each as its cells in column order; `None`
    /// when a value is not one this reader binds (the caller reads through sqlx instead).
    pub async fn rows(&self, sql: String, values: &[Value]) -> Result<Option<Grid>, DomainError> {
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

fn run(conn: &Connection, sql: &str, values: &[Cell]) -> Result<Grid, DomainError> {
    let mut stmt = conn.prepare_cached(sql).map_err(lite_err)?;
    let mut grid = Grid::new(stmt.column_count());
    let mut rows = stmt
        .query(rusqlite::params_from_iter(values))
        .map_err(lite_err)?;
    while let Some(row) = rows.next().map_err(lite_err)? {
        for i in 0..grid.width {
            let cell = row.get_ref(i).map_err(lite_err)?;
            grid.push(cell).map_err(|e| {
                DomainError::Internal(format!("database: column {i} is not UTF-8: {e}"))
            })?;
        }
    }
    Ok(grid)
}

/// The rows a reader read: every cell in one vector, row after row, and the bytes of every
/// text and blob cell in one buffer each. A list page is some 1,500 cells; one allocation per
/// text cell, made on the reader's thread and freed on the runtime's, was most of the
/// allocator's share of a list request.
#[derive(Debug, Default, PartialEq)]
pub struct Grid {
    width: usize,
    cells: Vec<Slot>,
    text: String,
    blobs: Vec<u8>,
}

/// A cell of a [`Grid`]; text and blobs as their range in the grid's buffers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Slot {
    Null,
    Integer(i64),
    Real(f64),
    Text(usize, usize),
    Blob(usize, usize),
}

/// A cell of a [`Grid`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellRef<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl Grid {
    fn new(width: usize) -> Grid {
        Grid {
            width,
            cells: Vec::with_capacity(width * 8),
            text: String::with_capacity(4096),
            blobs: Vec::new(),
        }
    }

    /// Add the next cell; rusqlite's own conversion panics on text that is not UTF-8, here it
    /// is an error.
    fn push(&mut self, cell: ValueRef<'_>) -> Result<(), std::str::Utf8Error> {
        let slot = match cell {
            ValueRef::Null => Slot::Null,
            ValueRef::Integer(i) => Slot::Integer(i),
            ValueRef::Real(f) => Slot::Real(f),
            ValueRef::Text(t) => {
                let start = self.text.len();
                self.text.push_str(std::str::from_utf8(t)?);
                Slot::Text(start, self.text.len())
            }
            ValueRef::Blob(b) => {
                let start = self.blobs.len();
                self.blobs.extend_from_slice(b);
                Slot::Blob(start, self.blobs.len())
            }
        };
        self.cells.push(slot);
        Ok(())
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.cells.len().checked_div(self.width).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cells of row `i`.
    pub(crate) fn row(&self, i: usize) -> &[Slot] {
        self.cells
            .get(i * self.width..(i + 1) * self.width)
            .unwrap_or(&[])
    }

    /// A cell of this grid, borrowed.
    pub(crate) fn cell(&self, slot: Slot) -> CellRef<'_> {
        match slot {
            Slot::Null => CellRef::Null,
            Slot::Integer(i) => CellRef::Integer(i),
            Slot::Real(f) => CellRef::Real(f),
            Slot::Text(a, b) => CellRef::Text(self.text.get(a..b).unwrap_or_default()),
            Slot::Blob(a, b) => CellRef::Blob(self.blobs.get(a..b).unwrap_or_default()),
        }
    }

    /// One row of `cells` (for tests).
    #[cfg(test)]
    pub(crate) fn from_cells(cells: &[ValueRef<'_>]) -> Grid {
        let mut g = Grid::new(cells.len());
        for &c in cells {
            g.push(c).unwrap_or_else(|e| panic!("{e}"));
        }
        g
    }

    /// Every row, each as its cells (for tests).
    #[cfg(test)]
    pub fn to_rows(&self) -> Vec<Vec<CellRef<'_>>> {
        (0..self.len())
            .map(|i| self.row(i).iter().map(|&s| self.cell(s)).collect())
            .collect()
    }
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
            rows.to_rows(),
            vec![
                vec![
                    CellRef::Text("b"),
                    CellRef::Null,
                    CellRef::Null,
                    CellRef::Null
                ],
                vec![
                    CellRef::Text("c"),
                    CellRef::Integer(3),
                    CellRef::Real(1.5),
                    CellRef::Null
                ],
            ]
        );
        let blob = readers
            .rows("SELECT b, id FROM t WHERE id = 'a'".into(), &[])
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_default();
        assert_eq!(
            blob.to_rows(),
            vec![vec![CellRef::Blob(&[0x00, 0xff]), CellRef::Text("a")]]
        );
        // A value sqlx would write in its own form is not bound here.
        let t = rapport_core::Clock::now(&rapport_core::SystemClock);
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
            assert_eq!(n.to_rows(), vec![vec![CellRef::Integer(3)]]);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
