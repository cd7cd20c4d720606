//! The OpenAPI 3.1 document for `/api/v1`. Record schemas are generated from the same field
//! metadata the services validate against, so the document cannot drift from the rules.

use axum::Json;
use rapport_services::objects::ACCOUNTS;
use serde_json::{json, Map, Value};

mod adjust;
mod bodies;
mod document_routes;
mod fields;
mod filter_schema;
mod routes;
pub use routes::ROUTES;

use adjust::{add_patch_schemas, duplicate_rule_paths, nullable_optionals, path_param_schema};
use bodies::{
    activity_create_schema, activity_schema, bulk_schema, export_start_schema, sales_schemas,
};
use fields::{contact_schema, field_rules_map, name, permissions_map, record_schema, stage_name};

/// (method, path, tag, summary, request schema, success status)
pub type RouteDoc = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    u16,
);

/// A new role: its rights copied from another role (`copy_of`) or given, not both.
fn role_create_schema() -> Value {
    json!({"type": "object", "additionalProperties": false, "required": ["key", "name_en", "name_zh"],
        "properties": {"key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,39}$"}, "name_en": name(), "name_zh": name(),
            "copy_of": {"type": ["string", "null"], "description": "the key of the role whose rights the new one starts with; not with permissions or field_rules"},
            "permissions": permissions_map(), "field_rules": field_rules_map(), "require_mfa": {"type": "boolean"}},
        "if": {"required": ["copy_of"], "properties": {"copy_of": {"type": "string"}}},
        "then": {"properties": {"permissions": {"type": "null"}, "field_rules": {"type": "null"}}}})
}

