//! Loading the encryption keys at start-up, and `rapport keys rotate | retire | status`.

use crate::config::Config;
use anyhow::{anyhow, bail, Context, Result};
use rapport_db::{build, get};
use rapport_services::crypto::{KeyFile, Keyring};
use rapport_services::Db;
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::ConnectionTrait;

/// Encrypted columns, per table.
pub const ENCRYPTED: &[(&str, &[&str])] = &[
    ("accounts", &["credit_code_enc", "address_enc", "phone_enc"]),
    (
        "contacts",
        &[
            "mobile_enc",
            "phones_enc",
            "email_enc",
            "emails_enc",
            "wechat_enc",
            "address_enc",
            "id_number_enc",
        ],
    ),
    (
        "users",
        &[
            "phone_enc",
            "totp_secret_enc",
            "totp_pending_enc",
            "calendar_feed_enc",
        ],
    ),
    ("smtp_servers", &["password_enc"]),
];

/// Whether the database already holds Rapport data (so a missing key is an error, not a
/// first start).
pub async fn database_initialised(db: &Db) -> bool {
    let stmt = build(
        db.backend(),
        Query::select()
            .expr(Expr::val(1))
            .from(Alias::new("schema_migrations"))
            .limit(1),
    );
    matches!(db.reader().query_all(stmt).await, Ok(rows) if !rows.is_empty())
}

/// The key ring: from RAPPORT_MASTER_KEY, else the key file. On a brand-new installation a
/// key file is generated; on an existing one a missing key is a clear start-up error.
pub async fn load(cfg: &Config, db: &Db) -> Result<Keyring> {
    if let Some(master) = &cfg.master_key {
        return Keyring::from_master(master).map_err(|e| anyhow!("{e}"));
    }
    if cfg.key_file.exists() {
        return KeyFile::load(&cfg.key_file)
            .and_then(|f| f.keyring())
            .map_err(|e| anyhow!("{e}"));
    }
    if database_initialised(db).await {
        bail!(
            "the encryption key file {} is missing, and the database already holds encrypted data. \
             Restore the key file (or set RAPPORT_KEY_FILE / RAPPORT_MASTER_KEY) and start again.",
            cfg.key_file.display()
        );
    }
    if let Some(parent) = cfg.key_file.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let file = KeyFile::generate();
    file.save(&cfg.key_file).map_err(|e| anyhow!("{e}"))?;
    eprintln!(
        "created a new encryption key file at {} — back it up: without it the data cannot be read",
        cfg.key_file.display()
    );
    file.keyring().map_err(|e| anyhow!("{e}"))
}

/// How many stored values use each key id.
pub async fn usage(db: &Db) -> Result<Vec<(String, i64)>> {
    let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
    for (table, cols) in ENCRYPTED {
        for col in *cols {
            let mut after = String::new();
            loop {
                let rows = db
                    .reader()
                    .query_all(build(
                        db.backend(),
                        Query::select()
                            .columns([Alias::new("id"), Alias::new(*col)])
                            .from(Alias::new(*table))
                            .and_where(Expr::col(Alias::new(*col)).is_not_null())
                            .and_where(Expr::col(Alias::new("id")).gt(after.clone()))
                            .order_by(Alias::new("id"), sea_orm::Order::Asc)
                            .limit(5000),
                    ))
                    .await?;
                if rows.is_empty() {
                    break;
                }
                for r in &rows {
                    let v: String = get(r, col).map_err(|e| anyhow!("{e}"))?;
                    after = get(r, "id").map_err(|e| anyhow!("{e}"))?;
                    let kid = Keyring::key_id_of(&v).unwrap_or("?").to_string();
                    *counts.entry(kid).or_default() += 1;
                }
            }
        }
    }
    Ok(counts.into_iter().collect())
}

/// Re-encrypt every value not under the active key, printing progress.
pub async fn reencrypt(db: &Db, ring: &Keyring) -> Result<u64> {
    let active = ring.active_key_id().to_string();
    let mut done = 0u64;
    for (table, cols) in ENCRYPTED {
        for col in *cols {
            let mut after = String::new();
            loop {
                let rows = db
                    .reader()
                    .query_all(build(
                        db.backend(),
                        Query::select()
                            .columns([Alias::new("id"), Alias::new(*col)])
                            .from(Alias::new(*table))
                            .and_where(Expr::col(Alias::new(*col)).is_not_null())
                            .and_where(Expr::col(Alias::new("id")).gt(after.clone()))
                            .order_by(Alias::new("id"), sea_orm::Order::Asc)
                            .limit(1000),
                    ))
                    .await?;
                if rows.is_empty() {
                    break;
                }
                let tx = db.begin().await.map_err(|e| anyhow!("{e}"))?;
                for r in &rows {
                    let id: String = get(r, "id").map_err(|e| anyhow!("{e}"))?;
                    let v: String = get(r, col).map_err(|e| anyhow!("{e}"))?;
                    after = id.clone();
                    if Keyring::key_id_of(&v) == Some(active.as_str()) {
                        continue;
                    }
                    let plain = ring
                        .decrypt(table, col, &id, &v)
                        .map_err(|e| anyhow!("{e}"))?;
                    let new = ring
                        .encrypt(table, col, &id, &plain)
                        .map_err(|e| anyhow!("{e}"))?;
                    // Only replace the value we read, so a concurrent edit is never overwritten.
                    tx.execute(build(
                        db.backend(),
                        Query::update()
                            .table(Alias::new(*table))
                            .value(Alias::new(*col), new)
                            .and_where(Expr::col(Alias::new("id")).eq(id))
                            .and_where(Expr::col(Alias::new(*col)).eq(v)),
                    ))
                    .await?;
                    done += 1;
                }
                tx.commit().await?;
                eprintln!("  {table}.{col}: re-encrypted {done} values so far");
            }
        }
    }
    Ok(done)
}
