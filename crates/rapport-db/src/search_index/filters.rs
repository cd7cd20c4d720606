//! Filters of the search tokens' closed generations (SQLite, ADR 0027): for each generation a
//! merge has finished, an in-memory binary fuse filter of its `(object_type, token)` keys, so
//! that an import's lookups seek only the generations that may hold a token instead of every
//! listed one.
//!
//! A closed generation is never written again: new tokens go into generation 0 and a merge
//! copies into a new generation of its own, so its filter stays a superset of what it holds
//! while tokens are cleared from it or moved on by a later merge. Generations without a filter
//! (0, a merge's target, those not built yet or too large) are searched for every token.

use super::generations::Bulk;
use crate::error::db_err;
use crate::Db;
use rapport_core::DomainError;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xorf::{BinaryFuse8, Filter};

/// Generations with more tokens than this get no filter (it would take about a byte a token
/// of memory); they are searched for every token.
const MOST_TOKENS: usize = 2_000_000;

/// Tokens read per query while a filter is built.
const PAGE: u64 = 10_000;

/// How often the list of closed generations is read again.
const RELIST_EVERY: Duration = Duration::from_secs(1);

/// The filters of one database's closed generations, built in the background as they appear.
#[derive(Default)]
pub struct Filters {
    /// generation → its filter (`None`: too large for one).
    built: Mutex<HashMap<i64, Option<Arc<BinaryFuse8>>>>,
    /// Whether a task is listing and building.
    busy: AtomicBool,
    /// When the generations were last listed.
    listed_at: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Filters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let built = self.built.lock().map(|b| b.len()).unwrap_or(0);
        f.debug_struct("Filters").field("built", &built).finish()
    }
}

/// The key a filter holds for a token of a record type. Tokens are 16 hex digits of a MAC;
/// those read as the number they spell, anything else is hashed.
fn key(salt: u64, token: &str) -> u64 {
    let n = match (token.len(), u64::from_str_radix(token, 16)) {
        (16, Ok(n)) => n,
        _ => {
            let mut h = std::hash::DefaultHasher::new();
            token.hash(&mut h);
            h.finish()
        }
    };
    n ^ salt
}

/// What each token of a record type is mixed with, so types do not share keys.
fn salt(object_type: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    object_type.hash(&mut h);
    h.finish()
}

/// The filter keys of `tokens` of `object_type`.
pub fn keys<'a>(object_type: &str, tokens: impl Iterator<Item = &'a str>) -> Vec<u64> {
    let salt = salt(object_type);
    tokens.map(|tok| key(salt, tok)).collect()
}

/// A filter of `keys`; `None` when there are none or too many for one.
fn filter_of(mut keys: Vec<u64>) -> Option<BinaryFuse8> {
    if keys.is_empty() || keys.len() > MOST_TOKENS {
        return None;
    }
    keys.sort_unstable();
    keys.dedup();
    // Construction fails only on duplicate keys, removed above; without a filter the
    // generation is searched for every token.
    BinaryFuse8::try_from(&keys).ok()
}

impl Filters {
    /// Keep the filter of a closed generation this process has just written and committed
    /// (an import's, see `generations::write_bulk`), built from the keys of everything it
    /// holds: the generation is not read back, and lookups narrow it from now on rather
    /// than after the next listing. CPU work: for a blocking thread.
    pub fn adopt(&self, bulk: Bulk) {
        let filter = filter_of(bulk.keys).map(Arc::new);
        if let Ok(mut built) = self.built.lock() {
            built.insert(bulk.generation, filter);
        }
    }

    /// The generations with a filter and, for each, the tokens of `object_type` it may hold.
    /// Starts listing the closed generations and building new filters in the background
    /// when due.
    pub fn narrow(
        self: &Arc<Self>,
        db: &Db,
        object_type: &str,
        tokens: &[String],
    ) -> Vec<(i64, Vec<String>)> {
        if !db.is_sqlite() {
            return Vec::new();
        }
        self.refresh(db);
        let Ok(built) = self.built.lock() else {
            return Vec::new();
        };
        let salt = salt(object_type);
        let keys: Vec<u64> = tokens.iter().map(|tok| key(salt, tok)).collect();
        let mut out: Vec<(i64, Vec<String>)> = built
            .iter()
            .filter_map(|(g, f)| Some((*g, f.as_ref()?)))
            .map(|(g, f)| {
                let maybe = tokens
                    .iter()
                    .zip(&keys)
                    .filter(|(_, k)| f.contains(k))
                    .map(|(tok, _)| tok.clone())
                    .collect();
                (g, maybe)
            })
            .collect();
        out.sort_by_key(|(g, _)| *g);
        out
    }

