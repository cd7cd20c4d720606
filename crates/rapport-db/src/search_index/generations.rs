//! Search tokens in generations (ADR 0026), on SQLite.
//!
//! New tokens go into generation 0, a small tree at the front of `search_tokens`' key, where
//! random inserts touch few pages. When it holds [`Policy::roll_at`] tokens, they are moved
//! into a new generation numbered above every other, so the copy appends at the end of the
//! B-tree. When [`Policy::fanout`] generations of one level exist, they are merged the same way
//! into one of the next level; when no tokens have been written for a while, the generations
//! below the top level are merged into one, so lookups seek few generations while the largest
//! are not copied again for every few new tokens.
//!
//! A move goes one range of tokens at a time, each in a transaction of its own that copies the
//! range into the target and deletes it from the sources. Lookups and clears read every listed
//! generation, sources and target alike, so they see each token exactly once at any moment;
//! a crash leaves a merge that the next [`step`] takes up where it stopped.

use crate::error::db_err;
use crate::Db;
use rapport_core::DomainError;
use sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult, Statement};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// When generations are moved and merged.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Tokens in generation 0 at which they are moved into a generation of their own.
    pub roll_at: u64,
    /// Generations of one level merged into one of the next.
    pub fanout: usize,
    /// About how many tokens one transaction moves.
    pub chunk: u64,
}

impl Default for Policy {
    /// Measured in ADR 0025: generations of 100,000 tokens and merges of eight.
    fn default() -> Policy {
        Policy {
            roll_at: 100_000,
            fanout: 8,
            chunk: 20_000,
        }
    }
}

/// What [`step`] merges beyond what is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tidy {
    /// Only what is due: generation 0 when full, a level with [`Policy::fanout`] generations.
    Due,
    /// Also every generation below the top level into one, when there are two or more: what
    /// the server does once no tokens have been written for a while.
    Idle,
    /// Also every generation but 0 into one (the demo command's end).
    All,
}

/// What one [`step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Nothing was due.
    Nothing,
    /// A merge into this generation was started.
    Started(i64),
    /// One range of tokens was moved.
    Moved(u64),
    /// A merge ended: its sources are no longer listed.
    Finished(i64),
}

#[derive(Debug)]
struct Generation {
    generation: i64,
    level: i64,
    merging_into: Option<i64>,
}

fn sql(s: impl Into<String>) -> Statement {
    Statement::from_string(DatabaseBackend::Sqlite, s)
}

async fn listed<C: ConnectionTrait>(c: &C) -> Result<Vec<Generation>, DomainError> {
    let rows = c
        .query_all(sql(
            "SELECT generation, level, merging_into FROM token_generations ORDER BY generation",
        ))
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok(Generation {
                generation: crate::statements::get(r, "generation")?,
                level: crate::statements::get(r, "level")?,
                merging_into: crate::statements::get(r, "merging_into")?,
            })
        })
        .collect()
}

/// The number of a new generation: above every listed one, so that writing it appends at the
/// end of `search_tokens`' key.
fn above_all(gens: &[Generation]) -> i64 {
    gens.iter().map(|g| g.generation).max().unwrap_or(0) + 1
}

