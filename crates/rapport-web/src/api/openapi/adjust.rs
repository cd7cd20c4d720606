//! Passes over the built document: path parameter schemas, per-type duplicate rule paths,
//! nullable optional properties, PATCH variants of the record schemas.

use serde_json::{json, Value};

/// The schema of a path parameter: the names a route can take where they are a fixed set.
pub(super) fn path_param_schema(path: &str, name: &str) -> Value {
    match name {
        "list" => json!({"type": "string", "enum": rapport_services::picklists::DEFAULTS
            .iter().map(|(k, _)| *k).collect::<Vec<_>>()}),
        "object" if path.starts_with("/api/v1/duplicate-rules/") => {
            json!({"type": "string", "enum": ["accounts", "contacts"]})
        }
        "object" => json!({"type": "string", "enum": rapport_services::objects::ALL
            .iter().map(|d| d.plural()).collect::<Vec<_>>()}),
        "key" if path.starts_with("/api/v1/custom-fields/") => {
            json!({"type": "string", "pattern": "^cf_[a-z0-9_]{1,40}$"})
        }
        "key" => json!({"type": "string", "pattern": "^[a-z][a-z0-9_]{1,39}$"}),
        _ => json!({"type": "string"}),
    }
}

/// Duplicate rules exist for accounts and contacts, each with its own rule names: one path
/// per type instead of `{object}`.
pub(super) fn duplicate_rule_paths(doc: &mut Value) {
    let Some(Value::Object(paths)) = doc.get_mut("paths") else {
        return;
    };
    let Some(generic) = paths.remove("/api/v1/duplicate-rules/{object}") else {
        return;
    };
    for def in rapport_services::objects::ALL
        .iter()
        .filter(|d| !d.hooks.duplicate_rules().is_empty())
    {
        let mut ops = generic.clone();
        let rules: serde_json::Map<String, Value> = def
            .hooks
            .duplicate_rules()
            .iter()
            .map(|r| (r.key.to_string(), json!({"enum": ["block", "warn", "off"]})))
            .collect();
        for (method, op) in ops.as_object_mut().into_iter().flatten() {
            if let Some(o) = op.as_object_mut() {
                o.remove("parameters");
                o.insert(
                    "operationId".into(),
                    json!(format!("{method}_duplicate_rules_{}", def.plural())),
                );
            }
            if op.get("requestBody").is_some() {
                op["requestBody"]["content"]["application/json"]["schema"] = json!({"type": "object",
                    "additionalProperties": false, "properties": rules});
            }
        }
        paths.insert(format!("/api/v1/duplicate-rules/{}", def.plural()), ops);
    }
}

/// An optional property of a request body may be sent as null, which the API reads as
/// absent (or, on a record, as clearing the field).
pub(super) fn nullable_optionals(doc: &mut Value) {
    let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") else {
        return;
    };
    for (name, schema) in schemas.iter_mut() {
        let record = schema.pointer("/properties/unreadable").is_some();
        let by_fields = [
            "MePatch",
            "TokenCreate",
            "RoleCreate",
            "RolePut",
            "DepartmentCreate",
            "SmtpSettings",
            "Bulk",
            "ContactEmail",
            "SmtpTest",
        ];
        if !record && !by_fields.contains(&name.as_str()) {
            continue;
        }
        let required: Vec<String> = schema["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let Some(Value::Object(props)) = schema.get_mut("properties") else {
            continue;
        };
        for (key, p) in props.iter_mut() {
            if required.contains(key)
                || p.get("readOnly").is_some()
                || p.get("propertyNames").is_some()
            {
                continue;
            }
            match p.get_mut("type") {
                Some(Value::String(t)) => {
                    let t = t.clone();
                    p["type"] = json!([t, "null"]);
                }
                Some(Value::Array(types)) if !types.iter().any(|t| t == "null") => {
                    types.push(json!("null"));
                }
                Some(_) => {}
                None => {
                    if let Some(Value::Array(values)) = p.get_mut("enum") {
                        if !values.iter().any(Value::is_null) {
                            values.push(Value::Null);
                        }
                    }
                }
            }
        }
    }
}

/// Record schemas for PATCH: the same properties, none required, none of the required ones
/// nullable.
pub(super) fn add_patch_schemas(doc: &mut Value) {
    let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") else {
        return;
    };
    let records: Vec<(String, Value)> = schemas
        .iter()
        .filter(|(_, v)| v.pointer("/properties/unreadable").is_some())
        .map(|(k, v)| {
            let mut v = v.clone();
            // A field required at creation may be left out of a change but not cleared.
            let required = std::mem::replace(&mut v["required"], json!([]));
            for name in required
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if let Some(Value::Array(types)) =
                    v.pointer_mut(&format!("/properties/{name}/type"))
                {
                    types.retain(|t| t != "null");
                }
            }
            (format!("{k}Patch"), v)
        })
        .collect();
    let patch_names: Vec<String> = records.iter().map(|(k, _)| k.clone()).collect();
    schemas.extend(records);
    let Some(Value::Object(paths)) = doc.get_mut("paths") else {
        return;
    };
    for ops in paths.values_mut() {
        if let Some(r) = ops.pointer_mut("/patch/requestBody/content/application~1json/schema/$ref")
        {
            if let Some(name) = r
                .as_str()
                .and_then(|n| n.strip_prefix("#/components/schemas/"))
            {
                let patch = format!("{name}Patch");
                if !name.ends_with("Patch") && patch_names.contains(&patch) {
                    *r = json!(format!("#/components/schemas/{patch}"));
                }
            }
        }
    }
}
