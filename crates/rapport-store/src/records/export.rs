//! Export of a list as CSV or XLSX: the same query, filters and order as the list, under the
//! caller's *export* scope, with the columns the caller chose, custom fields included, hidden
//! fields never. CSV cells that a spreadsheet would run as a formula (starting with = + - @,
//! tab or carriage return) are neutralised with a leading apostrophe; XLSX cells are written as
//! text, never as formulas.

use super::query::{order_as_list, scoped_select, ListParams};
use super::{complete, row_to_record, to_json, ObjectDef};
use crate::db::all;
use crate::scope::owner_filter;
use crate::{audit, Store};
use rapport_core::{Action, DomainError, Principal};
use sea_orm::sea_query::Alias;
use serde_json::{json, Value};

/// Largest export served at once.
pub const MAX_ROWS: u64 = 50_000;

/// The file formats an export can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// A cell as a spreadsheet must not run it: text that starts like a formula gets a leading
/// apostrophe. Plain numbers (a negative amount) are left alone.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let number = cell.parse::<f64>().is_ok() && !cell.starts_with('+');
    if risky && !number {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

fn write_csv(header: &[String], rows: &[Vec<String>]) -> Result<Vec<u8>, DomainError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header.iter().map(|h| neutralise(h).into_owned()))
        .map_err(DomainError::internal)?;
    for line in rows {
        w.write_record(line.iter().map(|c| neutralise(c).into_owned()))
            .map_err(DomainError::internal)?;
    }
    let bytes = w.into_inner().map_err(DomainError::internal)?;
    // A UTF-8 byte-order mark so spreadsheet programs read Chinese correctly.
    let mut out = vec![0xEF, 0xBB, 0xBF];
    out.extend(bytes);
    Ok(out)
}

fn write_xlsx(
    sheet_name: &str,
    header: &[String],
    rows: &[Vec<String>],
) -> Result<Vec<u8>, DomainError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let sheet = book.add_worksheet();
    sheet.set_name(sheet_name).map_err(DomainError::internal)?;
    for (c, h) in header.iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, h, &bold)
            .map_err(DomainError::internal)?;
    }
    for (r, line) in rows.iter().enumerate() {
        for (c, v) in line.iter().enumerate() {
            if !v.is_empty() {
                sheet
                    .write_string(r as u32 + 1, c as u16, v)
                    .map_err(DomainError::internal)?;
            }
        }
    }
    sheet
        .set_freeze_panes(1, 0)
        .map_err(DomainError::internal)?;
    book.save_to_buffer().map_err(DomainError::internal)
}

/// Export a list in `format` (see the module documentation). `columns` are (field key,
/// header) pairs; the first column is always the id.
pub async fn export(
    store: &Store,
    actor: &Principal,
    def: &ObjectDef,
    params: &ListParams,
    columns: &[(String, String)],
    format: Format,
) -> Result<Vec<u8>, DomainError> {
    let filter = owner_filter(store, actor, def.object, Action::Export)
        .await?
        .ok_or_else(|| {
            DomainError::Forbidden(format!(
                "exporting {} records needs the export right",
                def.key()
            ))
        })?;
    let mut params = params.clone();
    if params.filter.is_some() && params.customs.is_empty() {
        params.customs = crate::custom_fields::active(store, def.object).await?;
    }
    let mut q = scoped_select(def, actor, store, &filter, &params)?;
    q.columns(def.select_columns().into_iter().map(Alias::new))
        .limit(MAX_ROWS + 1);
    order_as_list(&mut q, def, actor, params.sort.as_deref())?;
    let rows = all(store.db.reader(), &q).await?;
    if rows.len() as u64 > MAX_ROWS {
        return Err(DomainError::field(
            "filter",
            "too_many",
            format!("more than {MAX_ROWS} records match; narrow the filter"),
        ));
    }
    let keys = store.keys()?;
    let mut records = rows
        .iter()
        .map(|r| row_to_record(&keys, def, r))
        .collect::<Result<Vec<_>, _>>()?;
    complete(store.db.reader(), def, &mut records).await?;
    let columns: Vec<&(String, String)> = columns
        .iter()
        .filter(|(k, _)| actor.grants.can_read_field(def.object, k))
        .collect();
    let mut header = vec!["id".to_string()];
    header.extend(columns.iter().map(|(_, h)| h.clone()));
    let mut lines = Vec::with_capacity(records.len());
    for rec in &records {
        let doc = to_json(def, actor, rec);
        let mut line = vec![rec.id.clone()];
        for (k, _) in &columns {
            line.push(match doc.get(k.as_str()) {
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
            });
        }
        lines.push(line);
    }
    let bytes = match format {
        Format::Csv => write_csv(&header, &lines)?,
        Format::Xlsx => write_xlsx(def.table, &header, &lines)?,
    };
    audit::record_alone(
        store,
        actor,
        audit::Entry::new(format!("{}.exported", def.key()))
            .object(def.key(), "*")
            .details(json!({"rows": records.len(), "columns": header.len(), "format": format.extension()})),
    )
    .await?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::neutralise;

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
}