fn list(gens: &[i64]) -> String {
    gens.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The number `n` a one-row query answers (0 when it answers no row).
async fn number<C: ConnectionTrait>(c: &C, query: String) -> Result<u64, DomainError> {
    let row = c.query_one(sql(query)).await.map_err(db_err)?;
    Ok(row
        .map(|r| crate::statements::get::<i64>(&r, "n"))
        .transpose()?
        .unwrap_or(0)
        .max(0) as u64)
}

/// Tokens in generation `g`, counted up to `limit`.
pub(super) async fn count_up_to<C: ConnectionTrait>(
    c: &C,
    g: i64,
    limit: u64,
) -> Result<u64, DomainError> {
    number(
        c,
        format!(
            "SELECT count(*) AS n FROM (SELECT 1 FROM search_tokens WHERE generation = {g} LIMIT {limit})"
        ),
    )
    .await
}

/// Do the next piece of upkeep, if any is due: take a merge in progress one range further (or
/// end it), or start the move of generation 0 (when `look_at_0` and it is full), a merge of
/// a full level, or what `tidy` asks for. Only SQLite keeps generations; on PostgreSQL this
/// does nothing.
pub async fn step(
    db: &Db,
    policy: &Policy,
    look_at_0: bool,
    tidy: Tidy,
) -> Result<Done, DomainError> {
    if !db.is_sqlite() {
        return Ok(Done::Nothing);
    }
    // What is due is worked out on a reader; only the moves hold the write lock.
    let read = db.reader();
    let gens = listed(read).await?;
    let planned = if gens.iter().any(|g| g.merging_into.is_some()) {
        None
    } else {
        match due(read, &gens, policy, look_at_0, tidy).await? {
            None => return Ok(Done::Nothing),
            Some((sources, level)) => {
                let total = count(read, &sources).await?;
                Some((sources, level, total))
            }
        }
    };
    let tx = db.begin().await?;
    let gens = listed(&tx).await?;
    let done = if let Some(target) = gens.iter().find_map(|g| g.merging_into) {
        advance(&tx, &gens, target).await?
    } else if let Some((sources, level, total)) = planned {
        // Another process may have merged them meanwhile.
        if sources
            .iter()
            .all(|s| gens.iter().any(|g| g.generation == *s))
        {
            start(&tx, policy, &gens, &sources, level, total).await?
        } else {
            Done::Nothing
        }
    } else {
        Done::Nothing
    };
    tx.commit().await.map_err(db_err)?;
    Ok(done)
}

/// Tokens in `gens`.
async fn count<C: ConnectionTrait>(c: &C, gens: &[i64]) -> Result<u64, DomainError> {
    number(
        c,
        format!(
            "SELECT count(*) AS n FROM search_tokens WHERE generation IN ({})",
            list(gens)
        ),
    )
    .await
}

/// The merge that is due, if any: its sources and the level of its target.
async fn due<C: ConnectionTrait>(
    c: &C,
    gens: &[Generation],
    policy: &Policy,
    look_at_0: bool,
    tidy: Tidy,
) -> Result<Option<(Vec<i64>, i64)>, DomainError> {
    if look_at_0 && count_up_to(c, 0, policy.roll_at).await? >= policy.roll_at.max(1) {
        return Ok(Some((vec![0], 0)));
    }
    let closed: Vec<&Generation> = gens.iter().filter(|g| g.generation != 0).collect();
    let mut by_level: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for g in &closed {
        by_level.entry(g.level).or_default().push(g.generation);
    }
    for (level, gs) in by_level {
        if gs.len() >= policy.fanout.max(2) {
            return Ok(Some((gs[..policy.fanout.max(2)].to_vec(), level + 1)));
        }
    }
    let top = closed.iter().map(|g| g.level).max().unwrap_or(0);
    let tidied: Vec<&&Generation> = match tidy {
        Tidy::Due => return Ok(None),
        Tidy::Idle => closed.iter().filter(|g| g.level < top).collect(),
        Tidy::All => closed.iter().collect(),
    };
    if tidied.len() < 2 {
        return Ok(None);
    }
    let level = tidied.iter().map(|g| g.level).max().unwrap_or(0);
    Ok(Some((tidied.iter().map(|g| g.generation).collect(), level)))
}

/// List a new generation above every other as the target of `sources`.
async fn start<C: ConnectionTrait>(
    c: &C,
    policy: &Policy,
    gens: &[Generation],
    sources: &[i64],
    level: i64,
    total: u64,
) -> Result<Done, DomainError> {
    let target = above_all(gens);
    // Tokens are hex digests, spread evenly: this many equal ranges of them hold about
    // `chunk` tokens each.
    let ranges = total.div_ceil(policy.chunk.max(1)).clamp(1, 4096);
    c.execute(sql(format!(
        "INSERT INTO token_generations (generation, level, ranges) VALUES ({target}, {level}, {ranges})"
    )))
    .await
    .map_err(db_err)?;
    c.execute(sql(format!(
        "UPDATE token_generations SET merging_into = {target} WHERE generation IN ({})",
        list(sources)
    )))
    .await
    .map_err(db_err)?;
    Ok(Done::Started(target))
}

/// Bounds of the `i`th of `n` equal ranges of four-hex-digit token prefixes: `None` below
/// the first and above the last, so the ranges cover every token however it is spelled.
fn bounds(i: u64, n: u64) -> (Option<String>, Option<String>) {
    let at = |k: u64| format!("{:04x}", k * 0x1_0000 / n);
    let lo = (i > 0).then(|| at(i));
    let hi = (i + 1 < n).then(|| at(i + 1));
    (lo, hi)
}

/// Which of `n` ranges `token` falls in.
fn range_of(token: &str, n: u64) -> u64 {
    (0..n)
        .rev()
        .find(|&i| bounds(i, n).0.is_none_or(|lo| token >= lo.as_str()))
        .unwrap_or(0)
}

fn text(r: &QueryResult, col: &str) -> Result<String, DomainError> {
    crate::statements::get(r, col)
}

/// How far a merge has got: every key below it has been moved.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cursor {
    /// Nothing moved yet.
    Start,
    /// Keys below (type, token) moved.
    At(String, String),
    /// Every key of this type and of the types before it moved.
    PastType(String),
}

