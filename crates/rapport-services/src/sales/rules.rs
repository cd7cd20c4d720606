//! The rules the record engine applies when a product, quote, contract, order or payment is
//! written, on every path (API, forms, conversions): line items completed from their products
//! and totalled exactly, status lifecycles with their dates, documents that stop changing once
//! sent or submitted, and payments that follow their contract.

use super::local_date;
use crate::records::Record;
use crate::Store;
use chrono::{DateTime, Utc};
use rapport_core::fields::FieldValue;
use rapport_core::input::Input;
use rapport_core::lines::{self, Line, LineDraft, ProductDefaults};
use rapport_core::{DomainError, FieldError, Object};
use rapport_db::{all, get, one};
use sea_orm::sea_query::{Alias, Expr, Query};
use serde_json::Value;
use std::collections::BTreeMap;

type Values = BTreeMap<&'static str, FieldValue>;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

fn text<'a>(v: &'a Values, name: &str) -> Option<&'a str> {
    match v.get(name) {
        Some(FieldValue::Text(s)) if !s.is_empty() => Some(s.as_str()),
        _ => None,
    }
}

fn money(v: &Values, name: &str) -> i64 {
    match v.get(name) {
        Some(FieldValue::Money(m)) => *m,
        _ => 0,
    }
}

/// A product as lines use it.
#[derive(Debug, Clone)]
pub struct ProductInfo {
    pub defaults: ProductDefaults,
    pub currency: String,
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

/// What the rules need from the database, read before the write.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub products: BTreeMap<String, ProductInfo>,
    /// The document's price list: its currency and prices by product.
    pub price_list: Option<(String, BTreeMap<String, i64>)>,
    /// The account of the opportunity the document names.
    pub opportunity_account: Option<String>,
    pub contract: Option<ContractInfo>,
    /// Another product already uses the code being written.
    pub code_taken: Option<String>,
}

fn input_text<'a>(input: &'a Input, name: &str) -> Option<&'a str> {
    match input.get(name) {
        Some(FieldValue::Text(s)) if !s.is_empty() => Some(s.as_str()),
        _ => None,
    }
}

fn before_text<'a>(before: Option<&'a Record>, name: &str) -> Option<&'a str> {
    before.and_then(|b| b.text(name)).filter(|s| !s.is_empty())
}

/// Read what the rules of `object` need for this write.
pub async fn load(
    store: &Store,
    object: Object,
    input: &Input,
    before: Option<&Record>,
) -> Result<Context, DomainError> {
    let db = store.db.reader();
    let mut ctx = Context::default();
    match object {
        Object::Product => {
            if let Some(code) = input_text(input, "code") {
                let mut q = Query::select();
                q.column(t("id"))
                    .from(t("products"))
                    .and_where(Expr::col(t("code")).eq(code));
                if let Some(b) = before {
                    q.and_where(Expr::col(t("id")).ne(b.id.as_str()));
                }
                if one(db, &q).await?.is_some() {
                    ctx.code_taken = Some(code.to_string());
                }
            }
        }
        Object::Quote | Object::Order => {
            if let Some(FieldValue::Json(Value::Array(items))) = input.get("lines") {
                let ids: Vec<String> = items
                    .iter()
                    .filter_map(|l| l["product_id"].as_str().map(str::to_string))
                    .collect();
                if !ids.is_empty() {
                    for r in all(
                        db,
                        Query::select()
                            .columns(["id", "name", "unit", "price", "tax_rate", "currency"].map(t))
                            .from(t("products"))
                            .and_where(Expr::col(t("id")).is_in(ids)),
                    )
                    .await?
                    {
                        ctx.products.insert(
                            get(&r, "id")?,
                            ProductInfo {
                                defaults: ProductDefaults {
                                    name: get(&r, "name")?,
                                    unit: get(&r, "unit")?,
                                    unit_price: get::<Option<i64>>(&r, "price")?.unwrap_or(0),
                                    tax_bp: get::<Option<i64>>(&r, "tax_rate")?.unwrap_or(0) * 100,
                                },
                                currency: get::<Option<String>>(&r, "currency")?
                                    .unwrap_or_else(|| "CNY".into()),
                            },
                        );
                    }
                }
            }
            let list =
                input_text(input, "price_list_id").or_else(|| before_text(before, "price_list_id"));
            if let (Some(list), Object::Quote) = (list, object) {
                if let Some(row) = one(
                    db,
                    Query::select()
                        .column(t("currency"))
                        .from(t("price_lists"))
                        .and_where(Expr::col(t("id")).eq(list)),
                )
                .await?
                {
                    let mut prices = BTreeMap::new();
                    for r in all(
                        db,
                        Query::select()
                            .columns(["product_id", "price"].map(t))
                            .from(t("price_list_items"))
                            .and_where(Expr::col(t("price_list_id")).eq(list)),
                    )
                    .await?
                    {
                        prices.insert(get::<String>(&r, "product_id")?, get::<i64>(&r, "price")?);
                    }
                    ctx.price_list = Some((get(&row, "currency")?, prices));
                }
            }
            ctx.opportunity_account = opportunity_account(store, input).await?;
        }
        Object::Contract => {
            ctx.opportunity_account = opportunity_account(store, input).await?;
        }
        Object::Payment => {
            if let Some(id) =
                input_text(input, "contract_id").or_else(|| before_text(before, "contract_id"))
            {
                ctx.contract = contract_info(store, id).await?;
            }
        }
        _ => {}
    }
    Ok(ctx)
}

