//! A stored value that does not decrypt (its key is missing from the key file, or the
//! ciphertext was damaged or moved to another row) never fails the page that shows it: the
//! record is shown with the field null and named under [`KEY`], the first failure of each
//! column is logged (naming the row and `rapport keys status`, which lists them all), and a
//! write that would overwrite the value without the user replacing it is refused.

use rapport_core::DomainError;
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// The key under which a shown record lists its unreadable fields (`custom` for the
/// sensitive custom fields, which are sealed together).
pub const KEY: &str = "unreadable";

/// The name for the sealed sensitive custom values in [`KEY`].
pub const CUSTOM: &str = "custom";

/// Log the failure once per table and column for this process.
pub(crate) fn note(table: &str, column: &str, id: &str, e: &DomainError) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let place = format!("{table}.{column}");
    let first = SEEN
        .get_or_init(Default::default)
        .lock()
        .map(|mut seen| seen.insert(place.clone()))
        .unwrap_or(false);
    if first {
        tracing::error!(
            place = %place,
            record = id,
            error = %e,
            "a stored value does not decrypt; it is shown as unreadable. \
             `rapport keys status` lists every such value"
        );
    }
}

/// Decrypt one stored value; `None` (and a note in the log) if it does not decrypt.
pub(crate) fn open(
    keys: &crate::crypto::Keyring,
    table: &str,
    column: &str,
    id: &str,
    stored: &str,
) -> Option<String> {
    match keys.decrypt(table, column, id, stored) {
        Ok(plain) => Some(plain),
        Err(e) => {
            note(table, column, id, &e);
            None
        }
    }
}
