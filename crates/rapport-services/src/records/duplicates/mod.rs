//! Duplicate detection on create and edit: by normalised company name, credit code, email
//! and phone (encrypted values through their blind index). Each rule is "block", "warn" or
//! "off"; a warn can be overridden by the caller, a block cannot.

use super::{ObjectDef, WriteOptions};
use crate::access::Access;
use crate::Store;
use rapport_core::fields::{FieldKind, FieldValue};
use rapport_core::{Action, DomainError, Object};
use sea_orm::sea_query::{Alias, Expr, Query, SelectStatement};
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};

mod batch;
pub(crate) use batch::{confirm_batch, Claims, Seen};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleMode {
    Block,
    Warn,
    Off,
}

/// The rules of one object: rule name → mode.
pub type Rules = BTreeMap<String, RuleMode>;

/// The rules a record type declares, with their default modes.
pub fn default_rules(store: &Store, object: Object) -> Rules {
    store
        .types()
        .def_of(object)
        .map(|def| def.hooks.duplicate_rules())
        .unwrap_or_default()
        .iter()
        .map(|r| (r.key.to_string(), r.mode))
        .collect()
}

fn t(s: &str) -> Alias {
    Alias::new(s)
}

fn setting_key(object: Object) -> String {
    format!("duplicate_rules.{}", object.key())
}

pub async fn rules(store: &Store, object: Object) -> Result<Rules, DomainError> {
    let mut rules = default_rules(store, object);
    if let Some(saved) = crate::settings::read_kept::<Rules>(store, &setting_key(object)).await? {
        rules.extend(saved);
    }
    Ok(rules)
}

pub async fn set_rules(
    store: &Store,
    actor: &Access,
    object: Object,
    new: Rules,
) -> Result<Rules, DomainError> {
    may_change(actor)?;
    let known = default_rules(store, object);
    for k in new.keys() {
        if !known.contains_key(k) {
            return Err(DomainError::field(
                k.clone(),
                "unknown_rule",
                format!("{} has no duplicate rule {k}", object.key()),
            ));
        }
    }
    let before = rules(store, object).await?;
    let mut merged = before.clone();
    merged.extend(new);
    crate::settings::replace(
        store,
        actor,
        &setting_key(object),
        "settings.duplicate_rules_changed",
        &before,
        &merged,
    )
    .await?;
    Ok(merged)
}

/// What a duplicate rule compares for one record's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RuleKeys {
    /// Values of a column of the type's own table (a normalised name, a blind index).
    Column(&'static str, Vec<String>),
    /// Blind-index tokens in the search index (emails, phone numbers).
    Tokens(Vec<String>),
}

impl RuleKeys {
    pub(crate) fn keys(&self) -> &[String] {
        match self {
            RuleKeys::Column(_, k) | RuleKeys::Tokens(k) => k,
        }
    }
}

