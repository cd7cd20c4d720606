//! The rules of contract records.

use super::super::documents::{changed, check_account_matches, conflict, money, Context};
use crate::records::hooks::Values;
use crate::records::Record;
use rapport_core::fields::FieldValue;
use rapport_core::DomainError;

/// Fields of a contract fixed once it is submitted for approval.
const CONTRACT_TERMS: &[&str] = &[
    "name",
    "account_id",
    "opportunity_id",
    "quote_id",
    "amount",
    "currency",
    "start_date",
    "end_date",
    "signed_date",
    "customer_signatory",
    "our_signatory",
    "terms",
];

pub(super) fn prepare_contract(
    ctx: &Context,
    before: Option<&Record>,
    after: &mut Values,
) -> Result<(), DomainError> {
    if before.is_none() {
        after.insert("status", FieldValue::Text("draft".into()));
        after.insert("received_amount", FieldValue::Money(0));
    }
    let status = before.and_then(|b| b.text("status")).unwrap_or("draft");
    if let Some(field) = changed(before, after, CONTRACT_TERMS) {
        if !matches!(status, "draft" | "rejected") {
            return Err(conflict(format!(
                "{field} cannot change while the contract is {status}"
            )));
        }
    }
    if money(after, "amount") <= 0 {
        return Err(DomainError::field(
            "amount",
            "invalid_amount",
            "a contract's amount must be more than zero",
        ));
    }
    if let (Some(FieldValue::Date(s)), Some(FieldValue::Date(e))) =
        (after.get("start_date"), after.get("end_date"))
    {
        if e < s {
            return Err(DomainError::field(
                "end_date",
                "invalid_range",
                "the contract ends before it starts",
            ));
        }
    }
    check_account_matches(ctx, after)
}
