//! Filter trees: `{"and": [F, ...]}`, `{"or": [F, ...]}` or
//! `{"field": "level", "op": "eq", "value": "A"}`, compiled to SQL conditions with operators
//! that fit each field's type (built-in and custom fields; encrypted ones by their blind
//! index). A hidden field can be neither filtered nor sorted on. See docs/api.md for the
//! operators.

use super::query::{bad, t};
use super::{codec, ObjectDef};
use crate::access::Access;
use crate::Store;
use rapport_core::fields::{parse_value, FieldKind, FieldSpec, FieldValue};
use rapport_core::DomainError;
use sea_orm::sea_query::{
    Cond, Condition, Expr, Func, LikeExpr, Query, SimpleExpr, Value as SqlValue,
};
use serde_json::{json, Value};

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn lower(col: &str) -> SimpleExpr {
    Func::lower(Expr::col(t(col))).into()
}

/// The SQL value a parsed field value is compared with.
fn sql_value(v: &FieldValue) -> SqlValue {
    match v {
        FieldValue::Text(s) => s.clone().into(),
        FieldValue::Money(m) => (*m).into(),
        FieldValue::Date(d) => d.format("%Y-%m-%d").to_string().into(),
        FieldValue::DateTime(dt) => (*dt).into(),
        FieldValue::Bool(b) => (*b).into(),
        _ => SqlValue::String(None),
    }
}

const TIMESTAMP_SPEC: FieldSpec =
    FieldSpec::new("created_at", FieldKind::DateTime, "Created", "创建时间");
const UPDATED_SPEC: FieldSpec =
    FieldSpec::new("updated_at", FieldKind::DateTime, "Updated", "更新时间");

pub(super) fn spec_for(
    def: &ObjectDef,
    actor: &Access,
    name: &str,
    param: &str,
) -> Result<&'static FieldSpec, DomainError> {
    match name {
        "created_at" => return Ok(&TIMESTAMP_SPEC),
        "updated_at" => return Ok(&UPDATED_SPEC),
        _ => {}
    }
    let spec = def.field(name).ok_or_else(|| {
        bad(
            param,
            "unknown_field",
            format!("{} has no field named {name}", def.key()),
        )
    })?;
    if !actor.grants.can_read_field(def.object, name) {
        // A hidden field can be neither filtered nor sorted on: that would reveal it.
        return Err(bad(
            param,
            "unknown_field",
            format!("{} has no field named {name}", def.key()),
        ));
    }
    Ok(spec)
}

