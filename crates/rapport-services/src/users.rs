//! Users: who they are, where they sit (department, manager) and which roles they hold.
//! Password hashing and sign-in live in `rapport-auth`; this module stores the results.

use crate::access::Access;
use crate::{audit, roles, Store};
use rapport_core::{ids, validate, Action, DomainError, Grants, Object, Scope};
use rapport_db::{all, db_err, exec, get, one};
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use sea_orm::ConnectionTrait;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub department_id: Option<String>,
    pub manager_id: Option<String>,
    pub active: bool,
    pub language: String,
    pub time_zone: String,
    pub roles: Vec<String>,
    pub mfa_enabled: bool,
}

/// What sign-in needs besides the public profile.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
    pub totp_secret: Option<String>,
    pub totp_last_step: Option<i64>,
    pub recovery_codes: Vec<String>,
    pub totp_pending: Option<String>,
    /// The merged grants of the user's roles, loaded with the user.
    pub grants: Grants,
    /// One of the user's roles requires two-step sign-in.
    pub require_mfa: bool,
}

pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role_keys: Vec<String>,
    pub department_id: Option<String>,
    pub manager_id: Option<String>,
    pub language: String,
    pub time_zone: String,
    pub phone: Option<String>,
}

fn t(s: &str) -> Alias {
    Alias::new(s)
}

const COLS: [&str; 15] = [
    "id",
    "email",
    "name",
    "phone_enc",
    "department_id",
    "manager_id",
    "active",
    "language",
    "time_zone",
    "password_hash",
    "totp_secret_enc",
    "totp_last_step",
    "recovery_codes",
    "totp_pending_enc",
    "created_at",
];

async fn load<C: ConnectionTrait>(
    store: &Store,
    c: &C,
    r: &sea_orm::QueryResult,
) -> Result<Credentials, DomainError> {
    let id: String = get(r, "id")?;
    let user_roles = roles::of_user(c, &id).await?;
    decode(&store.keys()?, r, user_roles)
}

/// A user row with the user's roles already loaded.
fn decode(
    keys: &crate::Keyring,
    r: &sea_orm::QueryResult,
    user_roles: Vec<roles::Role>,
) -> Result<Credentials, DomainError> {
    let id: String = get(r, "id")?;
    let phone = match get::<Option<String>>(r, "phone_enc")? {
        Some(ct) => Some(keys.decrypt("users", "phone_enc", &id, &ct)?),
        None => None,
    };
    let totp_secret = match get::<Option<String>>(r, "totp_secret_enc")? {
        Some(ct) => Some(keys.decrypt("users", "totp_secret_enc", &id, &ct)?),
        None => None,
    };
    let totp_pending = match get::<Option<String>>(r, "totp_pending_enc")? {
        Some(ct) => Some(keys.decrypt("users", "totp_pending_enc", &id, &ct)?),
        None => None,
    };
    let codes: Option<String> = get(r, "recovery_codes")?;
    let grants = Grants::merge(user_roles.iter().map(|r| &r.grants));
    let require_mfa = user_roles.iter().any(|r| r.require_mfa);
    let role_keys = user_roles.into_iter().map(|r| r.key).collect();
    Ok(Credentials {
        user: User {
            email: get(r, "email")?,
            name: get(r, "name")?,
            phone,
            department_id: get(r, "department_id")?,
            manager_id: get(r, "manager_id")?,
            active: get(r, "active")?,
            language: get(r, "language")?,
            time_zone: get(r, "time_zone")?,
            roles: role_keys,
            mfa_enabled: totp_secret.is_some(),
            id,
        },
        password_hash: get(r, "password_hash")?,
        grants,
        require_mfa,
        totp_secret,
        totp_last_step: get(r, "totp_last_step")?,
        recovery_codes: codes
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default(),
        totp_pending,
    })
}

pub async fn credentials_by_email(
    store: &Store,
    email: &str,
) -> Result<Option<Credentials>, DomainError> {
    let email = email.trim().to_lowercase();
    let db = store.db.reader();
    match one(
        db,
        Query::select()
            .columns(COLS.map(t))
            .from(t("users"))
            .and_where(Expr::col(t("email")).eq(email)),
    )
    .await?
    {
        Some(r) => Ok(Some(load(store, db, &r).await?)),
        None => Ok(None),
    }
}

