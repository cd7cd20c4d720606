//! CSV export of a list (the same query as the list, under the caller's *export* scope), with
//! the columns the caller chose, custom fields included, hidden fields never.

use super::query::{scoped_select, ListParams};
use super::{complete, row_to_record, to_json, ObjectDef};
use crate::db::all;
use crate::scope::owner_filter;
use crate::{audit, Store};
use rapport_core::{Action, DomainError, Principal};
use sea_orm::sea_query::{Alias, Order};
use serde_json::{json, Value};

/// Largest export served at once.
pub const MAX_ROWS: u64 = 50_000;

/// `columns` are (field key, header) pairs; the first column is always the id.
pub async fn csv(
    store: &Store,
    actor: &Principal,
    def: &ObjectDef,
    params: &ListParams,
    columns: &[(String, String)],
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
        .order_by(Alias::new("id"), Order::Asc)
        .limit(MAX_ROWS + 1);
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
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["id".to_string()];
    header.extend(columns.iter().map(|(_, h)| h.clone()));
    w.write_record(&header).map_err(DomainError::internal)?;
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
        w.write_record(&line).map_err(DomainError::internal)?;
    }
    let bytes = w.into_inner().map_err(DomainError::internal)?;
    audit::record_alone(
        store,
        actor,
        audit::Entry::new(format!("{}.exported", def.key()))
            .object(def.key(), "*")
            .details(json!({"rows": records.len(), "columns": header.len()})),
    )
    .await?;
    // A UTF-8 byte-order mark so spreadsheet programs read Chinese correctly.
    let mut out = vec![0xEF, 0xBB, 0xBF];
    out.extend(bytes);
    Ok(out)
}
