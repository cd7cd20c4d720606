//! Between HTML forms and the record engine: building inputs from field metadata, turning
//! posted form pairs into the same JSON document the API takes, and formatting values.

use super::i18n::Lang;
use rapport_core::custom::{CustomField, CustomKind};
use rapport_core::fields::{FieldKind, FieldSpec, FieldValue};
use rapport_core::validate;
use rapport_services::objects;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// One input on a form.
#[derive(Debug, Clone, Default)]
pub struct FormField {
    pub name: String,
    pub label: String,
    /// text, email, tel, url, number, date, datetime-local, textarea, select, multiselect,
    /// checkbox, consent
    pub input: String,
    pub value: String,
    pub options: Vec<(String, String, bool)>,
    pub checked: bool,
    pub extra: String,
    pub required: bool,
    pub hint: Option<String>,
    pub error: Option<String>,
    /// Line items: product, name, quantity, unit price, discount %, tax %, total.
    pub rows: Vec<[String; 7]>,
}

impl FormField {
    /// Whether a line row has this product.
    pub fn picks(&self, row: &[String; 7], product_id: &str) -> bool {
        row[0] == product_id
    }
}

pub fn label(spec: &FieldSpec, lang: Lang) -> String {
    match lang {
        Lang::Zh => spec.label_zh.to_string(),
        Lang::En => spec.label_en.to_string(),
    }
}

