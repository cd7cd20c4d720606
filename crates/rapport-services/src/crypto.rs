//! Field encryption at the storage edge: AES-256-GCM with a key id, the associated data
//! binding table, column and record id (a ciphertext copied to another row or column fails
//! to decrypt), and a keyed blind index (HMAC-SHA256) for exact lookups on encrypted values.
//!
//! Keys live in a key file or the `RAPPORT_MASTER_KEY` variable, never in the database.

use aes_gcm::aead::{Aead, AeadInPlace, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rapport_core::DomainError;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::Path;

const PREFIX: &str = "v1";

#[derive(Clone)]
struct DataKey {
    id: String,
    cipher: Aes256Gcm,
    active: bool,
}

/// The loaded keys. Cheap to clone (ciphers are small).
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<DataKey>,
    index_key: [u8; 32],
    /// Keys the audit chain's hashes and anchors (HMAC), so that a rewrite of the trail in
    /// the database cannot be hashed again without the key file.
    audit_key: [u8; 32],
    /// Encrypts backups (ADR 0037); key files written before backups existed have none
    /// until a backup adds one ([`KeyFile::ensure_backup_key`]).
    backup_key: Option<[u8; 32]>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field(
                "keys",
                &self
                    .keys
                    .iter()
                    .map(|k| (&k.id, k.active))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct KeyFile {
    pub index_key: String,
    pub keys: Vec<KeyFileEntry>,
    /// The key a rotation made active and has not finished re-encrypting with: a rotation
    /// interrupted before the end resumes with it instead of adding another key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotating: Option<String>,
    /// The audit chain's key. Key files written before it existed have none: theirs is
    /// derived from `index_key` (the same on every server sharing the file, with no write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_key: Option<String>,
    /// A new blind-index key whose lookups are still being rebuilt: a rotation interrupted
    /// before the end resumes without changing the key again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rebuilding_index: bool,
    /// The key backups are encrypted with: not a field key, and never rotated with them (a
    /// backup must open with the key file of its day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_key: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct KeyFileEntry {
    pub id: String,
    pub key: String,
    /// "active" (encrypts and decrypts) or "decrypt_only".
    pub status: String,
}

fn decode_key(b64: &str, what: &str) -> Result<[u8; 32], DomainError> {
    let bytes = B64
        .decode(b64.trim())
        .map_err(|_| DomainError::Internal(format!("{what} is not valid base64")))?;
    bytes
        .try_into()
        .map_err(|_| DomainError::Internal(format!("{what} must be 32 bytes (256 bits)")))
}

fn random_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    k
}

/// HMAC-SHA256 with `key` over length-prefixed `parts` (also the backup key's MAC).
pub(crate) fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC accepts keys of any length; this branch cannot be reached.
        Err(_) => return [0u8; 32],
    };
    for p in parts {
        mac.update(&(p.len() as u64).to_be_bytes());
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

impl KeyFile {
    pub fn generate() -> KeyFile {
        KeyFile {
            index_key: B64.encode(random_key()),
            keys: vec![KeyFileEntry {
                id: "k1".into(),
                key: B64.encode(random_key()),
                status: "active".into(),
            }],
            rotating: None,
            audit_key: Some(B64.encode(random_key())),
            rebuilding_index: false,
            backup_key: Some(B64.encode(random_key())),
        }
    }

    /// Adds a backup key if the file has none; `true` when it did (the file must be saved).
    pub fn ensure_backup_key(&mut self) -> bool {
        if self.backup_key.is_some() {
            return false;
        }
        self.backup_key = Some(B64.encode(random_key()));
        true
    }

    /// Start a rotation of the blind-index key: a new `index_key` (the audit key, if it was
    /// derived from the old one, is written out first so it does not change), or the one an
    /// unfinished rotation set. `true` when the key is new.
    pub fn begin_index_rotation(&mut self) -> Result<bool, DomainError> {
        if self.rebuilding_index {
            return Ok(false);
        }
        if self.audit_key.is_none() {
            let old = decode_key(&self.index_key, "index_key")?;
            self.audit_key = Some(B64.encode(hmac(&old, &[b"rapport audit chain key"])));
        }
        self.index_key = B64.encode(random_key());
        self.rebuilding_index = true;
        Ok(true)
    }

    pub fn load(path: &Path) -> Result<KeyFile, DomainError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            DomainError::Internal(format!("cannot read the key file {}: {e}", path.display()))
        })?;
        serde_json::from_str(&text).map_err(|e| {
            DomainError::Internal(format!("the key file {} is not valid: {e}", path.display()))
        })
    }

    /// Write the file readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), DomainError> {
        let text = serde_json::to_string_pretty(self).map_err(DomainError::internal)?;
        let tmp = path.with_extension("tmp");
        {
            use std::io::Write;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp).map_err(|e| {
                DomainError::Internal(format!("cannot write the key file {}: {e}", tmp.display()))
            })?;
            f.write_all(text.as_bytes())
                .map_err(DomainError::internal)?;
            f.sync_all().map_err(DomainError::internal)?;
        }
        std::fs::rename(&tmp, path).map_err(DomainError::internal)
    }

    /// The key to re-encrypt with: the one an unfinished rotation made active, else a new
    /// active key (the previous ones become decrypt-only). `true` when it is a new key.
    pub fn begin_rotation(&mut self) -> (String, bool) {
        if let Some(id) = &self.rotating {
            if self
                .keys
                .iter()
                .any(|k| &k.id == id && k.status == "active")
            {
                return (id.clone(), false);
            }
        }
        let id = self.rotate();
        self.rotating = Some(id.clone());
        (id, true)
    }

    /// Add a new active key; the previous active keys become decrypt-only.
    pub fn rotate(&mut self) -> String {
        for k in &mut self.keys {
            k.status = "decrypt_only".into();
        }
        let n = self.keys.len() + 1;
        let mut id = format!("k{n}");
        while self.keys.iter().any(|k| k.id == id) {
            id.push('x');
        }
        self.keys.push(KeyFileEntry {
            id: id.clone(),
            key: B64.encode(random_key()),
            status: "active".into(),
        });
        id
    }

    pub fn keyring(&self) -> Result<Keyring, DomainError> {
        let mut keys = Vec::new();
        for entry in &self.keys {
            let raw = decode_key(&entry.key, &format!("key {}", entry.id))?;
            let cipher = Aes256Gcm::new_from_slice(&raw).map_err(DomainError::internal)?;
            keys.push(DataKey {
                id: entry.id.clone(),
                cipher,
                active: entry.status == "active",
            });
        }
        if keys.iter().filter(|k| k.active).count() != 1 {
            return Err(DomainError::Internal(
                "the key file must have exactly one active key".into(),
            ));
        }
        let index_key = decode_key(&self.index_key, "index_key")?;
        let audit_key = match &self.audit_key {
            Some(k) => decode_key(k, "audit_key")?,
            None => hmac(&index_key, &[b"rapport audit chain key"]),
        };
        let backup_key = match &self.backup_key {
            Some(k) => Some(decode_key(k, "backup_key")?),
            None => None,
        };
        Ok(Keyring {
            keys,
            index_key,
            audit_key,
            backup_key,
        })
    }
}

