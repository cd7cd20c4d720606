//! Rebuilding a SQLite database from a generation: its copy, then its WAL segments up to the
//! point asked for, each checked before use; then the result checked (integrity, and the
//! manifest's row counts and content checksums when no segment was applied). The audit chain
//! is verified by the caller, which holds the keys ([`verify_trail`]).

use super::archive::{self, BackupKey};
use super::manifest::{self, Manifest};
use super::repo::{Generation, Repo, BASE, JOURNAL, MANIFEST};
use super::segment;
use super::with_suffix;
use chrono::{DateTime, Utc};
use rapport_core::DomainError;
use std::path::{Path, PathBuf};

pub struct Request<'a> {
    pub repo: &'a Repo,
    pub key: &'a BackupKey,
    /// The database file to create (it must not exist).
    pub target: &'a Path,
    /// Restore the state at this moment; the newest one when `None`.
    pub at: Option<DateTime<Utc>>,
    /// A generation by name instead of the one `at` picks.
    pub generation: Option<&'a str>,
}

#[derive(Debug)]
pub struct Outcome {
    pub generation: String,
    /// The moment the restored database shows: every transaction committed before it, none
    /// after (the restore point at or before the one asked for).
    pub point: DateTime<Utc>,
    pub segments: u64,
    pub transactions: u64,
    /// The rebuilt tables matched the manifest's counts and checksums (only checked when no
    /// segment was applied: the manifest describes the copy).
    pub matched_manifest: bool,
}

fn fail(msg: String) -> DomainError {
    DomainError::Internal(msg)
}

/// Files of a SQLite database at `target`: the database and what SQLite and Rapport keep
/// beside it.
fn database_files(target: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm", "-audit-journal"]
        .iter()
        .map(|s| with_suffix(target, s))
        .collect()
}

/// Checks every file of the generation against its manifest (sizes and checksums), and the
/// manifest's signature; the manifest when all is well.
pub fn check_files(g: &Generation, key: &BackupKey) -> Result<Manifest, DomainError> {
    let manifest = Manifest::load(&g.dir.join(MANIFEST), Some(key))?;
    for f in &manifest.files {
        archive::check(&g.dir.join(&f.name), &f.sealed)?;
    }
    Ok(manifest)
}

