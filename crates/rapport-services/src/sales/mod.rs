//! The documents of a sale after the opportunity: products and price lists, quotes,
//! contracts with their approval flow and payment plans, orders, and payments received.
//!
//! Quotes, contracts, orders, payments and products are records of the record engine (lists,
//! forms, scopes, field rules, custom fields, audit); what is particular to them lives here:
//! the rules applied on every write (`rules`), yearly numbering (`numbering`), price lists,
//! the approval flow (`approvals`), receivables (`receivables`) and the conversions between
//! documents (`convert`).

pub mod approvals;
pub mod convert;
pub mod numbering;
pub mod price_lists;
pub mod receivables;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};

/// The instance's zone (Asia/Shanghai, as the forms read dates and times).
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    match FixedOffset::east_opt(8 * 3600) {
        Some(z) => t.with_timezone(&z).date_naive(),
        None => t.date_naive(),
    }
}

/// The start of `d` in the instance's zone, as UTC.
pub fn local_midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc() - Duration::hours(8))
        .unwrap_or_default()
}
