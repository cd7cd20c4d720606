//! The public pool (公海): accounts without an owner. Reps claim them, within a daily claim
//! limit and a cap on how many accounts they may hold, and release them with a reason. A daily
//! job returns accounts to the pool after N days without follow-up or M days without a won
//! deal, warning the owner a few days before; protected accounts stay. Every claim, release
//! and return is logged (`pool_events`) and audited.

use crate::access::Access;
use crate::objects::ACCOUNTS;
use crate::records;
use crate::{audit, notifications, outbox, Store};
use chrono::{DateTime, Duration, Utc};
use rapport_core::{ids, Action, DomainError, FieldError, Object, Principal, Scope};
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
    crate::settings::may_change(actor, "changing the pool's rules")?;
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
    if actor.scope(Object::Account, Action::Update) == Scope::None {
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

/// How the caller stands against the pool's limits today.
#[derive(Debug, Clone, Serialize)]
pub struct Standing {
    pub claimed_today: u64,
    pub daily_claim_limit: u32,
    pub owned: u64,
    pub max_owned: u32,
}

async fn count<C: ConnectionTrait>(
    c: &C,
    q: &sea_orm::sea_query::SelectStatement,
) -> Result<u64, DomainError> {
    let row = one(c, q).await?;
    Ok(match row {
        Some(r) => get::<i64>(&r, "n")?.max(0) as u64,
        None => 0,
    })
}

async fn standing_in<C: ConnectionTrait>(
    c: &C,
    user_id: &str,
    now: DateTime<Utc>,
    rules: &PoolSettings,
) -> Result<Standing, DomainError> {
    let claimed_today = count(
        c,
        Query::select()
            .expr_as(Expr::col(t("id")).count(), t("n"))
            .from(t("pool_events"))
            .and_where(Expr::col(t("user_id")).eq(user_id))
            .and_where(Expr::col(t("action")).eq("claim"))
            .and_where(Expr::col(t("at")).gte(rapport_core::clock::local_midnight(
                rapport_core::clock::local_date(now),
            ))),
    )
    .await?;
    let owned = count(
        c,
        Query::select()
            .expr_as(Expr::col(t("id")).count(), t("n"))
            .from(t("accounts"))
            .and_where(Expr::col(t("owner_id")).eq(user_id)),
    )
    .await?;
    Ok(Standing {
        claimed_today,
        daily_claim_limit: rules.daily_claim_limit,
        owned,
        max_owned: rules.max_owned,
    })
}

pub async fn standing(store: &Store, actor: &Access) -> Result<Standing, DomainError> {
    may_use(actor)?;
    let rules = settings(store.db.reader()).await?;
    standing_in(store.db.reader(), &actor.user_id, store.now(), &rules).await
}

/// Claim an account from the pool. Of several people claiming the same account at once,
/// exactly one gets it; the limits hold however many claims one person makes at once.
pub async fn claim(store: &Store, actor: &Access, account_id: &str) -> Result<(), DomainError> {
    may_use(actor)?;
    if !ids::is_valid_id(account_id) {
        return Err(DomainError::NotFound);
    }
    let rules = settings(store.db.reader()).await?;
    let now = store.now();
    let tx = store.db.begin().await?;
    // One person's claims run one at a time.
    rapport_db::dialect::lock_row(&tx, "users", &actor.user_id).await?;
    let exists = one(
        &tx,
        Query::select()
            .columns(["id", "owner_id", "name", "claimed_at"].map(t))
            .from(t("accounts"))
            .and_where(Expr::col(t("id")).eq(account_id)),
    )
    .await?
    .ok_or(DomainError::NotFound)?;
    let name: String = get(&exists, "name")?;
    if let Some(owner) = get::<Option<String>>(&exists, "owner_id")? {
        // Someone holds it. Say so only about an account the caller may read or one claimed
        // from the pool (which everyone who uses the pool saw there); any other account is
        // answered as one that does not exist.
        let readable = actor
            .owners(Object::Account, Action::Read)
            .is_some_and(|f| f.allows(Some(&owner)));
        let was_pooled = get::<Option<DateTime<Utc>>>(&exists, "claimed_at")?.is_some();
        return Err(if readable || was_pooled {
            DomainError::Conflict("the account is no longer in the pool".into())
        } else {
            DomainError::NotFound
        });
    }
    let s = standing_in(&tx, &actor.user_id, now, &rules).await?;
    if s.claimed_today >= u64::from(rules.daily_claim_limit) {
        return Err(DomainError::Conflict(format!(
            "you have claimed {} accounts today, the daily limit",
            s.claimed_today
        )));
    }
    if s.owned >= u64::from(rules.max_owned) {
        return Err(DomainError::Conflict(format!(
            "you hold {} accounts, the most allowed; release some first",
            s.owned
        )));
    }
    let taken = exec(
        &tx,
        Query::update()
            .table(t("accounts"))
            .value(t("owner_id"), actor.user_id.clone())
            .value(t("department_id"), actor.department_id.clone())
            .value(t("claimed_at"), now)
            .value(t("pool_entered_at"), Option::<DateTime<Utc>>::None)
            .value(t("updated_at"), now)
            .value(t("version"), Expr::col(t("version")).add(1))
            .and_where(Expr::col(t("id")).eq(account_id))
            .and_where(Expr::col(t("owner_id")).is_null()),
    )
    .await?;
    if taken != 1 {
        return Err(DomainError::Conflict(
            "the account is no longer in the pool".into(),
        ));
    }
    log_event(
        &tx,
        account_id,
        Some(&actor.user_id),
        "claim",
        None,
        None,
        now,
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("account.claimed")
            .object("account", account_id)
            .details(json!({"label": name, "claimed_today": s.claimed_today + 1})),
    )
    .await?;
    outbox::emit(
        &tx,
        store,
        actor,
        "account.claimed",
        "account",
        account_id,
        json!({"id": account_id, "owner_id": actor.user_id}),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

/// Put an account the actor may change back into the pool, with a reason from the
/// `pool_release_reason` list and an optional note.
pub async fn release(
    store: &Store,
    actor: &Access,
    account_id: &str,
    reason: &str,
    note: &str,
) -> Result<(), DomainError> {
    may_use(actor)?;
    let rec = records::read_record(store, actor, &ACCOUNTS, account_id).await?;
    let upd = actor
        .owners(Object::Account, Action::Update)
        .ok_or_else(|| DomainError::Forbidden("you may not change accounts".into()))?;
    let Some(owner) = rec.owner_id().map(str::to_string) else {
        return Err(DomainError::Conflict(
            "the account is in the pool already".into(),
        ));
    };
    if !upd.allows(Some(&owner)) {
        return Err(DomainError::Forbidden(
            "you may not release this account".into(),
        ));
    }
    let reason = reason.trim();
    let note = note.trim();
    if reason.is_empty()
        || !crate::picklists::is_allowed(&store.db, "pool_release_reason", reason).await?
    {
        return Err(DomainError::field(
            "reason",
            "invalid_choice",
            "choose a reason from the pool_release_reason list",
        ));
    }
    if note.chars().count() > 500 {
        return Err(DomainError::field(
            "note",
            "too_long",
            "a note is at most 500 characters",
        ));
    }
    let now = store.now();
    let tx = store.db.begin().await?;
    let n = exec(
        &tx,
        Query::update()
            .table(t("accounts"))
            .value(t("owner_id"), Option::<String>::None)
            .value(t("department_id"), Option::<String>::None)
            .value(t("protected"), false)
            .value(t("pool_entered_at"), now)
            .value(t("updated_at"), now)
            .value(t("version"), Expr::col(t("version")).add(1))
            .and_where(Expr::col(t("id")).eq(account_id))
            .and_where(Expr::col(t("owner_id")).eq(owner.as_str())),
    )
    .await?;
    if n != 1 {
        return Err(DomainError::Conflict(
            "the account changed meanwhile".into(),
        ));
    }
    let note = Some(note).filter(|n| !n.is_empty());
    log_event(
        &tx,
        account_id,
        Some(&actor.user_id),
        "release",
        Some(reason),
        note,
        now,
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("account.released")
            .object("account", account_id)
            .details(json!({"reason": reason, "note": note, "owner_id": owner})),
    )
    .await?;
    outbox::emit(
        &tx,
        store,
        actor,
        "account.released",
        "account",
        account_id,
        json!({"id": account_id}),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Swept {
    pub returned: u64,
    pub warned: u64,
}

/// When an account returns to the pool under `rules`, and why.
fn due(
    rules: &PoolSettings,
    follow_up_from: DateTime<Utc>,
    won_from: DateTime<Utc>,
) -> Option<(DateTime<Utc>, &'static str)> {
    let a = (rules.no_follow_up_days > 0).then(|| {
        (
            follow_up_from + Duration::days(i64::from(rules.no_follow_up_days)),
            "no_follow_up",
        )
    });
    let b = (rules.no_won_days > 0).then(|| {
        (
            won_from + Duration::days(i64::from(rules.no_won_days)),
            "no_won_deal",
        )
    });
    match (a, b) {
        (Some(x), Some(y)) => Some(if x.0 <= y.0 { x } else { y }),
        (x, y) => x.or(y),
    }
}

/// An owned account that returns to the pool by `horizon` unless someone acts.
#[derive(Debug, Clone, Serialize)]
pub struct Returning {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub at: DateTime<Utc>,
    /// no_follow_up or no_won_deal
    pub reason: &'static str,
}

/// Owned, unprotected accounts (of `owner`, or everyone's) due back in the pool by `horizon`.
async fn due_by<C: ConnectionTrait>(
    c: &C,
    rules: &PoolSettings,
    horizon: DateTime<Utc>,
    owner: Option<&str>,
) -> Result<Vec<Returning>, DomainError> {
    let shortest = [rules.no_follow_up_days, rules.no_won_days]
        .into_iter()
        .filter(|d| *d > 0)
        .min();
    let Some(shortest) = shortest.filter(|_| rules.auto_return) else {
        return Ok(Vec::new());
    };
    // Only accounts untouched (claimed, created or followed up) for the shorter period before
    // the horizon can be due: the rest need no closer look.
    let cutoff = horizon - Duration::days(i64::from(shortest));
    let mut q = Query::select();
    q.columns(
        [
            "id",
            "name",
            "owner_id",
            "created_at",
            "claimed_at",
            "last_activity_at",
        ]
        .map(t),
    )
    .from(t("accounts"))
    .and_where(Expr::col(t("owner_id")).is_not_null())
    .cond_where(
        Cond::any()
            .add(Expr::col(t("protected")).is_null())
            .add(Expr::col(t("protected")).eq(false)),
    )
    .cond_where(
        Cond::any()
            .add(Expr::col(t("claimed_at")).is_null())
            .add(Expr::col(t("claimed_at")).lte(cutoff)),
    )
    .and_where(Expr::col(t("created_at")).lte(cutoff))
    .order_by(t("id"), Order::Asc)
    .limit(50_000);
    if let Some(o) = owner {
        q.and_where(Expr::col(t("owner_id")).eq(o));
    }
    let rows = all(c, &q).await?;
    let ids: Vec<String> = rows
        .iter()
        .map(|r| get::<String>(r, "id"))
        .collect::<Result<_, _>>()?;
    let mut won: std::collections::HashMap<String, DateTime<Utc>> = Default::default();
    for chunk in ids.chunks(500) {
        for r in all(
            c,
            Query::select()
                .column(t("account_id"))
                .expr_as(Expr::col(t("closed_at")).max(), t("won_at"))
                .from(t("opportunities"))
                .and_where(Expr::col(t("status")).eq("won"))
                .and_where(Expr::col(t("account_id")).is_in(chunk.to_vec()))
                .group_by_col(t("account_id")),
        )
        .await?
        {
            if let Some(at) = get::<Option<DateTime<Utc>>>(&r, "won_at")? {
                won.insert(get(&r, "account_id")?, at);
            }
        }
    }
    let mut out = Vec::new();
    for r in &rows {
        let id: String = get(r, "id")?;
        let created: DateTime<Utc> = get(r, "created_at")?;
        let start = get::<Option<DateTime<Utc>>>(r, "claimed_at")?
            .unwrap_or(created)
            .max(created);
        let follow =
            get::<Option<DateTime<Utc>>>(r, "last_activity_at")?.map_or(start, |a| a.max(start));
        let won_from = won.get(&id).map_or(start, |w| (*w).max(start));
        if let Some((at, reason)) = due(rules, follow, won_from).filter(|(at, _)| *at <= horizon) {
            out.push(Returning {
                id,
                name: get(r, "name")?,
                owner_id: get(r, "owner_id")?,
                at,
                reason,
            });
        }
    }
    out.sort_by_key(|r| r.at);
    Ok(out)
}

/// The actor's accounts that return to the pool within `days` unless followed up.
pub async fn returning_soon(
    store: &Store,
    actor: &Access,
    days: i64,
) -> Result<Vec<Returning>, DomainError> {
    let rules = settings(store.db.reader()).await?;
    due_by(
        store.db.reader(),
        &rules,
        store.now() + Duration::days(days),
        Some(&actor.user_id),
    )
    .await
}

/// Return accounts that have gone without follow-up or a won deal for too long, and warn the
/// owners of those about to go. Runs inside the job's transaction; audited as the system.
pub async fn sweep<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Swept, DomainError> {
    let rules = settings(c).await?;
    let mut out = Swept::default();
    let horizon = now + Duration::days(i64::from(rules.warn_days));
    let system = Principal::system();
    for acc in due_by(c, &rules, horizon, None).await? {
        let Returning {
            id,
            name,
            owner_id: owner,
            at,
            reason: why,
        } = acc;
        if at <= now {
            let n = exec(
                c,
                Query::update()
                    .table(t("accounts"))
                    .value(t("owner_id"), Option::<String>::None)
                    .value(t("department_id"), Option::<String>::None)
                    .value(t("pool_entered_at"), now)
                    .value(t("updated_at"), now)
                    .value(t("version"), Expr::col(t("version")).add(1))
                    .and_where(Expr::col(t("id")).eq(id.as_str()))
                    .and_where(Expr::col(t("owner_id")).eq(owner.as_str())),
            )
            .await?;
            if n != 1 {
                continue;
            }
            log_event(c, &id, Some(&owner), "return", Some(why), None, now).await?;
            audit::record(
                c,
                store,
                &system,
                audit::Entry::new("account.returned_to_pool")
                    .object("account", &id)
                    .details(json!({"reason": why, "owner_id": owner, "label": name})),
            )
            .await?;
            notifications::notify(
                c,
                now,
                notifications::NewNotification {
                    user_id: owner.clone(),
                    kind: RETURNED,
                    subject: name.clone(),
                    object: Some(("account".into(), id.clone())),
                    actor_id: None,
                    payload: json!({"reason": why}),
                    dedupe_key: Some(format!("pool-returned:{id}:{}", now.date_naive())),
                },
            )
            .await?;
            out.returned += 1;
        } else {
            let created = notifications::notify(
                c,
                now,
                notifications::NewNotification {
                    user_id: owner.clone(),
                    kind: WARNING,
                    subject: name.clone(),
                    object: Some(("account".into(), id.clone())),
                    actor_id: None,
                    payload: json!({"reason": why, "due_at": at.to_rfc3339()}),
                    dedupe_key: Some(format!("pool-warning:{id}:{}", at.date_naive())),
                },
            )
            .await?;
            if created {
                out.warned += 1;
            }
        }
    }
    if out.returned > 0 || out.warned > 0 {
        tracing::info!(returned = out.returned, warned = out.warned, "pool sweep");
    }
    Ok(out)
}

/// Run the sweep now (administrators; the daily job does the same).
pub async fn sweep_now(store: &Store, actor: &Access) -> Result<Swept, DomainError> {
    crate::settings::may_change(actor, "running the pool rules")?;
    let tx = store.db.begin().await?;
    let out = sweep(&tx, store, store.now()).await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("settings.pool_swept")
            .object("settings", SETTING_KEY)
            .details(json!(out)),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earlier_rule_decides() {
        let rules = PoolSettings::default();
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (at, why) = due(&rules, t0, t0).unwrap();
        assert_eq!((at - t0).num_days(), 30);
        assert_eq!(why, "no_follow_up");
        // Followed up recently, but no won deal for 90 days.
        let (at, why) = due(&rules, t0 + Duration::days(80), t0).unwrap();
        assert_eq!((at - t0).num_days(), 90);
        assert_eq!(why, "no_won_deal");
        let off = PoolSettings {
            no_follow_up_days: 0,
            no_won_days: 0,
            ..rules
        };
        assert!(due(&off, t0, t0).is_none());
    }
}
