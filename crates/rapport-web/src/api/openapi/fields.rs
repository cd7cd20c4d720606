//! Schemas of record fields, generated from the field metadata the services validate against,
//! and the small shared pieces (names, amounts, currencies) other schemas use.

use rapport_core::fields::{FieldKind, FieldSpec};
use rapport_services::objects::CONTACTS;
use serde_json::{json, Map, Value};

/// One line of text as fields store it: no control characters, no invisible formatting
/// (bidirectional overrides, zero-width characters).
pub(super) const PLAIN_TEXT: &str =
    "^[^\\u0000-\\u001f\\u007f-\\u009f\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\ufeff]*$";
/// Text of a document's line: no control characters (a description may hold line breaks).
const LINE_TEXT: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";
/// A percentage from 0 to 100 with up to two decimals, or empty.
const PERCENT: &str = "^\\s*(0*([0-9]{1,2}(\\.[0-9]{0,2})?|100(\\.0{0,2})?))?\\s*$";
const LINE_LONG_TEXT: &str = "^[^\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f]*$";

/// A name: plain text with at least one character that is not a space.
pub(super) const NAME_TEXT: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\ufeff]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\ufeff][^\\u0000-\\u001f\\u007f-\\u009f\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\ufeff]*$";

pub(super) fn field_schema(f: &FieldSpec) -> Value {
    let mut s = match f.kind {
        FieldKind::Text { max } => {
            json!({"type": ["string", "null"], "maxLength": max, "pattern": PLAIN_TEXT})
        }
        FieldKind::LongText => json!({"type": ["string", "null"], "maxLength": 20000}),
        FieldKind::Url => json!({"type": ["string", "null"], "format": "uri"}),
        FieldKind::Email => json!({"type": ["string", "null"], "format": "email"}),
        FieldKind::Phone => {
            json!({"type": ["string", "null"], "description": "any format; stored and returned as E.164"})
        }
        FieldKind::EmailList => {
            json!({"type": "array", "items": {"type": "string", "format": "email"}})
        }
        FieldKind::PhoneList => json!({"type": "array", "items": {"type": "string"}}),
        FieldKind::CreditCode => {
            json!({"type": ["string", "null"], "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$", "description": "unified social credit code, check character verified"})
        }
        FieldKind::IdNumber => {
            json!({"type": ["string", "null"], "pattern": "^[0-9]{17}[0-9X]$", "description": "resident identity card number, check character verified"})
        }
        FieldKind::Picklist(list) => {
            json!({"type": ["string", "null"], "maxLength": 64, "pattern": PLAIN_TEXT, "description": format!("a value of the {list} picklist (GET /api/v1/picklists/{list})")})
        }
        FieldKind::Tags => {
            json!({"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 40, "pattern": NAME_TEXT, "not": {"pattern": "\""}}})
        }
        FieldKind::UserRef
        | FieldKind::DepartmentRef
        | FieldKind::AccountRef
        | FieldKind::PipelineRef
        | FieldKind::PriceListRef
        | FieldKind::RecordRef(_) => {
            json!({"type": ["string", "null"], "format": "uuid"})
        }
        FieldKind::LineItems => {
            json!({"type": ["array", "null"], "maxItems": 200, "items": {"type": "object", "additionalProperties": false,
                "anyOf": [
                    {"required": ["product_id"], "properties": {"product_id": {"type": "string"}}},
                    {"required": ["name", "unit_price"], "properties": {"name": {"type": "string", "minLength": 1, "pattern": "\\S"}, "unit_price": {"type": "string", "pattern": "[0-9]"}}}],
                "description": "a line names a product, or has a name and a unit price of its own",
                "properties": {
                "product_id": {"type": ["string", "null"], "format": "uuid", "description": "fills name, unit, unit_price and tax_rate when they are left out"},
                "name": {"type": ["string", "null"], "maxLength": 200, "pattern": LINE_TEXT},
                "description": {"type": ["string", "null"], "maxLength": 1000, "pattern": LINE_LONG_TEXT},
                "unit": {"type": ["string", "null"], "maxLength": 20, "pattern": LINE_TEXT},
                "quantity": {"type": "string", "pattern": "^[0-9]{1,9}(\\.[0-9]{1,3})?$", "not": {"pattern": "^0*(\\.0*)?$"}, "description": "positive decimal, up to 3 decimals; default 1"},
                "unit_price": {"type": ["string", "null"], "pattern": "^\\s*(0*[0-9]{1,11}(\\.[0-9]{0,2})?)?\\s*$", "description": "decimal amount as a string, not negative; empty: the product's price"},
                "discount": {"type": ["string", "null"], "pattern": PERCENT, "description": "percent from 0 to 100, up to 2 decimals"},
                "tax_rate": {"type": ["string", "null"], "pattern": PERCENT, "description": "percent from 0 to 100, up to 2 decimals; empty: the product's rate"},
                "gross": {"type": "string", "readOnly": true},
                "net": {"type": "string", "readOnly": true, "description": "quantity × unit price × (1 − discount), rounded half away from zero"},
                "tax": {"type": "string", "readOnly": true},
                "total": {"type": "string", "readOnly": true}
            }}})
        }
        FieldKind::Integer { min, max } => {
            json!({"type": ["integer", "null"], "minimum": min, "maximum": max})
        }
        FieldKind::Stage => {
            json!({"type": ["string", "null"], "pattern": "^[A-Za-z0-9_]{1,64}$", "description": "a stage key of the opportunity's pipeline (GET /api/v1/pipelines)"})
        }
        FieldKind::ContactLinks => {
            json!({"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["contact_id"], "properties": {"contact_id": {"type": "string", "format": "uuid"}, "role": {"type": ["string", "null"], "maxLength": 60, "pattern": PLAIN_TEXT}}}, "maxItems": 50})
        }
        FieldKind::Money => {
            json!({"type": ["string", "null"], "pattern": "^-?[0-9]{1,15}(\\.[0-9]{1,2})?$", "description": "decimal amount as a string"})
        }
        FieldKind::Date => json!({"type": ["string", "null"], "format": "date"}),
        FieldKind::DateTime => json!({"type": ["string", "null"], "format": "date-time"}),
        FieldKind::Bool => json!({"type": ["boolean", "null"]}),
        FieldKind::JsonObject => json!({"type": ["object", "null"]}),
        FieldKind::Consent => {
            json!({"type": ["object", "null"], "required": ["granted"], "additionalProperties": false, "properties": {"granted": {"type": "boolean"}, "at": {"type": ["string", "null"], "format": "date-time"}, "source": {"type": ["string", "null"]}}})
        }
        FieldKind::AccountLinks => {
            json!({"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["account_id"], "properties": {"account_id": {"type": "string", "format": "uuid"}, "role": {"type": ["string", "null"], "maxLength": 60, "pattern": PLAIN_TEXT}}}, "maxItems": 50})
        }
    };
    if let Value::Object(m) = &mut s {
        m.insert("title".into(), json!(f.label_en));
        if f.sensitive {
            m.insert("x-sensitive".into(), json!(true));
        }
        if f.system {
            m.insert("readOnly".into(), json!(true));
        }
    }
    s
}

/// A field's schema in a record: a required one is never null or blank, and a currency is
/// one of the ISO 4217 codes.
pub(super) fn field_schema_of(f: &FieldSpec) -> Value {
    let mut s = field_schema(f);
    if f.name == "currency" {
        let mut codes: Vec<Value> = rapport_core::validate::currency_codes()
            .iter()
            .map(|c| json!(c))
            .collect();
        codes.push(Value::Null);
        s["enum"] = Value::Array(codes);
    }
    if f.required {
        if let Some(Value::Array(types)) = s.get_mut("type") {
            types.retain(|t| t != "null");
        }
        if let Some(Value::Array(values)) = s.get_mut("enum") {
            values.retain(|v| !v.is_null());
        }
        let text = s["type"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "string"));
        if text && s.get("format").is_none() {
            match s.get("pattern").and_then(Value::as_str) {
                None => {
                    s["minLength"] = json!(1);
                    s["pattern"] = json!("\\S");
                }
                // Plain text that must not be blank: a name.
                Some(PLAIN_TEXT) => {
                    s["minLength"] = json!(1);
                    s["pattern"] = json!(NAME_TEXT);
                }
                Some(_) => {}
            }
        }
    }
    s
}

pub(super) fn record_schema(fields: &[FieldSpec], extra: Value) -> Value {
    let mut props = Map::new();
    props.insert(
        "id".into(),
        json!({"type": "string", "format": "uuid", "readOnly": true}),
    );
    for f in fields {
        props.insert(f.name.into(), field_schema_of(f));
    }
    props.insert(
        "created_at".into(),
        json!({"type": "string", "format": "date-time", "readOnly": true}),
    );
    props.insert(
        "updated_at".into(),
        json!({"type": "string", "format": "date-time", "readOnly": true}),
    );
    props.insert(
        "unreadable".into(),
        json!({"type": "array", "items": {"type": "string"}, "readOnly": true,
            "description": "present only when stored values do not decrypt with the loaded keys: the fields shown as null for that reason (`custom` for the sensitive custom fields); the record cannot be changed until an administrator restores the key"}),
    );
    if let Value::Object(e) = extra {
        props.extend(e);
    }
    let required: Vec<&str> = fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false,
        "patternProperties": {CUSTOM_KEY: custom_value()},
        "description": "also takes the installation's custom fields (cf_…, GET /api/v1/custom-fields/{object}); a cf_ key no definition has is refused with unknown_custom_field"})
}

