//! One consistent copy of a SQLite database and its audit read journal, sealed into a new
//! generation.
//!
//! The journal is copied first and the database second. An entry in the journal at the first
//! copy is either still there (and in the journal copy) or was moved into the trail before
//! the second copy (and is in it); an entry in both is skipped when the restored journal is
//! moved, because the trail records the last journal id it took (ADR 0017). So every read
//! acknowledged before the copy is in the backup exactly once.

use super::archive::{self, BackupKey};
use super::manifest::{self, FileEntry, Manifest};
use super::repo::{Generation, Repo, BASE, JOURNAL, MANIFEST};
use chrono::{DateTime, Utc};
use rapport_core::DomainError;
use std::path::{Path, PathBuf};

/// What was written.
#[derive(Debug)]
pub struct Written {
    pub generation: Generation,
    pub manifest: Manifest,
    pub bytes: u64,
}

/// Plain copies waiting to be sealed into a generation, removed when dropped.
pub struct Copies {
    pub base: PathBuf,
    pub journal: Option<PathBuf>,
    pub taken_at: DateTime<Utc>,
}

impl Drop for Copies {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.base);
        if let Some(j) = &self.journal {
            let _ = std::fs::remove_file(j);
        }
    }
}

/// Where plain copies are made before sealing: beside the database (the same disk and the
/// same protection as the database itself), never in a shared temporary directory.
pub fn scratch(db_file: &Path, name: &str) -> PathBuf {
    let dir = db_file.parent().unwrap_or(Path::new("."));
    dir.join(format!(".backup-{}-{name}", uuid::Uuid::new_v4().simple()))
}

/// Copies the journal (if there is one), then the database, beside the database.
pub fn copy_sqlite(db_file: &Path, now: &dyn Fn() -> DateTime<Utc>) -> Result<Copies, DomainError> {
    copy_sqlite_with(db_file, now, |base| {
        Ok((rapport_db::copy_sqlite_file(db_file, base, now)?, ()))
    })
    .map(|(copies, ())| copies)
}

/// Copies the journal (if there is one), then has `copy_base` copy the database into the
/// path it is given, returning the moment the copy shows and whatever else it read. The
/// copies are deleted again if either fails.
pub fn copy_sqlite_with<T>(
    db_file: &Path,
    now: &dyn Fn() -> DateTime<Utc>,
    copy_base: impl FnOnce(&Path) -> Result<(DateTime<Utc>, T), DomainError>,
) -> Result<(Copies, T), DomainError> {
    let journal_file = super::journal_path(db_file);
    let journal = if journal_file.exists() {
        let to = scratch(db_file, "journal");
        rapport_db::copy_sqlite_file(&journal_file, &to, now)?;
        Some(to)
    } else {
        None
    };
    let mut copies = Copies {
        base: scratch(db_file, "base"),
        journal,
        taken_at: now(),
    };
    let (taken_at, read) = copy_base(&copies.base)?;
    copies.taken_at = taken_at;
    Ok((copies, read))
}

/// Seals `copies` into `generation` and writes its manifest last.
pub fn seal_sqlite(
    generation: &Generation,
    copies: &Copies,
    key: &BackupKey,
    continuous: bool,
) -> Result<Manifest, DomainError> {
    let (tables, audit_head, schema_version) = manifest::sqlite_contents(&copies.base)?;
    let mut files = Vec::new();
    let open = |p: &Path| {
        std::fs::File::open(p).map_err(|e| DomainError::Internal(format!("{}: {e}", p.display())))
    };
    let sealed = archive::seal(
        key,
        "base",
        &mut open(&copies.base)?,
        &generation.dir.join(BASE),
    )?;
    files.push(FileEntry {
        name: BASE.into(),
        kind: "base".into(),
        sealed,
    });
    if let Some(j) = &copies.journal {
        let sealed = archive::seal(key, "journal", &mut open(j)?, &generation.dir.join(JOURNAL))?;
        files.push(FileEntry {
            name: JOURNAL.into(),
            kind: "journal".into(),
            sealed,
        });
    }
    let mut m = Manifest {
        format: manifest::FORMAT,
        generation: generation.id.clone(),
        taken_at: copies.taken_at,
        backend: "sqlite".into(),
        rapport_version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        key: key.fingerprint(),
        continuous,
        files,
        tables,
        audit_head,
        mac: String::new(),
    };
    m.sign(key)?;
    m.save(&generation.dir.join(MANIFEST))?;
    Ok(m)
}

/// `rapport backup` on SQLite: a new generation holding one consistent copy.
pub fn sqlite(
    db_file: &Path,
    repo: &Repo,
    key: &BackupKey,
    now: &dyn Fn() -> DateTime<Utc>,
) -> Result<Written, DomainError> {
    let copies = copy_sqlite(db_file, now)?;
    let generation = repo.create_generation(copies.taken_at)?;
    let manifest = match seal_sqlite(&generation, &copies, key, false) {
        Ok(m) => m,
        Err(e) => {
            // Nothing half-written stays to be mistaken for a backup.
            let _ = std::fs::remove_dir_all(&generation.dir);
            return Err(e);
        }
    };
    let bytes = generation.size();
    Ok(Written {
        generation,
        manifest,
        bytes,
    })
}
