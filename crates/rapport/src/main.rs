//! `rapport`: the server and its command line.

mod backups;
mod config;
mod demo;
mod doctor;
mod keys;
mod serve;
mod users;

use anyhow::{anyhow, bail, Result};
use clap::{Parser, Subcommand};
use config::Config;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "rapport",
    version,
    about = "Rapport: a self-hosted CRM in one binary (SQLite or PostgreSQL)"
)]
struct Cli {
    /// Configuration file (default: ./rapport.toml if present, or RAPPORT_CONFIG).
    /// Environment variables RAPPORT_DATABASE_URL, RAPPORT_LISTEN, RAPPORT_DATA_DIR,
    /// RAPPORT_TLS_CERT, RAPPORT_TLS_KEY, RAPPORT_KEY_FILE, RAPPORT_MASTER_KEY,
    /// RAPPORT_PHONE_REGION, RAPPORT_LOG_FORMAT override the file.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (UI and API). Applies migrations first.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 (overrides RAPPORT_LISTEN).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Check the configuration, key file, database, clock, disk space and directories, and
    /// say what to fix; changes nothing. Exit status 1 when something must be fixed.
    Doctor,
    /// Manage users without a running server.
    User {
        #[command(subcommand)]
        command: users::UserCommand,
    },
    /// Back up the SQLite database and its audit read journal while the server runs: one
    /// consistent copy, compressed and encrypted with the backup key, with a signed manifest.
    #[command(args_conflicts_with_subcommands = true)]
    Backup {
        /// The backup directory (default RAPPORT_BACKUP_DIR, else DATA_DIR/backups).
        #[arg(long)]
        to: Option<PathBuf>,
        #[command(subcommand)]
        command: Option<backups::BackupCommand>,
    },
    /// Restore a backup into an empty data directory (never over a database), to its newest
    /// point or to a moment (--at), and check the result.
    Restore {
        /// The backup directory (default RAPPORT_BACKUP_DIR, else DATA_DIR/backups).
        #[arg(long)]
        from: Option<PathBuf>,
        /// The data directory to restore a SQLite backup into; it must not hold a database.
        #[arg(long)]
        to: Option<PathBuf>,
        /// The empty PostgreSQL database to restore a PostgreSQL backup into.
        #[arg(long)]
        to_database: Option<String>,
        /// Restore the state at this moment (RFC 3339, e.g. 2026-12-07T14:03:00+08:00).
        #[arg(long)]
        at: Option<String>,
        /// A generation by name (see rapport backup list).
        #[arg(long)]
        generation: Option<String>,
    },
    /// Check the audit trail's hash chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage the field-encryption keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Fill the database with realistic synthetic Chinese and English companies and people
    /// (and a small sales organisation to own them). Fast enough for millions of rows.
    Demo {
        /// Number of accounts to create.
        #[arg(long, default_value_t = 200)]
        accounts: u64,
        /// Number of contacts to create (each linked to one of the accounts).
        #[arg(long, default_value_t = 500)]
        contacts: u64,
        /// Number of leads to create.
        #[arg(long, default_value_t = 100)]
        leads: u64,
        /// Number of opportunities to create (each on one of the accounts, in a stage of the
        /// default pipeline).
        #[arg(long, default_value_t = 100)]
        opportunities: u64,
        /// Random seed, for repeatable data sets.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the chain and check it against the signed anchors; exit 1 and name the first entry
    /// that was changed, removed or reordered, or a trail cut short or rewritten.
    Verify,
    /// Write a signed anchor of the chain's head to the anchor directory now.
    Anchor,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Show the keys, how many stored values use each, and any value that does not decrypt.
    Status,
    /// Add a new active key and re-encrypt every value with it (old keys stay decrypt-only);
    /// an interrupted rotation resumes with the key it added.
    Rotate,
    /// Change the blind-index key and rebuild every record's lookups (exact-value search,
    /// filters on sensitive fields, duplicate checks) under it; run again to resume.
    RotateIndex,
    /// Remove a decrypt-only key once no stored value uses it.
    Retire {
        /// The key id, e.g. k1.
        key_id: String,
    },
    /// Write the key file (every key, the backup key too) sealed with a password read from
    /// standard input, to keep apart from the server: backups restore only with it.
    Export {
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Install a key export (password on standard input) as the key file; refuses to replace
    /// a different key file unless --force.
    Import {
        /// The export file.
        file: PathBuf,
        #[arg(long)]
        force: bool,
    },
}

fn init_logging(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RAPPORT_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    if cfg.log_format == "json" {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
}

/// mimalloc: the server allocates many small short-lived objects from several threads, where
/// glibc's allocator showed up at the top of profiles (see docs/adr/0005).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

async fn run() -> Result<()> {
    let cli = Cli::parse();
    let mut cfg = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve { listen } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            init_logging(&cfg);
            serve::run(cfg).await
        }
        Command::Migrate => {
            let store = serve::open_store(&cfg).await?;
            store.db.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::Doctor => {
            if !doctor::run(&cfg).await? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::User { command } => users::run(&cfg, command).await,
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let store = serve::open_store(&cfg).await?;
            let report = rapport_services::audit::verify(&store)
                .await
                .map_err(describe)?;
            store.db.close().await;
            print_verify(&report);
            if report.problem.is_some() {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Anchor,
        } => {
            let store = serve::open_store(&cfg).await?;
            let written = rapport_services::audit::anchor::write(&store, &cfg.audit_anchor_dir)
                .await
                .map_err(describe);
            // Its email (when an address is set) is queued for the server's job worker.
            if let Ok(Some(a)) = &written {
                rapport_services::mail::anchors::enqueue(&store, a)
                    .await
                    .map_err(describe)?;
            }
            store.db.close().await;
            match written? {
                Some(a) => println!(
                    "anchored entry {} in {}",
                    a.seq,
                    cfg.audit_anchor_dir.display()
                ),
                None => println!("nothing new to anchor"),
            }
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Export { out },
        } => keys::export(&cfg, &out),
        Command::Keys {
            command: KeysCommand::Import { file, force },
        } => keys::import(&cfg, &file, force),
        Command::Keys { command } => keys_command(&cfg, command).await,
        Command::Backup { to, command: None } => backups::run(&cfg, to).await,
        Command::Backup {
            command: Some(command),
            ..
        } => backups::command(&cfg, command).await,
        Command::Restore {
            from,
            to,
            to_database,
            at,
            generation,
        } => backups::restore(&cfg, from, to, to_database, at, generation).await,
        Command::Demo {
            accounts,
            contacts,
            leads,
            opportunities,
            seed,
        } => {
            let store = serve::open_store(&cfg).await?;
            let sizes = demo::Sizes {
                accounts,
                contacts,
                leads,
                opportunities,
            };
            let res = demo::run(&store, sizes, seed).await;
            store.db.close().await;
            res
        }
    }
}

/// Turn a domain error into a message naming the field.
fn describe(e: rapport_core::DomainError) -> anyhow::Error {
    match e {
        rapport_core::DomainError::Validation(errors) => {
            anyhow!(errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "))
        }
        other => anyhow!("{other}"),
    }
}

fn print_verify(report: &rapport_services::audit::VerifyReport) {
    match &report.problem {
        None if report.entries == 0 => println!("audit trail is empty: nothing to verify"),
        None => println!("audit chain intact: {} entries verified", report.entries),
        Some(p) => {
            println!(
                "audit chain BROKEN at entry {} ({}): {}",
                p.seq, p.kind, p.message
            );
            if report.entries > 0 {
                println!("entries 1..{} verified before the break", report.entries);
            } else {
                println!("no entry verified before the break");
            }
        }
    }
    let dir = report.anchor_dir.as_deref().unwrap_or("-");
    match &report.latest_anchor {
        Some((seq, at)) => println!(
            "checked against {} anchors in {dir}; the newest, of {at}, recorded entry {seq}",
            report.anchors
        ),
        None => println!(
            "no anchor in {dir} yet: a trail cut short or rewritten as a whole cannot be found \
             until a server has written one (`rapport audit anchor`)"
        ),
    }
}

async fn keys_command(cfg: &Config, command: KeysCommand) -> Result<()> {
    if cfg.master_key.is_some() {
        bail!("keys are managed in a key file; RAPPORT_MASTER_KEY is set, so there is nothing to rotate");
    }
    let store = serve::open_store(cfg).await?;
    let result = match command {
        KeysCommand::Status => keys::status(cfg, &store).await,
        KeysCommand::Rotate => keys::rotate(cfg, &store).await,
        KeysCommand::RotateIndex => keys::rotate_index(cfg, &store).await,
        KeysCommand::Retire { key_id } => keys::retire(cfg, &store, &key_id).await,
        // Handled before a store is opened.
        KeysCommand::Export { .. } | KeysCommand::Import { .. } => Ok(()),
    };
    store.db.close().await;
    result
}
