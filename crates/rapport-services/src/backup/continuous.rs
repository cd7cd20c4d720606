//! A server's continuous backup of its SQLite database (ADR 0037): a consistent copy starts a
//! generation, then every committed transaction follows in WAL segments, so that a restore
//! can stop at any tick (four a second) inside the retention window.
//!
//! Two threads: `rapport-backup` ticks the [`Shipper`] (reads what was committed, then
//! checkpoints) and takes copies; `rapport-backup-seal` compresses, encrypts and writes files,
//! in order, so a slow disk delays files, not checkpoints. A new generation starts at start-up,
//! every `full_every`, after a write failed, and when the WAL started again without the shipper
//! (an erasure's truncating checkpoint): a chain with a hole is never continued.

use super::archive::{self, BackupKey};
use super::full::{self, Copies};
use super::repo::{Generation, Repo};
use super::segment::Pending;
use chrono::{DateTime, Utc};
use rapport_core::{Clock, DomainError};
use rapport_db::Shipper;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How often committed transactions are read and the WAL checkpointed (the restore points).
pub const TICK: Duration = Duration::from_millis(250);
/// How often the ticks' frames are written out as a segment (at most this much is lost with
/// the machine).
pub const SEGMENT_EVERY: Duration = Duration::from_secs(1);
/// A segment is written early past this many bytes of frames.
const SEGMENT_BYTES: usize = 16 << 20;

#[derive(Debug, Clone)]
pub struct Settings {
    pub dir: PathBuf,
    /// A new full copy after this long.
    pub full_every: Duration,
    /// Which generations are kept.
    pub retention: super::repo::Retention,
}

/// What the backup reports (metrics, the operations guide's checks).
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// A continuous backup runs in this process.
    pub running: bool,
    pub generation: Option<String>,
    /// The newest moment a restore can reach (the last segment written, or the copy).
    pub last_point: Option<DateTime<Utc>>,
    /// When the current generation's copy was finished.
    pub last_copy: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub failures: u64,
}

impl Status {
    /// A restore can now reach `at` (never moves back).
    fn reached(&mut self, at: DateTime<Utc>) {
        self.last_point = Some(self.last_point.map_or(at, |p| p.max(at)));
    }
}

pub type SharedStatus = Arc<Mutex<Status>>;

enum Job {
    Copy {
        generation: Generation,
        copies: Copies,
    },
    Segment {
        generation: Generation,
        seq: u64,
        pending: Pending,
    },
    Prune,
    /// Nothing new was committed up to this moment: once the jobs before it are written, a
    /// restore reaches it.
    Current(DateTime<Utc>),
}

struct Sealer {
    key: BackupKey,
    repo: Repo,
    settings: Settings,
    status: SharedStatus,
    clock: Arc<dyn Clock>,
    /// Set when a file could not be written: the generation ends there.
    broken: Arc<AtomicBool>,
}

