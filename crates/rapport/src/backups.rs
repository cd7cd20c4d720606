//! `rapport backup`, `rapport backup list | verify`, `rapport restore`, and the continuous
//! backup a server runs (ADR 0037).

use crate::config::Config;
use crate::serve;
use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use rapport_core::{Clock, SystemClock};
use rapport_services::backup::{self, BackupKey, Repo};
use rapport_services::crypto::Keyring;
use rapport_services::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Subcommand)]
pub enum BackupCommand {
    /// List the backups: each generation, when its copy was taken, the newest point it
    /// restores to, its size, and whether it is complete.
    List {
        /// The backup directory (default RAPPORT_BACKUP_DIR, else DATA_DIR/backups).
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// Restore drill: check a backup's files, restore it into a scratch directory, check the
    /// result (integrity, audit chain, the manifest's counts and checksums) and delete it.
    /// Exit status 1 when the backup fails; the result is recorded in the audit trail.
    Verify {
        #[arg(long)]
        from: Option<PathBuf>,
        /// A generation by name (default: the newest complete one).
        #[arg(long)]
        generation: Option<String>,
        /// Restore to this moment (RFC 3339) instead of the newest.
        #[arg(long)]
        at: Option<String>,
    },
    /// Download backups from the off-site target (S3-compatible storage) into a backup
    /// directory, for rapport restore: the target configured in the database, or, when the
    /// database is gone, the one given by --endpoint, --bucket and --access-key (the secret key
    /// in RAPPORT_BACKUP_S3_SECRET_KEY, else on standard input).
    Pull {
        /// The backup directory to download into (default RAPPORT_BACKUP_DIR).
        #[arg(long)]
        to: Option<PathBuf>,
        /// One generation by name (default: every complete one).
        #[arg(long)]
        generation: Option<String>,
        #[arg(long)]
        endpoint: Option<String>,
        #[arg(long)]
        bucket: Option<String>,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long)]
        access_key: Option<String>,
        /// Address the bucket as a host name (bucket.endpoint) instead of a path.
        #[arg(long)]
        virtual_host: bool,
        /// `s3` (default) or `sftp` (--endpoint sftp://user@host:port, --prefix the
        /// directory, --host-key the server's key, --private-key a key file).
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        host_key: Option<String>,
        #[arg(long)]
        private_key: Option<PathBuf>,
    },
}

/// The off-site target given on the command line (`rapport backup pull`).
struct PullFlags {
    endpoint: Option<String>,
    bucket: Option<String>,
    region: Option<String>,
    prefix: Option<String>,
    access_key: Option<String>,
    virtual_host: bool,
    kind: Option<String>,
    host_key: Option<String>,
    private_key: Option<PathBuf>,
}

