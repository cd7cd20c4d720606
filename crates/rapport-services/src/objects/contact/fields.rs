//! The fields of contact records.

use rapport_core::fields::{FieldKind::*, FieldSpec};

pub const FIELDS: &[FieldSpec] = &[
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
