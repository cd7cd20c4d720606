//! Every place an encrypted value is stored, in one registry: the record types' sensitive
//! fields and sealed custom values (from the types themselves, so a new type brings its own)
//! and the few tables outside the record engine. Key rotation, `keys status` and `keys retire`
//! walk this list and count from the data itself; [`unregistered`] names any `…_enc` column
//! of the schema that the list lacks, so a column added later cannot be left on an old key.

use crate::records::RecordTypes;
use crate::Db;
use crate::Keyring;
use rapport_core::DomainError;
use rapport_db::dialect::{any_cell, schema_columns, AnyCell};
use rapport_db::{build, db_err};
use sea_orm::sea_query::{Alias, Expr, Query, SimpleExpr, Value as SqlValue};
use sea_orm::{ConnectionTrait, Order};
use std::collections::BTreeMap;

/// One encrypted column. A value's associated data names the row by `keys` (their values
/// joined with `:`), as the code that wrote it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub table: &'static str,
    pub column: String,
    pub keys: &'static [&'static str],
    /// Rows read at a time (export chunks are large).
    pub batch: u64,
}

const BY_ID: &[&str] = &["id"];

/// Encrypted columns outside the record types.
const OTHERS: &[(&str, &str, &[&str], u64)] = &[
    ("users", "phone_enc", BY_ID, 1000),
    ("users", "totp_secret_enc", BY_ID, 1000),
    ("users", "totp_pending_enc", BY_ID, 1000),
    ("users", "calendar_feed_enc", BY_ID, 1000),
    ("smtp_servers", "password_enc", BY_ID, 1000),
    ("backup_targets", "secret_enc", BY_ID, 1000),
    ("export_chunks", "data_enc", &["export_id", "seq"], 8),
    ("import_rows", "cells_enc", &["import_id", "row_no"], 1000),
    (
        "subject_keys",
        "key_enc",
        &["object_type", "object_id"],
        1000,
    ),
];

/// Every encrypted column: each record type's sensitive fields and its sealed custom values,
/// then the tables outside the engine.
pub fn registry(types: RecordTypes) -> Vec<Column> {
    let mut out = Vec::new();
    for def in types.all() {
        for f in def.fields.iter().filter(|f| f.sensitive) {
            out.push(Column {
                table: def.table,
                column: format!("{}_enc", f.name),
                keys: BY_ID,
                batch: 1000,
            });
        }
        out.push(Column {
            table: def.table,
            column: "custom_enc".into(),
            keys: BY_ID,
            batch: 1000,
        });
    }
    out.extend(OTHERS.iter().map(|&(table, column, keys, batch)| Column {
        table,
        column: column.into(),
        keys,
        batch,
    }));
    out
}

/// Columns of the schema named like encrypted ones (`…_enc`) that the registry lacks.
pub async fn unregistered(db: &Db, registry: &[Column]) -> Result<Vec<String>, DomainError> {
    Ok(schema_columns(db.reader())
        .await?
        .into_iter()
        .filter(|(_, c)| c.ends_with("_enc"))
        .filter(|(t, c)| !registry.iter().any(|r| r.table == t && &r.column == c))
        .map(|(t, c)| format!("{t}.{c}"))
        .collect())
}

/// A stored value that does not decrypt with the loaded keys.
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub table: &'static str,
    pub column: String,
    /// The row, as its associated data names it.
    pub row: String,
    pub why: String,
}

/// What [`scan`] found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Values per key id (`?` for a value that is not a ciphertext at all).
    pub by_key: BTreeMap<String, u64>,
    /// Values per key id, per `table.column`.
    pub by_column: BTreeMap<String, BTreeMap<String, u64>>,
    pub unreadable: Vec<Unreadable>,
}

/// Count every stored value by the key that encrypted it and try to open each: what
/// `keys status` shows and `keys retire` checks.
pub async fn scan(db: &Db, ring: &Keyring, registry: &[Column]) -> Result<Scan, DomainError> {
    let mut scan = Scan::default();
    for col in registry {
        let place = format!("{}.{}", col.table, col.column);
        walk(db, col, |row, stored| {
            let kid = Keyring::key_id_of(stored).unwrap_or("?").to_string();
            *scan.by_key.entry(kid.clone()).or_default() += 1;
            *scan
                .by_column
                .entry(place.clone())
                .or_default()
                .entry(kid)
                .or_default() += 1;
            if let Err(e) = ring.decrypt_bytes(col.table, &col.column, row, stored) {
                scan.unreadable.push(Unreadable {
                    table: col.table,
                    column: col.column.clone(),
                    row: row.to_string(),
                    why: e.to_string(),
                });
            }
            Ok(None)
        })
        .await?;
    }
    Ok(scan)
}