pub async fn credentials(store: &Store, id: &str) -> Result<Option<Credentials>, DomainError> {
    let db = store.db.reader();
    match one(
        db,
        Query::select()
            .columns(COLS.map(t))
            .from(t("users"))
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?
    {
        Some(r) => Ok(Some(load(store, db, &r).await?)),
        None => Ok(None),
    }
}

pub async fn get_user(store: &Store, id: &str) -> Result<Option<User>, DomainError> {
    Ok(credentials(store, id).await?.map(|c| c.user))
}

pub async fn list(store: &Store, actor: &Access) -> Result<Vec<User>, DomainError> {
    if actor.scope(Object::USER, Action::Read) == Scope::None {
        return Err(DomainError::Forbidden(
            "listing users needs the user right".into(),
        ));
    }
    let db = store.db.reader();
    let rows = all(
        db,
        Query::select()
            .columns(COLS.map(t))
            .from(t("users"))
            .order_by(t("created_at"), Order::Asc),
    )
    .await?;
    let mut by_user = roles::of_all_users(db).await?;
    let keys = store.keys()?;
    rows.iter()
        .map(|r| {
            let id: String = get(r, "id")?;
            Ok(decode(&keys, r, by_user.remove(&id).unwrap_or_default())?.user)
        })
        .collect()
}

/// One user, for a caller with the user read right (404 otherwise, like a missing user).
pub async fn get_for(store: &Store, actor: &Access, id: &str) -> Result<User, DomainError> {
    if actor.scope(Object::USER, Action::Read) == Scope::None {
        return Err(DomainError::NotFound);
    }
    get_user(store, id).await?.ok_or(DomainError::NotFound)
}

pub async fn count(store: &Store) -> Result<i64, DomainError> {
    let r = one(
        store.db.reader(),
        Query::select()
            .expr_as(Expr::col(t("id")).count(), t("n"))
            .from(t("users")),
    )
    .await?;
    match r {
        Some(r) => get(&r, "n"),
        None => Ok(0),
    }
}

/// The merged grants of a user's roles (loaded fresh for every request).
/// The rights a user has now, acting by themselves (background work done on their
/// behalf: imports, exports, notifications), or `None` when they are missing or
/// disabled. `read_only` keeps them from writing (a calendar feed).
pub async fn access_of(
    store: &Store,
    user_id: &str,
    read_only: bool,
) -> Result<Option<Access>, DomainError> {
    let Some(user) = get_user(store, user_id).await?.filter(|u| u.active) else {
        return Ok(None);
    };
    let (grants, _) = grants_of(store.db.reader(), user_id).await?;
    let principal = rapport_core::Principal {
        user_id: user.id,
        email: user.email,
        department_id: user.department_id,
        grants,
        session_id: None,
        token_id: None,
        read_only,
        viewed_by: None,
        ip: None,
        user_agent: None,
    };
    Ok(Some(Access::resolve(store, principal).await?))
}

pub async fn grants_of<C: ConnectionTrait>(
    c: &C,
    user_id: &str,
) -> Result<(Grants, bool), DomainError> {
    let roles = roles::of_user(c, user_id).await?;
    let require_mfa = roles.iter().any(|r| r.require_mfa);
    Ok((Grants::merge(roles.iter().map(|r| &r.grants)), require_mfa))
}

/// Creating users needs the user right over all users.
pub fn may_create(actor: &Access) -> Result<(), DomainError> {
    if actor.scope(Object::USER, Action::Create) != Scope::All {
        return Err(DomainError::Forbidden(
            "creating users needs the user right".into(),
        ));
    }
    Ok(())
}

pub async fn create(store: &Store, actor: &Access, new: NewUser) -> Result<User, DomainError> {
    may_create(actor)?;
    let email = validate::email(&new.email).ok_or_else(|| {
        DomainError::field(
            "email",
            "invalid_email",
            "email is not a valid email address",
        )
    })?;
    let name = new.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(DomainError::field(
            "name",
            "invalid",
            "a name has 1-100 characters",
        ));
    }
    if !matches!(new.language.as_str(), "zh-CN" | "en" | "auto") {
        return Err(DomainError::field(
            "language",
            "invalid",
            "language must be zh-CN, en or auto (follow the browser)",
        ));
    }
    if new.role_keys.is_empty() {
        return Err(DomainError::field(
            "role",
            "required",
            "a user needs at least one role",
        ));
    }
    let tz_ok = !new.time_zone.is_empty()
        && new.time_zone.len() <= 64
        && new.time_zone.split('/').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c))
        });
    if !tz_ok {
        return Err(DomainError::field(
            "time_zone",
            "invalid",
            "time_zone must be an IANA zone such as Asia/Shanghai",
        ));
    }
    let phone = match new
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        Some(p) => Some(
            validate::phone_e164(p, &store.settings.phone_region).ok_or_else(|| {
                DomainError::field(
                    "phone",
                    "invalid_phone",
                    "phone is not a valid phone number",
                )
            })?,
        ),
        None => None,
    };
    let id = ids::new_id();
    let phone_enc = match &phone {
        Some(p) => Some(store.keys()?.encrypt("users", "phone_enc", &id, p)?),
        None => None,
    };
    let now = store.now();
    let tx = store.db.begin().await?;
    let mut role_ids = Vec::new();
    for key in &new.role_keys {
        let role = roles::by_key(&tx, key).await?.ok_or_else(|| {
            DomainError::field("role", "unknown_role", format!("there is no role {key}"))
        })?;
        role_ids.push(role.id);
    }
    if let Some(m) = &new.manager_id {
        if one(
            &tx,
            Query::select()
                .column(t("id"))
                .from(t("users"))
                .and_where(Expr::col(t("id")).eq(m.as_str())),
        )
        .await?
        .is_none()
        {
            return Err(DomainError::field(
                "manager",
                "invalid_reference",
                "the manager does not exist",
            ));
        }
    }
    let res = exec(
        &tx,
        Query::insert()
            .into_table(t("users"))
            .columns(
                [
                    "id",
                    "email",
                    "name",
                    "password_hash",
                    "department_id",
                    "manager_id",
                    "active",
                    "language",
                    "time_zone",
                    "phone_enc",
                    "created_at",
                    "updated_at",
                ]
                .map(t),
            )
            .values_panic([
                id.clone().into(),
                email.clone().into(),
                name.into(),
                new.password_hash.into(),
                new.department_id.clone().into(),
                new.manager_id.clone().into(),
                true.into(),
                new.language.into(),
                new.time_zone.into(),
                phone_enc.into(),
                now.into(),
                now.into(),
            ]),
    )
    .await;
    if let Err(e) = res {
        if e.is_unique_violation() {
            return Err(DomainError::Conflict(format!(
                "a user with email {email} already exists"
            )));
        }
        return Err(e);
    }
    for rid in role_ids {
        exec(
            &tx,
            Query::insert()
                .into_table(t("user_roles"))
                .columns([t("user_id"), t("role_id")])
                .values_panic([id.clone().into(), rid.into()]),
        )
        .await?;
    }
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("user.created").object("user", &id).details(serde_json::json!({
            "email": email, "roles": new.role_keys, "department_id": new.department_id, "manager_id": new.manager_id,
        })),
    )
    .await?;
    crate::access::org::bump(&tx).await?;
    tx.commit().await.map_err(db_err)?;
    get_user(store, &id).await?.ok_or(DomainError::NotFound)
}

