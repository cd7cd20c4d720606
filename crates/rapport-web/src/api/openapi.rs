//! The OpenAPI 3.1 document for `/api/v1`. Record schemas are generated from the same field
//! metadata the services validate against, so the document cannot drift from the rules.

use axum::Json;
use rapport_core::fields::{FieldKind, FieldSpec};
use rapport_store::records::{ACCOUNTS, CONTACTS};
use serde_json::{json, Map, Value};

/// (method, path, tag, summary, request schema, success status)
pub type RouteDoc = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    u16,
);

pub const ROUTES: &[RouteDoc] = &[
    (
        "get",
        "/api/v1/setup",
        "auth",
        "Whether the first administrator still has to be created",
        None,
        200,
    ),
    (
        "post",
        "/api/v1/setup",
        "auth",
        "Create the first administrator (only when there are no users)",
        Some("Setup"),
        201,
    ),
    (
        "post",
        "/api/v1/auth/login",
        "auth",
        "Sign in; returns a bearer token and sets the session cookie",
        Some("Login"),
        200,
    ),
    (
        "post",
        "/api/v1/auth/logout",
        "auth",
        "End the current session or revoke the token used",
        None,
        204,
    ),
    (
        "get",
        "/api/v1/me",
        "me",
        "The signed-in user and their merged permissions",
        None,
        200,
    ),
    (
        "patch",
        "/api/v1/me",
        "me",
        "Change one's language",
        Some("MePatch"),
        200,
    ),
    (
        "post",
        "/api/v1/me/password",
        "me",
        "Change one's password (re-authenticates; ends other sessions)",
        Some("PasswordChange"),
        204,
    ),
    (
        "post",
        "/api/v1/me/email",
        "me",
        "Change one's sign-in email (re-authenticates)",
        Some("EmailChange"),
        204,
    ),
    (
        "post",
        "/api/v1/me/mfa/enroll",
        "me",
        "Start TOTP enrolment: secret, otpauth URL and QR code",
        Some("Reauth"),
        200,
    ),
    (
        "post",
        "/api/v1/me/mfa/confirm",
        "me",
        "Confirm TOTP enrolment with a code; returns recovery codes once",
        Some("MfaCode"),
        200,
    ),
    (
        "post",
        "/api/v1/me/mfa/disable",
        "me",
        "Turn TOTP off (re-authenticates)",
        Some("Reauth"),
        204,
    ),
    (
        "get",
        "/api/v1/sessions",
        "sessions",
        "Active sessions of oneself (or of user_id, for administrators)",
        None,
        200,
    ),
    (
        "delete",
        "/api/v1/sessions/{id}",
        "sessions",
        "Revoke a session",
        None,
        204,
    ),
    (
        "get",
        "/api/v1/api-tokens",
        "sessions",
        "One's API tokens",
        None,
        200,
    ),
    (
        "post",
        "/api/v1/api-tokens",
        "sessions",
        "Create an API token (shown once)",
        Some("TokenCreate"),
        201,
    ),
    (
        "delete",
        "/api/v1/api-tokens/{id}",
        "sessions",
        "Revoke an API token",
        None,
        204,
    ),
    ("get", "/api/v1/users", "admin", "List users", None, 200),
    (
        "post",
        "/api/v1/users",
        "admin",
        "Create a user",
        Some("UserCreate"),
        201,
    ),
    ("get", "/api/v1/users/{id}", "admin", "One user", None, 200),
    (
        "patch",
        "/api/v1/users/{id}",
        "admin",
        "Enable, disable (ends their sessions and tokens) or change roles",
        Some("UserPatch"),
        200,
    ),
    (
        "get",
        "/api/v1/departments",
        "admin",
        "The department tree",
        None,
        200,
    ),
    (
        "post",
        "/api/v1/departments",
        "admin",
        "Create a department",
        Some("DepartmentCreate"),
        201,
    ),
    (
        "get",
        "/api/v1/roles",
        "admin",
        "Roles with their permissions and field rules",
        None,
        200,
    ),
    (
        "put",
        "/api/v1/roles/{key}",
        "admin",
        "Change a role's permissions, field rules or MFA requirement",
        Some("RolePut"),
        200,
    ),
    (
        "get",
        "/api/v1/audit",
        "admin",
        "Search the audit trail (administrators)",
        None,
        200,
    ),
    (
        "get",
        "/api/v1/picklists/{list}",
        "settings",
        "Values of a picklist",
        None,
        200,
    ),
    (
        "put",
        "/api/v1/picklists/{list}",
        "settings",
        "Add or relabel a picklist value",
        Some("PicklistValue"),
        200,
    ),
    (
        "get",
        "/api/v1/custom-fields/{object}",
        "settings",
        "Custom field definitions of accounts or contacts",
        None,
        200,
    ),
    (
        "put",
        "/api/v1/custom-fields/{object}/{key}",
        "settings",
        "Create or change a custom field (key starts with cf_)",
        Some("CustomField"),
        200,
    ),
    (
        "get",
        "/api/v1/duplicate-rules/{object}",
        "settings",
        "Duplicate rules of accounts or contacts",
        None,
        200,
    ),
    (
        "put",
        "/api/v1/duplicate-rules/{object}",
        "settings",
        "Set duplicate rules (block, warn, off)",
        Some("DuplicateRules"),
        200,
    ),
    (
        "get",
        "/api/v1/accounts",
        "accounts",
        "List accounts (q, filter, sort, limit, cursor)",
        None,
        200,
    ),
    (
        "post",
        "/api/v1/accounts",
        "accounts",
        "Create an account",
        Some("Account"),
        201,
    ),
    (
        "post",
        "/api/v1/accounts/transfer",
        "accounts",
        "Transfer accounts to a new owner with a reason",
        Some("Transfer"),
        200,
    ),
    (
        "get",
        "/api/v1/accounts/{id}",
        "accounts",
        "One account",
        None,
        200,
    ),
    (
        "patch",
        "/api/v1/accounts/{id}",
        "accounts",
        "Change fields of an account",
        Some("Account"),
        200,
    ),
    (
        "delete",
        "/api/v1/accounts/{id}",
        "accounts",
        "Delete an account",
        None,
        204,
    ),
    (
        "get",
        "/api/v1/accounts/{id}/history",
        "accounts",
        "Field change history of an account",
        None,
        200,
    ),
    (
        "get",
        "/api/v1/contacts",
        "contacts",
        "List contacts (q, filter, sort, limit, cursor)",
        None,
        200,
    ),
    (
        "post",
        "/api/v1/contacts",
        "contacts",
        "Create a contact",
        Some("Contact"),
        201,
    ),
    (
        "post",
        "/api/v1/contacts/transfer",
        "contacts",
        "Transfer contacts to a new owner with a reason",
        Some("Transfer"),
        200,
    ),
    (
        "get",
        "/api/v1/contacts/{id}",
        "contacts",
        "One contact",
        None,
        200,
    ),
    (
        "patch",
        "/api/v1/contacts/{id}",
        "contacts",
        "Change fields of a contact",
        Some("Contact"),
        200,
    ),
    (
        "delete",
        "/api/v1/contacts/{id}",
        "contacts",
        "Delete a contact",
        None,
        204,
    ),
    (
        "get",
        "/api/v1/contacts/{id}/history",
        "contacts",
        "Field change history of a contact",
        None,
        200,
    ),
    (
        "get",
        "/api/v1/accounts/export",
        "accounts",
        "CSV export (q, filter, cols); needs the export right",
        None,
        200,
    ),
    (
        "get",
        "/api/v1/contacts/export",
        "contacts",
        "CSV export (q, filter, cols); needs the export right",
        None,
        200,
    ),
    (
        "post",
        "/api/v1/accounts/bulk",
        "accounts",
        "Bulk action on selected or all matching accounts",
        Some("Bulk"),
        200,
    ),
    (
        "post",
        "/api/v1/contacts/bulk",
        "contacts",
        "Bulk action on selected or all matching contacts",
        Some("Bulk"),
        200,
    ),
    (
        "get",
        "/api/v1/contacts/{id}/privacy-export",
        "privacy",
        "Everything held about a contact, as JSON",
        None,
        200,
    ),
    (
        "post",
        "/api/v1/contacts/{id}/erase",
        "privacy",
        "Erase a contact's personal data (anonymise), with a reason",
        Some("Erase"),
        204,
    ),
];

