//! The key file (field keys, blind-index key, audit key, backup key) sealed with a password,
//! to keep with the backups: a backup restores only with the keys of its day
//! (`rapport keys export` / `rapport keys import`).
//!
//! The password is stretched with Argon2id (64 MiB, 3 passes) into an AES-256-GCM key; the
//! file is JSON with the parameters, the salt, the nonce and the ciphertext.

use crate::crypto::KeyFile;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use rapport_core::DomainError;
use serde::{Deserialize, Serialize};

const FORMAT: &str = "rapport-keys";
/// Shortest password accepted for an export.
pub const MIN_PASSWORD: usize = 12;

#[derive(Serialize, Deserialize)]
struct Sealed {
    format: String,
    version: u32,
    kdf: String,
    memory_kib: u32,
    passes: u32,
    salt: String,
    nonce: String,
    ciphertext: String,
}

fn derive(
    password: &str,
    salt: &[u8],
    memory_kib: u32,
    passes: u32,
) -> Result<[u8; 32], DomainError> {
    let params = argon2::Params::new(memory_kib, passes, 1, Some(32))
        .map_err(|e| DomainError::Internal(format!("key export parameters: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32];
    argon
        .hash_password_into(password.as_bytes(), salt, &mut out)
        .map_err(|e| DomainError::Internal(format!("key export: {e}")))?;
    Ok(out)
}

/// The key file sealed with `password`.
pub fn export(file: &KeyFile, password: &str) -> Result<String, DomainError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(DomainError::Internal(format!(
            "the export password must have at least {MIN_PASSWORD} characters"
        )));
    }
    let plain = serde_json::to_vec(file).map_err(DomainError::internal)?;
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let (memory_kib, passes) = (64 * 1024, 3);
    let key = derive(password, &salt, memory_kib, passes)?;
    let cipher = Aes256Gcm::new_from_slice(&key).map_err(DomainError::internal)?;
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: FORMAT.as_bytes(),
            },
        )
        .map_err(|_| DomainError::Internal("key export: encryption failed".into()))?;
    let sealed = Sealed {
        format: FORMAT.into(),
        version: 1,
        kdf: "argon2id".into(),
        memory_kib,
        passes,
        salt: B64.encode(salt),
        nonce: B64.encode(nonce),
        ciphertext: B64.encode(ciphertext),
    };
    serde_json::to_string_pretty(&sealed).map_err(DomainError::internal)
}

/// The key file inside an export, if `password` opens it.
pub fn import(text: &str, password: &str) -> Result<KeyFile, DomainError> {
    let bad = || DomainError::Internal("this is not a Rapport key export".into());
    let sealed: Sealed = serde_json::from_str(text).map_err(|_| bad())?;
    if sealed.format != FORMAT || sealed.version != 1 || sealed.kdf != "argon2id" {
        return Err(bad());
    }
    // Parameters beyond what export writes would only let a forged file exhaust memory.
    if sealed.memory_kib > 1024 * 1024 || sealed.passes > 16 {
        return Err(bad());
    }
    let salt = B64.decode(&sealed.salt).map_err(|_| bad())?;
    let nonce = B64.decode(&sealed.nonce).map_err(|_| bad())?;
    let ciphertext = B64.decode(&sealed.ciphertext).map_err(|_| bad())?;
    if nonce.len() != 12 {
        return Err(bad());
    }
    let key = derive(password, &salt, sealed.memory_kib, sealed.passes)?;
    let cipher = Aes256Gcm::new_from_slice(&key).map_err(DomainError::internal)?;
    let plain = cipher
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ciphertext,
                aad: FORMAT.as_bytes(),
            },
        )
        .map_err(|_| {
            DomainError::Internal(
                "the password does not open this key export (or the file was changed)".into(),
            )
        })?;
    let file: KeyFile = serde_json::from_slice(&plain).map_err(|_| bad())?;
    file.keyring()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_opens_only_with_its_password() {
        let file = KeyFile::generate();
        assert!(export(&file, "short").is_err());
        let text = export(&file, "correct horse battery").unwrap();
        assert!(!text.contains(file.keys[0].key.as_str()));
        let back = import(&text, "correct horse battery").unwrap();
        assert_eq!(back.keys[0].key, file.keys[0].key);
        assert_eq!(back.backup_key, file.backup_key);
        let e = import(&text, "correct horse battery!").unwrap_err();
        assert!(e.to_string().contains("password"), "{e}");
        let tampered = text.replacen("\"passes\": 3", "\"passes\": 2", 1);
        assert!(import(&tampered, "correct horse battery").is_err());
    }
}
