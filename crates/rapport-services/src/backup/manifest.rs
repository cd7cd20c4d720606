//! What a backup holds, written beside its files and signed with the backup key: when it was
//! taken, by which version, its files with sizes and checksums, every table with its row
//! count and a checksum of its content, and the audit chain's head. A restore checks the
//! database it rebuilt against it.

use super::archive::{BackupKey, Sealed};
use chrono::{DateTime, Utc};
use rapport_core::DomainError;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use subtle::ConstantTimeEq;

pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub generation: String,
    /// The moment the copy shows: every transaction committed before it, none after.
    pub taken_at: DateTime<Utc>,
    /// `sqlite` or `postgres`.
    pub backend: String,
    pub rapport_version: String,
    /// The last migration applied to the copied database.
    pub schema_version: i64,
    /// Fingerprint of the backup key the files are encrypted with.
    pub key: String,
    /// Whether WAL segments follow the copy (a continuous backup, restorable to a point in
    /// time), or it stands alone.
    pub continuous: bool,
    pub files: Vec<FileEntry>,
    pub tables: Vec<TableSum>,
    pub audit_head: Option<AuditHead>,
    /// HMAC-SHA256 of the rest, with the backup key.
    #[serde(default)]
    pub mac: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub name: String,
    pub kind: String,
    #[serde(flatten)]
    pub sealed: Sealed,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableSum {
    pub name: String,
    pub rows: u64,
    /// Sum (mod 2^128) of each row's SHA-256 (first 16 bytes): independent of row order.
    pub checksum: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

impl Manifest {
    fn body(&self) -> Result<Vec<u8>, DomainError> {
        let mut m = self.clone();
        m.mac = String::new();
        serde_json::to_vec(&m).map_err(DomainError::internal)
    }

    pub fn sign(&mut self, key: &BackupKey) -> Result<(), DomainError> {
        self.mac = hex::encode(key.mac(&[b"rapport backup manifest", &self.body()?]));
        Ok(())
    }

    pub fn save(&self, path: &Path) -> Result<(), DomainError> {
        let text = serde_json::to_vec_pretty(self).map_err(DomainError::internal)?;
        let tmp = path.with_extension("part");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::File::open(&tmp)?.sync_all())
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| DomainError::Internal(format!("{}: {e}", path.display())))?;
        super::archive::sync_dir(path);
        Ok(())
    }

    /// Reads a manifest and checks its signature with `key` (when given).
    pub fn load(path: &Path, key: Option<&BackupKey>) -> Result<Manifest, DomainError> {
        let text = std::fs::read(path)
            .map_err(|e| DomainError::Internal(format!("{}: {e}", path.display())))?;
        let m: Manifest = serde_json::from_slice(&text).map_err(|e| {
            DomainError::Internal(format!(
                "backup file damaged: {} is not a manifest: {e}",
                path.display()
            ))
        })?;
        if let Some(key) = key {
            if m.key != key.fingerprint() {
                return Err(DomainError::Internal(format!(
                    "{} was made with backup key {}, not this key file's ({})",
                    path.display(),
                    m.key,
                    key.fingerprint()
                )));
            }
            let want = hex::encode(key.mac(&[b"rapport backup manifest", &m.body()?]));
            if !bool::from(want.as_bytes().ct_eq(m.mac.as_bytes())) {
                return Err(DomainError::Internal(format!(
                    "backup file damaged: {} was changed after it was written",
                    path.display()
                )));
            }
        }
        Ok(m)
    }

    pub fn file(&self, kind: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.kind == kind)
    }
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> DomainError + '_ {
    move |e| DomainError::Internal(format!("{}: {e}", path.display()))
}

/// Every table of the SQLite database `path` with its rows and content checksum, the audit
/// chain's head and the schema version.
pub fn sqlite_contents(
    path: &Path,
) -> Result<(Vec<TableSum>, Option<AuditHead>, i64), DomainError> {
    // Opened for writing (nothing is written): the last connection to close then removes the
    // -wal and -shm files SQLite makes beside a database in WAL mode.
    let c = Connection::open(path).map_err(db_err(path))?;
    let names: Vec<String> = c
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name",
        )
        .and_then(|mut s| {
            s.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(db_err(path))?;
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        let mut stmt = c
            .prepare(&format!("SELECT * FROM \"{}\"", name.replace('"', "\"\"")))
            .map_err(db_err(path))?;
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).map_err(db_err(path))?;
        let mut count = 0u64;
        let mut sum = 0u128;
        while let Some(row) = rows.next().map_err(db_err(path))? {
            let mut h = Sha256::new();
            for i in 0..columns {
                match row.get_ref(i).map_err(db_err(path))? {
                    ValueRef::Null => h.update([0u8]),
                    ValueRef::Integer(v) => {
                        h.update([1u8]);
                        h.update(v.to_be_bytes());
                    }
                    ValueRef::Real(v) => {
                        h.update([2u8]);
                        h.update(v.to_bits().to_be_bytes());
                    }
                    ValueRef::Text(t) => {
                        h.update([3u8]);
                        h.update((t.len() as u64).to_be_bytes());
                        h.update(t);
                    }
                    ValueRef::Blob(b) => {
                        h.update([4u8]);
                        h.update((b.len() as u64).to_be_bytes());
                        h.update(b);
                    }
                }
            }
            let d = h.finalize();
            let mut first = [0u8; 16];
            first.copy_from_slice(&d[..16]);
            sum = sum.wrapping_add(u128::from_be_bytes(first));
            count += 1;
        }
        tables.push(TableSum {
            name,
            rows: count,
            checksum: format!("{sum:032x}"),
        });
    }
    let head = c
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok(AuditHead {
                seq: r.get(0)?,
                hash: r.get(1)?,
            })
        })
        .ok();
    let schema: i64 = c
        .query_row(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0);
    Ok((tables, head, schema))
}

/// How `got` differs from `want`, table by table (empty when they agree).
pub fn differences(want: &[TableSum], got: &[TableSum]) -> Vec<String> {
    let mut out = Vec::new();
    for w in want {
        match got.iter().find(|g| g.name == w.name) {
            None => out.push(format!("table {} is missing", w.name)),
            Some(g) if g.rows != w.rows => out.push(format!(
                "table {} has {} rows, the backup recorded {}",
                w.name, g.rows, w.rows
            )),
            Some(g) if g.checksum != w.checksum => out.push(format!(
                "table {} differs in content from what the backup recorded",
                w.name
            )),
            Some(_) => {}
        }
    }
    for g in got {
        if !want.iter().any(|w| w.name == g.name) {
            out.push(format!("table {} was not in the backup", g.name));
        }
    }
    out
}
