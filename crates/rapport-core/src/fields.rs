//! Field metadata and value parsing shared by every object type. An object is a list of
//! [`FieldSpec`]s; the store maps them to columns, the API to JSON, the UI to form inputs,
//! so a rule about a field (type, sensitivity, required) is written once.

use crate::error::FieldError;
use crate::validate;
use chrono::{DateTime, NaiveDate, Utc};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Single-line text up to `max` characters.
    Text {
        max: usize,
    },
    LongText,
    Url,
    Email,
    Phone,
    EmailList,
    PhoneList,
    CreditCode,
    /// Chinese resident identity card number.
    IdNumber,
    /// A value from the named administrator-editable picklist.
    Picklist(&'static str),
    Tags,
    UserRef,
    DepartmentRef,
    AccountRef,
    Money,
    Date,
    DateTime,
    Bool,
    /// Free-form JSON object (preferences).
    JsonObject,
    /// Marketing consent: granted flag, when, and how it was given.
    Consent,
    /// A contact's accounts, each with an optional role.
    AccountLinks,
    /// Whole number within bounds (lead score, win probability).
    Integer {
        min: i64,
        max: i64,
    },
    /// An opportunity's contacts, each with an optional role (decision maker, influencer...).
    ContactLinks,
    /// A sales pipeline (settings).
    PipelineRef,
    /// A stage key of the record's pipeline.
    Stage,
    /// A record of another type (a converted lead's contact, a quote's opportunity).
    RecordRef(crate::permission::Object),
    /// The priced lines of a quote or order (`lines`); totals are computed by the store.
    LineItems,
    /// A price list (settings).
    PriceListRef,
}

#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
    /// Stored encrypted and masked in the audit trail.
    pub sensitive: bool,
    /// Personal data kept in clear (names, birthday): masked in the audit trail so that erasing
    /// a person never requires rewriting the append-only trail.
    pub personal: bool,
    pub required: bool,
    /// Set by the system only (timestamps, ids).
    pub system: bool,
    pub label_en: &'static str,
    pub label_zh: &'static str,
}

impl FieldSpec {
    pub const fn new(
        name: &'static str,
        kind: FieldKind,
        en: &'static str,
        zh: &'static str,
    ) -> Self {
        Self {
            name,
            kind,
            sensitive: false,
            personal: false,
            required: false,
            system: false,
            label_en: en,
            label_zh: zh,
        }
    }
    pub const fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self.personal = true;
        self
    }
    pub const fn personal(mut self) -> Self {
        self.personal = true;
        self
    }

    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub const fn system(mut self) -> Self {
        self.system = true;
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Consent {
    pub granted: bool,
    pub at: Option<DateTime<Utc>>,
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountLink {
    pub account_id: String,
    pub role: Option<String>,
}

/// A parsed, normalised field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Null,
    Text(String),
    Money(i64),
    Int(i64),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    Bool(bool),
    List(Vec<String>),
    Json(Value),
    Consent(Consent),
    Links(Vec<AccountLink>),
}

impl FieldValue {
    pub fn is_null(&self) -> bool {
        match self {
            FieldValue::Null => true,
            FieldValue::Text(s) => s.is_empty(),
            FieldValue::List(l) => l.is_empty(),
            FieldValue::Links(l) => l.is_empty(),
            _ => false,
        }
    }

    /// JSON as the API shows it (what [`Serialize`] writes, as a tree).
    pub fn to_json(&self) -> Value {
        // Serialising these values cannot fail: every variant writes strings, numbers,
        // booleans, arrays and maps with string keys.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// RFC 3339 with milliseconds in UTC, as every time in the API is written
/// (`2026-12-02T19:54:18.918Z`). Written directly, not through a `strftime` pattern, which
/// was parsed again for every value: 6% of a list page's time.
pub fn api_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Serialize for FieldValue {
    /// The value as the API shows it, written straight to the serializer (a list page is
    /// serialised without building a `Value` tree per record).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldValue::Null => s.serialize_unit(),
            FieldValue::Text(t) => s.serialize_str(t),
            FieldValue::Money(m) => s.serialize_str(&validate::money_string(*m)),
            FieldValue::Int(i) => s.serialize_i64(*i),
            // `NaiveDate` displays as `%Y-%m-%d`.
            FieldValue::Date(d) => s.collect_str(d),
            FieldValue::DateTime(t) => s.serialize_str(&api_time(t)),
            FieldValue::Bool(b) => s.serialize_bool(*b),
            FieldValue::List(l) => l.serialize(s),
            FieldValue::Json(v) => v.serialize(s),
            FieldValue::Consent(c) => {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("granted", &c.granted)?;
                m.serialize_entry("at", &c.at.as_ref().map(api_time))?;
                m.serialize_entry("source", &c.source)?;
                m.end()
            }
            FieldValue::Links(links) => {
                let mut seq = s.serialize_seq(Some(links.len()))?;
                for l in links {
                    seq.serialize_element(&LinkJson(l))?;
                }
                seq.end()
            }
        }
    }
}

struct LinkJson<'a>(&'a AccountLink);

