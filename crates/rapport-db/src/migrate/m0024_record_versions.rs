//! Migration 24: a version on every record, raised by every change a user makes to it (an
//! update, a transfer, a merge, a claim, an approval). A write names the version it read and
//! changes nothing when the record moved on meanwhile; the API shows it as the ETag of a
//! single record and honours `If-Match`.

use super::{a, add_column, Step};
use sea_orm::sea_query::ColumnDef;

/// The tables of the record types (migrations 1, 10 and 11).
const RECORD_TABLES: [&str; 9] = [
    "accounts",
    "contacts",
    "leads",
    "opportunities",
    "products",
    "quotes",
    "contracts",
    "orders",
    "payments",
];

pub(super) fn steps() -> Vec<Step> {
    RECORD_TABLES
        .iter()
        .map(|table| {
            add_column(
                table,
                ColumnDef::new(a("version"))
                    .big_integer()
                    .not_null()
                    .default(1)
                    .to_owned(),
            )
        })
        .collect()
}