impl Keyring {
    /// A keyring from one master key (`RAPPORT_MASTER_KEY`, base64 of 32 bytes): the data key
    /// and the blind-index key are derived from it.
    pub fn from_master(b64: &str) -> Result<Keyring, DomainError> {
        let master = decode_key(b64, "RAPPORT_MASTER_KEY")?;
        let data = hmac(&master, &[b"rapport data key 1"]);
        let index_key = hmac(&master, &[b"rapport blind index key"]);
        let audit_key = hmac(&master, &[b"rapport audit chain key"]);
        let backup_key = Some(hmac(&master, &[b"rapport backup key"]));
        let cipher = Aes256Gcm::new_from_slice(&data).map_err(DomainError::internal)?;
        Ok(Keyring {
            keys: vec![DataKey {
                id: "m1".into(),
                cipher,
                active: true,
            }],
            index_key,
            audit_key,
            backup_key,
        })
    }

    /// The key backups are encrypted with, if the key file has one (`backup::BackupKey::of`).
    pub fn backup_key_bytes(&self) -> Option<[u8; 32]> {
        self.backup_key
    }

    pub fn active_key_id(&self) -> &str {
        self.keys
            .iter()
            .find(|k| k.active)
            .map(|k| k.id.as_str())
            .unwrap_or("")
    }

    pub fn key_ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    /// `table NUL column NUL record_id`: a ciphertext only opens in the cell it was written
    /// for. Built by hand: `format!` was 3% of a list request, which decrypts ~150 cells.
    fn aad(table: &str, column: &str, record_id: &str) -> Aad {
        let parts = [
            table.as_bytes(),
            b"\0",
            column.as_bytes(),
            b"\0",
            record_id.as_bytes(),
        ];
        let len = parts.iter().map(|p| p.len()).sum();
        let mut aad = if len <= AAD_INLINE {
            Aad::Inline([0; AAD_INLINE], len)
        } else {
            Aad::Heap(vec![0; len])
        };
        let buf = aad.bytes_mut();
        let mut at = 0;
        for p in parts {
            buf[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        aad
    }

    pub fn encrypt(
        &self,
        table: &str,
        column: &str,
        record_id: &str,
        plaintext: &str,
    ) -> Result<String, DomainError> {
        self.encrypt_bytes(table, column, record_id, plaintext.as_bytes())
    }

    /// Encrypt bytes (a file's chunk) as `encrypt` does text.
    pub fn encrypt_bytes(
        &self,
        table: &str,
        column: &str,
        record_id: &str,
        plaintext: &[u8],
    ) -> Result<String, DomainError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.active)
            .ok_or_else(|| DomainError::Internal("no active encryption key".into()))?;
        let aad = Self::aad(table, column, record_id);
        let blob = seal(&key.cipher, aad.bytes(), plaintext)?;
        Ok(format!("{PREFIX}.{}.{}", key.id, B64.encode(blob)))
    }

