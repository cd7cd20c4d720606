//! The record engine shared by accounts and contacts (and later objects): create, read,
//! list, update, delete and transfer, each checking the actor's rights, applying the scope in
//! the SQL query and the field rules to every value, and writing audit + outbox in the same
//! transaction as the change.
//!
//! Where each part lives: `create` and `fast_create` (one record, and many at a time for
//! imports and demo data), `update`, `transfer`, `references` (the checks a save makes
//! against the database), `rules` (business rules by record type), `duplicates`, `read` and
//! `page` (reading records and list pages), `query` and `filter` (quick search, sorts and
//! filter trees), `codec` and `tokens` (encrypted columns and their blind-index tokens);
//! deleting and the change history stay here.

pub mod batch;
pub mod bulk;

pub mod codec;
mod create;
pub use create::{create, insert, prepare_create, Prepared, Preset};
pub mod custom_values;
pub mod export;
pub mod fast_create;
pub(crate) mod group;

pub mod duplicates;
mod page;
pub mod query;
pub(crate) mod search;
pub use page::{RowPage, ShownRows};
mod read;
use read::{custom_values, inline_links, links_of, sort_links, PageQuery, LINKS_COLUMN};
pub(crate) use read::{find_all_in_scope_fresh, read_records_fresh, row_to_partial, Needed};
pub use read::{find_in_scope, find_in_scope_fresh};
mod shown;
pub use shown::{Lens, Shown};
mod filter;
mod references;
use references::check_references;
mod rules;
pub(crate) use rules::RuleContext;
use rules::{apply_rules, rule_context};
mod tokens;
mod transfer;
pub use transfer::transfer;
mod update;
pub use update::{apply_update, prepare_update, update, PreparedUpdate};
pub(crate) use update::{diff, write_changes};

use crate::access::{Access, OwnerFilter};
use crate::{audit, outbox, Store};
use rapport_core::fields::{FieldSpec, FieldValue};
use rapport_core::input::{self, Input, Mode};
use rapport_core::objects::{
    ACCOUNT_FIELDS, CONTACT_FIELDS, CONTRACT_FIELDS, LEAD_FIELDS, OPPORTUNITY_FIELDS, ORDER_FIELDS,
    PAYMENT_FIELDS, PRODUCT_FIELDS, QUOTE_FIELDS,
};
use rapport_core::{ids, validate, Action, DomainError, FieldError, Object};
use rapport_db::{db_err, exec};
use sea_orm::sea_query::{Alias, Expr, Query, Value as SqlValue};
use sea_orm::ConnectionTrait;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A record type: its object key, table and fields.
#[derive(Debug, Clone, Copy)]
pub struct ObjectDef {
    pub object: Object,
    pub table: &'static str,
    pub fields: &'static [FieldSpec],
}

pub const ACCOUNTS: ObjectDef = ObjectDef {
    object: Object::Account,
    table: "accounts",
    fields: ACCOUNT_FIELDS,
};
pub const CONTACTS: ObjectDef = ObjectDef {
    object: Object::Contact,
    table: "contacts",
    fields: CONTACT_FIELDS,
};
pub const LEADS: ObjectDef = ObjectDef {
    object: Object::Lead,
    table: "leads",
    fields: LEAD_FIELDS,
};
pub const OPPORTUNITIES: ObjectDef = ObjectDef {
    object: Object::Opportunity,
    table: "opportunities",
    fields: OPPORTUNITY_FIELDS,
};

pub const PRODUCTS: ObjectDef = ObjectDef {
    object: Object::Product,
    table: "products",
    fields: PRODUCT_FIELDS,
};
pub const QUOTES: ObjectDef = ObjectDef {
    object: Object::Quote,
    table: "quotes",
    fields: QUOTE_FIELDS,
};
pub const CONTRACTS: ObjectDef = ObjectDef {
    object: Object::Contract,
    table: "contracts",
    fields: CONTRACT_FIELDS,
};
pub const ORDERS: ObjectDef = ObjectDef {
    object: Object::Order,
    table: "orders",
    fields: ORDER_FIELDS,
};
pub const PAYMENTS: ObjectDef = ObjectDef {
    object: Object::Payment,
    table: "payments",
    fields: PAYMENT_FIELDS,
};

/// Every record type the engine keeps.
pub const ALL_DEFS: [&ObjectDef; 9] = [
    &ACCOUNTS,
    &CONTACTS,
    &LEADS,
    &OPPORTUNITIES,
    &PRODUCTS,
    &QUOTES,
    &CONTRACTS,
    &ORDERS,
    &PAYMENTS,
];

/// The record type of an object, if the engine keeps it.
pub fn def_of(object: Object) -> Option<&'static ObjectDef> {
    ALL_DEFS.into_iter().find(|d| d.object == object)
}

