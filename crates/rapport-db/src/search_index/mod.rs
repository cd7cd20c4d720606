//! The search index: blind-index tokens of records' encrypted values (emails, phone numbers,
//! their last four digits), so that quick search and duplicate checks find records by exact
//! value without decrypting. What a token is, and which values get one, is the services'
//! business; this module stores them and looks them up.
//!
//! Tokens live in `search_tokens` (one row a token) with each record's list in
//! `record_tokens`. On SQLite the rows are kept in generations (ADR 0026, [`generations`])
//! with in-memory filters of the closed ones ([`filters`], ADR 0027); PostgreSQL keeps every
//! token in generation 0. Every lookup and removal goes through this module, so both see each
//! token exactly once whatever the generations are doing.

pub mod filters;
pub mod generations;

use crate::statements::{all, exec, get};
use crate::Db;
use rapport_core::DomainError;
use sea_orm::sea_query::{Alias, Expr, Query, SelectStatement, SimpleExpr};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use std::sync::atomic::{AtomicU64, Ordering};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// Tokens written by this process since it started: the generations' mover
/// ([`generations`]) looks at generation 0 only when this has moved.
static WRITTEN: AtomicU64 = AtomicU64::new(0);

/// Tokens written by this process since it started.
pub(crate) fn written() -> u64 {
    WRITTEN.load(Ordering::Relaxed)
}

/// Count tokens written by a path that built its own statements (bulk inserts).
pub fn note_written(n: usize) {
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
pub fn lookup(object_type: Option<&str>, tokens: Vec<String>) -> SelectStatement {
    let mut q = Query::select();
    q.from(t("search_tokens"))
        .and_where(in_listed_generations());
    if let Some(object_type) = object_type {
        q.and_where(Expr::col(t("object_type")).eq(object_type));
    }
    q.and_where(Expr::col(t("token")).is_in(tokens));
    q
}

/// `EXISTS` a row of `token` for the record `outer.record_id` of `object_type` (`outer`: the
/// alias of the `search_tokens` row being tested): the further terms of a name search, one
/// seek a listed generation for each record read.
pub fn holds(object_type: &str, token: &str, outer: &str) -> SimpleExpr {
    let mut q = Query::select();
    q.expr(Expr::val(1))
        .from_as(t("search_tokens"), t("x"))
        .and_where(
            Expr::col((t("x"), t("generation"))).in_subquery(
                Query::select()
                    .column(t("generation"))
                    .from(t("token_generations"))
                    .to_owned(),
            ),
        )
        .and_where(Expr::col((t("x"), t("object_type"))).eq(object_type))
        .and_where(Expr::col((t("x"), t("token"))).eq(token))
        .and_where(Expr::col((t("x"), t("record_id"))).equals((t(outer), t("record_id"))));
    Expr::exists(q)
}

/// The generations lookups read now, in order: each is read on its own where a search reads
/// a term's records newest first (a term's rows are in id order within a generation). On
/// PostgreSQL every token is in generation 0.
pub async fn listed(db: &Db) -> Result<Vec<i64>, DomainError> {
    if !db.is_sqlite() {
        return Ok(vec![0]);
    }
    let rows = all(
        db.reader(),
        Query::select()
            .column(t("generation"))
            .from(t("token_generations"))
            .order_by(t("generation"), sea_orm::sea_query::Order::Asc),
    )
    .await?;
    rows.iter().map(|r| get::<i64>(r, "generation")).collect()
}

/// The records of `object_type` holding any of `tokens`, as `(token, record id)` pairs, read
/// outside any transaction in one statement: on SQLite the closed generations' filters leave
/// out most of the seeks (ADR 0027); PostgreSQL looks tokens up by the token alone (its own
/// index, migration 16) and the type is checked here.
pub async fn find(
    db: &Db,
    object_type: &str,
    tokens: &[String],
) -> Result<Vec<(String, String)>, DomainError> {
    find_on(db.reader(), db, object_type, tokens).await
}

/// [`find`] on connection `c` (a write transaction, which also sees what it wrote itself).
pub async fn find_on<C: ConnectionTrait>(
    c: &C,
    db: &Db,
    object_type: &str,
    tokens: &[String],
) -> Result<Vec<(String, String)>, DomainError> {
    let rows = if db.is_sqlite() {
        let narrowed = db.token_filters().narrow(db, object_type, tokens);
        let q = filters::select(object_type, tokens, &narrowed);
        c.query_all(q).await.map_err(crate::db_err)?
    } else {
        let mut q = lookup(None, tokens.to_vec());
        q.expr_as(Expr::col(t("record_id")), t("id"))
            .columns([t("token"), t("object_type")]);
        all(c, &q).await?
    };
    rows.iter()
        .filter(|r| get::<String>(r, "object_type").is_ok_and(|ty| ty == object_type))
        .map(|r| Ok((get::<String>(r, "token")?, get::<String>(r, "id")?)))
        .collect()
}

/// A record's token list as `record_tokens` keeps it: the tokens, space separated (tokens
/// are hex digits).
pub fn list_text<'a>(tokens: impl IntoIterator<Item = &'a str>) -> String {
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
pub async fn clear<C: ConnectionTrait>(c: &C, id: &str) -> Result<(), DomainError> {
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
pub async fn of_records<C: ConnectionTrait>(
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

/// Replace a record's tokens with `tokens` (sorted, each once).
pub async fn replace<C: ConnectionTrait>(
    c: &C,
    object_type: &str,
    id: &str,
    tokens: &Vec<String>,
) -> Result<(), DomainError> {
    clear(c, id).await?;
    insert(c, [(object_type, id, tokens)]).await
}

/// Rows per INSERT (four parameters each).
const ROWS_PER_INSERT: usize = 1_000;

/// Token rows per statement of [`token_statements`] (four parameters each).
const TOKEN_ROWS_PER_STATEMENT: usize = 1_600;

/// Multi-row INSERTs of search tokens `(record id, token)` of `object_type` into
/// `generation`, in the order given.
pub fn token_statements<I: AsRef<str>>(
    backend: DatabaseBackend,
    object_type: &str,
    generation: i64,
    token_rows: &[(I, String)],
) -> Vec<Statement> {
    let token_cols = ["generation", "object_type", "record_id", "token"].map(String::from);
    token_rows
        .chunks(TOKEN_ROWS_PER_STATEMENT)
        .map(|chunk| {
            let rows = chunk
                .iter()
                .map(|(id, tok)| {
                    vec![
                        generation.into(),
                        object_type.into(),
                        id.as_ref().into(),
                        tok.as_str().into(),
                    ]
                })
                .collect();
            crate::dialect::multi_row_insert(backend, "search_tokens", &token_cols, rows)
        })
        .collect()
}

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
