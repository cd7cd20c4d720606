//! Export of a list as CSV or XLSX: the same query, filters and order as the list, under the
//! caller's *export* scope, with the columns the caller chose, custom fields included, hidden
//! fields never. CSV cells that a spreadsheet would run as a formula (starting with = + - @,
//! tab or carriage return) are neutralised with a leading apostrophe; XLSX cells are written as
//! text, never as formulas.
//!
//! The list is read page by page (keyset, in the list's order) into a [`Sink`], so a large
//! export in the background (`crate::exports`) holds one page at a time.

use super::query::{scoped_select, ListOrder, ListParams};
use super::{read_records_fresh, Needed, ObjectDef, Record};
use crate::access::{Access, OwnerFilter};
use crate::{audit, Store};
use rapport_core::fields::FieldValue;
use rapport_core::{Action, DomainError};
use rapport_db::all;
pub use rapport_interchange::table::{neutralise, CsvSink, Format, Sink, XlsxSink};
use sea_orm::sea_query::Alias;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Largest export served at once; larger ones run in the background.
pub const MAX_ROWS: u64 = 50_000;

/// Rows read per query.
const PAGE: u64 = 500;

/// What to export: the list (search, filter, order) and the columns as (field key, header).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExportSpec {
    pub q: Option<String>,
    pub filter: Option<Value>,
    pub sort: Option<String>,
    pub columns: Vec<(String, String)>,
}

impl ExportSpec {
    fn params(&self) -> ListParams {
        ListParams {
            q: self.q.clone(),
            filter: self.filter.clone(),
            sort: self.sort.clone(),
            ..Default::default()
        }
    }
}

/// The caller's export scope, or 403.
pub async fn export_filter(
    _store: &Store,
    actor: &Access,
    def: &ObjectDef,
) -> Result<OwnerFilter, DomainError> {
    actor.owners(def.object, Action::Export).ok_or_else(|| {
        DomainError::Forbidden(format!(
            "exporting {} records needs the export right",
            def.key()
        ))
    })
}

/// How many records an export would hold (with a `cap`, at most `cap + 1`: enough to tell
/// "more than cap" without counting everything).
pub async fn count(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    spec: &ExportSpec,
    cap: Option<u64>,
) -> Result<u64, DomainError> {
    let filter = export_filter(store, actor, def).await?;
    let mut params = spec.params();
    if params.filter.is_some() {
        params.customs = crate::custom_fields::active(store, def.object).await?;
    }
    let mut inner = scoped_select(def, actor, store, &filter, &params)?;
    inner.column(Alias::new("id"));
    if let Some(cap) = cap {
        inner.limit(cap + 1);
    }
    let rows = all(
        store.db.reader(),
        sea_orm::sea_query::Query::select()
            .expr_as(
                sea_orm::sea_query::Expr::col(sea_orm::sea_query::Asterisk).count(),
                Alias::new("n"),
            )
            .from_subquery(inner, Alias::new("matching")),
    )
    .await?;
    let n: i64 = rows
        .first()
        .map(|r| rapport_db::get(r, "n"))
        .transpose()?
        .unwrap_or(0);
    Ok(n as u64)
}

/// Reads the rows of an export page by page, in the list's order (keyset paging).
pub struct Pager {
    filter: OwnerFilter,
    params: ListParams,
    order: ListOrder,
    columns: Vec<(String, String)>,
    /// What is read of each record: the exported fields and the sort field only.
    needed: Needed,

    cursor: Option<String>,
    done: bool,
}

impl Pager {
    /// Check the caller's export right and the list (filter, sort) and get ready to read.
    pub async fn new(
        store: &Store,
        actor: &Access,
        def: &ObjectDef,
        spec: &ExportSpec,
    ) -> Result<Pager, DomainError> {
        let filter = export_filter(store, actor, def).await?;
        let mut params = spec.params();
        if params.filter.is_some() {
            params.customs = crate::custom_fields::active(store, def.object).await?;
        }
        let order = ListOrder::new(def, actor, params.sort.as_deref())?;
        // Hidden fields are never exported.
        let columns: Vec<(String, String)> = spec
            .columns
            .iter()
            .filter(|(k, _)| actor.grants.can_read_field(def.object, k))
            .cloned()
            .collect();
        let mut needed = Needed {
            fields: Vec::new(),
            custom: false,
        };
        for (k, _) in &columns {
            let key = if k == "account_ids" { "accounts" } else { k };
            match def.field(key) {
                Some(f) if !needed.fields.iter().any(|n| n.name == f.name) => needed.fields.push(f),
                Some(_) => {}
                None => needed.custom |= k.starts_with("cf_"),
            }
        }
        if let Some(f) = order.field() {
            if !needed.fields.iter().any(|n| n.name == f.name) {
                needed.fields.push(f);
            }
        }
        Ok(Pager {
            filter,
            params,
            order,
            columns,
            needed,

            cursor: None,
            done: false,
        })
    }