/// The owner a new record gets when none is named: a payment counts for its contract's owner
/// (finance records it; the sale is the rep's). `None`: the creator.
pub async fn default_owner(
    store: &Store,
    object: Object,
    input: &Input,
) -> Result<Option<String>, DomainError> {
    if object != Object::Payment {
        return Ok(None);
    }
    match input_text(input, "contract_id") {
        Some(id) => Ok(contract_info(store, id).await?.and_then(|c| c.owner_id)),
        None => Ok(None),
    }
}

/// The account of the opportunity a document names, if it names one.
async fn opportunity_account(store: &Store, input: &Input) -> Result<Option<String>, DomainError> {
    let Some(opp) = input_text(input, "opportunity_id") else {
        return Ok(None);
    };
    one(
        store.db.reader(),
        Query::select()
            .column(t("account_id"))
            .from(t("opportunities"))
            .and_where(Expr::col(t("id")).eq(opp)),
    )
    .await?
    .map(|r| get(&r, "account_id"))
    .transpose()
}

/// The figures of one contract that payments depend on.
pub async fn contract_info(store: &Store, id: &str) -> Result<Option<ContractInfo>, DomainError> {
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

fn conflict(msg: impl Into<String>) -> DomainError {
    DomainError::Conflict(msg.into())
}

/// Apply the rules of `object` to the values about to be written.
pub fn prepare(
    ctx: &Context,
    object: Object,
    before: Option<&Record>,
    after: &mut Values,
    input: &Input,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    match object {
        Object::Product => {
            if let Some(code) = &ctx.code_taken {
                return Err(DomainError::field(
                    "code",
                    "duplicate_code",
                    format!("another product already has the code {code}"),
                ));
            }
            if before.is_none() && after.get("active").is_none_or(FieldValue::is_null) {
                after.insert("active", FieldValue::Bool(true));
            }
            Ok(())
        }
        Object::Quote => prepare_quote(ctx, before, after, input, now),
        Object::Order => prepare_order(ctx, before, after, input, now),
        Object::Contract => prepare_contract(ctx, before, after),
        Object::Payment => prepare_payment(ctx, before, after),
        _ => Ok(()),
    }
}

/// Fields of a quote or order that only change while it is a draft (quote) or confirmed
/// (order).
const PRICED_FIELDS: &[&str] = &[
    "lines",
    "currency",
    "price_list_id",
    "account_id",
    "opportunity_id",
    "valid_until",
    "terms",
];

fn changed(
    before: Option<&Record>,
    after: &Values,
    fields: &[&'static str],
) -> Option<&'static str> {
    let before = before?;
    fields.iter().find_map(|f| {
        let v = after.get(f)?;
        (before.values.get(f).unwrap_or(&FieldValue::Null) != v).then_some(*f)
    })
}

fn status_of(v: &Values) -> &str {
    text(v, "status").unwrap_or("")
}

fn check_account_matches(ctx: &Context, after: &Values) -> Result<(), DomainError> {
    if let (Some(opp_account), Some(account)) =
        (&ctx.opportunity_account, text(after, "account_id"))
    {
        if opp_account != account {
            return Err(DomainError::field(
                "opportunity_id",
                "account_mismatch",
                "the opportunity belongs to another account",
            ));
        }
    }
    Ok(())
}

/// Complete the lines just sent from their products (and the price list) and total them.
fn complete_lines(
    ctx: &Context,
    after: &mut Values,
    input: &Input,
    use_price_list: bool,
) -> Result<(), DomainError> {
    let currency = text(after, "currency").unwrap_or("CNY").to_string();
    if use_price_list {
        if let Some((list_currency, _)) = &ctx.price_list {
            if *list_currency != currency {
                return Err(DomainError::field(
                    "price_list_id",
                    "currency_mismatch",
                    format!(
                        "the price list is in {list_currency} but the document is in {currency}"
                    ),
                ));
            }
        }
    }
    let computed: Vec<Line> = if input.get("lines").is_some() {
        let items = match after.get("lines") {
            Some(FieldValue::Json(Value::Array(items))) => items.clone(),
            _ => Vec::new(),
        };
        let mut errors = Vec::new();
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let draft = draft_from(item);
            let product = match &draft.product_id {
                Some(pid) => match ctx.products.get(pid) {
                    Some(p) => Some(p),
                    None => {
                        errors.push(FieldError::new(
                            format!("lines[{i}].product_id"),
                            "invalid_reference",
                            "the product does not exist",
                        ));
                        continue;
                    }
                },
                None => None,
            };
            let mut defaults = product.map(|p| p.defaults.clone());
            if let (Some(d), Some(pid)) = (&mut defaults, &draft.product_id) {
                let listed = ctx
                    .price_list
                    .as_ref()
                    .filter(|_| use_price_list)
                    .and_then(|(_, prices)| prices.get(pid));
                match listed {
                    Some(p) => d.unit_price = *p,
                    None if draft.unit_price.is_none()
                        && product.is_some_and(|p| p.currency != currency) =>
                    {
                        errors.push(FieldError::new(
                            format!("lines[{i}].unit_price"),
                            "currency_mismatch",
                            format!(
                                "the product is priced in {}; give a unit_price in {currency}",
                                product.map_or("", |p| p.currency.as_str())
                            ),
                        ));
                        continue;
                    }
                    None => {}
                }
            }
            out.push(lines::compute(&draft, defaults.as_ref()));
        }
        if !errors.is_empty() {
            return Err(DomainError::Validation(errors));
        }
        out
    } else {
        match after.get("lines") {
            Some(FieldValue::Json(v)) => lines::from_stored(v),
            _ => Vec::new(),
        }
    };
    let totals = lines::totals(&computed);
    after.insert(
        "lines",
        if computed.is_empty() {
            FieldValue::Null
        } else {
            FieldValue::Json(Value::Array(computed.iter().map(Line::to_json).collect()))
        },
    );
    after.insert("gross_amount", FieldValue::Money(totals.gross));
    after.insert("discount_amount", FieldValue::Money(totals.discount));
    after.insert("net_amount", FieldValue::Money(totals.net));
    after.insert("tax_amount", FieldValue::Money(totals.tax));
    after.insert("total", FieldValue::Money(totals.total));
    Ok(())
}

