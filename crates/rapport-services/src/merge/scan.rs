//! The duplicate scan: likely duplicates among the accounts, contacts or leads a user may
//! read, as groups with a confidence (0-100) and the reasons.
//!
//! Exact matches are found by the database on shared column values (credit code, email and
//! phone through their blind index, normalised name); people whose family and given names were
//! entered the other way round ("Zhang San" / "San Zhang") by a join on the family-name
//! index; company names that differ a little (华为技术有限公司 / 华为技术（深圳）) by comparing
//! the names within blocks that share their first two characters.

use super::merge_def;
use crate::access::Access;
use crate::records;
use crate::{audit, Store};
use rapport_core::{Action, DomainError, Object};
use rapport_db::{all, get};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query, SimpleExpr};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// Names shared by more records than this are too common to mean anything ("Zhang Wei").
const MAX_SAME_NAME: i64 = 20;
/// Fuzzy name comparison runs within prefix blocks of at most this many names.
const MAX_BLOCK: i64 = 50;
/// At most this many records in a group.
const MAX_GROUP: usize = 20;

use crate::records::merging::Loose;
pub use crate::records::merging::Reason;

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub id: String,
    pub label: String,
    pub owner_id: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub confidence: u8,
    pub reasons: Vec<Reason>,
    pub records: Vec<Member>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanResult {
    pub object: String,
    pub groups: Vec<Group>,
    /// More groups were found than returned.
    pub truncated: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    pub min_confidence: u8,
    pub limit: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            min_confidence: 50,
            limit: 100,
        }
    }
}

/// One pair of records and why they match.
#[derive(Debug, Clone)]
struct Edge {
    a: String,
    b: String,
    reason: Reason,
    confidence: u8,
}

/// Records sharing a value of `column`, as pairs with the first of each set.
async fn exact_edges(
    store: &Store,
    table: &str,
    column: &str,
    reason: Reason,
    confidence: u8,
    out: &mut Vec<Edge>,
) -> Result<(), DomainError> {
    // One statement: the shared values as a subquery, so that a column without an index of
    // its own (the email and phone blind indexes on SQLite, migration 18) is read in one pass
    // rather than once per list of values.
    let shared = Query::select()
        .column(t(column))
        .from(t(table))
        .and_where(Expr::col(t(column)).is_not_null())
        .and_where(Expr::col(t(column)).ne(""))
        .group_by_col(t(column))
        .and_having(Expr::col(t("id")).count().gt(1))
        .and_having(Expr::col(t("id")).count().lte(MAX_SAME_NAME))
        .to_owned();
    let rows = all(
        store.db.reader(),
        Query::select()
            .columns([t("id"), t(column)])
            .from(t(table))
            .and_where(Expr::col(t(column)).in_subquery(shared))
            .order_by(t("created_at"), sea_orm::sea_query::Order::Asc),
    )
    .await?;
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    for r in &rows {
        let id: String = get(r, "id")?;
        let v: String = get(r, column)?;
        match first.get(&v) {
            Some(a) => out.push(Edge {
                a: a.clone(),
                b: id,
                reason,
                confidence,
            }),
            None => {
                first.insert(v, id);
            }
        }
    }
    Ok(())
}

/// People whose family and given names are each other's.
async fn swapped_edges(
    store: &Store,
    table: &str,
    confidence: u8,
    out: &mut Vec<Edge>,
) -> Result<(), DomainError> {
    let lower_given: SimpleExpr = Func::lower(Expr::col((t("b"), t("given_name")))).into();
    let rows = all(
        store.db.reader(),
        Query::select()
            .expr_as(Expr::col((t("a"), t("id"))), t("a_id"))
            .expr_as(Expr::col((t("b"), t("id"))), t("b_id"))
            .from_as(t(table), t("a"))
            .inner_join(
                sea_orm::sea_query::TableRef::TableAlias(
                    sea_orm::sea_query::SeaRc::new(t(table)),
                    sea_orm::sea_query::SeaRc::new(t("b")),
                ),
                Expr::col((t("a"), t("family_norm")))
                    .eq(lower_given)
                    .and(
                        SimpleExpr::from(Func::lower(Expr::col((t("a"), t("given_name")))))
                            .eq(Expr::col((t("b"), t("family_norm")))),
                    )
                    .and(Expr::col((t("a"), t("id"))).lt(Expr::col((t("b"), t("id"))))),
            )
            .and_where(Expr::col((t("b"), t("given_name"))).is_not_null())
            .and_where(Expr::col((t("b"), t("given_name"))).ne(""))
            .and_where(
                Expr::col((t("a"), t("family_norm"))).ne(Expr::col((t("b"), t("family_norm")))),
            )
            .limit(10_000),
    )
    .await?;
    for r in &rows {
        out.push(Edge {
            a: get(r, "a_id")?,
            b: get(r, "b_id")?,
            reason: Reason::SwappedName,
            confidence,
        });
    }
    Ok(())
}

