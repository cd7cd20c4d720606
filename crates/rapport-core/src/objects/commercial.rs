//! Products and the documents of a sale: quotes, contracts, orders and payments received.

use super::{LAST_ACTIVITY, NEXT_ACTIVITY};
use crate::fields::{FieldKind::*, FieldSpec};
use crate::permission::Object;

const NUMBER: FieldSpec = FieldSpec::new("number", Text { max: 40 }, "Number", "编号").system();
const OWNER: FieldSpec = FieldSpec::new("owner_id", UserRef, "Owner", "负责人");
const DEPARTMENT: FieldSpec =
    FieldSpec::new("department_id", DepartmentRef, "Department", "所属部门").system();
const TAGS: FieldSpec = FieldSpec::new("tags", Tags, "Tags", "标签");
const DESCRIPTION: FieldSpec = FieldSpec::new("description", LongText, "Notes", "备注");
const CURRENCY: FieldSpec = FieldSpec::new("currency", Text { max: 3 }, "Currency", "币种");
const ACCOUNT: FieldSpec = FieldSpec::new("account_id", AccountRef, "Account", "客户").required();
const OPPORTUNITY: FieldSpec = FieldSpec::new(
    "opportunity_id",
    RecordRef(Object::Opportunity),
    "Opportunity",
    "商机",
);
const LINES: FieldSpec = FieldSpec::new("lines", LineItems, "Line items", "产品明细");
const GROSS: FieldSpec =
    FieldSpec::new("gross_amount", Money, "Amount before discount", "折前金额").system();
const DISCOUNT: FieldSpec =
    FieldSpec::new("discount_amount", Money, "Discount", "折扣金额").system();
const NET: FieldSpec = FieldSpec::new("net_amount", Money, "Net amount", "未税金额").system();
const TAX: FieldSpec = FieldSpec::new("tax_amount", Money, "Tax", "税额").system();
const TOTAL: FieldSpec = FieldSpec::new("total", Money, "Total", "价税合计").system();

/// Products (产品): what is sold, with a list price, unit and tax rate.
pub const PRODUCT_FIELDS: &[FieldSpec] = &[
    FieldSpec::new("code", Text { max: 64 }, "Code", "产品编码").required(),
    FieldSpec::new("name", Text { max: 200 }, "Name", "产品名称").required(),
    FieldSpec::new(
        "category",
        Picklist("product_category"),
        "Category",
        "产品类别",
    ),
    FieldSpec::new("unit", Text { max: 20 }, "Unit", "单位"),
    FieldSpec::new("price", Money, "List price", "标准价格"),
    CURRENCY,
    FieldSpec::new(
        "tax_rate",
        Integer { min: 0, max: 100 },
        "Tax rate (%)",
        "税率 (%)",
    ),
    FieldSpec::new("active", Bool, "On sale", "在售"),
    TAGS,
    FieldSpec::new("description", LongText, "Description", "描述"),
];

/// Quotes (报价单): priced lines for an opportunity, valid until a date.
pub const QUOTE_FIELDS: &[FieldSpec] = &[
    NUMBER,
    FieldSpec::new("name", Text { max: 200 }, "Subject", "报价主题").required(),
    ACCOUNT,
    OPPORTUNITY,
    FieldSpec::new(
        "contact_id",
        RecordRef(Object::Contact),
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

/// Contracts (合同): the signed agreement, approved before it counts.
pub const CONTRACT_FIELDS: &[FieldSpec] = &[
    NUMBER,
    FieldSpec::new("name", Text { max: 200 }, "Title", "合同名称").required(),
    ACCOUNT,
    OPPORTUNITY,
    FieldSpec::new("quote_id", RecordRef(Object::Quote), "Quote", "报价单"),
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

/// Orders (订单): what is delivered, from confirmation to completion.
pub const ORDER_FIELDS: &[FieldSpec] = &[
    NUMBER,
    FieldSpec::new("name", Text { max: 200 }, "Subject", "订单主题").required(),
    ACCOUNT,
    FieldSpec::new(
        "contract_id",
        RecordRef(Object::Contract),
        "Contract",
        "合同",
    ),
    FieldSpec::new("quote_id", RecordRef(Object::Quote), "Quote", "报价单"),
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

/// Payments received (回款) against a contract.
pub const PAYMENT_FIELDS: &[FieldSpec] = &[
    NUMBER,
    FieldSpec::new(
        "contract_id",
        RecordRef(Object::Contract),
        "Contract",
        "合同",
    )
    .required(),
    FieldSpec::new("account_id", AccountRef, "Account", "客户").system(),
    FieldSpec::new("amount", Money, "Amount", "回款金额").required(),
    FieldSpec::new("currency", Text { max: 3 }, "Currency", "币种").system(),
    FieldSpec::new("paid_on", Date, "Received on", "回款日期").required(),
    FieldSpec::new("method", Picklist("payment_method"), "Method", "回款方式"),
    FieldSpec::new(
        "instalment",
        Integer { min: 1, max: 120 },
        "Instalment",
        "期次",
    ),
    FieldSpec::new(
        "reference",
        Text { max: 100 },
        "Transaction reference",
        "交易流水号",
    ),
    OWNER,
    DEPARTMENT,
    DESCRIPTION,
];
