//! Custom fields defined by administrators: their kinds, definitions and value rules.
//! Keys start with `cf_` so they never collide with built-in or future fields.

use crate::error::FieldError;
use crate::fields::{parse_named, FieldKind, FieldValue, ParseContext};
use crate::permission::Object;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomKind {
    Text,
    LongText,
    Number,
    Money,
    Date,
    Datetime,
    Choice,
    MultiChoice,
    Checkbox,
    User,
    Url,
    Email,
    Phone,
}

impl CustomKind {
    pub fn parse(s: &str) -> Option<CustomKind> {
        serde_json::from_value(json!(s)).ok()
    }

    pub fn key(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Kinds that can be marked sensitive (stored encrypted, found by exact value only).
    pub fn can_be_sensitive(self) -> bool {
        matches!(
            self,
            CustomKind::Text
                | CustomKind::LongText
                | CustomKind::Email
                | CustomKind::Phone
                | CustomKind::Number
                | CustomKind::Date
                | CustomKind::Url
        )
    }

    /// Numeric kinds compare as numbers in filters.
    pub fn is_numeric(self) -> bool {
        matches!(self, CustomKind::Number | CustomKind::Money)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceOption {
    pub value: String,
    pub label_en: String,
    pub label_zh: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomField {
    pub id: String,
    pub object: Object,
    pub key: String,
    pub label_en: String,
    pub label_zh: String,
    pub kind: CustomKind,
    #[serde(default)]
    pub options: Vec<ChoiceOption>,
    #[serde(default)]
    pub required: bool,
    /// Stored form of the default value (see [`CustomField::parse`]).
    #[serde(default)]
    pub default: Option<Value>,
    #[serde(default)]
    pub sensitive: bool,
    #[serde(default)]
    pub position: i32,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

pub fn is_custom_key(key: &str) -> bool {
    key.len() > 3
        && key.len() <= 43
        && key.starts_with("cf_")
        && key[3..]
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl CustomField {
    /// Check a definition an administrator sends.
    pub fn check_definition(&self) -> Result<(), FieldError> {
        if !is_custom_key(&self.key) {
            return Err(FieldError::new(
                "key",
                "invalid_key",
                "a custom field key is cf_ followed by 1-40 lower-case letters, digits or _",
            ));
        }
        for (name, label) in [("label_en", &self.label_en), ("label_zh", &self.label_zh)] {
            if label.trim().is_empty() || label.chars().count() > 60 {
                return Err(FieldError::new(
                    name,
                    "invalid",
                    format!("{name} has 1-60 characters"),
                ));
            }
        }
        let choices = matches!(self.kind, CustomKind::Choice | CustomKind::MultiChoice);
        if choices && self.options.is_empty() {
            return Err(FieldError::new(
                "options",
                "required",
                "a choice field needs options",
            ));
        }
        if !choices && !self.options.is_empty() {
            return Err(FieldError::new(
                "options",
                "not_allowed",
                "only choice fields have options",
            ));
        }
        let mut seen = Vec::new();
        for o in &self.options {
            if o.value.trim().is_empty()
                || o.value.len() > 64
                || seen.contains(&o.value)
                || o.label_en.trim().is_empty()
                || o.label_zh.trim().is_empty()
            {
                return Err(FieldError::new(
                    "options",
                    "invalid",
                    "options need distinct values (1-64 characters) and both labels",
                ));
            }
            seen.push(o.value.clone());
        }
        if self.sensitive && !self.kind.can_be_sensitive() {
            return Err(FieldError::new(
                "sensitive",
                "not_allowed",
                format!("{} fields cannot be sensitive", self.kind.key()),
            ));
        }
        Ok(())
    }

    pub fn base_kind(&self) -> FieldKind {
        match self.kind {
            CustomKind::Text | CustomKind::Choice => FieldKind::Text { max: 500 },
            CustomKind::LongText => FieldKind::LongText,
            CustomKind::Money => FieldKind::Money,
            CustomKind::Date => FieldKind::Date,
            CustomKind::Datetime => FieldKind::DateTime,
            CustomKind::MultiChoice => FieldKind::Tags,
            CustomKind::Checkbox => FieldKind::Bool,
            CustomKind::User => FieldKind::UserRef,
            CustomKind::Url => FieldKind::Url,
            CustomKind::Email => FieldKind::Email,
            CustomKind::Phone => FieldKind::Phone,
            CustomKind::Number => FieldKind::Text { max: 40 },
        }
    }

    /// Validate an incoming API value and return its normalised form (`null` clears it), which
    /// is both what is stored and what the API shows: numbers as JSON numbers, money as a
    /// decimal string, phones in E.164, emails lower-cased.
    pub fn parse(&self, v: &Value, ctx: &ParseContext) -> Result<Value, FieldError> {
        let k = self.key.as_str();
        if v.is_null() {
            return Ok(Value::Null);
        }
        if self.kind == CustomKind::Number {
            let n = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) if !s.trim().is_empty() => s.trim().parse::<f64>().ok(),
                Value::String(_) => return Ok(Value::Null),
                _ => None,
            };
            return match n.filter(|x| x.is_finite() && x.abs() < 1e15) {
                Some(x) if x.fract() == 0.0 => Ok(json!(x as i64)),
                Some(x) => Ok(json!(x)),
                None => Err(FieldError::new(
                    k,
                    "invalid_number",
                    format!("{k} must be a number"),
                )),
            };
        }
        let parsed = parse_named(k, self.base_kind(), v, ctx)?;
        // Stored exactly as the API shows it (money as a decimal string).
        let stored = match &parsed {
            FieldValue::Null => Value::Null,
            other => other.to_json(),
        };
        match self.kind {
            CustomKind::Choice => {
                if let Some(s) = stored.as_str() {
                    if !s.is_empty() && !self.options.iter().any(|o| o.value == s) {
                        return Err(FieldError::new(
                            k,
                            "invalid_choice",
                            format!("{s} is not an option of {k}"),
                        ));
                    }
                    if s.is_empty() {
                        return Ok(Value::Null);
                    }
                }
            }
            CustomKind::MultiChoice => {
                if let Some(items) = stored.as_array() {
                    for i in items {
                        if !self
                            .options
                            .iter()
                            .any(|o| Some(o.value.as_str()) == i.as_str())
                        {
                            return Err(FieldError::new(
                                k,
                                "invalid_choice",
                                format!("{i} is not an option of {k}"),
                            ));
                        }
                    }
                    if items.is_empty() {
                        return Ok(Value::Null);
                    }
                }
            }
            _ => {}
        }
        Ok(stored)
    }

    /// The normalised text a blind index is computed over (sensitive fields).
    pub fn index_text(&self, stored: &Value) -> Option<String> {
        match stored {
            Value::Null => None,
            Value::String(s) => Some(s.to_lowercase()),
            other => Some(other.to_string()),
        }
    }

    pub fn label(&self, zh: bool) -> &str {
        if zh {
            &self.label_zh
        } else {
            &self.label_en
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: CustomKind) -> CustomField {
        CustomField {
            id: String::new(),
            object: Object::record("account", "accounts", crate::permission::Ownership::Owned),
            key: "cf_test".into(),
            label_en: "Test".into(),
            label_zh: "测试".into(),
            kind,
            options: vec![],
            required: false,
            default: None,
            sensitive: false,
            position: 0,
            active: true,
        }
    }

    #[test]
    fn keys() {
        assert!(is_custom_key("cf_region_code"));
        assert!(!is_custom_key("region"));
        assert!(!is_custom_key("cf_Bad"));
        assert!(!is_custom_key("cf_"));
    }

    #[test]
    fn values_are_normalised() {
        let ctx = ParseContext::default();
        assert_eq!(
            field(CustomKind::Number).parse(&json!("12.5"), &ctx).ok(),
            Some(json!(12.5))
        );
        assert!(field(CustomKind::Number)
            .parse(&json!("abc"), &ctx)
            .is_err());
        assert_eq!(
            field(CustomKind::Money).parse(&json!("10.2"), &ctx).ok(),
            Some(json!("10.20"))
        );
        assert_eq!(
            field(CustomKind::Phone)
                .parse(&json!("13800138000"), &ctx)
                .ok(),
            Some(json!("+8613800138000"))
        );
        let mut c = field(CustomKind::Choice);
        c.options = vec![ChoiceOption {
            value: "gold".into(),
            label_en: "Gold".into(),
            label_zh: "金牌".into(),
        }];
        assert!(c.parse(&json!("gold"), &ctx).is_ok());
        let err = c.parse(&json!("silver"), &ctx);
        assert!(matches!(err, Err(ref e) if e.code == "invalid_choice" && e.field == "cf_test"));
    }

    #[test]
    fn definitions_are_checked() {
        let mut c = field(CustomKind::Choice);
        assert!(c.check_definition().is_err(), "a choice without options");
        c.options = vec![ChoiceOption {
            value: "a".into(),
            label_en: "A".into(),
            label_zh: "甲".into(),
        }];
        assert!(c.check_definition().is_ok());
        let mut cb = field(CustomKind::Checkbox);
        cb.sensitive = true;
        assert!(cb.check_definition().is_err());
    }
}
