//! Sign-in flows. Every outcome is audited; an unknown email and a wrong password give the
//! same answer and take the same time.

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

pub async fn logout(store: &Store, actor: &Principal) -> Result<(), DomainError> {
    let tx = store.db.begin().await?;
    if let Some(sid) = &actor.session_id {
        sessions::revoke_session(&tx, store, sid).await?;
    }
    if let Some(tid) = &actor.token_id {
        sessions::revoke_token(&tx, store, tid).await?;
    }
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("auth.logout").object("user", &actor.user_id),
    )
    .await?;
    tx.commit().await.map_err(db_err)
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

/// Revoke a session: one's own, or anyone's for an administrator. Others' sessions are a 404.
pub async fn revoke_session(
    store: &Store,
    actor: &Principal,
    session_id: &str,
) -> Result<(), DomainError> {
    writable(actor)?;
    let s = sessions::session_by_id(store, session_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if s.user_id != actor.user_id && !actor.is_admin() {
        return Err(DomainError::NotFound);
    }
    let tx = store.db.begin().await?;
    sessions::revoke_session(&tx, store, session_id).await?;
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("auth.session_revoked")
            .object("session", session_id)
            .details(json!({"user_id": s.user_id})),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

/// End every session and API token of a user (administrators).
pub async fn revoke_all_of_user(
    store: &Store,
    actor: &Principal,
    user_id: &str,
) -> Result<(), DomainError> {
    writable(actor)?;
    if !actor.is_admin() {
        return Err(DomainError::Forbidden(
            "ending another user's sessions is for administrators".into(),
        ));
    }
    users::get_user(store, user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let tx = store.db.begin().await?;
    sessions::revoke_all_for_user(&tx, store, user_id).await?;
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("auth.sessions_revoked").object("user", user_id),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

/// Sessions of a user: one's own, or anyone's for an administrator.
pub async fn list_sessions(
    store: &Store,
    actor: &Principal,
    user_id: &str,
) -> Result<Vec<SessionRow>, DomainError> {
    if user_id != actor.user_id && !actor.is_admin() {
        return Err(DomainError::NotFound);
    }
    sessions::sessions_of(store, user_id).await
}

/// Create an API token for oneself; the token is returned once and stored hashed.
pub async fn create_api_token(
    store: &Store,
    actor: &Principal,
    name: &str,
    read_only: bool,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(String, TokenRow), DomainError> {
    if actor.token_id.is_some() || actor.read_only {
        return Err(DomainError::Forbidden(
            "API tokens are created from a signed-in session".into(),
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(DomainError::field(
            "name",
            "invalid",
            "a token name has 1-100 characters",
        ));
    }
    let now = store.now();
    if expires_at.is_some_and(|e| e <= now) {
        return Err(DomainError::field(
            "expires_at",
            "in_the_past",
            "expires_at must be in the future",
        ));
    }
    let tok = token::random_token(token::API_PREFIX);
    let row = TokenRow {
        id: ids::new_id(),
        user_id: actor.user_id.clone(),
        name: name.to_string(),
        read_only,
        created_at: now,
        expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    let tx = store.db.begin().await?;
    sessions::insert_token(&tx, &row, &token::hash_token(&tok)).await?;
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("auth.token_created")
            .object("api_token", &row.id)
            .details(json!({"name": row.name, "read_only": read_only, "expires_at": expires_at})),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok((tok, row))
}

pub async fn revoke_api_token(
    store: &Store,
    actor: &Principal,
    id: &str,
) -> Result<(), DomainError> {
    let t = sessions::token_by_id(store, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if t.user_id != actor.user_id && !actor.is_admin() {
        return Err(DomainError::NotFound);
    }
    let tx = store.db.begin().await?;
    sessions::revoke_token(&tx, store, id).await?;
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("auth.token_revoked")
            .object("api_token", id)
            .details(json!({"user_id": t.user_id})),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

/// Confirm the caller's password before a sensitive change.
async fn reauthenticate(
    store: &Store,
    actor: &Principal,
    current_password: &str,
) -> Result<Credentials, DomainError> {
    writable(actor)?;
    let creds = users::credentials(store, &actor.user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    // Counted like a sign-in on the same account: a stolen session cannot guess the password.
    let account_key = throttle::account_key(&creds.user.email);
    throttle::attempt(store, &account_key, throttle::ACCOUNT).await?;
    if !password::verify(current_password, &creds.password_hash) {
        throttle::fail(store, &account_key, throttle::ACCOUNT).await?;
        audit::record_alone(
            store,
            actor,
            Entry::new("auth.reauth_failed").object("user", &actor.user_id),
        )
        .await?;
        return Err(DomainError::field(
            "current_password",
            "wrong_password",
            "the current password is not correct",
        ));
    }
    throttle::clear(store, &account_key).await?;
    Ok(creds)
}

/// Change one's password; every other session and API token ends.
pub async fn change_password(
    store: &Store,
    actor: &Principal,
    current: &str,
    new: &str,
) -> Result<(), DomainError> {
    password::check_policy("new_password", new)?;
    let creds = reauthenticate(store, actor, current).await?;
    let hash = password::hash(new)?;
    let tx = store.db.begin().await?;
    users::set_password_hash(&tx, store, &creds.user.id, &hash).await?;
    sessions::revoke_all_for_user(&tx, store, &creds.user.id).await?;
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("auth.password_changed").object("user", &creds.user.id),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

pub async fn change_email(
    store: &Store,
    actor: &Principal,
    current: &str,
    email: &str,
) -> Result<(), DomainError> {
    let email = rapport_core::validate::email(email).ok_or_else(|| {
        DomainError::field(
            "email",
            "invalid_email",
            "email is not a valid email address",
        )
    })?;
    let creds = reauthenticate(store, actor, current).await?;
    let tx = store.db.begin().await?;
    users::set_email(&tx, store, &creds.user.id, &email).await?;
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("auth.email_changed")
            .object("user", &creds.user.id)
            .details(json!({"before": creds.user.email, "after": email})),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

/// Start TOTP enrolment (after re-authentication): a new secret waits for confirmation.
pub async fn mfa_begin(
    store: &Store,
    actor: &Principal,
    current: &str,
) -> Result<Enrolment, DomainError> {
    let creds = reauthenticate(store, actor, current).await?;
    let secret = mfa::new_secret();
    let url = mfa::otpauth_url(&secret, &creds.user.email)?;
    users::set_totp_pending(store.db.writer(), store, &creds.user.id, Some(&secret)).await?;
    Ok(Enrolment {
        qr_svg: mfa::qr_svg(&url)?,
        otpauth_url: url,
        secret,
    })
}

/// Confirm enrolment with a current code; returns the recovery codes (shown once).
pub async fn mfa_confirm(
    store: &Store,
    actor: &Principal,
    code: &str,
) -> Result<Vec<String>, DomainError> {
    writable(actor)?;
    let creds = users::credentials(store, &actor.user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let secret = creds
        .totp_pending
        .clone()
        .ok_or_else(|| DomainError::field("code", "no_enrolment", "start enrolment first"))?;
    let step = mfa::matching_step(&secret, &creds.user.email, code, unix(store.now()))?
        .ok_or_else(|| {
            DomainError::field(
                "code",
                "invalid_code",
                "the code is not valid; check the time on your phone",
            )
        })?;
    let (codes, hashes) = mfa::recovery_codes();
    let tx = store.db.begin().await?;
    users::set_totp(&tx, store, &creds.user.id, Some(&secret), &hashes).await?;
    users::set_totp_pending(&tx, store, &creds.user.id, None).await?;
    users::set_totp_last_step(&tx, &creds.user.id, step).await?;
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("auth.mfa_enabled").object("user", &creds.user.id),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(codes)
}

pub async fn mfa_disable(
    store: &Store,
    actor: &Principal,
    current: &str,
) -> Result<(), DomainError> {
    let creds = reauthenticate(store, actor, current).await?;
    let tx = store.db.begin().await?;
    users::set_totp(&tx, store, &creds.user.id, None, &[]).await?;
    audit::record(
        &tx,
        store,
        actor,
        Entry::new("auth.mfa_disabled").object("user", &creds.user.id),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

/// A user to create, as the CLI, the API and the admin page describe one.
#[derive(Debug, Clone, Default)]
pub struct UserSpec {
    pub email: String,
    pub name: Option<String>,
    pub password: String,
    pub roles: Vec<String>,
    /// A department name; created when named for the first time.
    pub department: Option<String>,
    /// The email of an existing user who manages this one.
    pub manager_email: Option<String>,
    /// zh-CN, en, or None to follow the browser.
    pub language: Option<String>,
    pub phone: Option<String>,
    /// IANA zone; Asia/Shanghai when not given.
    pub time_zone: Option<String>,
}

/// Create a user with a password (checked and hashed here).
pub async fn create_user(
    store: &Store,
    actor: &Access,
    spec: UserSpec,
) -> Result<User, DomainError> {
    password::check_policy("password", &spec.password)?;
    let department_id = match spec
        .department
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        Some(d) => Some(departments::find_or_create(store, actor, d).await?.id),
        None => None,
    };
    let manager_id = match spec
        .manager_email
        .as_deref()
        .filter(|m| !m.trim().is_empty())
    {
        Some(m) => Some(
            users::credentials_by_email(store, m)
                .await?
                .ok_or_else(|| {
                    DomainError::field(
                        "manager",
                        "unknown_user",
                        format!("no user has the email {m}"),
                    )
                })?
                .user
                .id,
        ),
        None => None,
    };
    let email = spec.email.clone();
    let name = spec
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_string());
    users::create(
        store,
        actor,
        NewUser {
            email,
            name,
            password_hash: password::hash(&spec.password)?,
            role_keys: spec.roles,
            department_id,
            manager_id,
            language: spec.language.unwrap_or_else(|| "auto".into()),
            time_zone: spec.time_zone.unwrap_or_else(|| "Asia/Shanghai".into()),
            phone: spec.phone,
        },
    )
    .await
}

/// First run: create the first administrator when there are no users at all.
pub async fn setup_first_admin(
    store: &Store,
    email: &str,
    name: &str,
    password_plain: &str,
    language: &str,
    ip: Option<String>,
) -> Result<User, DomainError> {
    if users::count(store).await? > 0 {
        return Err(DomainError::SetupDone);
    }
    password::check_policy("password", password_plain)?;
    // Claim the one-time setup: of two attempts at the same instant (even from two server
    // processes) only one inserts this row; the other gets the primary-key violation.
    use sea_orm::sea_query::{Alias, Expr, Query};
    let claim = rapport_db::exec(
        store.db.writer(),
        Query::insert()
            .into_table(Alias::new("settings"))
            .columns([Alias::new("key"), Alias::new("value")])
            .values_panic(["setup.claimed".into(), store.now().to_rfc3339().into()]),
    )
    .await;
    match claim {
        Ok(_) => {}
        Err(e) if e.is_unique_violation() => return Err(DomainError::SetupDone),
        Err(e) => return Err(e),
    }
    let mut actor = Principal::system();
    actor.ip = ip;
    let spec = UserSpec {
        email: email.into(),
        name: Some(name.into()),
        password: password_plain.into(),
        roles: vec!["administrator".into()],
        language: Some(language.into()),
        ..Default::default()
    };
    let created = create_user(store, &Access::resolve(store, actor).await?, spec).await;
    if created.is_err() {
        // Let the next attempt (with corrected input) claim setup again.
        let _ = rapport_db::exec(
            store.db.writer(),
            Query::delete()
                .from_table(Alias::new("settings"))
                .and_where(Expr::col(Alias::new("key")).eq("setup.claimed")),
        )
        .await;
    }
    created
}