pub fn build() -> Value {
    let mut paths = Map::new();
    let all_routes = ROUTES
        .iter()
        .chain(document_routes::RECORD_ROUTES.iter().flatten())
        .chain(document_routes::ROUTES);
    for (method, path, tag, summary, body, status) in all_routes {
        let mut op = json!({
            "tags": [tag],
            "summary": summary,
            "operationId": format!("{method}_{}", path.trim_start_matches("/api/v1/").replace(['/', '{', '}', '-'], "_")),
            "responses": {
                status.to_string(): {"description": "success"},
                "414": {"description": "the URL is too long"},
                "431": {"description": "the request's headers (or its URL) are too large"},
                "default": {"description": "error", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
            },
        });
        let mut params = Vec::new();
        for seg in path.split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                params.push(json!({"name": name, "in": "path", "required": true, "schema": path_param_schema(path, name)}));
            }
        }
        let def = crate::api::query::def_of_path(path);
        if path.ends_with("/transfer") && def.is_some_and(|d| d.field("owner_id").is_none()) {
            continue;
        }
        params.extend(
            crate::api::query::of_route(method, path)
                .iter()
                .map(|p| p.to_openapi(def)),
        );
        // A single record: its version is its ETag, and a change or delete may name it.
        let record_one = rapport_services::objects::ALL
            .iter()
            .any(|d| *path == format!("/api/v1/{}/{{id}}", d.plural()));
        if record_one && matches!(*method, "get" | "patch" | "post") {
            op["responses"][status.to_string()]["headers"] = json!({"ETag": {
                "description": "the record's version; send it back in If-Match to change the record only as you read it",
                "schema": {"type": "string"}}});
        }
        if record_one && matches!(*method, "patch" | "delete") {
            params.push(json!({"name": "If-Match", "in": "header", "schema": {"type": "string", "pattern": "^(\\*|(W/)?\"[0-9]{1,18}\")$"},
                "description": "the ETag the record was read with: the change is made only if the record is still at that version"}));
            op["responses"]["409"] = json!({"description": "version_conflict: the record changed since it was read (also without If-Match, when it changed between this request's check and its write)",
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
        }
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(schema) = body {
            let binary = json!({"type": "string", "format": "binary", "minLength": 1});
            let content = match (*schema, def) {
                ("raw:vcard", _) => json!({"text/vcard": {"schema": binary}}),
                ("raw:import", _) => json!({
                    "text/csv": {"schema": binary},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": binary},
                    "text/vcard": {"schema": binary}}),
                ("Bulk", Some(d)) => json!({"application/json": {"schema": bulk_schema(d)}}),
                _ => {
                    json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}})
                }
            };
            op["requestBody"] = json!({"required": true, "content": content});
        }
        if !path.ends_with("/login") && !path.ends_with("/setup") {
            op["security"] = json!([{"bearer": []}, {"cookie": []}]);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    let obj = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required, "additionalProperties": false});
    let mut doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "Rapport API", "version": env!("CARGO_PKG_VERSION"), "description": "Self-hosted CRM. Errors are application/problem+json with a stable code."},
            "servers": [{"url": "/"}],
            "paths": paths,
            "components": {
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "cookie": {"type": "apiKey", "in": "cookie", "name": "rapport_session"},
                },
                "schemas": {
                    "Problem": {"type": "object", "properties": {
                        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                        "code": {"type": "string"}, "detail": {"type": "string"},
                        "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}}}
                    }, "required": ["type", "title", "status", "code"]},
                    "Account": record_schema(ACCOUNTS.fields, json!({})),
                    "Contact": contact_schema(),
                    "Login": obj(json!({"email": {"type": "string"}, "password": {"type": "string"}, "totp": {"type": "string"}}), &["email", "password"]),
                    "Setup": obj(json!({"email": {"type": "string"}, "name": {"type": "string"}, "password": {"type": "string", "minLength": 12}, "language": {"enum": ["zh-CN", "en"]}}), &["email", "password"]),
                    "MePatch": obj(json!({"language": {"enum": ["zh-CN", "en", "auto", null], "description": "auto (or null): the browser's language"}, "email_notifications": {"type": "array", "items": {"enum": ["task_assigned", "mention", "reminder", "approval_requested", "contract_approved", "contract_rejected"]}}}), &[]),
                    "PasswordChange": obj(json!({"current_password": {"type": "string"}, "new_password": {"type": "string", "minLength": 12}}), &["current_password", "new_password"]),
                    "EmailChange": obj(json!({"current_password": {"type": "string"}, "email": {"type": "string", "format": "email"}}), &["current_password", "email"]),
                    "Reauth": obj(json!({"current_password": {"type": "string"}}), &["current_password"]),
                    "MfaCode": obj(json!({"code": {"type": "string"}}), &["code"]),
                    "TokenCreate": obj(json!({"name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"}, "read_only": {"type": "boolean"}, "expires_at": {"type": "string", "format": "date-time"}}), &["name"]),
                    "UserCreate": obj(json!({"roles": {"type": "array", "minItems": 1, "items": {"type": "string"}}, "email": {"type": "string", "format": "email"}, "name": {"type": "string"}, "phone": {"type": "string"}, "time_zone": {"type": "string", "maxLength": 64, "pattern": "^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$"}, "password": {"type": "string", "minLength": 12}, "department": {"type": "string"}, "manager_email": {"type": "string"}, "language": {"enum": ["zh-CN", "en"]}}), &["email", "password"]),
                    "PasswordReset": obj(json!({"new_password": {"type": "string", "minLength": 12, "maxLength": 256}}), &["new_password"]),
                    "UserPatch": obj(json!({"active": {"type": "boolean"}, "roles": {"type": "array", "minItems": 1, "items": {"type": "string"}}}), &[]),
                    "DepartmentCreate": obj(json!({"name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"}, "parent_id": {"type": "string"}}), &["name"]),
                    "RolePut": obj(json!({"permissions": permissions_map(), "field_rules": field_rules_map(), "require_mfa": {"type": "boolean"}, "name_en": name(), "name_zh": name()}), &[]),
                    "RoleCreate": role_create_schema(),
                    "PicklistValue": obj(json!({"value": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "\\S"}, "label_en": stage_name(), "label_zh": stage_name(), "position": {"type": "integer", "minimum": -2147483648, "maximum": 2147483647}, "active": {"type": "boolean"}}), &["value", "label_en", "label_zh"]),
                    "DuplicateRules": {"type": "object", "additionalProperties": {"enum": ["block", "warn", "off"]}},
                    "Bulk": {"type": "object", "additionalProperties": false, "required": ["action"], "properties": {
                        "ids": {"type": "array", "items": {"type": "string"}},
                        "all_matching": {"type": "object", "properties": {"q": {"type": "string"}, "filter": {"type": "object"}}},
                        "action": {"enum": ["assign_owner", "add_tag", "remove_tag", "set_field", "delete"]},
                        "owner_id": {"type": "string"}, "reason": {"type": "string"}, "tag": {"type": "string"},
                        "field": {"type": "string"}, "value": {}, "confirm": {"type": "boolean"}}},
                    "CustomField": obj(json!({
                        "label_en": stage_name(), "label_zh": stage_name(),
                        "kind": {"enum": ["text", "long_text", "number", "money", "date", "datetime", "choice", "multi_choice", "checkbox", "user", "url", "email", "phone"]},
                        "options": {"type": "array", "items": {"type": "object", "properties": {"value": {"type": "string"}, "label_en": {"type": "string"}, "label_zh": {"type": "string"}}}},
                        "required": {"type": "boolean"}, "default": {}, "sensitive": {"type": "boolean"}, "position": {"type": "integer"}, "active": {"type": "boolean"}
                    }), &["label_en", "label_zh", "kind"]),
                    "SmtpTest": obj(json!({"to": {"type": "string", "format": "email", "description": "default: oneself"}}), &[]),
                    "ContactEmail": obj(json!({"subject": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"}, "body": {"type": "string", "minLength": 1, "maxLength": 100000, "pattern": "\\S"}}), &["subject", "body"]),
                    "Erase": obj(json!({"reason": {"type": "string"}}), &["reason"]),
                    "Activity": activity_schema(),
                    "ActivityCreate": activity_create_schema(),
                    "SmtpSettings": obj(json!({"host": {"type": "string", "anyOf": [{"format": "hostname", "minLength": 1}, {"format": "ipv4"}, {"format": "ipv6"}]}, "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                        "security": {"enum": ["starttls", "tls", "none"]}, "username": {"type": ["string", "null"]},
                        "password": {"type": ["string", "null"], "writeOnly": true}, "from_address": {"type": "string", "format": "email"},
                        "from_name": {"type": ["string", "null"]}}), &["host", "port", "security", "from_address"]),
                    "BackupTarget": backup_target_schema(),
                    "Transfer": obj(
    json!({"ids": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"type": "string", "format": "uuid"}}, "owner_id": {"type": "string", "format": "uuid"}, "reason": {"type": "string", "minLength": 1, "maxLength": 500, "pattern": "\\S"}}), &["ids", "owner_id", "reason"]),
                }
            }
        });
    if let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") {
        schemas.extend(sales_schemas());
    }
    if let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") {
        for d in rapport_services::objects::ALL {
            schemas.insert(
                format!("Filter_{}", d.plural()),
                filter_schema::filter_schema(d),
            );
        }
        schemas.insert("ExportStart".into(), export_start_schema());
    }
    nullable_optionals(&mut doc);
    add_patch_schemas(&mut doc);
    duplicate_rule_paths(&mut doc);
    if let Some(op) = doc.pointer_mut("/paths/~1api~1v1~1settings~1smtp~1test/post/responses") {
        op["502"] = json!({"description": "the mail server refused the message or could not be reached",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    }
    doc
}

/// The document depends only on the code, so it is built once per process.
pub async fn document() -> Json<Value> {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    Json(DOC.get_or_init(build).clone())
}

/// The off-site backup target: S3-compatible storage or an SFTP server. Optional fields may
/// be null (read as absent). Which fields a target needs depends on its kind (s3: bucket and
/// access_key; sftp: host_key), and the secret is required only while none is stored: those
/// are answered with their own codes (`required_for_kind`, `not_applicable`,
/// `secret_required`).
fn backup_target_schema() -> Value {
    let text = |pattern: &str| json!({"type": ["string", "null"], "pattern": pattern});
    let host = "[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$";
    json!({"type": "object", "additionalProperties": false, "required": ["endpoint"],
        "properties": {
            "kind": {"enum": ["s3", "sftp", null]},
            "endpoint": {"type": "string", "pattern": format!("^(https?://|sftp://[A-Za-z0-9._-]+@){host}")},
            "bucket": text("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
            "region": text("^[A-Za-z0-9-]{0,64}$"),
            "prefix": text("^[A-Za-z0-9._/-]{0,200}$"),
            "access_key": {"type": ["string", "null"], "minLength": 1, "maxLength": 128, "pattern": "^[\\x21-\\x7e]+$"},
            "secret_key": {"type": ["string", "null"], "writeOnly": true, "description": "s3: the secret access key; sftp: the private key (OpenSSH format, no passphrase)"},
            "path_style": {"type": ["boolean", "null"]},
            "host_key": {"type": ["string", "null"], "description": "sftp: the server's public key as ssh-keyscan prints it"}}})
}
