//! SQLite's write-ahead log read as a stream of committed transactions, for continuous
//! backups (ADR 0037), and applied back onto a copy of the database to restore it.
//!
//! The file format is SQLite's own (<https://www.sqlite.org/fileformat2.html#walformat>): a
//! 32-byte header (magic, version, page size, checkpoint sequence, two salts, checksum) and
//! frames of a 24-byte header (page number, database size after a commit or 0, the salts,
//! a cumulative checksum) and one page. A frame is valid when its salts match the header's
//! and its checksum continues the chain; frames after the last commit frame belong to a
//! transaction still being written (or rolled back) and are not read.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

const HEADER: usize = 32;
const FRAME_HEADER: usize = 24;

/// Where reading a WAL stopped: the next frame to read and the checksum chain up to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub salt: [u8; 8],
    /// SQLite's checkpoint sequence number from the header: it counts WAL restarts.
    pub ckpt_seq: u32,
    pub page_size: u32,
    /// Frames of this WAL already read (the next frame's index, from 0).
    pub frames: u32,
    big_endian: bool,
    sum: (u32, u32),
}

/// Committed frames read from a WAL: whole transactions only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frames {
    pub salt: [u8; 8],
    pub ckpt_seq: u32,
    pub page_size: u32,
    /// Index (from 0) of the first frame in `bytes` within its WAL.
    pub first_frame: u32,
    /// The frames as SQLite wrote them (header and page each).
    pub bytes: Vec<u8>,
}

impl Frames {
    pub fn count(&self) -> u32 {
        (self.bytes.len() / (FRAME_HEADER + self.page_size as usize)) as u32
    }
}

/// What [`read_committed`] found.
#[derive(Debug)]
pub enum Found {
    /// No WAL, or one with no valid header yet: nothing committed since the last read (when
    /// `cursor` was at the end of the previous log, the caller knows whether that is so).
    Empty,
    /// The same WAL as the cursor's, possibly with new frames (empty when none).
    Same(Frames),
    /// A WAL started again (new salts) since the cursor: its committed frames from the
    /// start, and the header's checkpoint sequence for the caller to check that nothing
    /// was missed in between.
    Restarted(Frames),
}

fn word(b: &[u8], big_endian: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if big_endian {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

fn be(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing `sum`.
fn checksum(data: &[u8], big_endian: bool, sum: (u32, u32)) -> (u32, u32) {
    let (mut s0, mut s1) = sum;
    for pair in data.chunks_exact(8) {
        s0 = s0
            .wrapping_add(word(&pair[..4], big_endian))
            .wrapping_add(s1);
        s1 = s1
            .wrapping_add(word(&pair[4..], big_endian))
            .wrapping_add(s0);
    }
    (s0, s1)
}

/// The header of the WAL at `path`, as a cursor at its first frame; `None` when there is no
/// valid header (no file, an empty one, or one SQLite has not written yet).
fn header(file: &mut File) -> std::io::Result<Option<Cursor>> {
    let mut h = [0u8; HEADER];
    file.seek(SeekFrom::Start(0))?;
    match file.read_exact(&mut h) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let magic = be(&h[0..4]);
    if magic & !1 != 0x377f_0682 {
        return Ok(None);
    }
    let big_endian = magic & 1 == 1;
    let sum = checksum(&h[..24], big_endian, (0, 0));
    if sum != (be(&h[24..28]), be(&h[28..32])) {
        return Ok(None);
    }
    let page_size = be(&h[8..12]);
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Ok(None);
    }
    let mut salt = [0u8; 8];
    salt.copy_from_slice(&h[16..24]);
    Ok(Some(Cursor {
        salt,
        ckpt_seq: be(&h[12..16]),
        page_size,
        frames: 0,
        big_endian,
        sum,
    }))
}

/// Reads the transactions committed to the WAL `path` after `cursor` (from the start when
/// `None`), and moves the cursor past them. Call it while holding SQLite's write lock (no
/// transaction is being written): frames after the last commit frame are then leftovers.
pub fn read_committed(path: &Path, cursor: &mut Option<Cursor>) -> std::io::Result<Found> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Empty),
        Err(e) => return Err(e),
    };
    let Some(head) = header(&mut file)? else {
        return Ok(Found::Empty);
    };
    let restarted = match cursor {
        Some(c) if c.salt == head.salt && c.page_size == head.page_size => false,
        Some(_) => true,
        None => false,
    };
    let mut at = match cursor {
        Some(c) if !restarted => *c,
        _ => head,
    };
    let frame_len = FRAME_HEADER + at.page_size as usize;
    let start = at.frames;
    file.seek(SeekFrom::Start(
        (HEADER + frame_len * at.frames as usize) as u64,
    ))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut bytes = Vec::new();
    let mut frame = vec![0u8; frame_len];
    // Frames read past the last commit, kept until a commit frame makes them whole.
    let mut pending = 0usize;
    let mut pending_at = at;
    loop {
        match reader.read_exact(&mut frame) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        if frame[8..16] != at.salt {
            break;
        }
        let sum = checksum(&frame[..8], at.big_endian, pending_at.sum);
        let sum = checksum(&frame[FRAME_HEADER..], at.big_endian, sum);
        if sum != (be(&frame[16..20]), be(&frame[20..24])) {
            break;
        }
        bytes.extend_from_slice(&frame);
        pending += 1;
        pending_at.sum = sum;
        pending_at.frames += 1;
        if be(&frame[4..8]) != 0 {
            // A commit frame: everything read so far is whole.
            at = pending_at;
            pending = 0;
        }
    }
    bytes.truncate(bytes.len() - pending * frame_len);
    *cursor = Some(at);
    let frames = Frames {
        salt: at.salt,
        ckpt_seq: at.ckpt_seq,
        page_size: at.page_size,
        first_frame: start,
        bytes,
    };
    Ok(if restarted {
        Found::Restarted(frames)
    } else {
        Found::Same(frames)
    })
}

