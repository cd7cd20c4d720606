//! The external contract: health checks, OpenAPI, security headers, TLS, the CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{App, Backend};
use reqwest::StatusCode;
use serde_json::{json, Value};

story!(health_checks_and_security_headers, |app| {
    let res = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(!h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("unsafe-inline"));
    assert!(h.contains_key("x-request-id"));
    let res = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["database"], "ok");
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    let res = app
        .http
        .get(format!("{}/api/v1/accounts", app.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    // A caller-supplied request id is echoed back for log correlation.
    let res = app
        .http
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-me-42");
});

story!(openapi_documents_every_route, |app| {
    let res = app
        .http
        .get(format!("{}/api/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    // Every reference resolves: a dangling one makes clients skip the body it describes.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 50, "{} references", refs.len());
    for r in refs {
        let pointer = r.strip_prefix('#').unwrap_or(&r);
        assert!(doc.pointer(pointer).is_some(), "unresolvable reference {r}");
    }
    let account = &doc["components"]["schemas"]["Account"]["properties"];
    for f in ["name", "credit_code", "owner_id"] {
        assert!(account.get(f).is_some(), "{f}");
    }
    let contact = &doc["components"]["schemas"]["Contact"]["properties"];
    for f in [
        "family_name",
        "given_name",
        "mobile",
        "email",
        "phones",
        "emails",
        "account_ids",
        "owner_id",
    ] {
        assert!(contact.get(f).is_some(), "{f}");
    }
    // Every documented operation exists: an unauthenticated call gets anything but no_route.
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    let id = "01a2027c-22ed-7012-bfd2-349135b6c66d";
    let mut n = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{id}", id)
            .replace("{key}", "viewer")
            .replace("{list}", "industry")
            .replace("{object}", "accounts");
        for method in ops.as_object().unwrap().keys() {
            if concrete.ends_with("/auth/logout") {
                continue;
            }
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = if matches!(method.as_str(), "get" | "delete") {
                None
            } else {
                Some(json!({"__probe": true}))
            };
            let (st, body) = app.call(&s, m, &concrete, body).await;
            assert_ne!(
                body["code"], "no_route",
                "{method} {path} is documented but not served"
            );
            assert_ne!(st, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(
                st != StatusCode::INTERNAL_SERVER_ERROR,
                "{method} {path}: {body}"
            );
            n += 1;
        }
    }
    assert!(n >= 40, "{n} operations");
});

story!(every_served_route_is_documented, |app| {
    // The other direction: every (method, path) the router serves is in the document. A
    // route over every record type ({object}) is documented per type, or answers 404 for the
    // types it does not apply to.
    let doc: Value = app
        .http
        .get(format!("{}/api/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let documented =
        |method: &str, path: &str| paths.get(path).is_some_and(|ops| ops.get(method).is_some());
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    let id = "01a2027c-22ed-7012-bfd2-349135b6c66d";
    let mut checked = 0;
    for (method, path) in rapport_web::api::SERVED {
        if !matches!(*method, "get" | "post" | "put" | "patch" | "delete")
            || !path.starts_with("/api/v1/")
        {
            continue;
        }
        if documented(method, path) {
            checked += 1;
            continue;
        }
        assert!(
            path.contains("{object}"),
            "{method} {path} is served but not documented"
        );
        for def in rapport_services::objects::ALL {
            let concrete = path.replace("{object}", def.plural());
            if documented(method, &concrete) {
                checked += 1;
                continue;
            }
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (!matches!(*method, "get" | "delete")).then(|| json!({}));
            let (st, res) = app.call(&s, m, &concrete.replace("{id}", id), body).await;
            assert_eq!(
                st,
                StatusCode::NOT_FOUND,
                "{method} {concrete} is served ({res}) but not documented"
            );
        }
    }
    assert!(checked >= 150, "{checked} routes checked");
});

#[tokio::test]
async fn cli_help_documents_commands() {
    let out = std::process::Command::new(common::bin())
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "migrate", "user", "audit", "keys"] {
        assert!(text.contains(cmd), "{cmd} missing from --help: {text}");
    }
    let out = std::process::Command::new(common::bin())
        .args(["user", "create", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--email",
        "--password",
        "--role",
        "--department",
        "--manager",
    ] {
        assert!(text.contains(opt), "{opt}");
    }
}

#[tokio::test]
async fn cli_user_create_reports_bad_input() {
    let app = App::start(Backend::Sqlite).await.unwrap();
    let (code, _, err) = app.cli(&[
        "user",
        "create",
        "--email",
        "a@example.com",
        "--password",
        "short",
        "--role",
        "sales_rep",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("password"), "{err}");
    let (code, _, err) = app.cli(&[
        "user",
        "create",
        "--email",
        "a@example.com",
        "--password",
        common::PASSWORD,
        "--role",
        "wizard",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("wizard"), "{err}");
    let (code, _, err) = app.cli(&[
        "user",
        "create",
        "--email",
        "a@example.com",
        "--password",
        common::PASSWORD,
        "--role",
        "sales_rep",
        "--manager",
        "nobody@example.com",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("nobody@example.com"), "{err}");
    app.user("boss@example.com", "sales_manager", Some("North"), None)
        .await;
    app.user(
        "a@example.com",
        "sales_rep",
        Some("North"),
        Some("boss@example.com"),
    )
    .await;
    let (code, _, err) = app.cli(&[
        "user",
        "create",
        "--email",
        "A@example.com",
        "--password",
        common::PASSWORD,
        "--role",
        "sales_rep",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");
    let s = app.login("boss@example.com").await;
    let (_, users) = app.get(&s, "/api/v1/users").await;
    let a = users["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "a@example.com")
        .unwrap();
    let boss = users["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "boss@example.com")
        .unwrap();
    assert_eq!(a["manager_id"], boss["id"]);
    assert_eq!(a["department_id"], boss["department_id"]);
}

#[tokio::test]
async fn serves_https_with_hsts_and_secure_cookies() {
    let dir = std::env::temp_dir().join(format!("rapport-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let st = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let app = App::start_with(
        Backend::Sqlite,
        &[
            ("RAPPORT_TLS_CERT", cert.to_str().unwrap()),
            ("RAPPORT_TLS_KEY", key.to_str().unwrap()),
        ],
    )
    .await
    .unwrap();
    assert!(app.base.starts_with("https://"), "{}", app.base);
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let res = client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .contains("max-age="));
    let res = client
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"email": "admin@example.com", "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("; Secure"));
    // So is the sign-in page's CSRF cookie, set before anyone signs in.
    let res = client
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    let pre: Vec<&str> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|c| c.starts_with("rapport_csrf="))
        .collect();
    assert_eq!(pre.len(), 1, "{:?}", res.headers());
    assert!(pre[0].contains("; Secure"), "{}", pre[0]);
    // Plain HTTP to the TLS port does not get an answer.
    let plain = app.base.replace("https://", "http://");
    let res = reqwest::Client::new()
        .get(format!("{plain}/healthz"))
        .send()
        .await;
    assert!(res.is_err() || !res.unwrap().status().is_success());
    let _ = std::fs::remove_dir_all(&dir);
}

story!(every_api_error_is_problem_json, |app| {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let s = app.login("admin@example.com").await;
    let send = |method: reqwest::Method, path: &str| {
        app.http
            .request(method, format!("{}{path}", app.base))
            .bearer_auth(&s.token)
            .send()
    };
    // A method the route does not take: 405 with Allow, as problem+json.
    let res = send(reqwest::Method::DELETE, "/api/v1/accounts")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(res.headers().contains_key("allow"));
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "method_not_allowed", "{body}");
    // A path that is not valid UTF-8.
    let res = send(reqwest::Method::GET, "/api/v1/accounts/%FF%FE")
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
});

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}
