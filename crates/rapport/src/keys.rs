//! Loading the encryption keys at start-up, and `rapport keys rotate | retire | status`.

use crate::config::Config;
use crate::serve;
use anyhow::{anyhow, bail, Context, Result};
use rapport_db::build;
use rapport_services::crypto::{KeyFile, Keyring};
use rapport_services::encrypted_columns as stored;
use rapport_services::{Db, Store};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::ConnectionTrait;

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
    if cfg.master_key.is_some() || cfg.key_file.exists() {
        return existing(cfg);
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

/// The key ring from RAPPORT_MASTER_KEY, else the key file (an error when it is missing).
pub fn existing(cfg: &Config) -> Result<Keyring> {
    match &cfg.master_key {
        Some(m) => Keyring::from_master(m),
        None => KeyFile::load(&cfg.key_file).and_then(|f| f.keyring()),
    }
    .map_err(|e| anyhow!("{e}"))
}

/// The key file, with a backup key added (and saved) if it had none.
pub fn file_with_backup_key(cfg: &Config) -> Result<KeyFile> {
    let mut file = KeyFile::load(&cfg.key_file).map_err(|e| anyhow!("{e}"))?;
    if file.ensure_backup_key() {
        file.save(&cfg.key_file).map_err(|e| anyhow!("{e}"))?;
        eprintln!(
            "added a backup key to {}: keep a copy of the key file (rapport keys export) away from the backups",
            cfg.key_file.display()
        );
    }
    Ok(file)
}

/// `rapport keys status`: each key, how many stored values use it (per column too), the
/// values that do not decrypt, by row, and any encrypted column the registry lacks.
pub async fn status(cfg: &Config, store: &Store) -> Result<()> {
    let file = KeyFile::load(&cfg.key_file).map_err(|e| anyhow!("{e}"))?;
    let ring = file.keyring().map_err(|e| anyhow!("{e}"))?;
    let registry = stored::registry(store.types());
    let scan = stored::scan(&store.db, &ring, &registry)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    for k in &file.keys {
        let n = scan.by_key.get(&k.id).copied().unwrap_or(0);
        println!("{}\t{}\t{} values", k.id, k.status, n);
    }
    for (kid, n) in &scan.by_key {
        if !file.keys.iter().any(|k| &k.id == kid) {
            println!("{kid}\tmissing\t{n} values");
        }
    }
    if let Some(id) = &file.rotating {
        println!("a rotation to {id} has not finished: run `rapport keys rotate` to resume it");
    }
    for (place, by_key) in &scan.by_column {
        let parts: Vec<String> = by_key.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        println!("  {place}\t{}", parts.join(", "));
    }
    print_unreadable(&scan.unreadable);
    let missing = stored::unregistered(&store.db, &registry)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    if !missing.is_empty() {
        println!(
            "columns named as encrypted that this version does not know: {}",
            missing.join(", ")
        );
    }
    Ok(())
}

fn print_unreadable(rows: &[stored::Unreadable]) {
    if rows.is_empty() {
        return;
    }
    println!(
        "{} stored values do not decrypt with the loaded keys:",
        rows.len()
    );
    for u in rows.iter().take(200) {
        println!("  {}.{} row {}: {}", u.table, u.column, u.row, u.why);
    }
    if rows.len() > 200 {
        println!("  … and {} more", rows.len() - 200);
    }
}

/// Refuse to change keys while the schema has an encrypted column the registry lacks: its
/// values would be left behind.
async fn check_registry(store: &Store, registry: &[stored::Column]) -> Result<()> {
    let missing = stored::unregistered(&store.db, registry)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    if !missing.is_empty() {
        bail!(
            "the database has encrypted columns this version does not know ({}); \
             upgrade Rapport before changing keys",
            missing.join(", ")
        );
    }
    Ok(())
}

/// `rapport keys rotate`: a new active key (or the one an interrupted rotation left active)
/// and every stored value re-encrypted with it.
pub async fn rotate(cfg: &Config, store: &Store) -> Result<()> {
    let registry = stored::registry(store.types());
    check_registry(store, &registry).await?;
    let mut file = KeyFile::load(&cfg.key_file).map_err(|e| anyhow!("{e}"))?;
    let (id, new) = file.begin_rotation();
    let ring = file.keyring().map_err(|e| anyhow!("{e}"))?;
    if new {
        file.save(&cfg.key_file).map_err(|e| anyhow!("{e}"))?;
        println!(
            "new active key {id}; running servers pick it up within {} seconds",
            serve::KEY_RELOAD_SECS
        );
    } else {
        println!("resuming the unfinished rotation to {id}");
    }
    wait_for_reload(cfg).await;
    let out = stored::reencrypt(&store.db, &ring, &registry, |col, n| {
        if n > 0 {
            eprintln!("  {}.{}: re-encrypted {n} values", col.table, col.column);
        }
    })
    .await
    .map_err(|e| anyhow!("{e}"))?;
    if !out.unreadable.is_empty() {
        print_unreadable(&out.unreadable);
        bail!(
            "re-encrypted {} values with {id}, but {} do not decrypt and stay as they are; \
             restore the key they need (or clear them) and run `rapport keys rotate` again",
            out.values,
            out.unreadable.len()
        );
    }
    file.rotating = None;
    file.save(&cfg.key_file).map_err(|e| anyhow!("{e}"))?;
    println!(
        "re-encrypted {} values with {id}; retire old keys with `rapport keys retire KEY_ID`",
        out.values
    );
    Ok(())
}

/// `rapport keys rotate-index`: a new blind-index key, then every record's lookups (the
/// `_bidx` columns and the search tokens) rebuilt under it, with progress. Run again after an
/// interruption, it finishes the rebuild with the same key.
pub async fn rotate_index(cfg: &Config, store: &Store) -> Result<()> {
    let mut file = KeyFile::load(&cfg.key_file).map_err(|e| anyhow!("{e}"))?;
    let new = file.begin_index_rotation().map_err(|e| anyhow!("{e}"))?;
    let ring = file.keyring().map_err(|e| anyhow!("{e}"))?;
    if new {
        file.save(&cfg.key_file).map_err(|e| anyhow!("{e}"))?;
        println!(
            "new blind-index key; running servers pick it up within {} seconds. Until the \
             rebuild ends, exact-value search and duplicate checks may miss records not rebuilt yet",
            serve::KEY_RELOAD_SECS
        );
    } else {
        println!("resuming the unfinished rebuild of the lookups");
    }
    wait_for_reload(cfg).await;
    store.set_keys(ring).map_err(|e| anyhow!("{e}"))?;
    let mut total = 0u64;
    let mut unreadable = 0u64;
    for def in store.types().all() {
        let done = rapport_services::records::rekey::rebuild_lookups(store, def, |n| {
            if n > 0 && n % 10_000 == 0 {
                eprintln!("  {}: {n} records so far", def.plural());
            }
        })
        .await
        .map_err(|e| anyhow!("{e}"))?;
        eprintln!("  {}: rebuilt {} records", def.plural(), done.records);
        total += done.records;
        unreadable += done.unreadable;
    }
    file.rebuilding_index = false;
    file.save(&cfg.key_file).map_err(|e| anyhow!("{e}"))?;
    println!("rebuilt the lookups of {total} records with the new blind-index key");
    if unreadable > 0 {
        println!(
            "{unreadable} records have values that do not decrypt and keep their old lookups; \
             `rapport keys status` lists them"
        );
    }
    Ok(())
}

/// Running servers reload the key file every KEY_RELOAD_SECS: until they have, they may still
/// write with the old keys. Wait out what is left of twice that since the file changed.
async fn wait_for_reload(cfg: &Config) {
    let reload = std::time::Duration::from_secs(serve::KEY_RELOAD_SECS * 2);
    let since = std::fs::metadata(&cfg.key_file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .unwrap_or_default();
    if since < reload {
        tokio::time::sleep(reload - since).await;
    }
}

/// `rapport keys retire ID`: remove a decrypt-only key once no stored value uses it,
/// counted from the data itself.
pub async fn retire(cfg: &Config, store: &Store, key_id: &str) -> Result<()> {
    let registry = stored::registry(store.types());
    check_registry(store, &registry).await?;
    let mut file = KeyFile::load(&cfg.key_file).map_err(|e| anyhow!("{e}"))?;
    let Some(entry) = file.keys.iter().find(|k| k.id == key_id) else {
        bail!("there is no key {key_id}")
    };
    if entry.status == "active" {
        bail!("{key_id} is the active key; rotate first");
    }
    let ring = file.keyring().map_err(|e| anyhow!("{e}"))?;
    let scan = stored::scan(&store.db, &ring, &registry)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    if let Some(n) = scan.by_key.get(key_id).filter(|n| **n > 0) {
        let places: Vec<&str> = scan
            .by_column
            .iter()
            .filter(|(_, by_key)| by_key.contains_key(key_id))
            .map(|(place, _)| place.as_str())
            .collect();
        bail!(
            "{n} stored values still use {key_id} (in {}); run `rapport keys rotate` to finish \
             re-encryption",
            places.join(", ")
        );
    }
    file.keys.retain(|k| k.id != key_id);
    file.save(&cfg.key_file).map_err(|e| anyhow!("{e}"))?;
    println!("retired {key_id}");
    Ok(())
}

/// `rapport keys export --out FILE`: the key file sealed with a password from standard input.
pub fn export(cfg: &Config, out: &std::path::Path) -> Result<()> {
    if cfg.master_key.is_some() {
        bail!("RAPPORT_MASTER_KEY is set: keep that value safe instead; there is no key file to export");
    }
    let file = file_with_backup_key(cfg)?;
    if out.exists() {
        bail!("{} exists: choose another file", out.display());
    }
    let password = crate::users::read_password()?;
    let text = rapport_services::backup::keys_export::export(&file, &password)
        .map_err(|e| anyhow!("{e}"))?;
    std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "keys exported to {}: keep it, and its password, apart from the server and the backups",
        out.display()
    );
    Ok(())
}

/// `rapport keys import FILE`: installs an export as the key file.
pub fn import(cfg: &Config, path: &std::path::Path, force: bool) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let password = crate::users::read_password()?;
    let file = rapport_services::backup::keys_export::import(&text, &password)
        .map_err(|e| anyhow!("{e}"))?;
    if cfg.key_file.exists() && !force {
        let same = KeyFile::load(&cfg.key_file)
            .map(|k| serde_json::to_string(&k).ok() == serde_json::to_string(&file).ok())
            .unwrap_or(false);
        if same {
            println!("{} already holds these keys", cfg.key_file.display());
            return Ok(());
        }
        bail!(
            "{} exists and holds other keys: move it away first, or pass --force",
            cfg.key_file.display()
        );
    }
    if let Some(parent) = cfg.key_file.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    file.save(&cfg.key_file).map_err(|e| anyhow!("{e}"))?;
    println!("keys installed in {}", cfg.key_file.display());
    Ok(())
}