/// A stored or just-parsed line as a draft (parsing already validated it).
fn draft_from(v: &Value) -> LineDraft {
    let fixed = |k: &str, places| lines::fixed_point(&v[k], places);
    LineDraft {
        product_id: v["product_id"].as_str().map(str::to_string),
        name: v["name"].as_str().map(str::to_string),
        description: v["description"].as_str().map(str::to_string),
        unit: v["unit"].as_str().map(str::to_string),
        quantity_milli: fixed("quantity", 3).unwrap_or(1000),
        unit_price: rapport_core::validate::money_minor(&v["unit_price"]).ok(),
        discount_bp: fixed("discount", 2).unwrap_or(0),
        tax_bp: fixed("tax_rate", 2),
    }
}

fn prepare_quote(
    ctx: &Context,
    before: Option<&Record>,
    after: &mut Values,
    input: &Input,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let old = before.and_then(|b| b.text("status")).unwrap_or("");
    if status_of(after).is_empty() {
        after.insert("status", FieldValue::Text("draft".into()));
    }
    let new = status_of(after).to_string();
    if before.is_some() && new != old {
        let allowed = matches!(
            (old, new.as_str()),
            ("draft", "sent")
                | ("sent", "accepted" | "rejected" | "draft")
                | ("rejected", "draft")
                | ("", _)
        );
        if !allowed {
            return Err(conflict(format!(
                "a quote cannot go from {old} to {new} (draft → sent → accepted or rejected; \
                 a sent or rejected quote can go back to draft)"
            )));
        }
    } else if before.is_none() && !matches!(new.as_str(), "draft" | "sent") {
        return Err(DomainError::field(
            "status",
            "invalid_status",
            "a new quote is a draft or sent",
        ));
    }
    if let Some(field) = changed(before, after, PRICED_FIELDS) {
        if old != "draft" && new != "draft" {
            return Err(conflict(format!(
                "{field} cannot change once the quote is {old}; set it back to draft first"
            )));
        }
    }
    check_account_matches(ctx, after)?;
    complete_lines(ctx, after, input, true)?;
    if new == "sent" && matches!(after.get("lines"), None | Some(FieldValue::Null)) {
        return Err(DomainError::field(
            "lines",
            "required",
            "a quote needs at least one line before it is sent",
        ));
    }
    if new != old || before.is_none() {
        match new.as_str() {
            "sent" => {
                after.insert("sent_at", FieldValue::DateTime(now));
                after.insert("decided_at", FieldValue::Null);
            }
            "accepted" | "rejected" => {
                if new == "accepted" {
                    if let Some(FieldValue::Date(until)) = after.get("valid_until") {
                        if *until < local_date(now) {
                            return Err(conflict(format!(
                                "the quote expired on {until}; revise it and send it again"
                            )));
                        }
                    }
                }
                after.insert("decided_at", FieldValue::DateTime(now));
            }
            _ => {
                after.insert("decided_at", FieldValue::Null);
            }
        }
    }
    Ok(())
}

