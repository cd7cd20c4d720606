//! Instance settings kept as JSON documents in the `settings` table, one per key (duplicate
//! rules, the approval flow, the pool's rules): read with a default, replaced with an audit
//! entry holding the value before and after, in one transaction.

use crate::access::Access;
use crate::{audit, Store};
use rapport_core::{Action, DomainError, Object, Scope};
use rapport_db::{db_err, exec, get, one};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::ConnectionTrait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// Reading instance settings needs the settings right.
pub fn may_read(actor: &Access) -> Result<(), DomainError> {
    if actor.scope(Object::SETTINGS, Action::Read) == Scope::None {
        return Err(DomainError::Forbidden(
            "reading settings needs the settings right".into(),
        ));
    }
    Ok(())
}

/// Changing instance settings (`what`, for the message) needs the settings right over all.
pub fn may_change(actor: &Access, what: &str) -> Result<(), DomainError> {
    if actor.scope(Object::SETTINGS, Action::Update) != Scope::All {
        return Err(DomainError::Forbidden(format!(
            "{what} needs the settings right"
        )));
    }
    Ok(())
}

/// The document stored under `key`, if any.
pub async fn read<C: ConnectionTrait, T: DeserializeOwned>(
    c: &C,
    key: &str,
) -> Result<Option<T>, DomainError> {
    let row = one(
        c,
        Query::select()
            .column(t("value"))
            .from(t("settings"))
            .and_where(Expr::col(t("key")).eq(key)),
    )
    .await?;
    match row {
        Some(r) => Ok(Some(
            serde_json::from_str(&get::<String>(&r, "value")?).map_err(DomainError::internal)?,
        )),
        None => Ok(None),
    }
}

/// The document under `key` as last committed, kept for at most a second (`memo`): for
/// settings read on every save. Inside a transaction use [`read`].
pub async fn read_kept<T: DeserializeOwned>(
    store: &Store,
    key: &str,
) -> Result<Option<T>, DomainError> {
    let raw = store
        .memos()
        .settings
        .get_or_load(&key.to_string(), || {
            read::<_, serde_json::Value>(store.db.reader(), key)
        })
        .await?;
    raw.map(|v| serde_json::from_value(v).map_err(DomainError::internal))
        .transpose()
}

/// Replace the document under `key` and audit the change as `action` (the caller checks the
/// actor's right first).
pub async fn replace<T: Serialize>(
    store: &Store,
    actor: &Access,
    key: &str,
    action: &str,
    before: &T,
    after: &T,
) -> Result<(), DomainError> {
    let tx = store.db.begin().await?;
    exec(
        &tx,
        Query::delete()
            .from_table(t("settings"))
            .and_where(Expr::col(t("key")).eq(key)),
    )
    .await?;
    exec(
        &tx,
        Query::insert()
            .into_table(t("settings"))
            .columns([t("key"), t("value")])
            .values_panic([
                key.into(),
                serde_json::to_string(after)
                    .map_err(DomainError::internal)?
                    .into(),
            ]),
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new(action)
            .object("settings", key)
            .details(json!({"before": before, "after": after})),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    store.memos().settings.invalidate();
    Ok(())
}