/// Where `rapport backup pull` downloads from.
async fn pull_target(cfg: &Config, f: PullFlags) -> Result<backup::offsite::Target> {
    if f.bucket.is_none() && f.endpoint.is_none() {
        let store = serve::open_store(cfg).await?;
        let target = backup::offsite::load(store.db.reader(), &store).await;
        store.db.close().await;
        return target
            .map_err(|e| anyhow!("cannot read the off-site target: {e}"))?
            .ok_or_else(|| {
                anyhow!(
                    "no off-site target is configured in the database: give --endpoint, --bucket \
                     and --access-key"
                )
            });
    }
    let secret = match (
        &f.private_key,
        std::env::var("RAPPORT_BACKUP_S3_SECRET_KEY"),
    ) {
        (Some(file), _) => std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?,
        (None, Ok(s)) if !s.is_empty() => s,
        _ => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the secret key from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let mut doc = serde_json::Map::new();
    for (k, v) in [
        ("endpoint", f.endpoint),
        ("bucket", f.bucket),
        ("region", f.region),
        ("prefix", f.prefix),
        ("access_key", f.access_key),
        ("kind", f.kind),
        ("host_key", f.host_key),
    ] {
        if let Some(v) = v {
            doc.insert(k.into(), v.into());
        }
    }
    doc.insert("secret_key".into(), secret.into());
    if f.virtual_host {
        doc.insert("path_style".into(), false.into());
    }
    backup::offsite::parse(&doc, None).map_err(|e| match e {
        rapport_core::DomainError::Validation(errs) => anyhow!(
            "{}",
            errs.iter()
                .map(|e| format!("--{}: {}", e.field.replace('_', "-"), e.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow!("{other}"),
    })
}

/// The backup key: derived from RAPPORT_MASTER_KEY, else the key file's (added to it if it
/// has none yet).
pub fn backup_key(cfg: &Config) -> Result<BackupKey> {
    if let Some(master) = &cfg.master_key {
        let ring = Keyring::from_master(master).map_err(|e| anyhow!("{e}"))?;
        return BackupKey::of(&ring).ok_or_else(|| anyhow!("no backup key"));
    }
    let ring = crate::keys::file_with_backup_key(cfg)?
        .keyring()
        .map_err(|e| anyhow!("{e}"))?;
    BackupKey::of(&ring).ok_or_else(|| anyhow!("the key file has no backup key"))
}

/// The SQLite file of `cfg`; an error on PostgreSQL.
fn sqlite_file(cfg: &Config) -> Result<PathBuf> {
    match cfg.database_url.strip_prefix("sqlite://") {
        Some(p) => Ok(PathBuf::from(p.split('?').next().unwrap_or(p))),
        None => bail!("the database is not SQLite"),
    }
}

/// Where a restore goes.
enum Target {
    /// A data directory (SQLite).
    Dir(PathBuf),
    /// An empty PostgreSQL database.
    Database(String),
}

impl Target {
    fn url(&self) -> String {
        match self {
            Target::Dir(d) => format!("sqlite://{}", d.join("rapport.db").display()),
            Target::Database(u) => u.clone(),
        }
    }
}

fn parse_at(at: Option<&str>) -> Result<Option<DateTime<Utc>>> {
    at.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .with_context(|| {
                format!("--at {s:?} is not a time such as 2026-12-07T14:03:00+08:00 (RFC 3339)")
            })
    })
    .transpose()
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// Before the server opens its store: a key file from before backups existed gets its
/// backup key when this server takes backups by itself.
pub fn prepare(cfg: &Config) -> Result<()> {
    if (cfg.backup_continuous || cfg.backup_scheduled)
        && cfg.master_key.is_none()
        && cfg.key_file.exists()
    {
        crate::keys::file_with_backup_key(cfg)?;
    }
    Ok(())
}

/// Scheduled copies (RAPPORT_BACKUP_SCHEDULED) and restore drills, the latter when this
/// server backs up by itself or its backup directory holds backups made by `rapport backup`.
pub async fn schedule(cfg: &Config, store: &Store) -> Result<()> {
    if cfg.backup_continuous || cfg.backup_scheduled {
        std::fs::create_dir_all(&cfg.backup_dir)
            .with_context(|| format!("cannot create {}", cfg.backup_dir.display()))?;
    }
    if !cfg.jobs_enabled {
        return Ok(());
    }
    backup::scheduled::schedule(store)
        .await
        .map_err(|e| anyhow!("cannot schedule the next backup: {e}"))?;
    backup::offsite::schedule(store)
        .await
        .map_err(|e| anyhow!("cannot schedule the off-site copy: {e}"))?;
    if cfg.backup_drill_secs == 0 {
        return Ok(());
    }
    let has_backups = Repo::new(&cfg.backup_dir)
        .generations()
        .map(|g| !g.is_empty())
        .unwrap_or(false);
    if !(cfg.backup_continuous || cfg.backup_scheduled || has_backups) {
        return Ok(());
    }
    backup::drill::schedule(store)
        .await
        .map_err(|e| anyhow!("cannot schedule the restore drill: {e}"))
}

/// `rapport backup`: one consistent copy into a new generation, recorded like the server's
/// own (audit trail, the backup page's last run; a failure notifies the administrators).
pub async fn run(cfg: &Config, to: Option<PathBuf>) -> Result<()> {
    let key = backup_key(cfg)?;
    let dir = to.unwrap_or_else(|| cfg.backup_dir.clone());
    let repo = Repo::new(&dir);
    let clock = SystemClock;
    let started = std::time::Instant::now();
    let store = serve::open_store(cfg).await?;
    let written = match sqlite_file(cfg) {
        Ok(file) if !file.exists() => Err(anyhow!("there is no database at {}", file.display())),
        Ok(file) => tokio::task::spawn_blocking(move || {
            backup::full::sqlite(&file, &repo, &key, &|| clock.now())
        })
        .await
        .map_err(|e| anyhow!("{e}"))
        .and_then(|r| r.map_err(|e| anyhow!("{e}"))),
        Err(_) => {
            backup::postgres::backup(&store.db, &cfg.database_url, &repo, &key, &|| clock.now())
                .await
                .map_err(|e| anyhow!("{e}"))
        }
    }
    .and_then(|written| {
        let pruned = backup::continuous::prune(&Repo::new(&dir), cfg.backup_retention, clock.now())
            .map_err(|e| {
                anyhow!("the backup was written, but older ones could not be pruned: {e}")
            })?;
        if pruned > 0 {
            eprintln!("deleted {pruned} older backups past the retention rules");
        }
        Ok(written)
    });
    let last = backup::scheduled::LastRun {
        at: clock.now(),
        trigger: "command".into(),
        generation: written.as_ref().ok().map(|w| w.generation.id.clone()),
        bytes: written.as_ref().map_or(0, |w| w.bytes),
        seconds: started.elapsed().as_secs_f64(),
        error: written.as_ref().err().map(|e| format!("{e:#}")),
    };
    let recorded = backup::scheduled::record(&store, &dir, &last).await;
    store.db.close().await;
    let written = written.map_err(|e| anyhow!("backup failed: {e:#}"))?;
    recorded.map_err(|e| anyhow!("cannot record the backup in the audit trail: {e}"))?;
    let rows: u64 = written.manifest.tables.iter().map(|t| t.rows).sum();
    println!(
        "backup {} written to {}: {} ({} tables, {} rows) in {:.1} s, taken at {}",
        written.generation.id,
        written.generation.dir.display(),
        mb(written.bytes),
        written.manifest.tables.len(),
        rows,
        last.seconds,
        written.manifest.taken_at.to_rfc3339()
    );
    Ok(())
}

pub async fn command(cfg: &Config, command: BackupCommand) -> Result<()> {
    match command {
        BackupCommand::List { from } => list(&Repo::new(from.unwrap_or(cfg.backup_dir.clone()))),
        BackupCommand::Verify {
            from,
            generation,
            at,
        } => verify(cfg, from, generation, at).await,
        BackupCommand::Pull {
            to,
            generation,
            endpoint,
            bucket,
            region,
            prefix,
            access_key,
            virtual_host,
            kind,
            host_key,
            private_key,
        } => {
            let target = pull_target(
                cfg,
                PullFlags {
                    endpoint,
                    bucket,
                    region,
                    prefix,
                    access_key,
                    virtual_host,
                    kind,
                    host_key,
                    private_key,
                },
            )
            .await?;
            let dir = to.unwrap_or_else(|| cfg.backup_dir.clone());
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let got = backup::offsite::pull(&target, &dir, generation.as_deref(), &mut |m| {
                eprintln!("{m}")
            })
            .await
            .map_err(|e| anyhow!("{e}"))?;
            println!(
                "{} backups from {} are in {}: {}; restore with rapport restore --from {}",
                got.len(),
                target.describe(),
                dir.display(),
                got.join(", "),
                dir.display()
            );
            Ok(())
        }
    }
}

fn list(repo: &Repo) -> Result<()> {
    let all = repo.generations().map_err(|e| anyhow!("{e}"))?;
    if all.is_empty() {
        println!("no backups in {}", repo.dir.display());
        return Ok(());
    }
    println!("generation\ttaken at\trestores up to\tsegments\tsize\tstate");
    for g in &all {
        let (taken, state) = match &g.manifest {
            Some(m) => (m.taken_at.to_rfc3339(), "complete"),
            None => ("-".into(), "incomplete"),
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            g.id,
            taken,
            g.last_point().map_or("-".into(), |p| p.to_rfc3339()),
            g.segments.len(),
            mb(g.size()),
            state
        );
    }
    Ok(())
}

/// Restores into `target` (a data directory that must not hold a database, or an empty
/// PostgreSQL database) and checks the audit chain; returns what was restored.
async fn restore_into(
    cfg: &Config,
    from: &Path,
    target: &Target,
    at: Option<DateTime<Utc>>,
    generation: Option<String>,
) -> Result<backup::restore::Outcome> {
    let key = backup_key(cfg)?;
    let repo = Repo::new(from);
    let outcome = match target {
        Target::Dir(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let file = dir.join("rapport.db");
            tokio::task::spawn_blocking(move || {
                backup::restore::sqlite(
                    &backup::restore::Request {
                        repo: &repo,
                        key: &key,
                        target: &file,
                        at,
                        generation: generation.as_deref(),
                    },
                    &mut |msg| eprintln!("{msg}"),
                )
            })
            .await
            .map_err(|e| anyhow!("{e}"))?
        }
        Target::Database(url) => {
            if at.is_some() {
                bail!(
                    "a PostgreSQL backup made by rapport backup restores to the moment it was \
                     taken; for a point in time use pgBackRest (operations guide)"
                );
            }
            backup::postgres::restore(&repo, &key, url, generation.as_deref(), &mut |msg| {
                eprintln!("{msg}")
            })
            .await
            .map(|m| backup::restore::Outcome {
                generation: m.generation,
                point: m.taken_at,
                segments: 0,
                transactions: 0,
                matched_manifest: true,
            })
        }
    }
    .map_err(|e| anyhow!("restore failed: {e}"))?;
    let report = backup::restore::verify_trail(
        &target.url(),
        crate::keys::existing(cfg)?,
        Arc::new(SystemClock),
    )
    .await
    .map_err(|e| anyhow!("cannot verify the restored audit trail: {e}"))?;
    if let Some(p) = &report.problem {
        bail!("the restored audit trail does not verify: {p:?}");
    }
    eprintln!("audit chain intact: {} entries verified", report.entries);
    Ok(outcome)
}

/// `rapport restore`.
pub async fn restore(
    cfg: &Config,
    from: Option<PathBuf>,
    to: Option<PathBuf>,
    to_database: Option<String>,
    at: Option<String>,
    generation: Option<String>,
) -> Result<()> {
    let at = parse_at(at.as_deref())?;
    let from = from.unwrap_or_else(|| cfg.backup_dir.clone());
    let target = match (to, to_database) {
        (Some(dir), None) => Target::Dir(dir),
        (None, Some(url)) if url.starts_with("postgres") => Target::Database(url),
        (None, Some(_)) => bail!("--to-database takes a postgres:// URL"),
        _ => bail!("give --to DIR (SQLite) or --to-database URL (PostgreSQL), one of them"),
    };
    let outcome = restore_into(cfg, &from, &target, at, generation).await?;
    let start_with = match &target {
        Target::Dir(d) => format!("RAPPORT_DATA_DIR={}", d.display()),
        Target::Database(_) => "RAPPORT_DATABASE_URL set to that database".into(),
    };
    let into = match &target {
        Target::Dir(d) => d.join("rapport.db").display().to_string(),
        Target::Database(_) => "the database".into(),
    };
    println!(
        "restored backup {} to {} into {} ({} WAL segments, {} transactions{}); start it with \
         {}",
        outcome.generation,
        outcome.point.to_rfc3339(),
        into,
        outcome.segments,
        outcome.transactions,
        if outcome.matched_manifest {
            "; every table matches the manifest"
        } else {
            ""
        },
        start_with
    );
    Ok(())
}

async fn verify(
    cfg: &Config,
    from: Option<PathBuf>,
    generation: Option<String>,
    at: Option<String>,
) -> Result<()> {
    let at = parse_at(at.as_deref())?;
    let from = from.unwrap_or_else(|| cfg.backup_dir.clone());
    let started = std::time::Instant::now();
    let result = if sqlite_file(cfg).is_ok() {
        let scratch = from.join(format!(".drill-{}", uuid::Uuid::new_v4().simple()));
        let result = restore_into(cfg, &from, &Target::Dir(scratch.clone()), at, generation).await;
        let _ = std::fs::remove_dir_all(&scratch);
        result
    } else {
        let scratch = backup::postgres::ScratchDatabase::create(&cfg.database_url)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let result = restore_into(
            cfg,
            &from,
            &Target::Database(scratch.url.clone()),
            at,
            generation,
        )
        .await;
        scratch.drop_it().await;
        result
    };
    let drill = backup::drill::Drill {
        generation: match &result {
            Ok(o) => Some(o.generation.clone()),
            Err(_) => Repo::new(&from).pick(at, None).ok().map(|g| g.id),
        },
        point: result.as_ref().ok().map(|o| o.point),
        segments: result.as_ref().map(|o| o.segments).unwrap_or(0),
        error: result.as_ref().err().map(|e| format!("{e:#}")),
        seconds: started.elapsed().as_secs_f64(),
    };
    let store = serve::open_store(cfg).await?;
    let recorded = backup::drill::record(&store, &from, &drill).await;
    store.db.close().await;
    recorded.map_err(|e| anyhow!("cannot record the drill: {e}"))?;
    match result {
        Ok(o) => {
            println!(
                "backup {} restores to {} and checks out ({} WAL segments{}) in {:.1} s",
                o.generation,
                o.point.to_rfc3339(),
                o.segments,
                if o.matched_manifest {
                    ", every table matches the manifest"
                } else {
                    ""
                },
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

/// Starts the server's continuous backup when configured (SQLite on a file).
pub fn start_continuous(cfg: &Config, store: &Store) -> Result<()> {
    if !cfg.backup_continuous {
        return Ok(());
    }
    let Some(file) = store.db.file().map(Path::to_path_buf) else {
        bail!("RAPPORT_BACKUP_CONTINUOUS needs a SQLite database file; on PostgreSQL use pgBackRest (operations guide)");
    };
    let key = backup_key(cfg)?;
    let shipper = store
        .db
        .shipper()
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| anyhow!("continuous backups need a SQLite database file"))?;
    let settings = backup::continuous::Settings {
        dir: cfg.backup_dir.clone(),
        full_every: std::time::Duration::from_secs(cfg.backup_full_hours as u64 * 3600),
        retention: cfg.backup_retention,
    };
    std::fs::create_dir_all(&settings.dir)
        .with_context(|| format!("cannot create {}", settings.dir.display()))?;
    let clock = store.clock.clone();
    let status = store.backup_status();
    store
        .background()
        .spawn("continuous backup", move |stop| async move {
            let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag2 = flag.clone();
            let thread = std::thread::Builder::new()
                .name("rapport-backup".into())
                .spawn(move || {
                    backup::continuous::run(file, shipper, key, settings, clock, status, flag2)
                });
            let Ok(thread) = thread else {
                tracing::error!("continuous backup: cannot start its thread");
                return;
            };
            stop.requested().await;
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        });
    tracing::info!(dir = %cfg.backup_dir.display(), "continuous backup started");
    Ok(())
}
