//! Connections to SQLite or PostgreSQL. SQLite gets one writer connection (all write
//! transactions go through it) and a pool of readers; PostgreSQL uses one pool for both.

use crate::error::db_err;
use crate::postgres::{Replica, ReplicaReads};
use crate::rows::{all_rows, names, Rows};
use crate::search_index::filters::Filters;
use crate::sqlite::audit_journal::Journal;
use crate::sqlite::checkpointer::Checkpointer;
use crate::sqlite::page_readers::LiteReaders;
use crate::sqlite::shipper::{Shipper, Shipping};
use crate::statements::get;
use rapport_core::DomainError;
use sea_orm::sea_query::{SelectStatement, SqliteQueryBuilder};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, Statement, TransactionTrait,
};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Db {
    read: DatabaseConnection,
    write: DatabaseConnection,
    backend: DatabaseBackend,
    /// SQLite: the task that checkpoints the WAL off the write path (see [`Checkpointer`]).
    checkpointer: Option<std::sync::Arc<Checkpointer>>,
    /// SQLite on a file: the connections [`Db::read_rows`] reads pages with.
    lite: Option<std::sync::Arc<LiteReaders>>,
    /// SQLite on a file: where reads' audit entries wait to be moved into the trail
    /// (ADR 0017).
    journal: Option<std::sync::Arc<Journal>>,
    /// SQLite: the filters of the search tokens' closed generations (ADR 0027).
    token_filters: std::sync::Arc<Filters>,
    /// SQLite: what a continuous backup's [`Shipper`] shares with the other connections.
    shipping: std::sync::Arc<Shipping>,
    /// SQLite on a file: its path.
    file: Option<std::path::PathBuf>,
    /// PostgreSQL: the read replica bulk reads may use ([`Db::for_bulk_reads`]).
    replica: Option<std::sync::Arc<Replica>>,
    /// Where bulk reads ran, for metrics.
    replica_reads: std::sync::Arc<ReplicaReads>,
}

/// WAL frames (4 KiB pages) after which the writer checkpoints on its own: only reached when
/// the background checkpoints fall behind, and bounds the WAL's size (256 MiB).
const WRITER_CHECKPOINT_FRAMES: u32 = 65_536;

/// The size, in bytes, the SQLite WAL file is cut back to when a checkpoint lets it start
/// again (`journal_size_limit`).
const WAL_SIZE_LIMIT: u64 = 64 << 20;

/// How long [`Db::scrub_wal`] keeps trying to empty the WAL while others hold it.
const SCRUB_FOR: Duration = Duration::from_secs(5);

