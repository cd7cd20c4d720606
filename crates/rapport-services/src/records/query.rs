//! Lists: quick search, filter trees (compiled in `filter`), sort and keyset (cursor)
//! pagination. The caller's scope is part of the same SQL query.

use super::filter::{compile, spec_for};
use super::hooks::{Branch, SearchText};
use super::{codec, read_records_fresh, Lens, Needed, ObjectDef, Record, RowPage};
use crate::access::{Access, OwnerFilter};
use crate::{audit, Store};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use rapport_core::fields::{FieldKind, FieldSpec, FieldValue};
use rapport_core::{validate, Action, DomainError, FieldError};
use rapport_db::all;
use sea_orm::sea_query::{
    Alias, Cond, Condition, Expr, NullOrdering, Order, Query, SelectStatement, Value as SqlValue,
};
use serde_json::{json, Value};

#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub q: Option<String>,
    pub filter: Option<Value>,
    pub sort: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// Custom field definitions the filter may name (loaded by the caller).
    pub customs: Vec<rapport_core::custom::CustomField>,
}

/// A page of records in the list's order, not yet shown to the reader.
#[derive(Debug)]
pub struct RecordPage {
    pub records: Vec<Record>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub data: Vec<Value>,
    pub next_cursor: Option<String>,
}

pub(super) fn t(s: &str) -> Alias {
    Alias::new(s)
}

pub(super) fn bad(field: &str, code: &'static str, msg: impl Into<String>) -> DomainError {
    DomainError::Validation(vec![FieldError::new(field, code, msg)])
}

/// Rows whose `col` starts with `prefix`, as an index-friendly range.
pub fn prefix_range(col: &str, prefix: &str) -> Condition {
    let upper = format!("{prefix}\u{10FFFF}");
    Cond::all()
        .add(Expr::col(t(col)).gte(prefix))
        .add(Expr::col(t(col)).lt(upper))
}

/// Quick search: emails and phones by blind index and the last four digits of a phone, and
/// the ways the record type adds (names by prefix, codes). Only fields the actor may read are
/// searched: a value the actor cannot see is never what a record was found by.
fn quick_search(
    def: &ObjectDef,
    actor: &Access,
    store: &Store,
    q: &str,
) -> Result<Condition, DomainError> {
    Ok(quick_search_branches(def, actor, store, q)?
        .into_iter()
        .fold(Cond::any(), |any, b| any.add(b.cond)))
}

/// Whether the actor may read every field of `def` of a kind that gets search tokens of
/// `kind` (email or phone): tokens do not say which field they came from.
fn tokens_readable(def: &ObjectDef, actor: &Access, phone: bool) -> bool {
    def.fields
        .iter()
        .filter(|f| {
            if phone {
                matches!(f.kind, FieldKind::Phone | FieldKind::PhoneList)
            } else {
                matches!(f.kind, FieldKind::Email | FieldKind::EmailList)
            }
        })
        .all(|f| actor.may_read_field(def.object, f.name))
}

pub(super) fn quick_search_branches(
    def: &ObjectDef,
    actor: &Access,
    store: &Store,
    q: &str,
) -> Result<Vec<Branch>, DomainError> {
    let keys = store.keys()?;
    let q = q.trim();
    let mut branches: Vec<Branch> = Vec::new();
    let mut tokens = Vec::new();
    if let Some(e) = validate::email(q).filter(|_| tokens_readable(def, actor, false)) {
        tokens.push(keys.blind("email", &e));
    }
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let phoneish =
        !digits.is_empty() && q.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c));
    if phoneish && tokens_readable(def, actor, true) {
        if digits.len() == 4 {
            tokens.push(super::tokens::tail_token(&keys, &digits));
        }
        if let Some(p) = validate::phone_e164(q, &store.settings.phone_region) {
            tokens.push(keys.blind("phone", &p));
        }
    }
    if !tokens.is_empty() {
        let sub = rapport_db::search_index::lookup(Some(def.key()), tokens)
            .column(t("record_id"))
            .to_owned();
        branches.push(Branch {
            cond: Cond::all().add(Expr::col(t("id")).in_subquery(sub)),
            fields: &[],
            reads: None,
            terms: Vec::new(),
        });
    }
    let text = SearchText {
        q,
        keys: &keys,
        phoneish,
    };
    for source in def.hooks.name_sources() {
        let terms = text.terms(source);
        if terms.is_empty() {
            continue;
        }
        let mut cond = Cond::all();
        for term in &terms {
            cond = cond.add(
                Expr::col(t("id")).in_subquery(
                    rapport_db::search_index::lookup(Some(def.key()), vec![term.clone()])
                        .column(t("record_id"))
                        .to_owned(),
                ),
            );
        }
        branches.push(Branch {
            cond,
            fields: source.fields,
            reads: None,
            terms,
        });
    }
    branches.extend(def.hooks.quick_search(&text));
    branches.retain(|b| {
        b.fields.iter().all(|f| actor.may_read_field(def.object, f))
            && b.reads
                .is_none_or(|o| actor.owners(o, Action::Read).is_some())
    });
    Ok(branches)
}

