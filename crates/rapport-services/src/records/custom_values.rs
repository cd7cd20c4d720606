//! Custom field values on records: validation against the definitions, storage (plain JSON in
//! `custom`, sensitive ones encrypted together in `custom_enc`), blind-index tokens, audit diffs.

use crate::access::Access;
use crate::Keyring;
use crate::Store;
use rapport_core::custom::{is_custom_key, CustomField, CustomKind};
use rapport_core::input::Mode;
use rapport_core::{DomainError, FieldError};
use sea_orm::sea_query::Value as SqlValue;
use serde_json::{json, Map, Value};

/// Separate `cf_...` keys from the built-in fields of a document.
pub fn split(doc: &Map<String, Value>) -> (Map<String, Value>, Map<String, Value>) {
    let mut builtin = Map::new();
    let mut custom = Map::new();
    for (k, v) in doc {
        if k.starts_with("cf_") {
            custom.insert(k.clone(), v.clone());
        } else {
            builtin.insert(k.clone(), v.clone());
        }
    }
    (builtin, custom)
}

/// Validate the custom part of a document. Returns the values to write (null clears).
pub async fn read(
    store: &Store,
    actor: &Access,
    object: rapport_core::Object,
    defs: &[CustomField],
    doc: &Map<String, Value>,
    mode: Mode,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut out = Map::new();
    let ctx = store.parse_context();
    for (k, v) in doc {
        let Some(def) = defs
            .iter()
            .find(|d| d.key == *k)
            .filter(|_| is_custom_key(k))
        else {
            // A custom key no definition has: which custom fields exist is the installation's
            // own (GET /api/v1/custom-fields/{object}), so it is told apart from a misspelling.
            errors.push(if is_custom_key(k) {
                FieldError::new(
                    k.clone(),
                    "unknown_custom_field",
                    format!(
                        "no custom field {k} is defined for {}",
                        object.plural().unwrap_or(object.key())
                    ),
                )
            } else {
                FieldError::new(
                    k.clone(),
                    "unknown_field",
                    format!("there is no field named {k}"),
                )
            });
            continue;
        };
        if !actor.grants.can_write_field(object, k) {
            errors.push(FieldError::new(
                k.clone(),
                "field_not_writable",
                format!("your role may not change {k}"),
            ));
            continue;
        }
        match def.parse(v, &ctx) {
            Ok(parsed) => {
                if def.required && parsed.is_null() {
                    errors.push(FieldError::new(
                        k.clone(),
                        "required",
                        format!("{k} is required"),
                    ));
                } else {
                    if def.kind == CustomKind::User {
                        if let Some(uid) = parsed.as_str() {
                            match crate::users::get_user(store, uid).await {
                                Ok(Some(u)) if u.active => {}
                                Ok(_) => errors.push(FieldError::new(
                                    k.clone(),
                                    "invalid_reference",
                                    format!("{k} is not an active user"),
                                )),
                                Err(_) => errors.push(FieldError::new(
                                    k.clone(),
                                    "invalid_reference",
                                    format!("{k} could not be checked"),
                                )),
                            }
                        }
                    }
                    out.insert(k.clone(), parsed);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if mode == Mode::Create {
        for def in defs {
            if out.contains_key(&def.key) {
                continue;
            }
            match &def.default {
                Some(d) => {
                    out.insert(def.key.clone(), d.clone());
                }
                None if def.required => errors.push(FieldError::new(
                    def.key.clone(),
                    "required",
                    format!("{} is required", def.key),
                )),
                None => {}
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Merge written values into the current ones (null removes the key).
pub fn merge(current: &Map<String, Value>, changes: &Map<String, Value>) -> Map<String, Value> {
    let mut out = current.clone();
    for (k, v) in changes {
        if v.is_null() {
            out.remove(k);
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

fn is_sensitive(defs: &[CustomField], key: &str) -> bool {
    defs.iter().any(|d| d.key == key && d.sensitive)
}

/// The `custom` and `custom_enc` column values for a record.
pub fn encode(
    keys: &Keyring,
    table: &str,
    id: &str,
    defs: &[CustomField],
    values: &Map<String, Value>,
) -> Result<[(String, SqlValue); 2], DomainError> {
    let (mut plain, mut secret) = (Map::new(), Map::new());
    for (k, v) in values {
        if is_sensitive(defs, k) {
            secret.insert(k.clone(), v.clone());
        } else {
            plain.insert(k.clone(), v.clone());
        }
    }
    let plain = if plain.is_empty() {
        None
    } else {
        Some(Value::Object(plain).to_string())
    };
    let secret = if secret.is_empty() {
        None
    } else {
        Some(keys.encrypt(table, "custom_enc", id, &Value::Object(secret).to_string())?)
    };
    Ok([
        ("custom".into(), SqlValue::String(plain.map(Box::new))),
        ("custom_enc".into(), SqlValue::String(secret.map(Box::new))),
    ])
}

/// Blind-index token of a sensitive custom value (exact lookup in filters).
pub fn token(keys: &Keyring, def: &CustomField, stored: &Value) -> Option<String> {
    def.index_text(stored)
        .map(|t| keys.blind(&format!("cf:{}", def.key), &t))
}

pub fn tokens(keys: &Keyring, defs: &[CustomField], values: &Map<String, Value>) -> Vec<String> {
    defs.iter()
        .filter(|d| d.sensitive)
        .filter_map(|d| values.get(&d.key).and_then(|v| token(keys, d, v)))
        .collect()
}

/// Before/after of changed custom values for the audit trail (sensitive ones masked).
pub fn audit_changes(
    defs: &[CustomField],
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let (b, a) = (
            before.get(k).cloned().unwrap_or(Value::Null),
            after.get(k).cloned().unwrap_or(Value::Null),
        );
        if a == b {
            continue;
        }
        let mask = |v: Value| {
            if v.is_null() || !is_sensitive(defs, k) {
                v
            } else {
                json!("[encrypted]")
            }
        };
        out.insert(k.clone(), json!({"before": mask(b), "after": mask(a)}));
    }
    out
}
