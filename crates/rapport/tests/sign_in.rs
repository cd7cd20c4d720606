//! Sign-in under attack: a parallel burst checks no more passwords than the throttle allows
//! (one server, or two on one PostgreSQL database), re-authentication is throttled like
//! sign-in, read-only access changes nothing, and only paths on this site are followed after
//! sign-in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{App, Backend, Session, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// `n` sign-ins at once, spread over `bases`: how many were checked (401) and refused (429).
async fn burst(bases: &[String], n: usize, email: impl Fn(usize) -> String) -> (usize, usize) {
    let http = reqwest::Client::new();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let url = format!("{}/api/v1/auth/login", bases[i % bases.len()]);
        let body = json!({"email": email(i), "password": "not the password"});
        let http = http.clone();
        set.spawn(async move { http.post(url).json(&body).send().await.unwrap().status() });
    }
    let (mut checked, mut refused) = (0, 0);
    while let Some(st) = set.join_next().await {
        match st.unwrap() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("unexpected answer {other}"),
        }
    }
    (checked, refused)
}

async fn login_status(app: &App, email: &str, password: &str) -> StatusCode {
    app.http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

story!(
    a_parallel_burst_checks_no_more_passwords_than_allowed,
    |app| {
        app.user("dora@example.com", "sales_rep", None, None).await;
        // On PostgreSQL half the burst goes to a second server process on the same database.
        let second = (app.backend == Backend::Postgres).then(|| app.spawn_another());
        let mut bases = vec![app.base.clone()];
        bases.extend(second.as_ref().map(|s| s.base.clone()));

        // One account: 5 failures lock it, however many arrive at once.
        let (checked, refused) = burst(&bases, 60, |_| "dora@example.com".into()).await;
        assert!((1..=5).contains(&checked), "{checked} checked");
        assert_eq!(checked + refused, 60);
        assert_eq!(
            login_status(&app, "dora@example.com", PASSWORD).await,
            StatusCode::TOO_MANY_REQUESTS,
            "locked even for the right password"
        );

        // One address: 30 failures lock it, over any number of accounts.
        let (more, refused) = burst(&bases, 80, |i| format!("nobody{i}@example.com")).await;
        assert!(
            more >= 1 && checked + more <= 30,
            "{checked} + {more} checked"
        );
        assert_eq!(more + refused, 80);
        app.user("erin@example.com", "sales_rep", None, None).await;
        assert_eq!(
            login_status(&app, "erin@example.com", PASSWORD).await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
);

story!(successful_sign_ins_do_not_use_up_the_address, |app| {
    app.user("fay@example.com", "sales_rep", None, None).await;
    for _ in 0..40 {
        assert_eq!(
            login_status(&app, "fay@example.com", PASSWORD).await,
            StatusCode::OK
        );
    }
});

story!(re_authentication_is_throttled_like_sign_in, |app| {
    app.user("gus@example.com", "sales_rep", None, None).await;
    let s = app.login("gus@example.com").await;
    let change = |current: &'static str| json!({"current_password": current, "new_password": "another long passphrase 2"});
    for _ in 0..5 {
        let (st, v) = app
            .post(&s, "/api/v1/me/password", change("wrong guess here"))
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["errors"][0]["code"], "wrong_password");
    }
    let (st, v) = app.post(&s, "/api/v1/me/password", change(PASSWORD)).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(
        login_status(&app, "gus@example.com", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the account is locked for sign-in too"
    );
    // The password did not change.
    assert_eq!(app.get(&s, "/api/v1/me").await.0, StatusCode::OK);
});

story!(read_only_access_changes_nothing, |app| {
    let admin_id = app
        .user("admin@example.com", "administrator", None, None)
        .await;
    let hal_id = app.user("hal@example.com", "sales_rep", None, None).await;
    let admin = app.login("admin@example.com").await;
    let hal = app.login("hal@example.com").await;
    let (st, ro) = app
        .post(
            &admin,
            "/api/v1/api-tokens",
            json!({"name": "reporting", "read_only": true}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{ro}");
    let ro = Session {
        token: ro["token"].as_str().unwrap().to_string(),
    };
    let (_, sessions) = app
        .get(&admin, &format!("/api/v1/sessions?user_id={admin_id}"))
        .await;
    let admin_session = sessions["data"][0]["id"].as_str().unwrap().to_string();
    let (_, mine) = app.get(&hal, "/api/v1/me").await;
    let before = mine["user"].clone();
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/me/password".to_string(),
            json!({"current_password": PASSWORD, "new_password": "another long passphrase 2"}),
        ),
        (
            Method::PATCH,
            "/api/v1/me".to_string(),
            json!({"name": "Changed"}),
        ),
        (
            Method::POST,
            "/api/v1/me/mfa/enroll".to_string(),
            json!({"current_password": PASSWORD}),
        ),
        (
            Method::DELETE,
            format!("/api/v1/sessions/{admin_session}"),
            json!({}),
        ),
        (
            Method::DELETE,
            format!("/api/v1/users/{hal_id}/sessions"),
            json!({}),
        ),
        (
            Method::POST,
            "/api/v1/accounts".to_string(),
            json!({"name": "Nope Ltd"}),
        ),
    ] {
        let (st, v) = app.call(&ro, method.clone(), &path, Some(body)).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{method} {path}: {v}");
        assert_eq!(v["code"], "read_only", "{method} {path}");
    }
    // Nothing changed: both sessions live, the profile is as it was, reads still work.
    assert_eq!(app.get(&admin, "/api/v1/me").await.0, StatusCode::OK);
    let (st, now) = app.get(&hal, "/api/v1/me").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(now["user"], before);
    assert_eq!(app.get(&ro, "/api/v1/accounts").await.0, StatusCode::OK);
    assert_eq!(
        login_status(&app, "admin@example.com", PASSWORD).await,
        StatusCode::OK,
        "the password did not change"
    );
});

story!(only_paths_on_this_site_are_followed_after_sign_in, |app| {
    app.user("ida@example.com", "sales_rep", None, None).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (next, expected) in [
        ("/accounts%3Fq%3Da", "/accounts?q=a"),
        ("/%09/evil.example", "/"),
        ("/%0d%0aX:1", "/"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
    ] {
        let page = http
            .get(format!("{}/login", app.base))
            .send()
            .await
            .unwrap();
        let cookie = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("rapport_csrf="))
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let csrf = cookie.trim_start_matches("rapport_csrf=").to_string();
        let res = http
            .post(format!("{}/login?next={next}", app.base))
            .header("cookie", &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", "ida@example.com"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert!(res.status().is_redirection(), "{next}: {}", res.status());
        assert_eq!(res.headers()["location"], expected, "{next}");
    }
});
