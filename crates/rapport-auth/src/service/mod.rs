//! Sign-in flows. Every outcome is audited; an unknown email and a wrong password give the
//! same answer and take the same time.

mod account;
mod admin;
mod credentials;

pub use account::{
    change_email, change_password, create_user, mfa_begin, mfa_confirm, mfa_disable,
    setup_first_admin, Enrolment, UserSpec,
};
pub use admin::{may_reset, reset_mfa, reset_password};
pub use credentials::{
    create_api_token, list_sessions, logout, revoke_all_of_user, revoke_api_token, revoke_session,
};

use crate::{mfa, password, throttle, token};
use chrono::{DateTime, Duration, Utc};
use rapport_core::{ids, DomainError, Principal};
use rapport_db::db_err;
use rapport_services::access::Access;
use rapport_services::audit::{self, Entry};
use rapport_services::auth_cache::{Cached, Holder, Presented};
use rapport_services::sessions::{self, SessionRow, TokenRow};
use rapport_services::users::{self, Credentials, NewUser, User};
use rapport_services::{departments, Store};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::hours(2),
            absolute_timeout: Duration::hours(12),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    pub totp: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LoginResult {
    pub token: String,
    pub session_id: String,
    pub user: User,
    pub expires_at: DateTime<Utc>,
}

/// Who is calling, as far as the audit trail can tell before sign-in succeeds.
fn anonymous(email: &str, ip: Option<String>, ua: Option<String>) -> Principal {
    let mut p = Principal::system();
    p.user_id = "anonymous".into();
    p.email = email.chars().take(254).collect();
    p.grants = Default::default();
    p.ip = ip;
    p.user_agent = ua;
    p
}

fn unix(t: DateTime<Utc>) -> u64 {
    t.timestamp().max(0) as u64
}

/// Build the principal for a user, loading the grants of their roles now.
pub async fn principal_for(
    store: &Store,
    user: &User,
    session_id: Option<String>,
    token_id: Option<String>,
    read_only: bool,
    ip: Option<String>,
    ua: Option<String>,
) -> Result<(Principal, bool), DomainError> {
    let (grants, require_mfa) = users::grants_of(store.db.reader(), &user.id).await?;
    Ok((
        Principal {
            user_id: user.id.clone(),
            email: user.email.clone(),
            department_id: user.department_id.clone(),
            grants,
            session_id,
            token_id,
            read_only,
            viewed_by: None,
            ip,
            user_agent: ua,
        },
        require_mfa && !user.mfa_enabled,
    ))
}

/// Verify a TOTP code or a recovery code and consume it.
async fn check_second_factor(
    store: &Store,
    creds: &Credentials,
    code: &str,
) -> Result<bool, DomainError> {
    let Some(secret) = &creds.totp_secret else {
        return Ok(true);
    };
    if let Some(step) = mfa::matching_step(secret, &creds.user.email, code, unix(store.now()))? {
        // The update only succeeds when this step is newer than the last one used.
        let n = users::set_totp_last_step(store.db.writer(), &creds.user.id, step).await?;
        return Ok(n == 1);
    }
    let h = mfa::hash_recovery(code);
    if creds.recovery_codes.contains(&h) {
        let rest: Vec<String> = creds
            .recovery_codes
            .iter()
            .filter(|c| **c != h)
            .cloned()
            .collect();
        users::set_recovery_codes(store.db.writer(), &creds.user.id, &rest).await?;
        return Ok(true);
    }
    Ok(false)
}

pub async fn login(
    store: &Store,
    settings: &AuthSettings,
    req: LoginRequest,
) -> Result<LoginResult, DomainError> {
    let account_key = throttle::account_key(&req.email);
    let ip_key = req.ip.as_deref().map(throttle::ip_key);
    let who = anonymous(&req.email, req.ip.clone(), req.user_agent.clone());
    // Count the attempt on the account and the address before anything is checked.
    let keys = [
        Some((&account_key, throttle::ACCOUNT)),
        ip_key.as_ref().map(|k| (k, throttle::IP)),
    ];
    let mut counted = Vec::new();
    for (key, policy) in keys.into_iter().flatten() {
        match throttle::attempt(store, key, policy).await {
            Ok(()) => counted.push(key),
            Err(e) => {
                // Refused unchecked: it counts against neither.
                for k in counted {
                    throttle::uncount(store, k).await?;
                }
                if matches!(e, DomainError::RateLimited { .. }) {
                    audit::record_alone(
                        store,
                        &who,
                        Entry::new("auth.login_throttled").details(json!({"email": who.email})),
                    )
                    .await?;
                }
                return Err(e);
            }
        }
    }
    let creds = users::credentials_by_email(store, &req.email).await?;
    let password_ok = match &creds {
        Some(c) => password::verify(&req.password, &c.password_hash),
        None => {
            let _ = password::verify(&req.password, password::dummy_hash());
            false
        }
    };
    let fail = |reason: &'static str| {
        let who = who.clone();
        let account_key = account_key.clone();
        let ip_key = ip_key.clone();
        async move {
            throttle::fail(store, &account_key, throttle::ACCOUNT).await?;
            if let Some(k) = &ip_key {
                throttle::fail(store, k, throttle::IP).await?;
            }
            audit::record_alone(
                store,
                &who,
                Entry::new("auth.login_failed")
                    .details(json!({"email": who.email, "reason": reason})),
            )
            .await?;
            Ok::<DomainError, DomainError>(DomainError::InvalidCredentials)
        }
    };
    let creds = match creds {
        Some(c) if password_ok && c.user.active => c,
        Some(c) if password_ok && !c.user.active => return Err(fail("disabled").await?),
        _ => return Err(fail("bad_credentials").await?),
    };
    if creds.totp_secret.is_some() {
        match req.totp.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => {
                // The password was right: asking for the code is not a failure.
                throttle::uncount(store, &account_key).await?;
                if let Some(k) = &ip_key {
                    throttle::uncount(store, k).await?;
                }
                return Err(DomainError::MfaRequired);
            }
            Some(code) => {
                if !check_second_factor(store, &creds, code).await? {
                    return Err(fail("bad_second_factor").await?);
                }
            }
        }
    }
    throttle::clear(store, &account_key).await?;
    if let Some(k) = &ip_key {
        throttle::uncount(store, k).await?;
    }

    let now = store.now();
    let tok = token::random_token(token::SESSION_PREFIX);
    let row = SessionRow {
        id: ids::new_id(),
        user_id: creds.user.id.clone(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + settings.absolute_timeout,
        ip: req.ip.clone(),
        user_agent: req
            .user_agent
            .as_ref()
            .map(|u| u.chars().take(300).collect()),
        revoked_at: None,
    };
    let (principal, _) = principal_for(
        store,
        &creds.user,
        Some(row.id.clone()),
        None,
        false,
        req.ip.clone(),
        req.user_agent.clone(),
    )
    .await?;
    let tx = store.db.begin().await?;
    sessions::insert_session(&tx, &row, &token::hash_token(&tok)).await?;
    audit::record(
        &tx,
        store,
        &principal,
        Entry::new("auth.login")
            .object("user", &creds.user.id)
            .details(json!({"mfa": creds.totp_secret.is_some()})),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(LoginResult {
        token: tok,
        session_id: row.id,
        user: creds.user,
        expires_at: row.expires_at,
    })
}

/// The result of checking a bearer token or session cookie.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub user: User,
    /// The user's role requires MFA and they have not enrolled: only enrolment is allowed.
    pub must_enrol_mfa: bool,
}

