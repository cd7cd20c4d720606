//! Continuous backup of a SQLite database: every committed transaction is read from the WAL
//! before a checkpoint may let SQLite overwrite it (ADR 0037).
//!
//! Each [`Shipper::tick`] takes SQLite's write lock (`BEGIN IMMEDIATE` on a connection of its
//! own), reads the transactions committed since the last tick, moves its **pin** (a read
//! transaction on another connection) to that point, and lets go; then it checkpoints. A
//! checkpoint never copies frames past a reader's snapshot (and none at all while a reader
//! reads the database file alone), and SQLite starts the WAL again from its beginning
//! (overwriting old frames) only once every frame was copied: so no frame the shipper has not
//! read can be overwritten, whoever checkpoints. Writers wait only while new frames are read.
//! While a shipper runs, the background [`super::checkpointer::Checkpointer`] stands aside.
//!
//! A restart that was not ours (an erasure's truncating checkpoint, another process's
//! checkpoint) is told apart by the WAL header's checkpoint sequence and reported as a gap:
//! the caller then starts a new full copy.

use super::wal::{self, Cursor, Found, Frames};
use chrono::{DateTime, Utc};
use rapport_core::DomainError;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the connections of a database share with its shipper.
#[derive(Debug, Default)]
pub struct Shipping {
    /// A shipper makes the checkpoints: the background checkpointer skips its own.
    pub(crate) active: AtomicBool,
    /// Counts checkpoints that started the WAL again outside the shipper
    /// ([`crate::Db::scrub_wal`]).
    pub(crate) foreign_restarts: AtomicU64,
}

/// WAL frames (4 KiB pages) past which a tick copies the whole log with writers waiting, so
/// that it can start again: bounds the WAL at about this size under steady writes.
const RESTART_FRAMES: u32 = 16_384;

/// How long the pin stays off after an erasure asked for the WAL to be emptied.
const HOLD_FOR_ERASURE: Duration = Duration::from_secs(2);

fn err(e: impl std::fmt::Display) -> DomainError {
    DomainError::Internal(format!("continuous backup: {e}"))
}

/// What one tick read.
#[derive(Debug)]
pub struct Tick {
    /// When the write lock was held: every transaction committed before it was read, none
    /// after it.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Committed frames in the order they were written (a WAL that started again gives a
    /// second part).
    pub frames: Vec<Frames>,
    /// Frames may have been lost since the last tick (the WAL started again without this
    /// shipper reading it to the end first): what follows cannot continue the same chain.
    pub gap: bool,
}

pub struct Shipper {
    db_file: PathBuf,
    wal_file: PathBuf,
    lock: Connection,
    ckpt: Connection,
    /// Holds a read transaction at the last point read, so that no checkpoint copies (and no
    /// writer then overwrites) frames after it.
    pin: Connection,
    pinned: bool,
    /// After an erasure asked for the WAL to be emptied, the pin stays off until then, so
    /// that its truncating checkpoint (which waits for every reader) can run.
    hold_until: Option<std::time::Instant>,
    /// The last checkpoint copied every frame up to the pin.
    copied_to_pin: bool,
    cursor: Option<Cursor>,
    shared: Arc<Shipping>,
    restarts_seen: u64,
}

impl Drop for Shipper {
    fn drop(&mut self) {
        self.shared.active.store(false, Ordering::SeqCst);
    }
}

/// The first salt of a WAL header, which every start of the log adds one to.
pub fn salt1(salt: &[u8; 8]) -> u32 {
    u32::from_be_bytes([salt[0], salt[1], salt[2], salt[3]])
}

fn open(path: &Path) -> Result<Connection, DomainError> {
    let c = Connection::open(path).map_err(err)?;
    c.busy_timeout(Duration::from_secs(60)).map_err(err)?;
    Ok(c)
}

impl Shipper {
    /// A shipper of the database `db_file` (SQLite in WAL mode) whose connections share
    /// `shared` ([`crate::Db::shipping`]). Reads start with the next tick or snapshot.
    pub fn open(db_file: &Path, shared: Arc<Shipping>) -> Result<Shipper, DomainError> {
        let lock = open(db_file)?;
        let ckpt = open(db_file)?;
        let pin = open(db_file)?;
        let mut wal_file = db_file.as_os_str().to_owned();
        wal_file.push("-wal");
        shared.active.store(true, Ordering::SeqCst);
        let restarts_seen = shared.foreign_restarts.load(Ordering::SeqCst);
        Ok(Shipper {
            db_file: db_file.to_path_buf(),
            wal_file: wal_file.into(),
            lock,
            ckpt,
            pin,
            pinned: false,
            hold_until: None,
            copied_to_pin: false,
            cursor: None,
            shared,
            restarts_seen,
        })
    }

