//! Reading many rows at once. sqlx hands SQLite rows from its connection thread to the caller
//! one at a time (a thread hand-off per row, ~9 µs a row measured on a 2,000-row export page:
//! most of the time the export spent reading). On SQLite a page is therefore read as **one**
//! row: `json_group_array(json_array(columns…))` over the query, decoded here; PostgreSQL's
//! driver has no such cost and reads rows as they are. Callers read either kind of row through
//! [`RowRef::get`].

use crate::error::db_err;
use crate::sqlite::page_readers::{CellRef as Cell, Grid, Slot};
use crate::statements::{all, build, get};
use chrono::{DateTime, NaiveDateTime, Utc};
use rapport_core::DomainError;
use sea_orm::sea_query::SelectStatement;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult, Statement};
use serde_json::Value;

/// A page's column names and their positions. Looked up for every cell: keyed SipHash was 3%
/// of a list request, and the names are the code's own, not a caller's.
pub type Names = rustc_hash::FxHashMap<String, usize>;

/// The positions of a page's `columns`, by name.
pub fn names(columns: &[String]) -> Names {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), i))
        .collect()
}

/// Rows read by [`all_rows`].
pub enum Rows {
    Results(Vec<QueryResult>),
    /// PostgreSQL rows as its driver read them, read by position (`Db::read_rows`).
    Pg {
        names: Names,
        rows: Vec<PgRow>,
    },
    Packed {
        names: Names,
        rows: Vec<Vec<Value>>,
    },
    /// Read by [`super::lite::LiteReaders`].
    Lite {
        names: Names,
        rows: Grid,
    },
}

/// One row of [`Rows`].
#[derive(Clone, Copy)]
pub enum RowRef<'a> {
    Result(&'a QueryResult),
    Pg {
        names: &'a Names,
        row: &'a PgRow,
    },
    Packed {
        names: &'a Names,
        cells: &'a [Value],
    },
    Lite {
        names: &'a Names,
        grid: &'a Grid,
        cells: &'a [Slot],
    },
}

impl Rows {
    pub fn len(&self) -> usize {
        match self {
            Rows::Results(r) => r.len(),
            Rows::Pg { rows, .. } => rows.len(),
            Rows::Packed { rows, .. } => rows.len(),
            Rows::Lite { rows, .. } => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = RowRef<'_>> {
        (0..self.len()).map(move |i| match self {
            Rows::Results(r) => RowRef::Result(&r[i]),
            Rows::Pg { names, rows } => RowRef::Pg {
                names,
                row: &rows[i],
            },
            Rows::Packed { names, rows } => RowRef::Packed {
                names,
                cells: &rows[i],
            },
            Rows::Lite { names, rows } => RowRef::Lite {
                names,
                grid: rows,
                cells: rows.row(i),
            },
        })
    }
}

impl<'a> RowRef<'a> {
    /// Read a column; a missing column or a type mismatch is an internal error.
    pub fn get<T: FromCell>(&self, col: &str) -> Result<T, DomainError> {
        match self {
            RowRef::Result(r) => T::from_result(r, col),
            RowRef::Pg { names, row } => T::from_pg(row, position(names, col)?, col),
            RowRef::Packed { names, cells } => {
                T::from_json(cell(names, cells, col)?).ok_or_else(|| mismatch(col))
            }
            RowRef::Lite { names, grid, cells } => {
                T::from_lite(grid.cell(*cell(names, cells, col)?)).ok_or_else(|| mismatch(col))
            }
        }
    }

