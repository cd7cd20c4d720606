//! The rules of quote records.

use super::super::documents::{
    changed, check_account_matches, complete_lines, conflict, status_of, Context, PRICED_FIELDS,
};
use crate::records::hooks::Values;
use crate::records::Record;
use chrono::{DateTime, Utc};
use rapport_core::clock::local_date;
use rapport_core::fields::FieldValue;
use rapport_core::input::Input;
use rapport_core::DomainError;

pub(super) fn prepare_quote(
    ctx: &Context,
    before: Option<&Record>,
    after: &mut Values,
    input: &Input,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let old = before.and_then(|b| b.text("status")).unwrap_or("");
    if status_of(after).is_empty() {
        after.insert("status", FieldValue::Text("draft".into()));
    }
    let new = status_of(after).to_string();
    if before.is_some() && new != old {
        let allowed = matches!(
            (old, new.as_str()),
            ("draft", "sent")
                | ("sent", "accepted" | "rejected" | "draft")
                | ("rejected", "draft")
                | ("", _)
        );
        if !allowed {
            return Err(conflict(format!(
                "a quote cannot go from {old} to {new} (draft → sent → accepted or rejected; \
                 a sent or rejected quote can go back to draft)"
            )));
        }
    } else if before.is_none() && !matches!(new.as_str(), "draft" | "sent") {
        return Err(DomainError::field(
            "status",
            "invalid_status",
            "a new quote is a draft or sent",
        ));
    }
    if let Some(field) = changed(before, after, PRICED_FIELDS) {
        if old != "draft" && new != "draft" {
            return Err(conflict(format!(
                "{field} cannot change once the quote is {old}; set it back to draft first"
            )));
        }
    }
    check_account_matches(ctx, after)?;
    complete_lines(ctx, after, input, true)?;
    if new == "sent" && matches!(after.get("lines"), None | Some(FieldValue::Null)) {
        return Err(DomainError::field(
            "lines",
            "required",
            "a quote needs at least one line before it is sent",
        ));
    }
    if new != old || before.is_none() {
        match new.as_str() {
            "sent" => {
                after.insert("sent_at", FieldValue::DateTime(now));
                after.insert("decided_at", FieldValue::Null);
            }
            "accepted" | "rejected" => {
                if new == "accepted" {
                    if let Some(FieldValue::Date(until)) = after.get("valid_until") {
                        if *until < local_date(now) {
                            return Err(conflict(format!(
                                "the quote expired on {until}; revise it and send it again"
                            )));
                        }
                    }
                }
                after.insert("decided_at", FieldValue::DateTime(now));
            }
            _ => {
                after.insert("decided_at", FieldValue::Null);
            }
        }
    }
    Ok(())
}
