//! Quick search on SQLite without reading every match. One OR over several indexed prefix
//! ranges makes SQLite collect the union of all matches and sort it to find the newest few: a
//! common surname matches tens of thousands of contacts (ADR 0005). Instead each way of
//! matching is an arm of its own, bounded by the page size, of one `UNION ALL` the page is
//! read through (one statement, ADR 0014). A prefix range first counts its matches up to a
//! bound through its index: few matches are read through that index; many are found faster by
//! walking the records newest first and testing the prefix (the index is bypassed with
//! SQLite's unary `+`), which stops after a page. The counts are kept for a minute.

use super::query::{apply_cursor, quick_search_branches, scoped_select, ListParams, Sort};
use super::ObjectDef;
use crate::access::{Access, OwnerFilter};
use crate::Store;
use rapport_core::DomainError;
use rapport_db::{get, one};
use sea_orm::sea_query::{Alias, Cond, Condition, Expr, Order, Query, SelectStatement};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// Whether a prefix range has at least `search_dense_rows` matches, as counted recently.
/// The answer only chooses how a branch is read, never what it finds, so an answer up to
/// [`DENSITY_TTL`] old is good enough: common prefixes (the frequent surnames) are counted
/// once a minute instead of on every search.
#[derive(Debug, Default)]
pub struct DensityCache {
    seen: Mutex<HashMap<PrefixKey, (bool, Instant)>>,
}

/// Table, column and prefix.
type PrefixKey = (&'static str, &'static str, String);

const DENSITY_TTL: Duration = Duration::from_secs(60);
/// Entries kept at most; when full, the cache starts over.
const DENSITY_CAPACITY: usize = 10_000;

impl DensityCache {
    fn get(&self, key: &PrefixKey) -> Option<bool> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(key)
            .filter(|(_, at)| at.elapsed() < DENSITY_TTL)
            .map(|(dense, _)| *dense)
    }

    fn put(&self, key: PrefixKey, dense: bool) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= DENSITY_CAPACITY {
            seen.clear();
        }
        seen.insert(key, (dense, Instant::now()));
    }
}

async fn is_dense(
    store: &Store,
    def: &ObjectDef,
    col: &'static str,
    prefix: &str,
) -> Result<bool, DomainError> {
    let key = (def.table, col, prefix.to_string());
    if let Some(dense) = store.search_density().get(&key) {
        return Ok(dense);
    }
    let mut q = Query::select();
    q.expr_as(Expr::col(t("one")).count(), t("n"))
        .from_subquery(
            {
                let mut s = Query::select();
                s.expr_as(Expr::val(1), t("one"))
                    .from(t(def.table))
                    .cond_where(super::query::prefix_range(col, prefix))
                    .limit(store.settings.search_dense_rows);
                s
            },
            t("m"),
        );
    let n: i64 = match one(store.db.reader(), &q).await? {
        Some(r) => get(&r, "n")?,
        None => 0,
    };
    let dense = n as u64 >= store.settings.search_dense_rows;
    store.search_density().put(key, dense);
    Ok(dense)
}

/// The same prefix test, written so SQLite cannot use the column's index for it.
fn unindexed_prefix(col: &str, prefix: &str) -> Condition {
    let upper = format!("{prefix}\u{10FFFF}");
    Cond::all()
        .add(Expr::cust_with_values(
            format!("+\"{col}\" >= ?"),
            [prefix.to_string()],
        ))
        .add(Expr::cust_with_values(format!("+\"{col}\" < ?"), [upper]))
}

/// A query for the ids of the next `want` matches of each way the quick search in `params`
/// matches, newest first, with the scope, filters and cursor applied (their union holds the
/// page); `None` when there is no quick search. The caller reads the page through it in one
/// statement.
pub(super) async fn candidates(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    filter: &OwnerFilter,
    params: &ListParams,
    sort: &Sort,
    want: u64,
) -> Result<Option<SelectStatement>, DomainError> {
    let Some(text) = params.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > 100 {
        return Ok(None); // the ordinary path reports the error
    }
    let rest = ListParams {
        q: None,
        ..params.clone()
    };
    let mut arms: Vec<SelectStatement> = Vec::new();
    for (i, branch) in quick_search_branches(def, actor, store, text)?
        .into_iter()
        .enumerate()
    {
        let mut q = scoped_select(def, actor, store, filter, &rest)?;
        q.column(t("id"));
        if let Some(c) = params.cursor.as_deref().filter(|c| !c.is_empty()) {
            apply_cursor(&mut q, sort, c)?;
        }
        match &branch.range {
            Some((col, prefix)) if is_dense(store, def, col, prefix).await? => {
                q.cond_where(unindexed_prefix(col, prefix));
            }
            _ => {
                q.cond_where(branch.cond);
            }
        }
        q.order_by(t("id"), Order::Desc).limit(want);
        // SQLite takes ORDER BY and LIMIT in a compound's arms only inside subqueries.
        arms.push(
            Query::select()
                .column(t("id"))
                .from_subquery(q, Alias::new(format!("b{i}")))
                .to_owned(),
        );
    }
    // No way to match (a query of punctuation): nothing matches.
    Ok(Some(rapport_db::union_all(arms).unwrap_or_else(|| {
        Query::select()
            .expr_as(Expr::val(None::<String>), t("id"))
            .and_where(Expr::val(1).eq(0))
            .to_owned()
    })))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn density_is_kept_per_table_column_and_prefix() {
        let cache = DensityCache::default();
        let key = |p: &str| ("contacts", "family_norm", p.to_string());
        assert_eq!(cache.get(&key("王")), None);
        cache.put(key("王"), true);
        cache.put(key("汪"), false);
        assert_eq!(cache.get(&key("王")), Some(true));
        assert_eq!(cache.get(&key("汪")), Some(false));
        assert_eq!(cache.get(&("leads", "family_norm", "王".into())), None);
        // Full: starts over rather than growing.
        for i in 0..DENSITY_CAPACITY {
            cache.put(key(&i.to_string()), false);
        }
        assert_eq!(cache.get(&key("王")), None);
        assert!(cache.seen.lock().unwrap().len() <= DENSITY_CAPACITY);
    }
}
