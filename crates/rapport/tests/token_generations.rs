//! Search tokens in generations (ADR 0026, SQLite): while generation 0 is moved out and
//! generations are merged, one range of tokens at a time, every record stays found by quick
//! search, filters and duplicate checks exactly as its current values say, and records
//! changed, deleted or erased between two steps of a merge leave no token behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{App, Backend, Session};
use rapport_db::search_index::generations::{self, Done, Policy, Tidy};
use rapport_services::Db;
use reqwest::StatusCode;
use serde_json::json;

/// Generations of 4 tokens, merged by 2, moved 3 tokens' worth of range at a time: every
/// path of the upkeep is taken with a handful of records.
const TINY: Policy = Policy {
    roll_at: 4,
    fanout: 2,
    chunk: 3,
};

fn email(i: usize) -> String {
    format!("person{i}@generations.example")
}

fn mobile(i: usize) -> String {
    format!("+86138{:08}", 41_000_000 + i * 7)
}

async fn create(app: &App, s: &Session, i: usize) -> String {
    let body = json!({"family_name": format!("代{i}"), "emails": [email(i)], "mobile": mobile(i)});
    let (st, c) = app.post(s, "/api/v1/contacts", body).await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    common::id(&c)
}

/// The ids quick search finds for `q`.
async fn search(app: &App, s: &Session, q: &str) -> Vec<String> {
    let (st, body) = app
        .get(
            s,
            &format!("/api/v1/contacts?limit=50&q={}", common::urlencode(q)),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let mut ids: Vec<String> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(common::id)
        .collect();
    ids.sort();
    ids
}

/// The ids the filter `emails eq value` finds.
async fn by_email(app: &App, s: &Session, value: &str) -> Vec<String> {
    let filter = json!({"field": "emails", "op": "eq", "value": value}).to_string();
    let (st, body) = app
        .get(
            s,
            &format!(
                "/api/v1/contacts?limit=50&filter={}",
                common::urlencode(&filter)
            ),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(common::id)
        .collect()
}

/// Every token is in a listed generation, and the tokens are exactly the records' lists.
async fn consistent(app: &App) {
    let n = |sql: &'static str| async move {
        app.sql_rows(sql).await[0].try_get::<i64>("", "n").unwrap()
    };
    assert_eq!(
        n("SELECT count(*) AS n FROM search_tokens \
           WHERE generation NOT IN (SELECT generation FROM token_generations)")
        .await,
        0,
        "tokens in a generation lookups do not read"
    );
    let tokens = n("SELECT count(*) AS n FROM search_tokens").await;
    let listed = n(
        "SELECT coalesce(sum(length(tokens) - length(replace(tokens, ' ', '')) + 1), 0) \
                    AS n FROM record_tokens",
    )
    .await;
    assert_eq!(
        tokens, listed,
        "search tokens and the records' lists differ"
    );
}

async fn generations_listed(app: &App) -> i64 {
    app.sql_rows("SELECT count(*) AS n FROM token_generations")
        .await[0]
        .try_get::<i64>("", "n")
        .unwrap()
}

/// Steps until nothing is due; what they did.
async fn run(db: &Db, tidy: Tidy) -> Vec<Done> {
    let mut done = Vec::new();
    loop {
        match generations::step(db, &TINY, true, tidy).await.unwrap() {
            Done::Nothing => return done,
            d => done.push(d),
        }
        assert!(
            done.len() < 10_000,
            "the upkeep never ends: {:?}",
            &done[..20]
        );
    }
}

/// A SQLite server with an administrator signed in.
async fn started() -> (App, Session) {
    let app = App::start(Backend::Sqlite).await.unwrap();
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let admin = app.login("admin@example.com").await;
    (app, admin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_stay_found_while_generations_move_and_merge() {
    let (app, admin) = started().await;
    let db = Db::connect(&app.database_url).await.unwrap();

    // Two rolls of generation 0 (each contact has three tokens: email, phone, last four
    // digits) make two level-0 generations, which a fanout of 2 merges.
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(create(&app, &admin, i).await);
    }
    let first = run(&db, Tidy::Due).await;
    assert!(
        first.iter().any(|d| matches!(d, Done::Finished(_))),
        "generation 0 was moved out: {first:?}"
    );
    for i in 4..8 {
        ids.push(create(&app, &admin, i).await);
    }
    let second = run(&db, Tidy::Due).await;
    let finished = second
        .iter()
        .filter(|d| matches!(d, Done::Finished(_)))
        .count();
    assert!(finished >= 2, "a roll and a merge: {second:?}");
    consistent(&app).await;
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            search(&app, &admin, &email(i)).await,
            vec![id.clone()],
            "{i}"
        );
        assert_eq!(
            by_email(&app, &admin, &email(i)).await,
            vec![id.clone()],
            "{i}"
        );
        let tail = &mobile(i)[mobile(i).len() - 4..];
        assert!(
            search(&app, &admin, tail).await.contains(id),
            "{i} by {tail}"
        );
    }
    // A duplicate check finds a contact whose tokens were merged.
    let (st, body) = app
        .post(
            &admin,
            "/api/v1/contacts",
            json!({"family_name": "重复", "emails": [email(2)]}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["duplicates"][0]["id"], ids[2].as_str());

    // New records, then a move of generation 0 stopped after its first range while one
    // record is edited, one deleted and one erased.
    for i in 8..12 {
        ids.push(create(&app, &admin, i).await);
    }
    let started = generations::step(&db, &TINY, true, Tidy::Due)
        .await
        .unwrap();
    assert!(matches!(started, Done::Started(_)), "{started:?}");
    let moved = generations::step(&db, &TINY, true, Tidy::Due)
        .await
        .unwrap();
    assert!(matches!(moved, Done::Moved(_)), "{moved:?}");
    let (st, body) = app
        .patch(
            &admin,
            &format!("/api/v1/contacts/{}", ids[9]),
            json!({"emails": ["changed@generations.example"]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, _) = app
        .delete(&admin, &format!("/api/v1/contacts/{}", ids[10]))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = app
        .post(
            &admin,
            &format!("/api/v1/contacts/{}/erase", ids[1]),
            json!({"reason": "data subject request"}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    // A record created in the middle goes into generation 0 and stays found.
    ids.push(create(&app, &admin, 12).await);
    consistent(&app).await;
    run(&db, Tidy::Due).await;
    consistent(&app).await;
    assert_eq!(search(&app, &admin, &email(9)).await, Vec::<String>::new());
    assert_eq!(
        search(&app, &admin, "changed@generations.example").await,
        vec![ids[9].clone()]
    );
    assert!(search(&app, &admin, &email(10)).await.is_empty(), "deleted");
    assert!(search(&app, &admin, &email(1)).await.is_empty(), "erased");
    assert!(by_email(&app, &admin, &email(1)).await.is_empty(), "erased");
    assert_eq!(
        search(&app, &admin, &email(12)).await,
        vec![ids[12].clone()]
    );

    // Three more moves of generation 0, never merged by level: three generations at level 0
    // below the merged ones.
    let roll_only = Policy {
        fanout: 100,
        ..TINY
    };
    for i in 13..19 {
        ids.push(create(&app, &admin, i).await);
        if i % 2 == 0 {
            while generations::step(&db, &roll_only, true, Tidy::Due)
                .await
                .unwrap()
                != Done::Nothing
            {}
        }
    }
    // Idle: the generations below the top level merged into one, the top level left alone.
    let before = generations_listed(&app).await;
    assert!(
        before > 3,
        "several generations before the idle merge: {before}"
    );
    let n = |rows: Vec<sea_orm::QueryResult>| rows[0].try_get::<i64>("", "n").unwrap();
    let top_level = "SELECT count(*) AS n FROM token_generations \
                     WHERE generation <> 0 AND level = (SELECT max(level) FROM token_generations)";
    let below_top = "SELECT count(*) AS n FROM token_generations \
                     WHERE generation <> 0 AND level < (SELECT max(level) FROM token_generations)";
    let top_before = n(app.sql_rows(top_level).await);
    assert!(n(app.sql_rows(below_top).await) >= 2, "something to merge");
    run(&db, Tidy::Idle).await;
    assert_eq!(
        n(app.sql_rows(top_level).await),
        top_before,
        "the top level stays"
    );
    assert_eq!(
        n(app.sql_rows(below_top).await),
        1,
        "one generation below the top"
    );
    consistent(&app).await;
    // Everything but generation 0 into one, as the demo command ends.
    run(&db, Tidy::All).await;
    assert!(generations_listed(&app).await <= 2, "0 and one more");
    consistent(&app).await;
    for (i, id) in ids.iter().enumerate() {
        if [1, 9, 10].contains(&i) {
            continue;
        }
        assert_eq!(
            search(&app, &admin, &email(i)).await,
            vec![id.clone()],
            "{i}"
        );
    }
    // The demo command's compaction leaves nothing in generation 0.
    generations::compact(&db).await.unwrap();
    assert_eq!(
        app.sql_rows("SELECT count(*) AS n FROM search_tokens WHERE generation = 0")
            .await[0]
            .try_get::<i64>("", "n")
            .unwrap(),
        0
    );
    consistent(&app).await;
    assert_eq!(search(&app, &admin, &email(3)).await, vec![ids[3].clone()]);
}

/// A merge interrupted between two ranges (the process stopped) is taken up by the next
/// step: the tokens are never in a generation lookups do not read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_merge_is_finished_by_the_next_process() {
    let (app, admin) = started().await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(create(&app, &admin, i).await);
    }
    {
        let db = Db::connect(&app.database_url).await.unwrap();
        assert!(matches!(
            generations::step(&db, &TINY, true, Tidy::Due)
                .await
                .unwrap(),
            Done::Started(_)
        ));
        assert!(matches!(
            generations::step(&db, &TINY, true, Tidy::Due)
                .await
                .unwrap(),
            Done::Moved(_)
        ));
        db.close().await;
    }
    let merging = app
        .sql_rows("SELECT count(*) AS n FROM token_generations WHERE merging_into IS NOT NULL")
        .await[0]
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(merging, 1, "generation 0 is still being moved");
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            search(&app, &admin, &email(i)).await,
            vec![id.clone()],
            "{i} mid-move"
        );
    }
    let db = Db::connect(&app.database_url).await.unwrap();
    let rest = run(&db, Tidy::Due).await;
    assert!(
        rest.iter().any(|d| matches!(d, Done::Finished(_))),
        "{rest:?}"
    );
    consistent(&app).await;
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            search(&app, &admin, &email(i)).await,
            vec![id.clone()],
            "{i}"
        );
    }
}