/// The sort key: a field (ascending) or `-field` (descending); default newest first.
pub(super) struct Sort {
    pub(super) spec: Option<&'static FieldSpec>,
    pub(super) desc: bool,
}

impl Sort {
    fn column(&self) -> &str {
        self.spec.map_or("id", |s| s.name)
    }
}

/// Whether a list can be sorted on a field: one plain column of a type that orders.
pub fn sortable(spec: &FieldSpec) -> bool {
    codec::plain_column(spec).is_some()
        && !matches!(
            spec.kind,
            FieldKind::Tags
                | FieldKind::JsonObject
                | FieldKind::LongText
                | FieldKind::ContactLinks
                | FieldKind::LineItems
        )
}

/// The sort keys of a type's lists (built-in fields), each ascending and descending (`-`).
pub fn sort_keys(def: &ObjectDef) -> Vec<String> {
    let names = ["id", "created_at", "updated_at"]
        .into_iter()
        .chain(def.fields.iter().filter(|f| sortable(f)).map(|f| f.name));
    names
        .flat_map(|n| [n.to_string(), format!("-{n}")])
        .collect()
}

fn parse_sort(def: &ObjectDef, actor: &Access, sort: Option<&str>) -> Result<Sort, DomainError> {
    let Some(s) = sort.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(Sort {
            spec: None,
            desc: true,
        });
    };
    let (desc, name) = match s.strip_prefix('-') {
        Some(n) => (true, n),
        None => (false, s),
    };
    if name == "id" {
        return Ok(Sort { spec: None, desc });
    }
    let spec = spec_for(def, actor, name, "sort")?;
    if !sortable(spec) {
        return Err(bad(
            "sort",
            "unsortable_field",
            format!("{name} cannot be sorted on"),
        ));
    }
    Ok(Sort {
        spec: Some(spec),
        desc,
    })
}

fn sort_value_json(rec: &Record, sort: &Sort) -> Value {
    match sort.spec {
        None => Value::Null,
        Some(s) if s.name == "created_at" => json!(rec
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        Some(s) if s.name == "updated_at" => json!(rec
            .updated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        Some(s) => match rec.values.get(s.name) {
            Some(FieldValue::Money(m)) => json!(m),
            Some(v) if v.is_null() => Value::Null,
            Some(v) => v.to_json(),
            None => Value::Null,
        },
    }
}

fn sort_value_sql(sort: &Sort, v: &Value) -> Result<Option<SqlValue>, DomainError> {
    let invalid = || {
        bad(
            "cursor",
            "invalid_cursor",
            "the cursor is not valid for this sort",
        )
    };
    if v.is_null() {
        return Ok(None);
    }
    let Some(spec) = sort.spec else {
        return Ok(None);
    };
    Ok(Some(match spec.kind {
        FieldKind::Money | FieldKind::Integer { .. } => v.as_i64().ok_or_else(invalid)?.into(),
        FieldKind::Bool => v.as_bool().ok_or_else(invalid)?.into(),
        FieldKind::DateTime => {
            let s = v.as_str().ok_or_else(invalid)?;
            chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|_| invalid())?
                .with_timezone(&chrono::Utc)
                .into()
        }
        _ => v.as_str().ok_or_else(invalid)?.to_string().into(),
    }))
}

fn encode_cursor(v: &Value, id: &str) -> String {
    B64.encode(json!([v, id]).to_string())
}

/// A cursor's sort value and record id.
fn decode_cursor(cursor: &str) -> Result<(Value, String), DomainError> {
    let invalid = || {
        bad(
            "cursor",
            "invalid_cursor",
            "the cursor is not valid; start again without it",
        )
    };
    let raw = B64.decode(cursor.trim()).map_err(|_| invalid())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| invalid())?;
    let arr = v.as_array().filter(|a| a.len() == 2).ok_or_else(invalid)?;
    let id = arr[1]
        .as_str()
        .filter(|s| rapport_core::ids::is_valid_id(s))
        .ok_or_else(invalid)?
        .to_string();
    Ok((arr[0].clone(), id))
}

