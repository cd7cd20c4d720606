//! Stores for the crate's own tests: a migrated store on a new SQLite file, or on a new
//! PostgreSQL database under `RAPPORT_TEST_DATABASE_URL`'s server (dropped afterwards).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::access::Access;
use crate::{Db, Keyring, Store, StoreSettings};
use std::sync::Arc;

async fn store_at(url: &str) -> Store {
    let db = Db::connect(url).await.unwrap();
    crate::seeds::migrate(&db, rapport_core::Clock::now(&rapport_core::SystemClock))
        .await
        .unwrap();
    let keys = Keyring::from_master("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=").unwrap();
    Store::new(
        db,
        keys,
        Arc::new(rapport_core::clock::SystemClock),
        StoreSettings::default(),
    )
}

/// A migrated store on a new SQLite file named after `name`.
pub async fn sqlite(name: &str) -> Store {
    store_at(&format!(
        "sqlite://{}",
        rapport_db::temp_file(name).display()
    ))
    .await
}

/// A store on a new PostgreSQL database, while the test runs.
pub struct Postgres {
    pub store: Store,
    admin: String,
    name: String,
}

/// A migrated store on a new PostgreSQL database; `None` (and a note) when
/// `RAPPORT_TEST_DATABASE_URL` is not set.
pub async fn postgres(name: &str) -> Option<Postgres> {
    let Some(admin) = std::env::var("RAPPORT_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!("RAPPORT_TEST_DATABASE_URL not set: PostgreSQL run skipped");
        return None;
    };
    let name = format!(
        "rapport_{name}_{}",
        rapport_core::ids::new_id().replace('-', "").to_lowercase()
    );
    let db = Db::connect(&admin).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(db.writer(), &format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    Some(Postgres {
        store: store_at(&url).await,
        admin,
        name,
    })
}

impl Postgres {
    /// Close the store and drop its database.
    pub async fn drop(self) {
        self.store.db.clone().close().await;
        let db = Db::connect(&self.admin).await.unwrap();
        let _ = sea_orm::ConnectionTrait::execute_unprepared(
            db.writer(),
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        )
        .await;
    }
}

/// A new administrator's rights, for work done as a signed-in user.
pub async fn admin(store: &Store, email: &str) -> Access {
    let user = crate::users::create(
        store,
        &Access::system(store).await.unwrap(),
        crate::users::NewUser {
            email: email.into(),
            name: email.into(),
            password_hash: "-".into(),
            role_keys: vec!["administrator".into()],
            department_id: None,
            manager_id: None,
            language: "en".into(),
            time_zone: "Asia/Shanghai".into(),
            phone: None,
        },
    )
    .await
    .unwrap();
    Access::resolve(
        store,
        rapport_core::Principal {
            user_id: user.id,
            email: user.email,
            ..rapport_core::Principal::system()
        },
    )
    .await
    .unwrap()
}