/// Order statuses in their order; each may only move forward, or to cancelled before delivery.
const ORDER_FLOW: &[(&str, &str)] = &[
    ("confirmed", "confirmed_at"),
    ("shipped", "shipped_at"),
    ("delivered", "delivered_at"),
    ("completed", "completed_at"),
];

fn prepare_order(
    ctx: &Context,
    before: Option<&Record>,
    after: &mut Values,
    input: &Input,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let old = before.and_then(|b| b.text("status")).unwrap_or("");
    if status_of(after).is_empty() {
        after.insert("status", FieldValue::Text("confirmed".into()));
    }
    if before.is_none() && after.get("order_date").is_none_or(FieldValue::is_null) {
        after.insert("order_date", FieldValue::Date(local_date(now)));
    }
    let new = status_of(after).to_string();
    let pos = |s: &str| ORDER_FLOW.iter().position(|(k, _)| *k == s);
    if before.is_none() && new != "confirmed" {
        return Err(DomainError::field(
            "status",
            "invalid_status",
            "a new order starts confirmed",
        ));
    }
    if new != old {
        if new == "cancelled" {
            if !matches!(old, "confirmed" | "shipped") {
                return Err(conflict(format!(
                    "an order that is {old} cannot be cancelled"
                )));
            }
            if text(after, "cancel_reason").is_none() {
                return Err(DomainError::field(
                    "cancel_reason",
                    "required",
                    "say why the order is cancelled",
                ));
            }
            after.insert("cancelled_at", FieldValue::DateTime(now));
        } else {
            let (Some(to), from) = (pos(&new), pos(old)) else {
                return Err(conflict(format!("an order cannot go from {old} to {new}")));
            };
            if before.is_some() && from.is_none_or(|f| to <= f) {
                return Err(conflict(format!(
                    "an order cannot go from {old} to {new} (confirmed → shipped → delivered → completed)"
                )));
            }
            // Every step passed now gets its date, if it had none.
            let start = from.map_or(0, |f| f + 1);
            for (_, field) in &ORDER_FLOW[start..=to] {
                if after.get(field).is_none_or(FieldValue::is_null) {
                    after.insert(field, FieldValue::DateTime(now));
                }
            }
        }
    }
    if let Some(field) = changed(before, after, PRICED_FIELDS) {
        if old != "confirmed" {
            return Err(conflict(format!(
                "{field} cannot change once the order is {old}"
            )));
        }
    }
    check_account_matches(ctx, after)?;
    complete_lines(ctx, after, input, false)
}

