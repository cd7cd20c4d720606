//! Migration 22: search tokens in generations (ADR 0026).
//!
//! - `search_tokens` gets a `generation` column at the front of its key. New tokens go into
//!   generation 0, which stays small; on SQLite the server moves it, and merges generations,
//!   into higher-numbered ones in key order, so those writes are appends (`records::
//!   generations`). On PostgreSQL every token stays in generation 0.
//! - `token_generations` lists the generations lookups read. Generation 0 is always listed;
//!   the tokens already stored become generation 1 (a large one: level 9) on SQLite. A merge's
//!   target keeps how many ranges of tokens it moves in (`ranges`) and how far it has got
//!   (`done_type`, `done_token`).
//! - `record_tokens` keeps each record's token list. Clearing a record's tokens reads it and
//!   deletes by key, so the by-record index on `search_tokens` goes: a merge would have had to
//!   rewrite it at random places for every token it moved.

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    vec![
        Step::Sql(
            "CREATE TABLE token_generations (
                generation bigint NOT NULL PRIMARY KEY,
                level integer NOT NULL,
                merging_into bigint,
                ranges integer,
                done_type varchar(32),
                done_token varchar(64)
            )",
        ),
        Step::Sql("INSERT INTO token_generations (generation, level) VALUES (0, -1)"),
        Step::SqliteSql(
            "CREATE TABLE record_tokens (
                record_id varchar(36) NOT NULL PRIMARY KEY,
                object_type varchar(32) NOT NULL,
                tokens text NOT NULL
            ) WITHOUT ROWID",
        ),
        Step::PgSql(
            "CREATE TABLE record_tokens (
                record_id varchar(36) NOT NULL PRIMARY KEY,
                object_type varchar(32) NOT NULL,
                tokens text NOT NULL
            )",
        ),
        Step::SqliteSql(
            "INSERT INTO record_tokens (record_id, object_type, tokens)
             SELECT record_id, min(object_type), group_concat(token, ' ')
             FROM search_tokens GROUP BY record_id ORDER BY record_id",
        ),
        Step::PgSql(
            "INSERT INTO record_tokens (record_id, object_type, tokens)
             SELECT record_id, min(object_type), string_agg(token, ' ' ORDER BY token)
             FROM search_tokens GROUP BY record_id",
        ),
        Step::SqliteSql(
            "CREATE TABLE search_tokens_gen (
                generation integer NOT NULL,
                object_type varchar(32) NOT NULL,
                record_id varchar(36) NOT NULL,
                token varchar(64) NOT NULL,
                PRIMARY KEY (generation, object_type, token, record_id)
            ) WITHOUT ROWID",
        ),
        Step::SqliteSql(
            "INSERT INTO search_tokens_gen (generation, object_type, token, record_id)
             SELECT 1, object_type, token, record_id FROM search_tokens ORDER BY 2, 3, 4",
        ),
        Step::SqliteSql(
            "INSERT INTO token_generations (generation, level)
             SELECT 1, 9 WHERE EXISTS (SELECT 1 FROM search_tokens_gen)",
        ),
        Step::SqliteSql("DROP TABLE search_tokens"),
        Step::SqliteSql("ALTER TABLE search_tokens_gen RENAME TO search_tokens"),
        Step::PgSql(
            "ALTER TABLE search_tokens ADD COLUMN IF NOT EXISTS generation bigint NOT NULL DEFAULT 0",
        ),
        Step::PgSql("DROP INDEX IF EXISTS search_tokens_record"),
    ]
}
