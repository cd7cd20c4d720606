//! Quick search on SQLite without reading every match. One OR over several indexed prefix
//! ranges makes SQLite collect the union of all matches and sort it to find the newest few: a
//! common surname matches tens of thousands of contacts (ADR 0005). Instead each way of
//! matching is read on its own, bounded by the page size, and the ids are merged. A prefix
//! range first counts its matches up to a bound through its index: few matches are read
//! through that index; many are found faster by walking the records newest first and testing
//! the prefix (the index is bypassed with SQLite's unary `+`), which stops after a page.

use super::query::{apply_cursor, quick_search_branches, scoped_select, ListParams, Sort};
use super::ObjectDef;
use crate::db::{all, get, one};
use crate::scope::OwnerFilter;
use crate::Store;
use rapport_core::{DomainError, Principal};
use sea_orm::sea_query::{Alias, Cond, Condition, Expr, Order, Query};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

async fn is_dense(
    store: &Store,
    def: &ObjectDef,
    col: &str,
    prefix: &str,
) -> Result<bool, DomainError> {
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
    Ok(n as u64 >= store.settings.search_dense_rows)
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

/// The ids of the next `want` matches of the quick search in `params`, newest first, with the
/// scope, filters and cursor applied; `None` when there is no quick search.
pub(super) async fn candidate_ids(
    store: &Store,
    actor: &Principal,
    def: &ObjectDef,
    filter: &OwnerFilter,
    params: &ListParams,
    sort: &Sort,
    want: u64,
) -> Result<Option<Vec<String>>, DomainError> {
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
    let mut ids: Vec<String> = Vec::new();
    for branch in quick_search_branches(def, store, text)? {
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
        for r in all(store.db.reader(), &q).await? {
            ids.push(get(&r, "id")?);
        }
    }
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();
    ids.truncate(want as usize);
    Ok(Some(ids))
}
