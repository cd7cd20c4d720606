//! Session lifetimes with a clock the test controls: idle and absolute timeouts, and API token
//! expiry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, TimeZone, Utc};
use rapport_auth::service::{self, AuthSettings, LoginRequest};
use rapport_core::clock::ManualClock;
use rapport_core::DomainError;
use rapport_services::crypto::KeyFile;
use rapport_services::{Db, Store, StoreSettings};
use std::sync::Arc;

async fn store(clock: ManualClock) -> (Store, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("rapport-auth-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = Db::connect(&format!("sqlite://{}", dir.join("t.db").display()))
        .await
        .unwrap();
    rapport_services::seeds::migrate(&db, rapport_core::Clock::now(&rapport_core::SystemClock))
        .await
        .unwrap();
    let store = Store::new(
        db,
        KeyFile::generate().keyring().unwrap(),
        Arc::new(clock),
        StoreSettings::default(),
    );
    let spec = service::UserSpec {
        email: "tim@example.com".into(),
        password: "correct horse battery staple".into(),
        roles: vec!["sales_rep".into()],
        ..Default::default()
    };
    let system = rapport_services::access::Access::system(&store)
        .await
        .unwrap();
    service::create_user(&store, &system, spec).await.unwrap();

    (store, dir)
}

fn req() -> LoginRequest {
    LoginRequest {
        email: "tim@example.com".into(),
        password: "correct horse battery staple".into(),
        totp: None,
        ip: Some("127.0.0.1".into()),
        user_agent: None,
    }
}

#[tokio::test]
async fn idle_timeout_ends_a_session_and_activity_extends_it() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap());
    let (store, dir) = store(clock.clone()).await;
    let settings = AuthSettings {
        idle_timeout: Duration::minutes(30),
        absolute_timeout: Duration::hours(8),
    };
    let login = service::login(&store, &settings, req()).await.unwrap();
    // Active every 20 minutes for two hours: still signed in.
    for _ in 0..6 {
        clock.advance(Duration::minutes(20));
        service::authenticate(&store, &settings, &login.token, None, None)
            .await
            .unwrap();
    }
    // 31 idle minutes: gone.
    clock.advance(Duration::minutes(31));
    assert!(matches!(
        service::authenticate(&store, &settings, &login.token, None, None).await,
        Err(DomainError::Unauthenticated)
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn absolute_timeout_ends_even_an_active_session() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap());
    let (store, dir) = store(clock.clone()).await;
    let settings = AuthSettings {
        idle_timeout: Duration::minutes(30),
        absolute_timeout: Duration::hours(2),
    };
    let login = service::login(&store, &settings, req()).await.unwrap();
    for _ in 0..5 {
        clock.advance(Duration::minutes(20));
        service::authenticate(&store, &settings, &login.token, None, None)
            .await
            .unwrap();
    }
    clock.advance(Duration::minutes(21));
    assert!(matches!(
        service::authenticate(&store, &settings, &login.token, None, None).await,
        Err(DomainError::Unauthenticated)
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn api_tokens_expire_and_lockouts_end() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap());
    let (store, dir) = store(clock.clone()).await;
    let settings = AuthSettings::default();
    let login = service::login(&store, &settings, req()).await.unwrap();
    let who = service::authenticate(&store, &settings, &login.token, None, None)
        .await
        .unwrap()
        .principal;
    let (tok, _) = service::create_api_token(
        &store,
        &who,
        "nightly",
        true,
        Some(clock_now(&store) + Duration::days(1)),
    )
    .await
    .unwrap();
    service::authenticate(&store, &settings, &tok, None, None)
        .await
        .unwrap();
    clock.advance(Duration::days(1) + Duration::seconds(1));
    assert!(matches!(
        service::authenticate(&store, &settings, &tok, None, None).await,
        Err(DomainError::Unauthenticated)
    ));

    // Five failures lock the account for 15 minutes; afterwards the right password works.
    for _ in 0..5 {
        let mut r = req();
        r.password = "wrong password!!".into();
        assert!(service::login(&store, &settings, r).await.is_err());
    }
    assert!(matches!(
        service::login(&store, &settings, req()).await,
        Err(DomainError::RateLimited { .. })
    ));
    clock.advance(Duration::minutes(16));
    service::login(&store, &settings, req()).await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

fn clock_now(store: &Store) -> chrono::DateTime<Utc> {
    store.now()
}
