//! The transactional outbox: every change emits an event in the same transaction as the
//! change itself. Automation, webhooks, the change feed and search indexing consume it.

use crate::Store;
use rapport_core::{DomainError, Principal};
use rapport_db::exec;
use sea_orm::sea_query::{Alias, Query};
use sea_orm::ConnectionTrait;
use serde_json::Value;

/// A change-feed event waiting to be written with others ([`emit_many`]).
#[derive(Debug, Clone)]
pub struct Event {
    pub event: String,
    pub object_type: String,
    pub object_id: String,
    pub payload: Value,
}

pub async fn emit<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    actor: &Principal,
    event: &str,
    object_type: &str,
    object_id: &str,
    payload: Value,
) -> Result<(), DomainError> {
    let e = Event {
        event: event.into(),
        object_type: object_type.into(),
        object_id: object_id.into(),
        payload,
    };
    emit_many(c, store, std::iter::once((actor, &e))).await
}

/// Append events in order with multi-row INSERTs (a group of creates, `records::group`).
pub async fn emit_many<'a, C: ConnectionTrait>(
    c: &C,
    store: &Store,
    events: impl IntoIterator<Item = (&'a Principal, &'a Event)>,
) -> Result<(), DomainError> {
    let at = store
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let events: Vec<(&Principal, &Event)> = events.into_iter().collect();
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let mut q = Query::insert();
        q.into_table(Alias::new("outbox")).columns(
            [
                "at",
                "event",
                "object_type",
                "object_id",
                "actor_id",
                "payload",
            ]
            .map(Alias::new),
        );
        for (actor, e) in chunk {
            q.values_panic([
                at.clone().into(),
                e.event.clone().into(),
                e.object_type.clone().into(),
                e.object_id.clone().into(),
                actor.user_id.clone().into(),
                e.payload.to_string().into(),
            ]);
        }
        exec(c, &q).await?;
    }
    Ok(())
}

/// Rows per INSERT (six parameters each, well under both backends' limits).
const ROWS_PER_INSERT: usize = 200;
