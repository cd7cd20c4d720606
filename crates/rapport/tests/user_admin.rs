//! Users administered without a browser and by administrators: `rapport user list |
//! set-password | disable | enable | reset-mfa | set-role` recover a locked-out administrator
//! while the server runs, and the API resets another user's password and second factor for
//! those with the user right only.
#![allow(clippy::disallowed_methods)] // the server under test runs on the wall clock
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{App, Session, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::Write;
use std::process::Stdio;

async fn login(app: &App, email: &str, password: &str, totp: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({"email": email, "password": password});
    if let Some(t) = totp {
        body["totp"] = json!(t);
    }
    let res = app
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    let st = res.status();
    (st, res.json().await.unwrap_or(Value::Null))
}

fn session(body: &Value) -> Session {
    Session {
        token: body["token"].as_str().expect("token").to_string(),
    }
}

/// The server reads sessions through a cache of at most a second (ADR 0013): wait until a
/// change made by the command line shows.
async fn until_status(app: &App, s: &Session, path: &str, want: StatusCode) {
    for _ in 0..40 {
        if app.get(s, path).await.0 == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{path} never answered {want}");
}

/// Enrol TOTP through the API; returns the secret.
async fn enrol(app: &App, s: &Session, email: &str) -> String {
    let (st, e) = app
        .post(
            s,
            "/api/v1/me/mfa/enroll",
            json!({"current_password": PASSWORD}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{e}");
    let secret = e["secret"].as_str().unwrap().to_string();
    let now = chrono::Utc::now().timestamp() as u64;
    let code = rapport_auth::mfa::code_at(&secret, email, now).unwrap();
    let (st, body) = app
        .post(s, "/api/v1/me/mfa/confirm", json!({"code": code}))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    secret
}

async fn audit_actions(app: &App, s: &Session, user_id: &str) -> Vec<String> {
    let (st, body) = app
        .get(
            s,
            &format!("/api/v1/audit?object_type=user&object_id={user_id}&limit=50"),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap_or("").to_string())
        .collect()
}

story!(
    the_command_line_recovers_a_locked_out_administrator,
    |app| {
        let id = app
            .user("boss@example.com", "administrator", None, None)
            .await;
        app.user("other@example.com", "administrator", None, None)
            .await;
        let (st, body) = login(&app, "boss@example.com", PASSWORD, None).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let old = session(&body);
        enrol(&app, &old, "boss@example.com").await;

        // The password is forgotten: failures lock the account, even against the right password.
        for _ in 0..6 {
            login(&app, "boss@example.com", "forgotten password", None).await;
        }
        assert_eq!(
            login(&app, "boss@example.com", PASSWORD, None).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );

        // `user list` shows them, with MFA on.
        let (code, out, err) = app.cli(&["user", "list"]);
        assert_eq!(code, 0, "{err}");
        let line = out
            .lines()
            .find(|l| l.starts_with("boss@example.com"))
            .expect("listed");
        assert!(
            line.contains("administrator") && line.contains("active"),
            "{line}"
        );
        assert!(line.trim_end().ends_with("on"), "{line}");

        // A new password from standard input (kept out of the shell's history): the lock is
        // lifted, the old session ends, and the phone is still needed.
        let mut child = app
            .command()
            .args(["user", "set-password", "--email", "BOSS@example.com"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"a brand new passphrase\n")
            .unwrap();
        let done = child.wait_with_output().unwrap();
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        until_status(&app, &old, "/api/v1/me", StatusCode::UNAUTHORIZED).await;
        let (st, body) = login(&app, "boss@example.com", "a brand new passphrase", None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["code"], "mfa_required");
        assert_eq!(
            login(&app, "boss@example.com", PASSWORD, None).await.0,
            StatusCode::UNAUTHORIZED,
            "the old password no longer works"
        );

        // The phone is lost too: reset-mfa, and the password alone signs in.
        let (code, out, err) = app.cli(&["user", "reset-mfa", "--email", "boss@example.com"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("removed"), "{out}");
        let (st, body) = login(&app, "boss@example.com", "a brand new passphrase", None).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let s = session(&body);
        assert_eq!(body["user"]["mfa_enabled"], false);

        // Too short a password is refused and changes nothing.
        let (code, _, err) = app.cli(&[
            "user",
            "set-password",
            "--email",
            "boss@example.com",
            "--password",
            "short",
        ]);
        assert_ne!(code, 0);
        assert!(err.contains("12"), "{err}");
        assert_eq!(app.get(&s, "/api/v1/me").await.0, StatusCode::OK);

        // An unknown email is named.
        let (code, _, err) = app.cli(&["user", "disable", "--email", "nobody@example.com"]);
        assert_ne!(code, 0);
        assert!(err.contains("nobody@example.com"), "{err}");

        // Disable ends the sessions and refuses sign-in; enable lets them back.
        let (code, _, err) = app.cli(&["user", "disable", "--email", "boss@example.com"]);
        assert_eq!(code, 0, "{err}");
        until_status(&app, &s, "/api/v1/me", StatusCode::UNAUTHORIZED).await;
        assert_eq!(
            login(&app, "boss@example.com", "a brand new passphrase", None)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
        let (code, out, _) = app.cli(&["user", "list"]);
        assert_eq!(code, 0);
        assert!(out
            .lines()
            .any(|l| l.starts_with("boss@example.com") && l.contains("disabled")));
        let (code, _, err) = app.cli(&["user", "enable", "--email", "boss@example.com"]);
        assert_eq!(code, 0, "{err}");
        let (st, body) = login(&app, "boss@example.com", "a brand new passphrase", None).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let s = session(&body);

        // set-role: as a viewer they can no longer create; an unknown role is named.
        let (st, _) = app
            .post(
                &s,
                "/api/v1/accounts",
                json!({"name": "Before the demotion"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED);
        let (code, _, err) = app.cli(&[
            "user",
            "set-role",
            "--email",
            "boss@example.com",
            "--role",
            "viewer",
        ]);
        assert_eq!(code, 0, "{err}");
        let mut refused = false;
        for _ in 0..40 {
            let (st, _) = app
                .post(
                    &s,
                    "/api/v1/accounts",
                    json!({"name": "After the demotion"}),
                )
                .await;
            if st == StatusCode::FORBIDDEN {
                refused = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(refused, "a viewer cannot create accounts");
        let (_, me) = app.get(&s, "/api/v1/me").await;
        assert_eq!(me["user"]["roles"], json!(["viewer"]), "{me}");
        let (code, _, err) = app.cli(&[
            "user",
            "set-role",
            "--email",
            "boss@example.com",
            "--role",
            "emperor",
        ]);
        assert_ne!(code, 0);
        assert!(err.contains("emperor"), "{err}");

        // Everything above is in the audit trail, done by the system.
        let (st, body) = login(&app, "other@example.com", PASSWORD, None).await;
        assert_eq!(st, StatusCode::OK);
        let actions = audit_actions(&app, &session(&body), &id).await;
        for want in [
            "user.password_reset",
            "user.mfa_reset",
            "user.disabled",
            "user.enabled",
            "user.roles_changed",
        ] {
            assert!(actions.iter().any(|a| a == want), "{want} in {actions:?}");
        }
    }
);

story!(
    administrators_reset_password_and_mfa_through_the_api,
    |app| {
        app.user("admin@example.com", "administrator", None, None)
            .await;
        let rep_id = app.user("rep@example.com", "sales_rep", None, None).await;
        let manager_id = app
            .user("manager@example.com", "sales_manager", None, None)
            .await;
        let admin = app.login("admin@example.com").await;
        let rep = app.login("rep@example.com").await;
        enrol(&app, &rep, "rep@example.com").await;

        // Without the user right: 403, before the body is read, and nothing changes.
        let manager = app.login("manager@example.com").await;
        for (path, body) in [
            (
                format!("/api/v1/users/{rep_id}/password"),
                json!({"new_password": 5}),
            ),
            (format!("/api/v1/users/{rep_id}/mfa/reset"), json!({})),
        ] {
            let (st, err) = app.post(&manager, &path, body).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{path}: {err}");
        }
        let (st, _) = app
            .post(
                &rep,
                &format!("/api/v1/users/{manager_id}/password"),
                json!({"new_password": "taken over by the rep"}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        assert_eq!(app.get(&rep, "/api/v1/me").await.0, StatusCode::OK);
        assert_eq!(app.get(&manager, "/api/v1/me").await.0, StatusCode::OK);

        // Bad input is named and changes nothing; an unknown user is 404.
        let path = format!("/api/v1/users/{rep_id}/password");
        let (st, err) = app
            .post(&admin, &path, json!({"new_password": "short"}))
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["errors"][0]["field"], "new_password");
        let (st, err) = app
            .post(
                &admin,
                &path,
                json!({"new_password": "long enough now", "force": true}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err["errors"][0]["code"], "unknown_field");
        assert_eq!(app.get(&rep, "/api/v1/me").await.0, StatusCode::OK);
        let (st, _) = app
            .post(
                &admin,
                "/api/v1/users/not-a-user/password",
                json!({"new_password": "long enough now"}),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _) = app
            .post(&admin, "/api/v1/users/not-a-user/mfa/reset", json!({}))
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        // The reset: the rep's session ends at once on this server; the new password and no
        // second factor sign them in.
        let (st, err) = app
            .post(&admin, &path, json!({"new_password": "reset by the admin"}))
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{err}");
        assert_eq!(
            app.get(&rep, "/api/v1/me").await.0,
            StatusCode::UNAUTHORIZED
        );
        let (st, body) = login(&app, "rep@example.com", "reset by the admin", None).await;
        assert_eq!(body["code"], "mfa_required", "{st} {body}");
        let (st, err) = app
            .post(
                &admin,
                &format!("/api/v1/users/{rep_id}/mfa/reset"),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{err}");
        let (st, body) = login(&app, "rep@example.com", "reset by the admin", None).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let (_, user) = app.get(&admin, &format!("/api/v1/users/{rep_id}")).await;
        assert_eq!(user["mfa_enabled"], false);

        let actions = audit_actions(&app, &admin, &rep_id).await;
        assert!(
            actions.iter().any(|a| a == "user.password_reset"),
            "{actions:?}"
        );
        assert!(actions.iter().any(|a| a == "user.mfa_reset"), "{actions:?}");
    }
);