    /// The key id a stored ciphertext was written with.
    pub fn key_id_of(stored: &str) -> Option<&str> {
        let mut parts = stored.splitn(3, '.');
        match (parts.next(), parts.next()) {
            (Some(PREFIX), Some(id)) => Some(id),
            _ => None,
        }
    }

    pub fn decrypt(
        &self,
        table: &str,
        column: &str,
        record_id: &str,
        stored: &str,
    ) -> Result<String, DomainError> {
        String::from_utf8(self.decrypt_bytes(table, column, record_id, stored)?)
            .map_err(|_| DomainError::Internal("decrypted value is not UTF-8".into()))
    }

    /// Decrypt what `encrypt_bytes` wrote.
    pub fn decrypt_bytes(
        &self,
        table: &str,
        column: &str,
        record_id: &str,
        stored: &str,
    ) -> Result<Vec<u8>, DomainError> {
        let mut parts = stored.splitn(3, '.');
        let (Some(PREFIX), Some(kid), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(DomainError::Internal(format!(
                "{table}.{column} of {record_id} is not an encrypted value"
            )));
        };
        let key = self.keys.iter().find(|k| k.id == kid).ok_or_else(|| {
            DomainError::Internal(format!(
                "{table}.{column} of {record_id} uses key {kid}, which is not loaded"
            ))
        })?;
        let mut blob = B64
            .decode(b64)
            .map_err(|_| DomainError::Internal("corrupt ciphertext".into()))?;
        if blob.len() < 12 + 16 {
            return Err(DomainError::Internal("corrupt ciphertext".into()));
        }
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&blob[..12]);
        // Decrypted where it was decoded: the plaintext takes no allocation of its own.
        blob.drain(..12);
        let aad = Self::aad(table, column, record_id);
        key.cipher
            .decrypt_in_place(Nonce::from_slice(&nonce), aad.bytes(), &mut blob)
            .map_err(|_| {
                DomainError::Internal(format!(
                    "{table}.{column} of {record_id} failed to decrypt (wrong key or moved ciphertext)"
                ))
            })?;
        Ok(blob)
    }

    /// HMAC-SHA256 of `parts` under the audit key, as hex: the audit chain's entry hashes
    /// and its anchors' signatures.
    pub fn audit_mac(&self, parts: &[&[u8]]) -> String {
        hex::encode(hmac(&self.audit_key, parts))
    }

    /// Keyed blind index of a normalised value; `kind` separates namespaces (email, phone, ...).
    /// The first 64 bits of the HMAC, as `BLIND_HEX` hex digits (ADR 0011).
    pub fn blind(&self, kind: &str, normalised: &str) -> String {
        let mac = hmac(&self.index_key, &[kind.as_bytes(), normalised.as_bytes()]);
        hex::encode(&mac[..BLIND_HEX / 2])
    }
}

/// `plaintext` encrypted under `cipher` and bound to `aad`: the nonce, then the ciphertext.
/// The nonce comes fresh from the thread's CSPRNG (ChaCha, reseeded from the OS): one system
/// call per value was a tenth of an import's encryption.
fn seal(cipher: &Aes256Gcm, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, DomainError> {
    let mut nonce = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| DomainError::Internal("encryption failed".into()))?;
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&ct);
    Ok(blob)
}

/// A key of one person's own (crypto-shredding): what is sealed with it can no longer be
/// read once the key is deleted. Stored wrapped with the field keys (`subject_keys`).
pub struct SubjectKey(Aes256Gcm);

impl SubjectKey {
    /// A new random key, as the bytes to wrap and store.
    pub fn generate() -> [u8; 32] {
        random_key()
    }

    pub fn from_b64(b64: &str) -> Result<SubjectKey, DomainError> {
        let raw = decode_key(b64, "a subject key")?;
        Ok(SubjectKey(
            Aes256Gcm::new_from_slice(&raw).map_err(DomainError::internal)?,
        ))
    }

    pub fn encode(raw: &[u8; 32]) -> String {
        B64.encode(raw)
    }

