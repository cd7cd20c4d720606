//! Migration 20: how far the read journal has been moved into the audit trail (ADR 0017).
//! Entries in the journal at or below `audit_head.journal_moved` are in `audit_log` already.

use super::{a, add_column, Step};
use sea_orm::sea_query::ColumnDef;

pub(super) fn steps() -> Vec<Step> {
    vec![add_column(
        "audit_head",
        ColumnDef::new(a("journal_moved"))
            .big_integer()
            .not_null()
            .default(0i64)
            .to_owned(),
    )]
}
