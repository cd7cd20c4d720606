//! Migration 17: blind index tokens are 16 hex digits (64 bits of the HMAC) instead of 64
//! (ADR 0011). A shorter token is the old one's prefix, so stored tokens are cut in SQL.
//! `search_tokens` is rebuilt in key order (cutting in place would rewrite its primary key
//! in random order, and two cut tokens of one record could meet); each indexed `_bidx`
//! column loses its index while it is cut and gets it back after.

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    let mut steps = vec![
        Step::Sql(
            "CREATE TABLE search_tokens_short (
                object_type varchar(32) NOT NULL,
                record_id varchar(36) NOT NULL,
                token varchar(64) NOT NULL,
                PRIMARY KEY (object_type, token, record_id)
            )",
        ),
        Step::Sql(
            "INSERT INTO search_tokens_short (object_type, token, record_id)
             SELECT DISTINCT object_type, substr(token, 1, 16), record_id FROM search_tokens
             ORDER BY 1, 2, 3",
        ),
        Step::Sql("DROP TABLE search_tokens"),
        Step::Sql("ALTER TABLE search_tokens_short RENAME TO search_tokens"),
        Step::Sql("CREATE INDEX search_tokens_record ON search_tokens (record_id)"),
        Step::PgSql("CREATE INDEX search_tokens_token ON search_tokens (token)"),
    ];
    for (index, table, column) in BIDX {
        steps.push(Step::SqlText(format!("DROP INDEX IF EXISTS {index}")));
        steps.push(Step::SqlText(format!(
            "UPDATE {table} SET {column} = substr({column}, 1, 16) WHERE length({column}) > 16"
        )));
        steps.push(Step::SqlText(format!(
            "CREATE INDEX {index} ON {table} ({column})"
        )));
    }
    steps
}

/// Every indexed blind index column: (index, table, column).
const BIDX: [(&str, &str, &str); 7] = [
    ("accounts_credit_code", "accounts", "credit_code_bidx"),
    ("accounts_phone", "accounts", "phone_bidx"),
    ("contacts_mobile", "contacts", "mobile_bidx"),
    ("contacts_email", "contacts", "email_bidx"),
    ("contacts_id_number", "contacts", "id_number_bidx"),
    ("leads_mobile", "leads", "mobile_bidx"),
    ("leads_email", "leads", "email_bidx"),
];
