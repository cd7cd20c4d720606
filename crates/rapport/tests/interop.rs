//! Calendar feed and vCards, checked with independent parsers (Python's icalendar and vobject,
//! installed by scripts/test-deps.sh), Chinese names included.
#![allow(clippy::disallowed_methods)] // the server under test runs on the wall clock
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{App, Session};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Run a Python snippet on `input` (written to a file passed as argv[1]).
fn python(script: &str, input: &str) -> Value {
    let dir = std::env::temp_dir().join(format!("rapport-py-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("input");
    std::fs::write(&file, input).unwrap();
    let out = common::python(script, &[file.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    out
}

const READ_ICS: &str = r#"
import json, sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
print(json.dumps({
  "events": [{"summary": str(e.get("SUMMARY")), "location": str(e.get("LOCATION", "")),
              "start": e.decoded("DTSTART").isoformat(), "end": e.decoded("DTEND").isoformat(),
              "uid": str(e.get("UID"))} for e in cal.walk("VEVENT")],
  "todos": [{"summary": str(t.get("SUMMARY")), "status": str(t.get("STATUS")),
             "due": t.decoded("DUE").isoformat() if t.get("DUE") else None} for t in cal.walk("VTODO")],
}, ensure_ascii=False))
"#;

const READ_VCF: &str = r#"
import json, sys, vobject
cards = []
for c in vobject.readComponents(open(sys.argv[1], encoding="utf-8").read()):
    cards.append({
        "version": c.version.value,
        "fn": c.fn.value,
        "family": c.n.value.family, "given": c.n.value.given,
        "tels": [t.value for t in c.contents.get("tel", [])],
        "emails": [e.value for e in c.contents.get("email", [])],
        "title": c.title.value if hasattr(c, "title") else None,
        "org": c.org.value if hasattr(c, "org") else None,
    })
print(json.dumps(cards, ensure_ascii=False))
"#;

async fn rep(app: &App, email: &str) -> (Session, String) {
    let id = app.user(email, "sales_rep", Some("华东"), None).await;
    (app.login(email).await, id)
}

fn at(hours: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(hours))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

story!(the_calendar_feed_holds_my_meetings_and_tasks, |app| {
    let (a, _) = rep(&app, "li.lei@example.com").await;
    let (b, _) = rep(&app, "han.mei@example.com").await;
    let (_, acc) = app
        .post(&a, "/api/v1/accounts", json!({"name": "华为技术有限公司"}))
        .await;
    let acc = acc["id"].as_str().unwrap().to_string();
    for body in [
        json!({"kind": "meeting", "subject": "与华为的方案会", "related_type": "account", "related_id": acc,
               "start_at": at(24), "end_at": at(25), "place": "深圳坂田"}),
        json!({"kind": "task", "subject": "发送报价单", "related_type": "account", "related_id": acc,
               "due_at": at(48), "priority": "high"}),
    ] {
        let (s, r) = app.post(&a, "/api/v1/activities", body).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
    }
    let (_, acc_b) = app
        .post(&b, "/api/v1/accounts", json!({"name": "Other Co"}))
        .await;
    app.post(
        &b,
        "/api/v1/activities",
        json!({"kind": "meeting", "subject": "Not for Li Lei", "related_type": "account",
               "related_id": acc_b["id"], "start_at": at(5)}),
    )
    .await;

    let (s, feed) = app.get(&a, "/api/v1/me/calendar-feed").await;
    assert_eq!(s, StatusCode::OK, "{feed}");
    let path = feed["path"].as_str().unwrap().to_string();
    assert!(feed["url"].as_str().unwrap().ends_with(&path));
    // The same address again until it is reset.
    let (_, again) = app.get(&a, "/api/v1/me/calendar-feed").await;
    assert_eq!(again["path"], feed["path"]);

    // Fetched without any session, as a calendar app would.
    let res = app
        .http
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    let ics = res.text().await.unwrap();
    let parsed = python(READ_ICS, &ics);
    let events = parsed["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{parsed}");
    assert_eq!(events[0]["summary"], "与华为的方案会");
    assert_eq!(events[0]["location"], "深圳坂田");
    assert!(events[0]["uid"].as_str().unwrap().ends_with("@rapport"));
    let todos = parsed["todos"].as_array().unwrap();
    assert_eq!(todos.len(), 1, "{parsed}");
    assert_eq!(todos[0]["summary"], "发送报价单");
    assert_eq!(todos[0]["status"], "NEEDS-ACTION");
    assert!(!ics.contains("Not for Li Lei"));

    // Reset: the old address is gone, the new one works; nonsense is not found either.
    let (s, fresh) = app
        .post(&a, "/api/v1/me/calendar-feed/reset", json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_ne!(fresh["path"], feed["path"]);
    let old = app
        .http
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::NOT_FOUND);
    let new = app
        .http
        .get(format!("{}{}", app.base, fresh["path"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(new.status(), StatusCode::OK);
    let unknown = format!("/calendar/{}.ics", "0".repeat(64));
    for junk in [unknown.as_str(), "/calendar/abc.ics", "/calendar/x"] {
        let r = app
            .http
            .get(format!("{}{junk}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{junk}");
    }
    // Not even valid UTF-8 in the path: refused as a bad request, never a server error.
    let r = app
        .http
        .get(format!("{}/calendar/%00%ff.ics", app.base))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
});

story!(vcards_go_out_and_come_in, |app| {
    let (a, a_id) = rep(&app, "li.lei@example.com").await;
    let (b, _) = rep(&app, "han.mei@example.com").await;
    let (_, acc) = app
        .post(
            &a,
            "/api/v1/accounts",
            json!({"name": "上海远航贸易有限公司"}),
        )
        .await;
    let (s, c) = app
        .post(
            &a,
            "/api/v1/contacts",
            json!({"family_name": "王", "given_name": "芳", "title": "采购经理",
                   "mobile": "138 0013 8000", "email": "wang.fang@example.com",
                   "emails": ["fang@home.example"], "accounts": [{"account_id": acc["id"]}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let cid = c["id"].as_str().unwrap().to_string();

    let res = app
        .http
        .get(format!("{}/api/v1/contacts/vcard?ids={cid}", app.base))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/vcard"));
    let vcf = res.text().await.unwrap();
    let cards = python(READ_VCF, &vcf);
    let card = &cards[0];
    assert_eq!(card["version"], "4.0");
    assert_eq!(card["fn"], "王芳");
    assert_eq!(card["family"], "王");
    assert_eq!(card["given"], "芳");
    assert_eq!(card["title"], "采购经理");
    assert_eq!(card["org"], json!(["上海远航贸易有限公司"]));
    assert_eq!(card["tels"], json!(["tel:+8613800138000"]));
    assert_eq!(
        card["emails"],
        json!(["wang.fang@example.com", "fang@home.example"])
    );

    // Rep B may not export rep A's contact, and sees nothing in a bulk export.
    let (s, _) = app
        .get(&b, &format!("/api/v1/contacts/vcard?ids={cid}"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let all_b = app
        .http
        .get(format!("{}/api/v1/contacts/vcard", app.base))
        .bearer_auth(&b.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!all_b.contains("BEGIN:VCARD"), "{all_b}");

    // Import what phones export: vCard 2.1 with quoted-printable UTF-8, 3.0 and 4.0, and one
    // card with a bad email that is reported while the others are created.
    let file = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=BC=A0;=E4=B8=89;;;\r\n\
FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=BC=A0=E4=B8=89\r\nTEL;CELL:139 0000 1111\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lovelace;Ada;;;\r\nFN:Ada Lovelace\r\nEMAIL;TYPE=INTERNET:ada@example.com\r\nTITLE:Analyst\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:4.0\r\nFN:欧阳娜娜\r\nTEL;TYPE=cell:tel:+86-137-0000-2222\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:3.0\r\nN:坏;邮箱;;;\r\nEMAIL:not-an-email\r\nEND:VCARD\r\n";
    let res = app
        .http
        .post(format!("{}/api/v1/contacts/vcard", app.base))
        .bearer_auth(&a.token)
        .header("content-type", "text/vcard")
        .body(file)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["created"].as_array().unwrap().len(), 3, "{report}");
    assert_eq!(report["failed"][0]["card"], 4);
    assert_eq!(report["failed"][0]["errors"][0]["field"], "email");
    let (_, found) = app.get(&a, "/api/v1/contacts?q=1111").await;
    assert_eq!(found["data"][0]["family_name"], "张");
    assert_eq!(found["data"][0]["given_name"], "三");
    assert_eq!(found["data"][0]["owner_id"], json!(a_id));
    let (_, ada) = app.get(&a, "/api/v1/contacts?q=ada@example.com").await;
    assert_eq!(ada["data"][0]["title"], "Analyst");
    let (_, ouyang) = app.get(&a, "/api/v1/contacts?q=2222").await;
    assert_eq!(ouyang["data"][0]["family_name"], "欧阳");

    // Bad files: a clear 4xx, nothing created.
    let before = app.get(&a, "/api/v1/contacts?limit=200").await.1["data"]
        .as_array()
        .unwrap()
        .len();
    for (ct, body, status) in [
        (
            "text/vcard",
            b"hello world".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "text/vcard",
            vec![0xff, 0xfe, 0x00, 0x42],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "application/json",
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "text/vcard",
            b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:\r\n".to_vec(),
            StatusCode::OK,
        ),
    ] {
        let res = app
            .http
            .post(format!("{}/api/v1/contacts/vcard", app.base))
            .bearer_auth(&a.token)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        let st = res.status();
        let text = res.text().await.unwrap();
        assert!(
            st == status || (status == StatusCode::OK && st == StatusCode::UNPROCESSABLE_ENTITY),
            "{ct}: {st} {text}"
        );
    }
    let after = app.get(&a, "/api/v1/contacts?limit=200").await.1["data"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);

    // A viewer reads contacts but may not import them.
    app.user("viewer@example.com", "viewer", None, None).await;
    let viewer = app.login("viewer@example.com").await;
    let res = app
        .http
        .post(format!("{}/api/v1/contacts/vcard", app.base))
        .bearer_auth(&viewer.token)
        .header("content-type", "text/vcard")
        .body("BEGIN:VCARD\r\nVERSION:3.0\r\nN:李;四;;;\r\nEND:VCARD\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
});
