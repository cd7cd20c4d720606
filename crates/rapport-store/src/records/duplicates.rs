//! Duplicate detection on create and edit: by normalised company name, credit code, email
//! and phone (encrypted values through their blind index). Each rule is "block", "warn" or
//! "off"; a warn can be overridden by the caller, a block cannot.

use super::{tokens, ObjectDef, WriteOptions};
use crate::db::{all, get};
use crate::scope::owner_filter;
use crate::Store;
use rapport_core::fields::FieldValue;
use rapport_core::{validate, Action, DomainError, Object, Principal, Scope};
use sea_orm::sea_query::{Alias, Expr, Query};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleMode {
    Block,
    Warn,
    Off,
}

/// The rules of one object: rule name → mode.
pub type Rules = BTreeMap<String, RuleMode>;

pub fn default_rules(object: Object) -> Rules {
    let pairs: &[(&str, RuleMode)] = match object {
        Object::Account => &[
            ("name", RuleMode::Warn),
            ("credit_code", RuleMode::Block),
            ("phone", RuleMode::Warn),
        ],
        Object::Contact | Object::Lead => &[("email", RuleMode::Warn), ("phone", RuleMode::Warn)],
        _ => &[],
    };
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
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
    actor: &Principal,
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

async fn ids_by_column(
    store: &Store,
    def: &ObjectDef,
    column: &str,
    value: String,
) -> Result<Vec<String>, DomainError> {
    let rows = all(
        store.db.reader(),
        Query::select()
            .column(t("id"))
            .from(t(def.table))
            .and_where(Expr::col(t(column)).eq(value))
            .limit(10),
    )
    .await?;
    rows.iter().map(|r| get(r, "id")).collect()
}

async fn ids_by_tokens(
    store: &Store,
    def: &ObjectDef,
    tokens: Vec<String>,
) -> Result<Vec<String>, DomainError> {
    if tokens.is_empty() {
        return Ok(vec![]);
    }
    let rows = all(
        store.db.reader(),
        Query::select()
            .distinct()
            .column(t("record_id"))
            .from(t("search_tokens"))
            .and_where(Expr::col(t("object_type")).eq(def.key()))
            .and_where(Expr::col(t("token")).is_in(tokens))
            .limit(10),
    )
    .await?;
    rows.iter().map(|r| get(r, "record_id")).collect()
}

/// Records of `def` whose `rule` key (name, credit_code, phone, email) equals that of
/// `values` (at most 10; scope not applied).
pub async fn ids_for_rule(
    store: &Store,
    def: &ObjectDef,
    rule: &str,
    values: &BTreeMap<&'static str, FieldValue>,
) -> Result<Vec<String>, DomainError> {
    let keys = store.keys()?;
    let text = |n: &str| match values.get(n) {
        Some(FieldValue::Text(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    Ok(match (def.object, rule) {
        (Object::Account, "name") => match text("name").map(|n| validate::company_name_norm(&n)) {
            Some(norm) if !norm.is_empty() => ids_by_column(store, def, "name_norm", norm).await?,
            _ => vec![],
        },
        (Object::Account, "credit_code") => match text("credit_code") {
            Some(code) => {
                ids_by_column(
                    store,
                    def,
                    "credit_code_bidx",
                    keys.blind("credit_code", &code),
                )
                .await?
            }
            None => vec![],
        },
        (_, "phone") | (_, "email") => {
            let kind = rule;
            let toks: Vec<String> = tokens::tokens_for(&keys, def, values)
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
            ids_by_tokens(store, def, toks).await?
        }
        _ => vec![],
    })
}

/// Find likely duplicates of `values`; refuse per the rules.
pub async fn check(
    store: &Store,
    actor: &Principal,
    def: &ObjectDef,
    values: &BTreeMap<&'static str, FieldValue>,
    exclude: Option<&str>,
    opts: WriteOptions,
) -> Result<(), DomainError> {
    let rules = rules(store, def.object).await?;
    let mut found: Vec<(String, RuleMode, Vec<String>)> = Vec::new();
    for (rule, mode) in &rules {
        if *mode == RuleMode::Off {
            continue;
        }
        let ids = ids_for_rule(store, def, rule, values).await?;
        let ids: Vec<String> = ids
            .into_iter()
            .filter(|i| Some(i.as_str()) != exclude)
            .collect();
        if !ids.is_empty() {
            found.push((rule.clone(), *mode, ids));
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    let blocking = found.iter().any(|(_, m, _)| *m == RuleMode::Block);
    if !blocking && opts.override_duplicates {
        return Ok(());
    }
    let visible = owner_filter(store, actor, def.object, Action::Read).await?;
    let mut matches = Vec::new();
    for (rule, mode, ids) in &found {
        for id in ids {
            let rec = match &visible {
                Some(f) => super::find_in_scope(store.db.reader(), store, def, f, id).await?,
                None => None,
            };
            matches.push(match rec {
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