impl Db {
    pub async fn connect(url: &str) -> Result<Db, DomainError> {
        if url.starts_with("sqlite:") {
            // SQLite's default page cache (2 MiB): these read single rows and settings; the
            // page readers below keep the larger caches.
            let read = Database::connect(sqlite_options(url, SQLX_READERS, None, false))
                .await
                .map_err(db_err)?;
            // The writer keeps a larger page cache: bulk writes (imports) touch many index
            // pages, and reading them back from the file costs a system call each.
            let write = Database::connect(sqlite_options(url, 1, Some(32 * 1024), true))
                .await
                .map_err(db_err)?;
            let shipping = std::sync::Arc::new(Shipping::default());
            let checkpointer =
                Checkpointer::open(sqlite_options(url, 1, None, false), shipping.clone()).await?;
            // The table `begin` writes nothing to, to take the write lock first (see there).
            write
                .execute(Statement::from_string(
                    DatabaseBackend::Sqlite,
                    "CREATE TABLE IF NOT EXISTS write_lock (x INTEGER)",
                ))
                .await
                .map_err(db_err)?;
            let file = database_file(&write).await?;
            let lite = match &file {
                Some(path) => Some(std::sync::Arc::new(LiteReaders::open(
                    path,
                    LITE_READERS,
                    READER_CACHE_KIB,
                )?)),
                None => None,
            };
            let journal = match &file {
                Some(path) => Some(std::sync::Arc::new(Journal::open(path)?)),
                None => None,
            };
            Ok(Db {
                read,
                write,
                backend: DatabaseBackend::Sqlite,
                checkpointer: Some(std::sync::Arc::new(checkpointer)),
                lite,
                journal,
                token_filters: Default::default(),
                shipping,
                file: file.map(Into::into),
                replica: None,
                replica_reads: Default::default(),
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = crate::postgres::primary_pool(url).await?;
            Ok(Db {
                read: pool.clone(),
                write: pool,
                backend: DatabaseBackend::Postgres,
                checkpointer: None,
                lite: None,
                journal: None,
                token_filters: Default::default(),
                shipping: Default::default(),
                file: None,
                replica: None,
                replica_reads: Default::default(),
            })
        } else {
            Err(DomainError::Internal(format!(
                "unsupported database URL {url:?}: use sqlite://PATH or postgres://..."
            )))
        }
    }

    /// PostgreSQL: read bulk reads (exports) from the streaming replica at `url` when it has
    /// replayed, within `max_lag`, every write the primary had committed when they start.
    pub async fn with_replica(mut self, url: &str, max_lag: Duration) -> Result<Db, DomainError> {
        if self.backend != DatabaseBackend::Postgres {
            return Err(DomainError::Internal(
                "a read replica needs PostgreSQL as the database".into(),
            ));
        }
        self.replica = Some(std::sync::Arc::new(Replica::connect(url, max_lag).await?));
        Ok(self)
    }

    /// The database bulk reads (exports; later reports and the change feed) read from: this
    /// one, with its reads sent to the replica if there is one and it has caught up with
    /// the primary as of now (so the reads see every write committed before they start);
    /// otherwise this one unchanged. Writes always go to the primary.
    pub async fn for_bulk_reads(&self) -> Db {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(replica) = &self.replica else {
            return self.clone();
        };
        let caught_up = match crate::postgres::current_lsn(&self.write).await {
            Ok(target) => replica.caught_up(target).await,
            Err(_) => false,
        };
        if caught_up {
            self.replica_reads.on_replica.fetch_add(1, Relaxed);
            Db {
                read: replica.conn.clone(),
                ..self.clone()
            }
        } else {
            self.replica_reads.on_primary.fetch_add(1, Relaxed);
            self.clone()
        }
    }

    /// Bulk reads so far on the replica and on the primary (`None` without a replica).
    pub fn replica_reads(&self) -> Option<(u64, u64)> {
        use std::sync::atomic::Ordering::Relaxed;
        self.replica.as_ref()?;
        Some((
            self.replica_reads.on_replica.load(Relaxed),
            self.replica_reads.on_primary.load(Relaxed),
        ))
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.backend
    }

    pub fn is_sqlite(&self) -> bool {
        self.backend == DatabaseBackend::Sqlite
    }

    pub fn reader(&self) -> &DatabaseConnection {
        &self.read
    }

    /// The connection pools (name, open connections, idle ones) for metrics. On PostgreSQL
    /// readers and writers share one pool, named once.
    pub fn pool_stats(&self) -> Vec<(&'static str, u32, usize)> {
        let of = |c: &DatabaseConnection| match self.backend {
            DatabaseBackend::Postgres => {
                let p = c.get_postgres_connection_pool();
                (p.size(), p.num_idle())
            }
            _ => {
                let p = c.get_sqlite_connection_pool();
                (p.size(), p.num_idle())
            }
        };
        let (size, idle) = of(&self.write);
        if self.backend == DatabaseBackend::Postgres {
            return vec![("shared", size, idle)];
        }
        let (rsize, ridle) = of(&self.read);
        vec![("writer", size, idle), ("reader", rsize, ridle)]
    }

    /// Every row of `q`, whose selected columns are `columns` (plain column names), read
    /// outside any transaction: on SQLite by the [`LiteReaders`] when its values allow,
    /// otherwise as [`all_rows`] reads them.
    pub async fn read_rows(
        &self,
        q: &SelectStatement,
        columns: &[String],
    ) -> Result<Rows, DomainError> {
        if let Some(lite) = &self.lite {
            let (sql, values) = q.build(SqliteQueryBuilder);
            if let Some(rows) = lite.rows(sql, &values.0).await? {
                return Ok(Rows::Lite {
                    names: names(columns),
                    rows,
                });
            }
        }
        if self.backend == DatabaseBackend::Postgres {
            // Read by position from the driver's rows: sea-orm's rows look each cell up by
            // name and format an error message for every NULL (ADR 0040).
            use sea_query_binder::SqlxBinder;
            let (sql, values) = q.build_sqlx(sea_orm::sea_query::PostgresQueryBuilder);
            let rows = sea_orm::sqlx::query_with(&sql, values)
                .fetch_all(self.read.get_postgres_connection_pool())
                .await
                .map_err(|e| db_err(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))))?;
            return Ok(Rows::Pg {
                names: names(columns),
                rows,
            });
        }
        all_rows(&self.read, q, columns).await
    }

    /// SQLite: the WAL checkpointer, for the server to run beside its requests.
    pub fn checkpointer(&self) -> Option<Checkpointer> {
        self.checkpointer.as_deref().cloned()
    }

    /// The filters of the search tokens' closed generations (ADR 0027).
    pub fn token_filters(&self) -> &std::sync::Arc<Filters> {
        &self.token_filters
    }

    /// The read journal of the audit trail, if this database has one (SQLite on a file).
    pub fn journal(&self) -> Option<&std::sync::Arc<Journal>> {
        self.journal.as_ref()
    }