/// The server's own store over the test's database (same key file), for the store-level
/// checks below.
fn store_of(app: &App, db: Db) -> rapport_services::Store {
    let ring = rapport_services::crypto::KeyFile::load(&app.dir.join("rapport.key"))
        .unwrap()
        .keyring()
        .unwrap();
    rapport_services::Store::new(
        db,
        ring,
        std::sync::Arc::new(rapport_core::clock::SystemClock),
        rapport_services::StoreSettings::default(),
    )
}

/// `(record_id, token)` pairs a statement answers, sorted.
async fn pairs(db: &Db, stmt: sea_orm::Statement) -> Vec<(String, String)> {
    use sea_orm::ConnectionTrait;
    let mut out: Vec<(String, String)> = db
        .reader()
        .query_all(stmt)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "id").unwrap(),
                r.try_get::<String>("", "token").unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The closed generations' filters (ADR 0027): an import's lookup through them answers
/// exactly what a lookup of every generation answers, for tokens held and tokens absent,
/// also while the filtered generations are merged into one the filters do not know.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_through_generation_filters_answer_as_a_full_lookup() {
    use rapport_db::search_index::filters;
    let (app, admin) = started().await;
    for i in 0..8 {
        create(&app, &admin, i).await;
    }
    let db = Db::connect(&app.database_url).await.unwrap();
    run(&db, Tidy::Due).await;
    // Two more in generation 0, which has no filter.
    for i in 8..10 {
        create(&app, &admin, i).await;
    }
    let store = store_of(&app, db.clone());
    let filters = store.db.token_filters();
    filters.rebuild(&db).await.unwrap();
    let filtered = filters.filtered();
    assert!(!filtered.is_empty(), "closed generations get filters");

    // The tokens one contact holds alone: its email, mobile, last four digits and the name
    // terms no other contact shares (代 is everyone's).
    let mut tokens: Vec<String> = app
        .sql_rows(
            "SELECT token FROM search_tokens GROUP BY token HAVING count(*) = 1 ORDER BY token",
        )
        .await
        .iter()
        .map(|r| r.try_get::<String>("", "token").unwrap())
        .collect();
    let held = tokens.len();
    assert!(
        held >= 30,
        "three tokens or more for each of ten contacts: {held}"
    );
    tokens.extend((0..20).map(|i| format!("{:016x}", 0xabcd_0000_0000_0000u64 + i)));
    let full = || rapport_db::search_index::filters::select("contact", &tokens, &[]);
    let expected = pairs(&db, full()).await;
    assert_eq!(expected.len(), held, "every held token once");

    let narrowed = filters.narrow(&db, "contact", &tokens);
    assert_eq!(
        narrowed.iter().map(|(g, _)| *g).collect::<Vec<_>>(),
        filtered
    );
    for (g, maybe) in &narrowed {
        let in_g: Vec<String> = app
            .sql_rows(&format!(
                "SELECT token FROM search_tokens WHERE generation = {g}"
            ))
            .await
            .iter()
            .map(|r| r.try_get::<String>("", "token").unwrap())
            .collect();
        assert!(!in_g.is_empty());
        for tok in in_g.iter().filter(|t| tokens.contains(t)) {
            assert!(maybe.contains(tok), "generation {g}'s filter misses {tok}");
        }
        assert!(
            maybe.len() < tokens.len(),
            "generation {g}'s filter lets every token through"
        );
    }
    let narrowed_query = || filters::select("contact", &tokens, &narrowed);
    assert_eq!(pairs(&db, narrowed_query()).await, expected);
    // A token held by a record of another type is not a contact's.
    assert!(pairs(&db, filters::select("lead", &tokens, &narrowed))
        .await
        .is_empty());

    // The filtered generations merged into a new one, one range at a time, while the
    // filters still describe the generations as they were.
    let mut steps = 0;
    loop {
        let done = generations::step(&db, &TINY, true, Tidy::All)
            .await
            .unwrap();
        assert_eq!(pairs(&db, narrowed_query()).await, expected, "{done:?}");
        steps += 1;
        if done == Done::Nothing || steps > 1_000 {
            break;
        }
    }
    assert!(steps > 2, "a merge took place");
    filters.rebuild(&db).await.unwrap();
    assert_ne!(
        filters.filtered(),
        filtered,
        "the merged generations' filters go"
    );
    let renarrowed = filters.narrow(&db, "contact", &tokens);
    assert_eq!(
        pairs(&db, filters::select("contact", &tokens, &renarrowed)).await,
        expected
    );
}

