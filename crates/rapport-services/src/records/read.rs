//! Reading records: which columns a reader needs, the query that selects them, and rows
//! decoded into [`Record`]s (with contacts' account links), by page or one record by id.

use super::{codec, t, ObjectDef, Record};
use crate::access::OwnerFilter;
use crate::{Keyring, Store};
use rapport_core::fields::{AccountLink, FieldKind, FieldSpec, FieldValue};
use rapport_core::{ids, DomainError};
use rapport_db::RowRef;
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::ConnectionTrait;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The part of a record a reader needs: some fields, custom values or not. Columns of the
/// fields left out are not selected and nothing of them is decrypted.
pub(crate) struct Needed {
    pub fields: Vec<&'static FieldSpec>,
    pub custom: bool,
}

impl Needed {
    pub fn all(def: &ObjectDef) -> Needed {
        Needed {
            fields: def.fields.iter().collect(),
            custom: true,
        }
    }

    /// The columns each needed field is read from, in the order of `fields`.
    pub(super) fn field_columns(&self) -> Vec<Vec<String>> {
        self.fields.iter().map(|f| codec::read_columns(f)).collect()
    }

    /// The columns to select.
    pub fn columns(&self) -> Vec<String> {
        let mut cols: Vec<String> = vec![
            "id".into(),
            "created_at".into(),
            "updated_at".into(),
            "created_by".into(),
            "version".into(),
        ];
        cols.extend(self.field_columns().into_iter().flatten());
        if self.custom {
            cols.push("custom".into());
            cols.push("custom_enc".into());
        }
        cols
    }

    fn links(&self) -> bool {
        self.fields
            .iter()
            .any(|f| f.kind == FieldKind::AccountLinks)
    }
}

/// The column a contact page's account links are read in on SQLite, as one JSON array of
/// `[account_id, role]` per contact: part of the page's query rather than a second query.
pub(super) const LINKS_COLUMN: &str = "account_links";

/// Read the records `q` selects (its columns are set here, from `needed`), in its order,
/// with contacts' account links when `needed` has them.
pub(super) async fn read_records<C: ConnectionTrait>(
    c: &C,
    keys: &Keyring,
    def: &ObjectDef,
    q: sea_orm::sea_query::SelectStatement,
    needed: &Needed,
) -> Result<Vec<Record>, DomainError> {
    let page = PageQuery::new(c.get_database_backend(), def, q, needed);
    let rows = rapport_db::all_rows(c, &page.q, &page.columns).await?;
    page.decode(c, keys, def, needed, &rows).await
}

/// [`read_records`] outside any transaction: on SQLite through the page readers
/// ([`rapport_db::Db::read_rows`]).
pub(crate) async fn read_records_fresh(
    store: &Store,
    keys: &Keyring,
    def: &ObjectDef,
    q: sea_orm::sea_query::SelectStatement,
    needed: &Needed,
) -> Result<Vec<Record>, DomainError> {
    let page = PageQuery::new(store.db.backend(), def, q, needed);
    let rows = store.db.read_rows(&page.q, &page.columns).await?;
    page.decode(store.db.reader(), keys, def, needed, &rows)
        .await
}

/// A select of records with the columns a [`Needed`] reads.
pub(super) struct PageQuery {
    pub(super) q: sea_orm::sea_query::SelectStatement,
    pub(super) columns: Vec<String>,
    /// Contacts' account links are wanted...
    pub(super) links: bool,
    /// ... and read as a column of the page (SQLite).
    pub(super) inline_links: bool,
}

impl PageQuery {
    pub(super) fn new(
        backend: sea_orm::DatabaseBackend,
        def: &ObjectDef,
        mut q: sea_orm::sea_query::SelectStatement,
        needed: &Needed,
    ) -> PageQuery {
        let mut columns = needed.columns();
        q.columns(columns.iter().map(Alias::new));
        let links = needed.links();
        let inline = rapport_db::dialect::inline_children(
            backend,
            def.table,
            "contact_accounts",
            "contact_id",
            &["account_id", "role"],
        )
        .filter(|_| links);
        let inline_links = inline.is_some();
        if let Some(expr) = inline {
            q.expr_as(expr, t(LINKS_COLUMN));
            columns.push(LINKS_COLUMN.into());
        }
        PageQuery {
            q,
            columns,
            links,
            inline_links,
        }
    }

