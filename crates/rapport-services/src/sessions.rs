//! Persistence of sign-in sessions, API tokens and failed-attempt counters. Tokens are stored
//! only as SHA-256 hashes; everything lives in the database so several server processes share it.

use crate::Store;
use chrono::{DateTime, Utc};
use rapport_core::DomainError;
use rapport_db::{all, exec, get, one};
use sea_orm::sea_query::{Alias, Cond, Expr, OnConflict, Order, Query};
use sea_orm::ConnectionTrait;
use serde::Serialize;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub read_only: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const SESSION_COLS: [&str; 8] = [
    "id",
    "user_id",
    "created_at",
    "last_seen_at",
    "expires_at",
    "ip",
    "user_agent",
    "revoked_at",
];
const TOKEN_COLS: [&str; 8] = [
    "id",
    "user_id",
    "name",
    "read_only",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked_at",
];

fn session_row(r: &sea_orm::QueryResult) -> Result<SessionRow, DomainError> {
    Ok(SessionRow {
        id: get(r, "id")?,
        user_id: get(r, "user_id")?,
        created_at: get(r, "created_at")?,
        last_seen_at: get(r, "last_seen_at")?,
        expires_at: get(r, "expires_at")?,
        ip: get(r, "ip")?,
        user_agent: get(r, "user_agent")?,
        revoked_at: get(r, "revoked_at")?,
    })
}

fn token_row(r: &sea_orm::QueryResult) -> Result<TokenRow, DomainError> {
    Ok(TokenRow {
        id: get(r, "id")?,
        user_id: get(r, "user_id")?,
        name: get(r, "name")?,
        read_only: get(r, "read_only")?,
        created_at: get(r, "created_at")?,
        expires_at: get(r, "expires_at")?,
        last_used_at: get(r, "last_used_at")?,
        revoked_at: get(r, "revoked_at")?,
    })
}

pub async fn insert_session<C: ConnectionTrait>(
    c: &C,
    s: &SessionRow,
    token_hash: &str,
) -> Result<(), DomainError> {
    exec(
        c,
        Query::insert()
            .into_table(t("sessions"))
            .columns(
                [
                    "id",
                    "token_hash",
                    "user_id",
                    "created_at",
                    "last_seen_at",
                    "expires_at",
                    "ip",
                    "user_agent",
                ]
                .map(t),
            )
            .values_panic([
                s.id.clone().into(),
                token_hash.into(),
                s.user_id.clone().into(),
                s.created_at.into(),
                s.last_seen_at.into(),
                s.expires_at.into(),
                s.ip.clone().into(),
                s.user_agent.clone().into(),
            ]),
    )
    .await?;
    Ok(())
}

pub async fn session_by_hash(
    store: &Store,
    token_hash: &str,
) -> Result<Option<SessionRow>, DomainError> {
    let r = one(
        store.db.reader(),
        Query::select()
            .columns(SESSION_COLS.map(t))
            .from(t("sessions"))
            .and_where(Expr::col(t("token_hash")).eq(token_hash)),
    )
    .await?;
    r.as_ref().map(session_row).transpose()
}

