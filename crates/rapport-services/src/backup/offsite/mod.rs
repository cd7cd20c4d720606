//! Off-site copies: the backup directory mirrored to S3-compatible object storage (under a
//! prefix) or an SFTP server (in a directory), with the same layout
//! (`<generation>/base.rpb`, ...). Files are already
//! encrypted and signed with the backup key, so the storage sees nothing readable.
//!
//! The job `backup.offsite` mirrors every `RAPPORT_BACKUP_OFFSITE_SECS` (and after each copy):
//! it uploads what the storage lacks (a generation's copy first, its manifest next, then its
//! WAL segments, so a generation with a manifest there is restorable), and deletes there the
//! generations retention deleted here, never any newer than the oldest kept here, and nothing
//! when nothing is kept here (a lost disk must not empty the off-site copy). `rapport backup
//! pull` downloads generations back for `rapport restore`. The target's secret key is stored
//! encrypted with the field keys.

pub mod s3;
pub mod sftp;
mod target;

pub use target::{load, may_change, parse, remove, save, settings_for, test, Client, Kind, Target};

use super::repo::{Repo, MANIFEST, WAL};
use crate::{audit, jobs, Store};
use chrono::{DateTime, Utc};
use rapport_core::DomainError;
use rapport_db::db_err;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};

pub const JOB: &str = "backup.offsite";
/// The last mirroring's result, in the backup directory.
pub const STATUS: &str = "offsite.json";

/// The last mirroring, as the backup page shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SyncStatus {
    pub at: DateTime<Utc>,
    pub target: String,
    pub uploaded: u64,
    pub bytes: u64,
    pub deleted: u64,
    /// Generations complete there (their manifest uploaded).
    pub generations: u64,
    pub error: Option<String>,
}

pub fn last_sync(dir: &Path) -> Option<SyncStatus> {
    serde_json::from_str(&std::fs::read_to_string(dir.join(STATUS)).ok()?).ok()
}

/// The files of a generation to copy, in the order that keeps the copy restorable: the data
/// files, the manifest, the WAL segments, then anything else (the drill's result).
fn files_of(g: &super::repo::Generation) -> Vec<(String, PathBuf)> {
    let mut data = Vec::new();
    let mut rest = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&g.dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let path = e.path();
            if name.starts_with('.') || name.ends_with(".part") || !path.is_file() {
                continue;
            }
            if name.ends_with(".rpb") {
                data.push((format!("{}/{name}", g.id), path));
            } else if name != MANIFEST {
                rest.push((format!("{}/{name}", g.id), path));
            }
        }
    }
    data.sort();
    rest.sort();
    let mut out = data;
    out.push((format!("{}/{MANIFEST}", g.id), g.dir.join(MANIFEST)));
    out.extend(g.segments.iter().map(|s| {
        (
            format!("{}/{WAL}/{}", g.id, file_name(&s.path)),
            s.path.clone(),
        )
    }));
    out.extend(rest);
    out
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// The generation a remote key belongs to (`<prefix><generation>/...`).
fn generation_of<'a>(target: &Target, key: &'a str) -> Option<&'a str> {
    key.strip_prefix(target.key_prefix())?.split('/').next()
}

/// Mirrors `dir` to `target`: uploads what it lacks, deletes what retention deleted here.
pub async fn mirror(
    target: &Target,
    dir: &Path,
    now: DateTime<Utc>,
) -> Result<SyncStatus, DomainError> {
    let client = target.client().await?;
    let repo = Repo::new(dir);
    let local = tokio::task::spawn_blocking(move || repo.generations())
        .await
        .map_err(DomainError::internal)??;
    let complete: Vec<_> = local.iter().filter(|g| g.manifest.is_some()).collect();
    let remote: std::collections::HashMap<String, u64> = client
        .list(target.key_prefix())
        .await?
        .into_iter()
        .collect();
    let mut status = SyncStatus {
        at: now,
        target: target.describe(),
        uploaded: 0,
        bytes: 0,
        deleted: 0,
        generations: 0,
        error: None,
    };
    for g in &complete {
        for (rel, path) in files_of(g) {
            let key = format!("{}{rel}", target.key_prefix());
            let Ok(meta) = std::fs::metadata(&path) else {
                continue; // pruned or rewritten meanwhile: the next run sees it
            };
            if remote.get(&key) == Some(&meta.len()) {
                continue;
            }
            status.bytes += client.put_file(&key, &path).await?;
            status.uploaded += 1;
        }
        status.generations += 1;
    }
    // Deletions: generations retention removed here, older than the oldest kept here.
    if let Some(oldest) = complete.first().map(|g| g.id.clone()) {
        let kept: std::collections::HashSet<&str> = local.iter().map(|g| g.id.as_str()).collect();
        for key in remote.keys() {
            let Some(g) = generation_of(target, key) else {
                continue;
            };
            if super::repo::is_generation_id(g) && !kept.contains(g) && g < oldest.as_str() {
                client.delete(key).await?;
                status.deleted += 1;
            }
        }
    }
    Ok(status)
}