    /// The records in `rows`, which this query read; `c` reads the links that are not in
    /// the page (PostgreSQL).
    pub(super) async fn decode<C: ConnectionTrait>(
        &self,
        c: &C,
        keys: &Keyring,
        def: &ObjectDef,
        needed: &Needed,
        rows: &rapport_db::Rows,
    ) -> Result<Vec<Record>, DomainError> {
        let field_cols = needed.field_columns();
        let mut records = rows
            .iter()
            .map(|r| {
                let mut rec = row_to_partial(keys, def, r, needed, &field_cols)?;
                if self.inline_links {
                    set_links(&mut rec, inline_links(r.text(LINKS_COLUMN)?.as_deref())?);
                }
                Ok(rec)
            })
            .collect::<Result<Vec<_>, DomainError>>()?;
        if self.links && !self.inline_links {
            load_links(c, &mut records).await?;
        }
        Ok(records)
    }
}

/// Decode the `needed` part of a row selected with [`Needed::columns`]; `field_cols` is
/// [`Needed::field_columns`].
pub(crate) fn row_to_partial(
    keys: &Keyring,
    def: &ObjectDef,
    row: RowRef<'_>,
    needed: &Needed,
    field_cols: &[Vec<String>],
) -> Result<Record, DomainError> {
    let id: String = row.get("id")?;
    let mut values = BTreeMap::new();
    let mut unreadable = Vec::new();
    for (f, cols) in needed.fields.iter().zip(field_cols) {
        let v = codec::decode(f, cols, row, keys, def.table, &id)?.unwrap_or_else(|| {
            unreadable.push(f.name);
            FieldValue::Null
        });
        values.insert(f.name, v);
    }
    let custom = if needed.custom {
        let (custom, sealed_ok) = custom_values(
            keys,
            def.table,
            &id,
            row.text("custom")?.as_deref(),
            row.text("custom_enc")?.as_deref(),
        )?;
        if !sealed_ok {
            unreadable.push(super::unreadable::CUSTOM);
        }
        custom
    } else {
        Map::new()
    };
    Ok(Record {
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        created_by: row.get("created_by")?,
        version: row.get("version")?,
        id,
        values,
        custom,
        unreadable,
    })
}

/// A record's custom values as the API shows them: the plain ones from `custom` (JSON) and
/// the sensitive ones decrypted from `custom_enc`, keyed by `cf_...`. `false` beside them:
/// the sealed ones do not decrypt and are left out ([`super::unreadable`]).
pub(super) fn custom_values(
    keys: &Keyring,
    table: &str,
    id: &str,
    custom: Option<&str>,
    custom_enc: Option<&str>,
) -> Result<(Map<String, Value>, bool), DomainError> {
    let mut values = Map::new();
    if let Some(j) = custom {
        values = serde_json::from_str(j).unwrap_or_default();
    }
    if let Some(ct) = custom_enc {
        let Some(plain) = super::unreadable::open(keys, table, "custom_enc", id, ct) else {
            return Ok((values, false));
        };
        let secret: Map<String, Value> =
            serde_json::from_str(&plain).map_err(DomainError::internal)?;
        values.extend(secret);
    }
    Ok((values, true))
}

/// A contact's account links from the [`LINKS_COLUMN`] of its page row (SQLite), in the order
/// read.
pub(super) fn inline_links(text: Option<&str>) -> Result<Vec<AccountLink>, DomainError> {
    let pairs: Vec<(String, Option<String>)> = match text {
        Some(t) => serde_json::from_str(t).map_err(DomainError::internal)?,
        None => Vec::new(),
    };
    Ok(pairs
        .into_iter()
        .map(|(account_id, role)| AccountLink { account_id, role })
        .collect())
}

/// Load contact → account links for a batch of contacts.
pub(super) async fn load_links<C: ConnectionTrait>(
    c: &C,
    records: &mut [Record],
) -> Result<(), DomainError> {
    if records.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    let mut by_contact = links_of(c, ids).await?;
    for rec in records.iter_mut() {
        set_links(rec, by_contact.remove(&rec.id).unwrap_or_default());
    }
    Ok(())
}