/// Restores as `req` asks; `progress` hears each step.
pub fn sqlite(req: &Request, progress: &mut dyn FnMut(String)) -> Result<Outcome, DomainError> {
    for f in database_files(req.target) {
        if f.exists() {
            return Err(fail(format!(
                "{} already exists: restore into an empty data directory (a restore never \
                 overwrites a database)",
                f.display()
            )));
        }
    }
    let generation = req.repo.pick(req.at, req.generation)?;
    progress(format!(
        "backup {} ({})",
        generation.id,
        generation.dir.display()
    ));
    let manifest = check_files(&generation, req.key)?;
    if manifest.backend != "sqlite" {
        return Err(fail(format!(
            "backup {} is of a {} database: restore it with a PostgreSQL URL",
            generation.id, manifest.backend
        )));
    }
    let part = with_suffix(req.target, ".restoring");
    let journal_part = with_suffix(req.target, ".restoring-journal");
    let result = rebuild(
        req,
        &generation.dir,
        &manifest,
        &generation.segments,
        &part,
        &journal_part,
        progress,
    );
    match result {
        Ok(outcome) => {
            if journal_part.exists() {
                std::fs::rename(&journal_part, super::journal_path(req.target))
                    .map_err(|e| fail(format!("{}: {e}", journal_part.display())))?;
            }
            std::fs::rename(&part, req.target)
                .map_err(|e| fail(format!("{}: {e}", part.display())))?;
            archive::sync_dir(req.target);
            Ok(outcome)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            let _ = std::fs::remove_file(&journal_part);
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn rebuild(
    req: &Request,
    dir: &Path,
    manifest: &Manifest,
    segments: &[super::repo::Segment],
    part: &Path,
    journal_part: &Path,
    progress: &mut dyn FnMut(String),
) -> Result<Outcome, DomainError> {
    let create =
        |p: &Path| std::fs::File::create(p).map_err(|e| fail(format!("{}: {e}", p.display())));
    archive::open(req.key, "base", &dir.join(BASE), &mut create(part)?)?;
    progress(format!(
        "copy of {} restored ({} tables)",
        manifest.taken_at.to_rfc3339(),
        manifest.tables.len()
    ));
    if manifest.file("journal").is_some() {
        archive::open(
            req.key,
            "journal",
            &dir.join(JOURNAL),
            &mut create(journal_part)?,
        )?;
    }
    let mut point = manifest.taken_at;
    let mut applied_segments = 0u64;
    let mut transactions = 0u64;
    let mut db = std::fs::OpenOptions::new()
        .write(true)
        .open(part)
        .map_err(|e| fail(format!("{}: {e}", part.display())))?;
    // Where the next part must start: its WAL's salts (hex) and frame.
    let mut expect: Option<(String, u32)> = None;
    let salt1 = |hex_salt: &str| -> Option<u32> {
        let salt: [u8; 8] = hex::decode(hex_salt).ok()?.try_into().ok()?;
        Some(rapport_db::wal_salt1(&salt))
    };
    let at = req.at;
    'segments: for (i, seg) in segments.iter().enumerate() {
        if at.is_some_and(|at| seg.first > at) {
            break;
        }
        let want = i as u64 + 1;
        if seg.seq != want {
            return Err(fail(format!(
                "WAL segment {want} of backup {} is missing: the newest point it can be \
                 restored to is {} (ask for that point with --at)",
                manifest.generation,
                point.to_rfc3339()
            )));
        }
        let data = archive::open_bytes(req.key, "wal", &seg.path)?;
        let (seq, parts) = segment::decode(&data)?;
        if seq != seg.seq {
            return Err(fail(format!(
                "backup file damaged: {} holds segment {seq}",
                seg.path.display()
            )));
        }
        for (p, frames) in parts {
            if at.is_some_and(|at| p.at > at) {
                break 'segments;
            }
            if let Some((salt, next)) = &expect {
                let continues = if &p.salt == salt {
                    p.first_frame == *next
                } else {
                    // A log started again: its first salt is one more (see the shipper).
                    p.first_frame == 0
                        && salt1(&p.salt).is_some()
                        && salt1(&p.salt) == salt1(salt).map(|s| s.wrapping_add(1))
                };
                if !continues {
                    return Err(fail(format!(
                        "backup {} has a break in its WAL segments at segment {}: the newest \
                         point it can be restored to is {}",
                        manifest.generation,
                        seg.seq,
                        point.to_rfc3339()
                    )));
                }
            }
            transactions += rapport_db::apply_wal_frames(&mut db, p.page_size, frames)
                .map_err(|e| fail(format!("{}: {e}", seg.path.display())))?;
            expect = Some((p.salt.clone(), p.first_frame + p.frames));
            point = point.max(p.at);
        }
        applied_segments += 1;
        if applied_segments.is_multiple_of(100) {
            progress(format!(
                "{applied_segments} WAL segments applied, at {}",
                point.to_rfc3339()
            ));
        }
    }
    db.sync_all()
        .map_err(|e| fail(format!("{}: {e}", part.display())))?;
    drop(db);
    progress(format!(
        "{applied_segments} WAL segments applied ({transactions} transactions); checking"
    ));
    integrity(part)?;
    let matched_manifest = if applied_segments == 0 {
        let (tables, _, _) = manifest::sqlite_contents(part)?;
        let diff = manifest::differences(&manifest.tables, &tables);
        if !diff.is_empty() {
            return Err(fail(format!(
                "the restored database does not match the backup's manifest: {}",
                diff.join("; ")
            )));
        }
        true
    } else {
        false
    };
    Ok(Outcome {
        generation: manifest.generation.clone(),
        point,
        segments: applied_segments,
        transactions,
        matched_manifest,
    })
}

/// SQLite's integrity check of the database at `path`.
pub fn integrity(path: &Path) -> Result<(), DomainError> {
    let c =
        rusqlite::Connection::open(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    let problems: Vec<String> = c
        .prepare("PRAGMA integrity_check(20)")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| fail(format!("integrity check of {}: {e}", path.display())))?;
    if problems != ["ok"] {
        return Err(fail(format!(
            "the restored database fails SQLite's integrity check: {}",
            problems.join("; ")
        )));
    }
    Ok(())
}

/// Opens the restored database at `url` and verifies its audit chain with `ring` (the
/// anchors of the running system are not consulted: a restore to an earlier point is
/// legitimately behind them).
pub async fn verify_trail(
    url: &str,
    ring: crate::crypto::Keyring,
    clock: std::sync::Arc<dyn rapport_core::Clock>,
) -> Result<crate::audit::VerifyReport, DomainError> {
    let db = crate::Db::connect(url).await?;
    let store = crate::Store::new(db, ring, clock, crate::StoreSettings::default());
    let report = crate::audit::verify(&store).await;
    store.db.clone().close().await;
    report
}
