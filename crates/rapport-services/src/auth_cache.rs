//! What authentication read for a presented token, kept for at most [`TTL`] (ADR 0013).
//!
//! Every request used to read its session (or API token), its user and the user's roles:
//! three statements, each a round trip to a connection thread, before any work. They are
//! kept here, keyed by the token's hash, and dropped:
//! - at once on this server when anything they were read from changes: every write to
//!   users, roles, role assignments, sessions and API tokens calls [`AuthCache::invalidate`];
//! - after [`TTL`] in any case, which bounds how long a change made elsewhere (another server
//!   on the same PostgreSQL database, a command-line tool) takes to apply here.
//!
//! A write inside a transaction invalidates before it commits; a request that read the old
//! rows in between must not put them back, so nothing is stored for [`QUIET`] after an
//! invalidation.

use crate::sessions::{SessionRow, TokenRow};
use crate::users::User;
use chrono::{DateTime, Utc};
use rapport_core::permission::Grants;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest an entry is used.
pub const TTL: Duration = Duration::from_secs(1);

/// After an invalidation, how long nothing is stored (a transaction that changed users or
/// sessions commits well within it).
pub const QUIET: Duration = Duration::from_secs(1);

/// Entries kept at most; when full, the cache starts again empty.
const CAPACITY: usize = 10_000;

/// What a token was found to be.
#[derive(Debug, Clone)]
pub enum Presented {
    Session(SessionRow),
    Token(TokenRow),
}

/// The user behind a token, as authentication needs them.
#[derive(Debug, Clone)]
pub struct Holder {
    pub user: User,
    pub grants: Grants,
    pub require_mfa: bool,
}

#[derive(Debug, Clone)]
pub struct Cached {
    pub presented: Presented,
    pub holder: Arc<Holder>,
}

#[derive(Debug)]
struct Entry {
    epoch: u64,
    stored: Instant,
    value: Cached,
}

#[derive(Debug, Default)]
pub struct AuthCache {
    epoch: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    quiet_until: Option<Instant>,
}

impl AuthCache {
    /// The current generation: read it before the rows, and pass it to [`AuthCache::put`].
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The entry for a token hash, if it is younger than [`TTL`] and nothing changed since.
    pub fn get(&self, token_hash: &str) -> Option<Cached> {
        let epoch = self.epoch();
        let state = self.state.lock().ok()?;
        let e = state.entries.get(token_hash)?;
        (e.epoch == epoch && e.stored.elapsed() < TTL).then(|| e.value.clone())
    }

    /// Keep what was read for a token, unless something changed since `epoch` was read.
    pub fn put(&self, token_hash: &str, epoch: u64, value: Cached) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let now = Instant::now();
        if self.epoch() != epoch || state.quiet_until.is_some_and(|q| now < q) {
            return;
        }
        if state.entries.len() >= CAPACITY {
            state.entries.clear();
        }
        state.entries.insert(
            token_hash.to_string(),
            Entry {
                epoch,
                stored: now,
                value,
            },
        );
    }

    /// The token's row was just marked used at `at`: the entry says so too, so the next
    /// requests do not mark it again.
    pub fn touched(&self, token_hash: &str, at: DateTime<Utc>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if let Some(e) = state.entries.get_mut(token_hash) {
            match &mut e.value.presented {
                Presented::Session(s) => s.last_seen_at = at,
                Presented::Token(t) => t.last_used_at = Some(at),
            }
        }
    }

    /// Drop everything: users, roles, sessions or tokens changed.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut state) = self.state.lock() {
            state.entries.clear();
            state.quiet_until = Some(Instant::now() + QUIET);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(user_id: &str) -> Cached {
        let now = rapport_core::Clock::now(&rapport_core::SystemClock);
        Cached {
            presented: Presented::Session(SessionRow {
                id: "s1".into(),
                user_id: user_id.into(),
                created_at: now,
                last_seen_at: now,
                expires_at: now,
                ip: None,
                user_agent: None,
                revoked_at: None,
            }),
            holder: Arc::new(Holder {
                user: User {
                    id: user_id.into(),
                    email: "a@example.com".into(),
                    name: "A".into(),
                    phone: None,
                    department_id: None,
                    manager_id: None,
                    active: true,
                    language: "en".into(),
                    time_zone: "UTC".into(),
                    roles: vec![],
                    mfa_enabled: false,
                },
                grants: Grants::default(),
                require_mfa: false,
            }),
        }
    }

    fn user_of(c: &Cached) -> &str {
        &c.holder.user.id
    }

    #[test]
    fn an_entry_is_served_until_something_changes() {
        let cache = AuthCache::default();
        let e = cache.epoch();
        cache.put("h", e, cached("u1"));
        assert_eq!(cache.get("h").as_ref().map(user_of), Some("u1"));
        assert!(cache.get("other").is_none());
        cache.invalidate();
        assert!(cache.get("h").is_none());
    }

    #[test]
    fn rows_read_before_a_change_are_not_kept() {
        let cache = AuthCache::default();
        // Read started, then a change was made: what was read may be stale.
        let before = cache.epoch();
        cache.invalidate();
        cache.put("h", before, cached("u1"));
        assert!(cache.get("h").is_none());
        // Read started after the change but while its transaction may not have committed.
        cache.put("h", cache.epoch(), cached("u1"));
        assert!(cache.get("h").is_none());
    }
}
