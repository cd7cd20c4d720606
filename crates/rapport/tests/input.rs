//! Bad input: a 4xx problem+json naming the field, and nothing written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{App, Session};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn count(app: &App, s: &Session, plural: &str) -> usize {
    let (_, list) = app.get(s, &format!("/api/v1/{plural}?limit=200")).await;
    list["data"].as_array().unwrap().len()
}

async fn raw(
    app: &App,
    s: &Session,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, String, Value) {
    let res = app
        .http
        .post(format!("{}{path}", app.base))
        .bearer_auth(&s.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, res.json().await.unwrap_or(Value::Null))
}

/// Send only the head of a JSON POST declaring `length` bytes of body; the answer's status,
/// head and JSON body.
async fn declared_only(app: &App, s: &Session, path: &str, length: usize) -> (u16, String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n",
        s.token
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        head.to_string(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

story!(malformed_bodies_are_refused_and_nothing_is_written, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;

    let (st, ct, body) = raw(
        &app,
        &s,
        "/api/v1/accounts",
        "application/json",
        b"{\"name\": \"Broken".to_vec(),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(ct, "application/problem+json");
    assert_eq!(body["code"], "malformed_json");

    let (st, _, body) = raw(
        &app,
        &s,
        "/api/v1/accounts",
        "application/json",
        b"[1,2,3]".to_vec(),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "malformed_json");

    let (st, _, body) = raw(
        &app,
        &s,
        "/api/v1/accounts",
        "text/plain",
        b"name=x".to_vec(),
    )
    .await;
    assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["code"], "unsupported_media_type");

    // A body declared larger than the limit is refused before any of it is read. Only the
    // head is sent: a client still writing the body when the answer comes and the connection
    // closes gets a broken pipe instead of the answer, depending on timing.
    let (st, head, body) = declared_only(&app, &s, "/api/v1/accounts", 2 * 1024 * 1024).await;
    assert_eq!(st, 413, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{head}"
    );
    assert_eq!(body["code"], "body_too_large");

    let (st, body) = app
        .post(
            &s,
            "/api/v1/accounts",
            json!({"name": "Fine", "surprise": 1}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "surprise");
    assert_eq!(body["errors"][0]["code"], "unknown_field");
    // On every kind of body an unknown name is refused first, before what is wrong with the
    // known ones (and even where a typed body would have ignored it).
    let wrong = json!({"zz_surprise": 1, "name": 5, "days": "x", "keep_raw_days": "x",
        "daily_claim_limit": "x", "host": 5, "kind": 9});
    for (method, path) in [
        (reqwest::Method::POST, "/api/v1/accounts"),
        (reqwest::Method::POST, "/api/v1/activities"),
        (reqwest::Method::POST, "/api/v1/users"),
        (reqwest::Method::POST, "/api/v1/roles"),
        (reqwest::Method::POST, "/api/v1/departments"),
        (reqwest::Method::PUT, "/api/v1/settings/imports"),
        (reqwest::Method::PUT, "/api/v1/settings/pool"),
        (reqwest::Method::PUT, "/api/v1/settings/smtp"),
        (reqwest::Method::PUT, "/api/v1/settings/audit-anchors"),
        (reqwest::Method::PUT, "/api/v1/settings/approval-flow"),
        (reqwest::Method::PUT, "/api/v1/settings/backup-target"),
    ] {
        let (st, body) = app.call(&s, method, path, Some(wrong.clone())).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        assert_eq!(errors[0]["code"], "unknown_field", "{path}: {body}");
        let named = errors[0]["field"].as_str().unwrap_or("");
        assert!(wrong.get(named).is_some(), "{path}: {body}");
    }

    let (st, body) = app
        .post(
            &s,
            "/api/v1/accounts",
            json!({"name": ["not", "a", "string"]}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "name");
    assert_eq!(body["errors"][0]["code"], "invalid_type");

    let (st, body) = app
        .post(
            &s,
            "/api/v1/accounts",
            json!({"name": "Typed", "annual_revenue": 12.5, "tags": "vip", "owner_id": 7}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["tags", "owner_id", "annual_revenue"]);

    let (st, body) = app
        .post(&s, "/api/v1/accounts", json!({"short_name": "no name"}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["errors"][0],
        json!({"field": "name", "code": "required", "message": "name is required"})
    );

    let (st, body) = app
        .post(
            &s,
            "/api/v1/accounts",
            json!({"name": "Sys", "department_id": "01a2027c-22ed-7012-bfd2-349135b6c66d"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["code"], "read_only_field");

    assert_eq!(count(&app, &s, "accounts").await, 0, "nothing was written");

    // Updates with bad input change nothing either.
    let (_, acc) = app
        .post(
            &s,
            "/api/v1/accounts",
            json!({"name": "Stable Ltd", "website": "https://stable.example.com"}),
        )
        .await;
    let path = format!("/api/v1/accounts/{}", acc["id"].as_str().unwrap());
    let (st, body) = app
        .patch(
            &s,
            &path,
            json!({"name": "Changed", "website": "ftp://nope"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "website");
    let (_, now) = app.get(&s, &path).await;
    assert_eq!(now["name"], "Stable Ltd");
    let (st, _) = app.patch(&s, &path, json!({"name": null})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
});

story!(bad_query_parameters_name_the_parameter, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    for (q, field) in [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("colour=red", "colour"),
        ("cursor=%%%", "cursor"),
        ("cursor=WzEsMl0", "cursor"),
        ("sort=nonexistent", "sort"),
        ("sort=tags", "sort"),
        ("filter=%7Bnope", "filter"),
        ("filter=%7B%22field%22%3A%22name%22%2C%22op%22%3A%22gt%22%2C%22value%22%3A%22a%22%7D", "filter.name"),
        ("filter=%7B%22field%22%3A%22bogus%22%2C%22op%22%3A%22eq%22%2C%22value%22%3A1%7D", "filter.bogus"),
        ("filter=%7B%22field%22%3A%22annual_revenue%22%2C%22op%22%3A%22gt%22%2C%22value%22%3A%22lots%22%7D", "filter.annual_revenue"),
    ] {
        let (st, body) = app.get(&s, &format!("/api/v1/accounts?{q}")).await;
        assert!(st.is_client_error(), "{q}: {st}");
        let named = body["errors"][0]["field"].as_str().unwrap_or_default();
        assert_eq!(named, field, "{q}: {body}");
    }
    // Every list bounds limit the same way, and the other lists name their bad parameters too.
    for (path, field) in [
        ("/api/v1/activities?limit=201", "limit"),
        ("/api/v1/notifications?limit=0", "limit"),
        ("/api/v1/jobs?limit=1000", "limit"),
        ("/api/v1/audit?limit=500", "limit"),
        ("/api/v1/pool?limit=201", "limit"),
        ("/api/v1/merges?object=accounts&limit=0", "limit"),
        ("/api/v1/duplicates?object=accounts&limit=501", "limit"),
        (
            "/api/v1/accounts/01a2027c-22ed-7012-bfd2-349135b6c66d/timeline?limit=201",
            "limit",
        ),
        ("/api/v1/audit?until=null", "until"),
        ("/api/v1/audit?before_seq=9223372036854775808", "before_seq"),
        ("/api/v1/activities?related_type=widget", "related_type"),
        ("/api/v1/targets?period=1999", "period"),
    ] {
        let (st, body) = app.get(&s, path).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert_eq!(body["errors"][0]["field"], field, "{path}: {body}");
    }
    let (st, body) = app
        .get(&s, "/api/v1/activities?limit=200&related_type=account")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // A filter condition that compares needs its value.
    let (st, body) = app
        .get(
            &s,
            "/api/v1/accounts?filter=%7B%22field%22%3A%22name%22%2C%22op%22%3A%22eq%22%7D",
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "filter.name");
    // A bulk action refuses the fields of other actions and ids that are not ids.
    for (body, field) in [
        (
            json!({"ids": ["01a2027c-22ed-7012-bfd2-349135b6c66d"], "action": "delete", "confirm": true, "tag": "x"}),
            "tag",
        ),
        (
            json!({"ids": ["not-an-id"], "action": "add_tag", "tag": "x"}),
            "ids",
        ),
        (
            json!({"ids": ["01a2027c-22ed-7012-bfd2-349135b6c66d"], "action": "assign_owner", "owner_id": "x", "reason": "r"}),
            "owner_id",
        ),
    ] {
        let (st, res) = app.post(&s, "/api/v1/accounts/bulk", body.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {res}");
        assert_eq!(res["errors"][0]["field"], field, "{body}: {res}");
    }
    // A whole number may be written 3.0.
    let (st, body) = app
        .call(
            &s,
            reqwest::Method::PUT,
            "/api/v1/settings/imports",
            Some(json!({"keep_raw_days": 45.0})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["keep_raw_days"], 45);
    // A role key already taken is a conflict, not a validation error.
    let role = json!({"key": "closer", "name_en": "Closer", "name_zh": "成交"});
    let (st, _) = app.post(&s, "/api/v1/roles", role.clone()).await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, body) = app.post(&s, "/api/v1/roles", role).await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    let (st, body) = app.get(&s, "/api/v1/widgets").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
    let (st, _) = app.get(&s, "/api/v1/accounts/not-an-id").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
});

story!(unauthenticated_requests_are_refused, |app| {
    let res = app
        .http
        .get(format!("{}/api/v1/accounts", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res = app
        .http
        .get(format!("{}/api/v1/accounts", app.base))
        .bearer_auth("rps_forged")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Cookie sessions must send the CSRF token on writes.
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let login = app
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"email": "admin@example.com", "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("HttpOnly"));
    let body: Value = login.json().await.unwrap();
    let res = app
        .http
        .post(format!("{}/api/v1/accounts", app.base))
        .header("cookie", &cookie)
        .json(&json!({"name": "Csrf Ltd"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .http
        .post(format!("{}/api/v1/accounts", app.base))
        .header("cookie", &cookie)
        .header("x-csrf-token", body["csrf_token"].as_str().unwrap())
        .json(&json!({"name": "Csrf Ltd"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
});

/// A form post of the web interface with the session cookie, as a browser sends it.
async fn ui_post(
    app: &App,
    s: &Session,
    path: &str,
    content_type: &str,
    body: String,
) -> StatusCode {
    // Redirects are the answer looked at, not followed.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = http
        .post(format!("{}{path}", app.base))
        .header("cookie", format!("rapport_session={}", s.token))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    res.status()
}

story!(ui_forms_without_their_csrf_token_change_nothing, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let admin = app.login("admin@example.com").await;
    // The page's token, as the browser has it.
    let html = app
        .http
        .get(format!("{}/accounts/new", app.base))
        .header("cookie", format!("rapport_session={}", admin.token))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form carries a csrf field")
        .to_string();
    let form = "application/x-www-form-urlencoded";
    // Without a token, with another's token, and with an empty one: 403, nothing created.
    for body in [
        "_fields=name&name=Forged+Co".to_string(),
        "csrf=0123456789abcdef0123456789abcdef&_fields=name&name=Forged+Co".to_string(),
        "csrf=&_fields=name&name=Forged+Co".to_string(),
    ] {
        let s = ui_post(&app, &admin, "/accounts/new", form, body).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    // A multipart upload is checked the same way.
    let boundary = "XyZboundary";
    let upload = |token: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"object\"\r\n\r\naccounts\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\
             Content-Type: text/csv\r\n\r\nname\nForged Upload Co\n\r\n--{boundary}--\r\n"
        )
    };
    let multipart = format!("multipart/form-data; boundary={boundary}");
    let s = ui_post(&app, &admin, "/imports", &multipart, upload("nope")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, imports) = app.get(&admin, "/api/v1/imports").await;
    assert_eq!(imports["data"].as_array().unwrap().len(), 0, "{imports}");
    assert_eq!(count(&app, &admin, "accounts").await, 0);
    // Before sign-in: a login post without the double-submit cookie is refused.
    let res = app
        .http
        .post(format!("{}/login", app.base))
        .header("content-type", form)
        .body(format!(
            "csrf=0123456789abcdef0123456789abcdef&email=admin%40example.com&password={}",
            common::urlencode(common::PASSWORD)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get("set-cookie").is_none());
    // With the page's token the same posts go through.
    let s = ui_post(
        &app,
        &admin,
        "/accounts/new",
        form,
        format!("csrf={csrf}&_fields=name&name=Real+Co"),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(count(&app, &admin, "accounts").await, 1);
    let s = ui_post(&app, &admin, "/imports", &multipart, upload(&csrf)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, imports) = app.get(&admin, "/api/v1/imports").await;
    assert_eq!(imports["data"].as_array().unwrap().len(), 1, "{imports}");
});

story!(names_refuse_invisible_formatting, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    for (plural, body, field) in [
        ("accounts", json!({"name": "Acme\u{202E}gpj.exe"}), "name"),
        ("accounts", json!({"name": "Zero\u{200B}Width Ltd"}), "name"),
        (
            "contacts",
            json!({"family_name": "王\u{2066}", "given_name": "芳"}),
            "family_name",
        ),
        (
            "accounts",
            json!({"name": "Tagged", "tags": ["vip\u{FEFF}"]}),
            "tags",
        ),
    ] {
        let before = count(&app, &s, plural).await;
        let (st, err) = app.post(&s, &format!("/api/v1/{plural}"), body).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["errors"][0]["field"], field, "{err}");
        assert_eq!(count(&app, &s, plural).await, before, "nothing written");
    }
    // Ordinary names in both scripts still pass.
    let (st, ok) = app
        .post(
            &s,
            "/api/v1/accounts",
            json!({"name": "深圳星辰科技 Co., Ltd."}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{ok}");
});

story!(without_the_right_the_body_is_not_read, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.user("viewer@example.com", "viewer", None, None).await;
    let admin = app.login("admin@example.com").await;
    let s = app.login("viewer@example.com").await;
    let (st, acct) = app
        .post(&admin, "/api/v1/accounts", json!({"name": "Seen by all"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{acct}");
    let account = acct["id"].as_str().unwrap().to_string();
    // A body wrong in every way: a viewer holds none of these rights, so each answer is 403
    // and never a validation error that would tell them what the body should look like.
    let wrong = json!({"zz_surprise": 1, "name": 5, "days": "x", "keep_raw_days": "x",
        "daily_claim_limit": "x", "host": 5, "kind": 9, "values": 3, "email": []});
    let put = reqwest::Method::PUT;
    let post = reqwest::Method::POST;
    let patch = reqwest::Method::PATCH;
    let paths = [
        (post.clone(), "/api/v1/accounts".to_string()),
        (patch.clone(), format!("/api/v1/accounts/{account}")),
        (post.clone(), "/api/v1/accounts/transfer".into()),
        (post.clone(), "/api/v1/accounts/bulk".into()),
        (post.clone(), "/api/v1/users".into()),
        (post.clone(), "/api/v1/roles".into()),
        (put.clone(), "/api/v1/roles/sales_rep".into()),
        (post.clone(), "/api/v1/departments".into()),
        (put.clone(), "/api/v1/picklists/industry".into()),
        (put.clone(), "/api/v1/duplicate-rules/accounts".into()),
        (put.clone(), "/api/v1/custom-fields/accounts/cf_x".into()),
        (post.clone(), "/api/v1/pipelines".into()),
        (post.clone(), "/api/v1/price-lists".into()),
        (post.clone(), "/api/v1/merges".into()),
        (post.clone(), "/api/v1/merges/bulk".into()),
        (put.clone(), "/api/v1/targets".into()),
        (put.clone(), "/api/v1/settings/imports".into()),
        (put.clone(), "/api/v1/settings/pool".into()),
        (put.clone(), "/api/v1/settings/smtp".into()),
        (put.clone(), "/api/v1/settings/audit-anchors".into()),
        (put.clone(), "/api/v1/settings/approval-flow".into()),
        (put.clone(), "/api/v1/settings/backup-target".into()),
        (post.clone(), "/api/v1/backups".into()),
        (post.clone(), "/api/v1/backups/drills".into()),
    ];
    let mut wrongly = Vec::new();
    for (method, path) in paths {
        let (st, body) = app
            .call(&s, method.clone(), &path, Some(wrong.clone()))
            .await;
        if st != StatusCode::FORBIDDEN {
            wrongly.push(format!("{method} {path}: {st} {body}"));
        }
    }
    assert!(wrongly.is_empty(), "{wrongly:#?}");
    // The record the viewer may read is unchanged.
    let (_, after) = app
        .get(&admin, &format!("/api/v1/accounts/{account}"))
        .await;
    assert_eq!(after["name"], "Seen by all");
});
