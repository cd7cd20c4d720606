//! A list page written to JSON straight from the rows it was read in (ADR 0019).
//!
//! The API's list used to decode each row into a [`Record`] (a tree of every field's value)
//! and then write the record to JSON. For a page of 50 rows that tree was a quarter of the
//! request's time: an owned string per text cell, a map insertion per field and the frees
//! after. Here each shown field is written from its cell: text as it is stored, a sensitive
//! value decrypted into the output, the few kinds that need parsing through
//! [`codec::decode`]. Columns are found by position, worked out once per page. The output is
//! the same as [`super::Shown`] writes for the same records.

use super::{
    codec, custom_values, inline_links, links_of, row_to_partial, sort_links, Lens, Needed,
    ObjectDef, PageQuery, Record, LINKS_COLUMN,
};
use crate::{Keyring, Store};
use chrono::{DateTime, Utc};
use rapport_core::fields::{api_time, AccountLink, FieldKind, FieldSpec, FieldValue};
use rapport_core::DomainError;
use rapport_db::{RowRef, Rows};
use sea_orm::sea_query::SelectStatement;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// One page of a list, as read: at most `len` rows are shown (the query reads one more to
/// know whether another page follows).
pub struct RowPage {
    rows: Rows,
    len: usize,
    def: ObjectDef,
    keys: Keyring,
    plan: Plan,
    /// Contacts' account links read apart from the page (PostgreSQL), by contact.
    links: Option<BTreeMap<String, Vec<AccountLink>>>,
    pub next_cursor: Option<String>,
}

/// Where each part of a record is in the page's rows.
struct Plan {
    id: usize,
    created_at: usize,
    updated_at: usize,
    /// Every field of the record type, in its order.
    fields: Vec<Planned>,
    /// `custom` and `custom_enc`.
    custom: (usize, usize),
    /// Contacts' account links as a column of the page (SQLite).
    links: Option<usize>,
}

/// A field and the columns it is read from, by name and by position.
struct Planned {
    spec: &'static FieldSpec,
    cols: Vec<String>,
    at: Vec<usize>,
}

fn position(columns: &[String], name: &str) -> Result<usize, DomainError> {
    columns
        .iter()
        .position(|c| c == name)
        .ok_or_else(|| DomainError::Internal(format!("the page does not select {name}")))
}

impl Plan {
    fn new(needed: &Needed, page: &PageQuery) -> Result<Plan, DomainError> {
        let columns = &page.columns;
        let fields = needed
            .fields
            .iter()
            .map(|&spec| {
                let cols = codec::read_columns(spec);
                let at = cols
                    .iter()
                    .map(|c| position(columns, c))
                    .collect::<Result<_, _>>()?;
                Ok(Planned { spec, cols, at })
            })
            .collect::<Result<_, DomainError>>()?;
        Ok(Plan {
            id: position(columns, "id")?,
            created_at: position(columns, "created_at")?,
            updated_at: position(columns, "updated_at")?,
            fields,
            custom: (
                position(columns, "custom")?,
                position(columns, "custom_enc")?,
            ),
            links: if page.inline_links {
                Some(position(columns, LINKS_COLUMN)?)
            } else {
                None
            },
        })
    }
}

impl RowPage {
    /// Read the page `q` selects (its columns are set here), keeping at most `limit` rows;
    /// `cursor_of` gives the cursor after the last of them when more rows follow.
    pub(super) async fn read(
        store: &Store,
        keys: Keyring,
        def: &ObjectDef,
        q: SelectStatement,
        limit: usize,
        cursor_of: impl FnOnce(&Record) -> String,
    ) -> Result<RowPage, DomainError> {
        let needed = Needed::all(def);
        let page = PageQuery::new(store.db.backend(), def, q, &needed);
        let rows = store.db.read_rows(&page.q, &page.columns).await?;
        let plan = Plan::new(&needed, &page)?;
        let len = rows.len().min(limit);
        let last = len.checked_sub(1).and_then(|i| rows.iter().nth(i));
        let next_cursor = match last {
            Some(row) if rows.len() > limit => {
                let rec = row_to_partial(&keys, def, row, &needed, &needed.field_columns())?;
                Some(cursor_of(&rec))
            }
            _ => None,
        };
        let links = if page.links && !page.inline_links {
            let ids = rows
                .iter()
                .take(len)
                .map(|r| r.get_at::<String>(plan.id, "id"))
                .collect::<Result<Vec<_>, _>>()?;
            Some(if ids.is_empty() {
                BTreeMap::new()
            } else {
                links_of(store.db.reader(), ids).await?
            })
        } else {
            None
        };
        Ok(RowPage {
            rows,
            len,
            def: *def,
            keys,
            plan,
            links,
            next_cursor,
        })
    }