    /// Reads what was committed since the last tick and checkpoints; `now` gives the time
    /// while no transaction can commit.
    pub fn tick(&mut self, now: &dyn Fn() -> DateTime<Utc>) -> Result<Tick, DomainError> {
        self.lock.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
        let mut restart = false;
        let read = self.read_locked(now()).and_then(|t| {
            // While pinned, the log never starts again. When nothing was written since the
            // last tick, or the log has grown past RESTART_FRAMES, copy it all now, with
            // writers waiting, and pin the database file itself: the next writer may then
            // start the log again, and nothing unread is in it.
            // Only when the last checkpoint copied everything up to the pin: then what is left
            // is what came since (moments of writes), and no reader holds an older snapshot
            // that would keep the log from starting again anyway.
            let long = self.cursor.is_some_and(|c| c.frames >= RESTART_FRAMES);
            if self.pinned && self.copied_to_pin && !t.gap && (t.frames.is_empty() || long) {
                self.pin.execute_batch("COMMIT").map_err(err)?;
                self.pinned = false;
                self.checkpoint()?;
                restart = true;
            }
            self.repin(t.gap)?;
            Ok(t)
        });
        let end = self.lock.execute_batch("ROLLBACK").map_err(err);
        let tick = read?;
        end?;
        // Outside the lock: the pin keeps it from copying frames not read yet.
        if self.pinned && !restart {
            self.checkpoint()?;
        }
        Ok(tick)
    }

    /// Moves the pin to the point just read (the write lock is held). After a gap it is let
    /// go instead: an erasure's truncating checkpoint waits for every reader.
    fn repin(&mut self, gap: bool) -> Result<(), DomainError> {
        if self.pinned {
            self.pin.execute_batch("COMMIT").map_err(err)?;
            self.pinned = false;
        }
        let held = self
            .hold_until
            .is_some_and(|t| std::time::Instant::now() < t);
        if !gap && !held {
            self.pin
                .execute_batch("BEGIN; SELECT count(*) FROM sqlite_master;")
                .map_err(err)?;
            self.pinned = true;
        }
        Ok(())
    }

    /// Copies the database into `dest` (a new file) as it is after the transactions this call
    /// returns, which continue the previous tick's. Writers wait only while those are read;
    /// the copy is made from a read transaction.
    pub fn snapshot(
        &mut self,
        dest: &Path,
        now: &dyn Fn() -> DateTime<Utc>,
    ) -> Result<Tick, DomainError> {
        // A new chain starts pinned: after an erasure, once its truncation had its moment.
        if let Some(t) = self.hold_until.take() {
            std::thread::sleep(t.saturating_duration_since(std::time::Instant::now()));
        }
        let snap = open(&self.db_file)?;
        self.lock.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
        let read = self.read_locked(now()).and_then(|t| {
            snap.execute_batch("BEGIN; SELECT count(*) FROM sqlite_master;")
                .map_err(err)?;
            self.repin(false)?;
            Ok(t)
        });
        let end = self.lock.execute_batch("ROLLBACK").map_err(err);
        let tick = read?;
        end?;
        copy(&snap, dest)?;
        snap.execute_batch("COMMIT").map_err(err)?;
        Ok(tick)
    }

    fn read_locked(&mut self, at: DateTime<Utc>) -> Result<Tick, DomainError> {
        let mut tick = Tick {
            at,
            frames: Vec::new(),
            gap: false,
        };
        let restarts = self.shared.foreign_restarts.load(Ordering::SeqCst);
        if restarts != self.restarts_seen {
            self.restarts_seen = restarts;
            tick.gap = self.cursor.is_some();
            self.hold_until = Some(std::time::Instant::now() + HOLD_FOR_ERASURE);
        }
        let before = self.cursor;
        match wal::read_committed(&self.wal_file, &mut self.cursor).map_err(err)? {
            Found::Empty => {}
            Found::Same(f) => {
                if !f.bytes.is_empty() {
                    tick.frames.push(f);
                }
            }
            Found::Restarted(f) => {
                // Sound only if the pin held since the last read (so every frame before the
                // start was read), and SQLite started the log once since: each start adds one
                // to the first salt, kept in the shared WAL index (the header's checkpoint
                // sequence is each connection's own count, and differs between processes).
                let ours = self.pinned
                    && before.is_some_and(|b| salt1(&f.salt) == salt1(&b.salt).wrapping_add(1));
                if !ours {
                    tracing::warn!(
                        pinned = self.pinned,
                        before = ?before.map(|b| salt1(&b.salt)),
                        now = salt1(&f.salt),
                        "the WAL started again without the continuous backup reading it to the end"
                    );
                    tick.gap = true;
                }
                if !f.bytes.is_empty() {
                    tick.frames.push(f);
                }
            }
        }
        Ok(tick)
    }

    fn checkpoint(&mut self) -> Result<(), DomainError> {
        let copied: i64 = self
            .ckpt
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(2))
            .map_err(err)?;
        let read = self.cursor.map_or(0, |c| i64::from(c.frames));
        self.copied_to_pin = copied >= read;
        Ok(())
    }
}

