//! The read journal (ADR 0017): on SQLite, entries that go with no other write (reads,
//! searches, sign-ins) are made durable in a small database file of their own beside the
//! main one, and moved into the hash-chained trail about once a second.
//!
//! Every commit to the main database makes each reader connection drop its whole page cache
//! when it next reads (WAL mode). A commit per list request's audit entry meant every page
//! was read cold; with the journal the main database sees one audit commit a second.
//!
//! An entry is acknowledged once its journal transaction commits (synchronous = FULL). A move
//! inserts the entries into `audit_log` and records the last journal id it took in
//! `audit_head.journal_moved`, in one transaction; only then are they deleted from the
//! journal. A crash between the two leaves entries in both, and the next move skips those at
//! or below `journal_moved`, so none is lost and none is written twice.

use super::threads::Threads;
use chrono::{DateTime, Utc};
use rapport_core::DomainError;
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One journal entry: who, when and what, as the trail records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JournalEntry {
    pub at: DateTime<Utc>,
    /// The user the trail names: the administrator when one viewed as another user.
    pub actor_id: String,
    pub email: String,
    pub session_id: Option<String>,
    pub token_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub details: serde_json::Value,
}

/// The journal file of one database.
pub struct Journal {
    conn: Mutex<Connection>,
    /// The thread the journal's work runs on ([`blocking`]; ADR 0018).
    thread: Threads<()>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").finish_non_exhaustive()
    }
}

fn err(e: impl std::fmt::Display) -> DomainError {
    DomainError::Internal(format!("audit journal: {e}"))
}

impl Journal {
    /// The journal of the database file `db_file` (`<db_file>-audit-journal`), created if
    /// missing.
    pub fn open(db_file: &str) -> Result<Journal, DomainError> {
        let conn = Connection::open(format!("{db_file}-audit-journal")).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        // Ids only grow (AUTOINCREMENT), even after the moved entries are deleted: a move
        // skips ids it has already taken.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS pending (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 entry TEXT NOT NULL
             );",
        )
        .map_err(err)?;
        Ok(Journal {
            conn: Mutex::new(conn),
            thread: Threads::start("rapport-journal", vec![()])?,
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, DomainError> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| err("a journal user panicked"))?;
        f(&mut conn).map_err(err)
    }

    /// Append entries in one durable transaction.
    pub fn append(&self, entries: &[JournalEntry]) -> Result<(), DomainError> {
        let texts = entries
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare_cached("INSERT INTO pending (entry) VALUES (?1)")?;
                for t in &texts {
                    stmt.execute([t])?;
                }
            }
            tx.commit()
        })
    }

    /// Up to `limit` of the oldest entries, with their ids.
    pub fn oldest(&self, limit: usize) -> Result<Vec<(i64, JournalEntry)>, DomainError> {
        let rows: Vec<(i64, String)> = self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT id, entry FROM pending ORDER BY id LIMIT ?1")?;
            let rows = stmt
                .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        rows.into_iter()
            .map(|(id, text)| Ok((id, serde_json::from_str(&text).map_err(err)?)))
            .collect()
    }

    /// Delete the entries up to `id` (they are in the trail).
    pub fn forget(&self, id: i64) -> Result<(), DomainError> {
        self.with(|c| {
            c.execute("DELETE FROM pending WHERE id <= ?1", [id])
                .map(|_| ())
        })
    }

    /// Make the next id greater than `id`: a journal file created anew (lost, or beside a
    /// restored database) must not hand out ids the trail has already taken.
    pub fn ids_after(&self, id: i64) -> Result<(), DomainError> {
        self.with(|c| {
            let last: Option<i64> = c
                .query_row(
                    "SELECT seq FROM sqlite_sequence WHERE name = 'pending'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            match last {
                Some(last) if last >= id => {}
                Some(_) => {
                    c.execute(
                        "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'pending'",
                        [id],
                    )?;
                }
                None => {
                    c.execute(
                        "INSERT INTO sqlite_sequence (name, seq) VALUES ('pending', ?1)",
                        [id],
                    )?;
                }
            }
            Ok(())
        })
    }
}

impl Journal {
    /// Run `f` on the journal's own thread (its work blocks).
    pub async fn on_thread<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Journal) -> Result<T, DomainError> + Send + 'static,
    ) -> Result<T, DomainError> {
        let j = Arc::clone(self);
        self.thread.run(move |_: &mut ()| f(&j)).await
    }
}
