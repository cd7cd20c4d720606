//! Settings that every save reads (custom-field definitions, duplicate rules), kept for at
//! most [`TTL`] (ADR 0015), as authentication keeps what it reads (ADR 0013).
//!
//! - A change made through this server applies to the very next request: the writer calls
//!   [`Memo::invalidate`] after its transaction committed, which empties the memo and moves
//!   it to a new generation. A load that began before the change carries the old generation
//!   and is not stored.
//! - A change made elsewhere (another server on the same PostgreSQL database) applies within
//!   [`TTL`].
//! - Reads inside a transaction never go through a memo: they must see the transaction's own
//!   changes.

use rapport_core::DomainError;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest a value is used.
pub const TTL: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Memo<K, V> {
    epoch: AtomicU64,
    entries: Mutex<HashMap<K, (u64, Instant, V)>>,
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Memo {
            epoch: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Memo<K, V> {
    /// The value under `k`, loaded by `load` unless a fresh one is kept.
    pub async fn get_or_load<F, Fut>(&self, k: &K, load: F) -> Result<V, DomainError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, DomainError>>,
    {
        let epoch = self.epoch.load(Ordering::Acquire);
        if let Some(v) = self.fresh(k, epoch) {
            return Ok(v);
        }
        let v = load().await?;
        if let Ok(mut entries) = self.entries.lock() {
            // Stored only if nothing changed while it was read.
            if self.epoch.load(Ordering::Acquire) == epoch {
                entries.insert(k.clone(), (epoch, Instant::now(), v.clone()));
            }
        }
        Ok(v)
    }

    fn fresh(&self, k: &K, epoch: u64) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        let (at_epoch, stored, v) = entries.get(k)?;
        (*at_epoch == epoch && stored.elapsed() < TTL).then(|| v.clone())
    }

    /// Forget everything: call after the transaction that changed what is kept committed.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_value_is_kept_until_invalidated() {
        let memo: Memo<&str, u32> = Memo::default();
        let v = memo.get_or_load(&"a", || async { Ok(1) }).await.unwrap();
        assert_eq!(v, 1);
        // Kept: the second loader is not asked.
        let v = memo.get_or_load(&"a", || async { Ok(2) }).await.unwrap();
        assert_eq!(v, 1);
        memo.invalidate();
        let v = memo.get_or_load(&"a", || async { Ok(3) }).await.unwrap();
        assert_eq!(v, 3);
        // An error is passed on and not kept.
        memo.invalidate();
        let e = memo
            .get_or_load(&"a", || async { Err(DomainError::NotFound) })
            .await;
        assert!(e.is_err());
        let v = memo.get_or_load(&"a", || async { Ok(4) }).await.unwrap();
        assert_eq!(v, 4);
    }

    #[tokio::test]
    async fn a_load_overtaken_by_a_change_is_not_kept() {
        let memo: Memo<&str, u32> = Memo::default();
        // The change lands while the old value is being read.
        let v = memo
            .get_or_load(&"a", || async {
                memo.invalidate();
                Ok(1)
            })
            .await
            .unwrap();
        assert_eq!(v, 1);
        let v = memo.get_or_load(&"a", || async { Ok(2) }).await.unwrap();
        assert_eq!(v, 2);
    }
}