impl Cursor {
    /// The condition on `(object_type, token)` for keys not moved yet, and its values.
    fn rest(&self) -> (&'static str, Vec<sea_orm::Value>) {
        match self {
            Cursor::Start => ("", vec![]),
            Cursor::At(ty, tok) => (
                " AND (object_type, token) >= (?, ?)",
                vec![ty.clone().into(), tok.clone().into()],
            ),
            Cursor::PastType(ty) => (" AND object_type > ?", vec![ty.clone().into()]),
        }
    }
}

/// Move the range of tokens after the merge's cursor into `target`, sweeping the key space
/// once in order (so the copies append), or end the merge when the sweep is through.
/// Tokens written into generation 0 during its move, behind the cursor, stay there.
async fn advance<C: ConnectionTrait>(
    c: &C,
    gens: &[Generation],
    target: i64,
) -> Result<Done, DomainError> {
    let sources: Vec<i64> = gens
        .iter()
        .filter(|g| g.merging_into == Some(target))
        .map(|g| g.generation)
        .collect();
    let from = list(&sources);
    let row = c
        .query_one(sql(format!(
            "SELECT coalesce(ranges, 1) AS n, done_type, done_token FROM token_generations \
             WHERE generation = {target}"
        )))
        .await
        .map_err(db_err)?
        .ok_or_else(|| DomainError::Internal(format!("generation {target} is not listed")))?;
    let ranges = crate::statements::get::<i64>(&row, "n")?.max(1) as u64;
    let cursor = match (
        crate::statements::get::<Option<String>>(&row, "done_type")?,
        crate::statements::get::<Option<String>>(&row, "done_token")?,
    ) {
        (None, _) => Cursor::Start,
        (Some(ty), Some(tok)) => Cursor::At(ty, tok),
        (Some(ty), None) => Cursor::PastType(ty),
    };
    // The lowest key left after the cursor: one seek in each source.
    let (rest, rest_values) = cursor.rest();
    let mut lowest: Option<(String, String)> = None;
    for s in &sources {
        let row = c
            .query_one(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                format!(
                    "SELECT object_type, token FROM search_tokens WHERE generation = {s}{rest} \
                     ORDER BY object_type, token LIMIT 1"
                ),
                rest_values.clone(),
            ))
            .await
            .map_err(db_err)?;
        if let Some(r) = row {
            let key = (text(&r, "object_type")?, text(&r, "token")?);
            if lowest.as_ref().is_none_or(|l| key < *l) {
                lowest = Some(key);
            }
        }
    }
    let Some((object_type, token)) = lowest else {
        return finish(c, &sources, target).await;
    };
    let (lo, hi) = bounds(range_of(&token, ranges), ranges);
    let mut cond = format!("generation IN ({from}) AND object_type = ?");
    let mut values: Vec<sea_orm::Value> = vec![object_type.clone().into()];
    if let Some(lo) = lo {
        cond.push_str(" AND token >= ?");
        values.push(lo.into());
    }
    if let Some(hi) = &hi {
        cond.push_str(" AND token < ?");
        values.push(hi.clone().into());
    }
    let moved = c
        .execute(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            format!(
                "INSERT OR IGNORE INTO search_tokens (generation, object_type, token, record_id) \
                 SELECT {target}, object_type, token, record_id FROM search_tokens WHERE {cond} \
                 ORDER BY object_type, token, record_id"
            ),
            values.clone(),
        ))
        .await
        .map_err(db_err)?
        .rows_affected();
    c.execute(Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        format!("DELETE FROM search_tokens WHERE {cond}"),
        values,
    ))
    .await
    .map_err(db_err)?;
    c.execute(Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        format!(
            "UPDATE token_generations SET done_type = ?, done_token = ? WHERE generation = {target}"
        ),
        vec![object_type.into(), hi.into()],
    ))
    .await
    .map_err(db_err)?;
    Ok(Done::Moved(moved))
}