/// The account links of the contacts `ids`, by contact, in the order read.
pub(super) async fn links_of<C: ConnectionTrait>(
    c: &C,
    ids: Vec<String>,
) -> Result<BTreeMap<String, Vec<AccountLink>>, DomainError> {
    let columns = ["contact_id", "account_id", "role"].map(String::from);
    let rows = rapport_db::all_rows(
        c,
        Query::select()
            .columns(columns.iter().map(|c| t(c)))
            .from(t("contact_accounts"))
            .and_where(Expr::col(t("contact_id")).is_in(ids)),
        &columns,
    )
    .await?;
    let mut by_contact: BTreeMap<String, Vec<AccountLink>> = BTreeMap::new();
    for r in rows.iter() {
        let cid: String = r.get("contact_id")?;
        by_contact.entry(cid).or_default().push(AccountLink {
            account_id: r.get("account_id")?,
            role: r.get("role")?,
        });
    }
    Ok(by_contact)
}

/// A contact's account links, in account id order (however they were read).
pub(super) fn set_links(rec: &mut Record, mut links: Vec<AccountLink>) {
    sort_links(&mut links);
    rec.values.insert("accounts", FieldValue::Links(links));
}

/// Account links in the order they are shown: by account id.
pub(super) fn sort_links(links: &mut [AccountLink]) {
    links.sort_by(|a, b| a.account_id.cmp(&b.account_id));
}

/// Fetch one record if it is inside `filter`; `None` otherwise (the caller answers 404).
pub async fn find_in_scope<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    def: &ObjectDef,
    filter: &OwnerFilter,
    id: &str,
) -> Result<Option<Record>, DomainError> {
    let Some(q) = by_id(def, filter, id) else {
        return Ok(None);
    };
    Ok(read_records(c, &store.keys()?, def, q, &Needed::all(def))
        .await?
        .pop())
}

/// The select of record `id` within `filter`; `None` for an id that cannot exist.
pub(super) fn by_id(
    def: &ObjectDef,
    filter: &OwnerFilter,
    id: &str,
) -> Option<sea_orm::sea_query::SelectStatement> {
    if !ids::is_valid_id(id) {
        return None;
    }
    Some(within(def, filter, Expr::col(t("id")).eq(id)))
}

/// The select of `def`'s records matching `cond` within `filter`.
fn within(
    def: &ObjectDef,
    filter: &OwnerFilter,
    cond: sea_orm::sea_query::SimpleExpr,
) -> sea_orm::sea_query::SelectStatement {
    let mut q = Query::select();
    q.from(t(def.table)).and_where(cond);
    if let OwnerFilter::Owners(owners) = filter {
        q.and_where(Expr::col(t("owner_id")).is_in(owners.clone()));
    }
    q
}

/// [`find_in_scope`] outside any transaction: on SQLite through the page readers, one
/// hand-off instead of sqlx's per statement and row (a create reads its record back this way).
pub async fn find_in_scope_fresh(
    store: &Store,
    def: &ObjectDef,
    filter: &OwnerFilter,
    id: &str,
) -> Result<Option<Record>, DomainError> {
    let Some(q) = by_id(def, filter, id) else {
        return Ok(None);
    };
    Ok(
        read_records_fresh(store, &store.keys()?, def, q, &Needed::all(def))
            .await?
            .pop(),
    )
}

/// The records of `ids` that are inside `filter`, read at once as
/// [`find_in_scope_fresh`] reads one (in no particular order; ids that cannot exist are
/// left out).
pub(crate) async fn find_all_in_scope_fresh(
    store: &Store,
    def: &ObjectDef,
    filter: &OwnerFilter,
    ids: &[&str],
) -> Result<Vec<Record>, DomainError> {
    let ids: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| ids::is_valid_id(id))
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let q = within(def, filter, Expr::col(t("id")).is_in(ids));
    read_records_fresh(store, &store.keys()?, def, q, &Needed::all(def)).await
}
