//! Exports in the background: a list too large to download at once (or any list, on request)
//! is written by a job, page by page, into encrypted chunks in the database; the user watches
//! its progress, is notified when it is ready, and downloads it for seven days. A job that
//! stops half-way (a crash) starts its file again from the top.

use crate::access::Access;
use crate::objects::def_of;
use crate::records::export::{self, CsvSink, ExportSpec, Format, Pager, Sink, XlsxSink};
use crate::records::ObjectDef;
use crate::{audit, jobs, notifications, Store};
use chrono::{DateTime, Duration, Utc};
use rapport_core::{ids, DomainError, Object};
use rapport_db::{all, db_err, exec, get, one};
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use serde::Serialize;
use serde_json::{json, Value};
use tokio_util::task::AbortOnDropHandle;

pub const EXPORT_JOB: &str = "export.run";
/// Chunks of the file as stored (before encryption). Each is copied several times on its way
/// to the database (ciphertext, its text, the bound value), so smaller chunks keep an export's
/// memory down (ADR 0018).
const CHUNK: usize = 256 << 10;
/// How long a finished export can be downloaded.
pub const KEEP_DAYS: i64 = 7;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

#[derive(Debug, Clone, Serialize)]
pub struct Export {
    pub id: String,
    pub user_id: String,
    pub object: String,
    pub format: Format,
    pub status: String,
    pub total_rows: Option<i64>,
    pub processed: i64,
    pub bytes: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Export {
    pub fn percent(&self) -> i64 {
        match self.total_rows {
            Some(t) if t > 0 => (self.processed * 100 / t).min(100),
            _ if self.status == "done" => 100,
            _ => 0,
        }
    }

    pub fn file_name(&self) -> String {
        format!(
            "{}-{}.{}",
            Object::parse(&self.object)
                .and_then(|o| o.plural())
                .unwrap_or("export"),
            self.created_at.format("%Y%m%d-%H%M"),
            self.format.extension()
        )
    }
}

const COLUMNS: [&str; 11] = [
    "id",
    "user_id",
    "object",
    "format",
    "status",
    "total_rows",
    "processed",
    "bytes",
    "error",
    "created_at",
    "finished_at",
];

fn export_of(r: &sea_orm::QueryResult) -> Result<Export, DomainError> {
    let format: String = get(r, "format")?;
    Ok(Export {
        id: get(r, "id")?,
        user_id: get(r, "user_id")?,
        object: get(r, "object")?,
        format: Format::parse(&format).unwrap_or(Format::Csv),
        status: get(r, "status")?,
        total_rows: get(r, "total_rows")?,
        processed: get(r, "processed")?,
        bytes: get(r, "bytes")?,
        error: get(r, "error")?,
        created_at: get(r, "created_at")?,
        finished_at: get(r, "finished_at")?,
    })
}

/// Remove every stored export file of record type `key` (an erasure: any of them may hold the
/// erased person). Returns how many went.
pub(crate) async fn forget_files<C: sea_orm::ConnectionTrait>(
    c: &C,
    key: &str,
) -> Result<u64, DomainError> {
    let ids: Vec<String> = all(
        c,
        Query::select()
            .column(t("id"))
            .from(t("exports"))
            .and_where(Expr::col(t("object")).eq(key)),
    )
    .await?
    .iter()
    .map(|r| get(r, "id"))
    .collect::<Result<_, _>>()?;
    delete_exports(c, ids).await
}

/// Delete the exports `ids` and their files' chunks. Returns how many exports went.
async fn delete_exports<C: sea_orm::ConnectionTrait>(
    c: &C,
    ids: Vec<String>,
) -> Result<u64, DomainError> {
    if ids.is_empty() {
        return Ok(0);
    }
    exec(
        c,
        Query::delete()
            .from_table(t("export_chunks"))
            .and_where(Expr::col(t("export_id")).is_in(ids.clone())),
    )
    .await?;
    exec(
        c,
        Query::delete()
            .from_table(t("exports"))
            .and_where(Expr::col(t("id")).is_in(ids)),
    )
    .await
}

/// Remove exports older than [`KEEP_DAYS`] (their chunks go with them).
async fn expire(store: &Store) -> Result<(), DomainError> {
    let cutoff = store.now() - Duration::days(KEEP_DAYS);
    let old = all(
        store.db.reader(),
        Query::select()
            .column(t("id"))
            .from(t("exports"))
            .and_where(Expr::col(t("created_at")).lt(cutoff)),
    )
    .await?;
    let ids: Vec<String> = old.iter().map(|r| get(r, "id")).collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Ok(());
    }
    let tx = store.db.begin().await?;
    delete_exports(&tx, ids).await?;
    tx.commit().await.map_err(db_err)
}

