//! Throttling of sign-ins per account and per IP address. Every attempt is counted before its
//! password is checked, in one statement on the database, so every server process sees it
//! and a parallel burst gets no more checks than the limit. Failures stay counted; a success
//! clears the account's count and takes back the address's. While a key is locked even the
//! right password is refused with 429 and Retry-After. Re-authentication before a sensitive
//! change counts against the same account.

use chrono::{DateTime, Duration, Utc};
use rapport_core::DomainError;
use rapport_services::sessions;
use rapport_services::Store;

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub max_failures: i64,
    pub window: Duration,
    pub lockout: Duration,
}

pub const ACCOUNT: Policy = Policy {
    max_failures: 5,
    window: Duration::minutes(15),
    lockout: Duration::minutes(15),
};
pub const IP: Policy = Policy {
    max_failures: 30,
    window: Duration::minutes(15),
    lockout: Duration::minutes(15),
};

pub fn account_key(email: &str) -> String {
    let e: String = email.trim().to_lowercase().chars().take(254).collect();
    format!("account:{e}")
}

pub fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// Count an attempt on `key` before the credentials are checked, and refuse it (429 with
/// Retry-After) when the key is locked or its attempts in the window are used up. Counting
/// first, in one statement, is what keeps a parallel burst from checking more passwords than
/// the limit allows.
pub async fn attempt(store: &Store, key: &str, policy: Policy) -> Result<(), DomainError> {
    let now = store.now();
    let a = sessions::count_attempt(store, key, now, now - policy.window).await?;
    let refuse = |until: DateTime<Utc>| DomainError::RateLimited {
        retry_after_secs: (until - now).num_seconds().max(1) as u64,
    };
    if let Some(until) = a.locked_until.filter(|u| *u > now) {
        return Err(refuse(until));
    }
    if a.failures > policy.max_failures {
        let until = now + policy.lockout;
        sessions::lock_if_used_up(store, key, policy.max_failures, until).await?;
        return Err(refuse(until));
    }
    Ok(())
}

/// The counted attempt failed: lock the key once its attempts reach the policy's limit.
pub async fn fail(store: &Store, key: &str, policy: Policy) -> Result<(), DomainError> {
    let until = store.now() + policy.lockout;
    sessions::lock_if_used_up(store, key, policy.max_failures, until).await
}

/// The counted attempt was not a failure (a right password waiting for its second factor, a
/// sign-in from an address others share): take it back.
pub async fn uncount(store: &Store, key: &str) -> Result<(), DomainError> {
    sessions::uncount_attempt(store, key).await
}

/// A sign-in succeeded: the account's count starts again.
pub async fn clear(store: &Store, key: &str) -> Result<(), DomainError> {
    sessions::clear_attempts(store.db.writer(), key).await
}
