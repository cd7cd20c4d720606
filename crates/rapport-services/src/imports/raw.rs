//! An uploaded file's rows at rest. Each row is sealed with the field keys (`cells_enc`, bound
//! to its import and row number), so the phones and emails a file carries are never stored in
//! plain text; rows stored before they were sealed are sealed when the server starts. The raw
//! rows and the failed rows' reasons are deleted a retention period after the import ended
//! (an instance setting, 30 days unless changed), and at once when an erasure touches them.
//! Cells of columns mapped to fields the reader's role hides are never shown.

use super::{t, Import};
use crate::access::Access;
use crate::{settings, Keyring, Store};
use chrono::{DateTime, Duration, Utc};
use rapport_core::fields::FieldValue;
use rapport_core::{DomainError, Object};
use rapport_db::{all, db_err, exec, get};
use sea_orm::sea_query::{Expr, Func, Order, Query};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

const TABLE: &str = "import_rows";
const COLUMN: &str = "cells_enc";

/// What a masked cell shows.
pub const HIDDEN: &str = "***";

/// The sealed form of row `row_no` of import `id`.
pub(super) fn seal(
    keys: &Keyring,
    id: &str,
    row_no: i64,
    cells: &[String],
) -> Result<String, DomainError> {
    let json = serde_json::to_string(cells).map_err(DomainError::internal)?;
    keys.encrypt(TABLE, COLUMN, &format!("{id}:{row_no}"), &json)
}

/// Rows `from..to` (row numbers) of an import's file, unsealed.
pub(crate) async fn rows_between(
    store: &Store,
    id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, Vec<String>)>, DomainError> {
    let keys = store.keys()?;
    all(
        store.db.reader(),
        Query::select()
            .columns(["row_no", "cells", "cells_enc"].map(t))
            .from(t(TABLE))
            .and_where(Expr::col(t("import_id")).eq(id))
            .and_where(Expr::col(t("row_no")).gte(from))
            .and_where(Expr::col(t("row_no")).lt(to))
            .order_by(t("row_no"), Order::Asc),
    )
    .await?
    .iter()
    .map(|r| {
        let row_no: i64 = get(r, "row_no")?;
        let json = cells_json(&keys, id, row_no, r)?;
        Ok((
            row_no,
            serde_json::from_str(&json).map_err(DomainError::internal)?,
        ))
    })
    .collect()
}

/// A stored row's cells as JSON text: unsealed, or as stored before rows were sealed.
fn cells_json(
    keys: &Keyring,
    id: &str,
    row_no: i64,
    r: &sea_orm::QueryResult,
) -> Result<String, DomainError> {
    match get::<Option<String>>(r, "cells_enc")? {
        Some(sealed) => keys.decrypt(TABLE, COLUMN, &format!("{id}:{row_no}"), &sealed),
        None => get(r, "cells"),
    }
}

/// Seal the rows stored in plain text before rows were sealed (at server start). Returns how
/// many were sealed.
pub async fn seal_plain_rows(store: &Store) -> Result<u64, DomainError> {
    let keys = store.keys()?;
    let mut sealed = 0u64;
    loop {
        let rows = all(
            store.db.reader(),
            Query::select()
                .columns(["import_id", "row_no", "cells"].map(t))
                .from(t(TABLE))
                .and_where(Expr::col(t("cells_enc")).is_null())
                .limit(500),
        )
        .await?;
        if rows.is_empty() {
            return Ok(sealed);
        }
        let tx = store.db.begin().await?;
        for r in &rows {
            let id: String = get(r, "import_id")?;
            let row_no: i64 = get(r, "row_no")?;
            let cells: String = get(r, "cells")?;
            let json = keys.encrypt(TABLE, COLUMN, &format!("{id}:{row_no}"), &cells)?;
            exec(
                &tx,
                Query::update()
                    .table(t(TABLE))
                    .value(t("cells_enc"), json)
                    .value(t("cells"), "")
                    .and_where(Expr::col(t("import_id")).eq(id.as_str()))
                    .and_where(Expr::col(t("row_no")).eq(row_no)),
            )
            .await?;
            sealed += 1;
        }
        tx.commit().await.map_err(db_err)?;
    }
}

/// Where the retention setting is kept.
const RETENTION_KEY: &str = "imports.retention";

/// How long an import's raw rows are kept after it ends.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Days after the import ended (or was last touched, if it never ran) that its rows and
    /// failed rows are kept: 1 to 3650.
    pub keep_raw_days: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention { keep_raw_days: 30 }
    }
}

