//! Blind-index tokens for a record's encrypted emails and phone numbers, so quick search and
//! duplicate checks find them by exact value or by the last four digits without decrypting,
//! and for the terms of its names (the name index, ADR 0041). What the tokens of a record
//! are is decided here; the search index stores them.

use super::ObjectDef;
use crate::Keyring;
use rapport_core::fields::{FieldKind, FieldValue};
use rapport_core::DomainError;
use rapport_db::search_index;
use sea_orm::ConnectionTrait;
use std::collections::BTreeMap;

/// Token for one phone number's last four digits.
pub fn tail_token(keys: &Keyring, digits: &str) -> String {
    keys.blind("tail4", digits)
}

/// Whether values of this kind get search tokens (so lookups by value go through them).
pub fn has_tokens(kind: FieldKind) -> bool {
    matches!(
        kind,
        FieldKind::Email | FieldKind::EmailList | FieldKind::Phone | FieldKind::PhoneList
    )
}

pub fn tokens_for(
    keys: &Keyring,
    def: &ObjectDef,
    values: &BTreeMap<&'static str, FieldValue>,
) -> Vec<String> {
    let mut out = Vec::new();
    for f in def.fields {
        if !has_tokens(f.kind) {
            continue;
        }
        let items: Vec<String> = match values.get(f.name) {
            Some(FieldValue::Text(s)) if !s.is_empty() => vec![s.clone()],
            Some(FieldValue::List(l)) => l.clone(),
            _ => continue,
        };
        match f.kind {
            FieldKind::Email | FieldKind::EmailList => {
                out.extend(items.iter().map(|e| keys.blind("email", e)))
            }
            FieldKind::Phone | FieldKind::PhoneList => {
                for p in &items {
                    out.push(keys.blind("phone", p));
                    let digits: String = p.chars().filter(char::is_ascii_digit).collect();
                    if digits.len() >= 4 {
                        out.push(tail_token(keys, &digits[digits.len() - 4..]));
                    }
                }
            }
            _ => {}
        }
    }
    for source in def.hooks.name_sources() {
        let text = source.text_of(values);
        out.extend(
            rapport_core::search_terms::index_terms(&text)
                .iter()
                .map(|term| keys.blind(source.kind, term)),
        );
    }
    out.sort();
    out.dedup();
    out
}

/// Replace a record's tokens with those of `values` and `extra` (custom fields).
pub async fn write<C: ConnectionTrait>(
    c: &C,
    keys: &Keyring,
    def: &ObjectDef,
    id: &str,
    values: &BTreeMap<&'static str, FieldValue>,
    extra: Vec<String>,
) -> Result<(), DomainError> {
    let tokens = for_record(keys, def, values, extra);
    search_index::replace(c, def.key(), id, &tokens).await
}

/// A record's tokens: those of its built-in fields and `extra`, sorted, each once.
pub fn for_record(
    keys: &Keyring,
    def: &ObjectDef,
    values: &BTreeMap<&'static str, FieldValue>,
    extra: Vec<String>,
) -> Vec<String> {
    let mut tokens = tokens_for(keys, def, values);
    tokens.extend(extra);
    tokens.sort();
    tokens.dedup();
    tokens
}
