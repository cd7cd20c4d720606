//! Blind-index tokens for a record's encrypted emails and phone numbers, so quick search and
//! duplicate checks find them by exact value or by the last four digits without decrypting.

use super::ObjectDef;
use crate::db::{all, exec, get};
use crate::Keyring;
use rapport_core::fields::{FieldKind, FieldValue};
use rapport_core::DomainError;
use sea_orm::sea_query::{Alias, Expr, Query, SelectStatement, SimpleExpr};
use sea_orm::ConnectionTrait;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Tokens written by this process since it started: the generations' mover
/// ([`super::generations`]) looks at generation 0 only when this has moved.
static WRITTEN: AtomicU64 = AtomicU64::new(0);

/// Tokens written by this process since it started.
pub(crate) fn written() -> u64 {
    WRITTEN.load(Ordering::Relaxed)
}

pub(crate) fn note_written(n: usize) {
    WRITTEN.fetch_add(n as u64, Ordering::Relaxed);
}

/// `generation IN (every listed generation)`: what each lookup and delete of tokens carries,
/// so that SQLite seeks the key once per generation (ADR 0026). A generation being merged is
/// listed with its target until the merge ends, and each token is in exactly one of them.
fn in_listed_generations() -> SimpleExpr {
    Expr::col(t("generation")).in_subquery(
        Query::select()
            .column(t("generation"))
            .from(t("token_generations"))
            .to_owned(),
    )
}

/// `FROM search_tokens WHERE generation IN (…) [AND object_type = ?] AND token IN (…)`, with
/// no columns: every lookup of records by token starts here. `object_type` is left out only
/// where PostgreSQL should use its index on the token alone and the caller checks the type.
pub(crate) fn lookup(object_type: Option<&str>, tokens: Vec<String>) -> SelectStatement {
    let mut q = Query::select();
    q.from(t("search_tokens"))
        .and_where(in_listed_generations());
    if let Some(object_type) = object_type {
        q.and_where(Expr::col(t("object_type")).eq(object_type));
    }
    q.and_where(Expr::col(t("token")).is_in(tokens));
    q
}

/// A record's token list as `record_tokens` keeps it: the tokens, space separated (tokens
/// are hex digits).
pub(super) fn list_text<'a>(tokens: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for tok in tokens {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(tok);
    }
    out
}

/// The kept lists of records `ids`: `(record_id, object_type, tokens)`, in one query.
async fn kept<C: ConnectionTrait>(
    c: &C,
    ids: &[String],
) -> Result<Vec<(String, String, Vec<String>)>, DomainError> {
    let rows = all(
        c,
        Query::select()
            .columns(["record_id", "object_type", "tokens"].map(t))
            .from(t("record_tokens"))
            .and_where(Expr::col(t("record_id")).is_in(ids.to_vec())),
    )
    .await?;
    rows.iter()
        .map(|r| {
            let tokens: String = get(r, "tokens")?;
            Ok((
                get(r, "record_id")?,
                get(r, "object_type")?,
                tokens
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            ))
        })
        .collect()
}

/// Remove a record's tokens: those `record_tokens` lists for it, from every listed
/// generation, then the list itself.
pub async fn clear<C: ConnectionTrait>(
    c: &C,
    _def: &ObjectDef,
    id: &str,
) -> Result<(), DomainError> {
    let Some((_, object_type, tokens)) = kept(c, &[id.to_string()]).await?.pop() else {
        return Ok(());
    };
    if !tokens.is_empty() {
        exec(
            c,
            Query::delete()
                .from_table(t("search_tokens"))
                .and_where(in_listed_generations())
                .and_where(Expr::col(t("object_type")).eq(object_type))
                .and_where(Expr::col(t("token")).is_in(tokens))
                .and_where(Expr::col(t("record_id")).eq(id)),
        )
        .await?;
    }
    exec(
        c,
        Query::delete()
            .from_table(t("record_tokens"))
            .and_where(Expr::col(t("record_id")).eq(id)),
    )
    .await?;
    Ok(())
}

/// The tokens of records `ids` as rows of `(object_type, record_id, token)`, one a token (the
/// form a merge keeps for its undo).
pub(crate) async fn of_records<C: ConnectionTrait>(
    c: &C,
    ids: &[String],
) -> Result<Vec<(String, String, String)>, DomainError> {
    Ok(kept(c, ids)
        .await?
        .into_iter()
        .flat_map(|(id, object_type, tokens)| {
            tokens
                .into_iter()
                .map(move |tok| (object_type.clone(), id.clone(), tok))
        })
        .collect())
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

/// Rows per INSERT (four parameters each).
const ROWS_PER_INSERT: usize = 1_000;

/// Insert the tokens of new records (their type's key, record id, tokens) into generation 0,
/// and each record's list into `record_tokens`, in multi-row INSERTs.
pub async fn insert<'a, C: ConnectionTrait>(
    c: &C,
    records: impl IntoIterator<Item = (&'a str, &'a str, &'a Vec<String>)>,
) -> Result<(), DomainError> {
    let records: Vec<(&str, &str, &Vec<String>)> = records
        .into_iter()
        .filter(|(_, _, toks)| !toks.is_empty())
        .collect();
    let rows: Vec<(&str, &str, &String)> = records
        .iter()
        .flat_map(|(object, id, toks)| toks.iter().map(move |tok| (*object, *id, tok)))
        .collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut q = Query::insert();
        q.into_table(t("search_tokens"))
            .columns(["generation", "object_type", "record_id", "token"].map(t));
        for (object, id, tok) in chunk {
            q.values_panic([
                0.into(),
                (*object).into(),
                (*id).into(),
                (*tok).clone().into(),
            ]);
        }
        exec(c, &q).await?;
    }
    for chunk in records.chunks(ROWS_PER_INSERT) {
        let mut q = Query::insert();
        q.into_table(t("record_tokens"))
            .columns(["record_id", "object_type", "tokens"].map(t));
        for (object, id, toks) in chunk {
            q.values_panic([
                (*id).into(),
                (*object).into(),
                list_text(toks.iter().map(String::as_str)).into(),
            ]);
        }
        exec(c, &q).await?;
    }
    note_written(rows.len());
    Ok(())
}
