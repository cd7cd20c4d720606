//! The kanban board of a pipeline: one column per stage with its count, total and weighted
//! amount over every opportunity the viewer may see, and the largest deals as cards. Won and
//! lost columns show the deals closed recently.

use crate::access::{Access, OwnerFilter};
use crate::objects;
use crate::pipelines::{find, Pipeline, Stage, StageKind};
use crate::{audit, Store};
use chrono::{DateTime, Duration, Utc};
use rapport_core::{Action, DomainError};
use rapport_db::{all, get};
use sea_orm::sea_query::{Alias, Expr, Func, NullOrdering, Order, Query, SelectStatement};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

fn o(col: &str) -> (Alias, Alias) {
    (t("opportunities"), t(col))
}

/// Cards shown per column; the counts and totals always cover every opportunity.
pub const CARDS_PER_COLUMN: u64 = 50;
/// Won and lost deals stay on the board this long after they close.
pub const CLOSED_DAYS: i64 = 30;

#[derive(Debug, Clone, Serialize)]
pub struct Card {
    pub id: String,
    pub name: String,
    pub account_id: String,
    /// `None` when the viewer may not see the account.
    pub account_name: Option<String>,
    /// `None` when there is no amount or the viewer may not see amounts.
    pub amount: Option<i64>,
    pub currency: String,
    pub owner_id: Option<String>,
    pub probability: Option<i64>,
    pub expected_close_date: Option<String>,
    pub stage_entered_at: Option<DateTime<Utc>>,
    pub next_activity_at: Option<DateTime<Utc>>,
    /// In the stage longer than the pipeline's `stale_days`.
    pub stale: bool,
    /// Open with no next activity planned.
    pub no_next_activity: bool,
}

/// An amount per currency, in minor units (exact; weighted amounts are rounded half away from
/// zero to the minor unit).
pub type Totals = BTreeMap<String, i64>;

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub stage: Stage,
    pub count: i64,
    pub total: Totals,
    pub weighted: Totals,
    pub cards: Vec<Card>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Board {
    pub pipeline: Pipeline,
    pub amounts_visible: bool,
    pub columns: Vec<Column>,
}

fn scoped(q: &mut SelectStatement, pipeline: &str, filter: &OwnerFilter, since: DateTime<Utc>) {
    q.and_where(Expr::col(o("pipeline_id")).eq(pipeline))
        .cond_where(
            sea_orm::sea_query::Cond::any()
                .add(Expr::col(o("status")).eq("open"))
                .add(Expr::col(o("closed_at")).gte(since)),
        );
    if let OwnerFilter::Owners(owners) = filter {
        q.and_where(Expr::col(o("owner_id")).is_in(owners.clone()));
    }
}

