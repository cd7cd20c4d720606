//! The layout of a backup directory. Each full copy starts a generation, a directory named
//! by its time (so names sort in time order):
//!
//! ```text
//! <dir>/20261207T140312Z-3f9a/
//!     base.rpb            the database, page for page (SQLite) or pg_dump's archive
//!     journal.rpb         the audit read journal (SQLite)
//!     wal/00000001-<first ms>-<last ms>.rpb   committed transactions after the copy
//!     manifest.json       written last: a generation without one is incomplete
//! ```

use super::manifest::Manifest;
use chrono::{DateTime, TimeZone, Utc};
use rapport_core::DomainError;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "manifest.json";
pub const BASE: &str = "base.rpb";
pub const JOURNAL: &str = "journal.rpb";
pub const WAL: &str = "wal";

#[derive(Debug, Clone)]
pub struct Repo {
    pub dir: PathBuf,
}

/// A generation as found on disk.
#[derive(Debug, Clone)]
pub struct Generation {
    pub id: String,
    pub dir: PathBuf,
    /// `None` while (or if) the copy was not finished.
    pub manifest: Option<Manifest>,
    pub segments: Vec<Segment>,
}

/// One WAL segment file: its number and the restore points it spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub seq: u64,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub path: PathBuf,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DomainError + '_ {
    move |e| DomainError::Internal(format!("{}: {e}", path.display()))
}

impl Generation {
    /// The newest moment this generation restores to.
    pub fn last_point(&self) -> Option<DateTime<Utc>> {
        let base = self.manifest.as_ref()?.taken_at;
        Some(self.segments.last().map_or(base, |s| s.last.max(base)))
    }

    pub fn size(&self) -> u64 {
        walk_size(&self.dir)
    }

    pub fn segment_path(&self, seq: u64, first: DateTime<Utc>, last: DateTime<Utc>) -> PathBuf {
        self.dir.join(WAL).join(format!(
            "{seq:08}-{}-{}.rpb",
            first.timestamp_millis(),
            last.timestamp_millis()
        ))
    }
}

fn walk_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => walk_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn parse_segment(path: PathBuf) -> Option<Segment> {
    let name = path
        .file_name()?
        .to_str()?
        .strip_suffix(".rpb")?
        .to_string();
    let mut parts = name.split('-');
    let seq = parts.next()?.parse().ok()?;
    let first = Utc
        .timestamp_millis_opt(parts.next()?.parse().ok()?)
        .single()?;
    let last = Utc
        .timestamp_millis_opt(parts.next()?.parse().ok()?)
        .single()?;
    Some(Segment {
        seq,
        first,
        last,
        path,
    })
}

impl Repo {
    pub fn new(dir: impl Into<PathBuf>) -> Repo {
        Repo { dir: dir.into() }
    }

    /// A new, empty generation for a copy taken about `at`.
    pub fn create_generation(&self, at: DateTime<Utc>) -> Result<Generation, DomainError> {
        let id = format!(
            "{}-{}",
            at.format("%Y%m%dT%H%M%S%.3fZ"),
            &uuid::Uuid::new_v4().simple().to_string()[..4]
        );
        let dir = self.dir.join(&id);
        std::fs::create_dir_all(dir.join(WAL)).map_err(io(&dir))?;
        Ok(Generation {
            id,
            dir,
            manifest: None,
            segments: Vec::new(),
        })
    }

    /// Every generation, oldest first. Manifests are read without checking their signature
    /// (listing needs no key; restoring checks it).
    pub fn generations(&self) -> Result<Vec<Generation>, DomainError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir)(e)),
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let dir = e.path();
            if !dir.is_dir() {
                continue;
            }
            let Some(id) = dir.file_name().and_then(|n| n.to_str()).map(String::from) else {
                continue;
            };
            let manifest_path = dir.join(MANIFEST);
            let manifest = if manifest_path.exists() {
                Some(Manifest::load(&manifest_path, None)?)
            } else {
                None
            };
            let mut segments: Vec<Segment> = match std::fs::read_dir(dir.join(WAL)) {
                Ok(s) => s
                    .flatten()
                    .filter_map(|s| parse_segment(s.path()))
                    .collect(),
                Err(_) => Vec::new(),
            };
            segments.sort_by_key(|s| s.seq);
            out.push(Generation {
                id,
                dir,
                manifest,
                segments,
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// The generation to restore `at` (the newest moment when `None`): of the complete ones
    /// whose copy was taken at or before it, the one reaching closest to it.
    pub fn pick(
        &self,
        at: Option<DateTime<Utc>>,
        id: Option<&str>,
    ) -> Result<Generation, DomainError> {
        let all = self.generations()?;
        if let Some(id) = id {
            return all.into_iter().find(|g| g.id == id).ok_or_else(|| {
                DomainError::Internal(format!("no backup {id} in {}", self.dir.display()))
            });
        }
        // Of the complete generations whose copy is at or before the point, the one that
        // reaches furthest towards it (a continuous one beats a later stand-alone copy).
        let reach = |g: &Generation| {
            let last = g.last_point()?;
            let taken = g.manifest.as_ref()?.taken_at;
            match at {
                Some(at) if taken > at => None,
                Some(at) => Some((last.min(at), taken)),
                None => Some((last, taken)),
            }
        };
        let found = all
            .into_iter()
            .filter_map(|g| reach(&g).map(|r| (r, g)))
            .max_by_key(|(r, _)| *r)
            .map(|(_, g)| g);
        found.ok_or_else(|| match at {
            None => DomainError::Internal(format!("no complete backup in {}", self.dir.display())),
            Some(at) => DomainError::Internal(format!(
                "no backup in {} was taken at or before {}",
                self.dir.display(),
                at.to_rfc3339()
            )),
        })
    }
}