fn field_schema(f: &FieldSpec) -> Value {
    let mut s = match f.kind {
        FieldKind::Text { max } => json!({"type": ["string", "null"], "maxLength": max}),
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
            json!({"type": ["string", "null"], "description": format!("a value of the {list} picklist (GET /api/v1/picklists/{list})")})
        }
        FieldKind::Tags => json!({"type": "array", "items": {"type": "string", "maxLength": 40}}),
        FieldKind::UserRef | FieldKind::DepartmentRef | FieldKind::AccountRef => {
            json!({"type": ["string", "null"], "format": "uuid"})
        }
        FieldKind::Money => {
            json!({"type": ["string", "null"], "pattern": "^-?[0-9]+(\\.[0-9]{1,2})?$", "description": "decimal amount as a string"})
        }
        FieldKind::Date => json!({"type": ["string", "null"], "format": "date"}),
        FieldKind::DateTime => json!({"type": ["string", "null"], "format": "date-time"}),
        FieldKind::Bool => json!({"type": ["boolean", "null"]}),
        FieldKind::JsonObject => json!({"type": ["object", "null"]}),
        FieldKind::Consent => {
            json!({"type": ["object", "null"], "properties": {"granted": {"type": "boolean"}, "at": {"type": ["string", "null"], "format": "date-time"}, "source": {"type": ["string", "null"]}}})
        }
        FieldKind::AccountLinks => {
            json!({"type": "array", "items": {"type": "object", "properties": {"account_id": {"type": "string", "format": "uuid"}, "role": {"type": ["string", "null"]}}}})
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

fn record_schema(fields: &[FieldSpec], extra: Value) -> Value {
    let mut props = Map::new();
    props.insert(
        "id".into(),
        json!({"type": "string", "format": "uuid", "readOnly": true}),
    );
    for f in fields {
        props.insert(f.name.into(), field_schema(f));
    }
    props.insert(
        "created_at".into(),
        json!({"type": "string", "format": "date-time", "readOnly": true}),
    );
    props.insert(
        "updated_at".into(),
        json!({"type": "string", "format": "date-time", "readOnly": true}),
    );
    if let Value::Object(e) = extra {
        props.extend(e);
    }
    let required: Vec<&str> = fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    json!({"type": "object", "properties": props, "required": required, "patternProperties": {"^cf_[a-z0-9_]+$": {"description": "custom fields (GET /api/v1/custom-fields/{object})"}}, "additionalProperties": false})
}

pub fn build() -> Value {
    let mut paths = Map::new();
    for (method, path, tag, summary, body, status) in ROUTES {
        let mut op = json!({
            "tags": [tag],
            "summary": summary,
            "operationId": format!("{method}_{}", path.trim_start_matches("/api/v1/").replace(['/', '{', '}', '-'], "_")),
            "responses": {
                status.to_string(): {"description": "success"},
                "default": {"description": "error", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
            },
        });
        let mut params = Vec::new();
        for seg in path.split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                params.push(json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}));
            }
        }
        if *method == "get" && (path.ends_with("/accounts") || path.ends_with("/contacts")) {
            params.push(json!({"name": "q", "in": "query", "schema": {"type": "string"}, "description": "quick search: name prefix, email, phone or its last 4 digits, company name"}));
            params.push(json!({"name": "filter", "in": "query", "schema": {"type": "string"}, "description": "JSON filter tree; see docs/api.md"}));
            params.push(json!({"name": "sort", "in": "query", "schema": {"type": "string"}, "description": "field or -field"}));
            params.push(json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}));
            params.push(json!({"name": "cursor", "in": "query", "schema": {"type": "string"}}));
        }
        if matches!(*method, "post" | "patch")
            && (path.contains("/accounts") || path.contains("/contacts"))
            && !path.ends_with("transfer")
        {
            params.push(json!({"name": "override_duplicates", "in": "query", "schema": {"type": "boolean"}, "description": "save despite duplicates found by warn rules"}));
        }
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(schema) = body {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
        }
        if !path.ends_with("/login") && !path.ends_with("/setup") {
            op["security"] = json!([{"bearer": []}, {"cookie": []}]);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    let obj = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required, "additionalProperties": false});
    json!({
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
                    "Contact": record_schema(CONTACTS.fields, json!({"account_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}}})),
                    "Login": obj(json!({"email": {"type": "string"}, "password": {"type": "string"}, "totp": {"type": "string"}}), &["email", "password"]),
                    "Setup": obj(json!({"email": {"type": "string"}, "name": {"type": "string"}, "password": {"type": "string", "minLength": 12}, "language": {"enum": ["zh-CN", "en"]}}), &["email", "password"]),
                    "MePatch": obj(json!({"language": {"enum": ["zh-CN", "en"]}}), &[]),
                    "PasswordChange": obj(json!({"current_password": {"type": "string"}, "new_password": {"type": "string", "minLength": 12}}), &["current_password", "new_password"]),
                    "EmailChange": obj(json!({"current_password": {"type": "string"}, "email": {"type": "string", "format": "email"}}), &["current_password", "email"]),
                    "Reauth": obj(json!({"current_password": {"type": "string"}}), &["current_password"]),
                    "MfaCode": obj(json!({"code": {"type": "string"}}), &["code"]),
                    "TokenCreate": obj(json!({"name": {"type": "string"}, "read_only": {"type": "boolean"}, "expires_at": {"type": "string", "format": "date-time"}}), &["name"]),
                    "UserCreate": obj(json!({"email": {"type": "string"}, "name": {"type": "string"}, "phone": {"type": "string"}, "time_zone": {"type": "string"}, "password": {"type": "string", "minLength": 12}, "roles": {"type": "array", "items": {"type": "string"}}, "department": {"type": "string"}, "manager_email": {"type": "string"}, "language": {"enum": ["zh-CN", "en"]}}), &["email", "password"]),
                    "UserPatch": obj(json!({"active": {"type": "boolean"}, "roles": {"type": "array", "items": {"type": "string"}}}), &[]),
                    "DepartmentCreate": obj(json!({"name": {"type": "string"}, "parent_id": {"type": "string"}}), &["name"]),
                    "RolePut": obj(json!({"permissions": {"type": "object"}, "field_rules": {"type": "object"}, "require_mfa": {"type": "boolean"}}), &[]),
                    "PicklistValue": obj(json!({"value": {"type": "string"}, "label_en": {"type": "string"}, "label_zh": {"type": "string"}, "position": {"type": "integer"}, "active": {"type": "boolean"}}), &["value", "label_en", "label_zh"]),
                    "DuplicateRules": {"type": "object", "additionalProperties": {"enum": ["block", "warn", "off"]}},
                    "Bulk": {"type": "object", "additionalProperties": false, "required": ["action"], "properties": {
                        "ids": {"type": "array", "items": {"type": "string"}},
                        "all_matching": {"type": "object", "properties": {"q": {"type": "string"}, "filter": {"type": "object"}}},
                        "action": {"enum": ["assign_owner", "add_tag", "remove_tag", "set_field", "delete"]},
                        "owner_id": {"type": "string"}, "reason": {"type": "string"}, "tag": {"type": "string"},
                        "field": {"type": "string"}, "value": {}, "confirm": {"type": "boolean"}}},
                    "CustomField": obj(json!({
                        "label_en": {"type": "string"}, "label_zh": {"type": "string"},
                        "kind": {"enum": ["text", "long_text", "number", "money", "date", "datetime", "choice", "multi_choice", "checkbox", "user", "url", "email", "phone"]},
                        "options": {"type": "array", "items": {"type": "object", "properties": {"value": {"type": "string"}, "label_en": {"type": "string"}, "label_zh": {"type": "string"}}}},
                        "required": {"type": "boolean"}, "default": {}, "sensitive": {"type": "boolean"}, "position": {"type": "integer"}, "active": {"type": "boolean"}
                    }), &["label_en", "label_zh", "kind"]),
                    "Erase": obj(json!({"reason": {"type": "string"}}), &["reason"]),
                    "Transfer": obj(
    json!({"ids": {"type": "array", "items": {"type": "string"}}, "owner_id": {"type": "string"}, "reason": {"type": "string"}}), &["ids", "owner_id", "reason"]),
                }
            }
        })
}

pub async fn document() -> Json<Value> {
    Json(build())
}
