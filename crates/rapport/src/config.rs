//! Configuration: built-in defaults, then `rapport.toml`, then `RAPPORT_*` environment
//! variables (highest precedence).

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    database_read_url: Option<String>,
    database_read_max_lag_ms: Option<i64>,
    listen: Option<String>,
    data_dir: Option<String>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    key_file: Option<String>,
    phone_region: Option<String>,
    log_format: Option<String>,
    max_body_bytes: Option<usize>,
    session_idle_minutes: Option<i64>,
    session_absolute_hours: Option<i64>,
    jobs_enabled: Option<bool>,
    public_url: Option<String>,
    /// No longer read (quick search needs no tuning since ADR 0041); accepted so that older
    /// files still load.
    #[allow(dead_code)]
    search_dense_rows: Option<i64>,
    job_poll_ms: Option<i64>,
    job_lease_secs: Option<i64>,
    audit_anchor_dir: Option<String>,
    audit_anchor_secs: Option<i64>,
    metrics: Option<String>,
    metrics_token: Option<String>,
    backup_dir: Option<String>,
    backup_continuous: Option<bool>,
    backup_scheduled: Option<bool>,
    backup_full_hours: Option<i64>,
    backup_keep_daily: Option<i64>,
    backup_keep_weekly: Option<i64>,
    backup_keep_monthly: Option<i64>,
    backup_drill_secs: Option<i64>,
    backup_offsite_secs: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    /// PostgreSQL: a streaming replica exports read from once it has caught up.
    pub database_read_url: Option<String>,
    /// How long an export waits for the replica to catch up before reading the primary.
    pub database_read_max_lag_ms: i64,
    pub listen: String,
    pub data_dir: PathBuf,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub key_file: PathBuf,
    /// Base64 of a 32-byte master key; when set, no key file is used.
    pub master_key: Option<String>,
    pub phone_region: String,
    pub log_format: String,
    pub max_body_bytes: usize,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    /// Run the background job worker in this process (on by default).
    pub jobs_enabled: bool,
    /// The address people reach Rapport at, for links in emails.
    pub public_url: Option<String>,
    pub job_poll_ms: i64,
    pub job_lease_secs: i64,
    /// Where the audit chain's signed anchors are written (outside the database).
    pub audit_anchor_dir: PathBuf,
    /// Seconds between anchors while the chain grows.
    pub audit_anchor_secs: i64,
    /// Who may read `GET /metrics` (none: the route is off).
    pub metrics: Option<rapport_web::metrics::Access>,
    /// Where backups are written and read (`rapport backup`, continuous backups).
    pub backup_dir: PathBuf,
    /// The server backs its SQLite database up continuously into `backup_dir`.
    pub backup_continuous: bool,
    /// Full copies from the job queue every `backup_full_hours` (without continuous backup).
    pub backup_scheduled: bool,
    /// Hours between full copies of a continuous backup.
    pub backup_full_hours: i64,
    /// Which backups are kept: the newest of each of so many days, weeks and months.
    pub backup_retention: rapport_services::backup::repo::Retention,
    /// Seconds between restore drills (0: none).
    pub backup_drill_secs: i64,
    /// Seconds between mirrorings of the backup directory to the off-site target.
    pub backup_offsite_secs: i64,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Config {
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let file = match path {
            Some(p) => Some(p.to_path_buf()),
            None => env("RAPPORT_CONFIG")
                .map(PathBuf::from)
                .or_else(|| Some(PathBuf::from("rapport.toml")).filter(|p| p.exists())),
        };
        let fc: FileConfig = match &file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read config file {}", p.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("config file {} is not valid", p.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir = PathBuf::from(
            env("RAPPORT_DATA_DIR")
                .or(fc.data_dir)
                .unwrap_or_else(|| "./data".into()),
        );
        let database_url = env("RAPPORT_DATABASE_URL")
            .or(fc.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("rapport.db").display()));
        let key_file = env("RAPPORT_KEY_FILE")
            .or(fc.key_file)
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("rapport.key"));
        let parse_num = |name: &str, file: Option<i64>, default: i64| -> Result<i64> {
            match env(name) {
                Some(v) => v
                    .parse()
                    .with_context(|| format!("{name} must be a whole number")),
                None => Ok(file.unwrap_or(default)),
            }
        };
        let on_off = |name: &str, file: Option<bool>| -> Result<bool> {
            match env(name).as_deref() {
                None => Ok(file.unwrap_or(false)),
                Some("true" | "1" | "on") => Ok(true),
                Some("false" | "0" | "off") => Ok(false),
                Some(_) => bail!("{name} must be on or off"),
            }
        };
        let cfg = Config {
            database_url,
            database_read_url: env("RAPPORT_DATABASE_READ_URL").or(fc.database_read_url),
            database_read_max_lag_ms: parse_num(
                "RAPPORT_DATABASE_READ_MAX_LAG_MS",
                fc.database_read_max_lag_ms,
                2_000,
            )?,
            listen: env("RAPPORT_LISTEN")
                .or(fc.listen)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            tls_cert: env("RAPPORT_TLS_CERT").or(fc.tls_cert).map(PathBuf::from),
            tls_key: env("RAPPORT_TLS_KEY").or(fc.tls_key).map(PathBuf::from),
            key_file,
            master_key: env("RAPPORT_MASTER_KEY"),
            phone_region: env("RAPPORT_PHONE_REGION")
                .or(fc.phone_region)
                .unwrap_or_else(|| "CN".into()),
            log_format: env("RAPPORT_LOG_FORMAT")
                .or(fc.log_format)
                .unwrap_or_else(|| "text".into()),
            max_body_bytes: parse_num(
                "RAPPORT_MAX_BODY_BYTES",
                fc.max_body_bytes.map(|v| v as i64),
                1_048_576,
            )? as usize,
            session_idle_minutes: parse_num(
                "RAPPORT_SESSION_IDLE_MINUTES",
                fc.session_idle_minutes,
                120,
            )?,
            session_absolute_hours: parse_num(
                "RAPPORT_SESSION_ABSOLUTE_HOURS",
                fc.session_absolute_hours,
                12,
            )?,
            jobs_enabled: match env("RAPPORT_JOBS_ENABLED").as_deref() {
                None => fc.jobs_enabled.unwrap_or(true),
                Some("true" | "1") => true,
                Some("false" | "0") => false,
                Some(_) => bail!("RAPPORT_JOBS_ENABLED must be true or false"),
            },
            public_url: env("RAPPORT_PUBLIC_URL").or(fc.public_url),
            job_poll_ms: parse_num("RAPPORT_JOB_POLL_MS", fc.job_poll_ms, 1000)?,
            job_lease_secs: parse_num("RAPPORT_JOB_LEASE_SECS", fc.job_lease_secs, 300)?,
            audit_anchor_dir: env("RAPPORT_AUDIT_ANCHOR_DIR")
                .or(fc.audit_anchor_dir)
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("audit-anchors")),
            audit_anchor_secs: parse_num("RAPPORT_AUDIT_ANCHOR_SECS", fc.audit_anchor_secs, 300)?,
            metrics: match (
                env("RAPPORT_METRICS_TOKEN").or(fc.metrics_token),
                env("RAPPORT_METRICS").or(fc.metrics).as_deref(),
            ) {
                (Some(token), None | Some("token")) if token.chars().count() >= 16 => {
                    Some(rapport_web::metrics::Access::Token(token))
                }
                (Some(_), None | Some("token")) => {
                    bail!("RAPPORT_METRICS_TOKEN must have at least 16 characters")
                }
                (None, Some("open")) => Some(rapport_web::metrics::Access::Open),
                (None, None | Some("off")) => None,
                _ => bail!(
                    "RAPPORT_METRICS is off, open (anyone who reaches the server) or token \
                     (with RAPPORT_METRICS_TOKEN)"
                ),
            },
            backup_dir: env("RAPPORT_BACKUP_DIR")
                .or(fc.backup_dir)
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("backups")),
            backup_continuous: on_off("RAPPORT_BACKUP_CONTINUOUS", fc.backup_continuous)?,
            backup_scheduled: on_off("RAPPORT_BACKUP_SCHEDULED", fc.backup_scheduled)?,
            backup_full_hours: parse_num("RAPPORT_BACKUP_FULL_HOURS", fc.backup_full_hours, 24)?,
            backup_retention: rapport_services::backup::repo::Retention {
                daily: parse_num("RAPPORT_BACKUP_KEEP_DAILY", fc.backup_keep_daily, 7)?
                    .clamp(0, 3650) as u32,
                weekly: parse_num("RAPPORT_BACKUP_KEEP_WEEKLY", fc.backup_keep_weekly, 4)?
                    .clamp(0, 520) as u32,
                monthly: parse_num("RAPPORT_BACKUP_KEEP_MONTHLY", fc.backup_keep_monthly, 12)?
                    .clamp(0, 1200) as u32,
            },
            backup_offsite_secs: parse_num(
                "RAPPORT_BACKUP_OFFSITE_SECS",
                fc.backup_offsite_secs,
                60,
            )?,
            backup_drill_secs: parse_num(
                "RAPPORT_BACKUP_DRILL_SECS",
                fc.backup_drill_secs,
                7 * 86_400,
            )?,
            data_dir,
        };
        if !(1..=24 * 31).contains(&cfg.backup_full_hours) {
            bail!("RAPPORT_BACKUP_FULL_HOURS must be between 1 and 744");
        }
        if !(1..=86_400).contains(&cfg.backup_offsite_secs) {
            bail!("RAPPORT_BACKUP_OFFSITE_SECS must be between 1 and 86400");
        }
        if !(0..=600_000).contains(&cfg.database_read_max_lag_ms) {
            bail!("RAPPORT_DATABASE_READ_MAX_LAG_MS must be between 0 and 600000");
        }
        if let Some(u) = &cfg.database_read_url {
            if !cfg.database_url.starts_with("postgres") || !u.starts_with("postgres") {
                bail!("RAPPORT_DATABASE_READ_URL is a PostgreSQL replica of a PostgreSQL database");
            }
        }
        if cfg.backup_drill_secs < 0 {
            bail!("RAPPORT_BACKUP_DRILL_SECS must be 0 (no drills) or more");
        }
        if cfg.tls_cert.is_some() != cfg.tls_key.is_some() {
            bail!("set both RAPPORT_TLS_CERT and RAPPORT_TLS_KEY, or neither");
        }
        if !matches!(cfg.log_format.as_str(), "text" | "json") {
            bail!("RAPPORT_LOG_FORMAT must be text or json");
        }
        if let Some(u) = &cfg.public_url {
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                bail!("RAPPORT_PUBLIC_URL must start with https:// or http://");
            }
        }
        if cfg.job_poll_ms < 10 || cfg.job_lease_secs < 1 {
            bail!("RAPPORT_JOB_POLL_MS must be at least 10 and RAPPORT_JOB_LEASE_SECS at least 1");
        }
        if cfg.audit_anchor_secs < 1 {
            bail!("RAPPORT_AUDIT_ANCHOR_SECS must be at least 1");
        }
        if cfg.session_idle_minutes < 1 || cfg.session_absolute_hours < 1 {
            bail!("session timeouts must be positive");
        }
        Ok(cfg)
    }

    /// Backups as the server's background jobs see them.
    pub fn backup_settings(&self) -> rapport_services::backup::Settings {
        rapport_services::backup::Settings {
            dir: self.backup_dir.clone(),
            retention: self.backup_retention,
            drill_every: (self.backup_drill_secs > 0)
                .then(|| std::time::Duration::from_secs(self.backup_drill_secs as u64)),
            full_every: std::time::Duration::from_secs(self.backup_full_hours as u64 * 3600),
            continuous: self.backup_continuous,
            scheduled: self.backup_scheduled,
            offsite_every: std::time::Duration::from_secs(self.backup_offsite_secs as u64),
            database_url: Some(self.database_url.clone()),
        }
    }

    /// Create the data directory (and the SQLite file's directory) if needed.
    pub fn ensure_dirs(&self) -> Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create data directory {}", self.data_dir.display()))?;
        if let Some(path) = self.database_url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path);
            if let Some(parent) = Path::new(path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("cannot create {}", parent.display()))?;
                }
            }
        }
        Ok(())
    }
}