/// The closed generations besides 0: (generation, level, tokens held).
async fn closed(app: &App) -> Vec<(i64, i64, i64)> {
    app.sql_rows(
        "SELECT g.generation AS g, g.level AS level, \
                (SELECT count(*) FROM search_tokens t WHERE t.generation = g.generation) AS n \
         FROM token_generations g \
         WHERE g.generation <> 0 AND g.ranges IS NULL AND g.merging_into IS NULL \
         ORDER BY g.generation",
    )
    .await
    .iter()
    .map(|r| {
        (
            r.try_get::<i64>("", "g").unwrap(),
            r.try_get::<i64>("", "level").unwrap(),
            r.try_get::<i64>("", "n").unwrap(),
        )
    })
    .collect()
}

/// A bulk writer's tokens (an import's transaction, ADR 0028): with enough of them they go
/// into a closed generation of their own, in key order, never through generation 0; lookups
/// and a second import matching on email find them there and after merges; a small import's
/// tokens go into generation 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imports_tokens_become_a_generation_of_their_own() {
    use common::imports::import_contacts;
    let (app, admin) = started().await;
    let rows = generations::OWN_GENERATION_AT / 3 + 50;
    let file = |from: usize, to: usize| {
        let mut f = String::from("姓,手机,邮箱\n");
        for i in from..to {
            f.push_str(&format!("批{i},{},{}\n", mobile(i), email(i)));
        }
        f
    };
    let (_, done) = import_contacts(
        &app,
        &admin,
        "bulk.csv",
        file(0, rows),
        &[("match_on", "email")],
    )
    .await;
    assert_eq!(done["created"], rows, "{done}");
    let own = closed(&app).await;
    // Email, mobile, last four digits and the name's terms (批 and the number's prefixes).
    let tokens = |rows: usize| -> i64 {
        (0..rows)
            .map(|i| 3 + rapport_core::search_terms::index_terms(&format!("批{i}")).len() as i64)
            .sum()
    };
    assert_eq!(
        own,
        vec![(1, 0, tokens(rows))],
        "one closed generation of level 0 holds every token of the import"
    );
    let in_0 = app
        .sql_rows("SELECT count(*) AS n FROM search_tokens WHERE generation = 0")
        .await[0]
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(in_0, 0, "none went through generation 0");
    consistent(&app).await;
    for i in [0, rows / 2, rows - 1] {
        assert_eq!(by_email(&app, &admin, &email(i)).await.len(), 1, "{i}");
        assert_eq!(search(&app, &admin, &mobile(i)).await.len(), 1, "{i}");
    }

    // The same rows again, matching on email: every one is found and updated.
    let (_, again) = import_contacts(
        &app,
        &admin,
        "again.csv",
        file(0, rows),
        &[("match_on", "email"), ("on_match", "update")],
    )
    .await;
    assert_eq!(
        (again["created"].as_i64(), again["updated"].as_i64()),
        (Some(0), Some(rows as i64)),
        "{again}"
    );

    // A small import's tokens go into generation 0, and merges take both kinds up.
    let (_, small) = import_contacts(
        &app,
        &admin,
        "small.csv",
        file(rows, rows + 5),
        &[("match_on", "email")],
    )
    .await;
    assert_eq!(small["created"], 5, "{small}");
    assert_eq!(closed(&app).await.len(), 1, "no generation for five rows");
    let db = Db::connect(&app.database_url).await.unwrap();
    // The server's own upkeep (every second) may finish the merge this one started.
    let done = run(&db, Tidy::All).await;
    assert!(
        done.iter()
            .any(|d| matches!(d, Done::Started(_) | Done::Finished(_))),
        "{done:?}"
    );
    let after = closed(&app).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].2, tokens(rows + 5), "{after:?}");
    consistent(&app).await;
    for i in [0, rows - 1, rows + 4] {
        assert_eq!(by_email(&app, &admin, &email(i)).await.len(), 1, "{i}");
    }
}
