//! Returning accounts to the pool: after N days without follow-up or M days without a won
//! deal, warning the owner a few days before; protected accounts stay.

use super::*;

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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, Utc};

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
