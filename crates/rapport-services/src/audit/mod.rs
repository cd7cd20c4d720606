//! The audit trail: append-only and hash-chained. Each entry's hash covers the previous
//! entry's hash and its own canonical content, keyed with the key file's audit key (HMAC), so
//! a row changed, removed or reordered directly in the database is found by [`verify`], and
//! the chain cannot be hashed again by whoever lacks the key file. Signed [`anchor`]s kept
//! outside the database catch a trail cut short or replaced. Entries are written in the caller's
//! transaction, so a change and its audit entry commit together or not at all. Entries that go
//! with no other write wait in the read journal on SQLite ([`journal`], ADR 0017).

pub mod anchor;
mod journal;
pub mod subjects;
mod verify;

pub use verify::{verify, ChainProblem, VerifyReport};

pub(crate) use journal::Journal;

use crate::{Keyring, Store};
use rapport_core::{DomainError, Principal};
use rapport_db::{all, db_err, exec, get, one};
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone)]
pub struct Entry {
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub details: Value,
    /// When it happened, if not when it is written (entries moved from the read journal).
    pub(crate) at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Entry {
    pub fn new(action: impl Into<String>) -> Self {
        Entry {
            action: action.into(),
            object_type: None,
            object_id: None,
            details: Value::Object(Default::default()),
            at: None,
        }
    }

    pub fn object(mut self, object_type: &str, id: &str) -> Self {
        self.object_type = Some(object_type.to_string());
        self.object_id = Some(id.to_string());
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// The fields the hash covers, in a fixed order.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: i64,
    at: &'a str,
    actor_id: &'a str,
    actor_email: Option<&'a str>,
    session_id: Option<&'a str>,
    token_id: Option<&'a str>,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    action: &'a str,
    object_type: Option<&'a str>,
    object_id: Option<&'a str>,
    details: &'a str,
    prev_hash: &'a str,
}

/// Marks a keyed hash (HMAC-SHA256 under the audit key). Entries written before the chain
/// was keyed hold a plain SHA-256; after the first keyed entry, every entry must be keyed.
const KEYED: &str = "k:";

fn hash_of(ring: &Keyring, c: &Canonical<'_>) -> Result<String, DomainError> {
    let json = serde_json::to_string(c).map_err(DomainError::internal)?;
    Ok(format!("{KEYED}{}", ring.audit_mac(&[json.as_bytes()])))
}

/// The hash an entry holds, recomputed as it was written (keyed or, before the chain was
/// keyed, plain).
fn rehash(ring: &Keyring, stored: &str, c: &Canonical<'_>) -> Result<String, DomainError> {
    if stored.starts_with(KEYED) {
        return hash_of(ring, c);
    }
    let json = serde_json::to_string(c).map_err(DomainError::internal)?;
    let mut h = Sha256::new();
    h.update(json.as_bytes());
    Ok(hex::encode(h.finalize()))
}

fn t(s: &str) -> Alias {
    Alias::new(s)
}

const COLUMNS: [&str; 14] = [
    "seq",
    "at",
    "actor_id",
    "actor_email",
    "session_id",
    "token_id",
    "ip",
    "user_agent",
    "action",
    "object_type",
    "object_id",
    "details",
    "prev_hash",
    "hash",
];

/// Rows per INSERT when a batch is written (14 values each, well under both backends' limit
/// on bound parameters).
const INSERT_ROWS: usize = 256;

/// Append one entry in the caller's transaction.
pub async fn record<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    actor: &Principal,
    entry: Entry,
) -> Result<(), DomainError> {
    record_many(c, store, std::iter::once((actor, &entry))).await
}

/// Append entries in order in the caller's transaction: the chain's head is read and written
/// once and the entries go in with multi-row INSERTs, so a batch costs a few statements
/// rather than four per entry.
pub async fn record_many<'a, C: ConnectionTrait>(
    c: &C,
    store: &Store,
    entries: impl IntoIterator<Item = (&'a Principal, &'a Entry)>,
) -> Result<(), DomainError> {
    let entries: Vec<(&Principal, &Entry)> = entries.into_iter().collect();
    if entries.is_empty() {
        return Ok(());
    }
    // Taking the head row's write lock first serialises concurrent writers on both backends.
    exec(
        c,
        Query::update()
            .table(t("audit_head"))
            .value(t("seq"), Expr::col(t("seq")).add(entries.len() as i64))
            .and_where(Expr::col(t("id")).eq(1)),
    )
    .await?;
    let head = one(
        c,
        Query::select()
            .columns([t("seq"), t("hash")])
            .from(t("audit_head"))
            .and_where(Expr::col(t("id")).eq(1)),
    )
    .await?
    .ok_or_else(|| DomainError::Internal("audit chain head is missing".into()))?;
    let last_seq: i64 = get(&head, "seq")?;
    let mut seq = last_seq - entries.len() as i64;
    let mut prev_hash: String = get(&head, "hash")?;
    let time =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let now = time(store.now());
    let ring = store.keys()?;
    for chunk in entries.chunks(INSERT_ROWS) {
        let mut insert = Query::insert();
        insert.into_table(t("audit_log")).columns(COLUMNS.map(t));
        for (actor, entry) in chunk {
            seq += 1;
            let at = entry.at.map_or_else(|| now.clone(), time);
            let details = entry.details.to_string();
            let actor_id = match &actor.viewed_by {
                Some(admin) => admin.as_str(),
                None => actor.user_id.as_str(),
            };
            let hash = hash_of(
                &ring,
                &Canonical {
                    seq,
                    at: &at,
                    actor_id,
                    actor_email: Some(actor.email.as_str()),
                    session_id: actor.session_id.as_deref(),
                    token_id: actor.token_id.as_deref(),
                    ip: actor.ip.as_deref(),
                    user_agent: actor.user_agent.as_deref(),
                    action: &entry.action,
                    object_type: entry.object_type.as_deref(),
                    object_id: entry.object_id.as_deref(),
                    details: &details,
                    prev_hash: &prev_hash,
                },
            )?;
            insert.values_panic([
                seq.into(),
                at.into(),
                actor_id.into(),
                actor.email.clone().into(),
                actor.session_id.clone().into(),
                actor.token_id.clone().into(),
                actor.ip.clone().into(),
                actor.user_agent.clone().into(),
                entry.action.clone().into(),
                entry.object_type.clone().into(),
                entry.object_id.clone().into(),
                details.into(),
                std::mem::replace(&mut prev_hash, hash.clone()).into(),
                hash.into(),
            ]);
        }
        exec(c, &insert).await?;
    }
    exec(
        c,
        Query::update()
            .table(t("audit_head"))
            .value(t("hash"), prev_hash)
            .and_where(Expr::col(t("id")).eq(1)),
    )
    .await?;
    Ok(())
}

