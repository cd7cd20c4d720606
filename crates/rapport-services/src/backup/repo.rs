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

/// Whether `name` is a generation's name as [`Repo::create_generation`] makes them.
pub(crate) fn is_generation_id(name: &str) -> bool {
    let Some((time, tag)) = name.rsplit_once('-') else {
        return false;
    };
    chrono::NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%M%S%.3fZ").is_ok()
        && !tag.is_empty()
        && tag.chars().all(|c| c.is_ascii_hexdigit())
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
            // Only generations: not a drill's scratch directory (`.drill-…`) or anything else
            // kept beside them.
            if !is_generation_id(&id) {
                continue;
            }
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

/// How many generations a backup directory keeps: every generation that restores to a
/// moment of the last `daily` days (the point-in-time window), then the newest of each of the
/// last `weekly` ISO weeks and `monthly` months (by when their copy was taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            daily: 7,
            weekly: 4,
            monthly: 12,
        }
    }
}

/// The result of the last restore drill of a generation, kept in its directory.
pub const DRILL: &str = "drill.json";

/// Whether the last drill of `g` passed (`None`: never drilled).
pub fn drill_passed(g: &Generation) -> Option<bool> {
    let text = std::fs::read_to_string(g.dir.join(DRILL)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(v["result"] == "passed")
}

/// The generations `retention` lets go, from `all` (oldest first, as
/// [`Repo::generations`] lists them). Never the newest complete generation, nor the newest
/// one whose drill passed, nor any generation after the newest complete one (a copy still
/// being written); a copy that never finished goes once a newer one is complete.
pub fn expired(all: &[Generation], retention: Retention, now: DateTime<Utc>) -> Vec<&Generation> {
    use chrono::Datelike;
    let Some(newest) = all.iter().rposition(|g| g.manifest.is_some()) else {
        return Vec::new();
    };
    let mut keep = vec![false; all.len()];
    keep[newest..].iter_mut().for_each(|k| *k = true);
    if let Some(good) = all.iter().rposition(|g| drill_passed(g) == Some(true)) {
        keep[good] = true;
    }
    let complete: Vec<(usize, DateTime<Utc>)> = all
        .iter()
        .enumerate()
        .filter_map(|(i, g)| Some((i, g.manifest.as_ref()?.taken_at)))
        .rev()
        .collect();
    let window = now - chrono::Duration::days(i64::from(retention.daily));
    for (i, g) in all.iter().enumerate() {
        if g.last_point().is_some_and(|p| p >= window) {
            keep[i] = true;
        }
    }
    let mut bucket = |limit: u32, key: &dyn Fn(DateTime<Utc>) -> (i32, u32)| {
        let mut seen: Vec<(i32, u32)> = Vec::new();
        for (i, at) in &complete {
            let k = key(*at);
            if seen.contains(&k) {
                continue;
            }
            if seen.len() as u32 >= limit {
                break;
            }
            seen.push(k);
            keep[*i] = true;
        }
    };
    bucket(retention.weekly, &|t| {
        let w = t.iso_week();
        (w.year(), w.week())
    });
    bucket(retention.monthly, &|t| (t.year(), t.month()));
    all.iter()
        .zip(keep)
        .filter(|(_, k)| !k)
        .map(|(g, _)| g)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(id: &str, at: Option<DateTime<Utc>>) -> Generation {
        Generation {
            id: id.into(),
            dir: PathBuf::from(format!("/nonexistent/{id}")),
            manifest: at.map(|taken_at| Manifest {
                format: 1,
                generation: id.into(),
                taken_at,
                backend: "sqlite".into(),
                rapport_version: "0".into(),
                schema_version: 0,
                key: String::new(),
                continuous: true,
                files: Vec::new(),
                tables: Vec::new(),
                audit_head: None,
                mac: String::new(),
            }),
            segments: Vec::new(),
        }
    }

    #[test]
    fn retention_keeps_the_newest_of_each_day_week_and_month() {
        // Two copies a day for 120 days, then one copy being written.
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap();
        let mut all: Vec<Generation> = (0..240)
            .map(|i| {
                let at = start + chrono::Duration::hours(12 * i);
                generation(&format!("g{i:03}"), Some(at))
            })
            .collect();
        all.push(generation("writing", None));
        let now = start + chrono::Duration::hours(12 * 240);
        let gone: Vec<&str> = expired(&all, Retention::default(), now)
            .iter()
            .map(|g| g.id.as_str())
            .collect();
        let kept: Vec<&Generation> = all
            .iter()
            .filter(|g| !gone.contains(&g.id.as_str()))
            .collect();
        assert!(kept.iter().any(|g| g.id == "writing"));
        assert!(kept.iter().any(|g| g.id == "g239"), "the newest complete");
        // Every copy of the last 7 days (the point-in-time window), then a copy a week and a
        // month: far fewer than 240.
        let complete = kept.iter().filter(|g| g.manifest.is_some()).count();
        assert!(
            (14 + 3..=14 + 4 + 12).contains(&complete),
            "{complete} kept"
        );
        assert!(!gone.contains(&"g238") && !gone.contains(&"g226"));
        // Older than the window, the older of a day's two copies goes.
        assert!(gone.contains(&"g200"));
        // The oldest month (January) keeps only its newest copy.
        let january: Vec<_> = kept
            .iter()
            .filter(|g| g.manifest.as_ref().is_some_and(|m| m.taken_at.month() == 1))
            .collect();
        use chrono::Datelike;
        assert_eq!(
            january.len(),
            1,
            "{:?}",
            january.iter().map(|g| &g.id).collect::<Vec<_>>()
        );

        // Nothing complete: nothing expires.
        let writing = vec![generation("a", None), generation("b", None)];
        assert!(expired(&writing, Retention::default(), now).is_empty());
        // An unfinished copy older than a complete one goes.
        let all = vec![generation("old", None), generation("new", Some(start))];
        let gone: Vec<_> = expired(&all, Retention::default(), now)
            .iter()
            .map(|g| g.id.clone())
            .collect();
        assert_eq!(gone, vec!["old".to_string()]);
    }
}

#[cfg(test)]
mod names {
    use super::is_generation_id;

    #[test]
    fn only_generation_names_are_generations() {
        assert!(is_generation_id("20261207T140312.250Z-3f9a"));
        assert!(!is_generation_id(".drill-3f9a0c"));
        assert!(!is_generation_id("20261207T140312.250Z-"));
        assert!(!is_generation_id("notes-3f9a"));
        assert!(!is_generation_id("20261207T140312.250Z-zz"));
    }
}