pub async fn authenticate(
    store: &Store,
    settings: &AuthSettings,
    presented: &str,
    ip: Option<String>,
    ua: Option<String>,
) -> Result<Authenticated, DomainError> {
    let now = store.now();
    let hash = token::hash_token(presented.trim());
    let cache = store.auth_cache();
    let found = match cache.get(&hash) {
        Some(hit) => hit,
        None => {
            let epoch = cache.epoch();
            let read = read_presented(store, presented, &hash).await?;
            cache.put(&hash, epoch, read.clone());
            read
        }
    };
    let (session_id, token_id, read_only) = match &found.presented {
        Presented::Token(t) => {
            if t.revoked_at.is_some() || t.expires_at.is_some_and(|e| e <= now) {
                return Err(DomainError::Unauthenticated);
            }
            if t.last_used_at
                .is_none_or(|l| now - l > Duration::seconds(60))
            {
                sessions::touch_token(store, &t.id, now).await?;
                cache.touched(&hash, now);
            }
            (None, Some(t.id.clone()), t.read_only)
        }
        Presented::Session(s) => {
            if s.revoked_at.is_some()
                || s.expires_at <= now
                || now - s.last_seen_at > settings.idle_timeout
            {
                return Err(DomainError::Unauthenticated);
            }
            if now - s.last_seen_at > Duration::seconds(30) {
                sessions::touch_session(store, &s.id, now).await?;
                cache.touched(&hash, now);
            }
            (Some(s.id.clone()), None, false)
        }
    };
    let holder = &found.holder;
    let user = holder.user.clone();
    if !user.active {
        return Err(DomainError::Unauthenticated);
    }
    let must_enrol_mfa = holder.require_mfa && !user.mfa_enabled;
    let principal = Principal {
        user_id: user.id.clone(),
        email: user.email.clone(),
        department_id: user.department_id.clone(),
        grants: holder.grants.clone(),
        session_id,
        token_id,
        read_only,
        viewed_by: None,
        ip,
        user_agent: ua,
    };
    Ok(Authenticated {
        principal,
        user,
        must_enrol_mfa,
    })
}

/// Read the session or API token a request presents and the user behind it: one query for
/// the token, one for the user, one for their roles (grants are as fresh as the cache allows,
/// see `rapport_services::auth_cache`).
async fn read_presented(store: &Store, presented: &str, hash: &str) -> Result<Cached, DomainError> {
    let (user_id, found) = if presented.starts_with(token::API_PREFIX) {
        let t = sessions::token_by_hash(store, hash)
            .await?
            .ok_or(DomainError::Unauthenticated)?;
        (t.user_id.clone(), Presented::Token(t))
    } else {
        let s = sessions::session_by_hash(store, hash)
            .await?
            .ok_or(DomainError::Unauthenticated)?;
        (s.user_id.clone(), Presented::Session(s))
    };
    let creds = users::credentials(store, &user_id)
        .await?
        .ok_or(DomainError::Unauthenticated)?;
    Ok(Cached {
        presented: found,
        holder: std::sync::Arc::new(Holder {
            user: creds.user,
            grants: creds.grants,
            require_mfa: creds.require_mfa,
        }),
    })
}

/// Read-only access (a read-only token, a preview as another user) changes nothing: refused
/// here as well as by the API, so every path to these changes holds to it.
fn writable(actor: &Principal) -> Result<(), DomainError> {
    if actor.read_only {
        return Err(DomainError::Forbidden(
            "this token or preview is read-only: it cannot change anything".into(),
        ));
    }
    Ok(())
}