/// The retention setting (anyone with the settings read right may see it).
pub async fn retention(store: &Store, actor: &Access) -> Result<Retention, DomainError> {
    settings::may_read(actor)?;
    Ok(settings::read(store.db.reader(), RETENTION_KEY)
        .await?
        .unwrap_or_default())
}

/// Change the retention setting (settings right over all); audited.
pub async fn set_retention(
    store: &Store,
    actor: &Access,
    r: Retention,
) -> Result<Retention, DomainError> {
    may_change(actor)?;
    if !(1..=3650).contains(&r.keep_raw_days) {
        return Err(DomainError::field(
            "keep_raw_days",
            "out_of_range",
            "keep_raw_days is between 1 and 3650",
        ));
    }
    let before: Retention = settings::read(store.db.reader(), RETENTION_KEY)
        .await?
        .unwrap_or_default();
    settings::replace(
        store,
        actor,
        RETENTION_KEY,
        "settings.import_retention_changed",
        &before,
        &r,
    )
    .await?;
    Ok(r)
}

/// Delete the raw rows and failed rows of imports that ended more than the retention period
/// before `now` (the daily housekeeping job). Returns how many imports were cleared.
pub(crate) async fn purge_expired<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
) -> Result<u64, DomainError> {
    let keep: Retention = settings::read(c, RETENTION_KEY).await?.unwrap_or_default();
    let cutoff = now - Duration::days(keep.keep_raw_days);
    let ended = all(
        c,
        Query::select()
            .column(t("id"))
            .from(t("imports"))
            .and_where(Expr::col(t("raw_deleted_at")).is_null())
            .and_where(Expr::col(t("status")).is_not_in(["running", "dry_running"]))
            .and_where(
                Expr::expr(Func::coalesce([
                    Expr::col(t("finished_at")).into(),
                    Expr::col(t("updated_at")).into(),
                ]))
                .lt(cutoff),
            ),
    )
    .await?
    .iter()
    .map(|r| get::<String>(r, "id"))
    .collect::<Result<Vec<_>, _>>()?;
    for id in &ended {
        clear(c, id, now).await?;
    }
    Ok(ended.len() as u64)
}

