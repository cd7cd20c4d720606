//! What the administrators' backup page and `GET /api/v1/backups` show: how backups are
//! taken, the backup directory's health, the last run and the last drill, what runs next, and
//! every generation kept.

use super::drill;
use super::repo::{self, Repo};
use super::scheduled::{self, LastRun};
use crate::access::Access;
use crate::{audit, jobs, Store};
use chrono::{DateTime, Utc};
use rapport_core::{Action, DomainError, Object, Scope};
use serde::Serialize;
use std::path::Path;

/// How this server takes backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A copy, then every committed transaction (SQLite, point in time).
    Continuous,
    /// Full copies from the job queue.
    Scheduled,
    /// Only when someone runs `rapport backup` or presses "back up now".
    Manual,
}

/// The backup directory as this server sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub dir: String,
    pub exists: bool,
    pub writable: bool,
    pub free_bytes: Option<u64>,
    pub total_bytes: Option<u64>,
    /// What is wrong, for the page (`None`: healthy).
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GenerationView {
    pub id: String,
    pub taken_at: Option<DateTime<Utc>>,
    /// The newest moment it restores to.
    pub restores_to: Option<DateTime<Utc>>,
    pub continuous: bool,
    pub segments: usize,
    pub bytes: u64,
    pub complete: bool,
    /// The last drill of it: passed, failed, or never drilled.
    pub drill: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DrillView {
    pub at: Option<DateTime<Utc>>,
    pub passed: bool,
    pub generation: String,
    pub error: Option<String>,
    pub seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContinuousView {
    pub running: bool,
    pub generation: Option<String>,
    pub restores_to: Option<DateTime<Utc>>,
    pub last_copy: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub failures: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OffsiteView {
    /// `s3://bucket/prefix (endpoint)`.
    pub target: String,
    pub every_secs: u64,
    /// The last mirroring (`None`: not yet).
    pub last: Option<super::offsite::SyncStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub mode: Mode,
    pub backend: String,
    pub target: Target,
    /// The off-site copy, when a target is configured.
    pub offsite: Option<OffsiteView>,
    pub continuous: Option<ContinuousView>,
    pub full_every_hours: f64,
    pub drill_every_hours: Option<f64>,
    pub retention: RetentionView,
    /// The newest complete backup.
    pub last_success: Option<GenerationView>,
    /// The last copy taken from the job queue or by `rapport backup`.
    pub last_run: Option<LastRun>,
    pub last_drill: Option<DrillView>,
    /// When the next full copy is due (queued, or the continuous backup's next copy).
    pub next_backup: Option<DateTime<Utc>>,
    pub next_drill: Option<DateTime<Utc>>,
    /// Newest first.
    pub generations: Vec<GenerationView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetentionView {
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

/// Whether `actor` may see the backups (the right to read settings for all).
pub fn may_view(actor: &Access) -> Result<(), DomainError> {
    if actor.scope(Object::SETTINGS, Action::Read) == Scope::All {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "the backups are for administrators".into(),
        ))
    }
}

fn target(dir: &Path) -> Target {
    let exists = dir.is_dir();
    let probe = dir.join(format!(".probe-{}", uuid::Uuid::new_v4().simple()));
    let write = std::fs::write(&probe, b"rapport");
    let _ = std::fs::remove_file(&probe);
    let space = rustix::fs::statvfs(dir).ok();
    let free_bytes = space
        .as_ref()
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize));
    let total_bytes = space
        .as_ref()
        .map(|s| s.f_blocks.saturating_mul(s.f_frsize));
    let problem = if !exists && dir.exists() {
        Some(format!("{} is not a directory", dir.display()))
    } else if !exists {
        Some(format!(
            "{} does not exist (it is made by the first backup)",
            dir.display()
        ))
    } else if let Err(e) = &write {
        Some(format!("{} cannot be written: {e}", dir.display()))
    } else {
        None
    };
    Target {
        dir: dir.display().to_string(),
        exists,
        writable: write.is_ok(),
        free_bytes,
        total_bytes,
        problem,
    }
}

fn generation_view(g: &repo::Generation) -> GenerationView {
    GenerationView {
        id: g.id.clone(),
        taken_at: g.manifest.as_ref().map(|m| m.taken_at),
        restores_to: g.last_point(),
        continuous: g.manifest.as_ref().is_some_and(|m| m.continuous),
        segments: g.segments.len(),
        bytes: g.size(),
        complete: g.manifest.is_some(),
        drill: repo::drill_passed(g),
    }
}

fn last_drill(all: &[repo::Generation]) -> Option<DrillView> {
    all.iter()
        .filter_map(|g| {
            let text = std::fs::read_to_string(g.dir.join(repo::DRILL)).ok()?;
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            let at = v["at"]
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc));
            Some(DrillView {
                at,
                passed: v["result"] == "passed",
                generation: g.id.clone(),
                error: v["error"].as_str().map(str::to_string),
                seconds: v["seconds"].as_f64(),
            })
        })
        .max_by_key(|d| d.at)
}