    /// How many records the page shows.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The page's records through `lens`: hidden fields left out.
    pub fn shown<'a>(&'a self, lens: &'a Lens<'a>) -> ShownRows<'a> {
        ShownRows {
            page: self,
            lens,
            fields: self
                .plan
                .fields
                .iter()
                .filter(|f| lens.sees(f.spec.name))
                .collect(),
        }
    }
}

/// A [`RowPage`] through a [`Lens`], written as a JSON array of records.
pub struct ShownRows<'a> {
    page: &'a RowPage,
    lens: &'a Lens<'a>,
    fields: Vec<&'a Planned>,
}

impl Serialize for ShownRows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.page.len))?;
        for row in self.page.rows.iter().take(self.page.len) {
            seq.serialize_element(&ShownRow { shown: self, row })?;
        }
        seq.end()
    }
}

struct ShownRow<'a> {
    shown: &'a ShownRows<'a>,
    row: RowRef<'a>,
}

impl Serialize for ShownRow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ShownRows { page, lens, fields } = self.shown;
        self.write(s, page, lens, fields)
    }
}

/// A row's cells that could not be read, as the output's error.
fn unreadable<E: serde::ser::Error>(e: DomainError) -> E {
    E::custom(e)
}

impl ShownRow<'_> {
    fn write<S: Serializer>(
        &self,
        s: S,
        page: &RowPage,
        lens: &Lens<'_>,
        fields: &[&Planned],
    ) -> Result<S::Ok, S::Error> {
        let row = self.row;
        let plan = &page.plan;
        let table = page.def.table;
        let keys = &page.keys;
        let id = row
            .text_at(plan.id, "id")
            .and_then(|id| id.ok_or_else(|| DomainError::Internal("a record without an id".into())))
            .map_err(unreadable)?;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &*id)?;
        let mut failed: Vec<&str> = Vec::new();
        for f in fields {
            let name = f.spec.name;
            match f.spec.kind {
                FieldKind::AccountLinks => {
                    let mut links = match (plan.links, &page.links) {
                        (Some(at), _) => inline_links(
                            row.text_at(at, LINKS_COLUMN)
                                .map_err(unreadable)?
                                .as_deref(),
                        )
                        .map_err(unreadable)?,
                        (None, Some(by_contact)) => {
                            by_contact.get(&*id).cloned().unwrap_or_default()
                        }
                        (None, None) => Vec::new(),
                    };
                    sort_links(&mut links);
                    m.serialize_entry("account_ids", &super::shown::AccountIds(&links))?;
                    m.serialize_entry(name, &FieldValue::Links(links))?;
                }
                _ if codec::reads_as_text(f.spec) => {
                    m.serialize_entry(
                        name,
                        &row.text_at(f.at[0], &f.cols[0]).map_err(unreadable)?,
                    )?;
                }
                // A sensitive list is decrypted and parsed by `decode`, below.
                _ if f.spec.sensitive
                    && !matches!(f.spec.kind, FieldKind::EmailList | FieldKind::PhoneList) =>
                {
                    let plain = match row.text_at(f.at[0], &f.cols[0]).map_err(unreadable)? {
                        Some(ct) => {
                            let plain = super::unreadable::open(keys, table, &f.cols[0], &id, &ct);
                            if plain.is_none() {
                                failed.push(name);
                            }
                            plain
                        }
                        None => None,
                    };
                    m.serialize_entry(name, &plain)?;
                }
                _ => {
                    let v = codec::decode(f.spec, &f.cols, row, keys, table, &id)
                        .map_err(unreadable)?;
                    if v.is_none() {
                        failed.push(name);
                    }
                    m.serialize_entry(name, &v.unwrap_or(FieldValue::Null))?;
                }
            }
        }
        let (custom, custom_enc) = plan.custom;
        let plain = row.text_at(custom, "custom").map_err(unreadable)?;
        let sealed = row.text_at(custom_enc, "custom_enc").map_err(unreadable)?;
        let (custom, sealed_ok) =
            custom_values(keys, table, &id, plain.as_deref(), sealed.as_deref())
                .map_err(unreadable)?;
        for (k, v) in &custom {
            if lens.sees(k) {
                m.serialize_entry(k, v)?;
            }
        }
        if !sealed_ok {
            failed.push(super::unreadable::CUSTOM);
        }
        if !failed.is_empty() {
            m.serialize_entry(super::unreadable::KEY, &failed)?;
        }
        for (at, col) in [
            (plan.created_at, "created_at"),
            (plan.updated_at, "updated_at"),
        ] {
            let t: DateTime<Utc> = row.get_at(at, col).map_err(unreadable)?;
            m.serialize_entry(col, &api_time(&t))?;
        }
        m.end()
    }
}