pub(super) fn compile(
    def: &ObjectDef,
    actor: &Access,
    store: &Store,
    node: &Value,
    depth: usize,
    count: &mut usize,
    customs: &[rapport_core::custom::CustomField],
) -> Result<Condition, DomainError> {
    if depth > 5 {
        return Err(bad(
            "filter",
            "too_deep",
            "filter groups nest at most 5 levels",
        ));
    }
    *count += 1;
    if *count > 50 {
        return Err(bad(
            "filter",
            "too_large",
            "a filter has at most 50 conditions",
        ));
    }
    let obj = node
        .as_object()
        .ok_or_else(|| bad("filter", "invalid_filter", "each filter node is an object"))?;
    for (group, any) in [("and", false), ("or", true)] {
        if let Some(items) = obj.get(group) {
            if obj.len() != 1 {
                return Err(bad(
                    "filter",
                    "invalid_filter",
                    format!("a {group} group has no other keys"),
                ));
            }
            let items = items.as_array().ok_or_else(|| {
                bad(
                    "filter",
                    "invalid_filter",
                    format!("{group} takes an array"),
                )
            })?;
            let mut cond = if any { Cond::any() } else { Cond::all() };
            for item in items {
                cond = cond.add(compile(def, actor, store, item, depth + 1, count, customs)?);
            }
            return Ok(cond);
        }
    }
    for k in obj.keys() {
        if !matches!(k.as_str(), "field" | "op" | "value") {
            return Err(bad(
                "filter",
                "invalid_filter",
                format!("unknown key {k} in a filter condition"),
            ));
        }
    }
    let name = obj
        .get("field")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("filter", "invalid_filter", "a condition names a field"))?;
    let op = obj
        .get("op")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("filter", "invalid_filter", "a condition names an op"))?;
    if name.starts_with("cf_") {
        let custom = customs
            .iter()
            .find(|c| c.key == name && actor.grants.can_read_field(def.object, name))
            .ok_or_else(|| {
                bad(
                    &format!("filter.{name}"),
                    "unknown_field",
                    format!("{} has no field named {name}", def.key()),
                )
            })?;
        return custom_condition(
            def,
            store,
            custom,
            op,
            obj.get("value").unwrap_or(&Value::Null),
        );
    }
    let spec = spec_for(def, actor, name, &format!("filter.{name}"))?;
    let param = format!("filter.{name}");
    let raw = obj.get("value").cloned().unwrap_or(Value::Null);
    let parse = |v: &Value| -> Result<FieldValue, DomainError> {
        parse_value(spec, v, &store.parse_context()).map_err(|e| bad(&param, e.code, e.message))
    };
    let keys = store.keys()?;
    let unsupported = || {
        bad(
            &param,
            "unsupported_operator",
            format!("{op} does not apply to {name}"),
        )
    };

    if !matches!(op, "is_empty" | "is_not_empty") && !obj.contains_key("value") {
        return Err(bad(
            &param,
            "required",
            format!("{op} compares with a value: send value"),
        ));
    }
    // Presence tests work on every field.
    if matches!(op, "is_empty" | "is_not_empty") {
        let col = match spec.kind {
            FieldKind::AccountLinks => {
                let sub = Query::select()
                    .column(t("contact_id"))
                    .from(t("contact_accounts"))
                    .to_owned();
                return Ok(Cond::all().add(if op == "is_empty" {
                    Expr::col(t("id")).not_in_subquery(sub)
                } else {
                    Expr::col(t("id")).in_subquery(sub)
                }));
            }
            FieldKind::Consent => format!("{name}_granted"),
            _ => codec::columns(spec)
                .into_iter()
                .next()
                .unwrap_or_else(|| name.to_string()),
        };
        let empty = Cond::any().add(Expr::col(t(&col)).is_null());
        let empty = if matches!(spec.kind, FieldKind::Tags) {
            empty.add(Expr::col(t(&col)).eq("[]"))
        } else {
            empty
        };
        return Ok(if op == "is_empty" { empty } else { empty.not() });
    }

    match spec.kind {
        FieldKind::AccountLinks => {
            if op != "has" {
                return Err(unsupported());
            }
            let id = raw
                .as_str()
                .filter(|s| rapport_core::ids::is_valid_id(s))
                .ok_or_else(|| bad(&param, "invalid_reference", "has takes an account id"))?;
            let sub = Query::select()
                .column(t("contact_id"))
                .from(t("contact_accounts"))
                .and_where(Expr::col(t("account_id")).eq(id))
                .to_owned();
            Ok(Cond::all().add(Expr::col(t("id")).in_subquery(sub)))
        }
        FieldKind::Email
        | FieldKind::Phone
        | FieldKind::EmailList
        | FieldKind::PhoneList
        | FieldKind::CreditCode
        | FieldKind::IdNumber
            if spec.sensitive =>
        {
            if op != "eq" {
                return Err(unsupported());
            }
            let item_spec = FieldSpec {
                kind: match spec.kind {
                    FieldKind::EmailList => FieldKind::Email,
                    FieldKind::PhoneList => FieldKind::Phone,
                    k => k,
                },
                ..*spec
            };
            let v = parse_value(&item_spec, &raw, &store.parse_context())
                .map_err(|e| bad(&param, e.code, e.message))?;
            let FieldValue::Text(v) = v else {
                return Err(bad(&param, "invalid_value", "eq needs a value"));
            };
            let kind = codec::bidx_kind(spec.kind);
            let token = keys.blind(kind, &v);
            let column = Expr::col(t(&format!("{name}_bidx")));
            if !super::tokens::has_tokens(spec.kind) {
                return Ok(Cond::all().add(column.eq(token)));
            }
            // Every email and phone number of a record has a search token; the records holding
            // it are found through the tokens' key. A field with its own blind index is then
            // narrowed to those holding the value in that field (on SQLite that column has no
            // index of its own: migration 18).
            let sub = rapport_db::search_index::lookup(Some(def.key()), vec![token.clone()])
                .column(t("record_id"))
                .to_owned();
            let mut cond = Cond::all().add(Expr::col(t("id")).in_subquery(sub));
            if codec::has_bidx(spec) {
                cond = cond.add(column.eq(token));
            }
            Ok(cond)
        }
        _ if spec.sensitive => Err(unsupported()),
        FieldKind::Consent => {
            if op != "eq" {
                return Err(unsupported());
            }
            let b = raw
                .as_bool()
                .ok_or_else(|| bad(&param, "invalid_type", "consent filters take true or false"))?;
            let col = format!("{name}_granted");
            Ok(if b {
                Cond::all().add(Expr::col(t(&col)).eq(true))
            } else {
                Cond::any()
                    .add(Expr::col(t(&col)).eq(false))
                    .add(Expr::col(t(&col)).is_null())
            })
        }
        FieldKind::Tags => {
            let tag = raw
                .as_str()
                .ok_or_else(|| bad(&param, "invalid_type", "tag filters take a tag"))?;
            if tag.chars().count() > 40 {
                return Err(bad(&param, "too_long", "a tag has at most 40 characters"));
            }
            let like = Expr::col(t(name)).like(
                LikeExpr::new(format!("%{}%", escape_like(&json!(tag).to_string()))).escape('\\'),
            );
            match op {
                "has" => Ok(Cond::all().add(like)),
                "has_not" => Ok(Cond::any()
                    .add(Expr::col(t(name)).is_null())
                    .add(Cond::all().add(like).not())),
                _ => Err(unsupported()),
            }
        }
        FieldKind::ContactLinks => {
            if op != "has" {
                return Err(unsupported());
            }
            let id = raw
                .as_str()
                .filter(|s| rapport_core::ids::is_valid_id(s))
                .ok_or_else(|| bad(&param, "invalid_reference", "has takes a contact id"))?;
            // Ids are uuids (no quote or wildcard inside), stored as JSON text.
            Ok(Cond::all().add(Expr::col(t(name)).like(format!("%\"contact_id\":\"{id}\"%"))))
        }
        FieldKind::LineItems => {
            if op != "has" {
                return Err(unsupported());
            }
            let id = raw
                .as_str()
                .filter(|s| rapport_core::ids::is_valid_id(s))
                .ok_or_else(|| bad(&param, "invalid_reference", "has takes a product id"))?;
            Ok(Cond::all().add(Expr::col(t(name)).like(format!("%\"product_id\":\"{id}\"%"))))
        }
        FieldKind::JsonObject => Err(unsupported()),
        kind => {
            let col = Expr::col(t(name));
            let textual = matches!(
                kind,
                FieldKind::Text { .. }
                    | FieldKind::LongText
                    | FieldKind::Url
                    | FieldKind::Picklist(_)
            );
            let ordered = matches!(
                kind,
                FieldKind::Money
                    | FieldKind::Integer { .. }
                    | FieldKind::Date
                    | FieldKind::DateTime
            );
            match op {
                "eq" | "ne" => {
                    let v = sql_value(&parse(&raw)?);
                    Ok(if op == "eq" {
                        Cond::all().add(col.eq(v))
                    } else {
                        Cond::any()
                            .add(Expr::col(t(name)).ne(v))
                            .add(Expr::col(t(name)).is_null())
                    })
                }
                "in" => {
                    let arr = raw
                        .as_array()
                        .ok_or_else(|| bad(&param, "invalid_type", "in takes an array"))?;
                    if arr.is_empty() || arr.len() > 100 {
                        return Err(bad(&param, "invalid_value", "in takes 1 to 100 values"));
                    }
                    let vals: Result<Vec<SqlValue>, DomainError> = arr
                        .iter()
                        .map(|v| parse(v).map(|fv| sql_value(&fv)))
                        .collect();
                    Ok(Cond::all().add(col.is_in(vals?)))
                }
                "contains" | "starts_with" if textual => {
                    let s = raw.as_str().ok_or_else(|| {
                        bad(&param, "invalid_type", format!("{op} takes a string"))
                    })?;
                    if s.is_empty() || s.chars().count() > 200 {
                        return Err(bad(
                            &param,
                            "invalid_value",
                            format!("{op} takes 1 to 200 characters"),
                        ));
                    }
                    let pat = escape_like(&s.to_lowercase());
                    let pat = if op == "contains" {
                        format!("%{pat}%")
                    } else {
                        format!("{pat}%")
                    };
                    Ok(Cond::all()
                        .add(Expr::expr(lower(name)).like(LikeExpr::new(pat).escape('\\'))))
                }
                "gt" | "gte" | "lt" | "lte" if ordered => {
                    let v = sql_value(&parse(&raw)?);
                    Ok(Cond::all().add(match op {
                        "gt" => col.gt(v),
                        "gte" => col.gte(v),
                        "lt" => col.lt(v),
                        _ => col.lte(v),
                    }))
                }
                _ => Err(unsupported()),
            }
        }
    }
}