pub async fn touch_session(store: &Store, id: &str, at: DateTime<Utc>) -> Result<(), DomainError> {
    exec(
        store.db.writer(),
        Query::update()
            .table(t("sessions"))
            .value(t("last_seen_at"), at)
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    Ok(())
}

pub async fn sessions_of(store: &Store, user_id: &str) -> Result<Vec<SessionRow>, DomainError> {
    let rows = all(
        store.db.reader(),
        Query::select()
            .columns(SESSION_COLS.map(t))
            .from(t("sessions"))
            .and_where(Expr::col(t("user_id")).eq(user_id))
            .and_where(Expr::col(t("revoked_at")).is_null())
            .and_where(Expr::col(t("expires_at")).gt(store.now()))
            .order_by(t("last_seen_at"), Order::Desc),
    )
    .await?;
    rows.iter().map(session_row).collect()
}

pub async fn session_by_id(store: &Store, id: &str) -> Result<Option<SessionRow>, DomainError> {
    let r = one(
        store.db.reader(),
        Query::select()
            .columns(SESSION_COLS.map(t))
            .from(t("sessions"))
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    r.as_ref().map(session_row).transpose()
}

pub async fn revoke_session<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    id: &str,
) -> Result<u64, DomainError> {
    exec(
        c,
        Query::update()
            .table(t("sessions"))
            .value(t("revoked_at"), store.now())
            .and_where(Expr::col(t("id")).eq(id))
            .and_where(Expr::col(t("revoked_at")).is_null()),
    )
    .await
    .inspect(|_| store.auth_cache().invalidate())
}

/// End every session and API token of a user (disable, password change).
pub async fn revoke_all_for_user<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    user_id: &str,
) -> Result<(), DomainError> {
    let now = store.now();
    exec(
        c,
        Query::update()
            .table(t("sessions"))
            .value(t("revoked_at"), now)
            .and_where(Expr::col(t("user_id")).eq(user_id))
            .and_where(Expr::col(t("revoked_at")).is_null()),
    )
    .await?;
    exec(
        c,
        Query::update()
            .table(t("api_tokens"))
            .value(t("revoked_at"), now)
            .and_where(Expr::col(t("user_id")).eq(user_id))
            .and_where(Expr::col(t("revoked_at")).is_null()),
    )
    .await?;
    store.auth_cache().invalidate();
    Ok(())
}

pub async fn insert_token<C: ConnectionTrait>(
    c: &C,
    row: &TokenRow,
    token_hash: &str,
) -> Result<(), DomainError> {
    exec(
        c,
        Query::insert()
            .into_table(t("api_tokens"))
            .columns(
                [
                    "id",
                    "token_hash",
                    "user_id",
                    "name",
                    "read_only",
                    "created_at",
                    "expires_at",
                ]
                .map(t),
            )
            .values_panic([
                row.id.clone().into(),
                token_hash.into(),
                row.user_id.clone().into(),
                row.name.clone().into(),
                row.read_only.into(),
                row.created_at.into(),
                row.expires_at.into(),
            ]),
    )
    .await?;
    Ok(())
}

pub async fn token_by_hash(
    store: &Store,
    token_hash: &str,
) -> Result<Option<TokenRow>, DomainError> {
    let r = one(
        store.db.reader(),
        Query::select()
            .columns(TOKEN_COLS.map(t))
            .from(t("api_tokens"))
            .and_where(Expr::col(t("token_hash")).eq(token_hash)),
    )
    .await?;
    r.as_ref().map(token_row).transpose()
}

pub async fn tokens_of(store: &Store, user_id: &str) -> Result<Vec<TokenRow>, DomainError> {
    let rows = all(
        store.db.reader(),
        Query::select()
            .columns(TOKEN_COLS.map(t))
            .from(t("api_tokens"))
            .and_where(Expr::col(t("user_id")).eq(user_id))
            .order_by(t("created_at"), Order::Desc),
    )
    .await?;
    rows.iter().map(token_row).collect()
}

pub async fn token_by_id(store: &Store, id: &str) -> Result<Option<TokenRow>, DomainError> {
    let r = one(
        store.db.reader(),
        Query::select()
            .columns(TOKEN_COLS.map(t))
            .from(t("api_tokens"))
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    r.as_ref().map(token_row).transpose()
}

pub async fn revoke_token<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    id: &str,
) -> Result<u64, DomainError> {
    exec(
        c,
        Query::update()
            .table(t("api_tokens"))
            .value(t("revoked_at"), store.now())
            .and_where(Expr::col(t("id")).eq(id))
            .and_where(Expr::col(t("revoked_at")).is_null()),
    )
    .await
    .inspect(|_| store.auth_cache().invalidate())
}

