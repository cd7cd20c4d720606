//! The fields of contract records.

use crate::objects;
use crate::objects::common::*;
use rapport_core::fields::{FieldKind::*, FieldSpec};

/// Contracts (合同): the signed agreement, approved before it counts.
pub const FIELDS: &[FieldSpec] = &[
    NUMBER,
    FieldSpec::new("name", Text { max: 200 }, "Title", "合同名称").required(),
    ACCOUNT,
    OPPORTUNITY,
    FieldSpec::new("quote_id", RecordRef(objects::QUOTE), "Quote", "报价单"),
    FieldSpec::new("amount", Money, "Amount", "合同金额").required(),
    CURRENCY,
    FieldSpec::new("start_date", Date, "Starts", "开始日期"),
    FieldSpec::new("end_date", Date, "Ends", "结束日期"),
    FieldSpec::new("signed_date", Date, "Signed on", "签约日期"),
    FieldSpec::new(
        "customer_signatory",
        Text { max: 60 },
        "Customer signatory",
        "客户签约人",
    ),
    FieldSpec::new("our_signatory", UserRef, "Our signatory", "我方签约人"),
    FieldSpec::new("status", Picklist("contract_status"), "Status", "状态").system(),
    FieldSpec::new("submitted_at", DateTime, "Submitted", "提交审批时间").system(),
    FieldSpec::new("approved_at", DateTime, "Approved", "审批通过时间").system(),
    FieldSpec::new("received_amount", Money, "Received", "已回款").system(),
    FieldSpec::new("terms", LongText, "Terms", "条款"),
    OWNER,
    DEPARTMENT,
    TAGS,
    DESCRIPTION,
    LAST_ACTIVITY,
    NEXT_ACTIVITY,
];