pub(super) fn contact_schema() -> Value {
    let mut s = record_schema(
        CONTACTS.fields,
        json!({"account_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}}}),
    );
    s["not"] = json!({"required": ["accounts", "account_ids"],
        "description": "accounts (with roles) or account_ids, not both"});
    s
}

/// An ISO 4217 code.
pub(super) fn currency() -> Value {
    json!({"type": "string", "enum": rapport_core::validate::currency_codes()})
}

/// A decimal amount as a string.
pub(super) fn money() -> Value {
    json!({"type": "string", "pattern": "^-?[0-9]{1,15}(\\.[0-9]{1,2})?$"})
}

/// Rights or field rules keyed by object (`account`, ..., `settings`).
/// A role's permissions: per object, per action, the scope it reaches.
pub(super) fn permissions_map() -> Value {
    use rapport_core::permission::{Action, Scope};
    let objects: Vec<&str> = rapport_core::Object::all()
        .iter()
        .map(|o| o.key())
        .collect();
    let actions: Vec<&str> = Action::ALL.iter().map(|a| a.key()).collect();
    let scopes: Vec<Value> = [
        Scope::None,
        Scope::Own,
        Scope::Subordinates,
        Scope::Department,
        Scope::DepartmentTree,
        Scope::All,
    ]
    .iter()
    .map(|s| serde_json::to_value(s).unwrap_or_default())
    .collect();
    json!({"type": "object", "propertyNames": {"enum": objects},
        "additionalProperties": {"type": "object", "propertyNames": {"enum": actions},
            "additionalProperties": {"enum": scopes}}})
}

/// A role's field rules: per record type, per field (its own or a custom one), hidden or
/// read-only. Objects that are not record types have no fields to rule on.
pub(super) fn field_rules_map() -> Value {
    let access = json!({"enum": ["hidden", "read_only"]});
    let mut props = Map::new();
    for o in rapport_core::Object::all() {
        let rule = match rapport_services::objects::def_of(o) {
            Some(d) => {
                let names: Vec<&str> = d.fields.iter().map(|f| f.name).collect();
                json!({"type": "object", "additionalProperties": access,
                    "propertyNames": {"anyOf": [{"enum": names}, {"pattern": CUSTOM_KEY}]}})
            }
            None => json!({"type": "object", "maxProperties": 0}),
        };
        props.insert(o.key().to_string(), rule);
    }
    json!({"type": "object", "properties": props, "additionalProperties": false})
}

/// A stage name: 1 to 60 characters, not only spaces.
pub(super) fn stage_name() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 60, "pattern": NAME_TEXT})
}

/// A display name: 1 to 100 characters, not only spaces.
pub(super) fn name() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 100, "pattern": NAME_TEXT})
}

/// The keys custom fields have (`rapport_core::custom::is_custom_key`).
pub const CUSTOM_KEY: &str = "^cf_[a-z0-9_]{1,40}$";

/// A custom field's value: its kind (text, number, money, date, choice, several choices, yes or
/// no...) is in the field's definition, read at run time.
pub fn custom_value() -> Value {
    json!({"type": ["string", "number", "boolean", "array", "null"], "items": {"type": "string"},
           "description": "a custom field's value, as its definition's kind says"})
}