/// Writes the pages of whole transactions in `frames` (as [`Frames::bytes`] holds them) into
/// the database file `db`, as a checkpoint would: each page at its place, and the file cut
/// to the size a commit frame names. Frames after the last commit frame are not applied.
/// Returns the number of transactions applied.
pub fn apply(db: &mut File, page_size: u32, frames: &[u8]) -> std::io::Result<u64> {
    let frame_len = FRAME_HEADER + page_size as usize;
    if !frames.len().is_multiple_of(frame_len) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "WAL frames do not fill whole pages",
        ));
    }
    let mut txn: Vec<&[u8]> = Vec::new();
    let mut applied = 0;
    for frame in frames.chunks_exact(frame_len) {
        txn.push(frame);
        let size = be(&frame[4..8]);
        if size == 0 {
            continue;
        }
        for f in txn.drain(..) {
            let page = be(&f[0..4]);
            if page == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "a WAL frame names page 0",
                ));
            }
            db.seek(SeekFrom::Start((page as u64 - 1) * page_size as u64))?;
            db.write_all(&f[FRAME_HEADER..])?;
        }
        db.set_len(size as u64 * page_size as u64)?;
        applied += 1;
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn open(path: &Path) -> Connection {
        let c = Connection::open(path).unwrap();
        c.execute_batch("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;")
            .unwrap();
        c
    }

    fn wal(path: &Path) -> std::path::PathBuf {
        let mut p = path.as_os_str().to_owned();
        p.push("-wal");
        p.into()
    }

    #[test]
    fn committed_frames_rebuild_the_database() {
        let db = crate::temp_file("wal");
        let c = open(&db);
        c.execute_batch("CREATE TABLE t(x TEXT); INSERT INTO t VALUES ('a');")
            .unwrap();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        // The base: the file as it is now, with the WAL empty.
        let base = std::fs::read(&db).unwrap();
        let mut cursor = None;
        c.execute_batch("INSERT INTO t VALUES ('b'); INSERT INTO t VALUES ('c');")
            .unwrap();
        let Found::Same(first) = read_committed(&wal(&db), &mut cursor).unwrap() else {
            panic!("expected frames of the same WAL")
        };
        assert_eq!(first.first_frame, 0);
        assert!(first.count() >= 2);
        c.execute_batch(&"INSERT INTO t VALUES ('more');".repeat(50))
            .unwrap();
        let Found::Same(second) = read_committed(&wal(&db), &mut cursor).unwrap() else {
            panic!("expected frames of the same WAL")
        };
        assert_eq!(second.first_frame, first.count());
        // Nothing new: no frames.
        let Found::Same(none) = read_committed(&wal(&db), &mut cursor).unwrap() else {
            panic!("expected the same WAL")
        };
        assert!(none.bytes.is_empty());

        let copy = crate::temp_file("wal-copy");
        std::fs::write(&copy, &base).unwrap();
        let mut f = std::fs::OpenOptions::new().write(true).open(&copy).unwrap();
        // Only the first read: the database as it was then.
        assert_eq!(apply(&mut f, first.page_size, &first.bytes).unwrap(), 2);
        drop(f);
        let r = Connection::open(&copy).unwrap();
        let n: i64 = r
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(n, 3);
        drop(r);
        let mut f = std::fs::OpenOptions::new().write(true).open(&copy).unwrap();
        apply(&mut f, second.page_size, &second.bytes).unwrap();
        drop(f);
        let r = Connection::open(&copy).unwrap();
        let n: i64 = r
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(n, 53);
        let ok: String = r
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }

    #[test]
    fn a_transaction_still_being_written_is_not_read() {
        let db = crate::temp_file("wal-open");
        let c = open(&db);
        c.execute_batch("CREATE TABLE t(x BLOB);").unwrap();
        let mut cursor = None;
        read_committed(&wal(&db), &mut cursor).unwrap();
        let before = cursor.unwrap();
        // A transaction larger than the page cache spills frames to the WAL before commit.
        c.execute_batch("PRAGMA cache_size=2; BEGIN;").unwrap();
        for _ in 0..50 {
            c.execute("INSERT INTO t VALUES (zeroblob(3000))", [])
                .unwrap();
        }
        let Found::Same(frames) = read_committed(&wal(&db), &mut cursor).unwrap() else {
            panic!("expected the same WAL")
        };
        assert!(frames.bytes.is_empty(), "uncommitted frames were read");
        assert_eq!(cursor.unwrap(), before);
        c.execute_batch("COMMIT").unwrap();
        let Found::Same(frames) = read_committed(&wal(&db), &mut cursor).unwrap() else {
            panic!("expected the same WAL")
        };
        assert!(frames.count() > 10);
    }

    #[test]
    fn a_restarted_wal_is_told_apart() {
        let db = crate::temp_file("wal-restart");
        let c = open(&db);
        c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
        let mut cursor = None;
        read_committed(&wal(&db), &mut cursor).unwrap();
        let seq = cursor.unwrap().ckpt_seq;
        c.execute_batch("PRAGMA wal_checkpoint(RESTART); INSERT INTO t VALUES (2);")
            .unwrap();
        let Found::Restarted(frames) = read_committed(&wal(&db), &mut cursor).unwrap() else {
            panic!("expected a restarted WAL")
        };
        assert_eq!(frames.first_frame, 0);
        assert_eq!(frames.ckpt_seq, seq + 1);
        assert!(frames.count() >= 1);
    }
}
