//! Blind-index tokens for a record's encrypted emails and phone numbers, so quick search and
//! duplicate checks find them by exact value or by the last four digits without decrypting.

use super::ObjectDef;
use crate::db::exec;
use crate::Keyring;
use rapport_core::fields::{FieldKind, FieldValue};
use rapport_core::DomainError;
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::ConnectionTrait;
use std::collections::BTreeMap;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

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
    out.sort();
    out.dedup();
    out
}

/// Remove a record's tokens. Record ids are unique across types, so the condition is on the
/// id alone: that keeps the planner on the `search_tokens_record` index (with the type in the
/// condition, SQLite preferred the primary key and scanned every token of the type).
pub async fn clear<C: ConnectionTrait>(
    c: &C,
    _def: &ObjectDef,
    id: &str,
) -> Result<(), DomainError> {
    exec(
        c,
        Query::delete()
            .from_table(t("search_tokens"))
            .and_where(Expr::col(t("record_id")).eq(id)),
    )
    .await?;
    Ok(())
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
    clear(c, def, id).await?;
    let tokens = for_record(keys, def, values, extra);
    insert(c, [(def.key(), id, &tokens)]).await
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

/// Rows per INSERT (three parameters each).
const ROWS_PER_INSERT: usize = 1_000;

/// Insert the tokens of new records (their type's key, record id, tokens) in multi-row
/// INSERTs.
pub async fn insert<'a, C: ConnectionTrait>(
    c: &C,
    records: impl IntoIterator<Item = (&'a str, &'a str, &'a Vec<String>)>,
) -> Result<(), DomainError> {
    let rows: Vec<(&str, &str, &String)> = records
        .into_iter()
        .flat_map(|(object, id, toks)| toks.iter().map(move |tok| (object, id, tok)))
        .collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut q = Query::insert();
        q.into_table(t("search_tokens"))
            .columns(["object_type", "record_id", "token"].map(t));
        for (object, id, tok) in chunk {
            q.values_panic([(*object).into(), (*id).into(), (*tok).clone().into()]);
        }
        exec(c, &q).await?;
    }
    Ok(())
}
