//! Backups proven by restoring them (ADR 0037).
//!
//! - [`archive`]: the encrypted, compressed file format every backup file uses.
//! - [`manifest`]: what a backup holds (tables, row counts, content checksums, audit head),
//!   signed with the backup key.
//! - [`repo`]: the layout of a backup directory (generations, WAL segments).
//! - [`full`]: one consistent copy, taken while the server runs (`rapport backup`).
//! - [`continuous`]: a server's continuous backup: a copy, then every committed transaction.
//! - [`restore`]: rebuilding a database from a generation, to its end or to a point in time,
//!   and checking the result.
//! - [`postgres`]: the same on PostgreSQL, as a logical dump (pg_dump, pg_restore).
//! - [`drill`]: restore drills from the job queue, recorded and reported.
//! - [`keys_export`]: the key file in a password-protected file, to keep beside backups.

pub mod archive;
pub mod continuous;
pub mod drill;
pub mod full;
pub mod keys_export;
pub mod manifest;
pub mod postgres;
pub mod repo;
pub mod restore;
pub mod segment;

pub use archive::BackupKey;
pub use repo::Repo;

/// `path` with `suffix` added to its file name (`rapport.db` → `rapport.db-wal`).
pub(crate) fn with_suffix(path: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    p.into()
}

/// The path of the audit read journal beside the SQLite database `db_file`.
pub fn journal_path(db_file: &std::path::Path) -> std::path::PathBuf {
    with_suffix(db_file, "-audit-journal")
}

/// Backups as a server process is configured for them (scheduled drills, retention).
#[derive(Debug, Clone)]
pub struct Settings {
    pub dir: std::path::PathBuf,
    pub retention: repo::Retention,
    /// How often a restore drill runs (`None`: never).
    pub drill_every: Option<std::time::Duration>,
}
