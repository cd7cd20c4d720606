//! The fields of order records.

use crate::objects;
use crate::objects::common::*;
use rapport_core::fields::{FieldKind::*, FieldSpec};

/// Orders (订单): what is delivered, from confirmation to completion.
pub const FIELDS: &[FieldSpec] = &[
    NUMBER,
    FieldSpec::new("name", Text { max: 200 }, "Subject", "订单主题").required(),
    ACCOUNT,
    FieldSpec::new(
        "contract_id",
        RecordRef(objects::CONTRACT),
        "Contract",
        "合同",
    ),
    FieldSpec::new("quote_id", RecordRef(objects::QUOTE), "Quote", "报价单"),
    FieldSpec::new("order_date", Date, "Order date", "下单日期"),
    FieldSpec::new("status", Picklist("order_status"), "Status", "状态"),
    CURRENCY,
    LINES,
    GROSS,
    DISCOUNT,
    NET,
    TAX,
    TOTAL,
    FieldSpec::new("shipping_address", Text { max: 300 }, "Ship to", "收货地址"),
    FieldSpec::new(
        "cancel_reason",
        Text { max: 200 },
        "Cancelled because",
        "取消原因",
    ),
    FieldSpec::new("confirmed_at", DateTime, "Confirmed", "确认时间").system(),
    FieldSpec::new("shipped_at", DateTime, "Shipped", "发货时间").system(),
    FieldSpec::new("delivered_at", DateTime, "Delivered", "签收时间").system(),
    FieldSpec::new("completed_at", DateTime, "Completed", "完成时间").system(),
    FieldSpec::new("cancelled_at", DateTime, "Cancelled", "取消时间").system(),
    OWNER,
    DEPARTMENT,
    TAGS,
    DESCRIPTION,
];
