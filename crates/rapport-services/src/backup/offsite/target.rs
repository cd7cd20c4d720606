//! The off-site target: its kind (S3-compatible storage or SFTP), how it is checked, stored
//! (the secret encrypted with the field keys) and tested, and a client connected to it.

use super::{enqueue, s3, sftp, JOB};
use crate::access::Access;
use crate::{audit, Store};
use rapport_core::{DomainError, FieldError};
use rapport_db::{db_err, exec, get, one};
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::ConnectionTrait;
use serde_json::{json, Map, Value};
use std::path::Path;

/// The stored columns of a target (besides `id` and `updated_at`), in this order.
const COLUMNS: [&str; 9] = [
    "kind",
    "endpoint",
    "region",
    "bucket",
    "prefix",
    "access_key",
    "secret_enc",
    "path_style",
    "host_key",
];

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// What kind of storage a target is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    S3,
    Sftp,
}

impl Kind {
    pub fn key(self) -> &'static str {
        match self {
            Kind::S3 => "s3",
            Kind::Sftp => "sftp",
        }
    }
}

/// Where backups are copied off the machine. For SFTP, `endpoint` is
/// `sftp://user@host[:port]`, `prefix` the directory, `secret_key` the private key and
/// `host_key` the server's pinned public key.
#[derive(Clone)]
pub struct Target {
    pub kind: Kind,
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    /// Key prefix, empty or ending in `/`.
    pub prefix: String,
    pub access_key: String,
    pub secret_key: String,
    pub path_style: bool,
    pub host_key: String,
}

/// A connected store of either kind.
pub enum Client {
    S3(Box<s3::S3>),
    Sftp(Box<sftp::Sftp>),
}

impl Client {
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, DomainError> {
        match self {
            Client::S3(c) => c.list(prefix).await,
            Client::Sftp(c) => c.list().await,
        }
    }
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<u64, DomainError> {
        match self {
            Client::S3(c) => c.put_file(key, path).await,
            Client::Sftp(c) => c.put_file(key, path).await,
        }
    }
    pub async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), DomainError> {
        match self {
            Client::S3(c) => c.put_bytes(key, bytes).await,
            Client::Sftp(c) => c.put_bytes(key, bytes).await,
        }
    }
    pub async fn get_file(&self, key: &str, path: &Path) -> Result<u64, DomainError> {
        match self {
            Client::S3(c) => c.get_file(key, path).await,
            Client::Sftp(c) => c.get_file(key, path).await,
        }
    }
    pub async fn get_bytes(&self, key: &str) -> Result<Vec<u8>, DomainError> {
        match self {
            Client::S3(c) => c.get_bytes(key).await,
            Client::Sftp(c) => c.get_bytes(key).await,
        }
    }
    pub async fn delete(&self, key: &str) -> Result<(), DomainError> {
        match self {
            Client::S3(c) => c.delete(key).await,
            Client::Sftp(c) => c.delete(key).await,
        }
    }
}

/// `sftp://user@host[:port]` as (user, host, port).
fn sftp_address(endpoint: &str) -> Option<(String, String, u16)> {
    let u = url::Url::parse(endpoint).ok()?;
    if u.scheme() != "sftp" || u.username().is_empty() {
        return None;
    }
    let host = u.host_str()?.trim_start_matches('[').trim_end_matches(']');
    Some((
        u.username().to_string(),
        host.to_string(),
        u.port().unwrap_or(22),
    ))
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({})", self.describe())
    }
}

impl Target {
    pub async fn client(&self) -> Result<Client, DomainError> {
        match self.kind {
            Kind::S3 => Ok(Client::S3(Box::new(s3::S3::new(
                &self.endpoint,
                self.path_style,
                &self.bucket,
                &self.region,
                &self.access_key,
                &self.secret_key,
            )?))),
            Kind::Sftp => {
                let (user, host, port) = sftp_address(&self.endpoint).ok_or_else(|| {
                    DomainError::Upstream(format!("{} is not sftp://user@host", self.endpoint))
                })?;
                Ok(Client::Sftp(Box::new(
                    sftp::Sftp::connect(
                        &host,
                        port,
                        &user,
                        &self.secret_key,
                        &self.host_key,
                        &self.prefix,
                    )
                    .await?,
                )))
            }
        }
    }

