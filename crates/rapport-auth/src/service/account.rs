//! A user's own sign-in settings (password, email, MFA enrolment, each re-authenticated and
//! throttled) and creating users, including the first administrator.

use super::*;

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
