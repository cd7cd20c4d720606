//! The name index of records written before it existed (ADR 0041): built once from every
//! record's values, at the first start of a server that has it. Migration 29 marks a
//! database created without records as built.

use super::rekey::rebuild_lookups;
use crate::Store;
use rapport_core::DomainError;
use rapport_db::exec;
use sea_orm::sea_query::{Alias, Expr, Query};

/// The settings key that says the name index holds every record.
pub const BUILT: &str = "search.name_index";

/// Build the name index of the records already stored, unless it is built; returns the
/// number of records indexed. Records written meanwhile index themselves.
pub async fn ensure(store: &Store) -> Result<u64, DomainError> {
    if crate::settings::read::<_, serde_json::Value>(store.db.writer(), BUILT)
        .await?
        .is_some()
    {
        return Ok(0);
    }
    let mut total = 0;
    for def in store.types().all() {
        if def.hooks.name_sources().is_empty() {
            continue;
        }
        let done = rebuild_lookups(store, def, |n| {
            if n > 0 && n % 10_000 == 0 {
                tracing::info!(records = n, "building the name index of {}", def.plural());
            }
        })
        .await?;
        total += done.records;
    }
    let tx = store.db.begin().await?;
    exec(
        &tx,
        Query::delete()
            .from_table(Alias::new("settings"))
            .and_where(Expr::col(Alias::new("key")).eq(BUILT)),
    )
    .await?;
    exec(
        &tx,
        Query::insert()
            .into_table(Alias::new("settings"))
            .columns([Alias::new("key"), Alias::new("value")])
            .values_panic([BUILT.into(), "1".into()]),
    )
    .await?;
    tx.commit().await.map_err(rapport_db::db_err)?;
    Ok(total)
}
