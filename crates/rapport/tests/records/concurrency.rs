//! Records written at the same time: duplicate rules that hold under simultaneous creates,
//! and writes that name the version they read.
#[allow(unused_imports)]
use super::*;

story!(simultaneous_creates_keep_the_duplicate_rules, |app| {
    use rand::SeedableRng;
    let admin = admin(&app).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(32);
    let sorted = |a: StatusCode, b: StatusCode| {
        let mut s = [a.as_u16(), b.as_u16()];
        s.sort();
        s
    };
    // Thirty pairs of accounts with one credit code (a block rule), each pair sent at once:
    // one is created, the other refused as a duplicate.
    for i in 0..30 {
        let code = rapport_services::demo::credit_code(&mut rng);
        let (a, b) = tokio::join!(
            app.post(
                &admin,
                "/api/v1/accounts",
                json!({"name": format!("并发甲{i}"), "credit_code": code})
            ),
            app.post(
                &admin,
                "/api/v1/accounts",
                json!({"name": format!("Parallel B {i}"), "credit_code": code})
            ),
        );
        assert_eq!(sorted(a.0, b.0), [201, 409], "pair {i}: {a:?} {b:?}");
        let refused = if a.0 == StatusCode::CONFLICT {
            &a.1
        } else {
            &b.1
        };
        assert_eq!(refused["code"], "duplicate", "{refused}");
        assert_eq!(refused["rule"], "credit_code", "{refused}");
        assert_eq!(refused["overridable"], false, "{refused}");
    }
    // Thirty pairs of contacts with one email (a warn rule): the same, unless both say to
    // save anyway.
    for i in 0..30 {
        let email = format!("same{i}@example.com");
        let (a, b) = tokio::join!(
            app.post(
                &admin,
                "/api/v1/contacts",
                json!({"family_name": "甲", "email": email})
            ),
            app.post(
                &admin,
                "/api/v1/contacts",
                json!({"family_name": "乙", "email": email})
            ),
        );
        assert_eq!(sorted(a.0, b.0), [201, 409], "pair {i}: {a:?} {b:?}");
    }
    for i in 0..5 {
        let email = format!("override{i}@example.com");
        let (a, b) = tokio::join!(
            app.post(
                &admin,
                "/api/v1/contacts?override_duplicates=true",
                json!({"family_name": "甲", "email": email})
            ),
            app.post(
                &admin,
                "/api/v1/contacts?override_duplicates=true",
                json!({"family_name": "乙", "email": email})
            ),
        );
        assert_eq!(
            sorted(a.0, b.0),
            [201, 201],
            "override pair {i}: {a:?} {b:?}"
        );
    }
    let (_, accounts) = app.get(&admin, "/api/v1/accounts?limit=200").await;
    assert_eq!(accounts["data"].as_array().unwrap().len(), 30);
    let (_, contacts) = app.get(&admin, "/api/v1/contacts?limit=200").await;
    assert_eq!(contacts["data"].as_array().unwrap().len(), 40);
});

story!(writes_name_the_version_they_read, |app| {
    let admin = admin(&app).await;
    let created = app
        .http
        .post(format!("{}/api/v1/accounts", app.base))
        .bearer_auth(&admin.token)
        .json(&json!({"name": "Versioned Co"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["etag"], "\"1\"");
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("{}/api/v1/accounts/{id}", app.base);
    let read = app
        .http
        .get(&path)
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.headers()["etag"], "\"1\"");
    let patch = |tag: Option<&str>, name: &str| {
        let mut r = app
            .http
            .patch(&path)
            .bearer_auth(&admin.token)
            .json(&json!({"name": name}));
        if let Some(t) = tag {
            r = r.header("if-match", t);
        }
        r.send()
    };
    // A change based on version 1 goes through and moves it to 2.
    let res = patch(Some("\"1\""), "Versioned Co Ltd").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["etag"], "\"2\"");
    // Another based on version 1 too is refused and changes nothing.
    let res = patch(Some("\"1\""), "Overwritten").await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "version_conflict", "{body}");
    let (_, now) = app.get(&admin, &format!("/api/v1/accounts/{id}")).await;
    assert_eq!(now["name"], "Versioned Co Ltd");
    // A malformed tag names the header; `*` and a weak tag are taken.
    for bad in ["three", ""] {
        let res = patch(Some(bad), "X").await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
    }
    let res = patch(Some("W/\"2\""), "Versioned Trading").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = patch(Some("*"), "Versioned Trading Co").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["etag"], "\"4\"");
    // Ten changes based on one version at once: exactly one is made.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..10 {
        let (http, path, token) = (app.http.clone(), path.clone(), admin.token.clone());
        set.spawn(async move {
            http.patch(&path)
                .bearer_auth(&token)
                .header("if-match", "\"4\"")
                .json(&json!({"name": format!("Racing Co {i}")}))
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    let statuses: Vec<StatusCode> = set.join_all().await;
    let made = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((made, refused), (1, 9), "{statuses:?}");
    // A delete based on an old version is refused; on the current one it goes through.
    let del = |tag: &str| {
        app.http
            .delete(&path)
            .bearer_auth(&admin.token)
            .header("if-match", tag)
            .send()
    };
    assert_eq!(del("\"4\"").await.unwrap().status(), StatusCode::CONFLICT);
    assert_eq!(del("\"5\"").await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&admin, &format!("/api/v1/accounts/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
});
