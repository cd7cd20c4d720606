//! The OpenAPI 3.1 document for `/api/v1`. Record schemas are generated from the same field
//! metadata the services validate against, so the document cannot drift from the rules.

use axum::Json;
use rapport_core::fields::{FieldKind, FieldSpec};
use rapport_services::objects::{ACCOUNTS, CONTACTS, LEADS, OPPORTUNITIES};
use serde_json::{json, Map, Value};

mod routes;
pub use routes::ROUTES;
mod document_routes;

/// (method, path, tag, summary, request schema, success status)
pub type RouteDoc = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    u16,
);

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
        FieldKind::UserRef
        | FieldKind::DepartmentRef
        | FieldKind::AccountRef
        | FieldKind::PipelineRef
        | FieldKind::PriceListRef
        | FieldKind::RecordRef(_) => {
            json!({"type": ["string", "null"], "format": "uuid"})
        }
        FieldKind::LineItems => {
            json!({"type": ["array", "null"], "maxItems": 200, "items": {"type": "object", "properties": {
                "product_id": {"type": ["string", "null"], "format": "uuid", "description": "fills name, unit, unit_price and tax_rate when they are left out"},
                "name": {"type": ["string", "null"], "maxLength": 200},
                "description": {"type": ["string", "null"], "maxLength": 1000},
                "unit": {"type": ["string", "null"], "maxLength": 20},
                "quantity": {"type": "string", "description": "positive decimal, up to 3 decimals; default 1"},
                "unit_price": {"type": ["string", "null"], "description": "decimal amount as a string"},
                "discount": {"type": "string", "description": "percent, up to 2 decimals"},
                "tax_rate": {"type": ["string", "null"], "description": "percent, up to 2 decimals"},
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
            json!({"type": ["string", "null"], "description": "a stage key of the opportunity's pipeline (GET /api/v1/pipelines)"})
        }
        FieldKind::ContactLinks => {
            json!({"type": "array", "items": {"type": "object", "properties": {"contact_id": {"type": "string", "format": "uuid"}, "role": {"type": ["string", "null"], "maxLength": 60}}}})
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
    json!({"type": "object", "properties": props, "required": required, "patternProperties": {"^cf_[a-z0-9_]+$": {"description": "custom fields (GET /api/v1/custom-fields/{object})"}}, "additionalProperties": false})
}

/// Schemas of the lead-to-cash routes.
fn sales_schemas() -> Map<String, Value> {
    let obj = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required, "additionalProperties": false});
    let stage = obj(
        json!({
            "key": {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"}, "name_en": {"type": "string"}, "name_zh": {"type": "string"},
            "probability": {"type": "integer", "minimum": 0, "maximum": 100}, "kind": {"enum": ["open", "won", "lost"]}}),
        &["key", "name_en", "name_zh", "probability", "kind"],
    );
    let mut m = Map::new();
    m.insert("Lead".into(), record_schema(LEADS.fields, json!({})));
    m.insert(
        "Opportunity".into(),
        record_schema(OPPORTUNITIES.fields, json!({})),
    );
    m.insert("ConvertLead".into(), obj(json!({
        "account_id": {"type": "string", "description": "attach to this existing account instead of creating one"},
        "account": {"type": "object", "description": "fields of the new account over those taken from the lead (company, industry, region, source)"},
        "contact": {"type": "object", "description": "fields of the new contact over those taken from the lead"},
        "opportunity": {"type": "object", "description": "create an opportunity with these fields; source and campaign come from the lead"},
        "override_duplicates": {"type": "boolean"}}), &[]));
    for (name, def) in [
        ("Product", &rapport_services::objects::PRODUCTS),
        ("Quote", &rapport_services::objects::QUOTES),
        ("Contract", &rapport_services::objects::CONTRACTS),
        ("Order", &rapport_services::objects::ORDERS),
        ("Payment", &rapport_services::objects::PAYMENTS),
    ] {
        m.insert(name.into(), record_schema(def.fields, json!({})));
    }
    m.insert("PriceList".into(), obj(json!({
        "name": {"type": "string", "maxLength": 100}, "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "active": {"type": "boolean"},
        "items": {"type": "array", "maxItems": 5000, "items": {"type": "object", "properties": {
            "product_id": {"type": "string", "format": "uuid"}, "price": {"type": "string"}}, "required": ["product_id", "price"]}}}), &["name"]));
    m.insert("Decision".into(), obj(json!({"comment": {"type": "string", "maxLength": 1000, "description": "required when rejecting"}}), &[]));
    m.insert("PaymentPlan".into(), obj(json!({"instalments": {"type": "array", "maxItems": 120, "items": {"type": "object", "properties": {
        "due_date": {"type": "string", "format": "date"}, "amount": {"type": "string"}, "note": {"type": ["string", "null"], "maxLength": 200}},
        "required": ["due_date", "amount"]}}}), &["instalments"]));
    m.insert("ApprovalFlow".into(), obj(json!({"steps": {"type": "array", "minItems": 1, "maxItems": 10, "items": {"type": "object", "properties": {
        "approver": {"type": "string", "description": "manager (the owner's manager), user:<user id> or role:<role key>"},
        "min_amount": {"type": "string", "description": "the step applies from this contract amount"}}, "required": ["approver"]}}}), &["steps"]));
    m.insert("ImportMapping".into(), obj(json!({
        "header_row": {"type": "integer", "minimum": 0},
        "columns": {"type": "object", "additionalProperties": {"type": "string"}, "description": "column index → field (built-in, cf_… or account_name for contacts)"},
        "values": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}}, "description": "field → (value in the file → value to save)"},
        "match_on": {"enum": ["none", "name", "credit_code", "email", "phone"]},
        "on_match": {"enum": ["skip", "update", "create"]}}), &["columns"]));
    m.insert("ExportStart".into(), obj(json!({
        "object": {"type": "string", "description": "a record type such as accounts"},
        "q": {"type": "string"}, "filter": {"description": "the list's JSON filter tree (object or its text)"},
        "sort": {"type": "string"}, "cols": {"description": "field keys, as an array or comma-separated"},
        "format": {"enum": ["csv", "xlsx"]}}), &["object"]));
    let merge_props = json!({
        "survivor_id": {"type": "string", "format": "uuid"},
        "merged_ids": {"type": "array", "minItems": 1, "maxItems": 9, "items": {"type": "string", "format": "uuid"}},
        "fields": {"type": "object", "additionalProperties": {"type": "string", "format": "uuid"}, "description": "field (built-in or cf_…) → id of the record whose value the survivor takes; without a choice the survivor keeps its value, empty fields are filled from the others, tags, emails and phones are combined"}});
    let mut merge = merge_props.clone();
    merge["object"] = json!({"enum": ["accounts", "contacts", "leads"]});
    m.insert(
        "Merge".into(),
        obj(merge, &["object", "survivor_id", "merged_ids"]),
    );
    m.insert("MergeBulk".into(), obj(json!({
        "object": {"enum": ["accounts", "contacts", "leads"]},
        "groups": {"type": "array", "minItems": 1, "maxItems": 100, "items": obj(merge_props, &["survivor_id", "merged_ids"])}}), &["object", "groups"]));
    m.insert("Release".into(), obj(json!({"reason": {"type": "string", "description": "a value of the pool_release_reason picklist"}, "note": {"type": "string", "maxLength": 500}}), &["reason"]));
    m.insert("ImportRetention".into(), obj(json!({
        "keep_raw_days": {"type": "integer", "minimum": 1, "maximum": 3650, "description": "days after an import ends that its file's rows and failed rows are kept (default 30)"}}), &["keep_raw_days"]));
    m.insert("PoolSettings".into(), obj(json!({
        "daily_claim_limit": {"type": "integer", "minimum": 0}, "max_owned": {"type": "integer", "minimum": 0},
        "auto_return": {"type": "boolean"}, "no_follow_up_days": {"type": "integer", "minimum": 0, "description": "0: never"},
        "no_won_days": {"type": "integer", "minimum": 0, "description": "0: never"}, "warn_days": {"type": "integer", "minimum": 0}}), &[]));
    m.insert("Targets".into(), obj(json!({"targets": {"type": "array", "maxItems": 500, "items": {"type": "object", "properties": {
        "subject_type": {"enum": ["user", "department"]}, "subject_id": {"type": "string", "format": "uuid"},
        "period": {"type": "string", "pattern": "^[0-9]{4}(-Q[1-4]|-[0-9]{2})?$"}, "metric": {"enum": ["won", "received"]},
        "amount": {"type": "string"}, "currency": {"type": "string"}}, "required": ["subject_type", "subject_id", "period", "metric", "amount"]}}}), &["targets"]));
    m.insert("Pipeline".into(), obj(json!({
        "name_en": {"type": "string"}, "name_zh": {"type": "string"}, "is_default": {"type": "boolean"},
        "active": {"type": "boolean"}, "stale_days": {"type": "integer", "minimum": 1, "maximum": 365},
        "stages": {"type": "array", "minItems": 2, "maxItems": 20, "items": stage}}), &["name_en", "name_zh", "stages"]));
    m
}

