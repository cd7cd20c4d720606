//! Confirming an import's batch inside its write transaction (ADR 0033). The batch was checked
//! against the database before the transaction began, on another task; a record holding one
//! of its keys may have been committed since. The transaction claims the locks of the batch's
//! keys (`rapport_db::key_locks`), which every writer of such a key claims too, and reads
//! their versions: a bucket whose version moved only by the import's own claims since the
//! check was written by nobody else, so only the keys of the other buckets are looked up
//! again. With no other writer, nothing is looked up twice.
//!
//! The versions the check read ([`Seen`]) and the import's own claims ([`Claims`]) are compared
//! so that a mistake can only go one way: a bucket is taken as unchanged only when every claim
//! since the check is known to be the import's own. A claim of the import's that commits
//! between the check's two reads, or one whose commit is not visible yet, makes the bucket
//! look changed, and its keys are looked up again.

use super::{bucket_name, lock_name, rule_query, RuleKeys, LOCK_BUCKETS};
use crate::records::ObjectDef;
use crate::Store;
use rapport_core::DomainError;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

/// The import's own claims of key locks: in committed transactions (counted just before the
/// commit, so that one is never missed) and in the transaction under way.
#[derive(Debug, Default)]
pub(crate) struct Claims {
    inner: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    committed: HashMap<String, i64>,
    pending: HashMap<String, i64>,
}

impl Claims {
    /// The transaction's claims are about to commit.
    pub(crate) fn committing(&self) {
        let mut c = self.lock();
        let pending = std::mem::take(&mut c.pending);
        for (name, n) in pending {
            *c.committed.entry(name).or_default() += n;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The key locks' versions as a batch's check found them, read before its lookups, and the
/// import's committed claims read after those versions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    versions: HashMap<String, i64>,
    own: HashMap<String, i64>,
}

impl Seen {
    /// Read the versions of every bucket of `rules` (the type's rules that may refuse a row),
    /// then the import's own committed claims. Call it before any lookup the check relies on.
    pub(crate) async fn read(
        store: &Store,
        def: &ObjectDef,
        rules: &[&String],
        claims: &Claims,
    ) -> Result<Seen, DomainError> {
        let names: Vec<String> = rules
            .iter()
            .flat_map(|rule| (0..LOCK_BUCKETS).map(move |b| bucket_name(def, rule, b)))
            .collect();
        let versions = rapport_db::key_locks::versions(store.db.reader(), &names).await?;
        let own = claims.lock().committed.clone();
        Ok(Seen { versions, own })
    }
}

/// What confirming a batch found.
#[derive(Debug, Default)]
pub(crate) struct Confirmed {
    /// The first rule a record committed since the check refuses the batch by.
    pub refused: Option<String>,
    /// How many keys were looked up again (those in buckets someone else claimed).
    pub looked_up: usize,
}

/// [`super::confirm`] for a batch of new records (an import's): inside the write's
/// transaction, claim the locks of the keys that `rules` (rule → every key of the batch's
/// rows it applies to) refuse, then look for records holding them that were committed after
/// the batch was checked: every key without `seen`, otherwise those in buckets claimed by
/// someone else since. The caller rolls back when a rule refuses and checks the batch again.
pub(crate) async fn confirm_batch<C: sea_orm::ConnectionTrait>(
    tx: &C,
    store: &Store,
    def: &ObjectDef,
    rules: Vec<(String, Vec<String>)>,
    seen: Option<(&Seen, &Claims)>,
) -> Result<Confirmed, DomainError> {
    let mut locks: Vec<String> = rules
        .iter()
        .flat_map(|(rule, keys)| keys.iter().map(move |k| lock_name(def, rule, k)))
        .collect();
    if locks.is_empty() {
        return Ok(Confirmed::default());
    }
    locks.sort();
    locks.dedup();
    let now = rapport_db::key_locks::claim(tx, &locks).await?;
    let changed: Option<HashSet<String>> = seen.map(|(seen, claims)| {
        let mut c = claims.lock();
        for name in &locks {
            *c.pending.entry(name.clone()).or_default() += 1;
        }
        locks
            .iter()
            .filter(|name| {
                let count = |m: &HashMap<String, i64>| m.get(*name).copied().unwrap_or(0);
                let own_since = count(&c.committed) - count(&seen.own) + count(&c.pending);
                now.get(*name).copied() != Some(count(&seen.versions) + own_since)
            })
            .cloned()
            .collect()
    });
    let keyring = store.keys()?;
    let mut out = Confirmed::default();
    for (rule, keys) in rules {
        let keys: Vec<String> = match &changed {
            Some(changed) => keys
                .into_iter()
                .filter(|k| changed.contains(&lock_name(def, &rule, k)))
                .collect(),
            None => keys,
        };
        out.looked_up += keys.len();
        // A rule the type keeps in a column of its own is looked up there; emails and phones
        // through the search index, by the generations' filters as the check did.
        let column = def
            .hooks
            .duplicate_keys(&keyring, &rule, &BTreeMap::new())
            .map(|(column, _)| column);
        for chunk in keys.chunks(500) {
            let found = match column {
                Some(c) => match rule_query(def, RuleKeys::Column(c, chunk.to_vec()), None) {
                    Some(q) => rapport_db::one(tx, &q).await?.is_some(),
                    None => false,
                },
                None => !rapport_db::search_index::find_on(tx, &store.db, def.key(), chunk)
                    .await?
                    .is_empty(),
            };
            if found {
                out.refused = Some(rule);
                return Ok(out);
            }
        }
    }
    Ok(out)
}