    /// SQLite on a file: the database file's path.
    pub fn file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }

    /// SQLite on a file: a [`Shipper`] reading every committed transaction for a continuous
    /// backup. While it lives it makes the checkpoints. `None` on PostgreSQL or in memory.
    pub fn shipper(&self) -> Result<Option<Shipper>, DomainError> {
        match &self.file {
            Some(f) => Ok(Some(Shipper::open(f, self.shipping.clone())?)),
            None => Ok(None),
        }
    }

    /// The write connection, for single statements that need no transaction.
    pub fn writer(&self) -> &DatabaseConnection {
        &self.write
    }

    /// SQLite: copies the whole WAL into the database file and truncates it, so that no old
    /// page image (a value just erased) stays behind in the WAL; secure_delete has already
    /// zeroed freed space in the file itself. A checkpoint already running (the background
    /// [`Checkpointer`]'s, or another process's) or a reader still on an older snapshot makes
    /// it busy: it tries again for up to [`SCRUB_FOR`]. Returns whether the WAL is empty.
    /// PostgreSQL keeps no such log in reach of a reader of the data: always true.
    pub async fn scrub_wal(&self) -> bool {
        if self.backend != DatabaseBackend::Sqlite {
            return true;
        }
        // A continuous backup cannot read frames this checkpoint copies and then overwrites.
        self.shipping
            .foreign_restarts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let started = std::time::Instant::now();
        loop {
            let done = self
                .write
                .query_one(Statement::from_string(
                    DatabaseBackend::Sqlite,
                    "PRAGMA wal_checkpoint(TRUNCATE)",
                ))
                .await
                .ok()
                .flatten()
                .and_then(|r| {
                    let busy: i64 = r.try_get("", "busy").ok()?;
                    let log: i64 = r.try_get("", "log").ok()?;
                    // A database not in WAL mode (in memory) reports -1: nothing to scrub.
                    Some(busy == 0 && log <= 0)
                })
                .unwrap_or(false);
            if done {
                // Told again once the log started over: a continuous backup that read frames
                // in between must not continue its chain across this start.
                self.shipping
                    .foreign_restarts
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                return true;
            }
            if started.elapsed() >= SCRUB_FOR {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Start a write transaction (on SQLite, on the single writer connection).
    ///
    /// On SQLite the write lock is taken at once, as `BEGIN IMMEDIATE` would: a transaction
    /// that read first and then tried to write after another process (the server's job worker,
    /// a command-line tool) committed would otherwise fail with "database is locked" instead of
    /// waiting for its turn.
    pub async fn begin(&self) -> Result<DatabaseTransaction, DomainError> {
        let tx = self.write.begin().await.map_err(db_err)?;
        if self.backend == DatabaseBackend::Sqlite {
            tx.execute(Statement::from_string(
                DatabaseBackend::Sqlite,
                "UPDATE write_lock SET x = x WHERE 0",
            ))
            .await
            .map_err(db_err)?;
        }
        Ok(tx)
    }

    pub async fn ping(&self) -> Result<(), DomainError> {
        self.read.ping().await.map_err(db_err)
    }

    pub async fn close(self) {
        if let Some(c) = &self.checkpointer {
            let _ = c.conn.clone().close().await;
        }
        let _ = self.read.close().await;
        if self.backend == DatabaseBackend::Sqlite {
            let _ = self.write.close().await;
        }
    }
}

/// Page cache of each page reader ([`LiteReaders`]).
const READER_CACHE_KIB: u32 = 4 * 1024;

/// sqlx reader connections (sign-in, settings, counts, every read not of a page).
const SQLX_READERS: u32 = 4;

/// Connections that read list pages, records picked by id, searches and exports (ADR 0016).
const LITE_READERS: usize = 4;

/// The file behind a SQLite connection; `None` for an in-memory database, which other
/// connections cannot open.
async fn database_file(c: &DatabaseConnection) -> Result<Option<String>, DomainError> {
    let rows = c
        .query_all(Statement::from_string(
            DatabaseBackend::Sqlite,
            "PRAGMA database_list",
        ))
        .await
        .map_err(db_err)?;
    for r in rows {
        let name: String = get(&r, "name")?;
        let file: Option<String> = get(&r, "file")?;
        if name == "main" {
            return Ok(file.filter(|f| !f.is_empty()));
        }
    }
    Ok(None)
}

/// `cache_kib`: the connection's page cache (SQLite's default is 2 MiB); `writer`: the
/// connection that writes, which leaves checkpoints to the `Checkpointer`.
fn sqlite_options(url: &str, max: u32, cache_kib: Option<u32>, writer: bool) -> ConnectOptions {
    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(max)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |o| {
            let o = match cache_kib {
                Some(kib) => o.pragma("cache_size", format!("-{kib}")),
                None => o,
            };
            // The writer leaves checkpoints to the `Checkpointer` unless the WAL grows past
            // what it keeps up with.
            let o = if writer {
                o.pragma("wal_autocheckpoint", WRITER_CHECKPOINT_FRAMES.to_string())
            } else {
                o
            };
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("secure_delete", "ON")
                // A checkpoint reuses the WAL file from its start but never shrinks it: after
                // a burst (an import, the token merge at start) the file kept its largest
                // size, 257 MB against 64 MB of steady load. Each reset now truncates it.
                .pragma("journal_size_limit", WAL_SIZE_LIMIT.to_string())
                .row_buffer_size(4096)
        });
    opts
}
