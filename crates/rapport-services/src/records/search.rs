//! Quick search that reads as many index entries as the page shows (ADR 0041). Each way of
//! matching is an arm of its own, bounded by the page size, of one `UNION ALL` the page is
//! read through (one statement, ADR 0014):
//!
//! - A name is found through the name index: the records of its first (longest) term are
//!   read newest first straight from the index, one arm per listed generation of the tokens
//!   (a term's rows are in id order within one), joined to the record for the scope, the
//!   filter and the further terms, and stopped after a page. A common surname, a prefix that
//!   matches half the table and a hundred thousand newer records under another name all cost
//!   the same: the rows of that one term, newest first, until the page is full.
//! - Emails, phones and codes are exact or narrow: read through their own index.
//!
//! The token generations a search read are checked again after the page is read: a merge
//! that began in between moves tokens to a generation the arms did not read, and the page is
//! read again.

use super::query::{cursor_id, quick_search_branches, scope_and_filter, ListParams};
use super::ObjectDef;
use crate::access::{Access, OwnerFilter};
use crate::Store;
use rapport_core::DomainError;
use sea_orm::sea_query::{Alias, Expr, JoinType, Order, Query, SelectStatement};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// The ids a quick search page is read from, and the token generations they were read in.
pub(super) struct Candidates {
    pub(super) ids: SelectStatement,
    pub(super) generations: Vec<i64>,
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
    want: u64,
) -> Result<Option<Candidates>, DomainError> {
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
    let scope = scope_and_filter(def, actor, store, filter, &rest)?;
    let after = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(cursor_id(c)?),
        None => None,
    };
    let generations = rapport_db::search_index::listed(&store.db).await?;
    // SQLite keeps the left table of a CROSS JOIN outside: the index is walked, not the table.
    let join = if store.db.is_sqlite() {
        JoinType::CrossJoin
    } else {
        JoinType::InnerJoin
    };
    let mut arms: Vec<SelectStatement> = Vec::new();
    for branch in quick_search_branches(def, actor, store, text)? {
        if let Some((first, further)) = branch.terms.split_first() {
            for generation in &generations {
                let mut q = Query::select();
                q.expr_as(Expr::col((t("s"), t("record_id"))), t("id"))
                    .from_as(t("search_tokens"), t("s"))
                    .join(
                        join,
                        t(def.table),
                        Expr::col((t(def.table), t("id"))).equals((t("s"), t("record_id"))),
                    )
                    .and_where(Expr::col((t("s"), t("generation"))).eq(*generation))
                    .and_where(Expr::col((t("s"), t("object_type"))).eq(def.key()))
                    .and_where(Expr::col((t("s"), t("token"))).eq(first.as_str()));
                for term in further {
                    q.and_where(rapport_db::search_index::holds(def.key(), term, "s"));
                }
                if let Some(id) = &after {
                    q.and_where(Expr::col((t("s"), t("record_id"))).lt(id.as_str()));
                }
                q.cond_where(scope.clone())
                    .order_by((t("s"), t("record_id")), Order::Desc)
                    .limit(want);
                arms.push(q);
            }
        } else {
            let mut q = Query::select();
            q.column(t("id"))
                .from(t(def.table))
                .cond_where(scope.clone())
                .cond_where(branch.cond);
            if let Some(id) = &after {
                q.and_where(Expr::col(t("id")).lt(id.as_str()));
            }
            q.order_by(t("id"), Order::Desc).limit(want);
            arms.push(q);
        }
    }
    // SQLite takes ORDER BY and LIMIT in a compound's arms only inside subqueries.
    let arms: Vec<SelectStatement> = arms
        .into_iter()
        .enumerate()
        .map(|(i, q)| {
            Query::select()
                .column(t("id"))
                .from_subquery(q, Alias::new(format!("b{i}")))
                .to_owned()
        })
        .collect();
    // No way to match (a query of punctuation): nothing matches.
    let ids = rapport_db::union_all(arms).unwrap_or_else(|| {
        Query::select()
            .expr_as(Expr::val(None::<String>), t("id"))
            .and_where(Expr::val(1).eq(0))
            .to_owned()
    });
    Ok(Some(Candidates { ids, generations }))
}

/// Whether the token generations listed now are those a search's arms read.
pub(super) async fn still_listed(store: &Store, read: &[i64]) -> Result<bool, DomainError> {
    Ok(rapport_db::search_index::listed(&store.db).await? == read)
}
