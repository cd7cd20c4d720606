//! Locks on duplicate-rule keys, as rows with a version (migration 27). A transaction that
//! writes a key a strict rule refuses first claims the key's lock: the row is taken until the
//! transaction ends, so two writers of one key wait for each other on both backends, and its
//! version is counted up, so a reader that noted the version earlier can tell whether anyone
//! wrote under that lock since. Names are chosen by the caller (a rule's bucket of keys).

use crate::{all, get};
use rapport_core::DomainError;
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::ConnectionTrait;
use std::collections::HashMap;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// Names a statement; well within both backends' parameter limits.
const CHUNK: usize = 200;

/// Take the locks `names` until the transaction ends and count each one's version up (a new
/// name starts at 1); returns the versions after. Give the names sorted: two writers then take
/// shared names in one order and cannot wait on each other in a cycle.
pub async fn claim<C: ConnectionTrait>(
    tx: &C,
    names: &[String],
) -> Result<HashMap<String, i64>, DomainError> {
    let mut out = HashMap::with_capacity(names.len());
    for chunk in names.chunks(CHUNK) {
        let mut q = Query::insert();
        q.into_table(t("key_locks"))
            .columns([t("name"), t("version")])
            .on_conflict(
                OnConflict::column(t("name"))
                    .value(
                        t("version"),
                        Expr::col((t("key_locks"), t("version"))).add(1),
                    )
                    .to_owned(),
            )
            .returning(Query::returning().columns([t("name"), t("version")]));
        for name in chunk {
            q.values_panic([name.as_str().into(), 1i64.into()]);
        }
        for row in all(tx, &q).await? {
            out.insert(get(&row, "name")?, get(&row, "version")?);
        }
    }
    Ok(out)
}

/// The versions of `names` as committed now (a name never claimed is absent: version 0).
pub async fn versions<C: ConnectionTrait>(
    c: &C,
    names: &[String],
) -> Result<HashMap<String, i64>, DomainError> {
    let mut out = HashMap::with_capacity(names.len());
    for chunk in names.chunks(CHUNK) {
        let rows = all(
            c,
            Query::select()
                .columns([t("name"), t("version")])
                .from(t("key_locks"))
                .and_where(Expr::col(t("name")).is_in(chunk.iter().map(String::as_str))),
        )
        .await?;
        for row in rows {
            out.insert(get(&row, "name")?, get(&row, "version")?);
        }
    }
    Ok(out)
}