/// The record id a cursor continues after.
pub(super) fn cursor_id(cursor: &str) -> Result<String, DomainError> {
    Ok(decode_cursor(cursor)?.1)
}

pub(super) fn apply_cursor(
    q: &mut SelectStatement,
    sort: &Sort,
    cursor: &str,
) -> Result<(), DomainError> {
    let (value, id) = decode_cursor(cursor)?;
    let col = sort.column().to_string();
    if sort.spec.is_none() {
        q.and_where(if sort.desc {
            Expr::col(t("id")).lt(id)
        } else {
            Expr::col(t("id")).gt(id)
        });
        return Ok(());
    }
    let val = sort_value_sql(sort, &value)?;
    // NULLs sort first ascending and last descending on both backends (set explicitly).
    let cond = match (sort.desc, val) {
        (false, None) => Cond::any()
            .add(
                Cond::all()
                    .add(Expr::col(t(&col)).is_null())
                    .add(Expr::col(t("id")).gt(id)),
            )
            .add(Expr::col(t(&col)).is_not_null()),
        (false, Some(v)) => Cond::any().add(Expr::col(t(&col)).gt(v.clone())).add(
            Cond::all()
                .add(Expr::col(t(&col)).eq(v))
                .add(Expr::col(t("id")).gt(id)),
        ),
        (true, None) => Cond::all()
            .add(Expr::col(t(&col)).is_null())
            .add(Expr::col(t("id")).lt(id)),
        (true, Some(v)) => Cond::any()
            .add(Expr::col(t(&col)).lt(v.clone()))
            .add(
                Cond::all()
                    .add(Expr::col(t(&col)).eq(v))
                    .add(Expr::col(t("id")).lt(id)),
            )
            .add(Expr::col(t(&col)).is_null()),
    };
    q.cond_where(cond);
    Ok(())
}

/// The filtered, scoped query without paging (shared by lists, counts, bulk actions, exports).
pub fn scoped_select(
    def: &ObjectDef,
    actor: &Access,
    store: &Store,
    filter: &OwnerFilter,
    params: &ListParams,
) -> Result<SelectStatement, DomainError> {
    let mut q = Query::select();
    q.from(t(def.table));
    q.cond_where(scope_and_filter(def, actor, store, filter, params)?);
    if let Some(text) = params.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        if text.chars().count() > 100 {
            return Err(bad(
                "q",
                "too_long",
                "a quick search has at most 100 characters",
            ));
        }
        q.cond_where(quick_search(def, actor, store, text)?);
    }
    Ok(q)
}

/// The caller's scope and the list's filter (not its quick search), as one condition on the
/// type's table.
pub(super) fn scope_and_filter(
    def: &ObjectDef,
    actor: &Access,
    store: &Store,
    filter: &OwnerFilter,
    params: &ListParams,
) -> Result<Condition, DomainError> {
    let mut cond = Cond::all();
    if let OwnerFilter::Owners(owners) = filter {
        cond = cond.add(Expr::col(t("owner_id")).is_in(owners.clone()));
    }
    if let Some(f) = &params.filter {
        let mut count = 0;
        cond = cond.add(compile(
            def,
            actor,
            store,
            f,
            0,
            &mut count,
            &params.customs,
        )?);
    }
    Ok(cond)
}

/// A page of a list as `Value`s (what the UI renders).
pub async fn list(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    params: &ListParams,
) -> Result<Page, DomainError> {
    let page = list_records(store, actor, def, params).await?;
    let lens = Lens::new(def, actor);
    Ok(Page {
        data: page
            .records
            .iter()
            .map(|r| lens.show(r).to_json())
            .collect(),
        next_cursor: page.next_cursor,
    })
}

/// A page of a list as records, to be shown through a [`Lens`] (the web pages and other
/// callers that need the records themselves).
pub async fn list_records(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    params: &ListParams,
) -> Result<RecordPage, DomainError> {
    let keys = store.keys()?;
    let mut tries = 0;
    let (select, mut records) = loop {
        let mut select = PageSelect::new(store, actor, def, params).await?;
        let q = std::mem::take(&mut select.q);
        let records = read_records_fresh(store, &keys, def, q, &Needed::all(def)).await?;
        tries += 1;
        if tries >= READS || select.still_listed(store).await? {
            break (select, records);
        }
    };
    let more = records.len() as u64 > select.limit;
    records.truncate(select.limit as usize);
    let next_cursor = if more {
        records
            .last()
            .map(|r| encode_cursor(&sort_value_json(r, &select.sort), &r.id))
    } else {
        None
    };
    select.audit(store, actor, def, records.len()).await?;
    Ok(RecordPage {
        records,
        next_cursor,
    })
}