/// The backup page's contents (administrators).
pub async fn overview(store: &Store, actor: &Access) -> Result<Overview, DomainError> {
    may_view(actor)?;
    let Some(settings) = store.settings.backup.clone() else {
        return Err(DomainError::Conflict("backups are not configured".into()));
    };
    let dir = settings.dir.clone();
    let (target, all) = tokio::task::spawn_blocking(move || {
        let all = Repo::new(&dir).generations().unwrap_or_default();
        (target(&dir), all)
    })
    .await
    .map_err(DomainError::internal)?;
    let status = store.backup_status().lock().map(|s| s.clone()).ok();
    let continuous = status.filter(|s| s.running).map(|s| ContinuousView {
        running: s.running,
        generation: s.generation,
        restores_to: s.last_point,
        last_copy: s.last_copy,
        last_error: s.last_error,
        failures: s.failures,
    });
    let mode = if settings.continuous {
        Mode::Continuous
    } else if settings.scheduled {
        Mode::Scheduled
    } else {
        Mode::Manual
    };
    let full_every = chrono::Duration::from_std(settings.full_every).unwrap_or_default();
    let next_backup = match jobs::next_of(store, scheduled::JOB).await? {
        Some((_, at)) => Some(at),
        None if mode == Mode::Continuous => continuous
            .as_ref()
            .and_then(|c| c.last_copy)
            .map(|t| t + full_every),
        None => None,
    };
    let next_drill = jobs::next_of(store, drill::JOB).await?.map(|(_, at)| at);
    let views: Vec<GenerationView> = all.iter().rev().map(generation_view).collect();
    let offsite = super::offsite::load(store.db.reader(), store)
        .await?
        .map(|t| OffsiteView {
            target: t.describe(),
            every_secs: settings.offsite_every.as_secs(),
            last: super::offsite::last_sync(&settings.dir),
        });
    let out = Overview {
        mode,
        backend: if store.db.is_sqlite() {
            "sqlite".into()
        } else {
            "postgres".into()
        },
        target,
        offsite,
        continuous,
        full_every_hours: settings.full_every.as_secs_f64() / 3600.0,
        drill_every_hours: settings.drill_every.map(|d| d.as_secs_f64() / 3600.0),
        retention: RetentionView {
            daily: settings.retention.daily,
            weekly: settings.retention.weekly,
            monthly: settings.retention.monthly,
        },
        last_success: views.iter().find(|g| g.complete).cloned(),
        last_run: scheduled::last_run(&settings.dir),
        last_drill: last_drill(&all),
        next_backup,
        next_drill,
        generations: views,
    };
    audit::record_alone(store, actor, audit::Entry::new("backup.viewed")).await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_missing_directory_is_a_problem_named() {
        let dir = std::env::temp_dir().join(format!("rapport-nodir-{}", uuid::Uuid::new_v4()));
        let t = super::target(&dir);
        assert!(!t.exists && !t.writable);
        assert!(t.problem.unwrap().contains("does not exist"));
        std::fs::create_dir_all(&dir).unwrap();
        let t = super::target(&dir);
        assert!(t.exists && t.writable && t.problem.is_none());
        assert!(t.free_bytes.unwrap() > 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