fn bigrams(s: &str) -> Vec<(char, char)> {
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<(char, char)> = chars.windows(2).map(|w| (w[0], w[1])).collect();
    out.sort_unstable();
    out
}

/// How alike two normalised names are, 0-100: the Dice coefficient of their character
/// pairs, or 75 when one name (of four characters or more) contains the other.
pub fn name_similarity(a: &str, b: &str) -> u8 {
    if a == b {
        return 100;
    }
    let (short, long) = if a.chars().count() <= b.chars().count() {
        (a, b)
    } else {
        (b, a)
    };
    let contained = short.chars().count() >= 4 && long.contains(short);
    let (x, y) = (bigrams(a), bigrams(b));
    if x.is_empty() || y.is_empty() {
        return if contained { 75 } else { 0 };
    }
    let (mut i, mut j, mut common) = (0, 0, 0);
    while i < x.len() && j < y.len() {
        match x[i].cmp(&y[j]) {
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    let dice = (200 * common / (x.len() + y.len())) as u8;
    if contained {
        dice.max(75)
    } else {
        dice
    }
}

/// Company names alike but not equal, compared within blocks sharing the first two
/// characters; `confidence` is that of names alike but for one character.
async fn similar_name_edges(
    store: &Store,
    table: &str,
    confidence: u8,
    out: &mut Vec<Edge>,
) -> Result<(), DomainError> {
    let prefix = || -> SimpleExpr {
        Func::cust(t("substr"))
            .arg(Expr::col(t("name_norm")))
            .arg(1)
            .arg(2)
            .into()
    };
    let c = store.db.reader();
    let blocks = all(
        c,
        Query::select()
            .expr_as(prefix(), t("block"))
            .from(t(table))
            .group_by_columns([t("block")])
            .and_having(Expr::col(t("id")).count().gt(1))
            .and_having(Expr::col(t("id")).count().lte(MAX_BLOCK)),
    )
    .await?;
    let keys: Vec<String> = blocks
        .iter()
        .map(|r| get::<Option<String>>(r, "block").map(Option::unwrap_or_default))
        .collect::<Result<_, _>>()?;
    for chunk in keys.chunks(200) {
        let rows = all(
            c,
            Query::select()
                .columns([t("id"), t("name_norm")])
                .expr_as(prefix(), t("block"))
                .from(t(table))
                .and_where(prefix().is_in(chunk.to_vec())),
        )
        .await?;
        let mut by_block: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for r in &rows {
            by_block
                .entry(get::<Option<String>>(r, "block")?.unwrap_or_default())
                .or_default()
                .push((get(r, "id")?, get(r, "name_norm")?));
        }
        for members in by_block.values() {
            for (i, (a, na)) in members.iter().enumerate() {
                for (b, nb) in &members[i + 1..] {
                    if na == nb {
                        continue; // an exact match, found by name already
                    }
                    let s = name_similarity(na, nb);
                    if s >= 70 {
                        out.push(Edge {
                            a: a.clone(),
                            b: b.clone(),
                            reason: Reason::SimilarName,
                            confidence: (u32::from(s) * u32::from(confidence) / 100) as u8,
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

fn find(parent: &mut BTreeMap<String, String>, x: &str) -> String {
    let mut root = x.to_string();
    while let Some(p) = parent.get(&root).filter(|p| **p != root) {
        root = p.clone();
    }
    // Compress the path.
    let mut cur = x.to_string();
    while let Some(p) = parent.get(&cur).cloned().filter(|p| *p != cur) {
        parent.insert(cur, root.clone());
        cur = p;
    }
    root
}

/// Join pairs into groups; a group's confidence is that of its strongest pair.
fn group_edges(edges: &[Edge]) -> Vec<(Vec<String>, u8, Vec<Reason>)> {
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    for e in edges {
        for id in [&e.a, &e.b] {
            parent.entry(id.clone()).or_insert_with(|| id.clone());
        }
        let (ra, rb) = (find(&mut parent, &e.a), find(&mut parent, &e.b));
        if ra != rb {
            parent.insert(rb, ra);
        }
    }
    let mut groups: BTreeMap<String, (BTreeSet<String>, u8, BTreeSet<Reason>)> = BTreeMap::new();
    for e in edges {
        let root = find(&mut parent, &e.a);
        let g = groups.entry(root).or_default();
        g.0.insert(e.a.clone());
        g.0.insert(e.b.clone());
        g.1 = g.1.max(e.confidence);
        g.2.insert(e.reason);
    }
    groups
        .into_values()
        .map(|(ids, c, r)| (ids.into_iter().collect(), c, r.into_iter().collect()))
        .collect()
}

/// Scan the records of `object` the actor may read for duplicates.
pub async fn scan(
    store: &Store,
    actor: &Access,
    object: Object,
    opts: ScanOptions,
) -> Result<ScanResult, DomainError> {
    let def = merge_def(object)?;
    if actor.owners(object, Action::Read).is_none() {
        return Err(DomainError::Forbidden(format!(
            "you may not read {} records",
            def.key()
        )));
    }
    let Some(merging) = def.hooks.merging() else {
        return Err(DomainError::NotFound);
    };
    let mut edges = Vec::new();
    for (column, reason, confidence) in merging.exact {
        if *confidence >= opts.min_confidence {
            exact_edges(store, def.table, column, *reason, *confidence, &mut edges).await?;
        }
    }
    match merging.loose {
        Some((Loose::SwappedNames, c)) if opts.min_confidence <= c => {
            swapped_edges(store, def.table, c, &mut edges).await?
        }
        Some((Loose::SimilarNames, c)) if opts.min_confidence <= c => {
            similar_name_edges(store, def.table, c, &mut edges).await?
        }
        _ => {}
    }
    edges.retain(|e| e.confidence >= opts.min_confidence);
    let mut groups = group_edges(&edges);
    groups.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.len().cmp(&a.0.len())));

    // Keep the records the actor may read; a group needs two of them.
    let mut out = Vec::new();
    let mut truncated = false;
    for chunk in groups.chunks(100) {
        let ids: Vec<String> = chunk.iter().flat_map(|g| g.0.iter().cloned()).collect();
        let visible: BTreeMap<String, records::Record> =
            records::read_many(store, actor, def, &ids)
                .await?
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect();
        for (ids, confidence, reasons) in chunk {
            let mut members: Vec<Member> = ids
                .iter()
                .filter_map(|id| visible.get(id))
                .map(|r| Member {
                    id: r.id.clone(),
                    label: r.label(def),
                    owner_id: r.owner_id().map(str::to_string),
                    created_at: r.created_at,
                })
                .collect();
            if members.len() < 2 {
                continue;
            }
            if out.len() == opts.limit {
                truncated = true;
                break;
            }
            members.sort_by_key(|m| m.created_at);
            members.truncate(MAX_GROUP);
            out.push(Group {
                confidence: *confidence,
                reasons: reasons.clone(),
                records: members,
            });
        }
        if truncated {
            break;
        }
    }
    audit::record_alone(
        store,
        actor,
        audit::Entry::new(format!("{}.duplicates_scanned", def.key())).details(json!({
            "groups": out.len(),
            "records": out.iter().map(|g| g.records.len()).sum::<usize>(),
            "min_confidence": opts.min_confidence,
        })),
    )
    .await?;
    Ok(ScanResult {
        object: def.key().to_string(),
        groups: out,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_company_names() {
        assert_eq!(name_similarity("华为技术", "华为技术"), 100);
        // One name inside the other.
        assert!(name_similarity("华为技术", "华为技术深圳") >= 75);
        // A typo.
        assert!(name_similarity("acmerobotics", "acmerobotix") >= 70);
        assert!(name_similarity("华为技术", "华润置地") < 50);
        assert_eq!(name_similarity("", "x"), 0);
    }

    #[test]
    fn pairs_join_into_groups_with_the_strongest_confidence() {
        let e = |a: &str, b: &str, r, c| Edge {
            a: a.into(),
            b: b.into(),
            reason: r,
            confidence: c,
        };
        let groups = group_edges(&[
            e("1", "2", Reason::Email, 95),
            e("2", "3", Reason::Name, 60),
            e("4", "5", Reason::Phone, 90),
        ]);
        assert_eq!(groups.len(), 2);
        let first = groups
            .iter()
            .find(|g| g.0.contains(&"1".to_string()))
            .unwrap();
        assert_eq!(first.0, vec!["1", "2", "3"]);
        assert_eq!(first.1, 95);
        assert_eq!(first.2, vec![Reason::Email, Reason::Name]);
    }
}
