//! Mapping a file's columns to fields: suggestions from the column names (Chinese and English
//! labels, and the names Salesforce, HubSpot and Twenty exports use), and turning one row into
//! the document a real save takes.

use crate::objects;
use rapport_core::custom::CustomField;
use rapport_core::fields::{FieldKind, FieldSpec};
use rapport_core::Object;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// What the user chose: which column fills which field, picklist value translations, and what
/// a match on an existing record means.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The row holding the column names (0-based); the data starts below it.
    #[serde(default)]
    pub header_row: u64,
    /// Column index (as a string) → field name (built-in or `cf_…`).
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Field → (value in the file → picklist value).
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// none, credit_code, email, phone or name.
    #[serde(default = "none")]
    pub match_on: String,
    /// What a match does: skip, update or create (anyway).
    #[serde(default = "skip")]
    pub on_match: String,
}

fn none() -> String {
    "none".into()
}
fn skip() -> String {
    "skip".into()
}

/// Column names other systems export, by field.
const SYNONYMS: &[(&str, &[&str])] = &[
    (
        "name",
        &[
            "name",
            "accountname",
            "companyname",
            "company",
            "organization",
            "organisation",
            "客户",
            "公司",
            "企业名称",
            "单位名称",
        ],
    ),
    ("short_name", &["shortname", "简称", "客户简称"]),
    (
        "credit_code",
        &[
            "creditcode",
            "uscc",
            "税号",
            "信用代码",
            "社会信用代码",
            "纳税人识别号",
        ],
    ),
    (
        "family_name",
        &["lastname", "surname", "familyname", "姓", "姓氏"],
    ),
    ("given_name", &["firstname", "givenname", "名", "名字"]),
    (
        "mobile",
        &[
            "mobile",
            "mobilephone",
            "mobilephonenumber",
            "cell",
            "cellphone",
            "手机",
            "手机号",
            "手机号码",
            "移动电话",
        ],
    ),
    (
        "phone",
        &[
            "phone",
            "phonenumber",
            "telephone",
            "tel",
            "电话",
            "座机",
            "固定电话",
            "公司电话",
        ],
    ),
    (
        "email",
        &[
            "email",
            "emailaddress",
            "emails",
            "mail",
            "邮箱",
            "电子邮箱",
            "电子邮件",
        ],
    ),
    ("wechat", &["wechat", "weixin", "微信", "微信号"]),
    (
        "title",
        &["title", "jobtitle", "position", "职务", "职位", "头衔"],
    ),
    ("department", &["department", "部门"]),
    ("industry", &["industry", "行业", "所属行业"]),
    (
        "website",
        &[
            "website",
            "websiteurl",
            "domainname",
            "url",
            "网址",
            "网站",
            "官网",
        ],
    ),
    (
        "province",
        &[
            "province",
            "state",
            "stateregion",
            "billingstate",
            "mailingstate",
            "省",
            "省份",
        ],
    ),
    (
        "city",
        &["city", "billingcity", "mailingcity", "城市", "市"],
    ),
    (
        "address",
        &[
            "address",
            "street",
            "billingstreet",
            "mailingstreet",
            "地址",
            "详细地址",
        ],
    ),
    (
        "annual_revenue",
        &["annualrevenue", "revenue", "年营业额", "营业额", "年收入"],
    ),
    (
        "birthday",
        &["birthday", "birthdate", "dateofbirth", "生日", "出生日期"],
    ),
    (
        "source",
        &["source", "leadsource", "来源", "客户来源", "线索来源"],
    ),
    ("status", &["status", "leadstatus", "状态"]),
    ("level", &["level", "rating", "客户级别", "级别"]),
    ("tags", &["tags", "labels", "标签"]),
    (
        "owner_id",
        &[
            "owner",
            "ownerid",
            "owneremail",
            "accountowner",
            "contactowner",
            "负责人",
            "销售",
            "所有人",
        ],
    ),
    (
        "company",
        &["company", "companyname", "公司", "公司名称", "单位"],
    ),
    (
        "description",
        &["description", "notes", "note", "备注", "说明", "描述"],
    ),
    (
        "account_name",
        &[
            "accountname",
            "company",
            "companyname",
            "所属客户",
            "客户名称",
            "公司",
        ],
    ),
    ("score", &["score", "leadscore", "评分", "线索评分"]),
    ("campaign", &["campaign", "市场活动", "活动"]),
];

/// A column name reduced to letters and digits, lower case.
fn norm(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// The fields an import may fill for `object`: writable built-in fields, `account_name` for
/// contacts (links the contact to an account by name) and active custom fields.
pub fn targets(
    object: Object,
    fields: &[FieldSpec],
    customs: &[CustomField],
) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = fields
        .iter()
        .filter(|f| !f.system && !matches!(f.kind, FieldKind::AccountLinks | FieldKind::Consent))
        .map(|f| {
            (
                f.name.to_string(),
                f.label_zh.to_string(),
                f.label_en.to_string(),
            )
        })
        .collect();
    if object == objects::CONTACT {
        out.push(("account_name".into(), "所属客户".into(), "Account".into()));
    }
    for c in customs {
        out.push((c.key.clone(), c.label_zh.clone(), c.label_en.clone()));
    }
    out
}

