//! The rules of order records.

use super::super::documents::{
    changed, check_account_matches, complete_lines, conflict, status_of, text, Context,
    PRICED_FIELDS,
};
use crate::records::hooks::Values;
use crate::records::Record;
use chrono::{DateTime, Utc};
use rapport_core::clock::local_date;
use rapport_core::fields::FieldValue;
use rapport_core::input::Input;
use rapport_core::DomainError;

/// Order statuses in their order; each may only move forward, or to cancelled before delivery.
const ORDER_FLOW: &[(&str, &str)] = &[
    ("confirmed", "confirmed_at"),
    ("shipped", "shipped_at"),
    ("delivered", "delivered_at"),
    ("completed", "completed_at"),
];

pub(super) fn prepare_order(
    ctx: &Context,
    before: Option<&Record>,
    after: &mut Values,
    input: &Input,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let old = before.and_then(|b| b.text("status")).unwrap_or("");
    if status_of(after).is_empty() {
        after.insert("status", FieldValue::Text("confirmed".into()));
    }
    if before.is_none() && after.get("order_date").is_none_or(FieldValue::is_null) {
        after.insert("order_date", FieldValue::Date(local_date(now)));
    }
    let new = status_of(after).to_string();
    let pos = |s: &str| ORDER_FLOW.iter().position(|(k, _)| *k == s);
    if before.is_none() && new != "confirmed" {
        return Err(DomainError::field(
            "status",
            "invalid_status",
            "a new order starts confirmed",
        ));
    }
    if new != old {
        if new == "cancelled" {
            if !matches!(old, "confirmed" | "shipped") {
                return Err(conflict(format!(
                    "an order that is {old} cannot be cancelled"
                )));
            }
            if text(after, "cancel_reason").is_none() {
                return Err(DomainError::field(
                    "cancel_reason",
                    "required",
                    "say why the order is cancelled",
                ));
            }
            after.insert("cancelled_at", FieldValue::DateTime(now));
        } else {
            let (Some(to), from) = (pos(&new), pos(old)) else {
                return Err(conflict(format!("an order cannot go from {old} to {new}")));
            };
            if before.is_some() && from.is_none_or(|f| to <= f) {
                return Err(conflict(format!(
                    "an order cannot go from {old} to {new} (confirmed → shipped → delivered → completed)"
                )));
            }
            // Every step passed now gets its date, if it had none.
            let start = from.map_or(0, |f| f + 1);
            for (_, field) in &ORDER_FLOW[start..=to] {
                if after.get(field).is_none_or(FieldValue::is_null) {
                    after.insert(field, FieldValue::DateTime(now));
                }
            }
        }
    }
    if let Some(field) = changed(before, after, PRICED_FIELDS) {
        if old != "confirmed" {
            return Err(conflict(format!(
                "{field} cannot change once the order is {old}"
            )));
        }
    }
    check_account_matches(ctx, after)?;
    complete_lines(ctx, after, input, false)
}