fn activity_schema() -> Value {
    use rapport_core::activity::{Channel, Direction, Kind, Priority, Status, RELATED_TYPES};
    let keys = |v: Vec<&'static str>| json!(v);
    let time = json!({"type": ["string", "null"], "format": "date-time"});
    json!({"type": "object", "additionalProperties": false, "properties": {
        "kind": {"enum": keys(Kind::ALL.iter().map(|k| k.key()).collect()), "description": "fixed at creation"},
        "subject": {"type": "string", "maxLength": 200},
        "body": {"type": ["string", "null"], "maxLength": 20000, "description": "@name mentions notify colleagues who may read the record"},
        "channel": {"enum": keys(Channel::ALL.iter().map(|k| k.key()).collect())},
        "related_type": {"enum": RELATED_TYPES, "description": "fixed at creation"},
        "related_id": {"type": "string", "description": "fixed at creation"},
        "assignee_id": {"type": ["string", "null"], "description": "tasks; default the caller"},
        "status": {"enum": keys(Status::ALL.iter().map(|k| k.key()).collect())},
        "priority": {"enum": keys(Priority::ALL.iter().map(|k| k.key()).collect()), "description": "tasks"},
        "due_at": time, "start_at": time, "end_at": time,
        "remind_at": {"type": ["string", "null"], "format": "date-time", "description": "tasks, meetings, visits: an in-app reminder at this time"},
        "direction": {"enum": keys(Direction::ALL.iter().map(|k| k.key()).collect()), "description": "calls and emails"},
        "duration_minutes": {"type": ["integer", "null"], "minimum": 0, "maximum": 1440},
        "outcome": {"type": ["string", "null"], "maxLength": 200},
        "place": {"type": ["string", "null"], "maxLength": 300},
        "attendees": {"type": "object", "properties": {
            "users": {"type": "array", "items": {"type": "string"}},
            "contacts": {"type": "array", "items": {"type": "string"}},
            "others": {"type": "array", "items": {"type": "string"}}}},
        "follow_up": {"type": "object", "description": "create only: a follow-up task in the same step",
            "properties": {"subject": {"type": "string"}, "body": {"type": "string"}, "assignee_id": {"type": "string"},
                "priority": {"enum": keys(Priority::ALL.iter().map(|k| k.key()).collect())}, "due_at": time, "remind_at": time}},
    }})
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
                "default": {"description": "error", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
            },
        });
        let mut params = Vec::new();
        for seg in path.split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                params.push(json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}));
            }
        }
        let record_list = rapport_core::Object::RECORDS
            .iter()
            .filter_map(|o| o.plural())
            .any(|p| path.ends_with(&format!("/{p}")));
        if *method == "get" && record_list {
            params.push(json!({"name": "q", "in": "query", "schema": {"type": "string"}, "description": "quick search: name prefix, email, phone or its last 4 digits, company name"}));
            params.push(json!({"name": "filter", "in": "query", "schema": {"type": "string"}, "description": "JSON filter tree; see docs/api.md"}));
            params.push(json!({"name": "sort", "in": "query", "schema": {"type": "string"}, "description": "field or -field"}));
            params.push(json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}));
            params.push(json!({"name": "cursor", "in": "query", "schema": {"type": "string"}}));
        }
        if matches!(*method, "post" | "patch")
            && ["/accounts", "/contacts", "/leads"]
                .iter()
                .any(|p| path.contains(p))
            && !path.ends_with("transfer")
            && !path.ends_with("bulk")
        {
            params.push(json!({"name": "override_duplicates", "in": "query", "schema": {"type": "boolean"}, "description": "save despite duplicates found by warn rules"}));
        }
        // A single record: its version is its ETag, and a change or delete may name it.
        let record_one = rapport_services::objects::ALL
            .iter()
            .any(|d| *path == format!("/api/v1/{}/{{id}}", d.plural));
        if record_one && matches!(*method, "get" | "patch" | "post") {
            op["responses"][status.to_string()]["headers"] = json!({"ETag": {
                "description": "the record's version; send it back in If-Match to change the record only as you read it",
                "schema": {"type": "string"}}});
        }
        if record_one && matches!(*method, "patch" | "delete") {
            params.push(json!({"name": "If-Match", "in": "header", "schema": {"type": "string"},
                "description": "the ETag the record was read with: the change is made only if the record is still at that version"}));
            op["responses"]["409"] = json!({"description": "version_conflict: the record changed since it was read (also without If-Match, when it changed between this request's check and its write)",
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
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
                    "Contact": record_schema(CONTACTS.fields, json!({"account_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}}})),
                    "Login": obj(json!({"email": {"type": "string"}, "password": {"type": "string"}, "totp": {"type": "string"}}), &["email", "password"]),
                    "Setup": obj(json!({"email": {"type": "string"}, "name": {"type": "string"}, "password": {"type": "string", "minLength": 12}, "language": {"enum": ["zh-CN", "en"]}}), &["email", "password"]),
                    "MePatch": obj(json!({"language": {"enum": ["zh-CN", "en"]}, "email_notifications": {"type": "array", "items": {"enum": ["task_assigned", "mention", "reminder", "approval_requested", "contract_approved", "contract_rejected"]}}}), &[]),
                    "PasswordChange": obj(json!({"current_password": {"type": "string"}, "new_password": {"type": "string", "minLength": 12}}), &["current_password", "new_password"]),
                    "EmailChange": obj(json!({"current_password": {"type": "string"}, "email": {"type": "string", "format": "email"}}), &["current_password", "email"]),
                    "Reauth": obj(json!({"current_password": {"type": "string"}}), &["current_password"]),
                    "MfaCode": obj(json!({"code": {"type": "string"}}), &["code"]),
                    "TokenCreate": obj(json!({"name": {"type": "string"}, "read_only": {"type": "boolean"}, "expires_at": {"type": "string", "format": "date-time"}}), &["name"]),
                    "UserCreate": obj(json!({"email": {"type": "string"}, "name": {"type": "string"}, "phone": {"type": "string"}, "time_zone": {"type": "string"}, "password": {"type": "string", "minLength": 12}, "roles": {"type": "array", "items": {"type": "string"}}, "department": {"type": "string"}, "manager_email": {"type": "string"}, "language": {"enum": ["zh-CN", "en"]}}), &["email", "password"]),
                    "UserPatch": obj(json!({"active": {"type": "boolean"}, "roles": {"type": "array", "items": {"type": "string"}}}), &[]),
                    "DepartmentCreate": obj(json!({"name": {"type": "string"}, "parent_id": {"type": "string"}}), &["name"]),
                    "RolePut": obj(json!({"permissions": {"type": "object"}, "field_rules": {"type": "object"}, "require_mfa": {"type": "boolean"}, "name_en": {"type": "string", "minLength": 1, "maxLength": 100}, "name_zh": {"type": "string", "minLength": 1, "maxLength": 100}}), &[]),
                    "RoleCreate": obj(json!({"key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,39}$"}, "name_en": {"type": "string", "minLength": 1, "maxLength": 100}, "name_zh": {"type": "string", "minLength": 1, "maxLength": 100}, "copy_of": {"type": "string", "description": "the key of the role whose rights the new one starts with"}, "permissions": {"type": "object"}, "field_rules": {"type": "object"}, "require_mfa": {"type": "boolean"}}), &["key", "name_en", "name_zh"]),
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
                    "Activity": activity_schema(),
                    "SmtpSettings": obj(json!({"host": {"type": "string"}, "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                        "security": {"enum": ["starttls", "tls", "none"]}, "username": {"type": ["string", "null"]},
                        "password": {"type": ["string", "null"], "writeOnly": true}, "from_address": {"type": "string", "format": "email"},
                        "from_name": {"type": ["string", "null"]}}), &["host", "port", "security", "from_address"]),
                    "Transfer": obj(
    json!({"ids": {"type": "array", "items": {"type": "string"}}, "owner_id": {"type": "string"}, "reason": {"type": "string"}}), &["ids", "owner_id", "reason"]),
                }
            }
        });
    if let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") {
        schemas.extend(sales_schemas());
    }
    doc
}

pub async fn document() -> Json<Value> {
    Json(build())
}
