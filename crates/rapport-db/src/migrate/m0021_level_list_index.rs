//! Migration 21: the accounts list filtered by level and sorted by name (the grade of a
//! customer, A/B/C, is how sales teams cut their account list) reads the matching rows in
//! order from `(level, name, id, owner_id)` instead of walking the name index and reading
//! every account's row to test its level (ADR 0018). The owner is in the index so a rep's
//! list (owner in their scope) is also tested without reading the row.

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    vec![
        Step::SqliteSql(
            "CREATE INDEX IF NOT EXISTS accounts_level_name ON accounts (level, name, id, owner_id)",
        ),
        // PostgreSQL sorts NULLs last ascending by default; lists sort them first (migration 9).
        Step::PgSql(
            "CREATE INDEX IF NOT EXISTS accounts_level_name \
             ON accounts (level, name ASC NULLS FIRST, id ASC, owner_id)",
        ),
    ]
}
