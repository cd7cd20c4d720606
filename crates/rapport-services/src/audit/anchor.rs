//! Anchors: signed checkpoints of the audit chain kept outside the database. An anchor names
//! an entry (its number and hash) and is signed with the key file's audit key, so whoever can
//! write to the database but not read the key file can neither forge one nor rewrite the
//! entries one vouches for; [`super::verify`] checks the chain against every anchor, which
//! catches a trail cut short or rewritten from the start. Servers append one to
//! `anchors.jsonl` in the anchor directory at a regular interval when the chain has grown, and
//! when they stop.

use crate::{Keyring, Store};
use rapport_core::DomainError;
use rapport_db::{get, one};
use sea_orm::sea_query::{Alias, Expr, Query};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const FILE: &str = "anchors.jsonl";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
    pub at: String,
    pub mac: String,
}

fn mac_of(ring: &Keyring, seq: i64, hash: &str, at: &str) -> String {
    ring.audit_mac(&[
        b"rapport audit anchor",
        seq.to_string().as_bytes(),
        hash.as_bytes(),
        at.as_bytes(),
    ])
}

/// What the anchor file holds: the anchors whose signature is good, and the lines that are
/// not (edited, or signed with another key).
#[derive(Debug, Default)]
pub struct Anchors {
    pub good: Vec<Anchor>,
    pub bad: Vec<usize>,
}

/// Read the anchors in `dir` (none if there is no file yet).
pub fn read(dir: &Path, ring: &Keyring) -> Result<Anchors, DomainError> {
    let path = dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Anchors::default()),
        Err(e) => {
            return Err(DomainError::Internal(format!(
                "cannot read the audit anchors {}: {e}",
                path.display()
            )))
        }
    };
    let mut out = Anchors::default();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str::<Anchor>(line) {
            Ok(a) if a.mac == mac_of(ring, a.seq, &a.hash, &a.at) => out.good.push(a),
            _ => out.bad.push(i + 1),
        }
    }
    Ok(out)
}

/// The chain's head: its last entry's number and hash.
pub(super) async fn head(store: &Store) -> Result<(i64, String), DomainError> {
    let head = one(
        store.db.reader(),
        Query::select()
            .columns([Alias::new("seq"), Alias::new("hash")])
            .from(Alias::new("audit_head"))
            .and_where(Expr::col(Alias::new("id")).eq(1)),
    )
    .await?
    .ok_or_else(|| DomainError::Internal("audit chain head is missing".into()))?;
    Ok((get(&head, "seq")?, get(&head, "hash")?))
}

/// Append an anchor for the chain's current head to `dir`, unless the newest anchor there
/// already names it (or the chain is empty). Returns the anchor written.
pub async fn write(store: &Store, dir: &Path) -> Result<Option<Anchor>, DomainError> {
    // Reads waiting in the read journal join the chain first. At a stop the journal's mover
    // may end before this asks it: the head as it stands is anchored then, and the journal
    // joins the chain at the next start.
    if let Err(e) = super::flush(store).await {
        tracing::debug!(error = %e, "the audit read journal was not moved before anchoring");
    }
    let (seq, hash) = head(store).await?;
    if seq == 0 {
        return Ok(None);
    }
    let ring = store.keys()?;
    if read(dir, &ring)?.good.last().is_some_and(|a| a.seq == seq) {
        return Ok(None);
    }
    let at = store
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let anchor = Anchor {
        mac: mac_of(&ring, seq, &hash, &at),
        seq,
        hash,
        at,
    };
    append(dir, &anchor)?;
    Ok(Some(anchor))
}

fn append(dir: &Path, anchor: &Anchor) -> Result<(), DomainError> {
    let fail = |e: std::io::Error| {
        DomainError::Internal(format!(
            "cannot write the audit anchor to {}: {e}",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut line = serde_json::to_string(anchor).map_err(DomainError::internal)?;
    line.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(FILE))
        .map_err(fail)?;
    f.write_all(line.as_bytes()).map_err(fail)?;
    f.sync_all().map_err(fail)
}

/// What the anchoring task does after it wrote an anchor (queue its email, `mail::anchors`,
/// which sits above the trail).
pub type AfterAnchor = std::sync::Arc<
    dyn Fn(Store, Anchor) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

/// Where anchors go, how often, and what follows each: set by the server's configuration.
#[derive(Clone)]
pub struct Settings {
    pub dir: PathBuf,
    pub every: std::time::Duration,
    pub then: Option<AfterAnchor>,
}

/// The server's anchoring task: an anchor every `every` while the chain grows, and a last one
/// when the server stops.
pub fn spawn(store: &Store, settings: Settings) {
    let s = store.clone();
    store
        .background()
        .spawn("audit anchors", move |stop| async move {
            let then = |a: Option<Anchor>| {
                let (s, then) = (s.clone(), settings.then.clone());
                async move {
                    if let (Some(a), Some(then)) = (a, then) {
                        then(s, a).await;
                    }
                }
            };
            loop {
                match write(&s, &settings.dir).await {
                    Ok(a) => then(a).await,
                    Err(e) => tracing::error!(error = %e, "cannot write an audit anchor"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(settings.every) => {}
                    _ = stop.requested() => break,
                }
            }
            match write(&s, &settings.dir).await {
                Ok(a) => then(a).await,
                Err(e) => tracing::error!(error = %e, "cannot write the last audit anchor"),
            }
        });
}
