//! Entries of the read journal (`rapport_db::Journal`, ADR 0017) as the trail records them:
//! the acting user and the entry, turned into the journal's plain rows and back.

use super::Entry;
use chrono::{DateTime, Utc};
use rapport_core::Principal;
pub(crate) use rapport_db::{Journal, JournalEntry};

/// The journal row of `entry` done by `actor` at `at`.
pub(crate) fn pending(at: DateTime<Utc>, actor: &Principal, entry: &Entry) -> JournalEntry {
    JournalEntry {
        at,
        actor_id: actor
            .viewed_by
            .clone()
            .unwrap_or_else(|| actor.user_id.clone()),
        email: actor.email.clone(),
        session_id: actor.session_id.clone(),
        token_id: actor.token_id.clone(),
        ip: actor.ip.clone(),
        user_agent: actor.user_agent.clone(),
        action: entry.action.clone(),
        object_type: entry.object_type.clone(),
        object_id: entry.object_id.clone(),
        details: entry.details.clone(),
    }
}

/// The actor and entry of a journal row, as the trail records them (only the fields the
/// trail keeps).
pub(crate) fn parts(p: &JournalEntry) -> (Principal, Entry) {
    let actor = Principal {
        user_id: p.actor_id.clone(),
        email: p.email.clone(),
        department_id: None,
        grants: Default::default(),
        session_id: p.session_id.clone(),
        token_id: p.token_id.clone(),
        read_only: false,
        viewed_by: None,
        ip: p.ip.clone(),
        user_agent: p.user_agent.clone(),
    };
    let entry = Entry {
        action: p.action.clone(),
        object_type: p.object_type.clone(),
        object_id: p.object_id.clone(),
        details: p.details.clone(),
        at: Some(p.at),
    };
    (actor, entry)
}