/// The first value posted (or in the query) under `name`, as sent; empty when absent.
pub fn field(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// [`field`] without surrounding whitespace (names, keys, labels; never passwords).
pub fn trimmed(pairs: &[(String, String)], name: &str) -> String {
    field(pairs, name).trim().to_string()
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Options for picklists, users and accounts: value → label.
#[derive(Debug, Default, Clone)]
pub struct Choices {
    /// Active custom fields of the object being shown.
    pub customs: Vec<CustomField>,
    pub picklists: HashMap<String, Vec<(String, String)>>,
    pub users: Vec<(String, String)>,
    pub accounts: Vec<(String, String)>,
    /// Contacts (for an opportunity's contacts).
    pub contacts: Vec<(String, String)>,
    pub pipelines: Vec<(String, String)>,
    /// Stage key → name (every pipeline's stages).
    pub stages: Vec<(String, String)>,
    /// Products on sale (for line items).
    pub products: Vec<(String, String)>,
    pub price_lists: Vec<(String, String)>,
    /// Department names (shown, never chosen: a record's department follows its owner).
    pub departments: Vec<(String, String)>,
    /// Records of other types a form may point to (opportunities, quotes, contracts).
    pub records: HashMap<rapport_core::Object, Vec<(String, String)>>,
}

impl Choices {
    pub fn label_of(&self, spec: &FieldSpec, value: &str) -> String {
        let list = match spec.kind {
            FieldKind::Picklist(l) => self.picklists.get(l),
            FieldKind::UserRef => Some(&self.users),
            FieldKind::DepartmentRef => Some(&self.departments),
            FieldKind::AccountRef => Some(&self.accounts),
            FieldKind::PipelineRef => Some(&self.pipelines),
            FieldKind::Stage => Some(&self.stages),
            FieldKind::RecordRef(objects::CONTACT) => Some(&self.contacts),
            FieldKind::RecordRef(o) => self.records.get(&o),
            FieldKind::PriceListRef => Some(&self.price_lists),
            _ => None,
        };
        list.and_then(|l| l.iter().find(|(v, _)| v == value))
            .map(|(_, l)| l.clone())
            .unwrap_or_else(|| value.to_string())
    }
}

/// The value as text for an input.
fn input_value(v: &FieldValue) -> String {
    match v {
        FieldValue::Null => String::new(),
        FieldValue::Text(s) => s.clone(),
        FieldValue::Money(m) => validate::money_string(*m),
        FieldValue::Int(i) => i.to_string(),
        FieldValue::Date(d) => d.format("%Y-%m-%d").to_string(),
        FieldValue::DateTime(t) => t.format("%Y-%m-%dT%H:%M").to_string(),
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::List(l) => l.join(", "),
        FieldValue::Json(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i["contact_id"].as_str())
            .collect::<Vec<_>>()
            .join(","),
        FieldValue::Json(j) => j.to_string(),
        FieldValue::Consent(c) => c.source.clone().unwrap_or_default(),
        FieldValue::Links(l) => l
            .iter()
            .map(|x| x.account_id.clone())
            .collect::<Vec<_>>()
            .join(","),
    }
}

pub fn build_input(
    spec: &FieldSpec,
    value: &FieldValue,
    lang: Lang,
    choices: &Choices,
) -> FormField {
    let mut f = FormField {
        name: spec.name.into(),
        label: label(spec, lang),
        required: spec.required,
        value: input_value(value),
        ..Default::default()
    };
    f.input = match spec.kind {
        FieldKind::Text { .. } | FieldKind::CreditCode | FieldKind::IdNumber => "text",
        FieldKind::LongText | FieldKind::JsonObject => "textarea",
        FieldKind::Url => "url",
        FieldKind::Email => "email",
        FieldKind::Phone => "tel",
        FieldKind::EmailList | FieldKind::PhoneList | FieldKind::Tags => {
            f.hint = Some("comma".into());
            "text"
        }
        FieldKind::Money => "text",
        FieldKind::Integer { .. } => "number",
        FieldKind::Date => "date",
        FieldKind::DateTime => "datetime-local",
        FieldKind::Bool => {
            f.checked = matches!(value, FieldValue::Bool(true));
            "checkbox"
        }
        FieldKind::Consent => {
            if let FieldValue::Consent(c) = value {
                f.checked = c.granted;
                f.extra = c.source.clone().unwrap_or_default();
            }
            "consent"
        }
        FieldKind::Picklist(list) => {
            let current = f.value.clone();
            f.options = choices
                .picklists
                .get(list)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|(v, l)| {
                    let sel = v == current;
                    (v, l, sel)
                })
                .collect();
            "select"
        }
        FieldKind::UserRef | FieldKind::DepartmentRef => {
            let current = f.value.clone();
            f.options = choices
                .users
                .iter()
                .map(|(v, l)| (v.clone(), l.clone(), *v == current))
                .collect();
            "select"
        }
        FieldKind::AccountRef => {
            let current = f.value.clone();
            f.options = choices
                .accounts
                .iter()
                .map(|(v, l)| (v.clone(), l.clone(), *v == current))
                .collect();
            "select"
        }
        FieldKind::PipelineRef | FieldKind::Stage => {
            let current = f.value.clone();
            let list = if spec.kind == FieldKind::Stage {
                &choices.stages
            } else {
                &choices.pipelines
            };
            f.options = list
                .iter()
                .map(|(v, l)| (v.clone(), l.clone(), *v == current))
                .collect();
            "select"
        }
        FieldKind::RecordRef(o) => {
            let list = match o {
                objects::CONTACT => Some(&choices.contacts),
                o => choices.records.get(&o),
            };
            match list {
                Some(list) => {
                    let current = f.value.clone();
                    f.options = list
                        .iter()
                        .map(|(v, l)| (v.clone(), l.clone(), *v == current))
                        .collect();
                    "select"
                }
                None => "text",
            }
        }
        FieldKind::PriceListRef => {
            let current = f.value.clone();
            f.options = choices
                .price_lists
                .iter()
                .map(|(v, l)| (v.clone(), l.clone(), *v == current))
                .collect();
            "select"
        }
        FieldKind::LineItems => {
            f.options = choices
                .products
                .iter()
                .map(|(v, l)| (v.clone(), l.clone(), false))
                .collect();
            if let FieldValue::Json(v) = value {
                f.rows = line_rows(v);
            }
            // Blank rows to fill in (the page's script adds more).
            for _ in 0..2 {
                f.rows.push(Default::default());
            }
            "lines"
        }
        FieldKind::ContactLinks => {
            let selected = rapport_core::fields::contact_link_ids(value);
            f.options = choices
                .contacts
                .iter()
                .map(|(v, l)| (v.clone(), l.clone(), selected.contains(v)))
                .collect();
            "multiselect"
        }
        FieldKind::AccountLinks => {
            let selected: Vec<String> = match value {
                FieldValue::Links(l) => l.iter().map(|x| x.account_id.clone()).collect(),
                _ => vec![],
            };
            f.options = choices
                .accounts
                .iter()
                .map(|(v, l)| (v.clone(), l.clone(), selected.contains(v)))
                .collect();
            "multiselect"
        }
    }
    .into();
    f
}

/// Stored or posted lines as form rows.
fn line_rows(v: &Value) -> Vec<[String; 7]> {
    let s = |l: &Value, k: &str| l[k].as_str().unwrap_or("").to_string();
    v.as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            [
                s(l, "product_id"),
                s(l, "name"),
                s(l, "quantity"),
                s(l, "unit_price"),
                s(l, "discount"),
                s(l, "tax_rate"),
                s(l, "total"),
            ]
        })
        .collect()
}

