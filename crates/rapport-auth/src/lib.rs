//! Sign-in for Rapport: Argon2id passwords, server-side sessions and API tokens stored only as
//! hashes, TOTP (RFC 6238) with replay protection and recovery codes, and throttling of failed
//! attempts per account and per IP address (kept in the database, shared by all processes).

pub mod mfa;
pub mod password;
pub mod service;
pub mod throttle;
pub mod token;

pub use service::{AuthSettings, LoginRequest, LoginResult};