    /// [`RowRef::get`] of the column at `at`, which is named `col` (a page's rows are read
    /// by position; a driver's row by name).
    pub fn get_at<T: FromCell>(&self, at: usize, col: &str) -> Result<T, DomainError> {
        match self {
            RowRef::Result(r) => T::from_result(r, col),
            RowRef::Pg { row, .. } => T::from_pg(row, at, col),
            RowRef::Packed { cells, .. } => {
                T::from_json(cell_at(cells, at, col)?).ok_or_else(|| mismatch(col))
            }
            RowRef::Lite { grid, cells, .. } => {
                T::from_lite(grid.cell(*cell_at(cells, at, col)?)).ok_or_else(|| mismatch(col))
            }
        }
    }
}

impl<'a> RowRef<'a> {
    /// A text column, borrowed from the row where it can be (a page's rows; for a ciphertext
    /// or JSON that is only read to be decoded, a copy would be thrown away at once). Other
    /// kinds of cell are read as [`FromCell`] reads them into a `String`.
    pub fn text(&self, col: &str) -> Result<Option<std::borrow::Cow<'a, str>>, DomainError> {
        let at = match *self {
            RowRef::Lite { names, .. }
            | RowRef::Packed { names, .. }
            | RowRef::Pg { names, .. } => position(names, col)?,
            RowRef::Result(_) => 0,
        };
        self.text_at(at, col)
    }

    /// [`RowRef::text`] of the column at `at`, which is named `col`.
    pub fn text_at(
        &self,
        at: usize,
        col: &str,
    ) -> Result<Option<std::borrow::Cow<'a, str>>, DomainError> {
        use std::borrow::Cow;
        match *self {
            RowRef::Lite { grid, cells, .. } => match grid.cell(*cell_at(cells, at, col)?) {
                Cell::Text(s) => return Ok(Some(Cow::Borrowed(s))),
                Cell::Null => return Ok(None),
                _ => {}
            },
            RowRef::Packed { cells, .. } => match cell_at(cells, at, col)? {
                Value::String(s) => return Ok(Some(Cow::Borrowed(s.as_str()))),
                Value::Null => return Ok(None),
                _ => {}
            },
            RowRef::Pg { row, .. } => {
                use sea_orm::sqlx::Row as _;
                if let Ok(text) = row.try_get::<Option<&'a str>, usize>(at) {
                    return Ok(text.map(Cow::Borrowed));
                }
            }
            RowRef::Result(_) => {}
        }
        Ok(self.get_at::<Option<String>>(at, col)?.map(Cow::Owned))
    }
}

/// The cell of column `col` in a row of cells named by `names`.
fn cell<'c, C>(names: &Names, cells: &'c [C], col: &str) -> Result<&'c C, DomainError> {
    cell_at(cells, position(names, col)?, col)
}

/// Where column `col` is in rows named by `names`.
fn position(names: &Names, col: &str) -> Result<usize, DomainError> {
    names.get(col).copied().ok_or_else(|| no_column(col))
}

/// The cell at `at` of a row, for column `col`.
fn cell_at<'c, C>(cells: &'c [C], at: usize, col: &str) -> Result<&'c C, DomainError> {
    cells.get(at).ok_or_else(|| no_column(col))
}

fn no_column(col: &str) -> DomainError {
    DomainError::Internal(format!("no column {col} in the row"))
}

fn mismatch(col: &str) -> DomainError {
    DomainError::Internal(format!("column {col} does not hold the type asked for"))
}