/// A page of a list as the rows it was read in, written to JSON without records in between
/// (the API's list; ADR 0019). The same page, scope, audit and cursor as [`list_records`].
pub async fn list_rows(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    params: &ListParams,
) -> Result<RowPage, DomainError> {
    let mut tries = 0;
    loop {
        let mut select = PageSelect::new(store, actor, def, params).await?;
        let keys = store.keys()?;
        let limit = select.limit as usize;
        let q = std::mem::take(&mut select.q);
        let page = RowPage::read(store, keys, def, q, limit, |rec| {
            encode_cursor(&sort_value_json(rec, &select.sort), &rec.id)
        })
        .await?;
        tries += 1;
        if tries >= READS || select.still_listed(store).await? {
            select.audit(store, actor, def, page.len()).await?;
            return Ok(page);
        }
    }
}

/// The statement a list page is read through (without its columns): what the search tests
/// measure.
#[cfg(test)]
pub(crate) async fn page_statement(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    params: &ListParams,
) -> Result<SelectStatement, DomainError> {
    Ok(PageSelect::new(store, actor, def, params).await?.q)
}

/// Reads of a search page at most: a page is read again when a merge of the search tokens
/// began while it was read (see `search`); merges begin seconds apart.
const READS: u32 = 3;

/// The query of one list page, in the caller's scope, with what the page's cursor and audit
/// entry need.
struct PageSelect {
    q: SelectStatement,
    sort: Sort,
    limit: u64,
    params: ListParams,
    /// The token generations a quick search read (see `search`).
    generations: Option<Vec<i64>>,
}

impl PageSelect {
    async fn new(
        store: &Store,
        actor: &Access,
        def: &ObjectDef,
        params: &ListParams,
    ) -> Result<PageSelect, DomainError> {
        let filter = actor.owners(def.object, Action::Read).ok_or_else(|| {
            DomainError::Forbidden(format!("you may not read {} records", def.key()))
        })?;
        let limit = params.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(bad("limit", "out_of_range", "limit is between 1 and 200"));
        }
        let sort = parse_sort(def, actor, params.sort.as_deref())?;
        let mut params = params.clone();
        if params.filter.is_some() && params.customs.is_empty() {
            params.customs = crate::custom_fields::active(store, def.object).await?;
        }
        // A quick search in the default order reads each way of matching on its own,
        // bounded, instead of one OR (see `search`).
        let candidates = if sort.spec.is_none() && sort.desc {
            super::search::candidates(store, actor, def, &filter, &params, limit + 1).await?
        } else {
            None
        };
        let generations = candidates.as_ref().map(|c| c.generations.clone());
        let mut q = match candidates {
            Some(c) => {
                let mut q = Query::select();
                q.from(t(def.table))
                    .and_where(Expr::col(t("id")).in_subquery(c.ids));
                q
            }
            None => scoped_select(def, actor, store, &filter, &params)?,
        };
        let cursor = params.cursor.as_deref().filter(|c| !c.is_empty());
        order_after(&mut q, &sort, cursor)?;
        q.limit(limit + 1);
        Ok(PageSelect {
            q,
            sort,
            limit,
            params,
            generations,
        })
    }

    /// Whether the token generations the quick search read are still those listed.
    async fn still_listed(&self, store: &Store) -> Result<bool, DomainError> {
        match &self.generations {
            Some(read) => super::search::still_listed(store, read).await,
            None => Ok(true),
        }
    }

    /// The audit entry of reading the page: one per list or search, with what was asked
    /// (personal data in the question redacted) and how many records were returned.
    async fn audit(
        &self,
        store: &Store,
        actor: &Access,
        def: &ObjectDef,
        returned: usize,
    ) -> Result<(), DomainError> {
        let params = &self.params;
        audit::record_alone(
            store,
            actor,
            audit::Entry::new(format!("{}.{}", def.key(), if params.q.is_some() { "searched" } else { "listed" }))
                .object(def.key(), "*")
                .details(json!({"q": params.q.as_deref().map(|q| redact_query(def, q)), "filter": params.filter.as_ref().map(|f| redact_filter(def, &params.customs, f)), "sort": params.sort, "returned": returned})),
        )
        .await
    }
}