/// Delete one import's raw rows and failed rows, and say when. Returns the raw rows deleted.
async fn clear<C: ConnectionTrait>(
    c: &C,
    id: &str,
    now: DateTime<Utc>,
) -> Result<u64, DomainError> {
    let mut rows = 0;
    for table in ["import_rows", "import_errors"] {
        let n = exec(
            c,
            Query::delete()
                .from_table(t(table))
                .and_where(Expr::col(t("import_id")).eq(id)),
        )
        .await?;
        if table == TABLE {
            rows = n;
        }
    }
    exec(
        c,
        Query::update()
            .table(t("imports"))
            .value(t("raw_deleted_at"), now)
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    Ok(rows)
}

/// What identifies a person in a file's cells: their emails, phones and other sensitive
/// values (exact, normalised), from the record before its erasure.
pub(crate) fn needles(
    def: &crate::records::ObjectDef,
    rec: &crate::records::Record,
) -> Vec<String> {
    let mut out = Vec::new();
    for f in def.fields.iter().filter(|f| f.sensitive) {
        match rec.values.get(f.name) {
            Some(FieldValue::Text(v)) => out.push(v.clone()),
            Some(FieldValue::List(l)) => out.extend(l.iter().cloned()),
            _ => {}
        }
    }
    out.into_iter()
        .map(|v| normalised(&v))
        .filter(|v| v.chars().count() >= 4)
        .collect()
}

/// A cell or a value compared: trimmed and lower-cased; a phone number (digits, spaces,
/// dashes, brackets, a leading +) as its digits without a leading 86.
fn normalised(v: &str) -> String {
    let v = v.trim();
    let phone_like = !v.is_empty()
        && v.chars().all(|c| c.is_ascii_digit() || " -+()".contains(c))
        && v.chars().filter(char::is_ascii_digit).count() >= 7;
    if phone_like {
        let digits: String = v.chars().filter(char::is_ascii_digit).collect();
        return match digits.strip_prefix("86") {
            Some(rest) if rest.len() == 11 => rest.to_string(),
            _ => digits,
        };
    }
    v.to_lowercase()
}

/// Erasure of record `record_id`: the raw rows of every import that created or updated it
/// go, and any row of another import holding one of `needles` (with its failed-row reason).
/// Returns the rows deleted.
pub(crate) async fn forget_person<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    record_id: &str,
    needles: &[String],
) -> Result<u64, DomainError> {
    let now = store.now();
    let linked = all(
        c,
        Query::select()
            .distinct()
            .column(t("import_id"))
            .from(t("import_records"))
            .and_where(Expr::col(t("record_id")).eq(record_id)),
    )
    .await?
    .iter()
    .map(|r| get::<String>(r, "import_id"))
    .collect::<Result<Vec<_>, _>>()?;
    let mut deleted = 0u64;
    for id in &linked {
        deleted += clear(c, id, now).await?;
    }
    if needles.is_empty() {
        return Ok(deleted);
    }
    // The other files still kept: any row holding the person goes.
    let keys = store.keys()?;
    let mut after: (String, i64) = (String::new(), -1);
    loop {
        let rows = all(
            c,
            Query::select()
                .columns(["import_id", "row_no", "cells", "cells_enc"].map(t))
                .from(t(TABLE))
                .and_where(
                    Expr::tuple([
                        Expr::col(t("import_id")).into(),
                        Expr::col(t("row_no")).into(),
                    ])
                    .gt(Expr::tuple([
                        Expr::val(after.0.clone()).into(),
                        Expr::val(after.1).into(),
                    ])),
                )
                .order_by(t("import_id"), Order::Asc)
                .order_by(t("row_no"), Order::Asc)
                .limit(1000),
        )
        .await?;
        let Some(last) = rows.last() else {
            return Ok(deleted);
        };
        after = (get(last, "import_id")?, get(last, "row_no")?);
        for r in &rows {
            let id: String = get(r, "import_id")?;
            let row_no: i64 = get(r, "row_no")?;
            // A row that does not decrypt holds nothing readable to match.
            let Ok(json) = cells_json(&keys, &id, row_no, r) else {
                continue;
            };
            let cells: Vec<String> = serde_json::from_str(&json).unwrap_or_default();
            if !cells.iter().any(|cell| needles.contains(&normalised(cell))) {
                continue;
            }
            for table in ["import_rows", "import_errors"] {
                exec(
                    c,
                    Query::delete()
                        .from_table(t(table))
                        .and_where(Expr::col(t("import_id")).eq(id.as_str()))
                        .and_where(Expr::col(t("row_no")).eq(row_no)),
                )
                .await?;
            }
            deleted += 1;
        }
    }
}

/// Replace the cells of columns mapped to fields the reader may not see; `header` is the
/// index in `rows` of the header row, if it is among them (its titles are kept).
pub(super) fn mask(actor: &Access, imp: &Import, rows: &mut [Vec<String>], header: Option<usize>) {
    let Some(m) = &imp.mapping else { return };
    let Some(object) = Object::parse(&imp.object) else {
        return;
    };
    let hidden: Vec<usize> = m
        .columns
        .iter()
        .filter(|(_, field)| {
            field.as_str() != "account_name" && !actor.may_read_field(object, field)
        })
        .filter_map(|(col, _)| col.parse().ok())
        .collect();
    for (i, row) in rows.iter_mut().enumerate() {
        if Some(i) == header {
            continue;
        }
        for &c in &hidden {
            if let Some(cell) = row.get_mut(c) {
                if !cell.is_empty() {
                    *cell = HIDDEN.into();
                }
            }
        }
    }
}

/// Refuse to build an error file from rows that were deleted.
pub(super) fn still_kept(imp: &Import) -> Result<(), DomainError> {
    match imp.raw_deleted_at {
        Some(at) => Err(DomainError::Conflict(format!(
            "the file's rows were deleted on {} (kept for the retention period, or erased)",
            at.format("%Y-%m-%d")
        ))),
        None => Ok(()),
    }
}

/// Changing how long import files are kept needs the settings right over all (the API asks before reading a body).
pub fn may_change(actor: &crate::access::Access) -> Result<(), rapport_core::DomainError> {
    crate::settings::may_change(actor, "changing how long import files are kept")
}

#[cfg(test)]
mod tests {
    use super::normalised;

    #[test]
    fn phones_and_emails_compare_as_people_write_them() {
        assert_eq!(normalised("+86 138-0013-8000"), "13800138000");
        assert_eq!(normalised("13800138000"), "13800138000");
        assert_eq!(normalised(" Li.Lei@Example.COM "), "li.lei@example.com");
        assert_eq!(normalised("Room 1203"), "room 1203");
    }
}