/// Enable or disable a user. Disabling ends their sessions and API tokens at once.
pub async fn set_active(
    store: &Store,
    actor: &Access,
    id: &str,
    active: bool,
) -> Result<(), DomainError> {
    if actor.scope(Object::USER, Action::Update) != Scope::All {
        return Err(DomainError::Forbidden(
            "changing users needs the user right".into(),
        ));
    }
    let tx = store.db.begin().await?;
    let n = exec(
        &tx,
        Query::update()
            .table(t("users"))
            .values([
                (t("active"), active.into()),
                (t("updated_at"), store.now().into()),
            ])
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    if n == 0 {
        return Err(DomainError::NotFound);
    }
    if !active {
        crate::sessions::revoke_all_for_user(&tx, store, id).await?;
    }
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new(if active {
            "user.enabled"
        } else {
            "user.disabled"
        })
        .object("user", id),
    )
    .await?;
    crate::access::org::bump(&tx).await?;
    tx.commit().await.map_err(db_err)?;
    store.auth_cache().invalidate();
    Ok(())
}

/// Replace a user's roles (administrators only). Takes effect on the user's next request.
pub async fn set_roles(
    store: &Store,
    actor: &Access,
    id: &str,
    role_keys: &[String],
) -> Result<(), DomainError> {
    if actor.scope(Object::ROLE, Action::Update) != Scope::All {
        return Err(DomainError::Forbidden(
            "assigning roles needs the role right".into(),
        ));
    }
    if role_keys.is_empty() {
        return Err(DomainError::field(
            "roles",
            "required",
            "a user needs at least one role",
        ));
    }
    let tx = store.db.begin().await?;
    if one(
        &tx,
        Query::select()
            .column(t("id"))
            .from(t("users"))
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?
    .is_none()
    {
        return Err(DomainError::NotFound);
    }
    let before: Vec<String> = roles::of_user(&tx, id)
        .await?
        .into_iter()
        .map(|r| r.key)
        .collect();
    exec(
        &tx,
        Query::delete()
            .from_table(t("user_roles"))
            .and_where(Expr::col(t("user_id")).eq(id)),
    )
    .await?;
    for key in role_keys {
        let role = roles::by_key(&tx, key).await?.ok_or_else(|| {
            DomainError::field("roles", "unknown_role", format!("there is no role {key}"))
        })?;
        exec(
            &tx,
            Query::insert()
                .into_table(t("user_roles"))
                .columns([t("user_id"), t("role_id")])
                .values_panic([id.into(), role.id.into()]),
        )
        .await?;
    }
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("user.roles_changed")
            .object("user", id)
            .details(serde_json::json!({"before": before, "after": role_keys})),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    store.auth_cache().invalidate();
    Ok(())
}

/// Store a new password hash (the caller re-authenticated and hashed it).
pub async fn set_password_hash<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    id: &str,
    hash: &str,
) -> Result<(), DomainError> {
    exec(
        c,
        Query::update()
            .table(t("users"))
            .values([
                (t("password_hash"), hash.into()),
                (t("updated_at"), store.now().into()),
            ])
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    Ok(())
}

/// Record the TOTP step just used so the same code cannot be replayed.
pub async fn set_totp_last_step<C: ConnectionTrait>(
    c: &C,
    id: &str,
    step: i64,
) -> Result<u64, DomainError> {
    // Only move forward: a concurrent sign-in with the same code updates nothing.
    exec(
        c,
        Query::update()
            .table(t("users"))
            .value(t("totp_last_step"), step)
            .and_where(Expr::col(t("id")).eq(id))
            .and_where(
                Expr::col(t("totp_last_step"))
                    .is_null()
                    .or(Expr::col(t("totp_last_step")).lt(step)),
            ),
    )
    .await
}

pub async fn set_totp<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    id: &str,
    secret: Option<&str>,
    recovery_code_hashes: &[String],
) -> Result<(), DomainError> {
    let enc = match secret {
        Some(s) => Some(store.keys()?.encrypt("users", "totp_secret_enc", id, s)?),
        None => None,
    };
    let codes = if secret.is_some() {
        Some(serde_json::to_string(recovery_code_hashes).map_err(DomainError::internal)?)
    } else {
        None
    };
    exec(
        c,
        Query::update()
            .table(t("users"))
            .values([
                (t("totp_secret_enc"), enc.into()),
                (t("recovery_codes"), codes.into()),
                (t("totp_last_step"), Option::<i64>::None.into()),
                (t("updated_at"), store.now().into()),
            ])
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    store.auth_cache().invalidate();
    Ok(())
}

pub async fn set_recovery_codes<C: ConnectionTrait>(
    c: &C,
    id: &str,
    hashes: &[String],
) -> Result<(), DomainError> {
    let codes = serde_json::to_string(hashes).map_err(DomainError::internal)?;
    exec(
        c,
        Query::update()
            .table(t("users"))
            .value(t("recovery_codes"), codes)
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    Ok(())
}

/// Keep a TOTP secret being enrolled until the user confirms a code from it.
pub async fn set_totp_pending<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    id: &str,
    secret: Option<&str>,
) -> Result<(), DomainError> {
    let enc = match secret {
        Some(s) => Some(store.keys()?.encrypt("users", "totp_pending_enc", id, s)?),
        None => None,
    };
    exec(
        c,
        Query::update()
            .table(t("users"))
            .value(t("totp_pending_enc"), enc)
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    Ok(())
}

/// Change a user's own sign-in email (after re-authentication).
pub async fn set_email<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    id: &str,
    email: &str,
) -> Result<(), DomainError> {
    let res = exec(
        c,
        Query::update()
            .table(t("users"))
            .values([
                (t("email"), email.into()),
                (t("updated_at"), store.now().into()),
            ])
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await;
    match res {
        Err(e) if e.is_unique_violation() => Err(DomainError::field(
            "email",
            "taken",
            "another user has that email",
        )),
        Err(e) => Err(e),
        Ok(_) => {
            store.auth_cache().invalidate();
            Ok(())
        }
    }
}

/// Change a user's language preference.
pub async fn set_language(store: &Store, id: &str, language: &str) -> Result<(), DomainError> {
    if !matches!(language, "zh-CN" | "en" | "auto") {
        return Err(DomainError::field(
            "language",
            "invalid",
            "language must be zh-CN, en or auto (follow the browser)",
        ));
    }
    exec(
        store.db.writer(),
        Query::update()
            .table(t("users"))
            .value(t("language"), language)
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    store.auth_cache().invalidate();
    Ok(())
}

/// Active users holding the role with this key.
pub async fn role_members(store: &Store, key: &str) -> Result<Vec<String>, DomainError> {
    let rows = all(
        store.db.reader(),
        Query::select()
            .column((t("user_roles"), t("user_id")))
            .from(t("user_roles"))
            .inner_join(
                t("roles"),
                Expr::col((t("user_roles"), t("role_id"))).equals((t("roles"), t("id"))),
            )
            .inner_join(
                t("users"),
                Expr::col((t("user_roles"), t("user_id"))).equals((t("users"), t("id"))),
            )
            .and_where(Expr::col((t("roles"), t("key"))).eq(key))
            .and_where(Expr::col((t("users"), t("active"))).eq(true))
            .order_by((t("user_roles"), t("user_id")), Order::Asc),
    )
    .await?;
    rows.iter().map(|r| get(r, "user_id")).collect()
}