/// The keys `rule` compares for `values`: the type's own column, or the search tokens of its
/// emails or phone numbers. `None` when the type has no such rule.
pub(crate) fn rule_keys(
    keys: &crate::Keyring,
    def: &ObjectDef,
    rule: &str,
    values: &BTreeMap<&'static str, FieldValue>,
) -> Option<RuleKeys> {
    if let Some((column, found)) = def.hooks.duplicate_keys(keys, rule, values) {
        return Some(RuleKeys::Column(column, found));
    }
    let email = match rule {
        "email" => true,
        "phone" => false,
        _ => return None,
    };
    let mut out = Vec::new();
    for f in def.fields {
        let of_kind = if email {
            matches!(f.kind, FieldKind::Email | FieldKind::EmailList)
        } else {
            matches!(f.kind, FieldKind::Phone | FieldKind::PhoneList)
        };
        if !of_kind {
            continue;
        }
        match values.get(f.name) {
            Some(FieldValue::Text(v)) if !v.is_empty() => out.push(keys.blind(rule, v)),
            Some(FieldValue::List(l)) => out.extend(l.iter().map(|v| keys.blind(rule, v))),
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    Some(RuleKeys::Tokens(out))
}

/// At most 10 ids of records of `def` that `keys` finds, other than `exclude`.
fn rule_query(def: &ObjectDef, keys: RuleKeys, exclude: Option<&str>) -> Option<SelectStatement> {
    if keys.keys().is_empty() {
        return None;
    }
    let mut q = match keys {
        RuleKeys::Column(column, values) => {
            let mut q = Query::select();
            q.column(t("id"))
                .from(t(def.table))
                .and_where(Expr::col(t(column)).is_in(values));
            if let Some(x) = exclude {
                q.and_where(Expr::col(t("id")).ne(x));
            }
            q
        }
        RuleKeys::Tokens(tokens) => {
            let mut q = rapport_db::search_index::lookup(Some(def.key()), tokens);
            q.distinct().expr_as(Expr::col(t("record_id")), t("id"));
            if let Some(x) = exclude {
                q.and_where(Expr::col(t("record_id")).ne(x));
            }
            q
        }
    };
    Some(q.limit(10).to_owned())
}

/// The ids each rule in `rules` (name → mode) finds for `values`, in one statement: each
/// rule's query is an arm of a `UNION ALL`, labelled with its position in `rules`.
async fn ids_per_rule(
    store: &Store,
    def: &ObjectDef,
    rules: &[(&String, RuleMode)],
    values: &BTreeMap<&'static str, FieldValue>,
) -> Result<Vec<Vec<String>>, DomainError> {
    let keys = store.keys()?;
    let arms = rules.iter().enumerate().filter_map(|(i, (rule, _))| {
        let q = rule_query(def, rule_keys(&keys, def, rule, values)?, None)?;
        Some(
            Query::select()
                .expr_as(Expr::val(i as i64), t("rule"))
                .column(t("id"))
                .from_subquery(q, Alias::new(format!("r{i}")))
                .to_owned(),
        )
    });
    let union = rapport_db::union_all(arms);
    let mut out = vec![Vec::new(); rules.len()];
    let Some(union) = union else {
        return Ok(out);
    };
    // Through the page readers on SQLite: one hand-off, not sqlx's per statement and row.
    let rows = store
        .db
        .read_rows(&union, &["rule".to_string(), "id".to_string()])
        .await?;
    for r in rows.iter() {
        let i: i64 = r.get("rule")?;
        if let Some(ids) = usize::try_from(i).ok().and_then(|i| out.get_mut(i)) {
            ids.push(r.get("id")?);
        }
    }
    Ok(out)
}

/// Find likely duplicates of `values`; refuse per the rules.
pub async fn check(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    values: &BTreeMap<&'static str, FieldValue>,
    exclude: Option<&str>,
    opts: WriteOptions,
) -> Result<(), DomainError> {
    let rules = rules(store, def.object).await?;
    let active: Vec<(&String, RuleMode)> = rules
        .iter()
        .filter(|(_, mode)| **mode != RuleMode::Off)
        .map(|(rule, mode)| (rule, *mode))
        .collect();
    let per_rule = ids_per_rule(store, def, &active, values).await?;
    let mut found: Vec<(String, RuleMode, Vec<String>)> = Vec::new();
    for ((rule, mode), ids) in active.iter().zip(per_rule) {
        let (rule, mode) = (*rule, *mode);
        let ids: Vec<String> = ids
            .into_iter()
            .filter(|i| Some(i.as_str()) != exclude)
            .collect();
        if !ids.is_empty() {
            found.push((rule.clone(), mode, ids));
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    let blocking = found.iter().any(|(_, m, _)| *m == RuleMode::Block);
    if !blocking && opts.override_duplicates {
        return Ok(());
    }
    Err(refusal(store, actor, def, &found).await?)
}

/// The refusal of a write that `found` (rule, mode, ids) says duplicates records: the
/// matches the actor may see are shown with their ids and labels, the others only counted.
async fn refusal(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    found: &[(String, RuleMode, Vec<String>)],
) -> Result<DomainError, DomainError> {
    let blocking = found.iter().any(|(_, m, _)| *m == RuleMode::Block);
    // The matches the actor may see, read at once: their ids and labels are shown.
    let shown: HashMap<String, super::Record> = match actor.owners(def.object, Action::Read) {
        Some(f) => {
            let ids: Vec<&str> = found
                .iter()
                .flat_map(|(_, _, ids)| ids.iter().map(String::as_str))
                .collect();
            super::find_all_in_scope_fresh(store, def, &f, &ids)
                .await?
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect()
        }
        None => HashMap::new(),
    };
    let mut matches = Vec::new();
    for (rule, mode, ids) in found {
        for id in ids {
            matches.push(match shown.get(id) {
                Some(r) => json!({"rule": rule, "mode": mode, "id": r.id, "label": r.label(def), "visible": true}),
                None => json!({"rule": rule, "mode": mode, "visible": false}),
            });
        }
        if ids.is_empty() {
            // A record written earlier in the same transaction, not yet anyone's to see.
            matches.push(json!({"rule": rule, "mode": mode, "visible": false}));
        }
    }
    let rule = found
        .iter()
        .find(|(_, m, _)| *m == RuleMode::Block)
        .or(found.first())
        .map(|(r, _, _)| r.clone())
        .unwrap_or_default();
    Ok(DomainError::Duplicate {
        rule,
        matches,
        overridable: !blocking,
    })
}

/// How many locks a rule's keys share. A key's lock is one of these buckets, so a transaction
/// holding many keys (an import's) holds at most this many locks a rule; two writers of the
/// same key always meet on the same lock, and two writers of different keys wait for each
/// other only when their buckets collide.
const LOCK_BUCKETS: u64 = 128;

/// The lock a rule's key takes (`rapport_db::key_locks`): its type, rule and bucket (FNV-1a of
/// the key, fixed across processes and versions).
fn lock_name(def: &ObjectDef, rule: &str, key: &str) -> String {
    bucket_name(def, rule, {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h % LOCK_BUCKETS
    })
}

/// The lock of a rule's bucket `bucket` (below [`LOCK_BUCKETS`]).
fn bucket_name(def: &ObjectDef, rule: &str, bucket: u64) -> String {
    format!("{}:{rule}:{bucket}", def.key())
}

/// The rule keys written so far in one transaction (a group of creates): a later record of
/// the group holding one is a duplicate of a record no query can see yet.
#[derive(Debug, Default)]
pub(crate) struct Claimed {
    keys: HashSet<(Object, String, String)>,
    /// Lock names this transaction holds already.
    locked: HashSet<String>,
    /// Every record of the transaction was confirmed together ([`confirm_creates`]).
    confirmed: bool,
}

/// The strict rules [`confirm`] asks about for one record's values, with their keys.
async fn asked(
    store: &Store,
    def: &ObjectDef,
    values: &BTreeMap<&'static str, FieldValue>,
    before: Option<(&str, &BTreeMap<&'static str, FieldValue>)>,
    opts: WriteOptions,
) -> Result<Vec<(String, RuleMode, RuleKeys)>, DomainError> {
    let rules = rules(store, def.object).await?;
    let keys = store.keys()?;
    let mut asked: Vec<(String, RuleMode, RuleKeys)> = Vec::new();
    for (rule, mode) in &rules {
        let strict =
            *mode == RuleMode::Block || (*mode == RuleMode::Warn && !opts.override_duplicates);
        if !strict {
            continue;
        }
        let Some(rk) = rule_keys(&keys, def, rule, values) else {
            continue;
        };
        if rk.keys().is_empty() {
            continue;
        }
        if let Some((_, old)) = before {
            if rule_keys(&keys, def, rule, old).as_ref() == Some(&rk) {
                continue;
            }
        }
        asked.push((rule.clone(), *mode, rk));
    }
    Ok(asked)
}

/// [`confirm`] for a group of new records written in one transaction, with one lock statement
/// (PostgreSQL) and one lookup for all of them: `Err((k, e))` names the first record that a
/// rule refuses. Locking every key of a group at once, in one order, also keeps two writers
/// from waiting on each other. The records' own [`confirm`] then passes (`claimed` says so).
pub(crate) async fn confirm_creates(
    tx: &DatabaseTransaction,
    store: &Store,
    records: &[(&Access, &super::Prepared)],
    claimed: &mut Claimed,
) -> Result<Option<(usize, DomainError)>, DomainError> {
    let mut asked_all = Vec::with_capacity(records.len());
    for (_, p) in records {
        asked_all.push(asked(store, p.def, &p.values, None, p.opts).await?);
    }
    let mut locks: Vec<String> = Vec::new();
    for ((_, p), asked) in records.iter().zip(&asked_all) {
        for (rule, _, rk) in asked {
            locks.extend(rk.keys().iter().map(|k| lock_name(p.def, rule, k)));
        }
    }
    locks.sort();
    locks.dedup();
    rapport_db::key_locks::claim(tx, &locks).await?;
    claimed.locked.extend(locks);
    // One lookup: an arm per (record, rule), numbered k * RULES + r.
    const RULES: usize = 1000;
    let arms: Vec<SelectStatement> = records
        .iter()
        .zip(&asked_all)
        .enumerate()
        .flat_map(|(k, ((_, p), asked))| {
            asked.iter().enumerate().filter_map(move |(r, (_, _, rk))| {
                let q = rule_query(p.def, rk.clone(), None)?;
                Some(
                    Query::select()
                        .expr_as(Expr::val((k * RULES + r) as i64), t("rule"))
                        .column(t("id"))
                        .from_subquery(q, Alias::new(format!("r{k}_{r}")))
                        .to_owned(),
                )
            })
        })
        .collect();
    let mut held: HashMap<usize, Vec<String>> = HashMap::new();
    // At most 100 arms a statement (SQLite allows 500 in one compound select).
    for chunk in arms.chunks(100) {
        let Some(union) = rapport_db::union_all(chunk.iter().cloned()) else {
            continue;
        };
        for row in rapport_db::all(tx, &union).await? {
            let i: i64 = rapport_db::get(&row, "rule")?;
            let id: String = rapport_db::get(&row, "id")?;
            held.entry(usize::try_from(i).unwrap_or(usize::MAX))
                .or_default()
                .push(id);
        }
    }
    for (k, ((actor, p), asked)) in records.iter().zip(asked_all).enumerate() {
        let mut found: Vec<(String, RuleMode, Vec<String>)> = Vec::new();
        for (r, (rule, mode, rk)) in asked.iter().enumerate() {
            let earlier = rk.keys().iter().any(|key| {
                claimed
                    .keys
                    .contains(&(p.def.object, rule.clone(), key.clone()))
            });
            match held.remove(&(k * RULES + r)) {
                Some(ids) => found.push((rule.clone(), *mode, ids)),
                None if earlier => found.push((rule.clone(), *mode, Vec::new())),
                None => {}
            }
        }
        if !found.is_empty() {
            return Ok(Some((k, refusal(store, actor, p.def, &found).await?)));
        }
        for (rule, _, rk) in asked {
            for key in rk.keys() {
                claimed
                    .keys
                    .insert((p.def.object, rule.clone(), key.clone()));
            }
        }
    }
    claimed.confirmed = true;
    Ok(None)
}

/// Inside the write's transaction, just before the record is written: confirm that no record
/// committed since [`check`] (a concurrent create) and none written earlier in this
/// transaction holds a key of a rule that refuses the write. `before`: the record's values
/// before an update (rules whose keys it does not change are not asked again).
///
/// Every key's lock is claimed for the rest of the transaction first (which also counts its
/// version up, telling an import that checked earlier to look again), so of two concurrent
/// writers of the same key the second waits for the first to commit and then finds its
/// record. A rule in warn mode still lets an
/// explicit override through.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn confirm(
    tx: &DatabaseTransaction,
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    values: &BTreeMap<&'static str, FieldValue>,
    before: Option<(&str, &BTreeMap<&'static str, FieldValue>)>,
    opts: WriteOptions,
    claimed: &mut Claimed,
) -> Result<(), DomainError> {
    if claimed.confirmed && before.is_none() {
        return Ok(());
    }
    let asked = asked(store, def, values, before, opts).await?;
    if asked.is_empty() {
        return Ok(());
    }
    let mut locks: Vec<String> = asked
        .iter()
        .flat_map(|(rule, _, rk)| rk.keys().iter().map(move |k| lock_name(def, rule, k)))
        .filter(|l| !claimed.locked.contains(l))
        .collect();
    locks.sort();
    locks.dedup();
    rapport_db::key_locks::claim(tx, &locks).await?;
    claimed.locked.extend(locks);
    let mut found: Vec<(String, RuleMode, Vec<String>)> = Vec::new();
    for (rule, mode, rk) in &asked {
        if rk.keys().iter().any(|k| {
            claimed
                .keys
                .contains(&(def.object, rule.clone(), k.clone()))
        }) {
            found.push((rule.clone(), *mode, Vec::new()));
        }
    }
    let exclude = before.map(|(id, _)| id);
    let arms = asked.iter().enumerate().filter_map(|(i, (_, _, rk))| {
        let q = rule_query(def, rk.clone(), exclude)?;
        Some(
            Query::select()
                .expr_as(Expr::val(i as i64), t("rule"))
                .column(t("id"))
                .from_subquery(q, Alias::new(format!("r{i}")))
                .to_owned(),
        )
    });
    if let Some(union) = rapport_db::union_all(arms) {
        let mut per_rule: Vec<Vec<String>> = vec![Vec::new(); asked.len()];
        for r in rapport_db::all(tx, &union).await? {
            let i: i64 = rapport_db::get(&r, "rule")?;
            if let Some(ids) = usize::try_from(i).ok().and_then(|i| per_rule.get_mut(i)) {
                ids.push(rapport_db::get(&r, "id")?);
            }
        }
        for ((rule, mode, _), ids) in asked.iter().zip(per_rule) {
            if !ids.is_empty() {
                found.push((rule.clone(), *mode, ids));
            }
        }
    }
    if !found.is_empty() {
        return Err(refusal(store, actor, def, &found).await?);
    }
    for (rule, _, rk) in asked {
        for k in rk.keys() {
            claimed.keys.insert((def.object, rule.clone(), k.clone()));
        }
    }
    Ok(())
}

/// Changing duplicate rules needs the settings right over all (the API asks before reading a body).
pub fn may_change(actor: &crate::access::Access) -> Result<(), rapport_core::DomainError> {
    crate::settings::may_change(actor, "changing duplicate rules")
}
