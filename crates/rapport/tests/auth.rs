//! Sign-in: throttling, identical failures, TOTP with replay protection, session and token
//! revocation taking effect at once.
#![allow(clippy::disallowed_methods)] // the server under test runs on the wall clock
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{App, Session, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn login_raw(
    app: &App,
    email: &str,
    password: &str,
    totp: Option<&str>,
) -> reqwest::Response {
    let mut body = json!({"email": email, "password": password});
    if let Some(t) = totp {
        body["totp"] = json!(t);
    }
    app.http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&body)
        .send()
        .await
        .unwrap()
}

story!(unknown_email_and_wrong_password_look_the_same, |app| {
    app.user("alice@example.com", "sales_rep", None, None).await;
    let a = login_raw(&app, "alice@example.com", "wrong password!!", None).await;
    let b = login_raw(&app, "nobody@example.com", "wrong password!!", None).await;
    assert_eq!(a.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(a.status(), b.status());
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a, b);
    assert_eq!(a["code"], "invalid_credentials");
});

story!(
    repeated_failures_lock_the_account_even_for_the_right_password,
    |app| {
        app.user("bob@example.com", "sales_rep", None, None).await;
        for _ in 0..5 {
            assert_eq!(
                login_raw(&app, "bob@example.com", "not the password", None)
                    .await
                    .status(),
                StatusCode::UNAUTHORIZED
            );
        }
        let res = login_raw(&app, "bob@example.com", PASSWORD, None).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = res
            .headers()
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry > 0 && retry <= 900, "retry-after {retry}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "rate_limited");
        // An unknown account is locked the same way (no way to tell them apart).
        for _ in 0..5 {
            login_raw(&app, "ghost@example.com", "not the password", None).await;
        }
        assert_eq!(
            login_raw(&app, "ghost@example.com", PASSWORD, None)
                .await
                .status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        // The failures are in the audit trail.
        app.user("admin@example.com", "administrator", None, None)
            .await;
        let admin = app.login("admin@example.com").await;
        let (_, audit) = app
            .get(&admin, "/api/v1/audit?action=auth.login_failed")
            .await;
        assert!(audit["data"].as_array().unwrap().len() >= 10);
    }
);

story!(too_many_failures_from_one_ip_are_throttled, |app| {
    for i in 0..30 {
        login_raw(
            &app,
            &format!("user{i}@example.com"),
            "not the password",
            None,
        )
        .await;
    }
    app.user("carol@example.com", "sales_rep", None, None).await;
    assert_eq!(
        login_raw(&app, "carol@example.com", PASSWORD, None)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
});

story!(totp_enrolment_and_replay, |app| {
    app.user("dave@example.com", "sales_rep", None, None).await;
    let s = app.login("dave@example.com").await;
    // Enrolment needs the password again.
    let (st, _) = app
        .post(
            &s,
            "/api/v1/me/mfa/enroll",
            json!({"current_password": "wrong password!!"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, e) = app
        .post(
            &s,
            "/api/v1/me/mfa/enroll",
            json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    let secret = e["secret"].as_str().unwrap().to_string();
    assert!(e["otpauth_url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    assert!(e["qr_svg"].as_str().unwrap().contains("<svg"));
    let now = chrono::Utc::now().timestamp() as u64;
    let code = rapport_auth::mfa::code_at(&secret, "dave@example.com", now).unwrap();
    let (st, body) = app
        .post(&s, "/api/v1/me/mfa/confirm", json!({"code": code}))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let recovery: Vec<String> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(recovery.len(), 10);

    // Without a code: mfa_required. With the code used for enrolment: refused (replay).
    let res = login_raw(&app, "dave@example.com", PASSWORD, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "mfa_required");
    assert_eq!(
        login_raw(&app, "dave@example.com", PASSWORD, Some(&code))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // The next step's code works once, then is a replay.
    let next = rapport_auth::mfa::code_at(&secret, "dave@example.com", now + 30).unwrap();
    let ok = login_raw(&app, "dave@example.com", PASSWORD, Some(&next)).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let replay = login_raw(&app, "dave@example.com", PASSWORD, Some(&next)).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["code"],
        "invalid_credentials"
    );

    // A recovery code works exactly once.
    assert_eq!(
        login_raw(&app, "dave@example.com", PASSWORD, Some(&recovery[0]))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        login_raw(&app, "dave@example.com", PASSWORD, Some(&recovery[0]))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
});

story!(role_can_require_mfa, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    app.user("erin@example.com", "sales_rep", None, None).await;
    let admin = app.login("admin@example.com").await;
    app.update_role(&admin, "sales_rep", json!({"require_mfa": true}))
        .await;
    let erin = app.login("erin@example.com").await;
    let (st, body) = app.get(&erin, "/api/v1/accounts").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "mfa_enrolment_required");
    // Enrolment itself stays reachable.
    assert_eq!(
        app.post(
            &erin,
            "/api/v1/me/mfa/enroll",
            json!({"current_password": PASSWORD})
        )
        .await
        .0,
        StatusCode::OK
    );
});

story!(sessions_and_tokens_are_revoked_at_once, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let frank_id = app.user("frank@example.com", "sales_rep", None, None).await;
    let s1 = app.login("frank@example.com").await;
    let s2 = app.login("frank@example.com").await;
    assert_ne!(s1.token, s2.token, "a new token at every login");

    let (_, list) = app.get(&s1, "/api/v1/sessions").await;
    let sessions = list["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.delete(&s1, &format!("/api/v1/sessions/{other}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&s2, "/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get(&s1, "/api/v1/me").await.0, StatusCode::OK);

    // Logout ends the session.
    let s3 = app.login("frank@example.com").await;
    assert_eq!(
        app.post(&s3, "/api/v1/auth/logout", json!({})).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&s3, "/api/v1/me").await.0, StatusCode::UNAUTHORIZED);

    // API tokens: read-only refuses writes; shown once; revocable.
    let (st, ro) = app
        .post(
            &s1,
            "/api/v1/api-tokens",
            json!({"name": "reporting", "read_only": true}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{ro}");
    let ro_tok = Session {
        token: ro["token"].as_str().unwrap().to_string(),
    };
    assert_eq!(app.get(&ro_tok, "/api/v1/accounts").await.0, StatusCode::OK);
    assert_eq!(
        app.post(&ro_tok, "/api/v1/accounts", json!({"name": "Nope Ltd"}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (_, tokens) = app.get(&s1, "/api/v1/api-tokens").await;
    assert!(
        tokens["data"][0].get("token").is_none(),
        "token is shown only once"
    );
    let (_, rw) = app
        .post(
            &s1,
            "/api/v1/api-tokens",
            json!({"name": "sync", "read_only": false}),
        )
        .await;
    let rw_tok = Session {
        token: rw["token"].as_str().unwrap().to_string(),
    };
    assert_eq!(
        app.post(&rw_tok, "/api/v1/accounts", json!({"name": "Yes Ltd"}))
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        app.delete(
            &s1,
            &format!("/api/v1/api-tokens/{}", ro["id"].as_str().unwrap())
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&ro_tok, "/api/v1/accounts").await.0,
        StatusCode::UNAUTHORIZED
    );
    // Another user's token id is a 404.
    let admin = app.login("admin@example.com").await;
    app.user("gina@example.com", "sales_rep", None, None).await;
    let gina = app.login("gina@example.com").await;
    assert_eq!(
        app.delete(
            &gina,
            &format!("/api/v1/api-tokens/{}", rw["id"].as_str().unwrap())
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    // An admin disables the user: the session and the remaining token stop working at once.
    let (st, _) = app
        .patch(
            &admin,
            &format!("/api/v1/users/{frank_id}"),
            json!({"active": false}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(app.get(&s1, "/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get(&rw_tok, "/api/v1/accounts").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_raw(&app, "frank@example.com", PASSWORD, None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
});

story!(
    password_change_needs_the_old_password_and_ends_sessions,
    |app| {
        app.user("hank@example.com", "sales_rep", None, None).await;
        let s = app.login("hank@example.com").await;
        let (st, body) = app
            .post(
                &s,
                "/api/v1/me/password",
                json!({"current_password": PASSWORD, "new_password": "short"}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["errors"][0]["field"], "new_password");
        let (st, _) = app.post(&s, "/api/v1/me/password", json!({"current_password": "not my password", "new_password": "a brand new passphrase"})).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        let (st, _) = app
            .post(
                &s,
                "/api/v1/me/password",
                json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&s, "/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            login_raw(&app, "hank@example.com", "a brand new passphrase", None)
                .await
                .status(),
            StatusCode::OK
        );
    }
);

story!(first_run_setup_creates_one_admin_only, |app| {
    let (st, body) = app
        .post_anon(
            "/api/v1/setup",
            json!({"email": "first@example.com", "password": "too short"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "password");
    let (st, body) = app
        .post_anon(
            "/api/v1/setup",
            json!({"email": "not an email", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a failed attempt does not use up the setup: {body}"
    );
    // Five attempts at the same instant: exactly one administrator is created.
    let mut tasks = Vec::new();
    for i in 0..5 {
        let (http, base) = (app.http.clone(), app.base.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"email": format!("first{i}@example.com"), "password": PASSWORD, "name": "First"});
            http.post(format!("{base}/api/v1/setup")).json(&body).send().await.unwrap().status()
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    assert_eq!(
        results
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{results:?}"
    );
    let winner = results
        .iter()
        .position(|s| *s == StatusCode::CREATED)
        .unwrap();
    let (st, body) = app
        .post_anon(
            "/api/v1/setup",
            json!({"email": "second@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(body["code"], "setup_done");
    let s = app.login(&format!("first{winner}@example.com")).await;
    let (_, me) = app.get(&s, "/api/v1/me").await;
    assert_eq!(me["user"]["roles"], json!(["administrator"]));
});

story!(an_administrator_ends_another_users_sessions, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let ivy_id = app.user("ivy@example.com", "sales_rep", None, None).await;
    let admin = app.login("admin@example.com").await;
    let ivy = app.login("ivy@example.com").await;
    let ivy2 = app.login("ivy@example.com").await;
    // Ivy cannot see or end the admin's sessions, nor anyone else's.
    let admin_id = app.get(&admin, "/api/v1/me").await.1["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.get(&ivy, &format!("/api/v1/sessions?user_id={admin_id}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&ivy, &format!("/api/v1/users/{admin_id}/sessions"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // The admin lists Ivy's sessions and ends one, then all.
    let (_, list) = app
        .get(&admin, &format!("/api/v1/sessions?user_id={ivy_id}"))
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    let one = list["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.delete(&admin, &format!("/api/v1/sessions/{one}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let alive: Vec<bool> = vec![
        app.get(&ivy, "/api/v1/me").await.0 == StatusCode::OK,
        app.get(&ivy2, "/api/v1/me").await.0 == StatusCode::OK,
    ];
    assert_eq!(alive.iter().filter(|a| **a).count(), 1);
    assert_eq!(
        app.delete(&admin, &format!("/api/v1/users/{ivy_id}/sessions"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&ivy, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get(&ivy2, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get(&admin, "/api/v1/me").await.0, StatusCode::OK);
});

story!(
    changes_to_a_signed_in_user_apply_to_their_next_request,
    |app| {
        // The token, user and roles a request presents are kept for a moment between requests;
        // every change to them must still apply to the very next request.
        app.user("admin@example.com", "administrator", None, None)
            .await;
        let hal_id = app.user("hal@example.com", "sales_rep", None, None).await;
        let admin = app.login("admin@example.com").await;
        let hal = app.login("hal@example.com").await;
        let a = app
            .created(
                &hal,
                "/api/v1/accounts",
                json!({"name": "Hal's", "annual_revenue": 5000}),
            )
            .await;
        let path = format!("/api/v1/accounts/{}", a["id"].as_str().unwrap());
        for _ in 0..3 {
            let (st, body) = app.get(&hal, &path).await;
            assert_eq!(st, StatusCode::OK);
            assert_eq!(body["annual_revenue"], "5000.00");
        }

        // A field rule on the role: the next read hides the field.
        app.set_field_rule(&admin, "sales_rep", "account", "annual_revenue", "hidden")
            .await;
        let (st, body) = app.get(&hal, &path).await;
        assert_eq!(st, StatusCode::OK);
        assert!(body.get("annual_revenue").is_none(), "{body}");

        // The role now requires two-step sign-in: the next request must enrol first.
        app.update_role(&admin, "sales_rep", json!({"require_mfa": true}))
            .await;
        let (st, body) = app.get(&hal, &path).await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        assert_eq!(body["code"], "mfa_enrolment_required");

        // Another role: administrators read the audit trail; the next request may.
        app.update_role(&admin, "sales_rep", json!({"require_mfa": false}))
            .await;
        assert_eq!(
            app.get(&hal, "/api/v1/audit").await.0,
            StatusCode::FORBIDDEN
        );
        let (st, _) = app
            .patch(
                &admin,
                &format!("/api/v1/users/{hal_id}"),
                json!({"roles": ["administrator"]}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(app.get(&hal, "/api/v1/audit").await.0, StatusCode::OK);

        // The user's language, as the next request sees it, there and back.
        for language in ["en", "zh-CN"] {
            let (st, _) = app
                .patch(&hal, "/api/v1/me", json!({"language": language}))
                .await;
            assert!(st.is_success(), "{st}");
            let (_, me) = app.get(&hal, "/api/v1/me").await;
            assert_eq!(me["user"]["language"], language);
        }
    }
);