/// Downloads the complete generations at `target` (or the one named) into `dir`, for
/// `rapport restore`; returns their names. Files already there are not downloaded again.
pub async fn pull(
    target: &Target,
    dir: &Path,
    generation: Option<&str>,
    progress: &mut (dyn FnMut(String) + Send),
) -> Result<Vec<String>, DomainError> {
    let client = target.client().await?;
    let remote = client.list(target.key_prefix()).await?;
    let mut complete: Vec<String> = remote
        .iter()
        .filter_map(|(k, _)| {
            let rest = k.strip_prefix(target.key_prefix())?;
            let (g, file) = rest.split_once('/')?;
            (file == MANIFEST && super::repo::is_generation_id(g)).then(|| g.to_string())
        })
        .filter(|g| generation.is_none_or(|want| want == g))
        .collect();
    complete.sort();
    if complete.is_empty() {
        return Err(DomainError::Upstream(match generation {
            Some(g) => format!("{} holds no complete backup named {g}", target.describe()),
            None => format!("{} holds no complete backup", target.describe()),
        }));
    }
    for (key, size) in &remote {
        let Some(rest) = key.strip_prefix(target.key_prefix()) else {
            continue;
        };
        let Some((g, file)) = rest.split_once('/') else {
            continue;
        };
        if !complete.iter().any(|c| c == g) || file.split('/').any(|p| p == ".." || p.is_empty()) {
            continue;
        }
        let path = dir.join(g).join(file);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == *size) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| DomainError::Internal(format!("{}: {e}", parent.display())))?;
        }
        client.get_file(key, &path).await?;
        progress(format!("downloaded {rest} ({size} bytes)"));
    }
    Ok(complete)
}

/// The mirroring job: mirrors the configured target, records the result beside the backups
/// and, when it starts failing, tells the administrators; then queues the next run.
pub async fn run_job(store: &Store) -> Result<(), DomainError> {
    let Some(settings) = store.settings.backup.clone() else {
        return Ok(());
    };
    let Some(target) = load(store.db.reader(), store).await? else {
        return Ok(());
    };
    let before = last_sync(&settings.dir);
    let mut status = match mirror(&target, &settings.dir, store.now()).await {
        Ok(s) => s,
        Err(e) => SyncStatus {
            at: store.now(),
            target: target.describe(),
            uploaded: 0,
            bytes: 0,
            deleted: 0,
            generations: before.as_ref().map_or(0, |b| b.generations),
            error: Some(e.to_string()),
        },
    };
    status.at = store.now();
    if let Ok(text) = serde_json::to_vec(&status) {
        let _ = std::fs::create_dir_all(&settings.dir);
        if let Err(e) = std::fs::write(settings.dir.join(STATUS), text) {
            tracing::warn!(error = %e, "cannot record the off-site copy's result");
        }
    }
    let started_failing = status.error.is_some() && before.is_none_or(|b| b.error.is_none());
    let worked = status.uploaded > 0 || status.deleted > 0;
    if started_failing || worked {
        let details = json!({
            "target": status.target, "uploaded": status.uploaded, "bytes": status.bytes,
            "deleted": status.deleted, "error": status.error,
        });
        let action = if status.error.is_some() {
            "backup.offsite_failed"
        } else {
            "backup.offsite_copied"
        };
        let tx = store.db.begin().await?;
        audit::record(
            &tx,
            store,
            &rapport_core::Principal::system(),
            audit::Entry::new(action).details(details.clone()),
        )
        .await?;
        if started_failing {
            super::notify_admins(
                &tx,
                store,
                format!(
                    "off-site copy to {}: {}",
                    status.target,
                    status.error.clone().unwrap_or_default()
                ),
                details,
            )
            .await?;
        }
        tx.commit().await.map_err(db_err)?;
    }
    schedule(store).await
}

async fn enqueue<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    at: DateTime<Utc>,
    dedupe: String,
) -> Result<(), DomainError> {
    jobs::enqueue(
        c,
        store.now(),
        jobs::NewJob::new(JOB, json!({}), at).dedupe(dedupe),
    )
    .await?;
    Ok(())
}

/// Queues the next mirroring at the next multiple of the interval (one per slot, however
/// many servers ask).
pub async fn schedule(store: &Store) -> Result<(), DomainError> {
    let Some(every) = store.settings.backup.as_ref().map(|b| b.offsite_every) else {
        return Ok(());
    };
    if load(store.db.reader(), store).await?.is_none() {
        return Ok(()); // saving a target starts the mirroring
    }
    let now = store.now();
    let every_ms = (every.as_millis() as i64).max(1000);
    let slot = (now.timestamp_millis() / every_ms + 1) * every_ms;
    let at = DateTime::<Utc>::from_timestamp_millis(slot).unwrap_or(now);
    let tx = store.db.begin().await?;
    enqueue(&tx, store, at, format!("{JOB}@{slot}")).await?;
    tx.commit().await.map_err(db_err)
}

/// After a copy or a drill: mirror now rather than at the next slot.
pub async fn soon(store: &Store) -> Result<(), DomainError> {
    if load(store.db.reader(), store).await?.is_none() {
        return Ok(());
    }
    let now = store.now();
    let tx = store.db.begin().await?;
    enqueue(
        &tx,
        store,
        now,
        format!("{JOB}@soon-{}", now.timestamp_millis()),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}