    /// `plaintext` sealed and bound to `aad`, as base64 of the nonce and the ciphertext.
    pub fn seal(&self, aad: &str, plaintext: &[u8]) -> Result<String, DomainError> {
        Ok(B64.encode(seal(&self.0, aad.as_bytes(), plaintext)?))
    }

    /// What [`SubjectKey::seal`] sealed, if it opens with this key and `aad`.
    pub fn open(&self, aad: &str, sealed: &str) -> Option<Vec<u8>> {
        let blob = B64.decode(sealed).ok()?;
        if blob.len() < 12 + 16 {
            return None;
        }
        self.0
            .decrypt(
                Nonce::from_slice(&blob[..12]),
                Payload {
                    msg: &blob[12..],
                    aad: aad.as_bytes(),
                },
            )
            .ok()
    }
}

/// Length of a blind index token in hex digits. Tokens written before migration 17 were 64
/// digits long; `current_blind` cuts such a stored token to the length written now.
pub const BLIND_HEX: usize = 16;

/// A stored blind index token as it is written now (older, longer tokens are cut: the new
/// token is the old one's prefix).
pub fn current_blind(token: &str) -> &str {
    match token.get(..BLIND_HEX) {
        Some(prefix) if token.len() > BLIND_HEX && token.bytes().all(|b| b.is_ascii_hexdigit()) => {
            prefix
        }
        _ => token,
    }
}

/// Bytes of associated data kept inline: every built-in table, column and record id fit, so a
/// list page's decryptions (three per account) allocate nothing for it.
const AAD_INLINE: usize = 128;

/// The associated data that binds a ciphertext to its place ([`Keyring::aad`]).
enum Aad {
    Inline([u8; AAD_INLINE], usize),
    Heap(Vec<u8>),
}

impl Aad {
    fn bytes(&self) -> &[u8] {
        match self {
            Aad::Inline(b, len) => &b[..*len],
            Aad::Heap(v) => v,
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Aad::Inline(b, len) => &mut b[..*len],
            Aad::Heap(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        match KeyFile::generate().keyring() {
            Ok(k) => k,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn round_trip_and_binding() {
        let k = ring();
        let ct = k
            .encrypt("contacts", "mobile_enc", "id1", "+8613800138000")
            .unwrap_or_default();
        assert!(!ct.contains("138001"));
        assert_eq!(
            k.decrypt("contacts", "mobile_enc", "id1", &ct)
                .ok()
                .as_deref(),
            Some("+8613800138000")
        );
        // moved to another row or column: refused
        assert!(k.decrypt("contacts", "mobile_enc", "id2", &ct).is_err());
        assert!(k.decrypt("contacts", "email_enc", "id1", &ct).is_err());
        // A place longer than the inline associated data is bound the same way.
        let long = "r".repeat(AAD_INLINE);
        let ct = k.encrypt("files", "chunk", &long, "x").unwrap_or_default();
        assert_eq!(
            k.decrypt("files", "chunk", &long, &ct).ok().as_deref(),
            Some("x")
        );
        assert!(k.decrypt("files", "chunk", &long[1..], &ct).is_err());
        // The bytes are the place's, separated so that no two places share them.
        assert_eq!(Keyring::aad("ab", "c", "d").bytes(), b"ab\0c\0d");
        assert_ne!(
            Keyring::aad("a", "bc", "d").bytes(),
            Keyring::aad("ab", "c", "d").bytes()
        );
    }

    #[test]
    fn rotation_keeps_old_ciphertexts_readable() {
        let mut file = KeyFile::generate();
        let old = file.keyring().unwrap_or_else(|e| panic!("{e}"));
        let ct = old.encrypt("t", "c", "r", "secret").unwrap_or_default();
        let new_id = file.rotate();
        let new = file.keyring().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(new.active_key_id(), new_id);
        assert_eq!(
            new.decrypt("t", "c", "r", &ct).ok().as_deref(),
            Some("secret")
        );
        let ct2 = new.encrypt("t", "c", "r", "secret").unwrap_or_default();
        assert_eq!(Keyring::key_id_of(&ct2), Some(new_id.as_str()));
        // blind index is stable across rotation
        assert_eq!(old.blind("email", "a@b.cn"), new.blind("email", "a@b.cn"));
    }

    #[test]
    fn blind_tokens_are_short_and_old_ones_are_cut_to_match() {
        let k = ring();
        let tok = k.blind("email", "a@b.cn");
        assert_eq!(tok.len(), BLIND_HEX);
        assert_ne!(tok, k.blind("phone", "a@b.cn"));
        // A 64-digit token of migration 16's time begins with today's token.
        let old = format!("{tok}{}", "0".repeat(48));
        assert_eq!(current_blind(&old), tok);
        assert_eq!(current_blind(&tok), tok);
        assert_eq!(
            current_blind("not-a-token-but-long-text"),
            "not-a-token-but-long-text"
        );
    }
}