/// Copies the database `from` is reading (in its current read transaction) into the new
/// file `dest`, page for page: WAL frames read after the copy apply onto it.
fn copy(from: &Connection, dest: &Path) -> Result<(), DomainError> {
    let mut to = Connection::open(dest).map_err(err)?;
    let backup = rusqlite::backup::Backup::new(from, &mut to).map_err(err)?;
    match backup.step(-1).map_err(err)? {
        rusqlite::backup::StepResult::Done => Ok(()),
        other => Err(err(format!("the copy stopped early ({other:?})"))),
    }
}

/// Copies the SQLite database `src` (which others may be writing) into the new file `dest`
/// from one read transaction. Returns the time that transaction shows (read while writers
/// waited): every commit before it is in the copy, none after.
pub fn copy_file(
    src: &Path,
    dest: &Path,
    now: &dyn Fn() -> DateTime<Utc>,
) -> Result<DateTime<Utc>, DomainError> {
    let lock = open(src)?;
    let from = open(src)?;
    lock.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
    let at = now();
    let began = from
        .execute_batch("BEGIN; SELECT count(*) FROM sqlite_master;")
        .map_err(err);
    lock.execute_batch("ROLLBACK").map_err(err)?;
    began?;
    copy(&from, dest)?;
    from.execute_batch("COMMIT").map_err(err)?;
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)]
    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    fn count(path: &Path) -> i64 {
        let c = Connection::open(path).unwrap();
        c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_snapshot_and_the_ticks_after_it_rebuild_every_commit() {
        let db = crate::temp_file("ship");
        let w = Connection::open(&db).unwrap();
        w.busy_timeout(Duration::from_millis(50)).unwrap();
        w.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x BLOB);")
            .unwrap();
        let shared = Arc::new(Shipping::default());
        let mut s = Shipper::open(&db, shared.clone()).unwrap();
        let base = db.with_file_name("base.db");
        for _ in 0..10 {
            w.execute("INSERT INTO t VALUES (randomblob(2000))", [])
                .unwrap();
        }
        s.snapshot(&base, &now).unwrap();
        assert_eq!(count(&base), 10);
        let mut shipped = Vec::new();
        for round in 0..30 {
            for _ in 0..7 {
                w.execute("INSERT INTO t VALUES (randomblob(2000))", [])
                    .unwrap();
            }
            let t = s.tick(&now).unwrap();
            assert!(!t.gap, "round {round}: a gap");
            shipped.extend(t.frames);
            // Another connection checkpoints as hard as it can: the pin keeps it from
            // copying (and a writer then overwriting) frames not read yet.
            let _ = w.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
            if round % 10 == 9 {
                // A quiet moment: the log may start again.
                let t = s.tick(&now).unwrap();
                assert!(!t.gap && t.frames.is_empty(), "round {round}");
            }
        }
        let mut f = std::fs::OpenOptions::new().write(true).open(&base).unwrap();
        for fr in &shipped {
            wal::apply(&mut f, fr.page_size, &fr.bytes).unwrap();
        }
        drop(f);
        assert_eq!(count(&base), 10 + 30 * 7);
        // The WAL started again along the way (at a quiet moment, then a writer came).
        assert!(shipped.iter().any(|f| f.first_frame == 0));
    }

    #[test]
    fn an_erasures_truncation_is_a_gap() {
        let db = crate::temp_file("ship-gap");
        let w = Connection::open(&db).unwrap();
        w.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x);")
            .unwrap();
        let shared = Arc::new(Shipping::default());
        let mut s = Shipper::open(&db, shared.clone()).unwrap();
        s.snapshot(&db.with_file_name("base.db"), &now).unwrap();
        w.execute("INSERT INTO t VALUES (1)", []).unwrap();
        assert!(!s.tick(&now).unwrap().gap);
        // `Db::scrub_wal` counts its truncation: the chain cannot go on across it, and the
        // shipper lets go of its pin so that the truncation can happen.
        shared.foreign_restarts.fetch_add(1, Ordering::SeqCst);
        assert!(s.tick(&now).unwrap().gap);
        assert!(!s.pinned);
        // Held off for a moment: the truncation is not kept waiting by the pin.
        w.execute("INSERT INTO t VALUES (3)", []).unwrap();
        s.tick(&now).unwrap();
        assert!(!s.pinned);
        let (busy, log): (i64, i64) = w
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((busy, log), (0, 0), "the truncation was kept waiting");
        // The next generation starts with a copy, pinned again.
        s.snapshot(&db.with_file_name("base2.db"), &now).unwrap();
        assert!(s.pinned);
        w.execute("INSERT INTO t VALUES (2)", []).unwrap();
        assert!(!s.tick(&now).unwrap().gap);
    }
}
