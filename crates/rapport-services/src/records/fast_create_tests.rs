//! Tests of `fast_create`: a create between an import's check and its write is caught, quiet
//! batches are not looked up again, a large batch stays within PostgreSQL's lock table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::objects::ACCOUNTS;
use crate::records::{self, WriteOptions};
use crate::testing;

fn doc(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// Rows checked, then a record with the same credit code (a block rule) created by
/// someone else before the rows are written: the write refuses, nothing of the batch is
/// written, and the same rows without the clash go in.
async fn a_create_between_check_and_write_is_caught(store: &Store) {
    let actor = testing::admin(store, "importer@example.com").await;
    let fast = FastCreate::new(store, &actor, &ACCOUNTS).await.unwrap();
    let rows = vec![
        doc(json!({"name": "导入一号", "credit_code": "91310000MA1FL0B1X0"})),
        doc(json!({"name": "导入二号", "credit_code": "91110108MA01XXXX0H"})),
    ];
    let mut pending = Vec::new();
    for d in &rows {
        pending.push(fast.prepare(d, &[], false).await.unwrap().unwrap());
    }
    let seen = fast.seen().await.unwrap();
    let checked = fast
        .check_duplicates(pending, &mut EarlierKeys::default(), None)
        .await
        .unwrap();
    let pending: Vec<Pending> = checked.into_iter().map(Result::unwrap).collect();
    // Meanwhile, an ordinary create with the first row's credit code.
    records::create(
        store,
        &actor,
        &ACCOUNTS,
        &doc(json!({"name": "抢先", "credit_code": "91310000MA1FL0B1X0"})),
        WriteOptions::default(),
    )
    .await
    .unwrap();
    let mut enc = fast.encoding().unwrap();
    fast.encode(&mut enc, &pending).unwrap();
    // What the check saw of the key locks: the create's claim since then is not the
    // import's own, so its bucket's keys are looked up again.
    enc.checked_after(seen);
    let tx = store.db.begin().await.unwrap();
    let err = fast
        .write(&tx, enc, json!({}), &mut Vec::new())
        .await
        .err()
        .expect("the clash is caught at the write");
    assert!(
        matches!(&err, DomainError::Conflict(m) if m.contains("credit_code")),
        "{err:?}"
    );
    drop(tx);
    let names = |q: &'static str| {
        let store = store.clone();
        async move {
            all(
                store.db.reader(),
                Query::select()
                    .column(Alias::new("id"))
                    .from(Alias::new("accounts"))
                    .and_where(Expr::col(Alias::new("name")).like(q)),
            )
            .await
            .unwrap()
            .len()
        }
    };
    assert_eq!(names("导入%").await, 0, "nothing of the batch was written");
    // Checked again, the clash is a refused row and the other row goes in.
    let fast = FastCreate::new(store, &actor, &ACCOUNTS).await.unwrap();
    let mut pending = Vec::new();
    for d in &rows {
        pending.push(fast.prepare(d, &[], false).await.unwrap().unwrap());
    }
    let checked = fast
        .check_duplicates(pending, &mut EarlierKeys::default(), None)
        .await
        .unwrap();
    assert!(matches!(checked[0], Err(DomainError::Duplicate { .. })));
    let ok: Vec<Pending> = checked.into_iter().filter_map(Result::ok).collect();
    let mut enc = fast.encoding().unwrap();
    fast.encode(&mut enc, &ok).unwrap();
    let tx = store.db.begin().await.unwrap();
    rapport_db::dialect::defer_foreign_keys(&tx).await.unwrap();
    let mut trail = Vec::new();
    let written = fast.write(&tx, enc, json!({}), &mut trail).await.unwrap();
    rapport_db::search_index::generations::write_bulk(&tx, "account", written.tokens)
        .await
        .unwrap();
    // The batch's entry is left for the caller to record last.
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].action, "account.batch_created");
    audit::record_many(&tx, store, trail.iter().map(|e| (actor.principal(), e)))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(names("导入%").await, 1);
}

