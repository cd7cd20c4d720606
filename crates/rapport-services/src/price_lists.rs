//! Price lists (价格表): a currency and a price per product. A quote that names a price list
//! takes its lines' unit prices from it; products it does not list keep their list price.
//! Everyone who may read products may read price lists; changing them needs the settings
//! right.

use crate::access::Access;
use crate::{audit, Store};
use rapport_core::{ids, validate, Action, DomainError, FieldError, Object, Scope};
use rapport_db::{all, db_err, exec, get, one};
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

#[derive(Debug, Clone, Serialize)]
pub struct PriceList {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub active: bool,
    pub items: Vec<PriceItem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PriceItem {
    pub product_id: String,
    /// As the API shows money: "1234.50".
    pub price: String,
}

/// A price list as sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceListDraft {
    pub name: String,
    #[serde(default = "cny")]
    pub currency: String,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub items: Vec<ItemDraft>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemDraft {
    pub product_id: String,
    pub price: Value,
}

fn cny() -> String {
    "CNY".into()
}
fn yes() -> bool {
    true
}

/// Whether `id` names an active price list.
pub async fn is_active<C: ConnectionTrait>(c: &C, id: &str) -> Result<bool, DomainError> {
    Ok(one(
        c,
        Query::select()
            .column(t("id"))
            .from(t("price_lists"))
            .and_where(Expr::col(t("id")).eq(id))
            .and_where(Expr::col(t("active")).eq(true)),
    )
    .await?
    .is_some())
}

/// Price lists are read with the right to read products (found by key: price lists sit below
/// the record types, which check price-list references).
fn may_read(actor: &Access) -> Result<(), DomainError> {
    let products = Object::parse("product");
    if products.is_none_or(|p| actor.scope(p, Action::Read) == Scope::None) {
        return Err(DomainError::Forbidden(
            "reading price lists needs the right to read products".into(),
        ));
    }
    Ok(())
}

/// Every price list with its prices.
pub async fn list(store: &Store, actor: &Access) -> Result<Vec<PriceList>, DomainError> {
    may_read(actor)?;
    read_all(store).await
}

async fn read_all(store: &Store) -> Result<Vec<PriceList>, DomainError> {
    let db = store.db.reader();
    let mut lists = Vec::new();
    for r in all(
        db,
        Query::select()
            .columns(["id", "name", "currency", "active"].map(t))
            .from(t("price_lists"))
            .order_by(t("name"), Order::Asc),
    )
    .await?
    {
        lists.push(PriceList {
            id: get(&r, "id")?,
            name: get(&r, "name")?,
            currency: get(&r, "currency")?,
            active: get(&r, "active")?,
            items: Vec::new(),
        });
    }
    for r in all(
        db,
        Query::select()
            .columns(["price_list_id", "product_id", "price"].map(t))
            .from(t("price_list_items")),
    )
    .await?
    {
        let list: String = get(&r, "price_list_id")?;
        if let Some(l) = lists.iter_mut().find(|l| l.id == list) {
            l.items.push(PriceItem {
                product_id: get(&r, "product_id")?,
                price: validate::money_string(get(&r, "price")?),
            });
        }
    }
    Ok(lists)
}

fn check(draft: &PriceListDraft) -> Result<Vec<(String, i64)>, DomainError> {
    let mut errors = Vec::new();
    let name = draft.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError::new(
            "name",
            "required",
            "a price list needs a name of at most 100 characters",
        ));
    }
    if !rapport_core::validate::currency(&draft.currency) {
        errors.push(FieldError::new(
            "currency",
            "invalid_currency",
            "currency must be an ISO 4217 code such as CNY",
        ));
    }
    if draft.items.len() > 5000 {
        errors.push(FieldError::new(
            "items",
            "too_many",
            "a price list takes at most 5000 products",
        ));
    }
    let mut items: Vec<(String, i64)> = Vec::new();
    for (i, item) in draft.items.iter().enumerate() {
        if !ids::is_valid_id(&item.product_id) {
            errors.push(FieldError::new(
                format!("items[{i}].product_id"),
                "invalid_reference",
                "product_id is not a valid id",
            ));
            continue;
        }
        match validate::money_minor(&item.price) {
            Ok(p) if p >= 0 => {
                if items.iter().any(|(id, _)| *id == item.product_id) {
                    errors.push(FieldError::new(
                        format!("items[{i}].product_id"),
                        "duplicate",
                        "a product appears twice in the price list",
                    ));
                } else {
                    items.push((item.product_id.clone(), p));
                }
            }
            _ => errors.push(FieldError::new(
                format!("items[{i}].price"),
                "invalid_amount",
                "price must be an amount such as \"1234.56\", not negative",
            )),
        }
    }
    if errors.is_empty() {
        Ok(items)
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// Create (`id` None) or replace a price list and all its prices.
pub async fn save(
    store: &Store,
    actor: &Access,
    id: Option<&str>,
    draft: &PriceListDraft,
) -> Result<PriceList, DomainError> {
    may_change(actor)?;
    let items = check(draft)?;
    let db = store.db.reader();
    if let Some(id) = id {
        if one(
            db,
            Query::select()
                .column(t("id"))
                .from(t("price_lists"))
                .and_where(Expr::col(t("id")).eq(id)),
        )
        .await?
        .is_none()
        {
            return Err(DomainError::NotFound);
        }
    }
    let product_ids: Vec<String> = items.iter().map(|(p, _)| p.clone()).collect();
    if !product_ids.is_empty() {
        let found = all(
            db,
            Query::select()
                .column(t("id"))
                .from(t("products"))
                .and_where(Expr::col(t("id")).is_in(product_ids.clone())),
        )
        .await?;
        if found.len() != product_ids.len() {
            return Err(DomainError::field(
                "items",
                "invalid_reference",
                "items names a product that does not exist",
            ));
        }
    }
    let now = store.now();
    let list_id = id.map_or_else(ids::new_id, str::to_string);
    let tx = store.db.begin().await?;
    if id.is_some() {
        exec(
            &tx,
            Query::update()
                .table(t("price_lists"))
                .value(t("name"), draft.name.trim())
                .value(t("currency"), draft.currency.as_str())
                .value(t("active"), draft.active)
                .value(t("updated_at"), now)
                .and_where(Expr::col(t("id")).eq(list_id.as_str())),
        )
        .await?;
        exec(
            &tx,
            Query::delete()
                .from_table(t("price_list_items"))
                .and_where(Expr::col(t("price_list_id")).eq(list_id.as_str())),
        )
        .await?;
    } else {
        exec(
            &tx,
            Query::insert()
                .into_table(t("price_lists"))
                .columns(
                    [
                        "id",
                        "name",
                        "currency",
                        "active",
                        "created_at",
                        "updated_at",
                    ]
                    .map(t),
                )
                .values_panic([
                    list_id.clone().into(),
                    draft.name.trim().into(),
                    draft.currency.clone().into(),
                    draft.active.into(),
                    now.into(),
                    now.into(),
                ]),
        )
        .await?;
    }
    for chunk in items.chunks(400) {
        let mut q = Query::insert();
        q.into_table(t("price_list_items"))
            .columns(["price_list_id", "product_id", "price"].map(t));
        for (product, price) in chunk {
            q.values_panic([
                list_id.clone().into(),
                product.clone().into(),
                (*price).into(),
            ]);
        }
        exec(&tx, &q).await?;
    }
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new(if id.is_some() {
            "settings.price_list_changed"
        } else {
            "settings.price_list_created"
        })
        .object("price_list", &list_id)
        .details(
            json!({"name": draft.name.trim(), "currency": draft.currency, "products": items.len()}),
        ),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    read_all(store)
        .await?
        .into_iter()
        .find(|l| l.id == list_id)
        .ok_or(DomainError::NotFound)
}

/// Changing price lists needs the settings right over all (the API asks before reading a body).
pub fn may_change(actor: &crate::access::Access) -> Result<(), rapport_core::DomainError> {
    crate::settings::may_change(actor, "changing price lists")
}