/// The line columns a form posts, as `lines.<column>` once per row.
const LINE_COLUMNS: [&str; 6] = [
    "product_id",
    "name",
    "quantity",
    "unit_price",
    "discount",
    "tax_rate",
];

/// Posted line rows into the API's lines; rows left blank are skipped.
fn lines_doc(pairs: &[(String, String)], field: &str) -> Value {
    let columns: Vec<Vec<&str>> = LINE_COLUMNS
        .iter()
        .map(|c| {
            let key = format!("{field}.{c}");
            pairs
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, v)| v.trim())
                .collect()
        })
        .collect();
    let n = columns.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for i in 0..n {
        let cell = |c: usize| columns[c].get(i).copied().unwrap_or("");
        if cell(0).is_empty() && cell(1).is_empty() && cell(3).is_empty() {
            continue;
        }
        let mut line = Map::new();
        for (c, name) in LINE_COLUMNS.iter().enumerate() {
            if !cell(c).is_empty() {
                line.insert((*name).into(), json!(cell(c)));
            }
        }
        out.push(Value::Object(line));
    }
    Value::Array(out)
}

fn split_list(s: &str) -> Vec<Value> {
    s.split([',', '，', ';', '；', '\n'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| json!(x))
        .collect()
}

/// Turn posted pairs into an API document for the fields named in `_fields`.
pub fn to_doc(specs: &'static [FieldSpec], pairs: &[(String, String)]) -> Map<String, Value> {
    let get_all = |name: &str| {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    let first = |name: &str| get_all(name).into_iter().next().unwrap_or_default();
    let present: Vec<String> = get_all("_fields");
    let mut doc = Map::new();
    for spec in specs {
        if !present.iter().any(|p| p == spec.name) || spec.system {
            continue;
        }
        let raw = first(spec.name);
        let v = match spec.kind {
            FieldKind::Bool => json!(!raw.is_empty()),
            FieldKind::Consent => {
                let source = first(&format!("{}_source", spec.name));
                if raw.is_empty() && source.trim().is_empty() {
                    Value::Null
                } else {
                    json!({"granted": !raw.is_empty(), "source": if source.trim().is_empty() { Value::Null } else { json!(source.trim()) }})
                }
            }
            FieldKind::Tags | FieldKind::EmailList | FieldKind::PhoneList => {
                Value::Array(split_list(&raw))
            }
            FieldKind::AccountLinks | FieldKind::ContactLinks => Value::Array(
                get_all(spec.name)
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .map(Value::String)
                    .collect(),
            ),
            FieldKind::LineItems => lines_doc(pairs, spec.name),
            FieldKind::JsonObject => {
                if raw.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&raw).unwrap_or(Value::String(raw))
                }
            }
            FieldKind::DateTime => {
                if raw.trim().is_empty() {
                    Value::Null
                } else if raw.len() == 16 {
                    // datetime-local has no zone: read it in the instance's zone (Asia/Shanghai).
                    json!(format!("{raw}:00+08:00"))
                } else {
                    json!(raw)
                }
            }
            _ => {
                if raw.trim().is_empty() {
                    Value::Null
                } else {
                    json!(raw)
                }
            }
        };
        doc.insert(spec.name.into(), v);
    }
    doc
}

