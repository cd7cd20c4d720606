//! Fast insertion of many records at once, for demo data, benchmarks and (later) imports.
//! Values are validated and encrypted exactly as in a single create, but rows go in as
//! multi-row INSERTs and duplicate checks are skipped. One audit entry records each batch.
//! Only callers with create rights over every owner (administrators, the CLI) may use it.

use super::hooks::{Effects, Written};
use super::{codec, derived, tokens, ObjectDef};
use crate::access::{Access, OwnerFilter};
use crate::{audit, outbox, Store};
use rapport_core::fields::{AccountLink, FieldValue};
use rapport_core::input::{self, Mode};
use rapport_core::{ids, Action, DomainError};
use rapport_db::db_err;
use sea_orm::Value as SqlValue;
use sea_orm::{DatabaseBackend, Statement};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Rows per INSERT statement (well under both backends' parameter limits).
const ROWS_PER_STATEMENT: usize = 400;

/// Insert `docs` (API documents, each with its `owner_id`) and return the new ids in order.
pub async fn insert_many(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    docs: &[Map<String, Value>],
) -> Result<Vec<String>, DomainError> {
    let filter = actor.owners(def.object, Action::Create);
    if filter != Some(OwnerFilter::All) {
        return Err(DomainError::Forbidden(
            "batch inserts need the create right over all records".into(),
        ));
    }
    if !def.hooks.batch_creatable() {
        return Err(DomainError::Forbidden(format!(
            "{} records are created one at a time",
            def.key()
        )));
    }
    let keys = store.keys()?;
    let now = store.now();
    let ctx = store.parse_context();
    let org = actor.org(store).await?;
    let rules = super::rule_context(store, actor, def, None, None).await?;
    let cols = record_columns(def);
    let mut rows: Vec<Vec<SqlValue>> = Vec::with_capacity(docs.len());
    let mut token_rows: Vec<(String, String)> = Vec::new();
    let mut links: Vec<(String, AccountLink)> = Vec::new();
    let mut new_ids = Vec::with_capacity(docs.len());
    // Each record's values and what its type's rules said its write must also do.
    let mut effects: Vec<(String, BTreeMap<&'static str, FieldValue>, Effects)> =
        Vec::with_capacity(docs.len());
    for (n, doc) in docs.iter().enumerate() {
        let parsed =
            input::read(def.fields, doc, Mode::Create, &ctx, &[]).map_err(|e| match e {
                DomainError::Validation(mut errs) => {
                    for err in &mut errs {
                        err.field = format!("[{n}].{}", err.field);
                    }
                    DomainError::Validation(errs)
                }
                other => other,
            })?;
        let id = ids::new_id();
        let mut values = def.values_from(&parsed);
        let owner = match values.get("owner_id") {
            Some(FieldValue::Text(o)) => o.clone(),
            _ => actor.user_id.clone(),
        };
        let dept = org.department_of(&owner);
        values.insert("owner_id", FieldValue::Text(owner));
        values.insert(
            "department_id",
            dept.map_or(FieldValue::Null, FieldValue::Text),
        );
        if def.field("currency").is_some() && values.get("currency").is_none_or(FieldValue::is_null)
        {
            values.insert("currency", FieldValue::Text("CNY".into()));
        }
        // The type's rules hold here too (an opportunity's stage, a lead's status...).
        let done = super::apply_rules(&rules, def, None, &mut values, &parsed, now)?;
        effects.push((id.clone(), values.clone(), done));
        let mut row: Vec<SqlValue> = vec![
            id.clone().into(),
            now.into(),
            now.into(),
            actor.user_id.clone().into(),
        ];
        for f in def.fields {
            codec::encode_values(
                f,
                values.get(f.name).unwrap_or(&FieldValue::Null),
                &keys,
                def.table,
                &id,
                &mut row,
            )?;
        }
        for (_, v) in derived(def, &values) {
            row.push(v);
        }
        rows.push(row);
        for tok in tokens::tokens_for(&keys, def, &values) {
            token_rows.push((id.clone(), tok));
        }
        if let Some(FieldValue::Links(l)) = values.get("accounts") {
            links.extend(l.iter().map(|x| (id.clone(), x.clone())));
        }
        new_ids.push(id);
    }
    let tx = store.db.begin().await?;
    write_rows(&tx, def, &cols, rows, &token_rows, &links).await?;
    for (id, values, effects) in &effects {
        def.hooks
            .after_write(
                &tx,
                &Written {
                    id,
                    before: None,
                    values,
                    effects: *effects,
                    actor_id: &actor.user_id,
                    now,
                },
            )
            .await?;
    }
    if let (Some(first), Some(last)) = (new_ids.first(), new_ids.last()) {
        audit::record(
            &tx,
            store,
            actor,
            audit::Entry::new(format!("{}.batch_created", def.key()))
                .object(def.key(), "*")
                .details(json!({"count": new_ids.len(), "first_id": first, "last_id": last})),
        )
        .await?;
        outbox::emit(
            &tx,
            store,
            actor,
            &format!("{}.batch_created", def.key()),
            def.key(),
            "*",
            json!({"count": new_ids.len(), "first_id": first, "last_id": last}),
        )
        .await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(new_ids)
}

/// Multi-row INSERTs of new records (`rows` in the order of `cols`), their search tokens
/// (record id, token; into generation 0, ADR 0026) and contact–account links (contact id,
/// link).
pub(super) async fn write_rows<C: sea_orm::ConnectionTrait, I: AsRef<str>>(
    tx: &C,
    def: &ObjectDef,
    cols: &[String],
    rows: Vec<Vec<SqlValue>>,
    token_rows: &[(I, String)],
    links: &[(I, AccountLink)],
) -> Result<(), DomainError> {
    let backend = tx.get_database_backend();
    let mut statements = record_statements(backend, def, cols, rows, token_rows, links);
    statements.extend(rapport_db::search_index::token_statements(
        backend,
        def.key(),
        0,
        token_rows,
    ));
    run_all(tx, statements).await?;
    rapport_db::search_index::note_written(token_rows.len());
    Ok(())
}

/// Execute built statements in order.
pub async fn run_all<C: sea_orm::ConnectionTrait>(
    tx: &C,
    statements: Vec<Statement>,
) -> Result<(), DomainError> {
    for s in statements {
        tx.execute(s).await.map_err(db_err)?;
    }
    Ok(())
}

/// The statements of `write_rows` but the search tokens themselves, built for `backend` (so
/// that a caller can build them while the database is busy with something else): the
/// records, each record's token list (`record_tokens`) and the contact–account links. The
/// caller writes the tokens (`token_statements`). The rows' values are moved into the
/// statements, not copied.
///
/// On SQLite they are `INSERT OR ROLLBACK`: a row that breaks a constraint ends the whole
/// transaction, as the callers' error handling does anyway, and SQLite then keeps no
/// statement journal (a copy of every page the statement changes, kept so that a failed
/// statement could be undone on its own; ADR 0020). Foreign keys still make it keep one
/// unless the transaction defers them (`PRAGMA defer_foreign_keys`).
pub(super) fn record_statements<I: AsRef<str>>(
    backend: DatabaseBackend,
    def: &ObjectDef,
    cols: &[String],
    rows: Vec<Vec<SqlValue>>,
    token_rows: &[(I, String)],
    links: &[(I, AccountLink)],
) -> Vec<Statement> {
    let mut out = Vec::new();
    // Fewer rows per statement for wide tables (parameter limits).
    let per_statement = (ROWS_PER_STATEMENT * 40 / cols.len().max(1)).clamp(20, ROWS_PER_STATEMENT);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<SqlValue>> = rows.by_ref().take(per_statement).collect();
        out.push(rapport_db::dialect::multi_row_insert(
            backend, def.table, cols, chunk,
        ));
    }
    let mut by_record: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, tok) in token_rows {
        by_record.entry(id.as_ref()).or_default().push(tok);
    }
    let list_cols = ["record_id", "object_type", "tokens"].map(String::from);
    let lists: Vec<(&str, String)> = by_record
        .into_iter()
        .map(|(id, toks)| (id, rapport_db::search_index::list_text(toks)))
        .collect();
    for chunk in lists.chunks(ROWS_PER_STATEMENT * 4) {
        let rows = chunk
            .iter()
            .map(|(id, list)| vec![(*id).into(), def.key().into(), list.as_str().into()])
            .collect();
        out.push(rapport_db::dialect::multi_row_insert(
            backend,
            "record_tokens",
            &list_cols,
            rows,
        ));
    }
    let link_cols = ["contact_id", "account_id", "role"].map(String::from);
    for chunk in links.chunks(ROWS_PER_STATEMENT * 4) {
        let rows = chunk
            .iter()
            .map(|(cid, l)| {
                vec![
                    cid.as_ref().into(),
                    l.account_id.as_str().into(),
                    l.role.clone().into(),
                ]
            })
            .collect();
        out.push(rapport_db::dialect::multi_row_insert(
            backend,
            "contact_accounts",
            &link_cols,
            rows,
        ));
    }
    out
}

/// The columns of a new record's row as the batch writers fill them: id and times, every
/// field's stored columns, then the derived ones.
pub(super) fn record_columns(def: &ObjectDef) -> Vec<String> {
    let mut cols: Vec<String> = vec![
        "id".into(),
        "created_at".into(),
        "updated_at".into(),
        "created_by".into(),
    ];
    for f in def.fields {
        cols.extend(codec::columns(f));
    }
    cols.extend(derived(def, &BTreeMap::new()).into_iter().map(|(c, _)| c));
    cols
}