/// Append an entry that goes with no other write (reads, searches, sign-ins). Entries from
/// concurrent requests are written together in one transaction (group commit), and the call
/// returns once its entry is durable, so an acknowledged read is always in the trail. On
/// SQLite that transaction is the read journal's; the entry joins the chain within about a
/// second (ADR 0017).
pub async fn record_alone(
    store: &Store,
    actor: &Principal,
    entry: Entry,
) -> Result<(), DomainError> {
    let writer = store.audit_queue();
    let (ack, done) = tokio::sync::oneshot::channel();
    if writer
        .entries
        .send((actor.clone(), entry.clone(), ack))
        .await
        .is_err()
    {
        // The writer is gone (its runtime ended): write directly.
        let tx = store.db.begin().await?;
        record(&tx, store, actor, entry).await?;
        return tx.commit().await.map_err(db_err);
    }
    acked(done).await
}

/// Move every entry waiting in the read journal into the trail, so what is read next from
/// `audit_log` holds every acknowledged entry. Nothing to do without a journal.
pub async fn flush(store: &Store) -> Result<(), DomainError> {
    let Some(journal) = store.db.journal() else {
        return Ok(());
    };
    let (ack, done) = tokio::sync::oneshot::channel();
    if store.audit_queue().flush.send(ack).await.is_err() {
        return move_journal(store, journal).await;
    }
    acked(done).await
}

/// The outcome the audit writer reports for a queued entry or a flush.
async fn acked(done: tokio::sync::oneshot::Receiver<Outcome>) -> Result<(), DomainError> {
    match done.await {
        Ok(Ok(())) => Ok(()),
        // A database that went away (a failover) stays "unavailable, try again".
        Ok(Err(Failed::Storage(e))) => Err(DomainError::Storage(e)),
        Ok(Err(Failed::Other(e))) => Err(DomainError::Internal(e)),
        Err(_) => Err(DomainError::Internal("the audit writer stopped".into())),
    }
}

/// One queued entry and where to report its outcome.
pub type QueuedEntry = (Principal, Entry, tokio::sync::oneshot::Sender<Outcome>);

type FlushRequest = tokio::sync::oneshot::Sender<Outcome>;

/// What the audit writer reports to each request it wrote (or failed to write) an entry for.
type Outcome = Result<(), Failed>;

/// Why the audit writer failed, shared by every request of the batch.
#[derive(Debug, Clone)]
pub enum Failed {
    Storage(rapport_core::StorageError),
    Other(String),
}

impl From<DomainError> for Failed {
    fn from(e: DomainError) -> Failed {
        match e {
            DomainError::Storage(s) => Failed::Storage(s),
            other => Failed::Other(other.to_string()),
        }
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Storage(s) => write!(f, "{s}"),
            Failed::Other(s) => f.write_str(s),
        }
    }
}

