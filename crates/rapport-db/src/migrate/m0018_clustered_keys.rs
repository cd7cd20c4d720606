//! Migration 18 (SQLite only), fewer B-trees written per new record (ADR 0012):
//! - `search_tokens` and `import_records` become `WITHOUT ROWID` tables clustered on their
//!   primary keys. As rowid tables each kept every entry twice, once in the table and once in
//!   the primary key's index, and an insert wrote both B-trees; now the key is the table.
//! - The indexes on the email and phone blind-index columns go: the search tokens hold the
//!   same values under their own key, and lookups go through them (`records::query`).
//!
//! PostgreSQL tables are heaps with separate indexes either way, so nothing changes there.

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    vec![
        Step::SqliteSql(
            "CREATE TABLE search_tokens_clustered (
                object_type varchar(32) NOT NULL,
                record_id varchar(36) NOT NULL,
                token varchar(64) NOT NULL,
                PRIMARY KEY (object_type, token, record_id)
            ) WITHOUT ROWID",
        ),
        Step::SqliteSql(
            "INSERT INTO search_tokens_clustered (object_type, token, record_id)
             SELECT object_type, token, record_id FROM search_tokens ORDER BY 1, 2, 3",
        ),
        Step::SqliteSql("DROP TABLE search_tokens"),
        Step::SqliteSql("ALTER TABLE search_tokens_clustered RENAME TO search_tokens"),
        Step::SqliteSql("CREATE INDEX search_tokens_record ON search_tokens (record_id)"),
        Step::SqliteSql(
            "CREATE TABLE import_records_clustered (
                import_id varchar(36) NOT NULL,
                record_id varchar(36) NOT NULL,
                action varchar(8) NOT NULL,
                PRIMARY KEY (import_id, record_id),
                FOREIGN KEY (import_id) REFERENCES imports (id) ON DELETE CASCADE
            ) WITHOUT ROWID",
        ),
        Step::SqliteSql(
            "INSERT INTO import_records_clustered (import_id, record_id, action)
             SELECT import_id, record_id, action FROM import_records ORDER BY 1, 2",
        ),
        Step::SqliteSql("DROP TABLE import_records"),
        Step::SqliteSql("ALTER TABLE import_records_clustered RENAME TO import_records"),
        Step::SqliteSql("CREATE INDEX import_records_record ON import_records (record_id)"),
        Step::SqliteSql("DROP INDEX IF EXISTS contacts_email"),
        Step::SqliteSql("DROP INDEX IF EXISTS contacts_mobile"),
        Step::SqliteSql("DROP INDEX IF EXISTS leads_email"),
        Step::SqliteSql("DROP INDEX IF EXISTS leads_mobile"),
        Step::SqliteSql("DROP INDEX IF EXISTS accounts_phone"),
    ]
}
