//! TOTP (RFC 6238): 6 digits, 30-second steps, SHA-1 (what authenticator apps support),
//! accepting one step either side. A code's step is remembered so it cannot be used twice.

use rand::RngCore;
use rapport_core::DomainError;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

pub const STEP_SECS: u64 = 30;

fn totp(secret_b32: &str, account: &str) -> Result<TOTP, DomainError> {
    let bytes = Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .map_err(|_| DomainError::Internal("stored TOTP secret is not valid base32".into()))?;
    let account = account.replace(':', "");
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECS,
        bytes,
        Some("Rapport".into()),
        account,
    )
    .map_err(|e| DomainError::Internal(format!("TOTP setup failed: {e}")))
}

/// A new random secret (160 bits), base32-encoded.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Secret::Raw(bytes.to_vec()).to_encoded().to_string()
}

/// The otpauth:// URL an authenticator app scans.
pub fn otpauth_url(secret_b32: &str, account: &str) -> Result<String, DomainError> {
    Ok(totp(secret_b32, account)?.get_url())
}

/// The otpauth URL as a QR code in SVG.
pub fn qr_svg(url: &str) -> Result<String, DomainError> {
    let code = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| DomainError::Internal(format!("QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// The step number a code is valid for at `unix_secs` (current step ±1), if any.
pub fn matching_step(
    secret_b32: &str,
    account: &str,
    code: &str,
    unix_secs: u64,
) -> Result<Option<i64>, DomainError> {
    let code = code.trim().replace(' ', "");
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Ok(None);
    }
    let t = totp(secret_b32, account)?;
    let current = unix_secs / STEP_SECS;
    let mut found = None;
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = t.generate(step * STEP_SECS);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            found = Some(step as i64);
        }
    }
    Ok(found)
}

/// The code for a given time (tests and the enrolment check).
pub fn code_at(secret_b32: &str, account: &str, unix_secs: u64) -> Result<String, DomainError> {
    Ok(totp(secret_b32, account)?.generate(unix_secs))
}

/// Ten single-use recovery codes, and their hashes for storage.
pub fn recovery_codes() -> (Vec<String>, Vec<String>) {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut codes = Vec::new();
    for _ in 0..10 {
        let mut bytes = [0u8; 10];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let s: String = bytes
            .iter()
            .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
            .collect();
        codes.push(format!("{}-{}", &s[..5], &s[5..]));
    }
    let hashes = codes.iter().map(|c| hash_recovery(c)).collect();
    (codes, hashes)
}

pub fn hash_recovery(code: &str) -> String {
    let norm: String = code
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    hex::encode(Sha256::digest(norm.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_style_window() {
        let secret = new_secret();
        let now = 1_800_000_000u64;
        let code = code_at(&secret, "a@b.cn", now).unwrap();
        assert_eq!(
            matching_step(&secret, "a@b.cn", &code, now).unwrap(),
            Some((now / 30) as i64)
        );
        // one step late is accepted, two are not
        assert!(matching_step(&secret, "a@b.cn", &code, now + 30)
            .unwrap()
            .is_some());
        assert!(matching_step(&secret, "a@b.cn", &code, now + 61)
            .unwrap()
            .is_none());
        assert!(matching_step(&secret, "a@b.cn", "abc", now)
            .unwrap()
            .is_none());
    }

    #[test]
    fn rfc6238_test_vector() {
        // RFC 6238 appendix B, SHA-1, T = 59 -> 94287082 (8 digits); the 6-digit form is 287082.
        let secret = Secret::Raw(b"12345678901234567890".to_vec())
            .to_encoded()
            .to_string();
        assert_eq!(code_at(&secret, "x", 59).unwrap(), "287082");
    }

    #[test]
    fn recovery_codes_hash_consistently() {
        let (codes, hashes) = recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(hash_recovery(&codes[0].to_uppercase()), hashes[0]);
    }
}
