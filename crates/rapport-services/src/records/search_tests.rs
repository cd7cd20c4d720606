//! Quick search through the name index (ADR 0041): what it finds, and that a page reads as
//! many index entries as it shows, however many newer records do not match.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::batch::insert_many;
use super::query::{list_records, page_statement, ListParams};
use super::{ObjectDef, WriteOptions};
use crate::access::Access;
use crate::objects::{ACCOUNTS, CONTACTS, LEADS, OPPORTUNITIES};
use crate::{records, testing, Store};
use sea_orm::sea_query::{Alias, PostgresQueryBuilder, SqliteQueryBuilder};
use serde_json::{json, Map, Value};

fn doc(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

async fn create(store: &Store, actor: &Access, def: &'static ObjectDef, v: Value) -> String {
    let opts = WriteOptions {
        override_duplicates: true,
        ..WriteOptions::default()
    };
    let r = records::create(store, actor, def, &doc(v), opts)
        .await
        .unwrap();
    r["id"].as_str().unwrap().to_string()
}

/// Ids found by a quick search for `q`, every page of 5, in order.
async fn found(store: &Store, actor: &Access, def: &ObjectDef, q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let params = ListParams {
            q: Some(q.into()),
            limit: Some(5),
            cursor: cursor.clone(),
            ..ListParams::default()
        };
        let page = list_records(store, actor, def, &params).await.unwrap();
        out.extend(page.records.iter().map(|r| r.id.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

async fn finds_words_anywhere_in_names(store: &Store) {
    let actor = testing::admin(store, "search@example.com").await;
    let haichuan = create(
        store,
        &actor,
        &ACCOUNTS,
        json!({"name": "宁波海川物流有限公司"}),
    )
    .await;
    let xingchen = create(
        store,
        &actor,
        &ACCOUNTS,
        json!({"name": "星辰置业（上海）有限公司"}),
    )
    .await;
    let yunfan = create(store, &actor, &ACCOUNTS, json!({"name": "云帆科技"})).await;
    let acme = create(
        store,
        &actor,
        &ACCOUNTS,
        json!({"name": "Acme Software Inc"}),
    )
    .await;
    let accounts = |q: &'static str| found(store, &actor, &ACCOUNTS, q);
    assert_eq!(accounts("海川").await, vec![haichuan.clone()]);
    assert_eq!(accounts("海川物流有限公司").await, vec![haichuan.clone()]);
    assert_eq!(accounts("宁波").await, vec![haichuan.clone()]);
    assert_eq!(accounts("星辰置业").await, vec![xingchen.clone()]);
    assert_eq!(accounts("云帆").await, vec![yunfan.clone()]);
    assert_eq!(
        accounts("有限公司").await,
        vec![xingchen.clone(), haichuan.clone()]
    );
    assert_eq!(accounts("acme soft").await, vec![acme.clone()]);
    assert_eq!(accounts("Acme Co., Ltd.").await, vec![acme.clone()]);
    assert!(
        accounts("海").await.is_empty(),
        "one character: the start of a name"
    );
    assert!(accounts("川海").await.is_empty());
    assert!(accounts("softwares").await.is_empty());

    let xiaoming = create(
        store,
        &actor,
        &CONTACTS,
        json!({"family_name": "王", "given_name": "小明",
               "accounts": [{"account_id": haichuan, "role": "user"}]}),
    )
    .await;
    let grace = create(
        store,
        &actor,
        &CONTACTS,
        json!({"family_name": "Smith", "given_name": "Grace"}),
    )
    .await;
    let contacts = |q: &'static str| found(store, &actor, &CONTACTS, q);
    assert_eq!(contacts("小明").await, vec![xiaoming.clone()]);
    assert_eq!(contacts("王小明").await, vec![xiaoming.clone()]);
    assert_eq!(contacts("王").await, vec![xiaoming.clone()]);
    assert_eq!(
        contacts("海川").await,
        vec![xiaoming.clone()],
        "by the account"
    );
    assert_eq!(contacts("grace sm").await, vec![grace.clone()]);
    assert_eq!(contacts("Smith, Grace").await, vec![grace.clone()]);
    assert!(contacts("smiths").await.is_empty());

    // A changed name is found by its new words only; a deleted record not at all.
    records::update(
        store,
        &actor,
        &CONTACTS,
        &xiaoming,
        &doc(json!({"given_name": "大明"})),
        WriteOptions::default(),
    )
    .await
    .unwrap();
    assert!(contacts("小明").await.is_empty());
    assert_eq!(contacts("大明").await, vec![xiaoming.clone()]);
    records::delete(store, &actor, &CONTACTS, &grace, None)
        .await
        .unwrap();
    assert!(contacts("grace").await.is_empty());

    let lead = create(
        store,
        &actor,
        &LEADS,
        json!({"family_name": "李", "given_name": "娜", "company": "宁波海川物流有限公司"}),
    )
    .await;
    assert_eq!(
        found(store, &actor, &LEADS, "海川").await,
        vec![lead.clone()]
    );
    assert_eq!(found(store, &actor, &LEADS, "李娜").await, vec![lead]);
    let opp = create(
        store,
        &actor,
        &OPPORTUNITIES,
        json!({"name": "数据平台项目", "account_id": yunfan, "stage": "prospecting",
               "amount": "1000", "expected_close_date": "2027-01-31"}),
    )
    .await;
    assert_eq!(
        found(store, &actor, &OPPORTUNITIES, "平台").await,
        vec![opp]
    );
}

/// What reading one search page costs: SQLite's virtual-machine steps for the statement, or
/// the rows PostgreSQL's plan nodes produced and filtered out (EXPLAIN ANALYZE).
async fn cost(store: &Store, actor: &Access, q: &str) -> u64 {
    let params = ListParams {
        q: Some(q.into()),
        limit: Some(20),
        ..ListParams::default()
    };
    let mut stmt = page_statement(store, actor, &CONTACTS, &params)
        .await
        .unwrap();
    stmt.column(Alias::new("id"));
    if let Some(path) = store.db.file() {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut st = conn.prepare(&stmt.to_string(SqliteQueryBuilder)).unwrap();
        let mut rows = st.raw_query();
        while rows.next().unwrap().is_some() {}
        drop(rows);
        st.get_status(rusqlite::StatementStatus::VmStep) as u64
    } else {
        let sql = format!(
            "EXPLAIN (ANALYZE, FORMAT JSON) {}",
            stmt.to_string(PostgresQueryBuilder)
        );
        let row = sea_orm::ConnectionTrait::query_one(
            store.db.writer(),
            sea_orm::Statement::from_string(sea_orm::DatabaseBackend::Postgres, sql),
        )
        .await
        .unwrap()
        .unwrap();
        let plan: Value = row.try_get_by_index(0).unwrap();
        fn rows(node: &Value) -> u64 {
            let n = |k: &str| node[k].as_f64().unwrap_or(0.0);
            let loops = n("Actual Loops").max(1.0);
            let own =
                (n("Actual Rows") + n("Rows Removed by Filter") + n("Rows Removed by Join Filter"))
                    * loops;
            own as u64
                + node["Plans"]
                    .as_array()
                    .map_or(0, |ps| ps.iter().map(rows).sum())
        }
        rows(&plan[0]["Plan"])
    }
}

async fn reads_what_it_shows(store: &Store) {
    let actor = testing::admin(store, "bounded@example.com").await;
    let many = |n: usize, family: &'static str, given: &'static str| -> Vec<Map<String, Value>> {
        (0..n)
            .map(|i| {
                doc(
                    json!({"family_name": family, "given_name": format!("{given}{i}"),
                           "owner_id": actor.user_id}),
                )
            })
            .collect()
    };
    // A common surname: more matches than a page reads, by far.
    for _ in 0..5 {
        insert_many(store, &actor, &CONTACTS, &many(500, "王", "伟"))
            .await
            .unwrap();
    }
    insert_many(store, &actor, &CONTACTS, &many(300, "Smith", "Grace"))
        .await
        .unwrap();
    let before_wang = cost(store, &actor, "王").await;
    let before_smith = cost(store, &actor, "smi").await;
    // Three thousand newer contacts under one name that none of the searches match: the
    // old way (newest first, testing each) read all of them before the first match.
    for _ in 0..3 {
        insert_many(store, &actor, &CONTACTS, &many(1000, "诸葛", "亮"))
            .await
            .unwrap();
    }
    let wang = cost(store, &actor, "王").await;
    let smith = cost(store, &actor, "smi").await;
    // The newer records' own name: it matches most of the table.
    let zhuge = cost(store, &actor, "诸葛").await;
    let nothing = cost(store, &actor, "欧阳").await;
    let bound = |before: u64| before + before / 2 + 200;
    assert!(wang <= bound(before_wang), "王: {before_wang} -> {wang}");
    assert!(
        smith <= bound(before_smith),
        "smi: {before_smith} -> {smith}"
    );
    assert!(
        zhuge <= bound(before_wang),
        "诸葛: {zhuge} (王 read {before_wang})"
    );
    assert!(nothing <= before_wang, "欧阳: {nothing}");
    // Each of the 2,500 王 read would cost at least a step (a row on PostgreSQL).
    assert!(wang < 2_500, "王 read through its matches: {wang}");
    // And the pages are right.
    assert_eq!(found(store, &actor, &CONTACTS, "王").await.len(), 2_500);
    assert_eq!(found(store, &actor, &CONTACTS, "诸葛亮").await.len(), 3000);
}

/// A database from before the name index: its records get their terms at the next start.
async fn records_stored_before_the_index_get_their_terms(store: &Store) {
    let actor = testing::admin(store, "upgrade@example.com").await;
    let id = create(
        store,
        &actor,
        &ACCOUNTS,
        json!({"name": "宁波海川物流有限公司"}),
    )
    .await;
    assert_eq!(
        super::name_index::ensure(store).await.unwrap(),
        0,
        "built with the database"
    );
    for sql in [
        "DELETE FROM search_tokens",
        "DELETE FROM record_tokens",
        "DELETE FROM settings WHERE key = 'search.name_index'",
    ] {
        sea_orm::ConnectionTrait::execute_unprepared(store.db.writer(), sql)
            .await
            .unwrap();
    }
    assert!(found(store, &actor, &ACCOUNTS, "海川").await.is_empty());
    assert_eq!(super::name_index::ensure(store).await.unwrap(), 1);
    assert_eq!(found(store, &actor, &ACCOUNTS, "海川").await, vec![id]);
    assert_eq!(super::name_index::ensure(store).await.unwrap(), 0, "once");
}

#[tokio::test]
async fn records_stored_before_the_index_get_their_terms_sqlite() {
    records_stored_before_the_index_get_their_terms(&testing::sqlite("search_upgrade").await).await;
}

#[tokio::test]
async fn records_stored_before_the_index_get_their_terms_postgres() {
    if let Some(pg) = testing::postgres("search_upgrade").await {
        records_stored_before_the_index_get_their_terms(&pg.store).await;
        pg.drop().await;
    }
}

#[tokio::test]
async fn finds_words_anywhere_in_names_sqlite() {
    finds_words_anywhere_in_names(&testing::sqlite("search_words").await).await;
}

#[tokio::test]
async fn finds_words_anywhere_in_names_postgres() {
    if let Some(pg) = testing::postgres("search_words").await {
        finds_words_anywhere_in_names(&pg.store).await;
        pg.drop().await;
    }
}

#[tokio::test]
async fn reads_what_it_shows_sqlite() {
    reads_what_it_shows(&testing::sqlite("search_bounded").await).await;
}

#[tokio::test]
async fn reads_what_it_shows_postgres() {
    if let Some(pg) = testing::postgres("search_bounded").await {
        reads_what_it_shows(&pg.store).await;
        pg.drop().await;
    }
}
