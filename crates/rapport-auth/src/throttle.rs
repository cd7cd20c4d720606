//! Throttling of failed sign-ins per account and per IP address. Counters live in the
//! database so every server process sees them. While a key is locked even the right password
//! is refused with 429 and Retry-After.

use chrono::Duration;
use rapport_core::DomainError;
use rapport_services::sessions::{self, Attempts};
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

/// Refuse if `key` is locked now.
pub async fn check(store: &Store, key: &str) -> Result<(), DomainError> {
    let now = store.now();
    if let Some(a) = sessions::attempts(store, key).await? {
        if let Some(until) = a.locked_until {
            if until > now {
                let secs = (until - now).num_seconds().max(1) as u64;
                return Err(DomainError::RateLimited {
                    retry_after_secs: secs,
                });
            }
        }
    }
    Ok(())
}

/// Count a failure; lock the key when it reaches the policy's limit.
pub async fn fail(store: &Store, key: &str, policy: Policy) -> Result<(), DomainError> {
    let now = store.now();
    let tx = store.db.begin().await?;
    let mut a = sessions::attempts(store, key).await?.unwrap_or(Attempts {
        failures: 0,
        window_start: now,
        locked_until: None,
    });
    if now - a.window_start > policy.window || a.locked_until.is_some_and(|u| u <= now) {
        a = Attempts {
            failures: 0,
            window_start: now,
            locked_until: None,
        };
    }
    a.failures += 1;
    if a.failures >= policy.max_failures {
        a.locked_until = Some(now + policy.lockout);
    }
    sessions::save_attempts(&tx, key, &a).await?;
    tx.commit().await.map_err(rapport_db::db_err)
}

pub async fn clear(store: &Store, key: &str) -> Result<(), DomainError> {
    sessions::clear_attempts(store.db.writer(), key).await
}