    /// What keys start with at the store: the prefix on S3; nothing on SFTP, whose
    /// directory is the connection's.
    pub fn key_prefix(&self) -> &str {
        match self.kind {
            Kind::S3 => &self.prefix,
            Kind::Sftp => "",
        }
    }

    /// `s3://bucket/prefix (endpoint)` or `sftp://user@host:port/dir`, for pages and logs.
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::S3 => format!("s3://{}/{} ({})", self.bucket, self.prefix, self.endpoint),
            Kind::Sftp => format!(
                "{}/{}",
                self.endpoint.trim_end_matches('/'),
                self.prefix.trim_start_matches('/')
            ),
        }
    }

    fn public(&self) -> Value {
        json!({
            "kind": self.kind.key(),
            "endpoint": self.endpoint,
            "region": self.region,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "access_key": self.access_key,
            "secret_key_set": !self.secret_key.is_empty(),
            "path_style": self.path_style,
            "host_key": self.host_key,
        })
    }
}

/// The configured target, its secret decrypted.
pub async fn load<C: ConnectionTrait>(c: &C, store: &Store) -> Result<Option<Target>, DomainError> {
    let Some(r) = one(
        c,
        Query::select()
            .columns(COLUMNS.map(t))
            .from(t("backup_targets"))
            .and_where(Expr::col(t("id")).eq("default")),
    )
    .await?
    else {
        return Ok(None);
    };
    let secret_key = match get::<Option<String>>(&r, "secret_enc")? {
        Some(enc) => store
            .keys()?
            .decrypt("backup_targets", "secret_enc", "default", &enc)?,
        None => String::new(),
    };
    let kind: String = get(&r, "kind")?;
    Ok(Some(Target {
        kind: if kind == "sftp" { Kind::Sftp } else { Kind::S3 },
        host_key: get::<Option<String>>(&r, "host_key")?.unwrap_or_default(),
        endpoint: get(&r, "endpoint")?,
        region: get(&r, "region")?,
        bucket: get(&r, "bucket")?,
        prefix: get::<Option<String>>(&r, "prefix")?.unwrap_or_default(),
        access_key: get(&r, "access_key")?,
        secret_key,
        path_style: get(&r, "path_style")?,
    }))
}

pub fn may_change(actor: &Access) -> Result<(), DomainError> {
    crate::settings::may_change(actor, "the off-site backup target")
}

/// The target as the API shows it (the secret only as set or not); `null` when none.
pub async fn settings_for(store: &Store, actor: &Access) -> Result<Value, DomainError> {
    may_change(actor)?;
    Ok(load(store.db.reader(), store)
        .await?
        .map_or(Value::Null, |t| t.public()))
}

fn field_text<'a>(doc: &'a Map<String, Value>, k: &str) -> &'a str {
    doc.get(k).and_then(Value::as_str).unwrap_or("")
}

/// `host[:port]` with a host of letters, digits, dots and hyphens (as the API document's
/// pattern says; the address itself is resolved when the target is used).
fn host_and_port(s: &str) -> bool {
    let (host, port) = s.split_once(':').unwrap_or((s, "1"));
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        && (1..=5).contains(&port.len())
        && port.chars().all(|c| c.is_ascii_digit())
}

