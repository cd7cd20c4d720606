//! Migration 29: quick search finds names through the name index (ADR 0041), whose terms are
//! blind-index tokens like those of emails and phones. A database created by this version
//! (no records yet) is marked as having the index; one with records gets it built from the
//! records' values at the next start of a server (`records::name_index`).

use super::Step;

/// The tables whose records have names in the index.
const NAMED: &[&str] = &[
    "accounts",
    "contacts",
    "leads",
    "opportunities",
    "products",
    "quotes",
    "contracts",
    "orders",
];

pub(super) fn steps() -> Vec<Step> {
    let empty: Vec<String> = NAMED
        .iter()
        .map(|t| format!("NOT EXISTS (SELECT 1 FROM {t})"))
        .collect();
    vec![Step::SqlText(format!(
        "INSERT INTO settings (key, value) SELECT 'search.name_index', '1' WHERE {}",
        empty.join(" AND ")
    ))]
}