impl Serialize for LinkJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("account_id", &self.0.account_id)?;
        m.serialize_entry("role", &self.0.role)?;
        m.end()
    }
}

/// Context a value is parsed in (settings that affect normalisation).
#[derive(Debug, Clone)]
pub struct ParseContext {
    pub phone_region: String,
}

impl Default for ParseContext {
    fn default() -> Self {
        Self {
            phone_region: "CN".into(),
        }
    }
}

fn type_error(field: &str, expected: &str) -> FieldError {
    FieldError::new(field, "invalid_type", format!("{field} must be {expected}"))
}

fn as_str<'a>(field: &str, v: &'a Value) -> Result<&'a str, FieldError> {
    v.as_str().ok_or_else(|| type_error(field, "a string"))
}

fn string_list(field: &str, v: &Value, max_items: usize) -> Result<Vec<String>, FieldError> {
    let arr = v
        .as_array()
        .ok_or_else(|| type_error(field, "an array of strings"))?;
    if arr.len() > max_items {
        return Err(FieldError::new(
            field,
            "too_many",
            format!("{field} takes at most {max_items} items"),
        ));
    }
    arr.iter()
        .map(|item| {
            item.as_str()
                .map(str::to_string)
                .ok_or_else(|| type_error(field, "an array of strings"))
        })
        .collect()
}

fn parse_datetime(field: &str, s: &str) -> Result<DateTime<Utc>, FieldError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            FieldError::new(
                field,
                "invalid_datetime",
                format!("{field} must be an RFC 3339 date-time such as 2026-01-31T09:30:00+08:00"),
            )
        })
}

/// Parse and normalise one incoming JSON value for `spec`. `null` clears the field.
pub fn parse_value(
    spec: &FieldSpec,
    v: &Value,
    ctx: &ParseContext,
) -> Result<FieldValue, FieldError> {
    parse_named(spec.name, spec.kind, v, ctx)
}

