//! Receivables (回款): a contract's payment plan (instalments with due dates), the payments
//! recorded against it, and what is outstanding and overdue per contract, account and owner.
//! Payments are paid into instalments oldest first, so "overdue" is what fell due before
//! today and has not been received.

use super::local_date;
use crate::access::{Access, OwnerFilter};
use crate::objects;
use crate::objects::CONTRACTS;
use crate::records;
use crate::{audit, Store};
use chrono::NaiveDate;
use rapport_core::fields::FieldValue;
use rapport_core::{validate, Action, DomainError, FieldError};
use rapport_db::{all, db_err, exec, get};
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// An instalment as sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstalmentDraft {
    pub due_date: String,
    pub amount: Value,
    #[serde(default)]
    pub note: Option<String>,
}

/// An instalment with what has been paid into it.
#[derive(Debug, Clone, Serialize)]
pub struct Instalment {
    pub seq: i32,
    pub due_date: NaiveDate,
    pub amount: String,
    pub paid: String,
    pub note: Option<String>,
    /// paid, partly_paid, due or overdue.
    pub state: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub contract_id: String,
    pub currency: String,
    pub amount: String,
    pub received: String,
    pub outstanding: String,
    pub overdue: String,
    pub instalments: Vec<Instalment>,
}

fn money(v: &FieldValue) -> i64 {
    match v {
        FieldValue::Money(m) => *m,
        _ => 0,
    }
}

async fn instalments_of(
    store: &Store,
    contract_ids: &[String],
) -> Result<BTreeMap<String, Vec<(i32, NaiveDate, i64, Option<String>)>>, DomainError> {
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for chunk in contract_ids.chunks(500) {
        for r in all(
            store.db.reader(),
            Query::select()
                .columns(["contract_id", "seq", "due_date", "amount", "note"].map(t))
                .from(t("contract_instalments"))
                .and_where(Expr::col(t("contract_id")).is_in(chunk.to_vec()))
                .order_by(t("seq"), Order::Asc),
        )
        .await?
        {
            let due: String = get(&r, "due_date")?;
            let Ok(due) = NaiveDate::parse_from_str(&due, "%Y-%m-%d") else {
                continue;
            };
            out.entry(get(&r, "contract_id")?).or_default().push((
                get(&r, "seq")?,
                due,
                get(&r, "amount")?,
                get(&r, "note")?,
            ));
        }
    }
    Ok(out)
}

/// Pay `received` into the instalments oldest first; returns (instalments, overdue).
fn allocate(
    rows: &[(i32, NaiveDate, i64, Option<String>)],
    received: i64,
    today: NaiveDate,
) -> (Vec<Instalment>, i64) {
    let mut left = received;
    let mut overdue = 0;
    let mut out = Vec::new();
    for (seq, due, amount, note) in rows {
        let paid = left.clamp(0, *amount);
        left -= paid;
        let state = if paid == *amount {
            "paid"
        } else if *due < today {
            overdue += amount - paid;
            "overdue"
        } else if paid > 0 {
            "partly_paid"
        } else {
            "due"
        };
        out.push(Instalment {
            seq: *seq,
            due_date: *due,
            amount: validate::money_string(*amount),
            paid: validate::money_string(paid),
            note: note.clone(),
            state,
        });
    }
    (out, overdue)
}

/// A contract's payment plan and where it stands.
pub async fn plan(store: &Store, actor: &Access, contract_id: &str) -> Result<Plan, DomainError> {
    let rec = records::read_record(store, actor, &CONTRACTS, contract_id).await?;
    let amount = rec.values.get("amount").map_or(0, money);
    let received = rec.values.get("received_amount").map_or(0, money);
    let rows = instalments_of(store, &[contract_id.to_string()])
        .await?
        .remove(contract_id)
        .unwrap_or_default();
    let (instalments, overdue) = allocate(&rows, received, local_date(store.now()));
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("contract.payment_plan.read").object("contract", contract_id),
    )
    .await?;
    Ok(Plan {
        contract_id: contract_id.to_string(),
        currency: rec.text("currency").unwrap_or("CNY").to_string(),
        amount: validate::money_string(amount),
        received: validate::money_string(received),
        outstanding: validate::money_string(amount - received),
        overdue: validate::money_string(overdue),
        instalments,
    })
}

