//! Verifying the chain: every entry's hash recomputed in order (keyed or, before the chain
//! was keyed, plain), each link checked, and the whole checked against the signed anchors
//! kept outside the database. Names the first entry found wrong and how.

use super::{all, anchor, flush, get, rehash, t, Canonical, COLUMNS, GENESIS, KEYED};
use crate::{Keyring, Store};
use rapport_core::DomainError;
use sea_orm::sea_query::{Expr, Order, Query};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries verified (before the break, if there is one).
    pub entries: i64,
    pub problem: Option<ChainProblem>,
    /// Anchors the chain was checked against, and the newest one's entry and time.
    pub anchors: usize,
    pub latest_anchor: Option<(i64, String)>,
    /// The anchor directory, when anchors are kept.
    pub anchor_dir: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChainProblem {
    /// The sequence number of the first entry found wrong.
    pub seq: i64,
    /// changed | missing | reordered | truncated | rewritten | empty | anchor
    pub kind: &'static str,
    pub message: String,
}

/// One stored entry, as [`verify`] reads it.
struct Stored {
    seq: i64,
    at: String,
    actor_id: String,
    actor_email: Option<String>,
    session_id: Option<String>,
    token_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    action: String,
    object_type: Option<String>,
    object_id: Option<String>,
    details: String,
    prev_hash: String,
    hash: String,
}

impl Stored {
    fn read(r: &sea_orm::QueryResult) -> Result<Stored, DomainError> {
        Ok(Stored {
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
            details: get(r, "details")?,
            prev_hash: get(r, "prev_hash")?,
            hash: get(r, "hash")?,
        })
    }

    /// The hash the entry would have if it had been written as entry `seq`.
    fn hash_as(&self, ring: &Keyring, seq: i64) -> Result<String, DomainError> {
        rehash(
            ring,
            &self.hash,
            &Canonical {
                seq,
                at: &self.at,
                actor_id: &self.actor_id,
                actor_email: self.actor_email.as_deref(),
                session_id: self.session_id.as_deref(),
                token_id: self.token_id.as_deref(),
                ip: self.ip.as_deref(),
                user_agent: self.user_agent.as_deref(),
                action: &self.action,
                object_type: self.object_type.as_deref(),
                object_id: self.object_id.as_deref(),
                details: &self.details,
                prev_hash: &self.prev_hash,
            },
        )
    }
}

/// How far from its place a moved entry is looked for.
const MOVED_WITHIN: i64 = 64;

/// Walk the whole chain in order and name the first entry that was tampered with, then
/// check it against every anchor kept outside the database.
pub async fn verify(store: &Store) -> Result<VerifyReport, DomainError> {
    let ring = store.keys()?;
    let anchor_dir = store.settings.audit_anchor_dir.clone();
    // Read before the walk: every anchor then names an entry the walk reaches.
    let anchors = match &anchor_dir {
        Some(dir) => anchor::read(dir, &ring)?,
        None => anchor::Anchors::default(),
    };
    flush(store).await?;
    let mut report = VerifyReport {
        entries: 0,
        problem: None,
        anchors: anchors.good.len(),
        latest_anchor: anchors.good.last().map(|a| (a.seq, a.at.clone())),
        anchor_dir: anchor_dir.map(|d| d.display().to_string()),
    };
    let fail = |mut report: VerifyReport, entries: i64, seq: i64, kind, message| {
        report.entries = entries;
        report.problem = Some(ChainProblem { seq, kind, message });
        Ok(report)
    };
    if let Some(line) = anchors.bad.first() {
        return fail(
            report,
            0,
            0,
            "anchor",
            format!("line {line} of the anchor file is not an anchor signed with this key file's audit key: it was edited or forged"),
        );
    }
    let by_seq: std::collections::HashMap<i64, &anchor::Anchor> =
        anchors.good.iter().map(|a| (a.seq, a)).collect();
    let db = store.db.reader();
    let mut expected_seq = 1i64;
    let mut prev = GENESIS.to_string();
    let mut keyed = false;
    let mut after = 0i64;
    loop {
        let rows = all(
            db,
            Query::select()
                .columns(COLUMNS.map(t))
                .from(t("audit_log"))
                .and_where(Expr::col(t("seq")).gt(after))
                .order_by(t("seq"), Order::Asc)
                .limit(1000),
        )
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let e = Stored::read(r)?;
            let seq = e.seq;
            after = seq;
            let verified = expected_seq - 1;
            if seq != expected_seq {
                let message = if expected_seq == 1 {
                    format!(
                        "entries 1 to {} are missing: the trail was deleted from its start",
                        seq - 1
                    )
                } else if seq == expected_seq + 1 {
                    format!("entry {expected_seq} is missing: it was deleted from the database")
                } else {
                    format!("entries {expected_seq} to {} are missing: they were deleted from the database", seq - 1)
                };
                return fail(report, verified, expected_seq, "missing", message);
            }
            if keyed && !e.hash.starts_with(KEYED) {
                return fail(report, verified, seq, "changed", format!(
                    "entry {seq} is not keyed although the entries before it are: it was written again without the key file"
                ));
            }
            if e.hash_as(&ring, seq)? != e.hash {
                // An entry that verifies under another number was moved there.
                let lo = (seq - MOVED_WITHIN).max(1);
                let mut moved_from = None;
                for k in (lo..=seq + MOVED_WITHIN).filter(|k| *k != seq) {
                    if e.hash_as(&ring, k)? == e.hash {
                        moved_from = Some(k);
                        break;
                    }
                }
                return match moved_from {
                    Some(k) => fail(report, verified, seq, "reordered", format!(
                        "entry {seq} holds the entry written as {k}: entries {} and {} were swapped or moved",
                        seq.min(k), seq.max(k)
                    )),
                    None => fail(report, verified, seq, "changed", format!(
                        "entry {seq} was changed: its content no longer matches its hash"
                    )),
                };
            }
            if e.prev_hash != prev {
                return fail(
                    report,
                    verified,
                    seq,
                    "reordered",
                    format!(
                        "entry {seq} does not follow entry {}: entries were reordered or replaced",
                        seq - 1
                    ),
                );
            }
            if let Some(a) = by_seq.get(&seq) {
                if a.hash != e.hash {
                    return fail(report, verified, seq, "rewritten", format!(
                        "entry {seq} is not the entry the anchor of {} recorded: the trail was rewritten",
                        a.at
                    ));
                }
            }
            keyed |= e.hash.starts_with(KEYED);
            prev = e.hash;
            expected_seq += 1;
        }
    }
    let last = expected_seq - 1;
    if let Some(a) = anchors
        .good
        .iter()
        .filter(|a| a.seq > last)
        .max_by_key(|a| a.seq)
    {
        let message = if last == 0 {
            format!("the trail is empty, but the anchor of {} recorded {} entries: every entry was deleted", a.at, a.seq)
        } else {
            format!("the trail ends at entry {last}, but the anchor of {} recorded entry {}: its newest entries were deleted", a.at, a.seq)
        };
        return fail(report, last, last + 1, "truncated", message);
    }
    let (head_seq, head_hash) = anchor::head(store).await?;
    if head_seq != last || (last > 0 && head_hash != prev) {
        let message = if last == 0 {
            format!(
                "the trail is empty, but {head_seq} entries were written: every entry was deleted"
            )
        } else {
            format!(
                "entry {} is missing: the chain ends at {last} but {head_seq} entries were written",
                last + 1
            )
        };
        return fail(report, last, last + 1, "truncated", message);
    }
    report.entries = last;
    Ok(report)
}
