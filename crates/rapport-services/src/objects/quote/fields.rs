//! The fields of quote records.

use crate::objects;
use crate::objects::common::*;
use rapport_core::fields::{FieldKind::*, FieldSpec};

/// Quotes (报价单): priced lines for an opportunity, valid until a date.
pub const FIELDS: &[FieldSpec] = &[
    NUMBER,
    FieldSpec::new("name", Text { max: 200 }, "Subject", "报价主题").required(),
    ACCOUNT,
    OPPORTUNITY,
    FieldSpec::new(
        "contact_id",
        RecordRef(objects::CONTACT),
        "Contact",
        "联系人",
    ),
    FieldSpec::new("status", Picklist("quote_status"), "Status", "状态"),
    FieldSpec::new("valid_until", Date, "Valid until", "有效期至"),
    FieldSpec::new("price_list_id", PriceListRef, "Price list", "价格表"),
    CURRENCY,
    LINES,
    GROSS,
    DISCOUNT,
    NET,
    TAX,
    TOTAL,
    FieldSpec::new("terms", LongText, "Terms", "条款"),
    FieldSpec::new("sent_at", DateTime, "Sent", "发送时间").system(),
    FieldSpec::new("decided_at", DateTime, "Accepted or rejected", "确认时间").system(),
    OWNER,
    DEPARTMENT,
    TAGS,
    DESCRIPTION,
    LAST_ACTIVITY,
    NEXT_ACTIVITY,
];