/// SQL for a custom value inside the `custom` JSON column. Keys are validated
/// `cf_[a-z0-9_]+`.
fn json_value(store: &Store, key: &str, as_type: &str) -> SimpleExpr {
    rapport_db::dialect::json_field(store.db.backend(), "custom", key, as_type)
}

fn custom_condition(
    def: &ObjectDef,
    store: &Store,
    c: &rapport_core::custom::CustomField,
    op: &str,
    raw: &Value,
) -> Result<Condition, DomainError> {
    use rapport_core::custom::CustomKind;
    let param = format!("filter.{}", c.key);
    let unsupported = || {
        bad(
            &param,
            "unsupported_operator",
            format!("{op} does not apply to {}", c.key),
        )
    };
    if !rapport_core::custom::is_custom_key(&c.key) {
        return Err(unsupported());
    }
    let keys = store.keys()?;
    if c.sensitive {
        let present = Cond::all().add(Expr::col(t("custom_enc")).is_not_null());
        return match op {
            "eq" => {
                let v = c
                    .parse(raw, &store.parse_context())
                    .map_err(|e| bad(&param, e.code, e.message))?;
                let tok = super::custom_values::token(&keys, c, &v)
                    .ok_or_else(|| bad(&param, "invalid_value", "eq needs a value"))?;
                let sub = rapport_db::search_index::lookup(Some(def.key()), vec![tok])
                    .column(t("record_id"))
                    .to_owned();
                Ok(Cond::all().add(Expr::col(t("id")).in_subquery(sub)))
            }
            "is_not_empty" => Ok(present),
            _ => Err(unsupported()),
        };
    }
    let text = json_value(store, &c.key, "text");
    match op {
        "is_empty" => return Ok(Cond::all().add(Expr::expr(text).is_null())),
        "is_not_empty" => return Ok(Cond::all().add(Expr::expr(text).is_not_null())),
        _ => {}
    }
    let parsed = |v: &Value| {
        c.parse(v, &store.parse_context())
            .map_err(|e| bad(&param, e.code, e.message))
    };
    match c.kind {
        CustomKind::Number | CustomKind::Money => {
            let v = parsed(raw)?;
            let n: f64 = match &v {
                Value::Number(n) => n.as_f64().unwrap_or(0.0),
                Value::String(s) => s
                    .parse()
                    .map_err(|_| bad(&param, "invalid_number", "not a number"))?,
                _ => return Err(bad(&param, "invalid_value", format!("{op} needs a value"))),
            };
            let col = Expr::expr(json_value(store, &c.key, "numeric"));
            Ok(Cond::all().add(match op {
                "eq" => col.eq(n),
                "ne" => col.ne(n),
                "gt" => col.gt(n),
                "gte" => col.gte(n),
                "lt" => col.lt(n),
                "lte" => col.lte(n),
                _ => return Err(unsupported()),
            }))
        }
        CustomKind::Checkbox => {
            if op != "eq" {
                return Err(unsupported());
            }
            let b = raw.as_bool().ok_or_else(|| {
                bad(
                    &param,
                    "invalid_type",
                    "checkbox filters take true or false",
                )
            })?;
            let col = Expr::expr(json_value(store, &c.key, "boolean"));
            Ok(if b {
                Cond::all().add(col.eq(true))
            } else {
                Cond::any()
                    .add(Expr::expr(json_value(store, &c.key, "boolean")).eq(false))
                    .add(Expr::expr(json_value(store, &c.key, "text")).is_null())
            })
        }
        CustomKind::MultiChoice => {
            let tag = raw
                .as_str()
                .ok_or_else(|| bad(&param, "invalid_type", "has takes an option value"))?;
            let like = Expr::expr(text).like(
                LikeExpr::new(format!("%{}%", escape_like(&json!(tag).to_string()))).escape('\\'),
            );
            match op {
                "has" => Ok(Cond::all().add(like)),
                _ => Err(unsupported()),
            }
        }
        _ => match op {
            "eq" | "ne" => {
                let v = parsed(raw)?;
                let s = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                Ok(if op == "eq" {
                    Cond::all().add(Expr::expr(text).eq(s))
                } else {
                    Cond::any()
                        .add(Expr::expr(json_value(store, &c.key, "text")).ne(s))
                        .add(Expr::expr(json_value(store, &c.key, "text")).is_null())
                })
            }
            "contains" | "starts_with"
                if matches!(
                    c.kind,
                    CustomKind::Text | CustomKind::LongText | CustomKind::Url | CustomKind::Email
                ) =>
            {
                let s = raw
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| bad(&param, "invalid_value", format!("{op} takes text")))?;
                let pat = escape_like(&s.to_lowercase());
                let pat = if op == "contains" {
                    format!("%{pat}%")
                } else {
                    format!("{pat}%")
                };
                Ok(Cond::all().add(
                    Expr::expr(Func::lower(Expr::expr(text))).like(LikeExpr::new(pat).escape('\\')),
                ))
            }
            "gt" | "gte" | "lt" | "lte"
                if matches!(c.kind, CustomKind::Date | CustomKind::Datetime) =>
            {
                let v = parsed(raw)?;
                let s = v.as_str().unwrap_or_default().to_string();
                let col = Expr::expr(text);
                Ok(Cond::all().add(match op {
                    "gt" => col.gt(s),
                    "gte" => col.gte(s),
                    "lt" => col.lt(s),
                    _ => col.lte(s),
                }))
            }
            _ => Err(unsupported()),
        },
    }
}
