//! Migration 9: lists sort NULLs first ascending and last descending on both backends (what
//! SQLite does by itself). PostgreSQL's default index order is the opposite, so a sort by name
//! could not use `accounts(name, id)` and read the whole table (ADR 0005); these indexes match.

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    vec![Step::PgSql(
        "CREATE INDEX IF NOT EXISTS accounts_name_nulls_first ON accounts (name ASC NULLS FIRST, id ASC)",
    )]
}
