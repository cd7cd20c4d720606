//! Sales targets (业绩目标) per user and department for a month, quarter or year, measured
//! against the amount of deals won (opportunities closed won in the period) and payments
//! received (payments dated in the period), owned by the user or by anyone in the department
//! and its sub-departments. A user sees their own targets; managers see those of the people
//! and departments their opportunity scope reaches.

use crate::access::{Access, OwnerFilter};
use crate::departments;
use crate::objects;
use crate::{audit, Store};
use chrono::{Datelike, NaiveDate};
use rapport_core::clock::local_midnight;
use rapport_core::{ids, validate, Action, DomainError, FieldError, Object, Scope};
use rapport_db::{all, db_err, exec, get, one};
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// A period: `2026`, `2026-Q2` or `2026-05`, as [start, end) dates in the instance's zone.
pub fn period_range(p: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (year, rest) = match p.split_once('-') {
        Some((y, r)) => (y, Some(r)),
        None => (p, None),
    };
    if year.len() != 4 {
        return None;
    }
    let y: i32 = year.parse().ok().filter(|y| (2000..=2100).contains(y))?;
    let (from_month, months) = match rest {
        None => (1, 12),
        Some(q) if q.len() == 2 && q.starts_with('Q') => {
            let n: u32 = q[1..].parse().ok().filter(|n| (1..=4).contains(n))?;
            (n * 3 - 2, 3)
        }
        Some(m) if m.len() == 2 => (m.parse().ok().filter(|m| (1..=12).contains(m))?, 1),
        _ => return None,
    };
    let start = NaiveDate::from_ymd_opt(y, from_month, 1)?;
    let end_month = from_month + months;
    let end = if end_month > 12 {
        NaiveDate::from_ymd_opt(y + 1, end_month - 12, 1)?
    } else {
        NaiveDate::from_ymd_opt(y, end_month, 1)?
    };
    Some((start, end))
}

/// The month, quarter and year that contain `day`.
pub fn periods_of(day: NaiveDate) -> [String; 3] {
    [
        format!("{}-{:02}", day.year(), day.month()),
        format!("{}-Q{}", day.year(), (day.month() - 1) / 3 + 1),
        day.year().to_string(),
    ]
}

/// A target as sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetDraft {
    /// `user` or `department`.
    pub subject_type: String,
    pub subject_id: String,
    pub period: String,
    /// `won` (amount of deals won) or `received` (payments received).
    pub metric: String,
    pub amount: Value,
    #[serde(default = "cny")]
    pub currency: String,
}

fn cny() -> String {
    "CNY".into()
}

/// A target with what has been achieved.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub id: String,
    pub subject_type: String,
    pub subject_id: String,
    pub period: String,
    pub metric: String,
    pub currency: String,
    pub target: String,
    pub actual: String,
    /// Whole percent of the target reached (may pass 100).
    pub percent: i64,
}

struct Reach {
    /// Users whose targets the actor may see and set (None: everyone).
    users: Option<Vec<String>>,
    /// Departments whose targets the actor may see and set (None: every department).
    departments: Option<Vec<String>>,
}

/// The people and departments an actor's opportunity scope reaches.
async fn reach(store: &Store, actor: &Access, action: Action) -> Result<Reach, DomainError> {
    let filter = actor.owners(objects::OPPORTUNITY, action);
    let scope = actor.scope(objects::OPPORTUNITY, action);
    Ok(match filter {
        None => Reach {
            users: Some(Vec::new()),
            departments: Some(Vec::new()),
        },
        Some(OwnerFilter::All) => Reach {
            users: None,
            departments: None,
        },
        Some(OwnerFilter::Owners(users)) => {
            let depts = match (&actor.department_id, scope) {
                (Some(d), Scope::DepartmentTree) => actor.org(store).await?.department_subtree(d),
                (Some(d), Scope::Department) => vec![d.clone()],
                _ => Vec::new(),
            };
            Reach {
                users: Some(users),
                departments: Some(depts),
            }
        }
    })
}

impl Reach {
    fn covers(&self, subject_type: &str, id: &str) -> bool {
        let list = if subject_type == "user" {
            &self.users
        } else {
            &self.departments
        };
        list.as_ref().is_none_or(|l| l.iter().any(|x| x == id))
    }
}

/// Set targets. A user's target may be set by whoever may transfer that user's deals (a
/// manager), never by the user themself; a department's by whoever's transfer scope covers the
/// department tree; administrators (settings right) set any.
/// Whether the actor may set any target: administrators, and whoever may transfer some
/// opportunities (a manager for their team).
pub fn may_set(actor: &Access) -> Result<(), DomainError> {
    if actor.scope(Object::SETTINGS, Action::Update) == Scope::All
        || actor
            .owners(objects::OPPORTUNITY, Action::Transfer)
            .is_some()
    {
        return Ok(());
    }
    Err(DomainError::Forbidden(
        "setting targets needs the transfer right over opportunities".into(),
    ))
}