/// Fields of a contract fixed once it is submitted for approval.
const CONTRACT_TERMS: &[&str] = &[
    "name",
    "account_id",
    "opportunity_id",
    "quote_id",
    "amount",
    "currency",
    "start_date",
    "end_date",
    "signed_date",
    "customer_signatory",
    "our_signatory",
    "terms",
];

fn prepare_contract(
    ctx: &Context,
    before: Option<&Record>,
    after: &mut Values,
) -> Result<(), DomainError> {
    if before.is_none() {
        after.insert("status", FieldValue::Text("draft".into()));
        after.insert("received_amount", FieldValue::Money(0));
    }
    let status = before.and_then(|b| b.text("status")).unwrap_or("draft");
    if let Some(field) = changed(before, after, CONTRACT_TERMS) {
        if !matches!(status, "draft" | "rejected") {
            return Err(conflict(format!(
                "{field} cannot change while the contract is {status}"
            )));
        }
    }
    if money(after, "amount") <= 0 {
        return Err(DomainError::field(
            "amount",
            "invalid_amount",
            "a contract's amount must be more than zero",
        ));
    }
    if let (Some(FieldValue::Date(s)), Some(FieldValue::Date(e))) =
        (after.get("start_date"), after.get("end_date"))
    {
        if e < s {
            return Err(DomainError::field(
                "end_date",
                "invalid_range",
                "the contract ends before it starts",
            ));
        }
    }
    check_account_matches(ctx, after)
}

fn prepare_payment(
    ctx: &Context,
    before: Option<&Record>,
    after: &mut Values,
) -> Result<(), DomainError> {
    let Some(contract) = &ctx.contract else {
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

/// Why a record cannot be deleted, if something depends on it.
pub async fn delete_blocker(
    store: &Store,
    object: Object,
    id: &str,
) -> Result<Option<String>, DomainError> {
    let checks: &[(&str, &str, &str)] = match object {
        Object::Account => &[
            ("opportunities", "account_id", "opportunities"),
            ("quotes", "account_id", "quotes"),
            ("contracts", "account_id", "contracts"),
            ("orders", "account_id", "orders"),
        ],
        Object::Contract => &[
            ("payments", "contract_id", "payments"),
            ("orders", "contract_id", "orders"),
        ],
        Object::Quote => &[
            ("contracts", "quote_id", "contracts"),
            ("orders", "quote_id", "orders"),
        ],
        Object::Opportunity => &[
            ("quotes", "opportunity_id", "quotes"),
            ("contracts", "opportunity_id", "contracts"),
        ],
        _ => &[],
    };
    for (table, col, what) in checks {
        let found = one(
            store.db.reader(),
            Query::select()
                .column(t("id"))
                .from(t(table))
                .and_where(Expr::col(t(col)).eq(id))
                .limit(1),
        )
        .await?;
        if found.is_some() {
            return Ok(Some(format!(
                "this {} has {what}; delete or move them first",
                object.key()
            )));
        }
    }
    Ok(None)
}
