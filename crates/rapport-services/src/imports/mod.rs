//! Imports: an uploaded file (CSV in UTF-8 or GBK, XLSX, vCard) is read into rows kept in the
//! database; the user maps columns to fields (with suggestions) and chooses what a match on an
//! existing record means; a dry run and then the import run in the background in batches,
//! each batch one transaction that also moves the checkpoint, so an import interrupted by a
//! crash resumes where it stopped without importing a row twice. Every row is validated as a
//! real save; failed rows are kept for an error file; the records an import created can be
//! removed again (undo) while nobody has changed them. Imports run with the importing user's
//! rights and are audited as one import with its counts.

mod batch;
pub mod mapping;
pub mod raw;
pub use rapport_interchange::import_file as parse;
mod run;
mod threads;

pub use mapping::Mapping;
pub(crate) use run::principal_of;
pub use run::{run_batch, IMPORT_JOB};

use crate::access::Access;
use crate::records::{self, ObjectDef};
use crate::{audit, jobs, Store};
use chrono::{DateTime, Utc};
use rapport_core::{ids, Action, DomainError, FieldError, Object, Scope};
use rapport_db::{all, db_err, exec, get, one};
use rapport_interchange::table::{CsvSink, Sink};
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use serde::Serialize;
use serde_json::json;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// Rows written per INSERT when a file is stored.
const STORE_CHUNK: usize = 500;

/// Record types a file can be imported into: those whose hooks say so.
pub fn importable(object: Object) -> Option<&'static ObjectDef> {
    crate::objects::def_of(object).filter(|d| d.hooks.importable())
}

#[derive(Debug, Clone, Serialize)]
pub struct Import {
    pub id: String,
    pub user_id: String,
    pub object: String,
    pub file_name: String,
    /// parsed, mapped, dry_running, dry_done, running, done, failed, undone
    pub status: String,
    pub encoding: String,
    pub mapping: Option<Mapping>,
    /// Rows in the file, the header rows included.
    pub total_rows: i64,
    /// The last row finished (the checkpoint).
    pub processed: i64,
    pub dry: bool,
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub failed: i64,
    pub undone: Option<i64>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When the file's rows and failed rows were deleted (retention or erasure).
    pub raw_deleted_at: Option<DateTime<Utc>>,
}

impl Import {
    /// Data rows to go through (below the header row).
    pub fn data_rows(&self) -> i64 {
        let header = self.mapping.as_ref().map_or(0, |m| m.header_row as i64);
        (self.total_rows - header - 1).max(0)
    }

    /// Whole percent of the data rows a run has gone through.
    pub fn percent(&self) -> i64 {
        let header = self.mapping.as_ref().map_or(0, |m| m.header_row as i64);
        let done = (self.processed - header).max(0);
        match self.data_rows() {
            0 => 100,
            n => (done * 100 / n).min(100),
        }
    }
}

const COLS: [&str; 20] = [
    "id",
    "user_id",
    "object",
    "file_name",
    "status",
    "encoding",
    "mapping",
    "total_rows",
    "processed",
    "dry",
    "created_count",
    "updated_count",
    "skipped_count",
    "failed_count",
    "undone_count",
    "error",
    "created_at",
    "finished_at",
    "header_row",
    "raw_deleted_at",
];

fn row_to(r: &sea_orm::QueryResult) -> Result<Import, DomainError> {
    let mapping: Option<String> = get(r, "mapping")?;
    Ok(Import {
        id: get(r, "id")?,
        user_id: get(r, "user_id")?,
        object: get(r, "object")?,
        file_name: get(r, "file_name")?,
        status: get(r, "status")?,
        encoding: get(r, "encoding")?,
        mapping: mapping.and_then(|m| serde_json::from_str(&m).ok()),
        total_rows: get(r, "total_rows")?,
        processed: get(r, "processed")?,
        dry: get(r, "dry")?,
        created: get(r, "created_count")?,
        updated: get(r, "updated_count")?,
        skipped: get(r, "skipped_count")?,
        failed: get(r, "failed_count")?,
        undone: get(r, "undone_count")?,
        error: get(r, "error")?,
        created_at: get(r, "created_at")?,
        finished_at: get(r, "finished_at")?,
        raw_deleted_at: get(r, "raw_deleted_at")?,
    })
}