/// The queues of the background audit writer.
#[derive(Debug, Clone)]
pub struct Writer {
    entries: tokio::sync::mpsc::Sender<QueuedEntry>,
    flush: tokio::sync::mpsc::Sender<FlushRequest>,
}

/// Most entries written in one group-commit transaction.
const BATCH: usize = 256;

/// How often the read journal is moved into the trail. A move hashes its entries on a
/// runtime thread and commits to the main database: small moves often keep each pause short
/// (once a second, each pause held up the requests queued behind it; ADR 0019).
const MOVE_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Journal entries moved per transaction.
const MOVE_BATCH: usize = 2000;

/// The background writer behind [`record_alone`] and, with a read journal, the task that
/// moves it into the trail.
pub fn spawn_writer(store: Store) -> Writer {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<QueuedEntry>(4096);
    let (flush_tx, flush_rx) = tokio::sync::mpsc::channel::<FlushRequest>(256);
    let journal = store.db.journal().cloned();
    let background = store.background_handle();
    if let Some(journal) = &journal {
        let (s, j) = (store.clone(), Arc::clone(journal));
        background.spawn("audit journal mover", move |stop| {
            mover(s, j, flush_rx, stop)
        });
    }
    background.spawn("audit writer", move |stop| async move {
        if let Some(journal) = &journal {
            // A journal file made anew must not reuse ids the trail has taken.
            if let Err(e) = journal_ids_after_moved(&store, journal).await {
                tracing::warn!(error = %e, "could not read how far the audit read journal was moved");
            }
        }
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            // Waits for one entry, then takes every other one already queued; asked to stop,
            // writes what is queued and ends.
            let n = tokio::select! {
                n = rx.recv_many(&mut batch, BATCH) => n,
                _ = stop.requested() => {
                    rx.close();
                    rx.recv_many(&mut batch, BATCH).await
                }
            };
            if n == 0 {
                break;
            }
            let result = match &journal {
                Some(journal) => {
                    let now = store.now();
                    let pending: Vec<journal::JournalEntry> = batch
                        .iter()
                        .map(|(a, e, _)| journal::pending(e.at.unwrap_or(now), a, e))
                        .collect();
                    journal.on_thread(move |j| j.append(&pending)).await
                }
                None => {
                    async {
                        let t = store.db.begin().await?;
                        record_many(&t, &store, batch.iter().map(|(a, e, _)| (a, e))).await?;
                        t.commit().await.map_err(db_err)
                    }
                    .await
                }
            }
            .map_err(Failed::from);
            for (_, _, ack) in batch.drain(..) {
                let _ = ack.send(result.clone());
            }
        }
    });
    Writer {
        entries: tx,
        flush: flush_tx,
    }
}

async fn journal_ids_after_moved(store: &Store, journal: &Arc<Journal>) -> Result<(), DomainError> {
    let moved = journal_moved(store.db.writer()).await?;
    journal.on_thread(move |j| j.ids_after(moved)).await
}

/// The last journal id the trail has taken (`audit_head.journal_moved`).
async fn journal_moved<C: ConnectionTrait>(c: &C) -> Result<i64, DomainError> {
    let head = one(
        c,
        Query::select()
            .column(t("journal_moved"))
            .from(t("audit_head"))
            .and_where(Expr::col(t("id")).eq(1)),
    )
    .await?
    .ok_or_else(|| DomainError::Internal("audit chain head is missing".into()))?;
    get(&head, "journal_moved")
}

/// Move the journal every [`MOVE_EVERY`], and at once when asked to flush.
async fn mover(
    store: Store,
    journal: Arc<Journal>,
    mut flushes: tokio::sync::mpsc::Receiver<FlushRequest>,
    stop: crate::background::Stop,
) {
    let mut waiting = Vec::new();
    loop {
        let last = tokio::select! {
            n = flushes.recv_many(&mut waiting, 256) => {
                if n == 0 {
                    return;
                }
                false
            }
            _ = tokio::time::sleep(MOVE_EVERY) => false,
            // One last move, so what was read before the stop is in the trail at once.
            _ = stop.requested() => true,
        };
        let result = move_journal(&store, &journal).await.map_err(Failed::from);
        if let Err(e) = &result {
            tracing::warn!(error = %e, "moving the audit read journal failed; it is kept and tried again");
        }
        for ack in waiting.drain(..) {
            let _ = ack.send(result.clone());
        }
        if last {
            return;
        }
    }
}

