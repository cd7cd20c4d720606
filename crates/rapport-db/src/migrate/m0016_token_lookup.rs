//! Migration 16: on PostgreSQL, search tokens are also indexed by the token alone. Batched
//! duplicate checks look up hundreds of tokens at once; while a large import is growing the
//! table faster than statistics are refreshed, the planner took the primary key's leading
//! `object_type` as selective and filtered every token of the type (seconds per batch).

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    vec![Step::PgSql(
        "CREATE INDEX IF NOT EXISTS search_tokens_token ON search_tokens (token)",
    )]
}
