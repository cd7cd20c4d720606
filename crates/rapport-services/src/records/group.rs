//! Group commit for single creates (ADR 0015). A create is checked on the caller's task
//! (`prepare_create`, reads only); the write goes to one background writer that puts every
//! create waiting at that moment into one transaction, with their audit entries and outbox
//! events in a few multi-row statements, and commits once. On SQLite a commit is an fsync of
//! the WAL, and creates were bound by them.
//!
//! Each caller is answered only after the transaction that holds its record committed, so an
//! acknowledged create is on disk as before. A create that fails (a unique key taken
//! meanwhile) is answered with its own error, the transaction is rolled back, and the group
//! is written again without it. If the commit fails, every create of the group is answered
//! with that error.

use super::create::{sealed_fields, write_record, Trail};
use super::duplicates::{self, Claimed};
use super::Prepared;
use crate::access::Access;
use crate::{audit, outbox, Store};
use rapport_core::DomainError;
use rapport_db::db_err;
use tokio::sync::{mpsc, oneshot};

/// Most creates written in one transaction.
const GROUP: usize = 64;

/// One create waiting for the writer, with where to send its outcome.
pub(crate) type Job = (Access, Prepared, oneshot::Sender<Result<(), DomainError>>);

/// Write `p` through the group writer and wait until it has committed.
pub(crate) async fn write(store: &Store, actor: &Access, p: Prepared) -> Result<(), DomainError> {
    let (ack, done) = oneshot::channel();
    store
        .create_queue()
        .send((actor.clone(), p, ack))
        .await
        .map_err(|_| DomainError::Internal("the create writer has stopped".into()))?;
    done.await
        .map_err(|_| DomainError::Internal("the create was not written".into()))?
}

/// The background writer behind [`write`], started among the store's background tasks. Asked
/// to stop, it writes the creates already queued and ends.
pub(crate) fn spawn_writer(store: Store) -> mpsc::Sender<Job> {
    let (tx, mut rx) = mpsc::channel::<Job>(1024);
    let background = store.background_handle();
    background.spawn("group commit writer", move |stop| async move {
        let mut group = Vec::with_capacity(GROUP);
        loop {
            // Waits for one create, then takes every other one already queued.
            let n = tokio::select! {
                n = rx.recv_many(&mut group, GROUP) => n,
                _ = stop.requested() => {
                    rx.close();
                    rx.recv_many(&mut group, GROUP).await
                }
            };
            if n == 0 {
                break;
            }
            // A task per group: should writing one ever panic, its callers are answered with
            // an error (their acks are dropped) and the writer goes on with the next group.
            let store = store.clone();
            let jobs = std::mem::take(&mut group);
            let _ = tokio::spawn(async move { write_group(&store, jobs).await }).await;
        }
    });
    tx
}

/// Why a group's transaction did not commit.
enum Failure {
    /// The create at this position failed; the others may go ahead.
    Record(usize, DomainError),
    /// The transaction itself failed: no create of the group was written.
    Group(DomainError),
}

async fn write_group(store: &Store, mut group: Vec<Job>) {
    while !group.is_empty() {
        match attempt(store, &group).await {
            Ok(()) => {
                for (_, _, ack) in group {
                    let _ = ack.send(Ok(()));
                }
                return;
            }
            Err(Failure::Record(k, e)) => {
                let (_, _, ack) = group.remove(k);
                let _ = ack.send(Err(e));
            }
            Err(Failure::Group(e)) => {
                // Every create of the group gets the group's error: a database that went away
                // (a failover) stays "unavailable, try again", anything else is internal.
                let message = e.to_string();
                for (_, _, ack) in group {
                    let _ = ack.send(Err(match &e {
                        DomainError::Storage(s) => DomainError::Storage(s.clone()),
                        _ => DomainError::Internal(message.clone()),
                    }));
                }
                return;
            }
        }
    }
}

