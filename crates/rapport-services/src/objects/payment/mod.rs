//! Payments received (回款) against a contract: only an approved contract takes them, never
//! beyond what it has outstanding; a payment takes its contract's account and currency, counts
//! for the contract's owner unless another is named, and keeps the contract's received amount
//! equal to the sum of its payments in the same transaction, on create, change and delete.

mod fields;

use super::documents::{before_text, conflict, input_text, money, t};
use crate::records::hooks::{
    Branch, Change, Cx, Effects, Hooks, Loaded, SearchText, Values, Written,
};
use crate::records::{ObjectDef, Record};
use crate::Store;
use chrono::{DateTime, Utc};
use rapport_core::fields::FieldValue;
use rapport_core::input::Input;
use rapport_core::permission::Ownership;
use rapport_core::{DomainError, Object};
use rapport_db::{get, one};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::DatabaseTransaction;

pub use fields::FIELDS;

/// The permission key of payment records (roles grant on it; paths use its plural).
pub const PAYMENT: Object = Object::record("payment", "payments", Ownership::Owned);

pub const PAYMENTS: ObjectDef = ObjectDef {
    object: PAYMENT,
    table: "payments",
    fields: FIELDS,
    hooks: &Rules,
};

struct Rules;

#[async_trait::async_trait]
impl Hooks for Rules {
    /// A payment counts for its contract's owner (finance records it; the sale is the rep's).
    async fn default_owner(
        &self,
        cx: Cx<'_>,
        input: &Input,
    ) -> Result<Option<String>, DomainError> {
        match input_text(input, "contract_id") {
            Some(id) => Ok(contract_info(cx.store, id).await?.and_then(|c| c.owner_id)),
            None => Ok(None),
        }
    }

    async fn load(
        &self,
        cx: Cx<'_>,
        input: Option<&Input>,
        before: Option<&Record>,
    ) -> Result<Loaded, DomainError> {
        let id = input
            .and_then(|i| input_text(i, "contract_id"))
            .or_else(|| before_text(before, "contract_id"));
        let contract = match id {
            Some(id) => contract_info(cx.store, id).await?,
            None => None,
        };
        Ok(Loaded::of(contract))
    }

    fn apply(&self, loaded: &Loaded, change: Change<'_>) -> Result<Effects, DomainError> {
        let contract = loaded
            .get::<Option<ContractInfo>>()
            .and_then(Option::as_ref);
        prepare_payment(contract, change.before, change.values)?;
        Ok(Effects::default())
    }

    async fn before_insert(
        &self,
        tx: &DatabaseTransaction,
        values: &mut Values,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        super::documents::number(tx, values, "payment", "P", now).await
    }

    async fn after_write(
        &self,
        tx: &DatabaseTransaction,
        w: &Written<'_>,
    ) -> Result<(), DomainError> {
        let contract = w.before.and_then(|b| b.text("contract_id")).or_else(|| {
            match w.values.get("contract_id") {
                Some(FieldValue::Text(c)) => Some(c.as_str()),
                _ => None,
            }
        });
        if let Some(contract) = contract {
            refresh_received(tx, contract).await?;
        }
        Ok(())
    }

    async fn after_delete(
        &self,
        tx: &DatabaseTransaction,
        before: &Record,
    ) -> Result<(), DomainError> {
        if let Some(contract) = before.text("contract_id") {
            refresh_received(tx, contract).await?;
        }
        Ok(())
    }

    fn label(&self, rec: &Record) -> String {
        rec.text("number").unwrap_or("").to_string()
    }

    fn quick_search(&self, text: &SearchText<'_>) -> Vec<Branch> {
        super::documents::number_branch(text).into_iter().collect()
    }
}

/// The contract a payment is recorded against.
#[derive(Debug, Clone)]
pub struct ContractInfo {
    pub id: String,
    pub owner_id: Option<String>,
    pub account_id: String,
    pub currency: String,
    pub status: String,
    pub amount: i64,
    pub received: i64,
}

/// The figures of one contract that payments depend on.
pub(crate) async fn contract_info(
    store: &Store,
    id: &str,
) -> Result<Option<ContractInfo>, DomainError> {
    let row = one(
        store.db.reader(),
        Query::select()
            .columns(
                [
                    "id",
                    "account_id",
                    "currency",
                    "status",
                    "amount",
                    "received_amount",
                    "owner_id",
                ]
                .map(t),
            )
            .from(t("contracts"))
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    row.map(|r| {
        Ok(ContractInfo {
            id: get(&r, "id")?,
            owner_id: get(&r, "owner_id")?,
            account_id: get(&r, "account_id")?,
            currency: get::<Option<String>>(&r, "currency")?.unwrap_or_else(|| "CNY".into()),
            status: get::<Option<String>>(&r, "status")?.unwrap_or_default(),
            amount: get::<Option<i64>>(&r, "amount")?.unwrap_or(0),
            received: get::<Option<i64>>(&r, "received_amount")?.unwrap_or(0),
        })
    })
    .transpose()
}

fn prepare_payment(
    contract: Option<&ContractInfo>,
    before: Option<&Record>,
    after: &mut Values,
) -> Result<(), DomainError> {
    let Some(contract) = contract else {
        return Err(DomainError::field(
            "contract_id",
            "invalid_reference",
            "contract_id does not name a contract you can see",
        ));
    };
    if before.is_some_and(|b| b.text("contract_id") != Some(contract.id.as_str())) {
        return Err(DomainError::field(
            "contract_id",
            "not_changeable",
            "a payment cannot move to another contract; delete it and record it again",
        ));
    }
    if contract.status != "approved" {
        return Err(conflict(format!(
            "payments are recorded against approved contracts; this one is {}",
            contract.status
        )));
    }
    let amount = money(after, "amount");
    if amount <= 0 {
        return Err(DomainError::field(
            "amount",
            "invalid_amount",
            "a payment's amount must be more than zero",
        ));
    }
    let already = contract.received
        - before.map_or(0, |b| match b.values.get("amount") {
            Some(FieldValue::Money(m)) => *m,
            _ => 0,
        });
    let outstanding = contract.amount - already;
    if amount > outstanding {
        return Err(DomainError::field(
            "amount",
            "exceeds_outstanding",
            format!(
                "the contract has {} {} outstanding",
                rapport_core::validate::money_string(outstanding.max(0)),
                contract.currency
            ),
        ));
    }
    after.insert("account_id", FieldValue::Text(contract.account_id.clone()));
    after.insert("currency", FieldValue::Text(contract.currency.clone()));
    Ok(())
}

/// Keep a contract's received amount equal to the sum of its payments (inside the writing
/// transaction).
pub async fn refresh_received<C: sea_orm::ConnectionTrait>(
    c: &C,
    contract_id: &str,
) -> Result<(), DomainError> {
    let sum = Query::select()
        .expr(Expr::col(t("amount")).sum())
        .from(t("payments"))
        .and_where(Expr::col(t("contract_id")).eq(contract_id))
        .to_owned();
    rapport_db::exec(
        c,
        Query::update()
            .table(t("contracts"))
            .value(
                t("received_amount"),
                Expr::expr(sea_orm::sea_query::Func::coalesce([
                    sea_orm::sea_query::SimpleExpr::SubQuery(
                        None,
                        Box::new(sea_orm::sea_query::SubQueryStatement::SelectStatement(sum)),
                    ),
                    Expr::val(0i64).into(),
                ])),
            )
            .and_where(Expr::col(t("id")).eq(contract_id)),
    )
    .await
    .map(|_| ())
}
