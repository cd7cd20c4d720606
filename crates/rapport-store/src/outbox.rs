//! The transactional outbox: every change emits an event in the same transaction as the
//! change itself. Automation, webhooks, the change feed and search indexing consume it.

use crate::db::exec;
use crate::Store;
use rapport_core::{DomainError, Principal};
use sea_orm::sea_query::{Alias, Query};
use sea_orm::ConnectionTrait;
use serde_json::Value;

pub async fn emit<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    actor: &Principal,
    event: &str,
    object_type: &str,
    object_id: &str,
    payload: Value,
) -> Result<(), DomainError> {
    exec(
        c,
        Query::insert()
            .into_table(Alias::new("outbox"))
            .columns(
                [
                    "at",
                    "event",
                    "object_type",
                    "object_id",
                    "actor_id",
                    "payload",
                ]
                .map(Alias::new),
            )
            .values_panic([
                store
                    .now()
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                    .into(),
                event.into(),
                object_type.into(),
                object_id.into(),
                actor.user_id.clone().into(),
                payload.to_string().into(),
            ]),
    )
    .await?;
    Ok(())
}