/// Replace a contract's payment plan. The instalments may not add up to more than the
/// contract's amount; due dates must not go backwards.
pub async fn set_plan(
    store: &Store,
    actor: &Access,
    contract_id: &str,
    drafts: &[InstalmentDraft],
) -> Result<Plan, DomainError> {
    let rec = records::read_record(store, actor, &CONTRACTS, contract_id).await?;
    let upd = actor
        .owners(objects::CONTRACT, Action::Update)
        .ok_or_else(|| DomainError::Forbidden("you may not change contracts".into()))?;
    if !upd.allows(rec.owner_id()) {
        return Err(DomainError::Forbidden(
            "you may not change this contract's payment plan".into(),
        ));
    }
    let amount = rec.values.get("amount").map_or(0, money);
    let mut errors = Vec::new();
    let mut rows: Vec<(NaiveDate, i64, Option<String>)> = Vec::new();
    if drafts.len() > 120 {
        errors.push(FieldError::new(
            "instalments",
            "too_many",
            "a payment plan has at most 120 instalments",
        ));
    }
    for (i, d) in drafts.iter().enumerate() {
        let due = NaiveDate::parse_from_str(d.due_date.trim(), "%Y-%m-%d");
        let amt = validate::money_minor(&d.amount);
        let note = d.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
        match (&due, &amt) {
            (Err(_), _) => errors.push(FieldError::new(
                format!("instalments[{i}].due_date"),
                "invalid_date",
                "due_date must be a date such as 2026-01-31",
            )),
            (_, Ok(a)) if *a <= 0 => errors.push(FieldError::new(
                format!("instalments[{i}].amount"),
                "invalid_amount",
                "an instalment's amount must be more than zero",
            )),
            (_, Err(_)) => errors.push(FieldError::new(
                format!("instalments[{i}].amount"),
                "invalid_amount",
                "amount must be an amount such as \"1234.56\"",
            )),
            (Ok(due), Ok(a)) => {
                if rows.last().is_some_and(|(prev, _, _)| prev > due) {
                    errors.push(FieldError::new(
                        format!("instalments[{i}].due_date"),
                        "invalid_order",
                        "instalments are listed by due date",
                    ));
                }
                if note.is_some_and(|n| n.chars().count() > 200) {
                    errors.push(FieldError::new(
                        format!("instalments[{i}].note"),
                        "too_long",
                        "a note is at most 200 characters",
                    ));
                }
                rows.push((*due, *a, note.map(str::to_string)));
            }
        }
    }
    let planned: i64 = rows.iter().map(|(_, a, _)| a).sum();
    if errors.is_empty() && planned > amount {
        errors.push(FieldError::new(
            "instalments",
            "exceeds_amount",
            format!(
                "the instalments add up to {}, more than the contract's {}",
                validate::money_string(planned),
                validate::money_string(amount)
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    let tx = store.db.begin().await?;
    exec(
        &tx,
        Query::delete()
            .from_table(t("contract_instalments"))
            .and_where(Expr::col(t("contract_id")).eq(contract_id)),
    )
    .await?;
    for (i, (due, amt, note)) in rows.iter().enumerate() {
        exec(
            &tx,
            Query::insert()
                .into_table(t("contract_instalments"))
                .columns(["contract_id", "seq", "due_date", "amount", "note"].map(t))
                .values_panic([
                    contract_id.into(),
                    (i as i32 + 1).into(),
                    due.format("%Y-%m-%d").to_string().into(),
                    (*amt).into(),
                    note.clone().into(),
                ]),
        )
        .await?;
    }
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("contract.payment_plan_changed")
            .object("contract", contract_id)
            .details(json!({
                "instalments": rows.iter().map(|(d, a, _)| json!({"due_date": d.to_string(), "amount": validate::money_string(*a)})).collect::<Vec<_>>(),
            })),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    plan(store, actor, contract_id).await
}

/// Outstanding and overdue amounts for one group.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Receivable {
    /// The contract, account or owner id.
    pub key: String,
    pub currency: String,
    pub contracts: u64,
    pub amount: String,
    pub received: String,
    pub outstanding: String,
    pub overdue: String,
}

/// Approved contracts the actor may read, grouped by `contract`, `account` or `owner`,
/// largest outstanding first (one row per group and currency).
pub async fn summary(
    store: &Store,
    actor: &Access,
    group: &str,
) -> Result<Vec<Receivable>, DomainError> {
    let col = match group {
        "contract" => "id",
        "account" => "account_id",
        "owner" => "owner_id",
        _ => {
            return Err(DomainError::field(
                "group",
                "invalid",
                "group is contract, account or owner",
            ))
        }
    };
    let filter = actor
        .owners(objects::CONTRACT, Action::Read)
        .ok_or_else(|| DomainError::Forbidden("you may not read contracts".into()))?;
    let mut q = Query::select();
    q.columns(
        [
            "id",
            "account_id",
            "owner_id",
            "amount",
            "received_amount",
            "currency",
        ]
        .map(t),
    )
    .from(t("contracts"))
    .and_where(Expr::col(t("status")).eq("approved"));
    if let OwnerFilter::Owners(owners) = &filter {
        q.and_where(Expr::col(t("owner_id")).is_in(owners.clone()));
    }
    let rows = all(store.db.reader(), &q).await?;
    let ids: Vec<String> = rows
        .iter()
        .map(|r| get::<String>(r, "id"))
        .collect::<Result<_, _>>()?;
    let plans = instalments_of(store, &ids).await?;
    let today = local_date(store.now());
    let mut groups: BTreeMap<(String, String), (u64, i64, i64, i64)> = BTreeMap::new();
    for r in &rows {
        let id: String = get(r, "id")?;
        let key: Option<String> = get(r, col)?;
        let currency: Option<String> = get(r, "currency")?;
        let amount = get::<Option<i64>>(r, "amount")?.unwrap_or(0);
        let received = get::<Option<i64>>(r, "received_amount")?.unwrap_or(0);
        let overdue = plans.get(&id).map_or(0, |p| allocate(p, received, today).1);
        let g = groups
            .entry((
                key.unwrap_or_default(),
                currency.unwrap_or_else(|| "CNY".into()),
            ))
            .or_default();
        g.0 += 1;
        g.1 += amount;
        g.2 += received;
        g.3 += overdue;
    }
    let mut out: Vec<(i64, Receivable)> = groups
        .into_iter()
        .map(|((key, currency), (n, amount, received, overdue))| {
            (
                amount - received,
                Receivable {
                    key,
                    currency,
                    contracts: n,
                    amount: validate::money_string(amount),
                    received: validate::money_string(received),
                    outstanding: validate::money_string(amount - received),
                    overdue: validate::money_string(overdue),
                },
            )
        })
        .collect();
    out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.key.cmp(&b.1.key)));
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("receivables.read")
            .object("contract", "*")
            .details(json!({"group": group, "rows": out.len()})),
    )
    .await?;
    Ok(out.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payments_fill_the_oldest_instalments_first() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let rows = vec![
            (1, d("2026-01-31"), 30_000, None),
            (2, d("2026-03-31"), 30_000, None),
            (3, d("2026-12-31"), 40_000, None),
        ];
        let (inst, overdue) = allocate(&rows, 40_000, d("2026-06-01"));
        assert_eq!(
            inst.iter().map(|i| i.state).collect::<Vec<_>>(),
            ["paid", "overdue", "due"]
        );
        assert_eq!(inst[1].paid, "100.00");
        assert_eq!(overdue, 20_000);
        let (_, overdue) = allocate(&rows, 60_000, d("2026-06-01"));
        assert_eq!(overdue, 0);
    }
}
