//! Request body schemas of the routes that are not plain records: sales documents, activities,
//! bulk actions, background exports.

use super::fields::{currency, money, name, record_schema, stage_name};
use rapport_services::objects::{LEADS, OPPORTUNITIES};
use serde_json::{json, Map, Value};

/// Schemas of the lead-to-cash routes.
pub(super) fn sales_schemas() -> Map<String, Value> {
    let obj = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required, "additionalProperties": false});
    let stage = obj(
        json!({
            "key": {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"}, "name_en": stage_name(), "name_zh": stage_name(),
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
        "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"}, "currency": currency(),
        "active": {"type": "boolean"},
        "items": {"type": "array", "maxItems": 5000, "items": {"type": "object", "properties": {
            "product_id": {"type": "string", "format": "uuid"}, "price": {"type": "string", "pattern": "^[0-9]{1,13}(\\.[0-9]{1,2})?$"}}, "required": ["product_id", "price"], "additionalProperties": false}}}), &["name"]));
    m.insert("Decision".into(), obj(json!({"comment": {"type": "string", "maxLength": 1000, "description": "required when rejecting"}}), &[]));
    m.insert("PaymentPlan".into(), obj(json!({"instalments": {"type": "array", "maxItems": 120, "items": {"type": "object", "properties": {
        "due_date": {"type": "string", "format": "date"}, "amount": money(), "note": {"type": ["string", "null"], "maxLength": 200}},
        "required": ["due_date", "amount"], "additionalProperties": false}}}), &["instalments"]));
    m.insert("ApprovalFlow".into(), obj(json!({"steps": {"type": "array", "minItems": 1, "maxItems": 10, "items": {"type": "object", "properties": {
        "approver": {"type": "string", "pattern": "^(manager|user:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|role:[A-Za-z0-9_]{1,64})$", "description": "manager (the owner's manager), user:<user id> or role:<role key>"},
        "min_amount": {"anyOf": [money(), {"type": "null"}], "description": "the step applies from this contract amount"}}, "required": ["approver"], "additionalProperties": false}}}), &["steps"]));
    m.insert("ImportMapping".into(), obj(json!({
        "header_row": {"type": "integer", "minimum": 0, "maximum": rapport_services::imports::parse::MAX_ROWS, "description": "the row of column names, counted from 0; below the file's row count"},
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
    let mergeable: Vec<&str> = rapport_services::objects::ALL
        .iter()
        .filter(|d| d.hooks.merging().is_some())
        .map(|d| d.plural())
        .collect();
    merge["object"] = json!({"enum": mergeable});
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
    m.insert("AnchorMail".into(), obj(json!({
        "email": {"anyOf": [{"type": "string", "format": "email", "maxLength": 254}, {"const": ""}, {"type": "null"}],
            "description": "an email address; null or empty to stop"}}), &["email"]));
    m.insert("PoolSettings".into(), obj(json!({
        "daily_claim_limit": {"type": "integer", "minimum": 0, "maximum": 10000}, "max_owned": {"type": "integer", "minimum": 0, "maximum": 1000000},
        "auto_return": {"type": "boolean"}, "no_follow_up_days": {"type": "integer", "minimum": 0, "maximum": 3650, "description": "0: never"},
        "no_won_days": {"type": "integer", "minimum": 0, "maximum": 3650, "description": "0: never"}, "warn_days": {"type": "integer", "minimum": 0, "maximum": 3650}}), &[]));
    m.insert("Targets".into(), obj(json!({"targets": {"type": "array", "minItems": 1, "maxItems": 500, "items": {"type": "object", "properties": {
        "subject_type": {"enum": ["user", "department"]}, "subject_id": {"type": "string", "format": "uuid"},
        "period": {"type": "string", "pattern": "^(20[0-9]{2}|2100)(-Q[1-4]|-(0[1-9]|1[0-2]))?$"}, "metric": {"enum": ["won", "received"]},
        "amount": money(), "currency": currency()}, "additionalProperties": false, "required": ["subject_type", "subject_id", "period", "metric", "amount"]}}}), &["targets"]));
    m.insert("Pipeline".into(), obj(json!({
        "name_en": name(), "name_zh": name(), "is_default": {"type": "boolean"},
        "active": {"type": "boolean"}, "stale_days": {"type": "integer", "minimum": 1, "maximum": 365},
        "stages": {"type": "array", "minItems": 2, "maxItems": 20, "items": stage, "allOf": [
            {"contains": {"properties": {"kind": {"const": "won"}}}, "minContains": 1, "maxContains": 1},
            {"contains": {"properties": {"kind": {"const": "lost"}}}, "minContains": 1, "maxContains": 1},
            {"contains": {"properties": {"kind": {"const": "open"}}}}],
            "description": "exactly one won and one lost stage, at least one open one; keys distinct"}}), &["name_en", "name_zh", "stages"]));
    m
}

/// Creating an activity: one variant per kind, each with the fields that kind takes.
pub(super) fn activity_create_schema() -> Value {
    use rapport_core::activity::Kind;
    let all = activity_schema();
    let variants: Vec<Value> = Kind::ALL
        .iter()
        .map(|k| {
            let mut props = serde_json::Map::new();
            for (name, schema) in all["properties"].as_object().into_iter().flatten() {
                if k.allows(name) {
                    props.insert(name.clone(), schema.clone());
                }
            }
            props.insert("kind".into(), json!({"const": k.key()}));
            props.insert("subject".into(), json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"}));
            props.insert("related_id".into(), json!({"type": "string", "format": "uuid"}));
            let mut required = vec!["kind", "subject", "related_type", "related_id"];
            if k.has_span() {
                required.push("start_at");
                props.insert("start_at".into(), json!({"type": "string", "format": "date-time"}));
            }
            json!({"type": "object", "additionalProperties": false, "properties": props, "required": required})
        })
        .collect();
    json!({"oneOf": variants, "description": "end_at, where a kind has one, is not before start_at"})
}

pub(super) fn activity_schema() -> Value {
    use rapport_core::activity::{Channel, Direction, Kind, Priority, Status};
    let related_types = rapport_services::activities::access::related_types();
    let keys = |v: Vec<&'static str>| json!(v);
    let time = json!({"type": ["string", "null"], "format": "date-time"});
    json!({"type": "object", "additionalProperties": false, "properties": {
        "kind": {"enum": keys(Kind::ALL.iter().map(|k| k.key()).collect()), "description": "fixed at creation"},
        "subject": {"type": "string", "maxLength": 200},
        "body": {"type": ["string", "null"], "maxLength": 20000, "description": "@name mentions notify colleagues who may read the record"},
        "channel": {"enum": keys(Channel::ALL.iter().map(|k| k.key()).collect())},
        "related_type": {"enum": related_types, "description": "fixed at creation"},
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
        "follow_up": {"type": "object", "additionalProperties": false, "description": "create only: a follow-up task in the same step",
            "required": ["subject"],
            "properties": {"subject": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"},
                "body": {"type": ["string", "null"], "maxLength": 20000}, "assignee_id": {"type": ["string", "null"]},
                "priority": {"enum": keys(Priority::ALL.iter().map(|k| k.key()).collect())}, "due_at": time, "remind_at": time}},
    }})
}

/// A bulk action on `def`'s records: either ids or all_matching, and what each action needs.
pub(super) fn bulk_schema(d: &rapport_services::records::ObjectDef) -> Value {
    let settable: Vec<&str> = d
        .fields
        .iter()
        .filter(|f| !f.system && f.name != "owner_id")
        .map(|f| f.name)
        .collect();
    let text =
        |max: usize| json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": "\\S"});
    let needs = |action: &str, required: Value| {
        let takes = crate::api::records::bulk_fields(action);
        let others: serde_json::Map<String, Value> = crate::api::records::BULK_ACTION_FIELDS
            .iter()
            .filter(|f| !takes.contains(f))
            .map(|f| (f.to_string(), json!(false)))
            .collect();
        json!({"if": {"properties": {"action": {"const": action}}},
            "then": {"required": required, "properties": others}})
    };
    json!({"type": "object", "additionalProperties": false, "required": ["action"],
    "properties": {
        "ids": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"type": "string", "format": "uuid"}},
        "all_matching": {"type": "object", "additionalProperties": false, "properties": {
            "q": {"type": "string"},
            "filter": {"$ref": format!("#/components/schemas/Filter_{}", d.plural())}}},
        "action": {"enum": ["assign_owner", "add_tag", "remove_tag", "set_field", "delete"]},
        "owner_id": {"type": "string", "format": "uuid"}, "reason": text(500), "tag": text(40),
        "field": {"enum": settable, "description": "set_field: a field's value checked per record; records it does not suit are listed as failed"},
        "value": {}, "confirm": {"type": "boolean"}},
    "oneOf": [{"required": ["ids"]}, {"required": ["all_matching"]}],
    "allOf": [
        needs("assign_owner", json!(["owner_id", "reason"])),
        needs("add_tag", json!(["tag"])),
        needs("remove_tag", json!(["tag"])),
        needs("set_field", json!(["field"])),
        needs("delete", json!(["confirm"])),
        {"if": {"properties": {"action": {"const": "delete"}}},
         "then": {"properties": {"confirm": {"const": true}}}},
    ]})
}

/// A background export: the record type and, matching it, the list's query.
pub(super) fn export_start_schema() -> Value {
    let variants: Vec<Value> = rapport_services::objects::ALL
        .iter()
        .map(|d| {
            let cols = crate::api::query::RECORD_EXPORT
                .iter()
                .find(|p| p.name == "cols")
                .map(|p| p.to_openapi(Some(d))["schema"].clone())
                .unwrap_or_default();
            let mut sorts = json!(rapport_services::records::query::sort_keys(d));
            if let Some(a) = sorts.as_array_mut() {
                a.push(Value::Null);
            }
            // Each may be null, read as left out.
            json!({"type": "object", "additionalProperties": false, "required": ["object"], "properties": {
                "object": {"const": d.plural()},
                "q": {"type": ["string", "null"]},
                "filter": {"anyOf": [{"$ref": format!("#/components/schemas/Filter_{}", d.plural())}, {"type": "null"}]},
                "sort": {"enum": sorts},
                "cols": {"anyOf": [cols, {"type": "null"}]},
                "format": {"enum": ["csv", "xlsx", null]}}})
        })
        .collect();
    json!({"oneOf": variants, "description": "object: a record type; q, filter, sort and cols as in its list and export"})
}