/// End a merge whose sweep is through: its sources other than generation 0 are no longer
/// listed. A source that still holds tokens (none should: only generation 0 is written to)
/// is swept again instead, so no token is ever left in a generation lookups do not read.
async fn finish<C: ConnectionTrait>(
    c: &C,
    sources: &[i64],
    target: i64,
) -> Result<Done, DomainError> {
    let closed: Vec<i64> = sources.iter().copied().filter(|g| *g != 0).collect();
    if !closed.is_empty() {
        let left = c
            .query_one(sql(format!(
                "SELECT 1 AS x FROM search_tokens WHERE generation IN ({}) LIMIT 1",
                list(&closed)
            )))
            .await
            .map_err(db_err)?;
        if left.is_some() {
            c.execute(sql(format!(
                "UPDATE token_generations SET done_type = NULL, done_token = NULL \
                 WHERE generation = {target}"
            )))
            .await
            .map_err(db_err)?;
            return Ok(Done::Moved(0));
        }
        c.execute(sql(format!(
            "DELETE FROM token_generations WHERE generation IN ({})",
            list(&closed)
        )))
        .await
        .map_err(db_err)?;
    }
    c.execute(sql(format!(
        "UPDATE token_generations SET merging_into = NULL WHERE merging_into = {target}"
    )))
    .await
    .map_err(db_err)?;
    c.execute(sql(format!(
        "UPDATE token_generations SET ranges = NULL, done_type = NULL, done_token = NULL \
         WHERE generation = {target}"
    )))
    .await
    .map_err(db_err)?;
    Ok(Done::Finished(target))
}

/// Tokens a bulk writer's transaction needs for [`write_bulk`] to give them a generation of
/// their own; fewer go into generation 0.
pub const OWN_GENERATION_AT: usize = 4096;