/// One transaction writing more rows than PostgreSQL has lock slots for (64 a connection
/// by default): their keys' locks are shared buckets, so the write goes through.
async fn a_large_batch_stays_within_the_lock_table(store: &Store) {
    let actor = testing::admin(store, "importer@example.com").await;
    let fast = FastCreate::new(store, &actor, &crate::objects::CONTACTS)
        .await
        .unwrap();
    let mut pending = Vec::new();
    for n in 0..20000 {
        let d = doc(json!({"family_name": "批量", "given_name": format!("{n}"),
            "email": format!("bulk{n}@example.com")}));
        pending.push(fast.prepare(&d, &[], false).await.unwrap().unwrap());
    }
    let mut enc = fast.encoding().unwrap();
    fast.encode(&mut enc, &pending).unwrap();
    let tx = store.db.begin().await.unwrap();
    rapport_db::dialect::defer_foreign_keys(&tx).await.unwrap();
    let written = fast
        .write(&tx, enc, json!({}), &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(written.ids.len(), 20000);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_large_batch_stays_within_the_lock_table_postgres() {
    if let Some(pg) = testing::postgres("fast_create_large").await {
        a_large_batch_stays_within_the_lock_table(&pg.store).await;
        pg.drop().await;
    }
}

/// Batches checked one after the other while the previous one is still being written,
/// as an import does, and nobody else writing: no key is looked up twice, and the rows
/// are all written.
async fn quiet_batches_are_not_looked_up_again(store: &Store) {
    let actor = testing::admin(store, "importer@example.com").await;
    let fast = FastCreate::new(store, &actor, &ACCOUNTS).await.unwrap();
    let codes = [
        ["91310000MA1FL0B1X0", "91110108MA01XXXX0H"],
        ["91440300MA5FAAAA13", "91110000100000000R"],
    ];
    let mut batches = Vec::new();
    for (b, pair) in codes.iter().enumerate() {
        let mut pending = Vec::new();
        for (i, code) in pair.iter().enumerate() {
            let d = doc(json!({"name": format!("批次{b}号{i}"), "credit_code": code}));
            pending.push(fast.prepare(&d, &[], false).await.unwrap().unwrap());
        }
        // The second batch is checked before the first commits.
        let seen = fast.seen().await.unwrap();
        let mut earlier = EarlierKeys {
            batch: b as u64,
            ..EarlierKeys::default()
        };
        let checked = fast
            .check_duplicates(pending, &mut earlier, None)
            .await
            .unwrap();
        let ok: Vec<Pending> = checked.into_iter().map(Result::unwrap).collect();
        let mut enc = fast.encoding().unwrap();
        fast.encode(&mut enc, &ok).unwrap();
        enc.checked_after(seen);
        batches.push(enc);
    }
    for enc in batches {
        let tx = store.db.begin().await.unwrap();
        rapport_db::dialect::defer_foreign_keys(&tx).await.unwrap();
        let written = fast
            .write(&tx, enc, json!({}), &mut Vec::new())
            .await
            .unwrap();
        assert_eq!(written.ids.len(), 2);
        assert_eq!(written.looked_up, 0, "nobody else wrote these keys");
        fast.committing();
        tx.commit().await.unwrap();
    }
    // Without what the check saw, every key is looked up again.
    let d = doc(json!({"name": "无记录", "credit_code": "91320000MA1MAAAA2E"}));
    let p = fast.prepare(&d, &[], false).await.unwrap().unwrap();
    let ok: Vec<Pending> = fast
        .check_duplicates(vec![p], &mut EarlierKeys::default(), None)
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut enc = fast.encoding().unwrap();
    fast.encode(&mut enc, &ok).unwrap();
    let tx = store.db.begin().await.unwrap();
    rapport_db::dialect::defer_foreign_keys(&tx).await.unwrap();
    let written = fast
        .write(&tx, enc, json!({}), &mut Vec::new())
        .await
        .unwrap();
    assert!(written.looked_up > 0, "{}", written.looked_up);
}

#[tokio::test]
async fn quiet_batches_are_not_looked_up_again_sqlite() {
    quiet_batches_are_not_looked_up_again(&testing::sqlite("fast_create_quiet").await).await;
}

#[tokio::test]
async fn quiet_batches_are_not_looked_up_again_postgres() {
    if let Some(pg) = testing::postgres("fast_create_quiet").await {
        quiet_batches_are_not_looked_up_again(&pg.store).await;
        pg.drop().await;
    }
}

#[tokio::test]
async fn a_create_between_check_and_write_is_caught_sqlite() {
    a_create_between_check_and_write_is_caught(&testing::sqlite("fast_create").await).await;
}

#[tokio::test]
async fn a_create_between_check_and_write_is_caught_postgres() {
    if let Some(pg) = testing::postgres("fast_create").await {
        a_create_between_check_and_write_is_caught(&pg.store).await;
        pg.drop().await;
    }
}
