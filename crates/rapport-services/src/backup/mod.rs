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
//! - [`scheduled`]: full copies from the job queue, recorded and reported.
//! - [`drill`]: restore drills from the job queue, recorded and reported.
//! - [`offsite`]: the backup directory mirrored to S3-compatible object storage.
//! - [`overview`]: what the administrators' backup page and API show.
//! - [`keys_export`]: the key file in a password-protected file, to keep beside backups.

pub mod archive;
pub mod continuous;
pub mod drill;
pub mod full;
pub mod keys_export;
pub mod manifest;
pub mod offsite;
pub mod overview;
pub mod postgres;
pub mod repo;
pub mod restore;
pub mod scheduled;
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

/// Backups as a server process is configured for them (scheduled copies and drills,
/// retention).
#[derive(Debug, Clone)]
pub struct Settings {
    pub dir: std::path::PathBuf,
    pub retention: repo::Retention,
    /// How often a restore drill runs (`None`: never).
    pub drill_every: Option<std::time::Duration>,
    /// How often a full copy is taken: by the continuous backup when `continuous`, else from
    /// the job queue when `scheduled`.
    pub full_every: std::time::Duration,
    /// This process backs its SQLite database up continuously.
    pub continuous: bool,
    /// Full copies are taken from the job queue every `full_every`.
    pub scheduled: bool,
    /// How often the backup directory is mirrored off-site (when a target is configured).
    pub offsite_every: std::time::Duration,
    /// The database's URL (pg_dump and scratch databases on PostgreSQL).
    pub database_url: Option<String>,
}

/// Tells every administrator, in the app and by email, that a backup or a drill failed.
pub(crate) async fn notify_admins<C: sea_orm::ConnectionTrait>(
    c: &C,
    store: &crate::Store,
    subject: String,
    payload: serde_json::Value,
) -> Result<(), rapport_core::DomainError> {
    for admin in crate::users::role_members(store, "administrator").await? {
        crate::notifications::notify(
            c,
            store.now(),
            crate::notifications::NewNotification {
                user_id: admin,
                kind: crate::notifications::BACKUP_FAILED,
                subject: subject.clone(),
                object: None,
                actor_id: None,
                payload: payload.clone(),
                dedupe_key: None,
            },
        )
        .await?;
    }
    Ok(())
}