pub(crate) async fn load<C: sea_orm::ConnectionTrait>(
    c: &C,
    id: &str,
) -> Result<Option<Import>, DomainError> {
    if !ids::is_valid_id(id) {
        return Ok(None);
    }
    one(
        c,
        Query::select()
            .columns(COLS.map(t))
            .from(t("imports"))
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?
    .map(|r| row_to(&r))
    .transpose()
}

/// An import of the actor's (administrators see every import); 404 otherwise.
pub async fn get_for(store: &Store, actor: &Access, id: &str) -> Result<Import, DomainError> {
    let imp = load(store.db.reader(), id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if imp.user_id != actor.user_id && actor.scope(Object::SETTINGS, Action::Read) != Scope::All {
        return Err(DomainError::NotFound);
    }
    Ok(imp)
}

/// The actor's imports, newest first.
pub async fn list(store: &Store, actor: &Access) -> Result<Vec<Import>, DomainError> {
    all(
        store.db.reader(),
        Query::select()
            .columns(COLS.map(t))
            .from(t("imports"))
            .and_where(Expr::col(t("user_id")).eq(actor.user_id.as_str()))
            .order_by(t("created_at"), Order::Desc)
            .limit(50),
    )
    .await?
    .iter()
    .map(row_to)
    .collect()
}

fn may_import(actor: &Access, object: Object) -> Result<&'static ObjectDef, DomainError> {
    let def = importable(object).ok_or_else(|| {
        DomainError::field(
            "object",
            "invalid_choice",
            "accounts, contacts and leads can be imported",
        )
    })?;
    if actor.scope(object, Action::Create) == Scope::None {
        return Err(DomainError::Forbidden(format!(
            "importing {} needs the right to create them",
            def.key()
        )));
    }
    Ok(def)
}

/// What the wizard shows after an upload: the rows around the header, the suggested mapping,
/// the fields a column can fill.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub import: Import,
    /// The first rows of the file (header rows included).
    pub rows: Vec<Vec<String>>,
    pub suggested: Mapping,
    /// (field, label zh, label en)
    pub targets: Vec<(String, String, String)>,
}

/// Read an uploaded file and keep its rows. Nothing is imported yet.
pub async fn upload(
    store: &Store,
    actor: &Access,
    object: Object,
    file_name: &str,
    bytes: &[u8],
    sheet: Option<usize>,
) -> Result<Preview, DomainError> {
    let def = may_import(actor, object)?;
    let file_name: String = file_name.trim().chars().take(200).collect();
    let opened = parse::open(&file_name, bytes, sheet)?;
    let id = ids::new_id();
    let now = store.now();
    let tx = store.db.begin().await?;
    exec(
        &tx,
        Query::insert()
            .into_table(t("imports"))
            .columns(
                [
                    "id",
                    "user_id",
                    "object",
                    "file_name",
                    "status",
                    "encoding",
                    "total_rows",
                    "created_at",
                    "updated_at",
                ]
                .map(t),
            )
            .values_panic([
                id.clone().into(),
                actor.user_id.clone().into(),
                def.key().into(),
                (if file_name.is_empty() {
                    "upload".to_string()
                } else {
                    file_name.clone()
                })
                .into(),
                "parsed".into(),
                opened.encoding.into(),
                0i64.into(),
                now.into(),
                now.into(),
            ]),
    )
    .await?;
    // Rows are parsed and stored a chunk at a time: a large file is never held as rows.
    let mut rows = opened.rows();
    let mut total = 0usize;
    let keys = store.keys()?;
    loop {
        let mut q = Query::insert();
        q.into_table(t("import_rows"))
            .columns(["import_id", "row_no", "cells", "cells_enc"].map(t));
        let mut in_chunk = 0;
        for row in rows.by_ref().take(STORE_CHUNK) {
            let row = row?;
            q.values_panic([
                id.clone().into(),
                (total as i64).into(),
                "".into(),
                raw::seal(&keys, &id, total as i64, &row)?.into(),
            ]);
            total += 1;
            in_chunk += 1;
        }
        if in_chunk == 0 {
            break;
        }
        exec(&tx, &q).await?;
    }
    if total == 0 {
        return Err(parse::no_rows(opened.encoding));
    }
    exec(
        &tx,
        Query::update()
            .table(t("imports"))
            .value(t("total_rows"), total as i64)
            .and_where(Expr::col(t("id")).eq(id.as_str())),
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("import.uploaded")
            .object("import", &id)
            .details(json!({"object": def.key(), "file_name": file_name, "rows": total, "encoding": opened.encoding})),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    preview(store, actor, &id, None).await
}

/// The file's first rows, and the mapping suggested for `header_row` (or the saved one).
pub async fn preview(
    store: &Store,
    actor: &Access,
    id: &str,
    header_row: Option<u64>,
) -> Result<Preview, DomainError> {
    let imp = get_for(store, actor, id).await?;
    let object = Object::parse(&imp.object).ok_or(DomainError::NotFound)?;
    let def = importable(object).ok_or(DomainError::NotFound)?;
    let rows = rows_between(store, id, 0, 20).await?;
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("import.read").object("import", id),
    )
    .await?;
    let customs = crate::custom_fields::active(store, object).await?;
    let targets = mapping::targets(object, def.fields, &customs);
    let header = header_row
        .or(imp.mapping.as_ref().map(|m| m.header_row))
        .unwrap_or(0);
    let suggested = match (&imp.mapping, header_row) {
        (Some(m), None) => m.clone(),
        _ => Mapping {
            header_row: header,
            columns: mapping::suggest(
                rows.get(header as usize)
                    .map(|r| &r.1)
                    .unwrap_or(&Vec::new()),
                &targets,
            ),
            match_on: default_match(object).into(),
            on_match: "skip".into(),
            ..Default::default()
        },
    };
    let mut rows: Vec<Vec<String>> = rows.into_iter().map(|(_, r)| r).collect();
    raw::mask(actor, &imp, &mut rows, Some(header as usize));
    Ok(Preview {
        import: imp,
        rows,
        suggested,
        targets,
    })
}