/// Write every create of `group` in one transaction and commit it, or roll back.
async fn attempt(store: &Store, group: &[Job]) -> Result<(), Failure> {
    let t = store.db.begin().await.map_err(Failure::Group)?;
    let mut trails: Vec<Trail> = Vec::with_capacity(group.len());
    let mut claimed = Claimed::default();
    // What each create would do in statements of its own is done for the group at once:
    // the duplicate-rule locks and lookups, the new people's audit keys.
    let records: Vec<(&Access, &Prepared)> = group.iter().map(|(a, p, _)| (a, p)).collect();
    let refused = duplicates::confirm_creates(&t, store, &records, &mut claimed)
        .await
        .map_err(Failure::Group)?;
    if let Some((k, e)) = refused {
        t.rollback().await.map_err(|e| Failure::Group(db_err(e)))?;
        return Err(Failure::Record(k, e));
    }
    let sealed: Vec<bool> = group
        .iter()
        .map(|(_, p, _)| !sealed_fields(p).is_empty())
        .collect();
    let people: Vec<(&str, &str)> = group
        .iter()
        .zip(&sealed)
        .filter(|(_, s)| **s)
        .map(|((_, p, _), _)| (p.def.key(), p.id.as_str()))
        .collect();
    let mut sealers = audit::subjects::sealers_for_new(&t, store, &people)
        .await
        .map_err(Failure::Group)?
        .into_iter();
    for (k, (actor, p, _)) in group.iter().enumerate() {
        let sealer = if sealed[k] { sealers.next() } else { None };
        match write_record(&t, store, actor, p, &mut claimed, sealer).await {
            Ok(trail) => trails.push(trail),
            Err(e) => {
                t.rollback().await.map_err(|e| Failure::Group(db_err(e)))?;
                return Err(Failure::Record(k, e));
            }
        }
    }
    let tokens = group
        .iter()
        .zip(&trails)
        .map(|((_, p, _), tr)| (p.def.key(), p.id.as_str(), &tr.tokens));
    rapport_db::search_index::insert(&t, tokens)
        .await
        .map_err(Failure::Group)?;
    let written = || group.iter().map(|(actor, _, _)| actor).zip(&trails);
    audit::record_many(
        &t,
        store,
        written().map(|(a, tr)| (a.principal(), &tr.entry)),
    )
    .await
    .map_err(Failure::Group)?;
    outbox::emit_many(
        &t,
        store,
        written().map(|(a, tr)| (a.principal(), &tr.event)),
    )
    .await
    .map_err(Failure::Group)?;
    t.commit().await.map_err(|e| Failure::Group(db_err(e)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::audit::{self, AuditFilter};
    use crate::objects::CONTACTS;
    use crate::records::{self, Preset, WriteOptions};
    use crate::testing;
    use crate::Store;
    use serde_json::json;

    fn doc(n: usize) -> serde_json::Map<String, serde_json::Value> {
        json!({"family_name": "分组", "given_name": format!("{n}"), "email": format!("group{n}@example.com")})
            .as_object()
            .unwrap()
            .clone()
    }

    /// Five creates in one group, the third reusing an existing record's id: it alone fails
    /// with the database's own error, the other four are written, and the trail holds one
    /// entry for each record written and still verifies.
    async fn one_failure_leaves_the_rest_of_the_group(store: &Store) {
        let actor = testing::admin(store, "owner@example.com").await;
        let first = records::create(store, &actor, &CONTACTS, &doc(0), WriteOptions::default())
            .await
            .unwrap();
        let taken = first["id"].as_str().unwrap().to_string();
        let mut group = Vec::new();
        let mut done = Vec::new();
        for n in 1..=5 {
            let preset = Preset {
                id: (n == 3).then(|| taken.clone()),
                ..Preset::default()
            };
            let p = records::prepare_create(
                store,
                &actor,
                &CONTACTS,
                &doc(n),
                WriteOptions::default(),
                preset,
            )
            .await
            .unwrap();
            let (ack, rx) = oneshot::channel();
            group.push((actor.clone(), p, ack));
            done.push(rx);
        }
        let ids: Vec<String> = group.iter().map(|(_, p, _)| p.id.clone()).collect();
        write_group(store, group).await;
        for (n, rx) in done.into_iter().enumerate() {
            let outcome = rx.await.unwrap();
            if n == 2 {
                let e = outcome.expect_err("the third create reuses an id");
                assert!(e.is_unique_violation(), "{e:?}");
            } else {
                outcome.unwrap();
                let rec = records::read(store, &actor, &CONTACTS, &ids[n])
                    .await
                    .unwrap();
                assert_eq!(rec["given_name"], json!(format!("{}", n + 1)));
            }
        }
        // The record whose id was reused is untouched.
        let kept = records::read(store, &actor, &CONTACTS, &taken)
            .await
            .unwrap();
        assert_eq!(kept["given_name"], json!("0"));
        let created = audit::search_unchecked(
            store,
            &AuditFilter {
                action: Some("contact.created".into()),
                limit: 100,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(created.len(), 5, "the first create and four of the group");
        assert_eq!(audit::verify(store).await.unwrap().problem, None);
    }

    /// A group confirms its duplicate rules together: a create whose email another create of
    /// the same group takes first, and one whose email a record committed after its check
    /// holds, are refused as duplicates; the others are written.
    async fn duplicates_within_and_outside_the_group_are_refused(store: &Store) {
        let actor = testing::admin(store, "owner@example.com").await;
        let docs = [doc(1), doc(2), doc(3), doc(1)];
        let mut group = Vec::new();
        let mut done = Vec::new();
        for d in &docs {
            let p = records::prepare_create(
                store,
                &actor,
                &CONTACTS,
                d,
                WriteOptions::default(),
                Preset::default(),
            )
            .await
            .unwrap();
            let (ack, rx) = oneshot::channel();
            group.push((actor.clone(), p, ack));
            done.push(rx);
        }
        // Committed after the group's records were checked: it takes the third one's email.
        records::create(store, &actor, &CONTACTS, &doc(3), WriteOptions::default())
            .await
            .unwrap();
        write_group(store, group).await;
        let mut outcomes = Vec::new();
        for rx in done {
            outcomes.push(rx.await.unwrap());
        }
        assert!(outcomes[0].is_ok() && outcomes[1].is_ok(), "{outcomes:?}");
        for k in [2, 3] {
            assert!(
                matches!(outcomes[k], Err(DomainError::Duplicate { .. })),
                "{k}: {:?}",
                outcomes[k]
            );
        }
        assert_eq!(audit::verify(store).await.unwrap().problem, None);
    }

    #[tokio::test]
    async fn a_group_confirms_its_duplicate_rules_sqlite() {
        duplicates_within_and_outside_the_group_are_refused(&testing::sqlite("group_dups").await)
            .await;
    }

    #[tokio::test]
    async fn a_group_confirms_its_duplicate_rules_postgres() {
        if let Some(pg) = testing::postgres("group_dups").await {
            duplicates_within_and_outside_the_group_are_refused(&pg.store).await;
            pg.drop().await;
        }
    }

    #[tokio::test]
    async fn a_failed_create_is_rolled_back_alone_sqlite() {
        one_failure_leaves_the_rest_of_the_group(&testing::sqlite("group").await).await;
    }

    #[tokio::test]
    async fn a_failed_create_is_rolled_back_alone_postgres() {
        if let Some(pg) = testing::postgres("group").await {
            one_failure_leaves_the_rest_of_the_group(&pg.store).await;
            pg.drop().await;
        }
    }
}