/// Parse a value of `kind` for the field called `f` (custom fields have no static spec).
pub fn parse_named(
    f: &str,
    kind: FieldKind,
    v: &Value,
    ctx: &ParseContext,
) -> Result<FieldValue, FieldError> {
    let spec = FieldSpec::new("", kind, "", "");

    if v.is_null() {
        return Ok(FieldValue::Null);
    }
    Ok(match spec.kind {
        FieldKind::Text { max } => {
            let s = as_str(f, v)?.trim();
            if s.chars().count() > max {
                return Err(FieldError::new(
                    f,
                    "too_long",
                    format!("{f} is longer than {max} characters"),
                ));
            }
            if s.chars().any(|c| c.is_control()) {
                return Err(FieldError::new(
                    f,
                    "invalid_characters",
                    format!("{f} contains control characters"),
                ));
            }
            if s.chars().any(validate::is_invisible_format) {
                return Err(FieldError::new(
                    f,
                    "invalid_characters",
                    format!(
                        "{f} contains invisible formatting characters (zero-width or bidirectional controls)"
                    ),
                ));
            }
            FieldValue::Text(s.to_string())
        }
        FieldKind::LongText => {
            let s = as_str(f, v)?;
            if s.chars().count() > 20_000 {
                return Err(FieldError::new(
                    f,
                    "too_long",
                    format!("{f} is longer than 20000 characters"),
                ));
            }
            FieldValue::Text(s.to_string())
        }
        FieldKind::Url => {
            let s = as_str(f, v)?;
            if s.trim().is_empty() {
                return Ok(FieldValue::Null);
            }
            FieldValue::Text(validate::url(s).ok_or_else(|| {
                FieldError::new(
                    f,
                    "invalid_url",
                    format!("{f} must be an http:// or https:// address"),
                )
            })?)
        }
        FieldKind::Email => {
            let s = as_str(f, v)?;
            if s.trim().is_empty() {
                return Ok(FieldValue::Null);
            }
            FieldValue::Text(validate::email(s).ok_or_else(|| {
                FieldError::new(
                    f,
                    "invalid_email",
                    format!("{f} is not a valid email address"),
                )
            })?)
        }
        FieldKind::Phone => {
            let s = as_str(f, v)?;
            if s.trim().is_empty() {
                return Ok(FieldValue::Null);
            }
            FieldValue::Text(validate::phone_e164(s, &ctx.phone_region).ok_or_else(|| {
                FieldError::new(
                    f,
                    "invalid_phone",
                    format!("{f} is not a valid phone number"),
                )
            })?)
        }
        FieldKind::EmailList => {
            let items = string_list(f, v, 20)?;
            let mut out = Vec::new();
            for item in items {
                let e = validate::email(&item).ok_or_else(|| {
                    FieldError::new(
                        f,
                        "invalid_email",
                        format!("{item} in {f} is not a valid email address"),
                    )
                })?;
                if !out.contains(&e) {
                    out.push(e);
                }
            }
            FieldValue::List(out)
        }
        FieldKind::PhoneList => {
            let items = string_list(f, v, 20)?;
            let mut out = Vec::new();
            for item in items {
                let p = validate::phone_e164(&item, &ctx.phone_region).ok_or_else(|| {
                    FieldError::new(
                        f,
                        "invalid_phone",
                        format!("{item} in {f} is not a valid phone number"),
                    )
                })?;
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            FieldValue::List(out)
        }
        FieldKind::CreditCode => {
            let s = as_str(f, v)?;
            if s.trim().is_empty() {
                return Ok(FieldValue::Null);
            }
            FieldValue::Text(
                validate::credit_code(s)
                    .map_err(|m| FieldError::new(f, "invalid_credit_code", m))?,
            )
        }
        FieldKind::IdNumber => {
            let s = as_str(f, v)?;
            if s.trim().is_empty() {
                return Ok(FieldValue::Null);
            }
            FieldValue::Text(
                validate::resident_id(s).map_err(|m| FieldError::new(f, "invalid_id_number", m))?,
            )
        }
        FieldKind::Picklist(_) => {
            let s = as_str(f, v)?.trim();
            if s.chars().count() > 64 {
                return Err(FieldError::new(
                    f,
                    "too_long",
                    format!("{f} is longer than 64 characters"),
                ));
            }
            if s.chars()
                .any(|c| c.is_control() || validate::is_invisible_format(c))
            {
                return Err(FieldError::new(
                    f,
                    "invalid_characters",
                    format!("{f} contains control or invisible characters"),
                ));
            }
            FieldValue::Text(s.to_string())
        }
        FieldKind::Tags => {
            let mut out: Vec<String> = Vec::new();
            for t in string_list(f, v, 50)? {
                let t = t.trim().to_string();
                if t.is_empty()
                    || t.chars().count() > 40
                    || t.contains('"')
                    || t.chars().any(char::is_control)
                    || t.chars().any(validate::is_invisible_format)
                {
                    return Err(FieldError::new(
                        f,
                        "invalid_tag",
                        format!("tags in {f} must be 1-40 characters without quotes"),
                    ));
                }
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            FieldValue::List(out)
        }
        FieldKind::UserRef
        | FieldKind::DepartmentRef
        | FieldKind::AccountRef
        | FieldKind::PipelineRef
        | FieldKind::PriceListRef
        | FieldKind::RecordRef(_) => {
            let s = as_str(f, v)?;
            if !crate::ids::is_valid_id(s) {
                return Err(FieldError::new(
                    f,
                    "invalid_reference",
                    format!("{f} is not a valid id"),
                ));
            }
            FieldValue::Text(s.to_string())
        }
        FieldKind::Money => FieldValue::Money(
            validate::money_minor(v)
                .map_err(|m| FieldError::new(f, "invalid_amount", format!("{f}: {m}")))?,
        ),
        FieldKind::Date => {
            let s = as_str(f, v)?;
            FieldValue::Date(NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                FieldError::new(
                    f,
                    "invalid_date",
                    format!("{f} must be a date such as 2026-01-31"),
                )
            })?)
        }
        FieldKind::DateTime => FieldValue::DateTime(parse_datetime(f, as_str(f, v)?)?),
        FieldKind::Bool => {
            FieldValue::Bool(v.as_bool().ok_or_else(|| type_error(f, "true or false"))?)
        }
        FieldKind::JsonObject => {
            if !v.is_object() {
                return Err(type_error(f, "an object"));
            }
            if v.to_string().len() > 8_000 {
                return Err(FieldError::new(
                    f,
                    "too_long",
                    format!("{f} is larger than 8000 bytes"),
                ));
            }
            FieldValue::Json(v.clone())
        }
        FieldKind::Consent => {
            let obj = v
                .as_object()
                .ok_or_else(|| type_error(f, "an object with granted, at and source"))?;
            for key in obj.keys() {
                if !matches!(key.as_str(), "granted" | "at" | "source") {
                    return Err(FieldError::new(
                        format!("{f}.{key}"),
                        "unknown_field",
                        format!("{f} has no field {key}"),
                    ));
                }
            }
            let granted = obj
                .get("granted")
                .and_then(Value::as_bool)
                .ok_or_else(|| type_error(&format!("{f}.granted"), "true or false"))?;
            let at = match obj.get("at") {
                None | Some(Value::Null) => None,
                Some(t) => Some(parse_datetime(
                    &format!("{f}.at"),
                    as_str(&format!("{f}.at"), t)?,
                )?),
            };
            let source = match obj.get("source") {
                None | Some(Value::Null) => None,
                Some(s) => {
                    let s = as_str(&format!("{f}.source"), s)?.trim().to_string();
                    if s.chars().count() > 200 {
                        return Err(FieldError::new(
                            format!("{f}.source"),
                            "too_long",
                            "source is longer than 200 characters",
                        ));
                    }
                    Some(s)
                }
            };
            FieldValue::Consent(Consent {
                granted,
                at,
                source,
            })
        }
        FieldKind::AccountLinks => {
            let arr = v.as_array().ok_or_else(|| type_error(f, "an array"))?;
            if arr.len() > 50 {
                return Err(FieldError::new(
                    f,
                    "too_many",
                    format!("{f} takes at most 50 items"),
                ));
            }
            let mut out: Vec<AccountLink> = Vec::new();
            for item in arr {
                let (id, role) = match item {
                    Value::String(s) => (s.as_str(), None),
                    Value::Object(o) => (
                        o.get("account_id").and_then(Value::as_str).unwrap_or(""),
                        o.get("role")
                            .and_then(Value::as_str)
                            .map(|r| r.trim().to_string()),
                    ),
                    _ => return Err(type_error(f, "an array of account ids")),
                };
                if !crate::ids::is_valid_id(id) {
                    return Err(FieldError::new(
                        f,
                        "invalid_reference",
                        format!("{f} contains an invalid account id"),
                    ));
                }
                let role = link_role(f, role.as_deref())?;
                if !out.iter().any(|l| l.account_id == id) {
                    out.push(AccountLink {
                        account_id: id.to_string(),
                        role,
                    });
                }
            }
            FieldValue::Links(out)
        }
        FieldKind::Integer { min, max } => {
            let n = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) if !s.trim().is_empty() => s.trim().parse::<i64>().ok(),
                Value::String(_) => return Ok(FieldValue::Null),
                _ => None,
            }
            .ok_or_else(|| type_error(f, "a whole number"))?;
            if n < min || n > max {
                return Err(FieldError::new(
                    f,
                    "out_of_range",
                    format!("{f} must be between {min} and {max}"),
                ));
            }
            FieldValue::Int(n)
        }
        FieldKind::Stage => {
            let s = as_str(f, v)?.trim();
            if s.is_empty() {
                return Ok(FieldValue::Null);
            }
            if s.len() > 64 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(FieldError::new(
                    f,
                    "invalid_choice",
                    format!("{f} must be a stage key such as negotiation"),
                ));
            }
            FieldValue::Text(s.to_string())
        }
        FieldKind::LineItems => parse_lines(f, v)?,
        FieldKind::ContactLinks => {
            let arr = v.as_array().ok_or_else(|| type_error(f, "an array"))?;
            if arr.len() > 50 {
                return Err(FieldError::new(
                    f,
                    "too_many",
                    format!("{f} takes at most 50 items"),
                ));
            }
            let mut out: Vec<Value> = Vec::new();
            for item in arr {
                let (id, role) = match item {
                    Value::String(s) => (s.as_str(), None),
                    Value::Object(o) => (
                        o.get("contact_id").and_then(Value::as_str).unwrap_or(""),
                        o.get("role").and_then(Value::as_str).map(str::trim),
                    ),
                    _ => return Err(type_error(f, "an array of contact ids")),
                };
                if !crate::ids::is_valid_id(id) {
                    return Err(FieldError::new(
                        f,
                        "invalid_reference",
                        format!("{f} contains an invalid contact id"),
                    ));
                }
                let role = link_role(f, role)?;
                if !out.iter().any(|l| l["contact_id"] == id) {
                    out.push(json!({"contact_id": id, "role": role}));
                }
            }
            if out.is_empty() {
                FieldValue::Null
            } else {
                FieldValue::Json(Value::Array(out))
            }
        }
    })
}

