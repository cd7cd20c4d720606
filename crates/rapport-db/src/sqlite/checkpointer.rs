//! The background WAL checkpointer of a SQLite database.

use super::shipper::Shipping;
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
///
/// The connection is opened with the database; the loop is run by whoever owns the server's
/// background tasks ([`Checkpointer::run`]).
#[derive(Debug, Clone)]
pub struct Checkpointer {
    pub(crate) conn: DatabaseConnection,
    /// While a continuous backup's shipper runs, it makes the checkpoints instead.
    shipping: std::sync::Arc<Shipping>,
}

impl Checkpointer {
    pub(crate) async fn open(
        options: sea_orm::ConnectOptions,
        shipping: std::sync::Arc<Shipping>,
    ) -> Result<Checkpointer, DomainError> {
        let conn = Database::connect(options).await.map_err(db_err)?;
        Ok(Checkpointer { conn, shipping })
    }

    /// Checkpoint every [`CHECKPOINT_EVERY`] until `stop` resolves, then once more.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = &mut stop => break,
            }
            self.checkpoint().await;
        }
        self.checkpoint().await;
    }

    async fn checkpoint(&self) {
        if self
            .shipping
            .active
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        if let Err(e) = self
            .conn
            .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
            .await
        {
            tracing::warn!(error = %e, "background WAL checkpoint failed");
        }
    }
}
