//! Migration 19: the name indexes quick search reads by prefix also hold the record's id.
//! A search for a prefix with a few hundred to a few thousand matches (李娜 among a million
//! contacts) read every match's row from the table only to learn its id and keep the newest
//! twenty; with `(name_norm, id)` the index alone answers it (ADR 0014). Each new index
//! replaces the one on the name alone, which it also serves.
//!
//! Likewise contacts are found through their accounts (a search for 北京 finds the people at
//! companies whose names start with it, the `has` filter on `accounts`) by
//! `contact_accounts(account_id, contact_id)` instead of a table read per link.

use super::Step;

/// (table, column) of every prefix-searched name column.
const SEARCHED: &[(&str, &str)] = &[
    ("accounts", "name_norm"),
    ("accounts", "short_norm"),
    ("contacts", "name_norm"),
    ("contacts", "family_norm"),
    ("leads", "name_norm"),
    ("leads", "family_norm"),
    ("leads", "company_norm"),
    ("opportunities", "name_norm"),
];

pub(super) fn steps() -> Vec<Step> {
    SEARCHED
        .iter()
        .flat_map(|(table, col)| {
            [
                Step::SqlText(format!(
                    "CREATE INDEX IF NOT EXISTS {table}_{col}_id ON {table} ({col}, id)"
                )),
                Step::SqlText(format!("DROP INDEX IF EXISTS {table}_{col}")),
            ]
        })
        .chain([
            Step::Sql(
                "CREATE INDEX IF NOT EXISTS contact_accounts_account_contact \
                 ON contact_accounts (account_id, contact_id)",
            ),
            Step::Sql("DROP INDEX IF EXISTS contact_accounts_account"),
        ])
        .collect()
}