pub async fn set(
    store: &Store,
    actor: &Access,
    drafts: &[TargetDraft],
) -> Result<usize, DomainError> {
    may_set(actor)?;
    let admin = actor.scope(Object::SETTINGS, Action::Update) == Scope::All;
    let reach = reach(store, actor, Action::Transfer).await?;
    if drafts.is_empty() || drafts.len() > 500 {
        return Err(DomainError::field(
            "targets",
            "invalid",
            "send 1 to 500 targets",
        ));
    }
    let depts = departments::list(&store.db).await?;
    let org = crate::access::org::tree(store).await?;
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    for (i, d) in drafts.iter().enumerate() {
        let at = |f: &str| format!("targets[{i}].{f}");
        let known = match d.subject_type.as_str() {
            "user" => org.member(&d.subject_id).is_some(),
            "department" => depts.iter().any(|x| x.id == d.subject_id),
            _ => {
                errors.push(FieldError::new(
                    at("subject_type"),
                    "invalid_choice",
                    "subject_type is user or department",
                ));
                continue;
            }
        };
        if !known {
            errors.push(FieldError::new(
                at("subject_id"),
                "invalid_reference",
                format!("subject_id names no {}", d.subject_type),
            ));
            continue;
        }
        let allowed = admin
            || (reach.covers(&d.subject_type, &d.subject_id)
                && !(d.subject_type == "user" && d.subject_id == actor.user_id));
        if !allowed {
            return Err(DomainError::Forbidden(format!(
                "you may not set targets for this {}",
                d.subject_type
            )));
        }
        if period_range(&d.period).is_none() {
            errors.push(FieldError::new(
                at("period"),
                "invalid_period",
                "period is a year (2026), a quarter (2026-Q1) or a month (2026-01)",
            ));
        }
        if !matches!(d.metric.as_str(), "won" | "received") {
            errors.push(FieldError::new(
                at("metric"),
                "invalid_choice",
                "metric is won or received",
            ));
        }
        if !validate::currency(&d.currency) {
            errors.push(FieldError::new(
                at("currency"),
                "invalid_currency",
                "currency must be an ISO 4217 code such as CNY",
            ));
        }
        match validate::money_minor(&d.amount) {
            Ok(a) if a >= 0 => rows.push((d, a)),
            _ => errors.push(FieldError::new(
                at("amount"),
                "invalid_amount",
                "amount must be an amount such as \"1000000.00\", not negative",
            )),
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    let now = store.now();
    let tx = store.db.begin().await?;
    for (d, amount) in &rows {
        exec(
            &tx,
            Query::insert()
                .into_table(t("sales_targets"))
                .columns(
                    [
                        "id",
                        "subject_type",
                        "subject_id",
                        "period",
                        "metric",
                        "amount",
                        "currency",
                        "updated_by",
                        "updated_at",
                    ]
                    .map(t),
                )
                .values_panic([
                    ids::new_id().into(),
                    d.subject_type.clone().into(),
                    d.subject_id.clone().into(),
                    d.period.clone().into(),
                    d.metric.clone().into(),
                    (*amount).into(),
                    d.currency.clone().into(),
                    actor.user_id.clone().into(),
                    now.into(),
                ])
                .on_conflict(
                    OnConflict::columns(["subject_type", "subject_id", "period", "metric"].map(t))
                        .update_columns(["amount", "currency", "updated_by", "updated_at"].map(t))
                        .to_owned(),
                ),
        )
        .await?;
    }
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("target.set").object("target", "*").details(json!({
            "targets": rows.iter().map(|(d, a)| json!({
                "subject_type": d.subject_type, "subject_id": d.subject_id, "period": d.period,
                "metric": d.metric, "amount": validate::money_string(*a), "currency": d.currency,
            })).collect::<Vec<_>>(),
        })),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(rows.len())
}

/// Targets for `period` the actor may see, with what has been achieved so far.
pub async fn progress(
    store: &Store,
    actor: &Access,
    period: &str,
) -> Result<Vec<Progress>, DomainError> {
    let (start, end) = period_range(period).ok_or_else(|| {
        DomainError::field(
            "period",
            "invalid_period",
            "period is a year (2026), a quarter (2026-Q1) or a month (2026-01)",
        )
    })?;
    let admin = actor.scope(Object::SETTINGS, Action::Read) == Scope::All;
    let reach = reach(store, actor, Action::Read).await?;
    let db = store.db.reader();
    let rows = all(
        db,
        Query::select()
            .columns(
                [
                    "id",
                    "subject_type",
                    "subject_id",
                    "period",
                    "metric",
                    "amount",
                    "currency",
                ]
                .map(t),
            )
            .from(t("sales_targets"))
            .and_where(Expr::col(t("period")).eq(period)),
    )
    .await?;
    let org = crate::access::org::tree(store).await?;
    let mut out = Vec::new();
    for r in &rows {
        let subject_type: String = get(r, "subject_type")?;
        let subject_id: String = get(r, "subject_id")?;
        let mine = subject_type == "user" && subject_id == actor.user_id;
        let in_my_department = subject_type == "department"
            && actor.department_id.as_deref() == Some(subject_id.as_str());
        if !(admin || mine || in_my_department || reach.covers(&subject_type, &subject_id)) {
            continue;
        }
        let owners: Vec<String> = if subject_type == "user" {
            vec![subject_id.clone()]
        } else {
            org.members_of(&org.department_subtree(&subject_id))
        };
        let metric: String = get(r, "metric")?;
        let currency: String = get(r, "currency")?;
        let target: i64 = get::<Option<i64>>(r, "amount")?.unwrap_or(0);
        let actual = if owners.is_empty() {
            0
        } else if metric == "won" {
            sum(
                db,
                Query::select()
                    .expr_as(bigint_sum(), t("n"))
                    .from(t("opportunities"))
                    .and_where(Expr::col(t("status")).eq("won"))
                    .and_where(Expr::col(t("currency")).eq(currency.as_str()))
                    .and_where(Expr::col(t("owner_id")).is_in(owners))
                    .and_where(Expr::col(t("closed_at")).gte(local_midnight(start)))
                    .and_where(Expr::col(t("closed_at")).lt(local_midnight(end))),
            )
            .await?
        } else {
            sum(
                db,
                Query::select()
                    .expr_as(bigint_sum(), t("n"))
                    .from(t("payments"))
                    .and_where(Expr::col(t("currency")).eq(currency.as_str()))
                    .and_where(Expr::col(t("owner_id")).is_in(owners))
                    .and_where(Expr::col(t("paid_on")).gte(start.format("%Y-%m-%d").to_string()))
                    .and_where(Expr::col(t("paid_on")).lt(end.format("%Y-%m-%d").to_string())),
            )
            .await?
        };
        let percent = if target > 0 {
            i64::try_from(i128::from(actual) * 100 / i128::from(target)).unwrap_or(i64::MAX)
        } else {
            0
        };
        out.push(Progress {
            id: get(r, "id")?,
            subject_type,
            subject_id,
            period: get(r, "period")?,
            metric,
            currency,
            target: validate::money_string(target),
            actual: validate::money_string(actual),
            percent,
        });
    }
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("target.read")
            .object("target", "*")
            .details(json!({"period": period, "rows": out.len()})),
    )
    .await?;
    out.sort_by(|a, b| {
        (
            a.subject_type.as_str(),
            a.subject_id.as_str(),
            a.metric.as_str(),
        )
            .cmp(&(
                b.subject_type.as_str(),
                b.subject_id.as_str(),
                b.metric.as_str(),
            ))
    });
    Ok(out)
}

/// SUM(amount) as an integer on both backends (PostgreSQL sums BIGINT as NUMERIC).
fn bigint_sum() -> sea_orm::sea_query::SimpleExpr {
    sea_orm::sea_query::Func::cast_as(Expr::col(t("amount")).sum(), t("BIGINT")).into()
}

async fn sum<C: sea_orm::ConnectionTrait>(
    c: &C,
    q: &sea_orm::sea_query::SelectStatement,
) -> Result<i64, DomainError> {
    Ok(match one(c, q).await? {
        Some(row) => get::<Option<i64>>(&row, "n")?.unwrap_or(0),
        None => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            period_range("2026"),
            Some((d("2026-01-01"), d("2027-01-01")))
        );
        assert_eq!(
            period_range("2026-Q4"),
            Some((d("2026-10-01"), d("2027-01-01")))
        );
        assert_eq!(
            period_range("2026-02"),
            Some((d("2026-02-01"), d("2026-03-01")))
        );
        for bad in ["26", "2026-Q5", "2026-13", "2026-1", "abcd", "2026-"] {
            assert_eq!(period_range(bad), None, "{bad}");
        }
        assert_eq!(
            periods_of(d("2026-05-17")),
            ["2026-05".to_string(), "2026-Q2".into(), "2026".into()]
        );
    }
}