/// The role of a link to an account or contact ("decision maker"): up to 60 characters of
/// plain text, empty meaning none.
fn link_role(f: &str, role: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(r) = role.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if r.chars().count() > 60 {
        return Err(FieldError::new(
            f,
            "too_long",
            format!("a role in {f} is longer than 60 characters"),
        ));
    }
    if r.chars()
        .any(|c| c.is_control() || validate::is_invisible_format(c))
    {
        return Err(FieldError::new(
            f,
            "invalid_characters",
            format!("a role in {f} contains control or invisible characters"),
        ));
    }
    Ok(Some(r.to_string()))
}

/// Parsed lines are kept as drafts until the store completes them from their products.
fn parse_lines(f: &str, v: &Value) -> Result<FieldValue, FieldError> {
    let drafts = crate::lines::parse(f, v)?;
    Ok(FieldValue::Json(Value::Array(
        drafts.iter().map(crate::lines::draft_to_json).collect(),
    )))
}

/// The contact ids of a [`FieldKind::ContactLinks`] value.
pub fn contact_link_ids(v: &FieldValue) -> Vec<String> {
    match v {
        FieldValue::Json(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i["contact_id"].as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_dates_are_written_as_the_api_documents() {
        let t = DateTime::parse_from_rfc3339("2026-12-02T19:54:18.9187+08:00")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(api_time(&t), "2026-12-02T11:54:18.918Z");
        let whole = DateTime::from_timestamp(0, 0).unwrap_or_else(|| panic!("epoch"));
        assert_eq!(api_time(&whole), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            serde_json::to_value(FieldValue::DateTime(t)).ok(),
            Some(json!("2026-12-02T11:54:18.918Z"))
        );
        let d = NaiveDate::from_ymd_opt(207, 3, 9).unwrap_or_else(|| panic!("date"));
        assert_eq!(
            serde_json::to_value(FieldValue::Date(d)).ok(),
            Some(json!("0207-03-09"))
        );
    }

    #[test]
    fn wrong_types_name_the_field() {
        let spec = FieldSpec::new("name", FieldKind::Text { max: 10 }, "Name", "名称");
        let err = parse_value(&spec, &json!(5), &ParseContext::default());
        assert!(matches!(err, Err(ref e) if e.field == "name" && e.code == "invalid_type"));
        let err = parse_value(&spec, &json!("x".repeat(11)), &ParseContext::default());
        assert!(matches!(err, Err(ref e) if e.code == "too_long"));
    }

    #[test]
    fn picklist_values_and_link_roles_are_measured_in_characters() {
        let ctx = ParseContext::default();
        let pick = FieldSpec::new("industry", FieldKind::Picklist("industry"), "I", "行业");
        assert!(parse_value(&pick, &json!("制".repeat(64)), &ctx).is_ok());
        let err = parse_value(&pick, &json!("制".repeat(65)), &ctx);
        assert!(matches!(err, Err(ref e) if e.code == "too_long"));
        let err = parse_value(&pick, &json!("a\u{1f}b"), &ctx);
        assert!(matches!(err, Err(ref e) if e.code == "invalid_characters"));
        let links = FieldSpec::new("account_ids", FieldKind::AccountLinks, "A", "客户");
        let id = "01a2027c-22ed-7012-bfd2-349135b6c66d";
        let ok = parse_value(
            &links,
            &json!([{"account_id": id, "role": "采".repeat(60)}]),
            &ctx,
        );
        assert!(ok.is_ok());
        let long = parse_value(
            &links,
            &json!([{"account_id": id, "role": "x".repeat(61)}]),
            &ctx,
        );
        assert!(matches!(long, Err(ref e) if e.code == "too_long"));
        let contacts = FieldSpec::new("contacts", FieldKind::ContactLinks, "C", "联系人");
        let ctl = parse_value(
            &contacts,
            &json!([{"contact_id": id, "role": "a\u{7}b"}]),
            &ctx,
        );
        assert!(matches!(ctl, Err(ref e) if e.code == "invalid_characters"));
    }

    #[test]
    fn tags_are_deduplicated() {
        let spec = FieldSpec::new("tags", FieldKind::Tags, "Tags", "标签");
        let v = parse_value(
            &spec,
            &json!(["vip", " vip", "new"]),
            &ParseContext::default(),
        );
        assert_eq!(
            v.ok(),
            Some(FieldValue::List(vec!["vip".into(), "new".into()]))
        );
    }
}
