//! The database, and nothing of the business: connections and transactions on SQLite or
//! PostgreSQL ([`Db`]), statements built for either ([`statements`]), the one module where
//! the two differ ([`dialect`]), typed errors ([`error`]), the schema's migrations
//! ([`migrate`], one file each), locks on duplicate-rule keys ([`key_locks`]), and the search index of blind-index tokens
//! ([`search_index`]).
//!
//! The SQLite speed machinery stays private behind these: the page readers and their threads,
//! the background WAL checkpointer, the audit read journal, and the search tokens'
//! generations and filters (ADRs 0016-0030).

mod connection;
pub mod dialect;
pub mod error;
pub mod key_locks;
pub mod migrate;
mod postgres;
mod rows;
pub mod search_index;
mod sqlite;
pub mod statements;

pub use connection::Db;
pub use error::db_err;
pub use postgres::PgUrl;
pub use rows::{all_rows, FromCell, Names, RowRef, Rows};
pub use sqlite::audit_journal::{Journal, JournalEntry};
pub use sqlite::checkpointer::Checkpointer;
pub use sqlite::page_readers::{CellRef, Grid};
pub use sqlite::shipper::{
    copy_file as copy_sqlite_file, salt1 as wal_salt1, Shipper, Tick as ShipperTick,
};
pub use sqlite::wal::{apply as apply_wal_frames, Frames as WalFrames};
pub use statements::{all, build, build_schema, exec, get, one, union_all};

/// Tests: the path of a SQLite database file in a new directory of its own under the
/// system's temporary directory, named after `prefix`.
pub fn temp_file(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rapport-{prefix}-{}", uuid::Uuid::new_v4()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot create a temporary directory");
    }
    dir.join("rapport.db")
}
