//! What the documents of a sale share (quotes, orders, contracts, payments): their numbers,
//! line items completed from their products (and a quote's price list) and totalled exactly,
//! fields fixed once a document is sent or submitted, and a document's account agreeing with
//! its opportunity's. Each type's own lifecycle is in its folder.

use crate::records::hooks::{Branch, Change, Cx, Effects, Hooks, Loaded, SearchText, Values};
use crate::records::Record;
use crate::Store;
use chrono::{DateTime, Utc};
use rapport_core::fields::FieldValue;
use rapport_core::input::Input;
use rapport_core::lines::{self, Line, LineDraft, ProductDefaults};
use rapport_core::{DomainError, FieldError};
use rapport_db::{all, get, one};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::DatabaseTransaction;
use serde_json::Value;
use std::collections::BTreeMap;

/// How a document type's own rules check and complete a change (its lifecycle, in its folder).
pub(super) type Prepare =
    fn(&Context, Option<&Record>, &mut Values, &Input, DateTime<Utc>) -> Result<(), DomainError>;

/// The hooks of a document type (quote, contract, order): what it loads, numbers and searches
/// the same way; what differs is said here.
pub(super) struct Document {
    /// Its permission key, as its numbers are counted (`quote`).
    pub key: &'static str,
    /// Its numbers' prefix (`Q`, for `Q-2026-0001`).
    pub prefix: &'static str,
    /// Whether it has line items (completed from their products), and a price list.
    pub with_lines: bool,
    pub with_price_list: bool,
    /// Its lifecycle.
    pub prepare: Prepare,
    /// What keeps it from being deleted: (table, column, what to call them).
    pub blockers: &'static [(&'static str, &'static str, &'static str)],
}

#[async_trait::async_trait]
impl Hooks for Document {
    async fn load(
        &self,
        cx: Cx<'_>,
        input: Option<&Input>,
        before: Option<&Record>,
    ) -> Result<Loaded, DomainError> {
        match input {
            Some(input) => Ok(Loaded::of(
                load(
                    cx.store,
                    input,
                    before,
                    self.with_lines,
                    self.with_price_list,
                )
                .await?,
            )),
            None => Ok(Loaded::of(Context::default())),
        }
    }

    fn apply(&self, loaded: &Loaded, change: Change<'_>) -> Result<Effects, DomainError> {
        let empty = Context::default();
        let ctx = loaded.get::<Context>().unwrap_or(&empty);
        (self.prepare)(ctx, change.before, change.values, change.input, change.now)?;
        Ok(Effects::default())
    }

    fn derived(&self, values: &Values) -> Vec<(&'static str, sea_orm::Value)> {
        vec![super::common::name_norm(&super::common::text_of(
            values, "name",
        ))]
    }

    async fn before_insert(
        &self,
        tx: &DatabaseTransaction,
        values: &mut Values,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        number(tx, values, self.key, self.prefix, now).await
    }

    async fn delete_blocker(&self, store: &Store, id: &str) -> Result<Option<String>, DomainError> {
        super::blocked_by(store, self.key, id, self.blockers).await
    }

    fn label(&self, rec: &Record) -> String {
        label(rec)
    }

    fn quick_search(&self, text: &SearchText<'_>) -> Vec<Branch> {
        quick_search(text)
    }

    fn name_sources(&self) -> &'static [crate::records::hooks::NameSource] {
        &[super::common::NAME]
    }
}

pub(super) fn t(s: &str) -> Alias {
    Alias::new(s)
}

pub(super) fn text<'a>(v: &'a Values, name: &str) -> Option<&'a str> {
    match v.get(name) {
        Some(FieldValue::Text(s)) if !s.is_empty() => Some(s.as_str()),
        _ => None,
    }
}

pub(super) fn money(v: &Values, name: &str) -> i64 {
    match v.get(name) {
        Some(FieldValue::Money(m)) => *m,
        _ => 0,
    }
}

pub(super) fn conflict(msg: impl Into<String>) -> DomainError {
    DomainError::Conflict(msg.into())
}

/// Give a new document the next number of its kind for the year (`Q-2026-0001`), inside the
/// creating transaction.
pub(super) async fn number(
    tx: &DatabaseTransaction,
    values: &mut Values,
    object_key: &str,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let year = chrono::Datelike::year(&rapport_core::clock::local_date(now));
    let number = super::numbering::next(tx, object_key, prefix, year).await?;
    values.insert("number", FieldValue::Text(number));
    Ok(())
}

/// A product as lines use it.
#[derive(Debug, Clone)]
pub struct ProductInfo {
    pub defaults: ProductDefaults,
    pub currency: String,
}

/// What the rules of a document with lines read before the write.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub products: BTreeMap<String, ProductInfo>,
    /// The document's price list: its currency and prices by product.
    pub price_list: Option<(String, BTreeMap<String, i64>)>,
    /// The account of the opportunity the document names.
    pub opportunity_account: Option<String>,
}

pub(super) fn input_text<'a>(input: &'a Input, name: &str) -> Option<&'a str> {
    match input.get(name) {
        Some(FieldValue::Text(s)) if !s.is_empty() => Some(s.as_str()),
        _ => None,
    }
}

pub(super) fn before_text<'a>(before: Option<&'a Record>, name: &str) -> Option<&'a str> {
    before.and_then(|b| b.text(name)).filter(|s| !s.is_empty())
}

/// Read the products of the lines just sent, the price list (when `with_price_list`) and the
/// account of the opportunity the document names.
pub(super) async fn load(
    store: &Store,
    input: &Input,
    before: Option<&Record>,
    with_lines: bool,
    with_price_list: bool,
) -> Result<Context, DomainError> {
    let db = store.db.reader();
    let mut ctx = Context::default();
    if with_lines {
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
    }
    let list = input_text(input, "price_list_id").or_else(|| before_text(before, "price_list_id"));
    if let (Some(list), true) = (list, with_price_list) {
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
    Ok(ctx)
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

/// Fields of a quote or order that only change while it is a draft (quote) or confirmed
/// (order).
pub(super) const PRICED_FIELDS: &[&str] = &[
    "lines",
    "currency",
    "price_list_id",
    "account_id",
    "opportunity_id",
    "valid_until",
    "terms",
];

pub(super) fn changed(
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

pub(super) fn status_of(v: &Values) -> &str {
    text(v, "status").unwrap_or("")
}

pub(super) fn check_account_matches(ctx: &Context, after: &Values) -> Result<(), DomainError> {
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
pub(super) fn complete_lines(
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

/// A document as lists of related records and duplicate hints name it: its number, then its
/// subject.
pub(super) fn label(rec: &Record) -> String {
    match rec.text("number").filter(|n| !n.is_empty()) {
        Some(n) => format!("{n} {}", rec.text("name").unwrap_or("")),
        None => rec.text("name").unwrap_or("").to_string(),
    }
}

/// A document is found by the start of its number (`Q-2026-00`); its subject goes through the
/// name index ([`super::common::NAME`]).
pub(super) fn quick_search(text: &SearchText<'_>) -> Vec<Branch> {
    number_branch(text).into_iter().collect()
}

/// Records whose number starts with the text (numbers are upper case).
pub(super) fn number_branch(text: &SearchText<'_>) -> Option<Branch> {
    let number = text.q.trim().to_uppercase();
    (!number.is_empty()).then(|| Branch::prefix("number", &number, &["number"]))
}
