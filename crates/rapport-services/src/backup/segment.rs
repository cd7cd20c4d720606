//! A WAL segment: the transactions committed during about a second, as the shipper read them
//! tick by tick. Plain form (before compression and encryption): one JSON line describing
//! the parts, then their frames one after the other.

use chrono::{DateTime, Utc};
use rapport_core::DomainError;
use rapport_db::WalFrames;
use serde::{Deserialize, Serialize};

/// The frames one tick read from one WAL, and when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Part {
    /// The tick's time: every transaction committed before it is in this part or before.
    pub at: DateTime<Utc>,
    pub salt: String,
    pub ckpt_seq: u32,
    pub page_size: u32,
    pub first_frame: u32,
    pub frames: u32,
    pub bytes: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    seq: u64,
    parts: Vec<Part>,
}

/// Parts on their way into a segment.
#[derive(Debug, Default)]
pub struct Pending {
    pub parts: Vec<Part>,
    pub bytes: Vec<u8>,
}

impl Pending {
    pub fn push(&mut self, at: DateTime<Utc>, f: &WalFrames) {
        self.parts.push(Part {
            at,
            salt: hex::encode(f.salt),
            ckpt_seq: f.ckpt_seq,
            page_size: f.page_size,
            first_frame: f.first_frame,
            frames: f.count(),
            bytes: f.bytes.len() as u64,
        });
        self.bytes.extend_from_slice(&f.bytes);
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    pub fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        Some((self.parts.first()?.at, self.parts.last()?.at))
    }

    pub fn encode(&self, seq: u64) -> Result<Vec<u8>, DomainError> {
        let mut out = serde_json::to_vec(&Header {
            seq,
            parts: self.parts.clone(),
        })
        .map_err(DomainError::internal)?;
        out.push(b'\n');
        out.extend_from_slice(&self.bytes);
        Ok(out)
    }
}

/// A segment's parts, each with its frames.
pub type Parts<'a> = Vec<(Part, &'a [u8])>;

/// A segment read back: its number and its parts with their frames.
pub fn decode(data: &[u8]) -> Result<(u64, Parts<'_>), DomainError> {
    let bad = |what: &str| DomainError::Internal(format!("backup file damaged: segment {what}"));
    let nl = data
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| bad("has no header"))?;
    let header: Header =
        serde_json::from_slice(&data[..nl]).map_err(|_| bad("header unreadable"))?;
    let mut rest = &data[nl + 1..];
    let mut out = Vec::with_capacity(header.parts.len());
    for p in header.parts {
        let n = usize::try_from(p.bytes).map_err(|_| bad("part too large"))?;
        if n > rest.len() {
            return Err(bad("is shorter than its header says"));
        }
        let (frames, tail) = rest.split_at(n);
        rest = tail;
        out.push((p, frames));
    }
    if !rest.is_empty() {
        return Err(bad("is longer than its header says"));
    }
    Ok((header.seq, out))
}