/// What a row is matched on unless the importer chooses: the type's first duplicate rule.
fn default_match(object: Object) -> &'static str {
    match_keys(object).get(1).copied().unwrap_or("none")
}

pub(crate) use raw::rows_between;

/// What rows of a type can be matched to existing records on: nothing, or the keys of its
/// duplicate rules (an account's name, credit code or phone; a person's email or phone).
pub fn match_keys(object: Object) -> Vec<&'static str> {
    let rules = crate::objects::def_of(object).map_or(&[][..], |d| d.hooks.duplicate_rules());
    std::iter::once("none")
        .chain(rules.iter().map(|r| r.key))
        .collect()
}

/// Save the mapping. Every field is one the actor may write; no field twice.
pub async fn set_mapping(
    store: &Store,
    actor: &Access,
    id: &str,
    m: Mapping,
) -> Result<Import, DomainError> {
    let imp = get_for(store, actor, id).await?;
    if !matches!(imp.status.as_str(), "parsed" | "mapped" | "dry_done") {
        return Err(DomainError::Conflict(format!(
            "the import is {}; its mapping no longer changes",
            imp.status
        )));
    }
    let object = Object::parse(&imp.object).ok_or(DomainError::NotFound)?;
    let def = importable(object).ok_or(DomainError::NotFound)?;
    let customs = crate::custom_fields::active(store, object).await?;
    let targets = mapping::targets(object, def.fields, &customs);
    let mut errors = Vec::new();
    if i64::try_from(m.header_row).map_or(true, |h| h >= imp.total_rows) {
        errors.push(FieldError::new(
            "header_row",
            "out_of_range",
            format!("the file has {} rows", imp.total_rows),
        ));
    }
    let mut seen: Vec<&String> = Vec::new();
    for (col, field) in &m.columns {
        if col.parse::<usize>().is_err() {
            errors.push(FieldError::new(
                format!("columns.{col}"),
                "invalid",
                "columns are numbered from 0",
            ));
        }
        if !targets.iter().any(|(k, _, _)| k == field) {
            errors.push(FieldError::new(
                format!("columns.{col}"),
                "unknown_field",
                format!("{} has no field {field} an import can fill", def.key()),
            ));
        } else if field != "account_name" && !actor.grants.can_write_field(object, field) {
            errors.push(FieldError::new(
                format!("columns.{col}"),
                "field_not_writable",
                format!("your role may not change {field}"),
            ));
        }
        if seen.contains(&field) {
            errors.push(FieldError::new(
                format!("columns.{col}"),
                "duplicate",
                format!("two columns fill {field}"),
            ));
        }
        seen.push(field);
    }
    if m.columns.is_empty() {
        errors.push(FieldError::new(
            "columns",
            "required",
            "map at least one column to a field",
        ));
    }
    if !match_keys(object).contains(&m.match_on.as_str()) {
        errors.push(FieldError::new(
            "match_on",
            "invalid_choice",
            format!("match_on is one of {}", match_keys(object).join(", ")),
        ));
    }
    if !matches!(m.on_match.as_str(), "skip" | "update" | "create") {
        errors.push(FieldError::new(
            "on_match",
            "invalid_choice",
            "on_match is skip, update or create",
        ));
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    exec(
        store.db.writer(),
        Query::update()
            .table(t("imports"))
            .value(
                t("mapping"),
                serde_json::to_string(&m).map_err(DomainError::internal)?,
            )
            .value(t("header_row"), m.header_row as i64)
            .value(t("status"), "mapped")
            .value(t("updated_at"), store.now())
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    get_for(store, actor, id).await
}

/// Start a dry run (`dry`: validate every row, write nothing) or the import itself, in the
/// background.
pub async fn start(
    store: &Store,
    actor: &Access,
    id: &str,
    dry: bool,
) -> Result<Import, DomainError> {
    let imp = get_for(store, actor, id).await?;
    if imp.user_id != actor.user_id {
        return Err(DomainError::Forbidden(
            "only the person who uploaded the file runs its import".into(),
        ));
    }
    let Some(m) = imp.mapping.clone() else {
        return Err(DomainError::Conflict("map the columns first".into()));
    };
    if !matches!(imp.status.as_str(), "mapped" | "dry_done") {
        return Err(DomainError::Conflict(format!(
            "the import is {}",
            imp.status
        )));
    }
    let now = store.now();
    let tx = store.db.begin().await?;
    let n = exec(
        &tx,
        Query::update()
            .table(t("imports"))
            .value(t("status"), if dry { "dry_running" } else { "running" })
            .value(t("dry"), dry)
            .value(t("processed"), m.header_row as i64)
            .value(t("created_count"), 0i64)
            .value(t("updated_count"), 0i64)
            .value(t("skipped_count"), 0i64)
            .value(t("failed_count"), 0i64)
            .value(t("updated_at"), now)
            .and_where(Expr::col(t("id")).eq(id))
            .and_where(Expr::col(t("status")).is_in(["mapped", "dry_done"])),
    )
    .await?;
    if n != 1 {
        return Err(DomainError::Conflict("the import started meanwhile".into()));
    }
    exec(
        &tx,
        Query::delete()
            .from_table(t("import_errors"))
            .and_where(Expr::col(t("import_id")).eq(id)),
    )
    .await?;
    run::enqueue(&tx, now, id, &ids::new_id(), m.header_row as i64).await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new(if dry {
            "import.dry_run_started"
        } else {
            "import.started"
        })
        .object("import", id)
        .details(json!({"mapping": m})),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    get_for(store, actor, id).await
}

/// Failed rows: (row number in the file, 1-based; reason).
pub async fn errors(
    store: &Store,
    actor: &Access,
    id: &str,
    limit: u64,
) -> Result<Vec<(i64, String)>, DomainError> {
    get_for(store, actor, id).await?;
    all(
        store.db.reader(),
        Query::select()
            .columns(["row_no", "reason"].map(t))
            .from(t("import_errors"))
            .and_where(Expr::col(t("import_id")).eq(id))
            .order_by(t("row_no"), Order::Asc)
            .limit(limit),
    )
    .await?
    .iter()
    .map(|r| Ok((get::<i64>(r, "row_no")? + 1, get(r, "reason")?)))
    .collect()
}

/// The error file: the header row, then every failed row as it was with the reason added, as
/// CSV (UTF-8 with BOM) to fix and import again.
pub async fn error_file(store: &Store, actor: &Access, id: &str) -> Result<Vec<u8>, DomainError> {
    let imp = get_for(store, actor, id).await?;
    raw::still_kept(&imp)?;
    let header = imp.mapping.as_ref().map_or(0, |m| m.header_row as i64);
    let failed = errors(store, actor, id, 1_000_000).await?;
    // Rows as they were in the file, which may differ in length.
    let mut sink = CsvSink::ragged();
    let mut head = rows_between(store, id, header, header + 1)
        .await?
        .pop()
        .map(|(_, r)| r)
        .unwrap_or_default();
    head.push("错误原因 / Error".into());
    sink.row(&head)?;
    for chunk in failed.chunks(500) {
        let (from, to) = (chunk[0].0 - 1, chunk[chunk.len() - 1].0);
        let rows = rows_between(store, id, from, to).await?;
        for (row_no, reason) in chunk {
            if let Some((_, cells)) = rows.iter().find(|(n, _)| *n == row_no - 1) {
                let mut rec = [cells.clone()];
                raw::mask(actor, &imp, &mut rec, None);
                let [mut rec] = rec;
                rec.push(reason.clone());
                sink.row(&rec)?;
            }
        }
    }
    let out = sink.take()?;
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("import.error_file").object("import", id),
    )
    .await?;
    Ok(out)
}

/// Remove the records a finished import created, where nobody has changed them since; updated
/// records keep their new values. Audited with the counts.
pub async fn undo(store: &Store, actor: &Access, id: &str) -> Result<Import, DomainError> {
    let imp = get_for(store, actor, id).await?;
    if imp.status != "done" {
        return Err(DomainError::Conflict(format!(
            "only a finished import can be undone; this one is {}",
            imp.status
        )));
    }
    let object = Object::parse(&imp.object).ok_or(DomainError::NotFound)?;
    let def = importable(object).ok_or(DomainError::NotFound)?;
    let created: Vec<String> = all(
        store.db.reader(),
        Query::select()
            .column(t("record_id"))
            .from(t("import_records"))
            .and_where(Expr::col(t("import_id")).eq(id))
            .and_where(Expr::col(t("action")).eq("created")),
    )
    .await?
    .iter()
    .map(|r| get::<String>(r, "record_id"))
    .collect::<Result<_, _>>()?;
    let mut removed = 0i64;
    let mut kept = 0i64;
    for chunk in created.chunks(500) {
        let unchanged: Vec<String> = all(
            store.db.reader(),
            Query::select()
                .column(t("id"))
                .from(t(def.table))
                .and_where(Expr::col(t("id")).is_in(chunk.to_vec()))
                .and_where(Expr::col(t("updated_at")).equals(t("created_at"))),
        )
        .await?
        .iter()
        .map(|r| get::<String>(r, "id"))
        .collect::<Result<_, _>>()?;
        kept += (chunk.len() - unchanged.len()) as i64;
        for rid in unchanged {
            match records::delete(store, actor, def, &rid, None).await {
                Ok(()) => removed += 1,
                // Gone already, or something now depends on it (a deal on the account).
                Err(
                    DomainError::NotFound | DomainError::Conflict(_) | DomainError::Forbidden(_),
                ) => kept += 1,
                Err(e) => return Err(e),
            }
        }
    }
    let now = store.now();
    let tx = store.db.begin().await?;
    exec(
        &tx,
        Query::update()
            .table(t("imports"))
            .value(t("status"), "undone")
            .value(t("undone_count"), removed)
            .value(t("updated_at"), now)
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("import.undone")
            .object("import", id)
            .details(json!({"removed": removed, "kept_changed": kept})),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    get_for(store, actor, id).await
}

/// Whether a job kind is an import batch (run outside the job's own transaction).
pub fn is_import_job(kind: &str) -> bool {
    kind == IMPORT_JOB
}

/// The job of the batch after row `after` of one run (`run` tells runs of one import apart: a
/// dry run and the import itself start from the same row).
pub(crate) fn jobs_new(id: &str, run: &str, after: i64, now: DateTime<Utc>) -> jobs::NewJob {
    jobs::NewJob::new(IMPORT_JOB, json!({"import_id": id, "run": run}), now)
        .dedupe(format!("{IMPORT_JOB}:{id}:{run}:{after}"))
}
