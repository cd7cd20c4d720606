//! Database access for SQLite and PostgreSQL through one code path, and the services that
//! own Rapport's business rules: every call takes the acting [`Principal`] explicitly, checks
//! its rights, applies its scope inside the SQL query, and writes the audit entry and outbox
//! event in the same transaction as the change.
//!
//! [`Principal`]: rapport_core::Principal

pub mod access;
pub mod activities;
pub mod audit;
pub mod auth_cache;
pub mod background;
pub mod backup;
pub mod crypto;
pub mod custom_fields;
pub mod demo;
pub mod departments;
pub mod encrypted_columns;
pub mod exports;
pub mod health;
pub mod imports;
pub mod interop;
pub mod jobs;
pub mod mail;
pub mod memo;
pub mod merge;
pub mod notifications;
pub mod objects;
pub mod outbox;
pub mod picklists;
pub mod pipelines;
pub mod pool;
pub mod price_lists;
pub mod privacy;
pub mod records;
pub mod roles;
pub mod sales;
pub mod seeds;
pub mod sessions;
pub mod settings;
pub mod targets;
pub mod timeline;
pub mod users;
pub mod views;
pub mod worker;

#[cfg(test)]
mod testing;

use chrono::{DateTime, SubsecRound, Utc};
use rapport_core::fields::ParseContext;
use rapport_core::{Clock, DomainError};
use std::sync::{Arc, RwLock};

pub use crypto::Keyring;
pub use rapport_db::Db;

/// Settings services consult.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Region used to read phone numbers written without a country code.
    pub phone_region: String,
    /// The address people reach Rapport at (links in emails), e.g. https://crm.example.com.
    pub public_url: Option<String>,
    /// Where the audit chain's signed anchors are kept (`None`: no anchors).
    pub audit_anchor_dir: Option<std::path::PathBuf>,
    /// Where backups are, for scheduled drills (`None`: no drills).
    pub backup: Option<backup::Settings>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            phone_region: "CN".into(),
            public_url: None,
            audit_anchor_dir: None,
            backup: None,
        }
    }
}

/// Everything a service needs: the database, the keys, the clock, settings.
#[derive(Debug, Clone)]
pub struct Store {
    pub db: Db,
    keys: Arc<RwLock<Keyring>>,
    pub clock: Arc<dyn Clock>,
    pub settings: StoreSettings,
    audit_queue: Arc<std::sync::OnceLock<audit::Writer>>,
    create_queue: Arc<std::sync::OnceLock<tokio::sync::mpsc::Sender<records::group::Job>>>,
    auth_cache: Arc<auth_cache::AuthCache>,
    org_cache: Arc<access::org::Cache>,
    background: Arc<background::Background>,
    backup_status: backup::continuous::SharedStatus,
    memos: Arc<Memos>,
    types: records::RecordTypes,
}

/// Settings kept between requests (see [`memo`]).
#[derive(Debug, Default)]
pub struct Memos {
    pub custom_fields: memo::Memo<rapport_core::Object, Vec<rapport_core::custom::CustomField>>,
    /// Documents of the `settings` table by key.
    pub settings: memo::Memo<String, Option<serde_json::Value>>,
}

impl Store {
    pub fn new(db: Db, keys: Keyring, clock: Arc<dyn Clock>, settings: StoreSettings) -> Store {
        objects::register();
        Store {
            db,
            keys: Arc::new(RwLock::new(keys)),
            clock,
            settings,
            audit_queue: Default::default(),
            create_queue: Default::default(),
            auth_cache: Default::default(),
            org_cache: Default::default(),
            background: Default::default(),
            backup_status: Default::default(),
            memos: Default::default(),
            types: objects::TYPES,
        }
    }

    /// The record types this store serves (the crate root registers `objects::TYPES`).
    pub fn types(&self) -> records::RecordTypes {
        self.types
    }

    /// Settings kept between requests.
    pub fn memos(&self) -> &Memos {
        &self.memos
    }

    /// The tasks that run beside the requests (see [`background`]).
    /// What the continuous backup reports, if this process runs one.
    pub fn backup_status(&self) -> backup::continuous::SharedStatus {
        self.backup_status.clone()
    }

    pub fn background(&self) -> &background::Background {
        &self.background
    }

    pub(crate) fn background_handle(&self) -> Arc<background::Background> {
        self.background.clone()
    }

    /// The organisation scopes were last resolved from (see [`access::org`]).
    pub(crate) fn org_cache(&self) -> &access::org::Cache {
        &self.org_cache
    }

    /// What authentication read for recent tokens (see [`auth_cache`]).
    pub fn auth_cache(&self) -> &auth_cache::AuthCache {
        &self.auth_cache
    }

    /// The current time, to the millisecond (what both backends store exactly).
    /// This store with its reads on the read replica when one is configured and has caught
    /// up (see [`Db::for_bulk_reads`]), for exports; writes still go to the primary.
    pub async fn for_bulk_reads(&self) -> Store {
        Store {
            db: self.db.for_bulk_reads().await,
            ..self.clone()
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(3)
    }

    pub fn keys(&self) -> Result<Keyring, DomainError> {
        self.keys
            .read()
            .map(|k| k.clone())
            .map_err(|_| DomainError::Internal("key ring lock poisoned".into()))
    }

    /// Swap in a new key ring (after `keys rotate`).
    pub fn set_keys(&self, keys: Keyring) -> Result<(), DomainError> {
        let mut guard = self
            .keys
            .write()
            .map_err(|_| DomainError::Internal("key ring lock poisoned".into()))?;
        *guard = keys;
        Ok(())
    }

    /// The queue of the group-commit audit writer, started on first use.
    pub(crate) fn audit_queue(&self) -> audit::Writer {
        self.audit_queue
            .get_or_init(|| audit::spawn_writer(self.clone()))
            .clone()
    }

    /// The queue of the group-commit create writer, started on first use.
    pub(crate) fn create_queue(&self) -> tokio::sync::mpsc::Sender<records::group::Job> {
        self.create_queue
            .get_or_init(|| records::group::spawn_writer(self.clone()))
            .clone()
    }

    pub fn parse_context(&self) -> ParseContext {
        ParseContext {
            phone_region: self.settings.phone_region.clone(),
        }
    }
}