/// Move the journal's entries into the trail, oldest first, [`MOVE_BATCH`] per transaction.
async fn move_journal(store: &Store, journal: &Arc<Journal>) -> Result<(), DomainError> {
    loop {
        let rows = journal.on_thread(|j| j.oldest(MOVE_BATCH)).await?;
        let Some(last) = rows.last().map(|(id, _)| *id) else {
            return Ok(());
        };
        let tx = store.db.begin().await?;
        let moved = journal_moved(&tx).await?;
        // Entries at or below `moved` are in the trail already (a crash came between the
        // move's commit and the journal's delete).
        let parts: Vec<(Principal, Entry)> = rows
            .iter()
            .filter(|(id, _)| *id > moved)
            .map(|(_, p)| journal::parts(p))
            .collect();
        if !parts.is_empty() {
            record_many(&tx, store, parts.iter().map(|(a, e)| (a, e))).await?;
            exec(
                &tx,
                Query::update()
                    .table(t("audit_head"))
                    .value(t("journal_moved"), last)
                    .and_where(Expr::col(t("id")).eq(1)),
            )
            .await?;
        }
        tx.commit().await.map_err(db_err)?;
        let upto = last.max(moved);
        journal.on_thread(move |j| j.forget(upto)).await?;
        if rows.len() < MOVE_BATCH {
            return Ok(());
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub actor_id: String,
    pub actor_email: Option<String>,
    pub session_id: Option<String>,
    pub token_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub details: Value,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<String>,
    pub action: Option<String>,
    /// Any of these actions (exact names).
    pub actions: Vec<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// Entries about any of these objects as well (records merged into `object_id`).
    pub also_object_ids: Vec<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// Entries with seq below this (cursor; newest first).
    pub before_seq: Option<i64>,
    pub limit: u64,
}

/// The audit page and API: administrators only, and the search itself is audited.
pub async fn search_trail(
    store: &Store,
    actor: &Principal,
    f: &AuditFilter,
) -> Result<Vec<AuditRow>, DomainError> {
    use rapport_core::{Action, Object, Scope};
    if actor.scope(Object::AUDIT, Action::Read) != Scope::All {
        return Err(DomainError::Forbidden(
            "the audit trail is for administrators".into(),
        ));
    }
    let rows = search_unchecked(store, f).await?;
    record_alone(
        store,
        actor,
        Entry::new("audit.searched").details(serde_json::json!({"filter": {"action": f.action, "actor_id": f.actor_id, "object_type": f.object_type}})),
    )
    .await?;
    Ok(rows)
}

/// Search the trail, newest first, without a permission check: for services that checked
/// access themselves ([`search_trail`], record history, privacy export).
pub(crate) async fn search_unchecked(
    store: &Store,
    f: &AuditFilter,
) -> Result<Vec<AuditRow>, DomainError> {
    flush(store).await?;
    let mut q = Query::select();
    q.columns(COLUMNS[..12].iter().map(|c| t(c)))
        .from(t("audit_log"))
        .order_by(t("seq"), Order::Desc)
        .limit(f.limit.clamp(1, 500));
    if let Some(v) = &f.actor_id {
        q.and_where(Expr::col(t("actor_id")).eq(v.as_str()));
    }
    if let Some(v) = &f.action {
        if v.ends_with('.') {
            q.and_where(Expr::col(t("action")).like(format!("{v}%")));
        } else {
            q.and_where(Expr::col(t("action")).eq(v.as_str()));
        }
    }
    if !f.actions.is_empty() {
        q.and_where(Expr::col(t("action")).is_in(f.actions.clone()));
    }
    if let Some(v) = &f.object_type {
        q.and_where(Expr::col(t("object_type")).eq(v.as_str()));
    }
    if let Some(v) = &f.object_id {
        let mut ids = vec![v.clone()];
        ids.extend(f.also_object_ids.iter().cloned());
        q.and_where(Expr::col(t("object_id")).is_in(ids));
    }
    if let Some(v) = &f.since {
        q.and_where(Expr::col(t("at")).gte(v.as_str()));
    }
    if let Some(v) = &f.until {
        q.and_where(Expr::col(t("at")).lt(v.as_str()));
    }
    if let Some(v) = f.before_seq {
        q.and_where(Expr::col(t("seq")).lt(v));
    }
    let rows = all(store.db.reader(), &q).await?;
    let mut rows = rows
        .iter()
        .map(|r| {
            let details: String = get(r, "details")?;
            Ok(AuditRow {
                seq: get(r, "seq")?,
                at: get(r, "at")?,
                actor_id: get(r, "actor_id")?,
                actor_email: get(r, "actor_email")?,
                session_id: get(r, "session_id")?,
                token_id: get(r, "token_id")?,
                ip: get(r, "ip")?,
                user_agent: get(r, "user_agent")?,
                action: get(r, "action")?,
                object_type: get(r, "object_type")?,
                object_id: get(r, "object_id")?,
                details: serde_json::from_str(&details).unwrap_or(Value::Null),
            })
        })
        .collect::<Result<Vec<_>, DomainError>>()?;
    subjects::open_rows(store, &mut rows).await?;
    Ok(rows)
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod journal_tests;
