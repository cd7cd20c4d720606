//! The JSON schema of a record type's filter tree, from the same field metadata the filter
//! compiler reads: which operators each field type takes and what value they compare with
//! (docs/api.md, "Filters"). Custom fields (`cf_…`) filter too; they depend on the
//! installation and are described in prose only.

use super::fields::field_schema;
use rapport_core::fields::{FieldKind, FieldSpec};
use rapport_services::records::ObjectDef;
use serde_json::{json, Value};

/// Conditions per group described in the schema (a filter may have 50).
const GROUP_ITEMS: usize = 10;

fn condition(field: &str, ops: &[&str], value: Option<Value>) -> Value {
    let mut props = json!({"field": {"const": field}, "op": {"enum": ops}});
    let mut required = vec!["field", "op"];
    if let Some(v) = value {
        props["value"] = v;
        required.push("value");
    }
    json!({"type": "object", "additionalProperties": false, "properties": props, "required": required})
}

/// A field's value schema without null (a filter compares with a value).
fn value_of(f: &FieldSpec) -> Value {
    let mut s = field_schema(f);
    if let Some(Value::Array(types)) = s.get_mut("type") {
        types.retain(|t| t != "null");
    }
    if let Some(m) = s.as_object_mut() {
        m.remove("readOnly");
        m.remove("title");
    }
    s
}

fn conditions_of(f: &FieldSpec, out: &mut Vec<Value>) {
    out.push(condition(f.name, &["is_empty", "is_not_empty"], None));
    let uuid = json!({"type": "string", "format": "uuid"});
    match f.kind {
        FieldKind::AccountLinks | FieldKind::ContactLinks | FieldKind::LineItems => {
            out.push(condition(f.name, &["has"], Some(uuid)));
        }
        FieldKind::Email
        | FieldKind::Phone
        | FieldKind::EmailList
        | FieldKind::PhoneList
        | FieldKind::CreditCode
        | FieldKind::IdNumber
            if f.sensitive =>
        {
            let item = match f.kind {
                FieldKind::EmailList => FieldSpec {
                    kind: FieldKind::Email,
                    ..*f
                },
                FieldKind::PhoneList => FieldSpec {
                    kind: FieldKind::Phone,
                    ..*f
                },
                _ => *f,
            };
            let mut v = value_of(&item);
            v["minLength"] = json!(1);
            out.push(condition(f.name, &["eq"], Some(v)));
        }
        _ if f.sensitive => {}
        FieldKind::Consent => {
            out.push(condition(f.name, &["eq"], Some(json!({"type": "boolean"}))))
        }
        FieldKind::Tags => out.push(condition(
            f.name,
            &["has", "has_not"],
            Some(json!({"type": "string", "maxLength": 40})),
        )),
        FieldKind::JsonObject => {}
        kind => {
            let v = value_of(f);
            out.push(condition(f.name, &["eq", "ne"], Some(v.clone())));
            out.push(condition(
                f.name,
                &["in"],
                Some(json!({"type": "array", "minItems": 1, "maxItems": 100, "items": v})),
            ));
            if matches!(
                kind,
                FieldKind::Text { .. }
                    | FieldKind::LongText
                    | FieldKind::Url
                    | FieldKind::Picklist(_)
            ) {
                out.push(condition(
                    f.name,
                    &["contains", "starts_with"],
                    Some(json!({"type": "string", "minLength": 1, "maxLength": 200})),
                ));
            }
            if matches!(
                kind,
                FieldKind::Money
                    | FieldKind::Integer { .. }
                    | FieldKind::Date
                    | FieldKind::DateTime
            ) {
                out.push(condition(f.name, &["gt", "gte", "lt", "lte"], Some(v)));
            }
        }
    }
}

/// The filter tree of `def`: a condition, or an `and`/`or` group of conditions. Deeper
/// nesting is accepted and described in prose: a schema that nests its alternatives grows
/// too large for clients that expand it.
pub fn filter_schema(def: &ObjectDef) -> Value {
    const CREATED: FieldSpec = FieldSpec::new("created_at", FieldKind::DateTime, "Created", "");
    const UPDATED: FieldSpec = FieldSpec::new("updated_at", FieldKind::DateTime, "Updated", "");
    let mut conds = Vec::new();
    for f in def.fields.iter().chain([&CREATED, &UPDATED]) {
        conditions_of(f, &mut conds);
    }
    let group = |items: Value| -> Value {
        let arr = json!({"type": "array", "maxItems": GROUP_ITEMS, "items": items});
        json!({"anyOf": [
            {"type": "object", "additionalProperties": false, "properties": {"and": arr}, "required": ["and"]},
            {"type": "object", "additionalProperties": false, "properties": {"or": arr}, "required": ["or"]},
        ]})
    };
    let cond = json!({"anyOf": conds});
    json!({"anyOf": [cond, group(cond.clone())],
        "description": "a condition, or an and/or group of conditions; groups nest up to 5 levels (see docs/api.md)"})
}