/// Weighted amount: `sum(amount × probability) / 100`, rounded half away from zero.
fn weighted(sum_times_percent: i128) -> i64 {
    let q = sum_times_percent / 100;
    let r = sum_times_percent % 100;
    let q = if r.abs() >= 50 { q + r.signum() } else { q };
    q.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// The board of `pipeline_id` (the default pipeline when `None`) as `actor` may see it.
pub async fn board(
    store: &Store,
    actor: &Access,
    pipeline_id: Option<&str>,
) -> Result<Board, DomainError> {
    let filter = actor
        .owners(objects::OPPORTUNITY, Action::Read)
        .ok_or_else(|| DomainError::Forbidden("you may not read opportunities".into()))?;
    let db = store.db.reader();
    let pipeline = match pipeline_id {
        Some(id) => find(db, id).await?.ok_or(DomainError::NotFound)?,
        None => crate::pipelines::default_pipeline(db).await?,
    };
    let since = store.now() - Duration::days(CLOSED_DAYS);
    let amounts_visible = actor.grants.can_read_field(objects::OPPORTUNITY, "amount");

    let mut q = Query::select();
    q.column(o("stage"))
        .column(o("currency"))
        .expr_as(Expr::col(o("id")).count(), t("n"))
        // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back so both backends answer integers.
        .expr_as(
            Func::cast_as(Expr::col(o("amount")).sum(), t("BIGINT")),
            t("total"),
        )
        .expr_as(
            Func::cast_as(
                Func::sum(Expr::col(o("amount")).mul(Expr::col(o("probability")))),
                t("BIGINT"),
            ),
            t("weighted"),
        )
        .from(t("opportunities"))
        .group_by_col(o("stage"))
        .group_by_col(o("currency"));
    scoped(&mut q, &pipeline.id, &filter, since);
    let sums = all(db, &q).await?;
    let mut per_stage: BTreeMap<String, (i64, Totals, BTreeMap<String, i128>)> = BTreeMap::new();
    for r in &sums {
        let stage: String = get(r, "stage")?;
        let currency: Option<String> = get(r, "currency")?;
        let currency = currency.unwrap_or_else(|| "CNY".into());
        let n: i64 = get(r, "n")?;
        let total: Option<i64> = get(r, "total")?;
        let w: Option<i64> = get(r, "weighted")?;
        let e = per_stage.entry(stage).or_default();
        e.0 += n;
        if let Some(total) = total {
            *e.1.entry(currency.clone()).or_default() += total;
        }
        if let Some(w) = w {
            *e.2.entry(currency).or_default() += i128::from(w);
        }
    }

    let account_filter = actor.owners(objects::ACCOUNT, Action::Read);
    let now = store.now();
    let mut columns = Vec::new();
    for stage in &pipeline.stages {
        let mut q = Query::select();
        q.columns(
            [
                "id",
                "name",
                "account_id",
                "amount",
                "currency",
                "owner_id",
                "probability",
                "expected_close_date",
                "stage_entered_at",
                "next_activity_at",
            ]
            .map(o),
        )
        .expr_as(Expr::col((t("accounts"), t("name"))), t("account_name"))
        .expr_as(
            Expr::col((t("accounts"), t("owner_id"))),
            t("account_owner"),
        )
        .from(t("opportunities"))
        .left_join(
            t("accounts"),
            Expr::col((t("accounts"), t("id"))).equals(o("account_id")),
        )
        .and_where(Expr::col(o("stage")).eq(stage.key.as_str()))
        .order_by_with_nulls(o("amount"), Order::Desc, NullOrdering::Last)
        .order_by(o("id"), Order::Asc)
        .limit(CARDS_PER_COLUMN);
        scoped(&mut q, &pipeline.id, &filter, since);
        let rows = all(db, &q).await?;
        let mut cards = Vec::with_capacity(rows.len());
        for r in &rows {
            let entered: Option<DateTime<Utc>> = get(r, "stage_entered_at")?;
            let next: Option<DateTime<Utc>> = get(r, "next_activity_at")?;
            let account_owner: Option<String> = get(r, "account_owner")?;
            let account_visible = account_filter
                .as_ref()
                .is_some_and(|f| f.allows(account_owner.as_deref()));
            let open = stage.kind == StageKind::Open;
            cards.push(Card {
                id: get(r, "id")?,
                name: get(r, "name")?,
                account_id: get(r, "account_id")?,
                account_name: if account_visible {
                    get(r, "account_name")?
                } else {
                    None
                },
                amount: if amounts_visible {
                    get(r, "amount")?
                } else {
                    None
                },
                currency: get::<Option<String>>(r, "currency")?.unwrap_or_else(|| "CNY".into()),
                owner_id: get(r, "owner_id")?,
                probability: get(r, "probability")?,
                expected_close_date: get(r, "expected_close_date")?,
                stale: open
                    && entered.is_some_and(|e| now - e > Duration::days(pipeline.stale_days)),
                no_next_activity: open && next.is_none(),
                stage_entered_at: entered,
                next_activity_at: next,
            });
        }
        let (count, total, w) = per_stage.remove(&stage.key).unwrap_or_default();
        columns.push(Column {
            stage: stage.clone(),
            count,
            total: if amounts_visible {
                total
            } else {
                Totals::new()
            },
            weighted: if amounts_visible {
                w.into_iter().map(|(c, v)| (c, weighted(v))).collect()
            } else {
                Totals::new()
            },
            cards,
        });
    }
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("opportunity.board_viewed")
            .object("pipeline", &pipeline.id)
            .details(json!({"returned": columns.iter().map(|c| c.cards.len()).sum::<usize>()})),
    )
    .await?;
    Ok(Board {
        pipeline,
        amounts_visible,
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::weighted;

    #[test]
    fn weighted_amounts_round_half_away_from_zero() {
        // 12.35 yuan at 10 % is 1.235 yuan: 1.24 (124 fen).
        assert_eq!(weighted(1235 * 10), 124);
        // 12.34 at 10 % is 1.234: 1.23.
        assert_eq!(weighted(1234 * 10), 123);
        assert_eq!(weighted(-1235 * 10), -124);
        assert_eq!(weighted(0), 0);
    }
}