/// Suggest a field for each column from its name.
pub fn suggest(
    headers: &[String],
    targets: &[(String, String, String)],
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut taken: Vec<String> = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let n = norm(h);
        if n.is_empty() {
            continue;
        }
        let by_label = targets
            .iter()
            .find(|(key, zh, en)| norm(key) == n || norm(zh) == n || norm(en) == n)
            .map(|(k, _, _)| k.clone());
        let by_synonym = || {
            SYNONYMS
                .iter()
                .filter(|(_, names)| names.iter().any(|s| norm(s) == n))
                .map(|(f, _)| (*f).to_string())
                .find(|f| targets.iter().any(|(k, _, _)| k == f) && !taken.contains(f))
        };
        if let Some(f) = by_label.filter(|f| !taken.contains(f)).or_else(by_synonym) {
            taken.push(f.clone());
            out.insert(i.to_string(), f);
        }
    }
    out
}

/// Normalise a date the way spreadsheets write it (2026/1/5, 2026.01.05, 2026年1月5日).
fn date(s: &str) -> String {
    let cleaned: String = s
        .trim()
        .replace(['/', '.', '年', '月'], "-")
        .replace('日', "");
    let parts: Vec<&str> = cleaned.split('-').collect();
    if parts.len() == 3 {
        if let (Ok(y), Ok(m), Ok(d)) = (
            parts[0].parse::<i32>(),
            parts[1].parse::<u32>(),
            parts[2]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .parse::<u32>(),
        ) {
            if let Some(d) = chrono::NaiveDate::from_ymd_opt(y, m, d) {
                return d.format("%Y-%m-%d").to_string();
            }
        }
    }
    s.trim().to_string()
}

/// One row as an API document, for the fields `mapping` names. `kind_of` tells a field's kind.
pub fn row_doc(
    mapping: &Mapping,
    cells: &[String],
    kind_of: impl Fn(&str) -> Option<FieldKind>,
) -> Map<String, Value> {
    let mut doc = Map::new();
    for (col, field) in &mapping.columns {
        let Ok(i) = col.parse::<usize>() else {
            continue;
        };
        let raw = cells.get(i).map(String::as_str).unwrap_or("").trim();
        if raw.is_empty() {
            continue;
        }
        let raw = mapping
            .values
            .get(field)
            .and_then(|m| m.get(raw))
            .map_or(raw, String::as_str);
        let v = match kind_of(field) {
            Some(FieldKind::Tags | FieldKind::EmailList | FieldKind::PhoneList) => Value::Array(
                raw.split([',', '，', ';', '；'])
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(|x| json!(x))
                    .collect(),
            ),
            Some(FieldKind::Bool) => json!(matches!(
                raw.to_lowercase().as_str(),
                "true" | "yes" | "y" | "1" | "是" | "有" | "√"
            )),
            Some(FieldKind::Integer { .. }) => raw
                .parse::<i64>()
                .map(|n| json!(n))
                .unwrap_or_else(|_| json!(raw)),
            Some(FieldKind::Date) => json!(date(raw)),
            Some(FieldKind::Money) => json!(raw.replace([',', '，', '¥', '￥', ' '], "")),
            _ => json!(raw),
        };
        doc.insert(field.clone(), v);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::contact::FIELDS as CONTACT_FIELDS;

    #[test]
    fn other_systems_column_names_are_recognised() {
        let t = targets(objects::CONTACT, CONTACT_FIELDS, &[]);
        let headers: Vec<String> = [
            "Last Name",
            "First Name",
            "Mobile Phone",
            "Email",
            "手机",
            "所属客户",
            "???",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let m = suggest(&headers, &t);
        assert_eq!(m.get("0").map(String::as_str), Some("family_name"));
        assert_eq!(m.get("1").map(String::as_str), Some("given_name"));
        assert_eq!(m.get("2").map(String::as_str), Some("mobile"));
        assert_eq!(m.get("3").map(String::as_str), Some("email"));
        assert_eq!(m.get("4"), None, "mobile is taken by the first column");
        assert_eq!(m.get("5").map(String::as_str), Some("account_name"));
        assert_eq!(m.get("6"), None);
    }

    #[test]
    fn cells_become_values_of_the_field_kind() {
        let mapping = Mapping {
            columns: [("0", "tags"), ("1", "birthday"), ("2", "industry")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            values: [(
                "industry".to_string(),
                [("互联网".to_string(), "it".to_string())]
                    .into_iter()
                    .collect(),
            )]
            .into_iter()
            .collect(),
            ..Default::default()
        };
        let cells = vec!["VIP，重点".to_string(), "1990/3/7".into(), "互联网".into()];
        let doc = row_doc(&mapping, &cells, |f| {
            CONTACT_FIELDS
                .iter()
                .find(|s| s.name == f)
                .map(|s| s.kind)
                .or(Some(FieldKind::Picklist("industry")))
        });
        assert_eq!(doc["tags"], json!(["VIP", "重点"]));
        assert_eq!(doc["birthday"], "1990-03-07");
        assert_eq!(doc["industry"], "it");
    }
}