/// Order `q` by `sort` (then by id), starting after `cursor`.
fn order_after(
    q: &mut SelectStatement,
    sort: &Sort,
    cursor: Option<&str>,
) -> Result<(), DomainError> {
    if let Some(c) = cursor {
        apply_cursor(q, sort, c)?;
    }
    let order = if sort.desc { Order::Desc } else { Order::Asc };
    if sort.spec.is_some() {
        let nulls = if sort.desc {
            NullOrdering::Last
        } else {
            NullOrdering::First
        };
        q.order_by_with_nulls(t(sort.column()), order.clone(), nulls);
    }
    q.order_by(t("id"), order);
    Ok(())
}

/// Keyset paging in the order of a list, for exports that read a large list page by page.
pub(super) struct ListOrder(Sort);

impl ListOrder {
    pub(super) fn new(
        def: &ObjectDef,
        actor: &Access,
        sort: Option<&str>,
    ) -> Result<ListOrder, DomainError> {
        Ok(ListOrder(parse_sort(def, actor, sort)?))
    }

    /// Order `q` as the list is ordered, starting after `cursor`.
    pub(super) fn apply(
        &self,
        q: &mut SelectStatement,
        cursor: Option<&str>,
    ) -> Result<(), DomainError> {
        order_after(q, &self.0, cursor)
    }

    /// The field the list is ordered by (`None`: by id).
    pub(super) fn field(&self) -> Option<&'static FieldSpec> {
        self.0.spec
    }

    /// The cursor that continues after `rec`.
    pub(super) fn cursor_of(&self, rec: &Record) -> String {
        encode_cursor(&sort_value_json(rec, &self.0), &rec.id)
    }
}

/// A quick-search term as the audit trail keeps it: emails and phone numbers are personal data
/// stored encrypted, so the trail must not keep them in clear either.
fn redact_query(def: &ObjectDef, q: &str) -> String {
    let digits = q.chars().filter(char::is_ascii_digit).count();
    // A search for a person is personal data; a company name is not.
    if def.hooks.personal() || q.contains('@') || digits >= 4 {
        "[redacted]".into()
    } else {
        q.to_string()
    }
}

/// A filter with the values compared against sensitive fields replaced.
fn redact_filter(
    def: &ObjectDef,
    customs: &[rapport_core::custom::CustomField],
    f: &Value,
) -> Value {
    match f {
        Value::Object(m) => {
            let sensitive = m
                .get("field")
                .and_then(Value::as_str)
                .and_then(|n| def.field(n))
                .is_some_and(|s| s.personal)
                || m.get("field")
                    .and_then(Value::as_str)
                    .is_some_and(|n| customs.iter().any(|c| c.key == n && c.sensitive));

            Value::Object(
                m.iter()
                    .map(|(k, v)| {
                        let v = if k == "value" && sensitive {
                            json!("[redacted]")
                        } else {
                            redact_filter(def, customs, v)
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| redact_filter(def, customs, v)).collect()),
        other => other.clone(),
    }
}

/// How many records the actor may read (what dashboards and list headers show).
pub async fn count(store: &Store, actor: &Access, def: &ObjectDef) -> Result<i64, DomainError> {
    let Some(filter) = actor.owners(def.object, Action::Read) else {
        return Ok(0);
    };
    let mut q = scoped_select(def, actor, store, &filter, &ListParams::default())?;
    q.expr_as(Expr::col(t("id")).count(), t("n"));
    match rapport_db::one(store.db.reader(), &q).await? {
        Some(r) => rapport_db::get(&r, "n"),
        None => Ok(0),
    }
}

/// (id, label) of the records of `def` the actor may read, `label` joining `label_cols`,
/// in `order`: choices for pickers.
pub async fn names(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    label_cols: &[&str],
    order: (&str, Order),
    limit: u64,
) -> Result<Vec<(String, String)>, DomainError> {
    let Some(filter) = actor.owners(def.object, Action::Read) else {
        return Ok(vec![]);
    };
    let mut q = scoped_select(def, actor, store, &filter, &ListParams::default())?;
    q.column(t("id"))
        .columns(label_cols.iter().map(|c| t(c)))
        .order_by(t(order.0), order.1)
        .limit(limit);
    all(store.db.reader(), &q)
        .await?
        .iter()
        .map(|r| {
            let mut label = String::new();
            for c in label_cols {
                label.push_str(&rapport_db::get::<Option<String>>(r, c)?.unwrap_or_default());
            }
            Ok((rapport_db::get(r, "id")?, label))
        })
        .collect()
}
