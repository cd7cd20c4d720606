//! `Db::scrub_wal` empties the WAL even while other connections checkpoint it: a value
//! overwritten just before is then in neither the WAL nor the database file.

use crate::Db;
use sea_orm::ConnectionTrait;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn the_wal_is_emptied_while_others_checkpoint_it() {
    let path = crate::temp_file("scrub");
    let db = Db::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    db.writer()
        .execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        .await
        .unwrap();
    // Another connection checkpoints without pause, as the background checkpointer and other
    // processes do now and then: a checkpoint that meets it gets SQLITE_BUSY at once.
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let (stop, path) = (stop.clone(), path.clone());
        std::thread::spawn(move || {
            let c = rusqlite::Connection::open(&path).unwrap();
            while !stop.load(Ordering::Relaxed) {
                c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    .unwrap();
            }
        })
    };
    let wal = path.with_file_name("rapport.db-wal");
    for i in 0..30 {
        let secret = format!("Secret{i:04}Value");
        db.writer()
            .execute_unprepared(&format!("INSERT INTO t (id, v) VALUES ({i}, '{secret}')"))
            .await
            .unwrap();
        db.writer()
            .execute_unprepared(&format!("UPDATE t SET v = 'gone' WHERE id = {i}"))
            .await
            .unwrap();
        assert!(db.scrub_wal().await, "round {i}: the WAL stayed busy");
        assert_eq!(
            std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0),
            0,
            "round {i}: the WAL was not truncated"
        );
        let file = std::fs::read(&path).unwrap();
        assert!(
            !contains(&file, &secret),
            "round {i}: {secret} still stored"
        );
    }
    stop.store(true, Ordering::Relaxed);
    other.join().unwrap();
    db.close().await;
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}