/// What [`reencrypt`] did.
#[derive(Debug, Default)]
pub struct Reencrypted {
    pub values: u64,
    /// Values left as they were because they do not decrypt.
    pub unreadable: Vec<Unreadable>,
}

/// Re-encrypt every value that is not under the active key. A value is replaced only if it
/// is still the one read, so a concurrent edit is never overwritten; one that does not
/// decrypt is left alone and reported. `progress` hears each column's running count.
pub async fn reencrypt(
    db: &Db,
    ring: &Keyring,
    registry: &[Column],
    mut progress: impl FnMut(&Column, u64),
) -> Result<Reencrypted, DomainError> {
    let active = ring.active_key_id().to_string();
    let mut out = Reencrypted::default();
    for col in registry {
        let mut done = 0u64;
        walk(db, col, |row, stored| {
            if Keyring::key_id_of(stored) == Some(active.as_str()) {
                return Ok(None);
            }
            match ring.decrypt_bytes(col.table, &col.column, row, stored) {
                Ok(plain) => {
                    done += 1;
                    Ok(Some(ring.encrypt_bytes(
                        col.table,
                        &col.column,
                        row,
                        &plain,
                    )?))
                }
                Err(e) => {
                    out.unreadable.push(Unreadable {
                        table: col.table,
                        column: col.column.clone(),
                        row: row.to_string(),
                        why: e.to_string(),
                    });
                    Ok(None)
                }
            }
        })
        .await?;
        out.values += done;
        progress(col, done);
    }
    Ok(out)
}

/// Read every non-null value of `col` in key order, a batch at a time, and hand each to
/// `visit` with its row's name; a value `visit` returns replaces the one read (in one
/// transaction per batch, only where the stored value is still the one read).
async fn walk(
    db: &Db,
    col: &Column,
    mut visit: impl FnMut(&str, &str) -> Result<Option<String>, DomainError>,
) -> Result<(), DomainError> {
    let backend = db.backend();
    let keys = col.keys;
    let key_expr = |vals: Option<&[SqlValue]>| -> SimpleExpr {
        let cols: Vec<SimpleExpr> = keys
            .iter()
            .map(|k| Expr::col(Alias::new(*k)).into())
            .collect();
        match vals {
            None if cols.len() == 1 => cols[0].clone(),
            None => Expr::tuple(cols).into(),
            Some(v) if v.len() == 1 => Expr::val(v[0].clone()).into(),
            Some(v) => Expr::tuple(v.iter().map(|x| Expr::val(x.clone()).into())).into(),
        }
    };
    let mut after: Option<Vec<SqlValue>> = None;
    loop {
        let mut q = Query::select();
        q.columns(keys.iter().map(|k| Alias::new(*k)))
            .column(Alias::new(&col.column))
            .from(Alias::new(col.table))
            .and_where(Expr::col(Alias::new(&col.column)).is_not_null())
            .limit(col.batch);
        for k in keys {
            q.order_by(Alias::new(*k), Order::Asc);
        }
        if let Some(a) = &after {
            q.and_where(Expr::expr(key_expr(None)).gt(key_expr(Some(a))));
        }
        let rows = db
            .reader()
            .query_all(build(backend, &q))
            .await
            .map_err(db_err)?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut writes = Vec::new();
        for r in &rows {
            let mut vals = Vec::with_capacity(keys.len());
            let mut names = Vec::with_capacity(keys.len());
            for k in keys {
                match any_cell(backend, r, k)? {
                    AnyCell::Int(i) => {
                        names.push(i.to_string());
                        vals.push(SqlValue::BigInt(Some(i)));
                    }
                    AnyCell::Text(t) => {
                        names.push(t.clone());
                        vals.push(SqlValue::String(Some(Box::new(t))));
                    }
                    other => {
                        return Err(DomainError::Internal(format!(
                            "{}.{k} holds {other:?}, not a key",
                            col.table
                        )))
                    }
                }
            }
            let stored: String = r.try_get("", &col.column).map_err(db_err)?;
            if let Some(new) = visit(&names.join(":"), &stored)? {
                writes.push((vals.clone(), stored, new));
            }
            after = Some(vals);
        }
        if !writes.is_empty() {
            let tx = db.begin().await?;
            for (vals, old, new) in writes {
                let mut u = Query::update();
                u.table(Alias::new(col.table))
                    .value(Alias::new(&col.column), new)
                    .and_where(Expr::col(Alias::new(&col.column)).eq(old));
                for (k, v) in keys.iter().zip(vals) {
                    u.and_where(Expr::col(Alias::new(*k)).eq(v));
                }
                tx.execute(build(backend, &u)).await.map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)?;
        }
        if (rows.len() as u64) < col.batch {
            return Ok(());
        }
    }
}