/// Write a bulk writer's search tokens `(record id, token)` of `object_type` inside its
/// transaction `c` (ADR 0028). On SQLite, when there are [`OWN_GENERATION_AT`] or more, they
/// become a new closed generation of level 0, listed above every other and written in key
/// order: each insert appends to a tree of its own instead of landing on a random page of
/// generation 0, and no later move out of generation 0 copies them. The merges take such
/// generations up like those moved out of generation 0. Otherwise, and on PostgreSQL, they go
/// into generation 0 as every other writer's.
pub async fn write_bulk<C: ConnectionTrait>(
    c: &C,
    object_type: &str,
    mut tokens: Vec<(String, String)>,
) -> Result<Option<Bulk>, DomainError> {
    let backend = c.get_database_backend();
    let own = backend == DatabaseBackend::Sqlite && tokens.len() >= OWN_GENERATION_AT;
    let generation = if own {
        let g = above_all(&listed(c).await?);
        // Bound, not spelled out: one statement text for the writer's statement cache.
        c.execute(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "INSERT INTO token_generations (generation, level) VALUES (?, 0)",
            [g.into()],
        ))
        .await
        .map_err(db_err)?;
        tokens.sort_unstable_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        tokens.dedup();
        g
    } else {
        super::note_written(tokens.len());
        0
    };
    for s in super::token_statements(backend, object_type, generation, &tokens) {
        c.execute(s).await.map_err(db_err)?;
    }
    Ok(own.then(|| Bulk {
        generation,
        keys: super::filters::keys(object_type, tokens.iter().map(|(_, t)| t.as_str())),
    }))
}

/// A closed generation [`write_bulk`] wrote, with its tokens' filter keys: once its
/// transaction has committed, [`Filters::adopt`](super::filters::Filters::adopt)
/// builds its filter from these instead of reading the generation back.
#[derive(Debug)]
pub struct Bulk {
    pub generation: i64,
    pub keys: Vec<u64>,
}

/// Run [`step`] until nothing is due, with [`Tidy::All`]: generation 0 moved out and every
/// generation merged into one. The demo data command ends with this.
pub async fn compact(db: &Db) -> Result<(), DomainError> {
    let policy = Policy {
        roll_at: 1,
        ..Policy::default()
    };
    while step(db, &policy, true, Tidy::All).await? != Done::Nothing {}
    Ok(())
}

/// How long no tokens must have been written before the generations below the top level are
/// merged into one.
const IDLE_AFTER: Duration = Duration::from_secs(30);

/// How often the upkeep looks whether anything is due.
const EVERY: Duration = Duration::from_secs(1);

/// The server's upkeep of the generations (SQLite only), until `stop` resolves: every second,
/// whatever is due, one transaction at a time so that other writers take their turns in
/// between. A merge stopped halfway is taken up by the next start ([`step`]).
pub async fn run(db: Db, stop: impl std::future::Future<Output = ()>) {
    if !db.is_sqlite() {
        return;
    }
    tokio::pin!(stop);
    {
        let policy = Policy::default();
        // Generation 0 is counted when this process has written tokens since it last looked,
        // and once at the start (another process may have filled it).
        let mut seen: Option<u64> = None;
        let mut quiet_since = Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = &mut stop => return,
            }
            let written = super::written();
            let look_at_0 = seen != Some(written);
            if look_at_0 {
                seen = Some(written);
                quiet_since = Instant::now();
            }
            let tidy = if quiet_since.elapsed() >= IDLE_AFTER {
                Tidy::Idle
            } else {
                Tidy::Due
            };
            let mut first = true;
            loop {
                match step(&db, &policy, look_at_0 && first, tidy).await {
                    Ok(Done::Nothing) => break,
                    Ok(_) => first = false,
                    Err(e) => {
                        tracing::warn!(error = %e, "search token upkeep failed");
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_token_once() {
        for n in [1, 2, 3, 7, 165, 4096] {
            for tok in [
                "", "0", "0000", "00ff", "7fff", "8000", "abcd1234", "ffff", "zz",
            ] {
                let i = range_of(tok, n);
                let (lo, hi) = bounds(i, n);
                assert!(
                    lo.is_none_or(|lo| tok >= lo.as_str()),
                    "{tok} below range {i}/{n}"
                );
                assert!(
                    hi.is_none_or(|hi| tok < hi.as_str()),
                    "{tok} above range {i}/{n}"
                );
            }
            assert_eq!(bounds(0, n).0, None);
            assert_eq!(bounds(n - 1, n).1, None);
            for i in 0..n.saturating_sub(1) {
                assert_eq!(
                    bounds(i, n).1,
                    bounds(i + 1, n).0,
                    "ranges {i} and {} meet",
                    i + 1
                );
            }
        }
    }
}
