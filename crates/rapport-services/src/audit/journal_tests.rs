//! The read journal: entries acknowledged by `record_alone` reach the trail once, with the
//! time they were recorded, across restarts and interrupted moves (ADR 0017).

use super::*;
use crate::{Db, Keyring, Store, StoreSettings};
use chrono::{TimeZone, Utc};
use rapport_core::clock::ManualClock;

fn temp_db() -> String {
    rapport_db::temp_file("journal").display().to_string()
}

async fn store(path: &str, clock: Arc<dyn rapport_core::clock::Clock>) -> Store {
    let db = Db::connect(&format!("sqlite://{path}")).await.unwrap();
    crate::seeds::migrate(&db, rapport_core::Clock::now(&rapport_core::SystemClock))
        .await
        .unwrap();
    let keys = Keyring::from_master("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=").unwrap();
    Store::new(db, keys, clock, StoreSettings::default())
}

async fn listed(store: &Store) -> Vec<AuditRow> {
    search_unchecked(
        store,
        &AuditFilter {
            action: Some("contact.listed".into()),
            limit: 100,
            ..AuditFilter::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn reads_reach_the_trail_once_with_their_own_time() {
    let path = temp_db();
    let start = Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap();
    let clock = ManualClock::new(start);
    let s = store(&path, Arc::new(clock.clone())).await;
    assert!(
        s.db.journal().is_some(),
        "SQLite on a file keeps a read journal"
    );
    let actor = Principal::system();
    for i in 0..3 {
        record_alone(
            &s,
            &actor,
            Entry::new("contact.listed").details(serde_json::json!({ "n": i })),
        )
        .await
        .unwrap();
    }
    // Moved later than they happened: each keeps the time it was recorded at.
    clock.advance(chrono::Duration::minutes(5));
    let rows = listed(&s).await;
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|r| r.at == "2026-12-02T09:00:00.000Z"),
        "{rows:?}"
    );
    assert!(s.db.journal().unwrap().oldest(10).unwrap().is_empty());
    assert_eq!(verify(&s).await.unwrap().problem, None);

    // A second server process on the same file moves the same journal: each entry is in the
    // trail once, whichever moved it.
    record_alone(&s, &actor, Entry::new("contact.listed"))
        .await
        .unwrap();
    let other = store(&path, Arc::new(clock.clone())).await;
    let (a, b) = tokio::join!(flush(&s), flush(&other));
    a.unwrap();
    b.unwrap();
    assert_eq!(listed(&other).await.len(), 4);
    assert_eq!(verify(&other).await.unwrap().problem, None);
}

#[tokio::test]
async fn a_move_cut_short_before_the_journal_was_cleared_writes_nothing_twice() {
    let path = temp_db();
    let s = store(&path, Arc::new(rapport_core::clock::SystemClock)).await;
    // The journal is moved by hand here: nothing starts the background writer and mover
    // until `verify` at the end.
    let journal = Arc::clone(s.db.journal().unwrap());
    let actor = Principal::system();
    let entry = Entry::new("contact.listed");
    let pending = || {
        journal::pending(
            rapport_core::Clock::now(&rapport_core::SystemClock),
            &actor,
            &entry,
        )
    };
    let in_trail = || async {
        let rows = all(
            s.db.writer(),
            Query::select()
                .column(t("seq"))
                .from(t("audit_log"))
                .and_where(Expr::col(t("action")).eq("contact.listed")),
        )
        .await
        .unwrap();
        rows.len()
    };
    journal.append(&[pending()]).unwrap();
    move_journal(&s, &journal).await.unwrap();
    assert_eq!(in_trail().await, 1);
    // Entries the trail already took (ids at or below `journal_moved`) still in the journal,
    // as after a crash between the move's commit and the journal's delete.
    journal.append(&[pending(), pending()]).unwrap();
    let left = journal.oldest(10).unwrap();
    assert_eq!(left.len(), 2);
    let last = left[1].0;
    exec(
        s.db.writer(),
        Query::update()
            .table(t("audit_head"))
            .value(t("journal_moved"), last)
            .and_where(Expr::col(t("id")).eq(1)),
    )
    .await
    .unwrap();
    move_journal(&s, &journal).await.unwrap();
    assert_eq!(in_trail().await, 1, "nothing moved twice");
    assert!(
        journal.oldest(10).unwrap().is_empty(),
        "and the journal is cleared"
    );
    assert_eq!(journal_moved(s.db.writer()).await.unwrap(), last);
    // A new entry after that is moved as usual.
    journal.append(&[pending()]).unwrap();
    move_journal(&s, &journal).await.unwrap();
    assert_eq!(in_trail().await, 2);
    assert!(journal_moved(s.db.writer()).await.unwrap() > last);
    assert_eq!(verify(&s).await.unwrap().problem, None);
}

#[tokio::test]
async fn a_journal_made_anew_does_not_reuse_ids_the_trail_took() {
    let path = temp_db();
    let journal = Journal::open(&path).unwrap();
    journal.ids_after(41).unwrap();
    let actor = Principal::system();
    let entry = Entry::new("contact.listed");
    journal
        .append(&[journal::pending(
            rapport_core::Clock::now(&rapport_core::SystemClock),
            &actor,
            &entry,
        )])
        .unwrap();
    let rows = journal.oldest(10).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, 42);
    assert_eq!(rows[0].1.action, "contact.listed");
    // Lowering the floor never moves ids back.
    journal.forget(42).unwrap();
    journal.ids_after(3).unwrap();
    journal
        .append(&[journal::pending(
            rapport_core::Clock::now(&rapport_core::SystemClock),
            &actor,
            &entry,
        )])
        .unwrap();
    assert_eq!(journal.oldest(10).unwrap()[0].0, 43);
}
