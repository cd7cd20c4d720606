//! What several record types share: fields declared once (owner, department, tags, the
//! activity dates, a sales document's number and totals) and the normalised name columns of
//! a person.

use crate::objects;
use crate::records::merging::{Loose, Reason};
use rapport_core::fields::{FieldKind::*, FieldSpec};
use rapport_core::validate;
use sea_orm::sea_query::Value as SqlValue;

pub const LAST_ACTIVITY: FieldSpec = FieldSpec::new(
    "last_activity_at",
    DateTime,
    "Last activity",
    "最近跟进时间",
)
.system();
pub const NEXT_ACTIVITY: FieldSpec = FieldSpec::new(
    "next_activity_at",
    DateTime,
    "Next activity",
    "下次跟进时间",
)
.system();

pub const NUMBER: FieldSpec = FieldSpec::new("number", Text { max: 40 }, "Number", "编号").system();
pub const OWNER: FieldSpec = FieldSpec::new("owner_id", UserRef, "Owner", "负责人");
pub const DEPARTMENT: FieldSpec =
    FieldSpec::new("department_id", DepartmentRef, "Department", "所属部门").system();
pub const TAGS: FieldSpec = FieldSpec::new("tags", Tags, "Tags", "标签");
pub const DESCRIPTION: FieldSpec = FieldSpec::new("description", LongText, "Notes", "备注");
pub const CURRENCY: FieldSpec = FieldSpec::new("currency", Text { max: 3 }, "Currency", "币种");
pub const ACCOUNT: FieldSpec =
    FieldSpec::new("account_id", AccountRef, "Account", "客户").required();
pub const OPPORTUNITY: FieldSpec = FieldSpec::new(
    "opportunity_id",
    RecordRef(objects::OPPORTUNITY),
    "Opportunity",
    "商机",
);
pub const LINES: FieldSpec = FieldSpec::new("lines", LineItems, "Line items", "产品明细");
pub const GROSS: FieldSpec =
    FieldSpec::new("gross_amount", Money, "Amount before discount", "折前金额").system();
pub const DISCOUNT: FieldSpec =
    FieldSpec::new("discount_amount", Money, "Discount", "折扣金额").system();
pub const NET: FieldSpec = FieldSpec::new("net_amount", Money, "Net amount", "未税金额").system();
pub const TAX: FieldSpec = FieldSpec::new("tax_amount", Money, "Tax", "税额").system();
pub const TOTAL: FieldSpec = FieldSpec::new("total", Money, "Total", "价税合计").system();

/// A person's search columns: the full name in the order its language writes it, and the
/// family name on its own, so "smith" finds "Jane Smith" through an index.
pub fn person_norms(family: &str, given: &str) -> Vec<(&'static str, SqlValue)> {
    let cjk = family.chars().any(|c| c as u32 >= 0x2E80);
    let full = if cjk {
        format!("{family}{given}")
    } else {
        format!("{given} {family}")
    };
    vec![
        (
            "name_norm",
            SqlValue::String(Some(Box::new(validate::search_norm(full.trim())))),
        ),
        (
            "family_norm",
            SqlValue::String(Some(Box::new(validate::search_norm(family)))),
        ),
    ]
}

/// A person's name as the name index reads it: in the order its language writes it, so
/// that 王小明 is one run of characters whose pairs include 王小 and 小明.
fn person_text(values: &crate::records::hooks::Values) -> String {
    rapport_core::names::person_name(
        &text_of(values, "family_name"),
        &text_of(values, "given_name"),
    )
}

/// The name index of a person (contacts, leads).
pub const PERSON_NAME: crate::records::hooks::NameSource = crate::records::hooks::NameSource {
    kind: "term.person",
    fields: &["family_name", "given_name"],
    text: Some(person_text),
    company: false,
};

/// The name index of a record's `name` field.
pub const NAME: crate::records::hooks::NameSource =
    crate::records::hooks::NameSource::fields("term.name", &["name"]);

/// `name_norm`: the normalised name quick search finds by prefix.
pub fn name_norm(name: &str) -> (&'static str, SqlValue) {
    (
        "name_norm",
        SqlValue::String(Some(Box::new(validate::search_norm(name)))),
    )
}

/// A text value, empty when missing.
pub fn text_of(values: &crate::records::hooks::Values, name: &str) -> String {
    match values.get(name) {
        Some(rapport_core::fields::FieldValue::Text(t)) => t.clone(),
        _ => String::new(),
    }
}

/// How duplicates of people (contacts, leads) are found: the same email, mobile or name, or
/// family and given names that are each other's.
pub const PERSON_DUPLICATES: &[(&str, Reason, u8)] = &[
    ("email_bidx", Reason::Email, 95),
    ("mobile_bidx", Reason::Phone, 90),
    ("name_norm", Reason::Name, 60),
];
pub const PERSON_LOOSE: Option<(Loose, u8)> = Some((Loose::SwappedNames, 55));