    /// List the closed generations again and build the missing filters, on a task of its own,
    /// if the last listing is older than [`RELIST_EVERY`] and none is running.
    fn refresh(self: &Arc<Self>, db: &Db) {
        {
            let Ok(mut at) = self.listed_at.lock() else {
                return;
            };
            if at.is_some_and(|a| a.elapsed() < RELIST_EVERY) {
                return;
            }
            if self.busy.swap(true, Ordering::AcqRel) {
                return;
            }
            *at = Some(Instant::now());
        }
        let db = db.clone();
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.rebuild(&db).await {
                tracing::warn!(error = %e, "building search token filters failed");
            }
            me.busy.store(false, Ordering::Release);
        });
    }

    /// Forget the filters of generations no longer listed as closed and build those missing.
    pub async fn rebuild(&self, db: &Db) -> Result<(), DomainError> {
        let rows = db
            .reader()
            .query_all(Statement::from_string(
                DatabaseBackend::Sqlite,
                "SELECT generation FROM token_generations \
                 WHERE generation <> 0 AND ranges IS NULL ORDER BY generation",
            ))
            .await
            .map_err(db_err)?;
        let closed = rows
            .iter()
            .map(|r| crate::statements::get::<i64>(r, "generation"))
            .collect::<Result<HashSet<i64>, DomainError>>()?;
        let missing: Vec<i64> = {
            let mut built = self
                .built
                .lock()
                .map_err(|_| DomainError::internal("the token filters' lock is poisoned"))?;
            built.retain(|g, _| closed.contains(g));
            let mut m: Vec<i64> = closed
                .iter()
                .filter(|g| !built.contains_key(g))
                .copied()
                .collect();
            m.sort_unstable();
            m
        };
        for g in missing {
            let filter = build(db, g).await?;
            if let Ok(mut built) = self.built.lock() {
                built.insert(g, filter.map(Arc::new));
            }
        }
        Ok(())
    }

    /// Generations with a filter (for tests).
    pub fn filtered(&self) -> Vec<i64> {
        let mut out: Vec<i64> = self
            .built
            .lock()
            .map(|b| {
                b.iter()
                    .filter(|(_, f)| f.is_some())
                    .map(|(g, _)| *g)
                    .collect()
            })
            .unwrap_or_default();
        out.sort_unstable();
        out
    }
}

/// The filter of closed generation `g`, read a page of tokens at a time; `None` when it holds
/// more than [`MOST_TOKENS`]. Tokens cleared or moved on while it is read are simply not in it:
/// a closed generation only loses tokens.
async fn build(db: &Db, g: i64) -> Result<Option<BinaryFuse8>, DomainError> {
    // Counted first, so a generation too large for a filter is not read into memory. It
    // only loses tokens from here on, so the count bounds what the pages below read.
    let counted =
        super::generations::count_up_to(db.reader(), g, MOST_TOKENS as u64 + 1).await? as usize;
    if counted > MOST_TOKENS || counted == 0 {
        return Ok(None);
    }
    let mut keys: Vec<u64> = Vec::with_capacity(counted);
    let mut after: Option<(String, String)> = None;
    let mut salts: HashMap<String, u64> = HashMap::new();
    loop {
        let (rest, mut values): (&str, Vec<sea_orm::Value>) = match &after {
            None => ("", vec![]),
            Some((ty, tok)) => (
                " AND (object_type, token) > (?, ?)",
                vec![ty.clone().into(), tok.clone().into()],
            ),
        };
        values.insert(0, g.into());
        let rows = db
            .reader()
            .query_all(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                format!(
                    "SELECT object_type, token FROM search_tokens \
                     WHERE generation = ?{rest} ORDER BY object_type, token LIMIT {PAGE}"
                ),
                values,
            ))
            .await
            .map_err(db_err)?;
        let n = rows.len() as u64;
        for r in &rows {
            let ty: String = crate::statements::get(r, "object_type")?;
            let tok: String = crate::statements::get(r, "token")?;
            let salt = *salts.entry(ty.clone()).or_insert_with(|| salt(&ty));
            keys.push(key(salt, &tok));
            after = Some((ty, tok));
        }
        if n < PAGE {
            break;
        }
    }
    tokio::task::spawn_blocking(move || filter_of(keys))
        .await
        .map_err(|e| DomainError::Internal(format!("building a token filter: {e}")))
}

