//! The record engine shared by accounts and contacts (and later objects): create, read,
//! list, update, delete and transfer, each checking the actor's rights, applying the scope in
//! the SQL query and the field rules to every value, and writing audit + outbox in the same
//! transaction as the change.

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
mod tokens;

use crate::db::{all, db_err, exec, get, one};
use crate::scope::{owner_filter, OwnerFilter};
use crate::{audit, outbox, Store};
use rapport_core::fields::{FieldKind, FieldSpec, FieldValue};
use rapport_core::input::{self, Input, Mode};
use rapport_core::objects::{
    ACCOUNT_FIELDS, CONTACT_FIELDS, CONTRACT_FIELDS, LEAD_FIELDS, OPPORTUNITY_FIELDS, ORDER_FIELDS,
    PAYMENT_FIELDS, PRODUCT_FIELDS, QUOTE_FIELDS,
};
use rapport_core::{ids, validate, Action, DomainError, FieldError, Object, Principal};
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
pub fn to_json(def: &ObjectDef, actor: &Principal, rec: &Record) -> Value {
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
fn check_field_rules(def: &ObjectDef, actor: &Principal, input: &Input) -> Result<(), DomainError> {
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

/// Checks that need the database: picklist values and references exist.
#[allow(clippy::collapsible_match)] // awaits cannot move into match guards
async fn check_references(
    store: &Store,
    actor: &Principal,
    def: &ObjectDef,
    input: &Input,
    self_id: Option<&str>,
    trusted: &[&str],
) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    let db = store.db.reader();
    // Records linked from a deal must be ones the actor can see (and saying "not found" for
    // the others reveals nothing).
    let account_scope = if def.object != Object::Account {
        owner_filter(store, actor, Object::Account, Action::Read).await?
    } else {
        Some(OwnerFilter::All)
    };
    for (spec, value) in &input.values {
        if trusted.contains(&spec.name) {
            continue;
        }
        match (spec.kind, value) {
            (FieldKind::Picklist(list), FieldValue::Text(v)) if !v.is_empty() => {
                if !crate::picklists::is_allowed(&store.db, list, v).await? {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_choice",
                        format!("{v} is not a value of the {list} list"),
                    ));
                }
            }
            // Whoever signed in with a session or token was found active by authentication.
            (FieldKind::UserRef, FieldValue::Text(id))
                if *id == actor.user_id
                    && (actor.session_id.is_some() || actor.token_id.is_some()) => {}
            (FieldKind::UserRef, FieldValue::Text(id)) => {
                let row = one(
                    db,
                    Query::select()
                        .column(t("active"))
                        .from(t("users"))
                        .and_where(Expr::col(t("id")).eq(id.as_str())),
                )
                .await?;
                let active = match row {
                    Some(r) => get::<bool>(&r, "active")?,
                    None => false,
                };
                if !active {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!("{} is not an active user", spec.name),
                    ));
                }
            }
            (FieldKind::RecordRef(object), FieldValue::Text(id)) if !spec.system => {
                let Some(target) = def_of(object) else {
                    continue;
                };
                let visible = match owner_filter(store, actor, object, Action::Read).await? {
                    Some(f) => find_in_scope_fresh(store, target, &f, id).await?.is_some(),
                    None => false,
                };
                if !visible {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!("{} does not name a {} you can see", spec.name, object.key()),
                    ));
                }
            }
            (FieldKind::PriceListRef, FieldValue::Text(id)) => {
                if !crate::sales::price_lists::is_active(db, id).await? {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!("{} does not name an active price list", spec.name),
                    ));
                }
            }
            (FieldKind::AccountRef, FieldValue::Text(id)) if def.object != Object::Account => {
                let visible = match &account_scope {
                    Some(f) => find_in_scope_fresh(store, &ACCOUNTS, f, id)
                        .await?
                        .is_some(),
                    None => false,
                };
                if !visible {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!("{} does not name an account you can see", spec.name),
                    ));
                }
            }
            (FieldKind::ContactLinks, v @ FieldValue::Json(_)) => {
                let ids = rapport_core::fields::contact_link_ids(v);
                let filter = owner_filter(store, actor, Object::Contact, Action::Read).await?;
                let found = match filter {
                    Some(f) => read_ids_in_scope(db, &CONTACTS, &f, &ids).await?,
                    None => 0,
                };
                if found != ids.len() {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!(
                            "{} names a contact that does not exist or you cannot see",
                            spec.name
                        ),
                    ));
                }
            }
            (FieldKind::AccountRef, FieldValue::Text(id)) => {
                if Some(id.as_str()) == self_id {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        "an account cannot be its own parent",
                    ));
                } else if one(
                    db,
                    Query::select()
                        .column(t("id"))
                        .from(t("accounts"))
                        .and_where(Expr::col(t("id")).eq(id.as_str())),
                )
                .await?
                .is_none()
                {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!("{} does not name an existing account", spec.name),
                    ));
                }
            }
            (FieldKind::AccountLinks, FieldValue::Links(links)) if !links.is_empty() => {
                let ids: Vec<String> = links.iter().map(|l| l.account_id.clone()).collect();
                let found = all(
                    db,
                    Query::select()
                        .column(t("id"))
                        .from(t("accounts"))
                        .and_where(Expr::col(t("id")).is_in(ids.clone())),
                )
                .await?;
                if found.len() != ids.len() {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        "accounts names an account that does not exist",
                    ));
                }
            }
            _ => {}
        }
        if spec.name == "currency" {
            if let FieldValue::Text(c) = value {
                if c.len() != 3 || !c.chars().all(|ch| ch.is_ascii_uppercase()) {
                    errors.push(FieldError::new(
                        "currency",
                        "invalid_currency",
                        "currency must be an ISO 4217 code such as CNY",
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// How many of `ids` exist inside `filter`.
async fn read_ids_in_scope<C: ConnectionTrait>(
    c: &C,
    def: &ObjectDef,
    filter: &OwnerFilter,
    ids: &[String],
) -> Result<usize, DomainError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut q = Query::select();
    q.column(t("id"))
        .from(t(def.table))
        .and_where(Expr::col(t("id")).is_in(ids.to_vec()));
    if let OwnerFilter::Owners(owners) = filter {
        q.and_where(Expr::col(t("owner_id")).is_in(owners.clone()));
    }
    Ok(all(c, &q).await?.len())
}

async fn department_of(store: &Store, user_id: &str) -> Result<Option<String>, DomainError> {
    let row = one(
        store.db.reader(),
        Query::select()
            .column(t("department_id"))
            .from(t("users"))
            .and_where(Expr::col(t("id")).eq(user_id)),
    )
    .await?;
    match row {
        Some(r) => get(&r, "department_id"),
        None => Ok(None),
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
    actor: &Principal,
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
    actor: &Principal,
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
    actor: &Principal,
    def: &ObjectDef,
    id: &str,
) -> Result<Record, DomainError> {
    let filter = owner_filter(store, actor, def.object, Action::Read)
        .await?
        .ok_or(DomainError::NotFound)?;
    find_in_scope_fresh(store, def, &filter, id)
        .await?
        .ok_or(DomainError::NotFound)
}

/// The records among `ids` the actor may read, in one query (unknown or unreadable ids are
/// simply absent), in the order of `ids`.
pub async fn read_many(
    store: &Store,
    actor: &Principal,
    def: &ObjectDef,
    ids: &[String],
) -> Result<Vec<Record>, DomainError> {
    let Some(filter) = owner_filter(store, actor, def.object, Action::Read).await? else {
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

/// A checked change of a record, ready to be written (`apply_update`).
#[derive(Debug, Clone)]
pub struct PreparedUpdate {
    pub def: &'static ObjectDef,
    pub before: Record,
    after: BTreeMap<&'static str, FieldValue>,
    changes: Vec<&'static FieldSpec>,
    custom_after: Option<Map<String, Value>>,
}

impl PreparedUpdate {
    /// Whether the change changes anything.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.custom_after.is_none()
    }
}

/// Write a prepared change, its audit entry and outbox event inside `tx`.
pub async fn apply_update<C: ConnectionTrait>(
    tx: &C,
    store: &Store,
    actor: &Principal,
    p: &PreparedUpdate,
) -> Result<(), DomainError> {
    if p.is_empty() {
        return Ok(());
    }
    write_changes(
        tx,
        store,
        actor,
        p.def,
        &p.before,
        &p.after,
        p.changes.clone(),
        "updated",
        json!({}),
        p.custom_after.clone(),
    )
    .await
}

/// Update fields of a record. Changing the owner needs the transfer right.
pub async fn update(
    store: &Store,
    actor: &Principal,
    def: &'static ObjectDef,
    id: &str,
    doc: &Map<String, Value>,
    opts: WriteOptions,
) -> Result<Value, DomainError> {
    let p = prepare_update(store, actor, def, id, doc, opts).await?;
    if p.is_empty() {
        return Ok(to_json(def, actor, &p.before));
    }
    let tx = store.db.begin().await?;
    apply_update(&tx, store, actor, &p).await?;
    tx.commit().await.map_err(db_err)?;
    let rec = find_in_scope_fresh(store, def, &OwnerFilter::All, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok(to_json(def, actor, &rec))
}

/// Check a change of a record without writing anything.
pub async fn prepare_update(
    store: &Store,
    actor: &Principal,
    def: &'static ObjectDef,
    id: &str,
    doc: &Map<String, Value>,
    opts: WriteOptions,
) -> Result<PreparedUpdate, DomainError> {
    let read_filter = owner_filter(store, actor, def.object, Action::Read)
        .await?
        .ok_or(DomainError::NotFound)?;
    let before = find_in_scope_fresh(store, def, &read_filter, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let filter = owner_filter(store, actor, def.object, Action::Update)
        .await?
        .ok_or_else(|| forbidden(def, Action::Update))?;
    if !filter.allows(before.owner_id()) {
        return Err(forbidden(def, Action::Update));
    }
    let doc = normalise_doc(def, doc)?;
    let (doc, custom_doc) = custom_values::split(&doc);
    let defs = crate::custom_fields::active(store, def.object).await?;
    let (input, custom_changes) =
        read_both(store, actor, def, &defs, &doc, &custom_doc, Mode::Update).await?;
    check_field_rules(def, actor, &input)?;
    if let Some(p) = input
        .get("protected")
        .filter(|_| def.object == Object::Account)
    {
        let was = matches!(before.values.get("protected"), Some(FieldValue::Bool(true)));
        if matches!(p, FieldValue::Bool(true)) != was {
            crate::pool::check_protect(store, actor, before.owner_id()).await?;
        }
    }
    if let Some(FieldValue::Text(new_owner)) = input.get("owner_id") {
        if Some(new_owner.as_str()) != before.owner_id() {
            let tf = owner_filter(store, actor, def.object, Action::Transfer)
                .await?
                .ok_or_else(|| forbidden(def, Action::Transfer))?;
            if !tf.allows(before.owner_id()) || !tf.allows(Some(new_owner)) {
                return Err(DomainError::field(
                    "owner_id",
                    "owner_out_of_scope",
                    "you may not transfer this record to that owner",
                ));
            }
        }
    } else if input.get("owner_id").is_some() {
        return Err(DomainError::field(
            "owner_id",
            "required",
            "a record must have an owner",
        ));
    }
    check_references(store, actor, def, &input, Some(id), &[]).await?;
    let mut after = before.values.clone();
    for (spec, v) in &input.values {
        after.insert(spec.name, v.clone());
    }
    let rules = rule_context(store, def, Some(&input), Some(&before)).await?;
    apply_rules(&rules, def, Some(&before), &mut after, &input, store.now())?;
    duplicates::check(store, actor, def, &after, Some(id), opts).await?;
    if let Some(FieldValue::Text(new_owner)) = input.get("owner_id") {
        let dept = department_of(store, new_owner).await?;
        after.insert(
            "department_id",
            dept.map_or(FieldValue::Null, FieldValue::Text),
        );
    }
    let changes = diff(def, &before.values, &after);
    let custom_after = custom_values::merge(&before.custom, &custom_changes);
    let custom_changed = custom_after != before.custom;
    Ok(PreparedUpdate {
        def,
        before,
        after,
        changes,
        custom_after: custom_changed.then_some(custom_after),
    })
}

/// What the rules of `def` need from the database, read once per write or batch.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleContext {
    /// Every pipeline, for opportunities.
    pipelines: Vec<crate::pipelines::Pipeline>,
    /// Products, price list and contract of a sales document.
    sales: crate::sales::rules::Context,
}

async fn rule_context(
    store: &Store,
    def: &ObjectDef,
    input: Option<&Input>,
    before: Option<&Record>,
) -> Result<RuleContext, DomainError> {
    let mut ctx = RuleContext::default();
    if def.object == Object::Opportunity {
        ctx.pipelines = crate::pipelines::list(store.db.reader()).await?;
    }
    if let Some(input) = input {
        ctx.sales = crate::sales::rules::load(store, def.object, input, before).await?;
    }
    Ok(ctx)
}

/// The rules of each record type (`pipelines::rules`, `sales::rules`); returns whether an
/// opportunity enters a stage.
fn apply_rules(
    ctx: &RuleContext,
    def: &ObjectDef,
    before: Option<&Record>,
    values: &mut BTreeMap<&'static str, FieldValue>,
    input: &Input,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, DomainError> {
    use crate::pipelines::rules;
    match def.object {
        Object::Lead => {
            rules::prepare_lead(before, values, input.get("status").is_some())?;
            Ok(false)
        }
        Object::Opportunity => rules::prepare_opportunity(
            &ctx.pipelines,
            before,
            values,
            input.get("probability").is_some_and(|p| !p.is_null()),
            now,
        ),
        object => {
            crate::sales::rules::prepare(&ctx.sales, object, before, values, input, now)?;
            Ok(false)
        }
    }
}

pub(crate) fn diff(
    def: &ObjectDef,
    before: &BTreeMap<&'static str, FieldValue>,
    after: &BTreeMap<&'static str, FieldValue>,
) -> Vec<&'static FieldSpec> {
    def.fields
        .iter()
        .filter(|f| before.get(f.name) != after.get(f.name))
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn save_changes(
    store: &Store,
    actor: &Principal,
    def: &ObjectDef,
    before: &Record,
    after: &BTreeMap<&'static str, FieldValue>,
    changed: Vec<&'static FieldSpec>,
    verb: &str,
    extra: Value,
    custom_after: Option<Map<String, Value>>,
) -> Result<(), DomainError> {
    let tx = store.db.begin().await?;
    write_changes(
        &tx,
        store,
        actor,
        def,
        before,
        after,
        changed,
        verb,
        extra,
        custom_after,
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_changes<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    actor: &Principal,
    def: &ObjectDef,
    before: &Record,
    after: &BTreeMap<&'static str, FieldValue>,
    changed: Vec<&'static FieldSpec>,
    verb: &str,
    extra: Value,
    custom_after: Option<Map<String, Value>>,
) -> Result<(), DomainError> {
    let keys = store.keys()?;
    let defs = crate::custom_fields::list(store, def.object).await?;
    let now = store.now();
    let mut q = Query::update();
    q.table(t(def.table))
        .value(t("updated_at"), now)
        .and_where(Expr::col(t("id")).eq(before.id.as_str()));
    let mut audit_changes = Map::new();
    let mut links_changed = None;
    for spec in &changed {
        let v = after.get(spec.name).cloned().unwrap_or(FieldValue::Null);
        if let FieldValue::Links(l) = &v {
            links_changed = Some(l.clone());
        }
        for (c, val) in codec::encode(spec, &v, &keys, def.table, &before.id)? {
            q.value(Alias::new(c), val);
        }
        audit_changes.insert(
            spec.name.into(),
            json!({"before": codec::audit_value(spec, before.values.get(spec.name).unwrap_or(&FieldValue::Null)), "after": codec::audit_value(spec, &v)}),
        );
    }
    for (c, v) in derived(def, after) {
        q.value(Alias::new(c), v);
    }
    let mut changed_names: Vec<String> = changed.iter().map(|s| s.name.to_string()).collect();
    if let Some(custom) = &custom_after {
        for (c, v) in custom_values::encode(&keys, def.table, &before.id, &defs, custom)? {
            q.value(Alias::new(c), v);
        }
        for (k, change) in custom_values::audit_changes(&defs, &before.custom, custom) {
            changed_names.push(k.clone());
            audit_changes.insert(k, change);
        }
    }
    let custom_now = custom_after.as_ref().unwrap_or(&before.custom);
    let enters_stage =
        def.object == Object::Opportunity && changed.iter().any(|s| s.name == "stage_entered_at");
    exec(c, &q).await?;
    if enters_stage {
        crate::pipelines::rules::record_stage(c, &before.id, after, &actor.user_id, now).await?;
    }
    if let Some(links) = links_changed {
        if def.object == Object::Contact {
            write_links(c, &before.id, &links).await?;
        }
    }
    if def.object == Object::Payment {
        if let Some(contract) = before.text("contract_id") {
            crate::sales::rules::refresh_received(c, contract).await?;
        }
    }
    tokens::write(
        c,
        &keys,
        def,
        &before.id,
        after,
        custom_values::tokens(&keys, &defs, custom_now),
    )
    .await?;
    let mut details = json!({"changes": audit_changes});
    if let (Value::Object(d), Value::Object(e)) = (&mut details, extra) {
        d.extend(e);
    }
    audit::record(
        c,
        store,
        actor,
        audit::Entry::new(format!("{}.{verb}", def.key()))
            .object(def.key(), &before.id)
            .details(details),
    )
    .await?;
    let fields = changed_names;
    outbox::emit(
        c,
        store,
        actor,
        &format!("{}.{verb}", def.key()),
        def.key(),
        &before.id,
        json!({"id": before.id, "fields": fields}),
    )
    .await?;
    Ok(())
}

/// Delete a record.
pub async fn delete(
    store: &Store,
    actor: &Principal,
    def: &ObjectDef,
    id: &str,
) -> Result<(), DomainError> {
    let before = read_record(store, actor, def, id).await?;
    let filter = owner_filter(store, actor, def.object, Action::Delete)
        .await?
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
    tokens::clear(&tx, def, id).await?;
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
    tokens::clear(c, def, id).await
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

/// Transfer records to a new owner, with a reason (audited per record).
pub async fn transfer(
    store: &Store,
    actor: &Principal,
    def: &ObjectDef,
    ids: &[String],
    new_owner: &str,
    reason: &str,
) -> Result<usize, DomainError> {
    let tf = owner_filter(store, actor, def.object, Action::Transfer)
        .await?
        .ok_or_else(|| forbidden(def, Action::Transfer))?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(DomainError::field(
            "reason",
            "required",
            "a transfer needs a reason (at most 500 characters)",
        ));
    }
    if ids.is_empty() || ids.len() > 1000 {
        return Err(DomainError::field(
            "ids",
            "invalid",
            "transfer 1 to 1000 records at a time",
        ));
    }
    if !tf.allows(Some(new_owner)) {
        return Err(DomainError::field(
            "owner_id",
            "owner_out_of_scope",
            "you may not transfer records to that owner",
        ));
    }
    let mut input = Input::default();
    if let Some(spec) = def.field("owner_id") {
        input.set(spec, FieldValue::Text(new_owner.to_string()));
    }
    check_references(store, actor, def, &input, None, &[]).await?;
    let read = owner_filter(store, actor, def.object, Action::Read)
        .await?
        .ok_or(DomainError::NotFound)?;
    let mut records = Vec::new();
    for id in ids {
        let rec = find_in_scope_fresh(store, def, &read, id)
            .await?
            .ok_or(DomainError::NotFound)?;
        if !tf.allows(rec.owner_id()) {
            return Err(forbidden(def, Action::Transfer));
        }
        records.push(rec);
    }
    let dept = department_of(store, new_owner).await?;
    let mut n = 0;
    for rec in records {
        if rec.owner_id() == Some(new_owner) {
            continue;
        }
        let mut after = rec.values.clone();
        after.insert("owner_id", FieldValue::Text(new_owner.to_string()));
        after.insert(
            "department_id",
            dept.clone().map_or(FieldValue::Null, FieldValue::Text),
        );
        let changed = diff(def, &rec.values, &after);
        save_changes(
            store,
            actor,
            def,
            &rec,
            &after,
            changed,
            "transferred",
            json!({"reason": reason}),
            None,
        )
        .await?;
        n += 1;
    }
    Ok(n)
}

/// The change history of a record the actor may read: audit entries other than reads, with
/// changes to fields the actor may not see removed.
pub async fn history(
    store: &Store,
    actor: &Principal,
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