/// Fields the rules set themselves; recorded in the creation audit.
const RULE_FIELDS: &[&str] = &[
    "pipeline_id",
    "stage",
    "probability",
    "status",
    "lines",
    "total",
    "account_id",
    "currency",
];

impl ObjectDef {
    pub fn key(&self) -> &'static str {
        self.object.key()
    }

    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Every field of the type, null unless `input` gives it a value: what a new record holds
    /// before defaults and rules.
    pub(crate) fn values_from(&self, input: &Input) -> BTreeMap<&'static str, FieldValue> {
        let mut values: BTreeMap<&'static str, FieldValue> = self
            .fields
            .iter()
            .map(|f| (f.name, FieldValue::Null))
            .collect();
        for (spec, v) in &input.values {
            values.insert(spec.name, v.clone());
        }
        values
    }
}

/// A record as stored, before field rules are applied.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub values: BTreeMap<&'static str, FieldValue>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub created_by: Option<String>,
    /// Custom field values (decrypted), keyed by `cf_...`, as the API shows them.
    pub custom: Map<String, Value>,
}

impl Record {
    pub fn owner_id(&self) -> Option<&str> {
        match self.values.get("owner_id") {
            Some(FieldValue::Text(t)) => Some(t.as_str()),
            _ => None,
        }
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(FieldValue::Text(t)) => Some(t.as_str()),
            _ => None,
        }
    }

    /// A short label for lists of related records and duplicate hints.
    pub fn label(&self, def: &ObjectDef) -> String {
        match def.object {
            Object::Contact => {
                format!(
                    "{}{}",
                    self.text("family_name").unwrap_or(""),
                    self.text("given_name").unwrap_or("")
                )
            }
            Object::Lead => {
                let person = format!(
                    "{}{}",
                    self.text("family_name").unwrap_or(""),
                    self.text("given_name").unwrap_or("")
                );
                match self.text("company").filter(|c| !c.is_empty()) {
                    Some(c) => format!("{person} ({c})"),
                    None => person,
                }
            }
            Object::Payment => self.text("number").unwrap_or("").to_string(),
            Object::Quote | Object::Contract | Object::Order => {
                match self.text("number").filter(|n| !n.is_empty()) {
                    Some(n) => format!("{n} {}", self.text("name").unwrap_or("")),
                    None => self.text("name").unwrap_or("").to_string(),
                }
            }
            _ => self.text("name").unwrap_or("").to_string(),
        }
    }
}

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// The record as the actor may see it: hidden fields removed. A page of records is better
/// serialised through one [`Lens`] without the trees.
pub fn to_json(def: &ObjectDef, actor: &Access, rec: &Record) -> Value {
    Lens::new(def, actor).show(rec).to_json()
}

/// Options the caller controls on a write.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// Proceed despite duplicates found by rules set to "warn".
    pub override_duplicates: bool,
}

fn forbidden(def: &ObjectDef, action: Action) -> DomainError {
    DomainError::Forbidden(format!(
        "you may not {} {} records",
        action.key(),
        def.key()
    ))
}

/// `account_ids` is accepted as a shorthand for `accounts` without roles (the external contract).
fn normalise_doc(
    def: &ObjectDef,
    doc: &Map<String, Value>,
) -> Result<Map<String, Value>, DomainError> {
    let mut doc = doc.clone();
    if def.object == Object::Contact {
        if let Some(ids) = doc.remove("account_ids") {
            if doc.contains_key("accounts") {
                return Err(DomainError::field(
                    "account_ids",
                    "conflicting_fields",
                    "send either accounts or account_ids, not both",
                ));
            }
            doc.insert("accounts".into(), ids);
        }
    }
    Ok(doc)
}

