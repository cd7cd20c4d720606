//! The public pool (公海): accounts without an owner. Reps claim them, within a daily claim
//! limit and a cap on how many accounts they may hold, and release them with a reason. A daily
//! job returns accounts to the pool after N days without follow-up or M days without a won
//! deal, warning the owner a few days before; protected accounts stay. Every claim, release
//! and return is logged (`pool_events`) and audited.

mod claims;
mod sweep;

pub use claims::{claim, release, standing, Standing};
pub use sweep::{returning_soon, sweep, sweep_now, Returning, Swept};

use crate::access::Access;
use crate::objects;
use crate::objects::ACCOUNTS;
use crate::records;
use crate::{audit, notifications, outbox, Store};
use chrono::{DateTime, Duration, Utc};
use rapport_core::{ids, Action, DomainError, FieldError, Principal, Scope};
use rapport_db::{all, db_err, exec, get, one};
use sea_orm::sea_query::{Alias, Cond, Expr, Order, Query};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

const SETTING_KEY: &str = "pool";
/// The daily job that returns accounts to the pool.
pub const SWEEP_JOB: &str = "pool.sweep";
/// Notification kinds.
pub const WARNING: &str = "pool_warning";
pub const RETURNED: &str = "pool_returned";

/// The pool's rules (settings → pool).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PoolSettings {
    /// Accounts one user may claim per day.
    pub daily_claim_limit: u32,
    /// Accounts one user may own at most (claims beyond are refused).
    pub max_owned: u32,
    /// Whether the daily job returns accounts.
    pub auto_return: bool,
    /// Return after this many days without follow-up (0: never).
    pub no_follow_up_days: u32,
    /// Return after this many days without a won deal (0: never).
    pub no_won_days: u32,
    /// Warn the owner this many days before.
    pub warn_days: u32,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            daily_claim_limit: 10,
            max_owned: 500,
            auto_return: true,
            no_follow_up_days: 30,
            no_won_days: 90,
            warn_days: 3,
        }
    }
}

pub async fn settings<C: ConnectionTrait>(c: &C) -> Result<PoolSettings, DomainError> {
    Ok(crate::settings::read(c, SETTING_KEY)
        .await?
        .unwrap_or_default())
}

/// The pool's rules, for someone with the settings right.
pub async fn read_settings(store: &Store, actor: &Access) -> Result<PoolSettings, DomainError> {
    crate::settings::may_read(actor)?;
    settings(store.db.reader()).await
}