/// Start an export of a list in the background (the export right is checked now and again
/// when it runs).
pub async fn start(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    spec: ExportSpec,
    format: Format,
) -> Result<Export, DomainError> {
    export::export_filter(store, actor, def).await?;
    // The list must be valid now: a bad filter or sort is the caller's error, not the job's.
    let total = export::count(store, actor, def, &spec, None).await?;
    if format == Format::Xlsx && total >= 1_048_576 {
        return Err(DomainError::field(
            "format",
            "too_many",
            "an Excel sheet holds at most 1,048,576 rows; export as CSV",
        ));
    }
    expire(store).await?;
    let id = ids::new_id();
    let now = store.now();
    let spec_text = serde_json::to_string(&spec).map_err(DomainError::internal)?;
    let tx = store.db.begin().await?;
    exec(
        &tx,
        Query::insert()
            .into_table(t("exports"))
            .columns(
                [
                    "id",
                    "user_id",
                    "object",
                    "format",
                    "status",
                    "spec",
                    "total_rows",
                    "created_at",
                ]
                .map(t),
            )
            .values_panic([
                id.as_str().into(),
                actor.user_id.as_str().into(),
                def.key().into(),
                format.extension().into(),
                "queued".into(),
                spec_text.into(),
                (total as i64).into(),
                now.into(),
            ]),
    )
    .await?;
    jobs::enqueue(
        &tx,
        now,
        jobs::NewJob::new(EXPORT_JOB, json!({"export_id": id}), now)
            .dedupe(format!("{EXPORT_JOB}:{id}")),
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new(format!("{}.export_started", def.key()))
            .object("export", &id)
            .details(json!({"rows": total, "format": format.extension(), "columns": spec.columns.len() + 1})),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    read(store, actor, &id).await
}

async fn load(store: &Store, id: &str) -> Result<Option<(Export, String)>, DomainError> {
    if !ids::is_valid_id(id) {
        return Ok(None);
    }
    let mut cols = COLUMNS.to_vec();
    cols.push("spec");
    let row = one(
        store.db.reader(),
        Query::select()
            .columns(cols.into_iter().map(t))
            .from(t("exports"))
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    row.map(|r| Ok((export_of(&r)?, get(&r, "spec")?)))
        .transpose()
}

/// One of the caller's exports (anyone else's is 404).
pub async fn read(store: &Store, actor: &Access, id: &str) -> Result<Export, DomainError> {
    match load(store, id).await? {
        Some((e, _)) if e.user_id == actor.user_id => Ok(e),
        _ => Err(DomainError::NotFound),
    }
}

/// The caller's exports, newest first.
pub async fn list(store: &Store, actor: &Access) -> Result<Vec<Export>, DomainError> {
    expire(store).await?;
    let rows = all(
        store.db.reader(),
        Query::select()
            .columns(COLUMNS.map(t))
            .from(t("exports"))
            .and_where(Expr::col(t("user_id")).eq(actor.user_id.as_str()))
            .order_by(t("created_at"), Order::Desc)
            .limit(50),
    )
    .await?;
    rows.iter().map(export_of).collect()
}

pub fn is_export_job(kind: &str) -> bool {
    kind == EXPORT_JOB
}

async fn set_status(
    store: &Store,
    id: &str,
    status: &str,
    error: Option<&str>,
) -> Result<(), DomainError> {
    let mut q = Query::update();
    q.table(t("exports"))
        .value(t("status"), status)
        .value(t("error"), error.map(str::to_string))
        .and_where(Expr::col(t("id")).eq(id));
    if matches!(status, "done" | "failed") {
        q.value(t("finished_at"), store.now());
    }
    exec(store.db.writer(), &q).await?;
    Ok(())
}

/// The file's chunks: cut at [`CHUNK`] bytes, encrypted and stored by a task of their own, so
/// that waiting for a chunk's commit does not hold up reading and writing the next rows.
struct Chunks {
    pending: Vec<u8>,
    bytes: i64,
    /// Dropped by [`Chunks::finish`]: the closed channel ends the writer once it has stored
    /// what it was sent.
    out: Option<tokio::sync::mpsc::Sender<Vec<u8>>>,
    /// Dropped before [`Chunks::finish`] (the export failed), the writer is stopped, so a retry
    /// of the export never meets chunks still being written by the failed run.
    writer: Option<AbortOnDropHandle<Result<(), DomainError>>>,
}

impl Chunks {
    fn new(store: &Store, id: &str) -> Chunks {
        let (out, mut chunks) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
        let (store, id) = (store.clone(), id.to_string());
        let writer = tokio::spawn(async move {
            let mut seq = 0i64;
            while let Some(chunk) = chunks.recv().await {
                let enc = store.keys()?.encrypt_bytes(
                    "export_chunks",
                    "data_enc",
                    &format!("{id}:{seq}"),
                    &chunk,
                )?;
                exec(
                    store.db.writer(),
                    Query::insert()
                        .into_table(t("export_chunks"))
                        .columns(["export_id", "seq", "data_enc"].map(t))
                        .values_panic([id.as_str().into(), seq.into(), enc.into()]),
                )
                .await?;
                seq += 1;
            }
            Ok(())
        });
        Chunks {
            pending: Vec::new(),
            bytes: 0,
            out: Some(out),
            writer: Some(AbortOnDropHandle::new(writer)),
        }
    }

    async fn push(&mut self, data: Vec<u8>) -> Result<(), DomainError> {
        let mut data = &data[..];
        while !data.is_empty() {
            // Filled up to CHUNK exactly: a chunk never carries spare capacity.
            if self.pending.capacity() == 0 {
                self.pending.reserve_exact(CHUNK);
            }
            let take = (CHUNK - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == CHUNK {
                let chunk = std::mem::take(&mut self.pending);
                self.send(chunk).await?;
            }
        }
        Ok(())
    }

    async fn send(&mut self, chunk: Vec<u8>) -> Result<(), DomainError> {
        self.bytes += chunk.len() as i64;
        let sent = match &self.out {
            Some(out) => out.send(chunk).await.is_ok(),
            None => false,
        };
        if !sent {
            // The writer stopped: its error says why.
            let stopped = match self.writer.take() {
                Some(w) => w.await.ok(),
                None => None,
            };
            return Err(match stopped {
                Some(Err(e)) => e,
                _ => DomainError::Internal("the export writer stopped".into()),
            });
        }
        Ok(())
    }

    /// Store what is left and wait until every chunk is stored; the file's size.
    async fn finish(mut self, rest: Vec<u8>) -> Result<i64, DomainError> {
        self.push(rest).await?;
        if !self.pending.is_empty() {
            let chunk = std::mem::take(&mut self.pending);
            self.send(chunk).await?;
        }
        self.out = None;
        if let Some(w) = self.writer.take() {
            w.await
                .map_err(|e| DomainError::Internal(format!("the export writer failed: {e}")))??;
        }
        Ok(self.bytes)
    }
}

/// Run an export (the job): write the file from the top into chunks.
pub async fn run(store: &Store, payload: &Value) -> Result<(), DomainError> {
    let id = payload["export_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some((exp, spec_text)) = load(store, &id).await? else {
        return Ok(()); // expired or removed: nothing to do
    };
    if exp.status == "done" {
        return Ok(());
    }
    let spec: ExportSpec = serde_json::from_str(&spec_text).map_err(DomainError::internal)?;
    let Some(def) = Object::parse(&exp.object).and_then(def_of) else {
        return Err(DomainError::Internal(format!(
            "export of unknown type {}",
            exp.object
        )));
    };
    // A run after a crash starts the file again.
    exec(
        store.db.writer(),
        Query::delete()
            .from_table(t("export_chunks"))
            .and_where(Expr::col(t("export_id")).eq(id.as_str())),
    )
    .await?;
    set_status(store, &id, "running", None).await?;
    match write(store, &exp, def, &spec).await {
        Ok((rows, bytes)) => {
            let actor = crate::imports::principal_of(store, &exp.user_id).await?;
            let tx = store.db.begin().await?;
            exec(
                &tx,
                Query::update()
                    .table(t("exports"))
                    .value(t("status"), "done")
                    .value(t("processed"), rows as i64)
                    .value(t("total_rows"), rows as i64)
                    .value(t("bytes"), bytes)
                    .value(t("finished_at"), store.now())
                    .and_where(Expr::col(t("id")).eq(id.as_str())),
            )
            .await?;
            audit::record(
                &tx,
                store,
                &actor,
                audit::Entry::new(format!("{}.exported", def.key()))
                    .object(def.key(), "*")
                    .details(json!({"export_id": id, "rows": rows, "columns": spec.columns.len() + 1, "format": exp.format.extension(), "background": true})),
            )
            .await?;
            notifications::notify(
                &tx,
                store.now(),
                notifications::NewNotification {
                    user_id: exp.user_id.clone(),
                    kind: "export_ready",
                    subject: exp.file_name(),
                    object: Some(("export".into(), id.clone())),
                    actor_id: None,
                    payload: json!({"rows": rows}),
                    dedupe_key: Some(format!("export:{id}")),
                },
            )
            .await?;
            tx.commit().await.map_err(db_err)
        }
        Err(e) => {
            let message = match &e {
                e if e.is_internal() => "the export failed; try again".to_string(),
                DomainError::Validation(errs) => errs
                    .iter()
                    .map(|f| f.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
                other => other.to_string(),
            };
            set_status(store, &id, "failed", Some(&message)).await?;
            // A user's mistake (no longer allowed, too many rows for Excel) will not get
            // better by trying again; anything else goes back to the job queue.
            if e.is_internal() {
                Err(e)
            } else {
                Ok(())
            }
        }
    }
}

/// Write the rows into chunks, noting progress after each page; returns (rows, bytes).
async fn write(
    store: &Store,
    exp: &Export,
    def: &'static ObjectDef,
    spec: &ExportSpec,
) -> Result<(u64, i64), DomainError> {
    // The user's rights now, not when they asked.
    let actor = crate::imports::principal_of(store, &exp.user_id).await?;
    let mut chunks = Chunks::new(store, &exp.id);
    // The rows are read on the read replica when there is one that has caught up; progress
    // and chunks are written to the primary.
    let reading = store.for_bulk_reads().await;
    let mut pager = Pager::new(&reading, &actor, def, spec).await?;
    let mut csv = CsvSink::default();
    let mut xlsx = match exp.format {
        Format::Xlsx => Some(XlsxSink::new(def.table, true)?),
        Format::Csv => None,
    };
    let mut n = 0u64;
    let mut noted = std::time::Instant::now();
    {
        let sink: &mut (dyn Sink + Send) = match xlsx.as_mut() {
            Some(x) => x,
            None => &mut csv,
        };
        sink.row(&pager.header())?;
    }
    // Pages are read by their own task, one page ahead of the writing: reading (the database
    // thread) and writing the file (CSV, encryption) run at the same time.
    let (page_tx, mut pages) = tokio::sync::mpsc::channel(2);
    let reader = {
        let (store, actor) = (reading, actor.clone());
        tokio::spawn(async move {
            loop {
                let page = pager.next_page(&store, &actor, def).await.transpose();
                let last = !matches!(page, Some(Ok(_)));
                if let Some(page) = page {
                    if page_tx.send(page).await.is_err() {
                        break;
                    }
                }
                if last {
                    break;
                }
            }
        })
    };
    // Stops the reader when the writing gives up (an error).
    let _stop_reader = AbortOnDropHandle::new(reader);
    while let Some(lines) = pages.recv().await.transpose()? {
        {
            let sink: &mut (dyn Sink + Send) = match xlsx.as_mut() {
                Some(x) => x,
                None => &mut csv,
            };
            for l in &lines {
                sink.row(l)?;
            }
        }
        n += lines.len() as u64;
        if xlsx.is_none() {
            chunks.push(csv.take()?).await?;
        }
        // Progress is noted about once a second: each note is a committed write.
        if noted.elapsed() >= std::time::Duration::from_secs(1) {
            exec(
                store.db.writer(),
                Query::update()
                    .table(t("exports"))
                    .value(t("processed"), n as i64)
                    .and_where(Expr::col(t("id")).eq(exp.id.as_str())),
            )
            .await?;
            noted = std::time::Instant::now();
        }
    }
    let rest = match xlsx {
        Some(x) => x.finish()?,
        None => csv.take()?,
    };
    let bytes = chunks.finish(rest).await?;
    Ok((n, bytes))
}

/// The caller's finished export file, chunk by chunk (decrypted). The download is audited.
pub async fn chunk_count(
    store: &Store,
    actor: &Access,
    id: &str,
) -> Result<(Export, i64), DomainError> {
    let exp = read(store, actor, id).await?;
    if exp.status != "done" {
        return Err(DomainError::Conflict(format!(
            "the export is {}; it can be downloaded when it is done",
            exp.status
        )));
    }
    let row = one(
        store.db.reader(),
        Query::select()
            .expr_as(Expr::col(t("seq")).count(), t("n"))
            .from(t("export_chunks"))
            .and_where(Expr::col(t("export_id")).eq(id)),
    )
    .await?;
    let n: i64 = row.map(|r| get(&r, "n")).transpose()?.unwrap_or(0);
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("export.downloaded")
            .object("export", id)
            .details(json!({"object": exp.object, "rows": exp.processed, "bytes": exp.bytes})),
    )
    .await?;
    Ok((exp, n))
}

/// One chunk of an export file, decrypted, without a permission check: call it only for an
/// export [`chunk_count`] let the caller see.
pub async fn chunk_unchecked(store: &Store, id: &str, seq: i64) -> Result<Vec<u8>, DomainError> {
    let row = one(
        store.db.reader(),
        Query::select()
            .column(t("data_enc"))
            .from(t("export_chunks"))
            .and_where(Expr::col(t("export_id")).eq(id))
            .and_where(Expr::col(t("seq")).eq(seq)),
    )
    .await?
    .ok_or(DomainError::NotFound)?;
    let enc: String = get(&row, "data_enc")?;
    store
        .keys()?
        .decrypt_bytes("export_chunks", "data_enc", &format!("{id}:{seq}"), &enc)
}
