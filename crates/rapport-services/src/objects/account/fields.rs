//! The fields of account records.

use rapport_core::fields::{FieldKind::*, FieldSpec};

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new("name", Text { max: 200 }, "Name", "客户名称").required(),
    FieldSpec::new("short_name", Text { max: 60 }, "Short name", "简称"),
    FieldSpec::new(
        "credit_code",
        CreditCode,
        "Unified social credit code",
        "统一社会信用代码",
    )
    .sensitive(),
    FieldSpec::new("industry", Picklist("industry"), "Industry", "行业"),
    FieldSpec::new("size", Picklist("company_size"), "Size", "规模"),
    FieldSpec::new("level", Picklist("account_level"), "Level", "客户级别"),
    FieldSpec::new("source", Picklist("account_source"), "Source", "客户来源"),
    FieldSpec::new("province", Text { max: 40 }, "Province", "省份"),
    FieldSpec::new("city", Text { max: 40 }, "City", "城市"),
    FieldSpec::new("address", Text { max: 300 }, "Address", "地址").sensitive(),
    FieldSpec::new("website", Url, "Website", "网址"),
    FieldSpec::new("phone", Phone, "Phone", "电话").sensitive(),
    FieldSpec::new("tags", Tags, "Tags", "标签"),
    FieldSpec::new("owner_id", UserRef, "Owner", "负责人"),
    FieldSpec::new("department_id", DepartmentRef, "Department", "所属部门").system(),
    FieldSpec::new("parent_id", AccountRef, "Parent account", "上级客户"),
    FieldSpec::new("status", Picklist("account_status"), "Status", "状态"),
    FieldSpec::new("annual_revenue", Money, "Annual revenue", "年营业额"),
    FieldSpec::new("credit_limit", Money, "Credit limit", "信用额度"),
    FieldSpec::new("currency", Text { max: 3 }, "Currency", "币种"),
    FieldSpec::new(
        "last_activity_at",
        DateTime,
        "Last activity",
        "最近跟进时间",
    )
    .system(),
    FieldSpec::new(
        "next_activity_at",
        DateTime,
        "Next activity",
        "下次跟进时间",
    )
    .system(),
    FieldSpec::new(
        "protected",
        Bool,
        "Protected from the pool",
        "保护客户（不自动退回公海）",
    ),
    FieldSpec::new("claimed_at", DateTime, "Claimed", "领取时间").system(),
    FieldSpec::new(
        "pool_entered_at",
        DateTime,
        "In the pool since",
        "进入公海时间",
    )
    .system(),
];