pub async fn touch_token(store: &Store, id: &str, at: DateTime<Utc>) -> Result<(), DomainError> {
    exec(
        store.db.writer(),
        Query::update()
            .table(t("api_tokens"))
            .value(t("last_used_at"), at)
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    Ok(())
}

/// A failure counter for one key (an account or an IP address).
#[derive(Debug, Clone)]
pub struct Attempts {
    pub failures: i64,
    pub window_start: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

/// Count one sign-in attempt on `key` before its credentials are checked, in one statement,
/// so that parallel attempts (in one process or several) cannot all pass the limit. The count
/// starts again (at 1, unlocked) when the window began before `window_cutoff` or the lock
/// ran out by `now`. Returns the row as it is after this attempt.
pub async fn count_attempt(
    store: &Store,
    key: &str,
    now: DateTime<Utc>,
    window_cutoff: DateTime<Utc>,
) -> Result<Attempts, DomainError> {
    let col = |c: &str| Expr::col((t("login_attempts"), t(c)));
    let restart = || {
        Cond::any().add(col("window_start").lt(window_cutoff)).add(
            Cond::all()
                .add(col("locked_until").is_not_null())
                .add(col("locked_until").lte(now)),
        )
    };
    let q = Query::insert()
        .into_table(t("login_attempts"))
        .columns(["key", "failures", "window_start", "locked_until"].map(t))
        .values_panic([
            key.into(),
            1i64.into(),
            now.into(),
            Option::<DateTime<Utc>>::None.into(),
        ])
        .on_conflict(
            OnConflict::column(t("key"))
                .values([
                    (
                        t("failures"),
                        Expr::case(restart(), 1i64)
                            .finally(col("failures").add(1i64))
                            .into(),
                    ),
                    (
                        t("window_start"),
                        Expr::case(restart(), now)
                            .finally(col("window_start"))
                            .into(),
                    ),
                    (
                        t("locked_until"),
                        Expr::case(restart(), Option::<DateTime<Utc>>::None)
                            .finally(col("locked_until"))
                            .into(),
                    ),
                ])
                .to_owned(),
        )
        .returning(Query::returning().columns(["failures", "window_start", "locked_until"].map(t)))
        .to_owned();
    let r = one(store.db.writer(), &q)
        .await?
        .ok_or_else(|| DomainError::Internal("the attempt counter returned no row".into()))?;
    Ok(Attempts {
        failures: get(&r, "failures")?,
        window_start: get(&r, "window_start")?,
        locked_until: get(&r, "locked_until")?,
    })
}

/// Lock `key` until `until` when its attempts reached `max` and it is not locked yet.
pub async fn lock_if_used_up(
    store: &Store,
    key: &str,
    max: i64,
    until: DateTime<Utc>,
) -> Result<(), DomainError> {
    exec(
        store.db.writer(),
        Query::update()
            .table(t("login_attempts"))
            .value(t("locked_until"), until)
            .and_where(Expr::col(t("key")).eq(key))
            .and_where(Expr::col(t("failures")).gte(max))
            .and_where(Expr::col(t("locked_until")).is_null()),
    )
    .await?;
    Ok(())
}

/// Take back one counted attempt on `key` (it was not a failure).
pub async fn uncount_attempt(store: &Store, key: &str) -> Result<(), DomainError> {
    exec(
        store.db.writer(),
        Query::update()
            .table(t("login_attempts"))
            .value(t("failures"), Expr::col(t("failures")).sub(1i64))
            .and_where(Expr::col(t("key")).eq(key))
            .and_where(Expr::col(t("failures")).gt(0i64)),
    )
    .await?;
    Ok(())
}

pub async fn clear_attempts<C: ConnectionTrait>(c: &C, key: &str) -> Result<(), DomainError> {
    exec(
        c,
        Query::delete()
            .from_table(t("login_attempts"))
            .and_where(Expr::col(t("key")).eq(key)),
    )
    .await?;
    Ok(())
}
