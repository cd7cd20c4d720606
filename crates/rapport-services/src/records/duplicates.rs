//! Duplicate detection on create and edit: by normalised company name, credit code, email
//! and phone (encrypted values through their blind index). Each rule is "block", "warn" or
//! "off"; a warn can be overridden by the caller, a block cannot.

use super::{tokens, ObjectDef, WriteOptions};
use crate::access::Access;
use crate::Store;
use rapport_core::fields::FieldValue;
use rapport_core::{Action, DomainError, Object, Scope};
use sea_orm::sea_query::{Alias, Expr, Query, SelectStatement};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

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
pub fn default_rules(object: Object) -> Rules {
    super::def_of(object)
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
    let mut rules = default_rules(object);
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
    if actor.scope(Object::Settings, Action::Update) != Scope::All {
        return Err(DomainError::Forbidden(
            "changing duplicate rules needs the settings right".into(),
        ));
    }
    let known = default_rules(object);
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

/// At most 10 ids of records of `def` whose `column` holds one of `values`.
fn ids_by_column(def: &ObjectDef, column: &str, values: Vec<String>) -> Option<SelectStatement> {
    let mut q = Query::select();
    q.column(t("id")).from(t(def.table)).limit(10);
    match values.as_slice() {
        [] => return None,
        [one] => q.and_where(Expr::col(t(column)).eq(one.clone())),
        _ => q.and_where(Expr::col(t(column)).is_in(values)),
    };
    Some(q)
}

/// At most 10 ids of records of `def` holding any of `tokens`.
fn ids_by_tokens(def: &ObjectDef, tokens: Vec<String>) -> Option<SelectStatement> {
    if tokens.is_empty() {
        return None;
    }
    Some(
        rapport_db::search_index::lookup(Some(def.key()), tokens)
            .distinct()
            .expr_as(Expr::col(t("record_id")), t("id"))
            .limit(10)
            .to_owned(),
    )
}

/// The query for records of `def` whose `rule` key (name, credit_code, phone, email) equals
/// that of `values` (at most 10 ids; scope not applied), or `None` when `values` has no such
/// key.
fn rule_query(
    keys: &crate::Keyring,
    def: &ObjectDef,
    rule: &str,
    values: &BTreeMap<&'static str, FieldValue>,
) -> Option<SelectStatement> {
    if let Some((column, found)) = def.hooks.duplicate_keys(keys, rule, values) {
        return ids_by_column(def, column, found);
    }
    match rule {
        "phone" | "email" => {
            let kind = rule;
            let toks: Vec<String> = tokens::tokens_for(keys, def, values)
                .into_iter()
                .filter(|tok| {
                    def.fields.iter().any(|f| {
                        let items: Vec<String> = match values.get(f.name) {
                            Some(FieldValue::Text(s)) => vec![s.clone()],
                            Some(FieldValue::List(l)) => l.clone(),
                            _ => vec![],
                        };
                        items.iter().any(|i| &keys.blind(kind, i) == tok)
                    })
                })
                .collect();
            ids_by_tokens(def, toks)
        }
        _ => None,
    }
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
        let q = rule_query(&keys, def, rule, values)?;
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
    for (rule, mode, ids) in &found {
        for id in ids {
            matches.push(match shown.get(id) {
                Some(r) => json!({"rule": rule, "mode": mode, "id": r.id, "label": r.label(def), "visible": true}),
                None => json!({"rule": rule, "mode": mode, "visible": false}),
            });
        }
    }
    let rule = found
        .iter()
        .find(|(_, m, _)| *m == RuleMode::Block)
        .or(found.first())
        .map(|(r, _, _)| r.clone())
        .unwrap_or_default();
    Err(DomainError::Duplicate {
        rule,
        matches,
        overridable: !blocking,
    })
}