/// Checks a target document; a missing `secret_key` keeps `current`'s (of the same kind).
pub fn parse(doc: &Map<String, Value>, current: Option<&Target>) -> Result<Target, DomainError> {
    let allowed = [
        "kind",
        "endpoint",
        "region",
        "bucket",
        "prefix",
        "access_key",
        "secret_key",
        "path_style",
        "host_key",
    ];
    let mut errors = Vec::new();
    for k in doc.keys().filter(|k| !allowed.contains(&k.as_str())) {
        errors.push(FieldError::new(
            k.clone(),
            "unknown_field",
            format!("a backup target has no field named {k}"),
        ));
    }
    for k in allowed.iter().filter(|k| **k != "path_style") {
        if doc.get(*k).is_some_and(|v| !v.is_string() && !v.is_null()) {
            errors.push(FieldError::new(
                *k,
                "invalid_type",
                format!("{k} must be text"),
            ));
        }
    }
    if doc
        .get("path_style")
        .is_some_and(|v| !v.is_boolean() && !v.is_null())
    {
        errors.push(FieldError::new(
            "path_style",
            "invalid_type",
            "path_style must be true or false",
        ));
    }
    let kind = match doc.get("kind") {
        None | Some(Value::Null) => Kind::S3,
        Some(k) if k == "s3" => Kind::S3,
        Some(k) if k == "sftp" => Kind::Sftp,
        Some(_) => {
            errors.push(FieldError::new(
                "kind",
                "invalid_choice",
                "kind must be s3 (S3-compatible object storage) or sftp",
            ));
            Kind::S3
        }
    };
    let endpoint = field_text(doc, "endpoint")
        .trim_end_matches('/')
        .to_string();
    let is_s3 = |e: &str| {
        e.strip_prefix("https://")
            .or_else(|| e.strip_prefix("http://"))
            .is_some_and(host_and_port)
    };
    let is_sftp = |e: &str| {
        e.strip_prefix("sftp://")
            .and_then(|rest| rest.split_once('@'))
            .is_some_and(|(user, host)| {
                !user.is_empty()
                    && user
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                    && host_and_port(host)
            })
    };
    let (own, other) = match kind {
        Kind::S3 => (is_s3(&endpoint), is_sftp(&endpoint)),
        Kind::Sftp => (is_sftp(&endpoint), is_s3(&endpoint)),
    };
    if !own {
        errors.push(FieldError::new(
            "endpoint",
            match (kind, other) {
                (_, true) => "endpoint_kind_mismatch",
                (Kind::S3, false) => "invalid_url",
                (Kind::Sftp, false) => "invalid_sftp_url",
            },
            match kind {
                Kind::S3 => "endpoint must be an https:// (or http://) address such as https://s3.eu-west-1.amazonaws.com",
                Kind::Sftp => "endpoint must be an address such as sftp://backup@nas.example.com:22",
            },
        ));
    }
    // Each field present is checked whatever the kind; the kind says which are required.
    let present = |k: &str| doc.get(k).is_some_and(|v| !v.is_null());
    let bucket = field_text(doc, "bucket").to_string();
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && !bucket.starts_with(['-', '.'])
        && !bucket.ends_with(['-', '.']);
    // Which fields a target needs, and may have, depends on its kind.
    let s3_only = ["bucket", "region", "access_key", "path_style"];
    let not_here: &[&str] = match kind {
        Kind::S3 => &["host_key"],
        Kind::Sftp => &s3_only,
    };
    for k in not_here.iter().filter(|k| present(k)) {
        errors.push(FieldError::new(
            *k,
            "not_applicable",
            format!("{k} is not a field of {} targets", kind.key()),
        ));
    }
    let needed: &[&str] = match kind {
        Kind::S3 => &["bucket", "access_key"],
        Kind::Sftp => &["host_key"],
    };
    for k in needed.iter().filter(|k| !present(k)) {
        errors.push(FieldError::new(
            *k,
            "required_for_kind",
            format!("{} targets need {k}", kind.key()),
        ));
    }
    if present("bucket") && !bucket_ok {
        errors.push(FieldError::new(
            "bucket",
            "invalid_bucket",
            "bucket must be 3-63 lower-case letters, digits, dots and hyphens",
        ));
    }
    let region = match (kind, field_text(doc, "region")) {
        (Kind::S3, "") => "us-east-1".to_string(),
        (_, r) => r.to_string(),
    };
    if region.len() > 64
        || !region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        errors.push(FieldError::new(
            "region",
            "invalid_region",
            "region must be letters, digits and hyphens (us-east-1, cn-hangzhou)",
        ));
    }
    let raw_prefix = field_text(doc, "prefix");
    let mut prefix = match kind {
        Kind::S3 => raw_prefix.trim_matches('/').to_string(),
        Kind::Sftp => raw_prefix.trim_end_matches('/').to_string(),
    };
    if prefix.len() > 200
        || !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    {
        errors.push(FieldError::new(
            "prefix",
            "invalid_prefix",
            "prefix must be letters, digits, - _ . and / (folders), at most 200",
        ));
    }
    if kind == Kind::S3 && !prefix.is_empty() {
        prefix.push('/');
    }
    if kind == Kind::Sftp && prefix.is_empty() {
        prefix.push('.');
    }
    let access_key = field_text(doc, "access_key").to_string();
    let access_ok = !access_key.is_empty()
        && access_key.len() <= 128
        && access_key.chars().all(|c| c.is_ascii_graphic());
    if present("access_key") && !access_ok {
        errors.push(FieldError::new(
            "access_key",
            "invalid_access_key",
            "access_key must be 1-128 visible ASCII characters",
        ));
    }
    let secret_key = match doc.get("secret_key").and_then(Value::as_str) {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => current
            .filter(|c| c.kind == kind)
            .map(|c| c.secret_key.clone())
            .unwrap_or_default(),
    };
    let host_key = field_text(doc, "host_key").trim().to_string();
    if secret_key.is_empty() {
        errors.push(FieldError::new(
            "secret_key",
            "secret_required",
            match kind {
                Kind::S3 => "secret_key is required",
                Kind::Sftp => {
                    "secret_key is required: the private key (OpenSSH format, no passphrase)"
                }
            },
        ));
    }
    if kind == Kind::Sftp {
        let (host_ok, key_ok) = sftp::check_keys(&host_key, &secret_key);
        if host_ok.is_err() && present("host_key") {
            errors.push(FieldError::new(
                "host_key",
                "invalid_host_key",
                "host_key must be the server's public key, as ssh-keyscan prints it (ssh-ed25519 AAAA...)",
            ));
        }
        if let (Err(e), false) = (key_ok, secret_key.is_empty()) {
            errors.push(FieldError::new(
                "secret_key",
                "invalid_private_key",
                format!(
                    "secret_key must be a private key in OpenSSH format without a passphrase: {e}"
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    Ok(Target {
        kind,
        endpoint,
        region,
        bucket,
        prefix,
        access_key,
        secret_key,
        path_style: doc
            .get("path_style")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        host_key,
    })
}

/// Saves the target (`PUT /api/v1/settings/backup-target`), audited; the next mirroring is
/// queued at once.
pub async fn save(
    store: &Store,
    actor: &Access,
    doc: &Map<String, Value>,
) -> Result<Value, DomainError> {
    may_change(actor)?;
    let current = load(store.db.reader(), store).await?;
    let target = parse(doc, current.as_ref())?;
    let keys = store.keys()?;
    let secret_enc = keys.encrypt(
        "backup_targets",
        "secret_enc",
        "default",
        &target.secret_key,
    )?;
    let now = store.now();
    let cols = [
        ["id"].as_slice(),
        COLUMNS.as_slice(),
        ["updated_at"].as_slice(),
    ]
    .concat();
    let values: Vec<sea_orm::sea_query::SimpleExpr> = vec![
        "default".into(),
        target.kind.key().into(),
        target.endpoint.clone().into(),
        target.region.clone().into(),
        target.bucket.clone().into(),
        target.prefix.clone().into(),
        target.access_key.clone().into(),
        secret_enc.into(),
        target.path_style.into(),
        Some(target.host_key.clone())
            .filter(|h| !h.is_empty())
            .into(),
        now.into(),
    ];
    let tx = store.db.begin().await?;
    let mut q = Query::insert();
    q.into_table(t("backup_targets"))
        .columns(cols.iter().map(|c| t(c)))
        .values(values)
        .map_err(DomainError::internal)?
        .on_conflict(
            OnConflict::column(t("id"))
                .update_columns(cols[1..].iter().map(|c| t(c)))
                .to_owned(),
        );
    exec(&tx, &q).await?;
    let mut details = target.public();
    details["secret_key_changed"] = json!(doc.get("secret_key").is_some_and(|s| s != ""));
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("settings.backup_target_updated").details(details),
    )
    .await?;
    enqueue(
        &tx,
        store,
        now,
        format!("{JOB}@saved-{}", now.timestamp_millis()),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(target.public())
}

/// Removes the target (`DELETE /api/v1/settings/backup-target`); what was copied stays there.
pub async fn remove(store: &Store, actor: &Access) -> Result<(), DomainError> {
    may_change(actor)?;
    let tx = store.db.begin().await?;
    let n = exec(
        &tx,
        Query::delete()
            .from_table(t("backup_targets"))
            .and_where(Expr::col(t("id")).eq("default")),
    )
    .await?;
    if n == 0 {
        return Err(DomainError::NotFound);
    }
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("settings.backup_target_removed"),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

/// Writes, reads back and deletes a small object: whether the target works, with the
/// storage's own answer when it does not (`POST /api/v1/settings/backup-target/test`).
pub async fn test(store: &Store, actor: &Access) -> Result<Value, DomainError> {
    may_change(actor)?;
    let target = load(store.db.reader(), store)
        .await?
        .ok_or(DomainError::NotFound)?;
    let key = format!(
        "{}.rapport-test-{}",
        target.key_prefix(),
        uuid::Uuid::new_v4().simple()
    );
    let probe = b"rapport off-site backup test".to_vec();
    let result = async {
        let client = target.client().await?;
        client.put_bytes(&key, probe.clone()).await?;
        let back = client.get_bytes(&key).await?;
        client.delete(&key).await?;
        if back != probe {
            return Err(DomainError::Upstream(
                "the storage returned something else than was written".into(),
            ));
        }
        Ok(())
    }
    .await;
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("backup.target_tested").details(json!({
            "target": target.describe(),
            "error": result.as_ref().err().map(ToString::to_string),
        })),
    )
    .await?;
    result?;
    Ok(json!({ "ok": true, "target": target.describe() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_target_is_checked_field_by_field() {
        let ok = parse(
            &doc(json!({"endpoint": "https://oss-cn-hangzhou.aliyuncs.com/", "bucket": "crm-backups",
                "region": "cn-hangzhou", "prefix": "/rapport/prod/", "access_key": "AK", "secret_key": "SK"})),
            None,
        )
        .unwrap();
        assert_eq!(ok.prefix, "rapport/prod/");
        assert_eq!(ok.endpoint, "https://oss-cn-hangzhou.aliyuncs.com");
        assert!(ok.path_style);
        let Err(DomainError::Validation(errs)) = parse(
            &doc(
                json!({"endpoint": "ftp://x", "bucket": "A", "prefix": "a b", "access_key": "",
                "colour": "red"}),
            ),
            None,
        ) else {
            panic!("accepted");
        };
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "endpoint",
            "bucket",
            "prefix",
            "access_key",
            "secret_key",
            "colour",
        ] {
            assert!(fields.contains(&f), "{f} not named: {fields:?}");
        }
        // A missing secret keeps the stored one.
        let kept = parse(
            &doc(json!({"endpoint": "http://127.0.0.1:9000", "bucket": "b-1", "access_key": "AK"})),
            Some(&ok),
        )
        .unwrap();
        assert_eq!(kept.secret_key, "SK");
        assert_eq!(kept.region, "us-east-1");
        // SFTP: an address with a user, the host key and a private key that parse.
        let Err(DomainError::Validation(errs)) = parse(
            &doc(
                json!({"kind": "sftp", "endpoint": "sftp://nas.example.com", "prefix": "/srv/b",
                "secret_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n", "host_key": "ssh-ed25519 x"}),
            ),
            Some(&ok),
        ) else {
            panic!("accepted");
        };
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for f in ["endpoint", "secret_key", "host_key"] {
            assert!(fields.contains(&f), "{f} not named: {fields:?}");
        }
        assert!(!fields.contains(&"bucket"), "{fields:?}");
    }
}