/// The statement of `FastCreate`'s lookups on SQLite: `(id, token, object_type)` of the
/// tokens in `tokens` of records of `object_type`. The generations in `narrowed` are searched
/// for the tokens their filters may hold, every other listed generation for all of them, in
/// one statement (one snapshot: a generation closed or merged since `narrowed` was made is
/// searched in full). The lists go in as JSON, so the statement's text never changes and
/// each connection prepares it once.
pub fn select(object_type: &str, tokens: &[String], narrowed: &[(i64, Vec<String>)]) -> Statement {
    let filtered: Vec<i64> = narrowed.iter().map(|(g, _)| *g).collect();
    let pairs: Vec<(i64, &String)> = narrowed
        .iter()
        .flat_map(|(g, maybe)| maybe.iter().map(move |tok| (*g, tok)))
        .collect();
    let json = |v: serde_json::Value| v.to_string();
    Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        "SELECT record_id AS id, token, object_type FROM search_tokens \
         WHERE generation IN (SELECT generation FROM token_generations \
             WHERE generation NOT IN (SELECT value FROM json_each(?1))) \
         AND object_type = ?2 AND token IN (SELECT value FROM json_each(?3)) \
         UNION ALL \
         SELECT s.record_id AS id, s.token, s.object_type \
         FROM json_each(?4) AS j CROSS JOIN search_tokens AS s \
         WHERE s.generation = j.value ->> 0 AND s.object_type = ?2 AND s.token = j.value ->> 1",
        vec![
            json(serde_json::json!(filtered)).into(),
            object_type.into(),
            json(serde_json::json!(tokens)).into(),
            json(serde_json::json!(pairs)).into(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_type_and_read_hex_tokens_as_numbers() {
        let a = salt("contacts");
        let b = salt("leads");
        assert_ne!(key(a, "00000000000000ff"), key(b, "00000000000000ff"));
        assert_eq!(key(0, "00000000000000ff"), 255);
        assert_ne!(key(0, "not a hex token"), key(0, "another token"));
    }

    /// The rows `q` answers, as sorted (id, token) pairs.
    async fn pairs(db: &Db, q: Statement) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = db
            .reader()
            .query_all(q)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    crate::statements::get::<String>(r, "id").unwrap(),
                    crate::statements::get::<String>(r, "token").unwrap(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// A bulk writer's generation gets its filter from the keys `write_bulk` hands back, with
    /// no listing or reading back: it holds every token written, and a lookup through it
    /// answers as a full lookup.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bulk_generation_is_filtered_from_what_was_written() {
        use crate::search_index::generations;
        let path = crate::temp_file("filters");
        let db = Db::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        crate::migrate::run(
            &db,
            rapport_core::Clock::now(&rapport_core::SystemClock),
            &crate::migrate::SchemaOnly,
        )
        .await
        .unwrap();
        let n = generations::OWN_GENERATION_AT as u64 + 10;
        let tokens: Vec<(String, String)> = (0..n)
            .map(|i| {
                let tok = format!("{:016x}", 0x1234_0000_0000_0000u64 + i * 7919);
                (format!("record-{i:05}"), tok)
            })
            .collect();
        let tx = db.begin().await.unwrap();
        let bulk = generations::write_bulk(&tx, "contact", tokens.clone())
            .await
            .unwrap()
            .expect("enough tokens for a generation of their own");
        tx.commit().await.unwrap();
        let g = bulk.generation;
        assert_eq!(bulk.keys.len() as u64, n);

        let filters = Arc::new(Filters::default());
        filters.adopt(bulk);
        assert_eq!(filters.filtered(), vec![g], "filtered before any listing");
        let mut asked: Vec<String> = tokens.iter().map(|(_, t)| t.clone()).collect();
        asked.extend((0..500).map(|i| format!("{:016x}", 0xfeed_0000_0000_0000u64 + i)));
        let narrowed = filters.narrow(&db, "contact", &asked);
        let maybe = &narrowed.iter().find(|(n, _)| *n == g).unwrap().1;
        for (_, tok) in &tokens {
            assert!(maybe.contains(tok), "the filter misses {tok}");
        }
        assert!(
            maybe.len() < tokens.len() + 50,
            "{} of 500 absent tokens let through",
            maybe.len() - tokens.len()
        );
        let expected = pairs(&db, select("contact", &asked, &[])).await;
        assert_eq!(expected.len() as u64, n);
        assert_eq!(
            pairs(&db, select("contact", &asked, &narrowed)).await,
            expected
        );
        // Another type's lookup does not take these keys for its own.
        let other = filters.narrow(&db, "lead", &asked);
        let for_leads = &other.iter().find(|(n, _)| *n == g).unwrap().1;
        assert!(for_leads.len() < 50, "{} let through", for_leads.len());
        db.close().await;
        if let Some(dir) = path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
