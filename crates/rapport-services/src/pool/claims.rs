//! Claiming an account from the pool and releasing it: within the daily claim limit and the
//! cap on accounts held, logged and audited.

use super::*;

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
            .owners(objects::ACCOUNT, Action::Read)
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
        .owners(objects::ACCOUNT, Action::Update)
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
