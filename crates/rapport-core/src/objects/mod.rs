//! The built-in record types and their fields.

use crate::fields::{FieldKind::*, FieldSpec};
use crate::permission::Object;

mod commercial;
pub use commercial::{CONTRACT_FIELDS, ORDER_FIELDS, PAYMENT_FIELDS, PRODUCT_FIELDS, QUOTE_FIELDS};

pub const ACCOUNT_FIELDS: &[FieldSpec] = &[
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

pub const CONTACT_FIELDS: &[FieldSpec] = &[
    FieldSpec::new("family_name", Text { max: 60 }, "Family name", "姓")
        .required()
        .personal(),
    FieldSpec::new("given_name", Text { max: 60 }, "Given name", "名").personal(),
    FieldSpec::new("title", Text { max: 100 }, "Title", "职务"),
    FieldSpec::new("department", Text { max: 100 }, "Department", "部门"),
    FieldSpec::new("accounts", AccountLinks, "Accounts", "所属客户"),
    FieldSpec::new("mobile", Phone, "Mobile", "手机").sensitive(),
    FieldSpec::new("phones", PhoneList, "Other phones", "其他电话").sensitive(),
    FieldSpec::new("email", Email, "Email", "邮箱").sensitive(),
    FieldSpec::new("emails", EmailList, "Other emails", "其他邮箱").sensitive(),
    FieldSpec::new("wechat", Text { max: 64 }, "WeChat ID", "微信号").sensitive(),
    FieldSpec::new("birthday", Date, "Birthday", "生日").personal(),
    FieldSpec::new("id_number", IdNumber, "ID number", "身份证号").sensitive(),
    FieldSpec::new("address", Text { max: 300 }, "Address", "地址").sensitive(),
    FieldSpec::new("owner_id", UserRef, "Owner", "负责人"),
    FieldSpec::new(
        "department_id",
        DepartmentRef,
        "Owner's department",
        "所属部门",
    )
    .system(),
    FieldSpec::new("tags", Tags, "Tags", "标签"),
    FieldSpec::new("preferences", JsonObject, "Preferences", "偏好").personal(),
    FieldSpec::new(
        "consent_email",
        Consent,
        "Email marketing consent",
        "邮件营销许可",
    ),
    FieldSpec::new(
        "consent_sms",
        Consent,
        "SMS marketing consent",
        "短信营销许可",
    ),
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
];

pub(crate) const LAST_ACTIVITY: FieldSpec = FieldSpec::new(
    "last_activity_at",
    DateTime,
    "Last activity",
    "最近跟进时间",
)
.system();
pub(crate) const NEXT_ACTIVITY: FieldSpec = FieldSpec::new(
    "next_activity_at",
    DateTime,
    "Next activity",
    "下次跟进时间",
)
.system();

/// Leads (线索): a prospect not yet qualified into an account, contact and opportunity.
pub const LEAD_FIELDS: &[FieldSpec] = &[
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
        RecordRef(Object::Contact),
        "Converted to contact",
        "转化联系人",
    )
    .system(),
    FieldSpec::new(
        "converted_opportunity_id",
        RecordRef(Object::Opportunity),
        "Converted to opportunity",
        "转化商机",
    )
    .system(),
    LAST_ACTIVITY,
    NEXT_ACTIVITY,
];

/// Opportunities (商机): a deal moving through the stages of a pipeline.
pub const OPPORTUNITY_FIELDS: &[FieldSpec] = &[
    FieldSpec::new("name", Text { max: 200 }, "Name", "商机名称").required(),
    FieldSpec::new("account_id", AccountRef, "Account", "客户").required(),
    FieldSpec::new("pipeline_id", PipelineRef, "Pipeline", "销售流程"),
    FieldSpec::new("stage", Stage, "Stage", "销售阶段"),
    FieldSpec::new(
        "probability",
        Integer { min: 0, max: 100 },
        "Win probability (%)",
        "赢率 (%)",
    ),
    FieldSpec::new("amount", Money, "Amount", "金额"),
    FieldSpec::new("currency", Text { max: 3 }, "Currency", "币种"),
    FieldSpec::new(
        "expected_close_date",
        Date,
        "Expected close",
        "预计成交日期",
    ),
    FieldSpec::new("next_step", Text { max: 200 }, "Next step", "下一步"),
    FieldSpec::new("competitors", Tags, "Competitors", "竞争对手"),
    FieldSpec::new("contacts", ContactLinks, "Contacts", "联系人"),
    FieldSpec::new("source", Picklist("account_source"), "Source", "来源"),
    FieldSpec::new("campaign", Text { max: 200 }, "Campaign", "市场活动"),
    FieldSpec::new(
        "lost_reason",
        Picklist("lost_reason"),
        "Lost because",
        "输单原因",
    ),
    FieldSpec::new("status", Picklist("opportunity_status"), "Status", "状态").system(),
    FieldSpec::new(
        "stage_entered_at",
        DateTime,
        "In stage since",
        "进入阶段时间",
    )
    .system(),
    FieldSpec::new("closed_at", DateTime, "Closed", "关闭时间").system(),
    FieldSpec::new("lead_id", RecordRef(Object::Lead), "From lead", "来源线索").system(),
    FieldSpec::new("owner_id", UserRef, "Owner", "负责人"),
    FieldSpec::new("department_id", DepartmentRef, "Department", "所属部门").system(),
    FieldSpec::new("tags", Tags, "Tags", "标签"),
    FieldSpec::new("description", LongText, "Description", "描述"),
    LAST_ACTIVITY,
    NEXT_ACTIVITY,
];

pub fn fields_of(object: Object) -> &'static [FieldSpec] {
    match object {
        Object::Account => ACCOUNT_FIELDS,
        Object::Contact => CONTACT_FIELDS,
        Object::Lead => LEAD_FIELDS,
        Object::Opportunity => OPPORTUNITY_FIELDS,
        Object::Product => PRODUCT_FIELDS,
        Object::Quote => QUOTE_FIELDS,
        Object::Contract => CONTRACT_FIELDS,
        Object::Order => ORDER_FIELDS,
        Object::Payment => PAYMENT_FIELDS,
        _ => &[],
    }
}

pub fn field(object: Object, name: &str) -> Option<&'static FieldSpec> {
    fields_of(object).iter().find(|f| f.name == name)
}

/// Whether a field rule may name this field (any built-in field of a record type).
pub fn is_known_field(object: Object, name: &str) -> bool {
    field(object, name).is_some() || (object.is_record() && crate::custom::is_custom_key(name))
}