/// A type a column can be read as, from any kind of row.
pub trait FromCell: Sized {
    fn from_result(row: &QueryResult, col: &str) -> Result<Self, DomainError>;
    /// The cell at `at` (column `col`) of a PostgreSQL row, decoded as its driver decodes it.
    fn from_pg(row: &PgRow, at: usize, col: &str) -> Result<Self, DomainError>;
    /// `None`: the value does not fit the type.
    fn from_json(v: &Value) -> Option<Self>;
    /// `None`: the value does not fit the type. Read as [`FromCell::from_json`] reads the
    /// same value packed as JSON.
    fn from_lite(v: Cell<'_>) -> Option<Self>;
}

impl FromCell for String {
    fn from_result(row: &QueryResult, col: &str) -> Result<Self, DomainError> {
        get(row, col)
    }
    fn from_pg(row: &PgRow, at: usize, col: &str) -> Result<Self, DomainError> {
        pg_cell(row, at, col)
    }
    fn from_json(v: &Value) -> Option<Self> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    fn from_lite(v: Cell<'_>) -> Option<Self> {
        match v {
            Cell::Text(s) => Some(s.to_owned()),
            Cell::Integer(i) => Some(i.to_string()),
            Cell::Real(f) => serde_json::Number::from_f64(f).map(|n| n.to_string()),
            _ => None,
        }
    }
}

impl FromCell for i64 {
    fn from_result(row: &QueryResult, col: &str) -> Result<Self, DomainError> {
        get(row, col)
    }
    fn from_pg(row: &PgRow, at: usize, col: &str) -> Result<Self, DomainError> {
        pg_cell(row, at, col)
    }
    fn from_json(v: &Value) -> Option<Self> {
        v.as_i64()
    }
    fn from_lite(v: Cell<'_>) -> Option<Self> {
        match v {
            Cell::Integer(i) => Some(i),
            _ => None,
        }
    }
}

impl FromCell for bool {
    fn from_result(row: &QueryResult, col: &str) -> Result<Self, DomainError> {
        get(row, col)
    }
    fn from_pg(row: &PgRow, at: usize, col: &str) -> Result<Self, DomainError> {
        pg_cell(row, at, col)
    }
    fn from_json(v: &Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => n.as_i64().map(|i| i != 0),
            _ => None,
        }
    }
    fn from_lite(v: Cell<'_>) -> Option<Self> {
        match v {
            Cell::Integer(i) => Some(i != 0),
            _ => None,
        }
    }
}

impl FromCell for DateTime<Utc> {
    fn from_result(row: &QueryResult, col: &str) -> Result<Self, DomainError> {
        get(row, col)
    }
    fn from_pg(row: &PgRow, at: usize, col: &str) -> Result<Self, DomainError> {
        pg_cell(row, at, col)
    }
    /// SQLite keeps times as RFC 3339 text (as sqlx writes them); older rows may lack the
    /// offset (read as UTC, as sqlx reads them).
    fn from_json(v: &Value) -> Option<Self> {
        parse_time(v.as_str()?)
    }
    fn from_lite(v: Cell<'_>) -> Option<Self> {
        match v {
            Cell::Text(s) => parse_time(s),
            _ => None,
        }
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%F %T%.f", "%FT%T%.f"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                .map(|t| t.and_utc())
        })
}

impl<T: FromCell + sea_orm::TryGetable> FromCell for Option<T> {
    fn from_result(row: &QueryResult, col: &str) -> Result<Self, DomainError> {
        get(row, col)
    }
    fn from_pg(row: &PgRow, at: usize, col: &str) -> Result<Self, DomainError> {
        use sea_orm::sqlx::{Row as _, ValueRef as _};
        let raw = row.try_get_raw(at).map_err(|_| no_column(col))?;
        if raw.is_null() {
            return Ok(None);
        }
        T::from_pg(row, at, col).map(Some)
    }
    fn from_json(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_json(v).map(Some),
        }
    }
    fn from_lite(v: Cell<'_>) -> Option<Self> {
        match v {
            Cell::Null => Some(None),
            v => T::from_lite(v).map(Some),
        }
    }
}

/// The cell at `at` of a PostgreSQL row as `T`; NULL, a missing column or another type is an
/// error naming the column.
fn pg_cell<T>(row: &PgRow, at: usize, col: &str) -> Result<T, DomainError>
where
    T: for<'r> sea_orm::sqlx::Decode<'r, sea_orm::sqlx::Postgres>
        + sea_orm::sqlx::Type<sea_orm::sqlx::Postgres>,
{
    use sea_orm::sqlx::Row as _;
    row.try_get::<T, usize>(at).map_err(|e| match e {
        sea_orm::sqlx::Error::ColumnIndexOutOfBounds { .. } => no_column(col),
        _ => mismatch(col),
    })
}