/// Phone numbers and emails as `(href, text)` links a phone can call or write to: `tel:` with
/// the number in international form, `mailto:`; nothing for other kinds.
pub fn contact_links(kind: FieldKind, v: &Value, phone_region: &str) -> Vec<(String, String)> {
    let items: Vec<&str> = match v {
        Value::String(s) if !s.is_empty() => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => return Vec::new(),
    };
    match kind {
        FieldKind::Phone | FieldKind::PhoneList => items
            .into_iter()
            .map(|p| {
                let dial: String = p
                    .chars()
                    .filter(|c| c.is_ascii_digit() || *c == '+')
                    .collect();
                (
                    format!("tel:{dial}"),
                    validate::phone_display(p, phone_region),
                )
            })
            .collect(),
        FieldKind::Email | FieldKind::EmailList => items
            .into_iter()
            .map(|e| (format!("mailto:{e}"), e.to_string()))
            .collect(),
        _ => Vec::new(),
    }
}

/// A value as a person reads it.
pub fn display(
    spec: &FieldSpec,
    v: &Value,
    lang: Lang,
    choices: &Choices,
    phone_region: &str,
) -> String {
    let yes_no = |b: bool| super::i18n::t(lang, if b { "record.yes" } else { "record.no" });
    match (spec.kind, v) {
        (_, Value::Null) => String::new(),
        (FieldKind::Phone, Value::String(p)) => validate::phone_display(p, phone_region),
        (FieldKind::PhoneList, Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|p| validate::phone_display(p, phone_region))
            .collect::<Vec<_>>()
            .join(", "),
        (
            FieldKind::Picklist(_)
            | FieldKind::UserRef
            | FieldKind::DepartmentRef
            | FieldKind::AccountRef
            | FieldKind::PipelineRef
            | FieldKind::Stage
            | FieldKind::PriceListRef
            | FieldKind::RecordRef(_),
            Value::String(s),
        ) => choices.label_of(spec, s),
        (FieldKind::LineItems, Value::Array(a)) => a
            .iter()
            .map(|l| {
                format!(
                    "{} × {}",
                    l["name"].as_str().unwrap_or(""),
                    l["quantity"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        (FieldKind::ContactLinks, Value::Array(a)) => a
            .iter()
            .map(|l| {
                let id = l["contact_id"].as_str().unwrap_or("");
                let name = choices
                    .contacts
                    .iter()
                    .find(|(v, _)| v == id)
                    .map(|(_, l)| l.clone())
                    .unwrap_or_else(|| "—".into());
                match l["role"].as_str() {
                    Some(r) => format!("{name} ({r})"),
                    None => name,
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        (FieldKind::Bool, Value::Bool(b)) => yes_no(*b),
        (FieldKind::Consent, Value::Object(o)) => {
            let granted = o.get("granted").and_then(Value::as_bool).unwrap_or(false);
            let src = o
                .get("source")
                .and_then(Value::as_str)
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            format!("{}{src}", yes_no(granted))
        }
        (FieldKind::AccountLinks, Value::Array(a)) => a
            .iter()
            .filter_map(|l| l.get("account_id").and_then(Value::as_str))
            .map(|id| {
                choices
                    .accounts
                    .iter()
                    .find(|(v, _)| v == id)
                    .map(|(_, l)| l.clone())
                    .unwrap_or_else(|| "—".into())
            })
            .collect::<Vec<_>>()
            .join(", "),
        (FieldKind::DateTime, Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| local_time(t.with_timezone(&chrono::Utc)))
            .unwrap_or_else(|_| s.clone()),
        (_, Value::String(s)) => s.clone(),
        (_, Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(", "),
        (_, other) => other.to_string(),
    }
}

/// A time as people in the instance's zone read it (Asia/Shanghai, UTC+8).
pub fn local_time(t: chrono::DateTime<chrono::Utc>) -> String {
    match chrono::FixedOffset::east_opt(8 * 3600) {
        Some(tz) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        None => t.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// An input for a custom field.
pub fn custom_input(c: &CustomField, value: &Value, lang: Lang, choices: &Choices) -> FormField {
    let text = match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    let zh = lang == Lang::Zh;
    let mut f = FormField {
        name: c.key.clone(),
        label: c.label(zh).to_string(),
        required: c.required,
        value: text.clone(),
        ..Default::default()
    };
    let opts = |selected: &dyn Fn(&str) -> bool| {
        c.options
            .iter()
            .map(|o| {
                (
                    o.value.clone(),
                    if zh {
                        o.label_zh.clone()
                    } else {
                        o.label_en.clone()
                    },
                    selected(&o.value),
                )
            })
            .collect::<Vec<_>>()
    };
    f.input = match c.kind {
        CustomKind::Text | CustomKind::Number | CustomKind::Money => "text",
        CustomKind::LongText => "textarea",
        CustomKind::Date => "date",
        CustomKind::Datetime => {
            f.value = chrono::DateTime::parse_from_rfc3339(&text)
                .map(|t| local_time(t.with_timezone(&chrono::Utc)).replace(' ', "T"))
                .unwrap_or_default();
            "datetime-local"
        }
        CustomKind::Choice => {
            f.options = opts(&|v| v == text);
            "select"
        }
        CustomKind::MultiChoice => {
            let chosen: Vec<String> = value
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            f.options = opts(&|v| chosen.iter().any(|c| c == v));
            "multiselect"
        }
        CustomKind::Checkbox => {
            f.checked = value.as_bool() == Some(true);
            "checkbox"
        }
        CustomKind::User => {
            f.options = choices
                .users
                .iter()
                .map(|(v, l)| (v.clone(), l.clone(), *v == text))
                .collect();
            "select"
        }
        CustomKind::Url => "url",
        CustomKind::Email => "email",
        CustomKind::Phone => "tel",
    }
    .into();
    f
}

/// A custom value as a person reads it.
pub fn custom_display(
    c: &CustomField,
    value: &Value,
    lang: Lang,
    choices: &Choices,
    phone_region: &str,
) -> String {
    let zh = lang == Lang::Zh;
    let option = |v: &str| {
        c.options
            .iter()
            .find(|o| o.value == v)
            .map(|o| {
                if zh {
                    o.label_zh.clone()
                } else {
                    o.label_en.clone()
                }
            })
            .unwrap_or_else(|| v.to_string())
    };
    match (c.kind, value) {
        (_, Value::Null) => String::new(),
        (CustomKind::Choice, Value::String(s)) => option(s),
        (CustomKind::MultiChoice, Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(option)
            .collect::<Vec<_>>()
            .join(", "),
        (CustomKind::Checkbox, Value::Bool(b)) => {
            super::i18n::t(lang, if *b { "record.yes" } else { "record.no" })
        }
        (CustomKind::Phone, Value::String(p)) => validate::phone_display(p, phone_region),
        (CustomKind::User, Value::String(id)) => choices
            .users
            .iter()
            .find(|(u, _)| u == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_default(),
        (CustomKind::Datetime, Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| local_time(t.with_timezone(&chrono::Utc)))
            .unwrap_or_else(|_| s.clone()),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

/// Add the custom fields named in `_fields` to a document built from a form.
pub fn custom_to_doc(
    customs: &[CustomField],
    pairs: &[(String, String)],
    doc: &mut Map<String, Value>,
) {
    let present: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "_fields")
        .map(|(_, v)| v.as_str())
        .collect();
    for c in customs {
        if !present.contains(&c.key.as_str()) {
            continue;
        }
        let all: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| *k == c.key)
            .map(|(_, v)| v.clone())
            .collect();
        let raw = all.first().cloned().unwrap_or_default();
        let v = match c.kind {
            CustomKind::Checkbox => json!(!raw.is_empty()),
            CustomKind::MultiChoice => Value::Array(
                all.into_iter()
                    .filter(|s| !s.is_empty())
                    .map(Value::String)
                    .collect(),
            ),
            CustomKind::Datetime if raw.len() == 16 => json!(format!("{raw}:00+08:00")),
            _ if raw.trim().is_empty() => Value::Null,
            _ => json!(raw),
        };
        doc.insert(c.key.clone(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_pairs_become_a_document() {
        let pairs: Vec<(String, String)> = vec![
            ("_fields".into(), "tags".into()),
            ("tags".into(), "vip， new".into()),
            ("_fields".into(), "name".into()),
            ("name".into(), "Acme".into()),
            ("short_name".into(), "ignored: not in _fields".into()),
        ];
        let doc = to_doc(rapport_services::objects::account::FIELDS, &pairs);
        assert_eq!(doc.get("tags"), Some(&json!(["vip", "new"])));
        assert_eq!(doc.get("name"), Some(&json!("Acme")));
        assert!(doc.get("short_name").is_none());
    }
}
