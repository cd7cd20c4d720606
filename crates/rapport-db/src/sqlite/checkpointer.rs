//! The background WAL checkpointer of a SQLite database.

use crate::error::db_err;
use rapport_core::DomainError;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use std::time::Duration;

/// How often the WAL is checkpointed in the background: often, so that each checkpoint
/// copies little (ADR 0019).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Copies the WAL back into the database file from a connection of its own, every
/// [`CHECKPOINT_EVERY`]. SQLite otherwise checkpoints inside the commit that crosses its
/// threshold: that commit, and every request waiting on the single writer behind it (each
/// audited read waits for its entry's commit), stalled for as long as copying tens of
/// megabytes and syncing the file took. A passive checkpoint waits for no reader or writer.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    pub(crate) conn: DatabaseConnection,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

impl Checkpointer {
    pub(crate) async fn start(
        options: sea_orm::ConnectOptions,
    ) -> Result<Checkpointer, DomainError> {
        let conn = Database::connect(options).await.map_err(db_err)?;
        let c = conn.clone();
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECKPOINT_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(e) = c.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)").await {
                    tracing::warn!(error = %e, "background WAL checkpoint failed");
                }
            }
        });
        Ok(Checkpointer { conn, task })
    }
}