    pub fn header(&self) -> Vec<String> {
        let mut header = vec!["id".to_string()];
        header.extend(self.columns.iter().map(|(_, h)| h.clone()));
        header
    }

    /// The next page of rows (cells as text), or `None` after the last.
    pub async fn next_page(
        &mut self,
        store: &Store,
        actor: &Access,
        def: &ObjectDef,
    ) -> Result<Option<Vec<Vec<String>>>, DomainError> {
        if self.done {
            return Ok(None);
        }
        let mut q = scoped_select(def, actor, store, &self.filter, &self.params)?;
        q.limit(PAGE);
        self.order.apply(&mut q, self.cursor.as_deref())?;
        let keys = store.keys()?;
        let records = read_records_fresh(store, &keys, def, q, &self.needed).await?;
        match records.last() {
            Some(last) if records.len() as u64 == PAGE => {
                self.cursor = Some(self.order.cursor_of(last))
            }
            _ => {
                self.done = true;
            }
        }
        if records.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            records
                .iter()
                .map(|rec| {
                    let mut line = Vec::with_capacity(self.columns.len() + 1);
                    line.push(rec.id.clone());
                    for (k, _) in &self.columns {
                        line.push(cell_of(rec, k));
                    }
                    line
                })
                .collect(),
        ))
    }
}

/// One exported cell of a record, as the record's JSON shows the field.
fn cell_of(rec: &Record, key: &str) -> String {
    let time =
        |t: &chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    match key {
        "created_at" => return time(&rec.created_at),
        "updated_at" => return time(&rec.updated_at),
        "account_ids" => {
            return match rec.values.get("accounts") {
                Some(FieldValue::Links(links)) => links
                    .iter()
                    .map(|l| l.account_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => String::new(),
            }
        }
        _ => {}
    }
    match rec.values.get(key) {
        Some(FieldValue::Null) => String::new(),
        Some(FieldValue::Text(s)) => s.clone(),
        Some(v) => cell_text(Some(&v.to_json())),
        None => cell_text(rec.custom.get(key)),
    }
}

/// Write the header and every row to `sink`; the number of rows.
async fn write_all(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    spec: &ExportSpec,
    sink: &mut (dyn Sink + Send),
) -> Result<u64, DomainError> {
    let store = &store.for_bulk_reads().await;
    let mut pager = Pager::new(store, actor, def, spec).await?;
    sink.row(&pager.header())?;
    let mut n = 0;
    while let Some(lines) = pager.next_page(store, actor, def).await? {
        for l in &lines {
            sink.row(l)?;
        }
        n += lines.len() as u64;
    }
    Ok(n)
}

fn cell_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

/// Export a list at once (up to [`MAX_ROWS`] records; more answers 422, pointing to the
/// background export).
pub async fn export(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    spec: &ExportSpec,
    format: Format,
) -> Result<Vec<u8>, DomainError> {
    if count(store, actor, def, spec, Some(MAX_ROWS)).await? > MAX_ROWS {
        return Err(DomainError::field(
            "filter",
            "too_many",
            format!(
                "more than {MAX_ROWS} records match; narrow the filter or export in the background"
            ),
        ));
    }
    let (bytes, rows) = match format {
        Format::Csv => {
            let mut sink = CsvSink::default();
            let n = write_all(store, actor, def, spec, &mut sink).await?;
            (sink.take()?, n)
        }
        Format::Xlsx => {
            let mut sink = XlsxSink::new(def.table, false)?;
            let n = write_all(store, actor, def, spec, &mut sink).await?;
            (sink.finish()?, n)
        }
    };
    audit::record_alone(
        store,
        actor,
        audit::Entry::new(format!("{}.exported", def.key()))
            .object(def.key(), "*")
            .details(json!({"rows": rows, "columns": spec.columns.len() + 1, "format": format.extension()})),
    )
    .await?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_numbers_are_not() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(neutralise("+8613800138000"), "'+8613800138000");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("-2+3"), "'-2+3");
        assert_eq!(neutralise("\tcmd"), "'\tcmd");
        assert_eq!(neutralise("-1234.50"), "-1234.50");
        assert_eq!(neutralise("华为"), "华为");
    }

    #[test]
    fn csv_starts_with_a_bom_and_can_be_taken_in_pieces() {
        let mut s = CsvSink::default();
        s.row(&["a".into(), "=1+1".into()]).unwrap();
        let first = s.take().unwrap();
        s.row(&["b".into(), "c,d".into()]).unwrap();
        let second = s.take().unwrap();
        assert_eq!(first, b"\xEF\xBB\xBFa,'=1+1\n");
        assert_eq!(second, b"b,\"c,d\"\n");
    }
}