/// Reject writes to fields the actor's role makes read-only or hidden.
fn check_field_rules(def: &ObjectDef, actor: &Access, input: &Input) -> Result<(), DomainError> {
    let errors: Vec<FieldError> = input
        .values
        .iter()
        .filter(|(spec, _)| !actor.grants.can_write_field(def.object, spec.name))
        .map(|(spec, _)| {
            FieldError::new(
                spec.name,
                "field_not_writable",
                format!("your role may not change {}", spec.name),
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// A person's search columns: the full name in the order its language writes it, and the
/// family name on its own, so "smith" finds "Jane Smith" through an index.
fn person_norms(family: &str, given: &str) -> Vec<(String, SqlValue)> {
    let cjk = family.chars().any(|c| c as u32 >= 0x2E80);
    let full = if cjk {
        format!("{family}{given}")
    } else {
        format!("{given} {family}")
    };
    vec![
        (
            "name_norm".into(),
            SqlValue::String(Some(Box::new(validate::search_norm(full.trim())))),
        ),
        (
            "family_norm".into(),
            SqlValue::String(Some(Box::new(validate::search_norm(family)))),
        ),
    ]
}

/// Derived columns kept in step with the values: normalised names for search and duplicates.
pub(crate) fn derived(
    def: &ObjectDef,
    values: &BTreeMap<&'static str, FieldValue>,
) -> Vec<(String, SqlValue)> {
    let text = |n: &str| match values.get(n) {
        Some(FieldValue::Text(t)) => t.clone(),
        _ => String::new(),
    };
    match def.object {
        Object::Account => vec![
            (
                "name_norm".into(),
                SqlValue::String(Some(Box::new(validate::company_name_norm(&text("name"))))),
            ),
            // Short names are searched by prefix too (indexed, like name_norm).
            (
                "short_norm".into(),
                SqlValue::String(
                    Some(validate::search_norm(&text("short_name")))
                        .filter(|s| !s.is_empty())
                        .map(Box::new),
                ),
            ),
        ],
        Object::Contact => person_norms(&text("family_name"), &text("given_name")),
        Object::Lead => {
            let company = validate::company_name_norm(&text("company"));
            let mut cols = person_norms(&text("family_name"), &text("given_name"));
            cols.push((
                "company_norm".into(),
                SqlValue::String(Some(company).filter(|c| !c.is_empty()).map(Box::new)),
            ));
            cols
        }
        Object::Opportunity
        | Object::Product
        | Object::Quote
        | Object::Contract
        | Object::Order => vec![(
            "name_norm".into(),
            SqlValue::String(Some(Box::new(validate::search_norm(&text("name"))))),
        )],
        _ => vec![],
    }
}

async fn write_links<C: ConnectionTrait>(
    c: &C,
    contact_id: &str,
    links: &[rapport_core::fields::AccountLink],
) -> Result<(), DomainError> {
    exec(
        c,
        Query::delete()
            .from_table(t("contact_accounts"))
            .and_where(Expr::col(t("contact_id")).eq(contact_id)),
    )
    .await?;
    for l in links {
        exec(
            c,
            Query::insert()
                .into_table(t("contact_accounts"))
                .columns(["contact_id", "account_id", "role"].map(t))
                .values_panic([
                    contact_id.into(),
                    l.account_id.clone().into(),
                    l.role.clone().into(),
                ]),
        )
        .await?;
    }
    Ok(())
}

/// Validate the built-in and the custom parts of a document together, so every error is
/// reported at once.
async fn read_both(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    defs: &[rapport_core::custom::CustomField],
    doc: &Map<String, Value>,
    custom_doc: &Map<String, Value>,
    mode: Mode,
) -> Result<(Input, Map<String, Value>), DomainError> {
    let builtin = input::read(def.fields, doc, mode, &store.parse_context(), &[]);
    let custom = custom_values::read(store, actor, def.object, defs, custom_doc, mode).await;
    match (builtin, custom) {
        (Ok(i), Ok(c)) => Ok((i, c)),
        (Err(DomainError::Validation(mut a)), Err(b)) => {
            a.extend(b);
            Err(DomainError::Validation(a))
        }
        (Err(e), _) => Err(e),
        (Ok(_), Err(b)) => Err(DomainError::Validation(b)),
    }
}

/// Read one record (audited).
pub async fn read(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    id: &str,
) -> Result<Value, DomainError> {
    let rec = read_record(store, actor, def, id).await?;
    audit::record_alone(
        store,
        actor,
        audit::Entry::new(format!("{}.read", def.key())).object(def.key(), id),
    )
    .await?;
    Ok(to_json(def, actor, &rec))
}

/// Load a record the actor may read, or `NotFound`.
pub async fn read_record(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    id: &str,
) -> Result<Record, DomainError> {
    let filter = actor
        .owners(def.object, Action::Read)
        .ok_or(DomainError::NotFound)?;
    find_in_scope_fresh(store, def, &filter, id)
        .await?
        .ok_or(DomainError::NotFound)
}

/// The records among `ids` the actor may read, in one query (unknown or unreadable ids are
/// simply absent), in the order of `ids`.
pub async fn read_many(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    ids: &[String],
) -> Result<Vec<Record>, DomainError> {
    let Some(filter) = actor.owners(def.object, Action::Read) else {
        return Ok(Vec::new());
    };
    let wanted: Vec<String> = ids
        .iter()
        .filter(|i| ids::is_valid_id(i))
        .cloned()
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Query::select();
    q.from(t(def.table))
        .and_where(Expr::col(t("id")).is_in(wanted.clone()));
    if let OwnerFilter::Owners(owners) = &filter {
        q.and_where(Expr::col(t("owner_id")).is_in(owners.clone()));
    }
    let keys = store.keys()?;
    let mut recs = read_records_fresh(store, &keys, def, q, &Needed::all(def)).await?;
    recs.sort_by_key(|r| wanted.iter().position(|w| *w == r.id));
    Ok(recs)
}

/// Delete a record.
pub async fn delete(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    id: &str,
) -> Result<(), DomainError> {
    let before = read_record(store, actor, def, id).await?;
    let filter = actor
        .owners(def.object, Action::Delete)
        .ok_or_else(|| forbidden(def, Action::Delete))?;
    if !filter.allows(before.owner_id()) {
        return Err(forbidden(def, Action::Delete));
    }
    if let Some(why) = crate::sales::rules::delete_blocker(store, def.object, id).await? {
        return Err(DomainError::Conflict(why));
    }
    let tx = store.db.begin().await?;
    if def.object == Object::Account {
        exec(
            &tx,
            Query::update()
                .table(t("accounts"))
                .value(t("parent_id"), Option::<String>::None)
                .and_where(Expr::col(t("parent_id")).eq(id)),
        )
        .await?;
    }
    rapport_db::search_index::clear(&tx, id).await?;
    exec(
        &tx,
        Query::delete()
            .from_table(t(def.table))
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    if def.object == Object::Payment {
        if let Some(contract) = before.text("contract_id") {
            crate::sales::rules::refresh_received(&tx, contract).await?;
        }
    }
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new(format!("{}.deleted", def.key()))
            .object(def.key(), id)
            .details(if matches!(def.object, Object::Contact | Object::Lead) {
                json!({})
            } else {
                json!({"label": before.label(def)})
            }),
    )
    .await?;
    outbox::emit(
        &tx,
        store,
        actor,
        &format!("{}.deleted", def.key()),
        def.key(),
        id,
        json!({"id": id}),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

/// Remove a record's search tokens (inside the caller's transaction).
pub(crate) async fn clear_tokens<C: ConnectionTrait>(
    c: &C,
    def: &ObjectDef,
    id: &str,
) -> Result<(), DomainError> {
    let _ = def;
    rapport_db::search_index::clear(c, id).await
}

/// The search tokens of records `ids` as `(object_type, record_id, token)`, one a token (what
/// a merge keeps to undo).
pub(crate) async fn kept_tokens<C: ConnectionTrait>(
    c: &C,
    ids: &[String],
) -> Result<Vec<(String, String, String)>, DomainError> {
    rapport_db::search_index::of_records(c, ids).await
}

/// Write back search tokens [`kept_tokens`] returned (a merge's undo).
pub(crate) async fn restore_tokens<C: ConnectionTrait>(
    c: &C,
    kept: impl IntoIterator<Item = (String, String, String)>,
) -> Result<(), DomainError> {
    let mut by_record: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (object_type, record_id, token) in kept {
        by_record
            .entry((object_type, record_id))
            .or_default()
            .push(token);
    }
    for toks in by_record.values_mut() {
        toks.sort();
        toks.dedup();
    }
    rapport_db::search_index::insert(
        c,
        by_record
            .iter()
            .map(|((object_type, id), toks)| (object_type.as_str(), id.as_str(), toks)),
    )
    .await
}

/// Write a record's search tokens again from its values (inside the caller's transaction).
pub(crate) async fn rewrite_tokens<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    def: &ObjectDef,
    rec: &Record,
) -> Result<(), DomainError> {
    let keys = store.keys()?;
    let defs = crate::custom_fields::list(store, def.object).await?;
    tokens::write(
        c,
        &keys,
        def,
        &rec.id,
        &rec.values,
        custom_values::tokens(&keys, &defs, &rec.custom),
    )
    .await
}

/// The change history of a record the actor may read: audit entries other than reads, with
/// changes to fields the actor may not see removed.
pub async fn history(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    id: &str,
    limit: u64,
) -> Result<Vec<audit::AuditRow>, DomainError> {
    read_record(store, actor, def, id).await?;
    let rows = audit::search(
        store,
        &audit::AuditFilter {
            object_type: Some(def.key().into()),
            object_id: Some(id.into()),
            also_object_ids: crate::merge::merged_into(store, id).await?,
            limit,
            ..Default::default()
        },
    )
    .await?;
    Ok(rows
        .into_iter()
        .filter(|r| !r.action.ends_with(".read"))
        .map(|mut r| {
            if let Some(Value::Object(changes)) = r.details.get_mut("changes") {
                changes.retain(|field, _| actor.grants.can_read_field(def.object, field));
            }
            r
        })
        .collect())
}
