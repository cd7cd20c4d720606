//! Imports: a GBK CSV from Excel with a header, bad rows, duplicates in the file and against
//! existing records; suggestions, dry run, the run in the background, the error file and undo;
//! matching that updates; an import killed with -9 that resumes with exact counts; and who may
//! import and see imports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::imports::{import_contacts, run_with, upload, wait_for};
use common::{id, App, Backend};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GB18030.encode(text).0.into_owned()
}

story!(a_gbk_file_is_mapped_checked_imported_and_undone, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.user("rep.a@example.com", "sales_rep", None, None).await;
    app.user("rep.b@example.com", "sales_rep", None, None).await;
    app.user("support@example.com", "support_agent", None, None)
        .await;
    let admin = app.login("admin@example.com").await;
    let rep = app.login("rep.a@example.com").await;
    let other = app.login("rep.b@example.com").await;
    let support = app.login("support@example.com").await;
    app.created(
        &rep,
        "/api/v1/accounts",
        json!({"name": "杭州西湖科技有限公司"}),
    )
    .await;
    app.created(
        &rep,
        "/api/v1/contacts",
        json!({"family_name": "老", "given_name": "客户", "email": "old@xihu.example"}),
    )
    .await;

    let file = "姓,名,手机,邮箱,所属客户,标签\n\
                王,磊,138 0013 8000,wanglei@xihu.example,杭州西湖科技有限公司,\"VIP，重点\"\n\
                李,娜,12345,lina@xihu.example,杭州西湖科技有限公司,\n\
                张,伟,13900139000,zhangwei@xihu.example,不存在的公司,\n\
                赵,敏,13700137000,wanglei@xihu.example,,\n\
                老,客户,,old@xihu.example,,\n\
                陈,静,13600136000,chenjing@xihu.example,,\n";
    let (st, v) = upload(&app, &support, "contacts", "c.csv", gbk(file)).await;
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "support may not create contacts: {v}"
    );
    let (st, v) = upload(&app, &rep, "contacts", "客户名单.csv", gbk(file)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let import = v["import"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["import"]["encoding"], "gb18030");
    assert_eq!(v["rows"][1][0], "王");
    let suggested = v["suggested"].clone();
    assert_eq!(
        suggested["columns"],
        json!({"0": "family_name", "1": "given_name", "2": "mobile", "3": "email", "4": "account_name", "5": "tags"})
    );
    assert_eq!(suggested["match_on"], "email");
    let (st, _) = app.get(&other, &format!("/api/v1/imports/{import}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "another rep's import");

    // A bad mapping is refused with the column named.
    let (st, v) = app
        .call(
            &rep,
            Method::PUT,
            &format!("/api/v1/imports/{import}/mapping"),
            Some(json!({"columns": {"0": "family_name", "1": "family_name"}})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "columns.1");
    let (st, v) = app
        .call(
            &rep,
            Method::PUT,
            &format!("/api/v1/imports/{import}/mapping"),
            Some(suggested),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");

    // The dry run validates every row and writes nothing.
    let (st, _) = app
        .post(
            &rep,
            &format!("/api/v1/imports/{import}/dry-run"),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let dry = wait_for(&app, &rep, &import, "dry_done").await;
    assert_eq!(
        (
            dry["created"].as_i64(),
            dry["skipped"].as_i64(),
            dry["failed"].as_i64()
        ),
        (Some(2), Some(1), Some(3)),
        "{dry}"
    );
    let (_, contacts) = app.get(&rep, "/api/v1/contacts").await;
    assert_eq!(
        contacts["data"].as_array().unwrap().len(),
        1,
        "the dry run wrote nothing"
    );

    let (st, _) = app
        .post(&rep, &format!("/api/v1/imports/{import}/start"), json!({}))
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let done = wait_for(&app, &rep, &import, "done").await;
    assert_eq!(
        (
            done["created"].as_i64(),
            done["skipped"].as_i64(),
            done["failed"].as_i64()
        ),
        (Some(2), Some(1), Some(3)),
        "{done}"
    );
    assert_eq!(done["percent"], 100);
    let (_, errors) = app
        .get(&rep, &format!("/api/v1/imports/{import}/errors"))
        .await;
    let rows: Vec<i64> = errors["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["row"].as_i64().unwrap())
        .collect();
    assert_eq!(rows, [3, 4, 5], "{errors}");
    assert!(
        errors["data"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("mobile"),
        "{errors}"
    );
    assert!(errors["data"][1]["reason"]
        .as_str()
        .unwrap()
        .contains("不存在的公司"));
    assert!(
        errors["data"][2]["reason"]
            .as_str()
            .unwrap()
            .contains("row 2"),
        "{errors}"
    );

    // The error file: header, the failed rows as they were, and the reason.
    let res = app
        .http
        .get(format!("{}/api/v1/imports/{import}/errors.csv", app.base))
        .bearer_auth(&rep.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        lines.next().unwrap(),
        "姓,名,手机,邮箱,所属客户,标签,错误原因 / Error"
    );
    assert!(lines.next().unwrap().starts_with("李,娜,12345,"));
    assert_eq!(text.trim_start_matches('\u{feff}').lines().count(), 4);

    // The imported contacts exist, linked to the account, tagged.
    let (_, contacts) = app
        .get(&rep, "/api/v1/contacts?q=wanglei@xihu.example")
        .await;
    let wang = &contacts["data"][0];
    assert_eq!(wang["mobile"], "+8613800138000");
    assert_eq!(wang["tags"], json!(["VIP", "重点"]));
    assert_eq!(wang["account_ids"].as_array().unwrap().len(), 1);
    let (_, audit) = app
        .get(&admin, &format!("/api/v1/audit?object_id={import}"))
        .await;
    assert!(
        audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "import.finished" && e["details"]["counts"]["created"] == 2),
        "{audit}"
    );

    // Undo removes what nobody has changed since; a changed contact stays.
    let (_, chen) = app
        .get(&rep, "/api/v1/contacts?q=chenjing@xihu.example")
        .await;
    let chen_id = id(&chen["data"][0]);
    let (st, _) = app
        .patch(
            &rep,
            &format!("/api/v1/contacts/{chen_id}"),
            json!({"title": "采购经理"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = app
        .post(&rep, &format!("/api/v1/imports/{import}/undo"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "undone");
    assert_eq!(v["undone"], 1);
    let (_, contacts) = app.get(&rep, "/api/v1/contacts").await;
    assert_eq!(
        contacts["data"].as_array().unwrap().len(),
        2,
        "the old contact and the changed one: {contacts}"
    );
});

story!(matches_update_existing_records, |app| {
    app.user("rep.a@example.com", "sales_rep", None, None).await;
    let rep = app.login("rep.a@example.com").await;
    let acc = app
        .created(
            &rep,
            "/api/v1/accounts",
            json!({"name": "深圳南山制造有限公司", "city": "深圳"}),
        )
        .await;
    let file = "Account Name,Industry,City,Phone\n深圳南山制造,制造业,深圳南山,0755-86001234\n北京朝阳物流有限公司,物流,北京,\n";
    let (st, v) = upload(&app, &rep, "accounts", "sf.csv", file.as_bytes().to_vec()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let import = v["import"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        v["suggested"]["columns"],
        json!({"0": "name", "1": "industry", "2": "city", "3": "phone"})
    );
    let mut mapping = v["suggested"].clone();
    mapping["on_match"] = json!("update");
    mapping["values"] = json!({"industry": {"制造业": "manufacturing", "物流": "logistics"}});
    let done = run_with(&app, &rep, &import, mapping).await;
    assert_eq!(
        (
            done["created"].as_i64(),
            done["updated"].as_i64(),
            done["failed"].as_i64()
        ),
        (Some(1), Some(1), Some(0)),
        "{done}"
    );
    let (_, a) = app
        .get(&rep, &format!("/api/v1/accounts/{}", id(&acc)))
        .await;
    assert_eq!(a["industry"], "manufacturing");
    assert_eq!(a["city"], "深圳南山");
    assert_eq!(
        a["name"], "深圳南山制造",
        "the name matched by its normalised form and took the file's"
    );
});

story!(an_import_killed_midway_resumes_with_exact_counts, |app| {
    let mut app = app;
    app.user("rep.a@example.com", "sales_rep", None, None).await;
    let rep = app.login("rep.a@example.com").await;
    // 200,000 rows: killed in the middle, well after the first batches committed.
    const ROWS: i64 = 200_000;
    let mut file = String::from("family_name,given_name,email\n");
    for i in 0..ROWS {
        file.push_str(&format!("测{i},试,p{i}@bulk.example\n"));
    }
    let (_, v) = upload(&app, &rep, "contacts", "bulk.csv", file.into_bytes()).await;
    let import = v["import"]["id"].as_str().unwrap().to_string();
    app.call(
        &rep,
        Method::PUT,
        &format!("/api/v1/imports/{import}/mapping"),
        Some(v["suggested"].clone()),
    )
    .await;
    app.post(&rep, &format!("/api/v1/imports/{import}/start"), json!({}))
        .await;
    // Kill the server (-9) once some batches have committed and before the end.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (_, v) = app.get(&rep, &format!("/api/v1/imports/{import}")).await;
        let created = v["import"]["created"].as_i64().unwrap_or(0);
        assert!(
            v["import"]["status"] != "done",
            "finished before it could be killed; make the file larger"
        );
        if created >= 20_000 {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.stop();
    if app.backend == Backend::Postgres {
        // The dead worker's lease would run out after five minutes; end it now.
        app.sql("UPDATE jobs SET locked_until = created_at WHERE status = 'running'")
            .await;
    }
    app.spawn();
    let rep = app.login("rep.a@example.com").await;
    let done = wait_for(&app, &rep, &import, "done").await;
    assert_eq!(
        (
            done["created"].as_i64(),
            done["failed"].as_i64(),
            done["skipped"].as_i64()
        ),
        (Some(ROWS), Some(0), Some(0)),
        "{done}"
    );
    let rows = app.sql_rows("SELECT COUNT(*) AS n FROM contacts").await;
    let n: i64 = rows[0].try_get("", "n").unwrap();
    assert_eq!(n, ROWS, "no row imported twice or lost");
    let rows = app
        .sql_rows(&format!(
            "SELECT COUNT(*) AS n FROM import_records WHERE import_id = '{import}'"
        ))
        .await;
    let n: i64 = rows[0].try_get("", "n").unwrap();
    assert_eq!(n, ROWS);
});

story!(batched_creates_check_every_rule_of_a_save, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.user("rep.a@example.com", "sales_rep", None, None).await;
    app.user("rep.b@example.com", "sales_rep", None, None).await;
    let admin = app.login("admin@example.com").await;
    let rep = app.login("rep.a@example.com").await;
    let (st, v) = app
        .call(
            &admin,
            Method::PUT,
            "/api/v1/custom-fields/contacts/cf_wechat_group",
            Some(json!({"label_en": "WeChat group", "label_zh": "微信群", "kind": "text", "sensitive": true})),
        )
        .await;
    assert!(st.is_success(), "{v}");
    app.created(
        &rep,
        "/api/v1/contacts",
        json!({"family_name": "旧", "given_name": "号码", "mobile": "13500135000"}),
    )
    .await;
    let file = "family_name,given_name,mobile,email,cf_wechat_group,owner_id,tags\n\
                周,一,13100131000,zhou1@example.com,华东客户群,,a\n\
                周,二,13100131001,zhou1@example.com,,,\n\
                吴,三,13500135000,wu3@example.com,,,\n\
                郑,四,13100131004,zheng4@example.com,,rep.b@example.com,\n\
                冯,五,not-a-phone,feng5@example.com,,,\n\
                陈,六,13100131006,chen6@example.com,,rep.a@example.com,b\n";
    let (st, v) = upload(
        &app,
        &rep,
        "contacts",
        "plain.csv",
        file.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let import = v["import"]["id"].as_str().unwrap().to_string();
    let mut mapping = v["suggested"].clone();
    mapping["match_on"] = json!("none");
    assert_eq!(mapping["columns"]["4"], "cf_wechat_group", "{mapping}");
    let done = run_with(&app, &rep, &import, mapping).await;
    assert_eq!(
        (done["created"].as_i64(), done["failed"].as_i64()),
        (Some(2), Some(4)),
        "{done}"
    );
    let (_, errors) = app
        .get(&rep, &format!("/api/v1/imports/{import}/errors"))
        .await;
    let reasons: Vec<(i64, String)> = errors["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let why = |row: i64| {
        reasons
            .iter()
            .find(|(r, _)| *r == row)
            .map(|(_, w)| w.clone())
            .unwrap_or_default()
    };
    // The same email twice in the file: the first row is created and the second refused, as
    // saving them one after the other would.
    assert_eq!(why(2), "", "{reasons:?}");
    assert!(why(3).contains("by email"), "{reasons:?}");
    assert!(
        why(4).contains("by phone"),
        "an existing contact's mobile: {reasons:?}"
    );
    assert!(
        why(5).contains("owner_out_of_scope") || why(5).contains("owner"),
        "{reasons:?}"
    );
    assert!(why(6).contains("mobile"), "{reasons:?}");
    // The created contacts are whole: the sensitive custom field, tags, tokens for search,
    // the owner's department, a trace to the import.
    let (_, found) = app.get(&rep, "/api/v1/contacts?q=1006").await;
    let chen = &found["data"][0];
    assert_eq!(chen["family_name"], "陈", "{found}");
    assert_eq!(chen["tags"], json!(["b"]));
    let (_, list) = app
        .get(&rep, "/api/v1/contacts?q=chen6%40example.com")
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (_, audit) = app
        .get(&admin, "/api/v1/audit?action=contact.batch_created")
        .await;
    let entry = &audit["data"][0];
    assert_eq!(entry["details"]["import_id"], import.as_str(), "{audit}");
    assert_eq!(entry["details"]["count"], 2);
    let rows = app
        .sql_rows("SELECT custom_enc FROM contacts WHERE family_name = '陈'")
        .await;
    let enc: Option<String> = rows[0].try_get("", "custom_enc").unwrap();
    assert!(enc.is_none(), "no sensitive custom value on this row");
    let rows = app
        .sql_rows("SELECT custom_enc FROM contacts WHERE family_name = '周'")
        .await;
    assert_eq!(rows.len(), 1, "one 周 was created");
    let enc: Option<String> = rows[0].try_get("", "custom_enc").unwrap();
    assert!(
        enc.is_some_and(|e| !e.contains("华东客户群")),
        "the sensitive custom value is stored encrypted"
    );
    let (_, zhou) = app
        .get(&rep, "/api/v1/contacts?q=zhou1%40example.com")
        .await;
    assert_eq!(zhou["data"][0]["cf_wechat_group"], "华东客户群", "{zhou}");
    // Undo removes exactly what the import created.
    let (st, v) = app
        .post(&rep, &format!("/api/v1/imports/{import}/undo"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["undone"], 2, "{v}");
});

story!(rows_batches_apart_are_checked_against_each_other, |app| {
    app.user("rep.a@example.com", "sales_rep", None, None).await;
    let rep = app.login("rep.a@example.com").await;
    // Several batches go into one transaction, whose rows the lookups cannot see before it
    // commits: a row thousands of rows after another with the same email or mobile is still a
    // duplicate, and so are repeated match keys.
    const ROWS: usize = 4_500;
    let mut file = String::from("family_name,given_name,mobile,email\n");
    for i in 0..ROWS {
        let (mobile, email) = match i {
            3_000 => (13_100_000_000 + ROWS as u64, "p10@far.example".to_string()),
            4_200 => (13_100_000_020, format!("p{i}@far.example")),
            _ => (13_100_000_000 + i as u64, format!("p{i}@far.example")),
        };
        file.push_str(&format!("远{i},试,{mobile},{email}\n"));
    }
    let (import, done) =
        import_contacts(&app, &rep, "far.csv", file, &[("match_on", "none")]).await;
    assert_eq!(
        (done["created"].as_i64(), done["failed"].as_i64()),
        (Some(ROWS as i64 - 2), Some(2)),
        "{done}"
    );
    let (_, errors) = app
        .get(&rep, &format!("/api/v1/imports/{import}/errors"))
        .await;
    let reasons: Vec<(i64, String)> = errors["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_i64().unwrap(), e["reason"].to_string()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].0 == 3_002 && reasons[0].1.contains("by email"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].0 == 4_202 && reasons[1].1.contains("by phone"),
        "{reasons:?}"
    );

    // Matching on email: the repeated key is refused as the same as the earlier row.
    let mut file = String::from("family_name,given_name,email\n");
    for i in 0..ROWS {
        let email = if i == 3_500 { 5 + ROWS } else { i + ROWS };
        file.push_str(&format!("再{i},试,q{email}@far.example\n"));
    }
    let match_email = [("match_on", "email"), ("on_match", "skip")];
    let (import, done) = import_contacts(&app, &rep, "again.csv", file, &match_email).await;
    assert_eq!(
        (done["created"].as_i64(), done["failed"].as_i64()),
        (Some(ROWS as i64 - 1), Some(1)),
        "{done}"
    );
    let (_, errors) = app
        .get(&rep, &format!("/api/v1/imports/{import}/errors"))
        .await;
    assert!(
        errors["data"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("row 7 of the file")),
        "{errors}"
    );

    // Keys of committed records, more than one lookup chunk (500) of them in one batch: every
    // match and every duplicate is found, whichever chunk or rule's lookup it is in.
    const AGAIN: usize = 1_200;
    let mut file = String::from("family_name,given_name,mobile,email\n");
    for i in 0..AGAIN {
        file.push_str(&format!(
            "回{i},试,{},p{i}@far.example\n",
            13_300_000_000 + i as u64
        ));
    }
    let (_, done) = import_contacts(&app, &rep, "matched.csv", file, &match_email).await;
    assert_eq!(
        (done["created"].as_i64(), done["skipped"].as_i64()),
        (Some(0), Some(AGAIN as i64)),
        "{done}"
    );
    let mut file = String::from("family_name,given_name,mobile,email\n");
    for i in 0..AGAIN {
        file.push_str(&format!(
            "再回{i},试,{},r{i}@far.example\n",
            13_100_000_000 + i as u64
        ));
    }
    file.push_str("新,试,13400000000,new@far.example\n");
    let (import, done) =
        import_contacts(&app, &rep, "phones.csv", file, &[("match_on", "none")]).await;
    assert_eq!(
        (done["created"].as_i64(), done["failed"].as_i64()),
        (Some(1), Some(AGAIN as i64)),
        "{done}"
    );
    let (_, errors) = app
        .get(&rep, &format!("/api/v1/imports/{import}/errors"))
        .await;
    // The list shows the first 1,000 failures.
    let listed = errors["data"].as_array().unwrap();
    assert_eq!(listed.len(), 1_000, "{errors}");
    assert!(
        listed
            .iter()
            .all(|e| e["reason"].as_str().is_some_and(|r| r.contains("by phone"))),
        "{errors}"
    );
});

/// A 200 MB file is read whole (SQLite only: reading a file does not depend on the database,
/// and one run of this size is enough for the suite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_file_is_read_whole_and_the_server_stays_up() {
    let app = App::start(Backend::Sqlite).await.expect("sqlite app");
    app.user("rep.a@example.com", "sales_rep", None, None).await;
    let rep = app.login("rep.a@example.com").await;
    const ROWS: usize = 1_100_000;
    let filler = "备注".repeat(20) + &"x".repeat(60);
    let mut file = String::with_capacity(200 * 1024 * 1024);
    file.push_str("姓,名,手机,邮箱,备注\n");
    for i in 0..ROWS {
        file.push_str(&format!(
            "测{i},试,138{:08},p{i}@large.example,{filler}\n",
            i % 100_000_000
        ));
    }
    assert!(file.len() > 200_000_000, "{} bytes", file.len());
    let (st, v) = upload(&app, &rep, "contacts", "large.csv", file.into_bytes()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["import"]["total_rows"], ROWS as i64 + 1, "every row kept");
    assert_eq!(v["import"]["encoding"], "utf-8");
    assert_eq!(v["rows"][1][0], "测0", "the preview shows the first rows");
    // The server carries on.
    let (st, list) = app.get(&rep, "/api/v1/imports").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}
