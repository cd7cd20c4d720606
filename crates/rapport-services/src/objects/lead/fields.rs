//! The fields of lead records.

use crate::objects;
use crate::objects::common::{LAST_ACTIVITY, NEXT_ACTIVITY};
use rapport_core::fields::{FieldKind::*, FieldSpec};

/// Leads (线索): a prospect not yet qualified into an account, contact and opportunity.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new("company", Text { max: 200 }, "Company", "公司名称"),
    FieldSpec::new("family_name", Text { max: 60 }, "Family name", "姓")
        .required()
        .personal(),
    FieldSpec::new("given_name", Text { max: 60 }, "Given name", "名").personal(),
    FieldSpec::new("title", Text { max: 100 }, "Title", "职务"),
    FieldSpec::new("mobile", Phone, "Mobile", "手机").sensitive(),
    FieldSpec::new("email", Email, "Email", "邮箱").sensitive(),
    FieldSpec::new("wechat", Text { max: 64 }, "WeChat ID", "微信号").sensitive(),
    FieldSpec::new("industry", Picklist("industry"), "Industry", "行业"),
    FieldSpec::new("province", Text { max: 40 }, "Province", "省份"),
    FieldSpec::new("city", Text { max: 40 }, "City", "城市"),
    FieldSpec::new("source", Picklist("account_source"), "Source", "线索来源"),
    FieldSpec::new("campaign", Text { max: 200 }, "Campaign", "市场活动"),
    FieldSpec::new("status", Picklist("lead_status"), "Status", "线索状态"),
    FieldSpec::new(
        "disqualify_reason",
        Picklist("disqualify_reason"),
        "Disqualified because",
        "无效原因",
    ),
    FieldSpec::new("score", Integer { min: 0, max: 100 }, "Score", "线索评分"),
    FieldSpec::new("owner_id", UserRef, "Owner", "负责人"),
    FieldSpec::new("department_id", DepartmentRef, "Department", "所属部门").system(),
    FieldSpec::new("tags", Tags, "Tags", "标签"),
    FieldSpec::new("description", LongText, "Notes", "备注"),
    FieldSpec::new("converted_at", DateTime, "Converted", "转化时间").system(),
    FieldSpec::new(
        "converted_account_id",
        AccountRef,
        "Converted to account",
        "转化客户",
    )
    .system(),
    FieldSpec::new(
        "converted_contact_id",
        RecordRef(objects::CONTACT),
        "Converted to contact",
        "转化联系人",
    )
    .system(),
    FieldSpec::new(
        "converted_opportunity_id",
        RecordRef(objects::OPPORTUNITY),
        "Converted to opportunity",
        "转化商机",
    )
    .system(),
    LAST_ACTIVITY,
    NEXT_ACTIVITY,
];
