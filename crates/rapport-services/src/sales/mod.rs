//! The documents of a sale after the opportunity: products and price lists, quotes,
//! contracts with their approval flow and payment plans, orders, and payments received.
//!
//! Quotes, contracts, orders, payments and products are records of the record engine (lists,
//! forms, scopes, field rules, custom fields, audit); what is particular to them lives here:
//! the approval flow (`approvals`), receivables (`receivables`) and the conversions between
//! documents (`convert`).

pub mod approvals;
pub mod convert;
pub mod receivables;

pub use rapport_core::clock::{local_date, local_midnight};