/// Read every row of `q`, whose selected columns are `columns` (plain column names).
pub async fn all_rows<C: ConnectionTrait>(
    c: &C,
    q: &SelectStatement,
    columns: &[String],
) -> Result<Rows, DomainError> {
    let backend = c.get_database_backend();
    if backend != DatabaseBackend::Sqlite {
        return Ok(Rows::Results(all(c, q).await?));
    }
    let inner = build(backend, q);
    let cells = columns
        .iter()
        .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(", ");
    // The subquery keeps its ORDER BY and LIMIT: SQLite runs it as a co-routine and the
    // aggregate takes its rows in that order.
    let sql = format!(
        "SELECT json_group_array(json_array({cells})) AS page FROM ({}) AS packed",
        inner.sql
    );
    let stmt = Statement {
        sql,
        values: inner.values,
        db_backend: backend,
    };
    let row = c.query_one(stmt).await.map_err(db_err)?;
    let text: Option<String> = match &row {
        Some(r) => get(r, "page")?,
        None => None,
    };
    let rows: Vec<Vec<Value>> = match text {
        Some(t) => serde_json::from_str(&t).map_err(DomainError::internal)?,
        None => Vec::new(),
    };
    Ok(Rows::Packed {
        names: names(columns),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The same assertions for a packed row and a rusqlite row holding the same values.
    fn check(r: RowRef<'_>) {
        assert_eq!(r.get::<String>("id").unwrap(), "a1");
        // Integers beyond 2^53 survive the trip through JSON.
        assert_eq!(r.get::<i64>("n").unwrap(), 9_007_199_254_740_993);
        assert!(r.get::<bool>("flag").unwrap());
        let at: DateTime<Utc> = r.get("at").unwrap();
        assert_eq!(at.timestamp_millis() % 1000, 407);
        let old: DateTime<Utc> = r.get("old_at").unwrap();
        assert_eq!(old, at);
        assert_eq!(r.get::<Option<String>>("none").unwrap(), None);
        assert_eq!(
            r.get::<Option<i64>>("n").unwrap(),
            Some(9_007_199_254_740_993)
        );
        // A missing column or a wrong type is an error, not a panic or a made-up value.
        assert!(r.get::<String>("missing").is_err());
        assert!(r.get::<i64>("id").is_err());
        assert!(r.get::<String>("none").is_err());
        assert!(r.get::<DateTime<Utc>>("id").is_err());
        // `text` borrows what `get::<Option<String>>` would copy, and reads the rest alike.
        assert!(matches!(
            r.text("id").unwrap(),
            Some(std::borrow::Cow::Borrowed("a1"))
        ));
        assert_eq!(r.text("none").unwrap(), None);
        assert_eq!(r.text("n").unwrap().as_deref(), Some("9007199254740993"));
        assert!(r.text("missing").is_err());
    }

    #[test]
    fn packed_and_lite_cells_read_as_sqlx_would_read_them() {
        let names: Names = ["id", "n", "flag", "at", "old_at", "none"]
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), i))
            .collect();
        let packed = [
            json!("a1"),
            json!(9_007_199_254_740_993i64),
            json!(1),
            json!("2026-11-23T14:15:56.407+00:00"),
            json!("2026-11-23 14:15:56.407"),
            Value::Null,
        ];
        check(RowRef::Packed {
            names: &names,
            cells: &packed,
        });
        use rusqlite::types::ValueRef;
        let lite = Grid::from_cells(&[
            ValueRef::Text(b"a1"),
            ValueRef::Integer(9_007_199_254_740_993),
            ValueRef::Integer(1),
            ValueRef::Text(b"2026-11-23T14:15:56.407+00:00"),
            ValueRef::Text(b"2026-11-23 14:15:56.407"),
            ValueRef::Null,
        ]);
        check(RowRef::Lite {
            names: &names,
            grid: &lite,
            cells: lite.row(0),
        });
    }
}