impl Sealer {
    fn run(self, jobs: mpsc::Receiver<Job>) {
        // Files of a generation whose earlier file failed are not written.
        let mut failed_generation: Option<String> = None;
        for job in jobs {
            let result = match &job {
                Job::Copy { generation, .. } | Job::Segment { generation, .. }
                    if failed_generation.as_deref() == Some(&generation.id) =>
                {
                    continue
                }
                Job::Copy { generation, copies } => {
                    full::seal_sqlite(generation, copies, &self.key, true).map(|m| {
                        let mut s = self.lock();
                        s.generation = Some(generation.id.clone());
                        s.last_copy = Some(self.clock.now());
                        s.reached(m.taken_at);
                    })
                }
                Job::Segment {
                    generation,
                    seq,
                    pending,
                } => self.segment(generation, *seq, pending),
                Job::Prune => {
                    // A generation that could not be deleted does not break the chain.
                    if let Err(e) = self.prune() {
                        tracing::warn!(error = %e, "backup: pruning old generations failed");
                        self.lock().last_error = Some(e.to_string());
                    }
                    Ok(())
                }
                Job::Current(at) => {
                    let mut s = self.lock();
                    if s.generation.is_some() && !self.broken.load(Ordering::SeqCst) {
                        s.reached(*at);
                    }
                    Ok(())
                }
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "continuous backup: a file could not be written; a new full copy follows");
                if let Job::Copy { generation, .. } | Job::Segment { generation, .. } = &job {
                    failed_generation = Some(generation.id.clone());
                }
                let mut s = self.lock();
                s.last_error = Some(e.to_string());
                s.failures += 1;
                self.broken.store(true, Ordering::SeqCst);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn segment(&self, g: &Generation, seq: u64, pending: &Pending) -> Result<(), DomainError> {
        let Some((first, last)) = pending.span() else {
            return Ok(());
        };
        let data = pending.encode(seq)?;
        archive::seal_bytes(&self.key, "wal", &data, &g.segment_path(seq, first, last))?;
        let mut s = self.lock();
        if s.generation.as_deref() == Some(&g.id) {
            s.reached(last);
        }
        Ok(())
    }

    /// Deletes the generations the retention rules let go.
    fn prune(&self) -> Result<(), DomainError> {
        prune(&self.repo, self.settings.retention, self.clock.now()).map(|_| ())
    }
}

/// Deletes the generations in `repo` that `retention` lets go; returns how many.
pub fn prune(
    repo: &Repo,
    retention: super::repo::Retention,
    now: DateTime<Utc>,
) -> Result<usize, DomainError> {
    let all = repo.generations()?;
    let gone = super::repo::expired(&all, retention, now);
    for g in &gone {
        std::fs::remove_dir_all(&g.dir)
            .map_err(|e| DomainError::Internal(format!("{}: {e}", g.dir.display())))?;
        tracing::info!(generation = %g.id, "backup: deleted a generation past its retention");
    }
    Ok(gone.len())
}

/// Runs until `stop` is set; then reads the last commits, writes them and returns.
#[allow(clippy::too_many_arguments)]
pub fn run(
    db_file: PathBuf,
    mut shipper: Shipper,
    key: BackupKey,
    settings: Settings,
    clock: Arc<dyn Clock>,
    status: SharedStatus,
    stop: Arc<AtomicBool>,
) {
    let repo = Repo::new(settings.dir.clone());
    status.lock().unwrap_or_else(|p| p.into_inner()).running = true;
    let broken = Arc::new(AtomicBool::new(false));
    let (send, jobs) = mpsc::sync_channel::<Job>(16);
    let sealer = Sealer {
        key,
        repo: repo.clone(),
        settings: settings.clone(),
        status: status.clone(),
        clock: clock.clone(),
        broken: broken.clone(),
    };
    let sealing = std::thread::Builder::new()
        .name("rapport-backup-seal".into())
        .spawn(move || sealer.run(jobs));
    let sealing = match sealing {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "continuous backup: cannot start its thread");
            return;
        }
    };
    let now = || clock.now();
    let mut current: Option<(Generation, u64, Instant)> = None;
    let mut pending = Pending::default();
    let mut last_flush = Instant::now();
    let mut retry_at = Instant::now();
    let mut last_current = Instant::now();
    // The current generation's chain ended at a gap: nothing more is added to it.
    let mut chain_ended = false;
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        let due = current
            .as_ref()
            .is_none_or(|(_, _, started)| started.elapsed() >= settings.full_every)
            || broken.load(Ordering::SeqCst);
        if due && !stopping && Instant::now() >= retry_at {
            broken.store(false, Ordering::SeqCst);
            match start_generation(&db_file, &mut shipper, &repo, &now) {
                Ok((tick, generation, copies)) => {
                    if let Some((g, seq, _)) = &mut current {
                        if !tick.gap && !chain_ended {
                            for f in &tick.frames {
                                pending.push(tick.at, f);
                            }
                        }
                        flush(&send, g, seq, &mut pending);
                    }
                    pending = Pending::default();
                    chain_ended = false;
                    let _ = send.send(Job::Copy {
                        generation: generation.clone(),
                        copies,
                    });
                    let _ = send.send(Job::Prune);
                    current = Some((generation, 0, Instant::now()));
                }
                Err(e) => {
                    tracing::error!(error = %e, "continuous backup: cannot copy the database; trying again in a minute");
                    let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
                    s.last_error = Some(e.to_string());
                    s.failures += 1;
                    retry_at = Instant::now() + Duration::from_secs(60);
                }
            }
        } else {
            match shipper.tick(&now) {
                Ok(tick) if tick.gap => {
                    // Frames were lost to a checkpoint the shipper did not make: the chain
                    // ends; the next copy holds everything.
                    pending = Pending::default();
                    chain_ended = true;
                    broken.store(true, Ordering::SeqCst);
                }
                Ok(tick) => {
                    if current.is_some() {
                        for f in &tick.frames {
                            pending.push(tick.at, f);
                        }
                        if tick.frames.is_empty()
                            && pending.is_empty()
                            && last_current.elapsed() >= SEGMENT_EVERY
                        {
                            let _ = send.send(Job::Current(tick.at));
                            last_current = Instant::now();
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "continuous backup: reading the WAL failed");
                }
            }
        }
        if let Some((g, seq, _)) = &mut current {
            if stopping
                || last_flush.elapsed() >= SEGMENT_EVERY
                || pending.bytes.len() >= SEGMENT_BYTES
            {
                flush(&send, g, seq, &mut pending);
                last_flush = Instant::now();
            }
        }
        if stopping {
            break;
        }
        std::thread::sleep(TICK);
    }
    drop(send);
    let _ = sealing.join();
    status.lock().unwrap_or_else(|p| p.into_inner()).running = false;
}

fn flush(send: &mpsc::SyncSender<Job>, g: &Generation, seq: &mut u64, pending: &mut Pending) {
    if pending.is_empty() {
        return;
    }
    *seq += 1;
    let _ = send.send(Job::Segment {
        generation: g.clone(),
        seq: *seq,
        pending: std::mem::take(pending),
    });
}

fn start_generation(
    db_file: &std::path::Path,
    shipper: &mut Shipper,
    repo: &Repo,
    now: &dyn Fn() -> DateTime<Utc>,
) -> Result<(rapport_db::ShipperTick, Generation, Copies), DomainError> {
    let (copies, tick) = full::copy_sqlite_with(db_file, now, |base| {
        let tick = shipper.snapshot(base, now)?;
        Ok((tick.at, tick))
    })?;
    let generation = repo.create_generation(copies.taken_at)?;
    Ok((tick, generation, copies))
}
