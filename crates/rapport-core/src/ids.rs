//! Record identifiers: UUID v7 strings, time-ordered so they double as a stable cursor key.

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// True when `s` looks like an identifier Rapport issued (used to refuse garbage early).
pub fn is_valid_id(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}