/// Replace the pool's rules (settings right; audited).
pub async fn set_settings(
    store: &Store,
    actor: &Access,
    new: PoolSettings,
) -> Result<PoolSettings, DomainError> {
    may_change(actor)?;
    let mut errors = Vec::new();
    if new.daily_claim_limit > 10_000 {
        errors.push(FieldError::new(
            "daily_claim_limit",
            "out_of_range",
            "daily_claim_limit is at most 10000",
        ));
    }
    if new.max_owned > 1_000_000 {
        errors.push(FieldError::new(
            "max_owned",
            "out_of_range",
            "max_owned is at most 1000000",
        ));
    }
    for (name, v) in [
        ("no_follow_up_days", new.no_follow_up_days),
        ("no_won_days", new.no_won_days),
        ("warn_days", new.warn_days),
    ] {
        if v > 3650 {
            errors.push(FieldError::new(
                name,
                "out_of_range",
                format!("{name} is at most 3650"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    let before = settings(store.db.reader()).await?;
    crate::settings::replace(
        store,
        actor,
        SETTING_KEY,
        "settings.pool_changed",
        &before,
        &new,
    )
    .await?;
    Ok(new)
}

/// Who may work with the pool: whoever may change accounts.
fn may_use(actor: &Access) -> Result<(), DomainError> {
    if actor.scope(objects::ACCOUNT, Action::Update) == Scope::None {
        return Err(DomainError::Forbidden(
            "the public pool is for people who may change accounts".into(),
        ));
    }
    Ok(())
}

/// An account in the pool, as the pool page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PoolAccount {
    pub id: String,
    pub name: String,
    pub industry: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub level: Option<String>,
    pub pool_entered_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
    /// Why it last entered the pool (a release reason, no_follow_up or no_won_deal).
    pub reason: Option<String>,
}

/// Accounts in the pool, newest arrivals first; `q` narrows by name prefix.
pub async fn list(
    store: &Store,
    actor: &Access,
    q: Option<&str>,
    limit: u64,
) -> Result<Vec<PoolAccount>, DomainError> {
    may_use(actor)?;
    let mut sel = Query::select();
    sel.columns(
        [
            "id",
            "name",
            "industry",
            "province",
            "city",
            "level",
            "pool_entered_at",
            "last_activity_at",
        ]
        .map(t),
    )
    .from(t("accounts"))
    .and_where(Expr::col(t("owner_id")).is_null())
    .order_by_with_nulls(
        t("pool_entered_at"),
        Order::Desc,
        sea_orm::sea_query::NullOrdering::Last,
    )
    .order_by(t("id"), Order::Desc)
    .limit(limit.clamp(1, 500));
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        let norm = rapport_core::validate::company_name_norm(q);
        // The normalised name holds letters and digits only: no LIKE wildcard to escape.
        sel.and_where(Expr::col(t("name_norm")).like(format!("{norm}%")));
    }
    let rows = all(store.db.reader(), &sel).await?;
    let mut out = Vec::with_capacity(rows.len());
    let ids: Vec<String> = rows
        .iter()
        .map(|r| get::<String>(r, "id"))
        .collect::<Result<_, _>>()?;
    let mut reasons = std::collections::HashMap::new();
    if !ids.is_empty() {
        for r in all(
            store.db.reader(),
            Query::select()
                .columns(["account_id", "reason", "at"].map(t))
                .from(t("pool_events"))
                .and_where(Expr::col(t("account_id")).is_in(ids))
                .and_where(Expr::col(t("action")).is_in(["release", "return"]))
                .order_by(t("at"), Order::Asc),
        )
        .await?
        {
            reasons.insert(
                get::<String>(&r, "account_id")?,
                get::<Option<String>>(&r, "reason")?,
            );
        }
    }
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("account.pool_listed")
            .object("account", "*")
            .details(json!({"q": q, "count": rows.len()})),
    )
    .await?;
    for r in &rows {
        let id: String = get(r, "id")?;
        out.push(PoolAccount {
            reason: reasons.remove(&id).flatten(),
            id,
            name: get(r, "name")?,
            industry: get(r, "industry")?,
            province: get(r, "province")?,
            city: get(r, "city")?,
            level: get(r, "level")?,
            pool_entered_at: get(r, "pool_entered_at")?,
            last_activity_at: get(r, "last_activity_at")?,
        });
    }
    Ok(out)
}

async fn log_event<C: ConnectionTrait>(
    c: &C,
    account_id: &str,
    user_id: Option<&str>,
    action: &str,
    reason: Option<&str>,
    note: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), DomainError> {
    exec(
        c,
        Query::insert()
            .into_table(t("pool_events"))
            .columns(
                [
                    "id",
                    "account_id",
                    "user_id",
                    "action",
                    "reason",
                    "note",
                    "at",
                ]
                .map(t),
            )
            .values_panic([
                ids::new_id().into(),
                account_id.into(),
                user_id.map(str::to_string).into(),
                action.into(),
                reason.map(str::to_string).into(),
                note.map(str::to_string).into(),
                at.into(),
            ]),
    )
    .await?;
    Ok(())
}

/// Claims, releases and returns of one account, newest first (for its page).
pub async fn history(
    store: &Store,
    actor: &Access,
    account_id: &str,
) -> Result<Vec<Value>, DomainError> {
    records::read_record(store, actor, &ACCOUNTS, account_id).await?;
    all(
        store.db.reader(),
        Query::select()
            .columns(["user_id", "action", "reason", "note", "at"].map(t))
            .from(t("pool_events"))
            .and_where(Expr::col(t("account_id")).eq(account_id))
            .order_by(t("at"), Order::Desc)
            .limit(100),
    )
    .await?
    .iter()
    .map(|r| {
        Ok(json!({
            "user_id": get::<Option<String>>(r, "user_id")?,
            "action": get::<String>(r, "action")?,
            "reason": get::<Option<String>>(r, "reason")?,
            "note": get::<Option<String>>(r, "note")?,
            "at": get::<DateTime<Utc>>(r, "at")?,
        }))
    })
    .collect()
}

/// Changing the pool's rules needs the settings right over all (the API asks before reading a body).
pub fn may_change(actor: &crate::access::Access) -> Result<(), rapport_core::DomainError> {
    crate::settings::may_change(actor, "changing the pool's rules")
}
