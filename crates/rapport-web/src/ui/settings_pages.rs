//! The administrators' settings area: roles and field rules, custom fields, picklists,
//! duplicate rules. Every change goes through the same services as the API.

use super::i18n::{t, Lang};
use super::posted::Posted;
use super::{error_message, render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use rapport_core::custom::{ChoiceOption, CustomField, CustomKind};
use rapport_core::permission::Object;
use rapport_core::DomainError;
use rapport_services::objects;
use rapport_services::picklists::{self, PicklistValue};
use rapport_services::records::duplicates::{self, RuleMode};
use rapport_services::{custom_fields, imports, roles};
use serde_json::{json, Value};

type Options = Vec<(String, String, bool)>;
/// (list key, [(value, label zh, label en, active)])
type Picklist = (String, Vec<(String, String, String, bool)>);

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    ctx: Ctx,
    error: Option<String>,
    notice: Option<String>,
    roles: Vec<(String, String, bool)>,
    customs: Vec<(String, String, String, String, String, String)>,
    /// (plural, name) of every record type, for the custom-field form
    record_types: Vec<(String, String)>,
    kinds: Vec<(String, String)>,
    picklists: Vec<Picklist>,
    duplicate_rules: Vec<(String, String, Options)>,
    /// (id, name, depth) in tree order
    departments: Vec<(String, String, usize)>,
    /// Days an import's uploaded rows are kept after it ends.
    keep_raw_days: i64,
}

use super::form::trimmed as field;

const KINDS: &[(&str, &str, &str)] = &[
    ("text", "单行文本", "Text"),
    ("long_text", "多行文本", "Long text"),
    ("number", "数字", "Number"),
    ("money", "金额", "Money"),
    ("date", "日期", "Date"),
    ("datetime", "日期时间", "Date and time"),
    ("choice", "单选", "Single choice"),
    ("multi_choice", "多选", "Multiple choice"),
    ("checkbox", "复选框", "Checkbox"),
    ("user", "用户", "User"),
    ("url", "网址", "URL"),
    ("email", "邮箱", "Email"),
    ("phone", "电话", "Phone"),
];

fn kind_label(lang: Lang, key: &str) -> String {
    KINDS
        .iter()
        .find(|k| k.0 == key)
        .map(|k| if lang == Lang::Zh { k.1 } else { k.2 }.to_string())
        .unwrap_or_else(|| key.to_string())
}

/// A record type's name as the menu shows it ("商机", "Opportunities").
pub(super) fn object_label(lang: Lang, o: Object) -> String {
    match objects::def_of(o) {
        Some(d) => t(lang, &format!("nav.{}", d.plural())),
        None => t(lang, &format!("settings.object_{}", o.key())),
    }
}

/// Every record type: each can have custom fields and field rules.
pub(super) fn record_objects() -> impl Iterator<Item = Object> {
    objects::ALL.into_iter().map(|d| d.object)
}

pub(super) async fn show(
    app: &AppState,
    page: Page,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let lang = page.ctx.lang;
    if !page.access.is_admin() {
        return super::error_page(lang, DomainError::Forbidden("settings".into()));
    }
    let zh = lang == Lang::Zh;
    let role_list = roles::list(&app.store.db).await.unwrap_or_default();
    let mut customs = Vec::new();
    for o in record_objects() {
        for c in custom_fields::list(&app.store, o).await.unwrap_or_default() {
            let mut flags = Vec::new();
            if c.required {
                flags.push(t(lang, "settings.required"));
            }
            if c.sensitive {
                flags.push(t(lang, "settings.sensitive"));
            }
            if !c.active {
                flags.push(t(lang, "users.disabled"));
            }
            customs.push((
                object_label(lang, o),
                c.key.clone(),
                c.label_zh.clone(),
                c.label_en.clone(),
                kind_label(lang, &c.kind.key()),
                flags.join(", "),
            ));
        }
    }
    let mut lists = Vec::new();
    for (list, _) in picklists::DEFAULTS {
        let values = picklists::values(&app.store.db, list)
            .await
            .unwrap_or_default();
        lists.push((
            list.to_string(),
            values
                .into_iter()
                .map(|v| (v.value, v.label_zh, v.label_en, v.active))
                .collect(),
        ));
    }
    let mut duplicate_rules = Vec::new();
    for o in record_objects() {
        for (rule, mode) in duplicates::rules(&app.store, o).await.unwrap_or_default() {
            let label = format!(
                "{} · {}",
                object_label(lang, o),
                t(lang, &format!("settings.rule_{rule}"))
            );
            let opts = [RuleMode::Block, RuleMode::Warn, RuleMode::Off]
                .into_iter()
                .map(|m| {
                    let key = serde_json::to_value(m)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    (
                        key.clone(),
                        t(lang, &format!("settings.mode_{key}")),
                        m == mode,
                    )
                })
                .collect();
            duplicate_rules.push((format!("{}.{rule}", o.key()), label, opts));
        }
    }
    let all = rapport_services::departments::list(&app.store.db)
        .await
        .unwrap_or_default();
    let mut departments = Vec::new();
    fn walk(
        all: &[rapport_services::departments::Department],
        parent: Option<&str>,
        depth: usize,
        out: &mut Vec<(String, String, usize)>,
    ) {
        for d in all.iter().filter(|d| d.parent_id.as_deref() == parent) {
            out.push((d.id.clone(), d.name.clone(), depth.min(5)));
            if depth < 20 {
                walk(all, Some(&d.id), depth + 1, out);
            }
        }
    }
    walk(&all, None, 0, &mut departments);
    render(&SettingsPage {
        departments,
        error,
        notice,
        roles: role_list
            .iter()
            .map(|r| {
                (
                    r.key.clone(),
                    if zh {
                        r.name_zh.clone()
                    } else {
                        r.name_en.clone()
                    },
                    r.require_mfa,
                )
            })
            .collect(),
        customs,
        record_types: objects::ALL
            .into_iter()
            .map(|d| (d.plural().to_string(), object_label(lang, d.object)))
            .collect(),
        kinds: KINDS
            .iter()
            .map(|k| (k.0.to_string(), if zh { k.1 } else { k.2 }.to_string()))
            .collect(),
        picklists: lists,
        duplicate_rules,
        keep_raw_days: imports::raw::retention(&app.store, &page.access)
            .await
            .unwrap_or_default()
            .keep_raw_days,
        ctx: page.ctx,
    })
}

pub async fn page(
    State(app): State<AppState>,
    page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let notice = (!field(&q, "saved").is_empty()).then(|| t(page.ctx.lang, "settings.saved"));
    show(&app, page, None, notice).await
}

async fn after(app: &AppState, page: Page, res: Result<(), DomainError>) -> Response {
    match res {
        Ok(()) => Redirect::to("/admin/settings?saved=1").into_response(),
        Err(e) => {
            let msg = error_message(page.ctx.lang, &e);
            show(app, page, Some(msg), None).await
        }
    }
}

pub async fn save_custom_field(
    State(app): State<AppState>,
    Posted { page, form }: Posted,
) -> Response {
    let res = async {
        let object = objects::by_plural(&field(&form, "object"))
            .map(|d| d.object)
            .ok_or_else(|| DomainError::field("object", "invalid", "choose a record type"))?;
        let kind = CustomKind::parse(&field(&form, "kind"))
            .ok_or_else(|| DomainError::field("kind", "invalid", "choose a kind"))?;
        let mut options = Vec::new();
        for line in field(&form, "options")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let parts: Vec<&str> = line.split('|').map(str::trim).collect();
            match parts.as_slice() {
                [v, zh, en] => options.push(ChoiceOption {
                    value: v.to_string(),
                    label_zh: zh.to_string(),
                    label_en: en.to_string(),
                }),
                [v] => options.push(ChoiceOption {
                    value: v.to_string(),
                    label_zh: v.to_string(),
                    label_en: v.to_string(),
                }),
                _ => {
                    return Err(DomainError::field(
                        "options",
                        "invalid",
                        "write one option per line: value|中文|English",
                    ))
                }
            }
        }
        let default = Some(field(&form, "default"))
            .filter(|d| !d.is_empty())
            .map(|d| match kind {
                CustomKind::Checkbox => json!(d == "true" || d == "1"),
                _ => Value::String(d),
            });
        let def = CustomField {
            id: String::new(),
            object,
            key: field(&form, "key"),
            label_en: field(&form, "label_en"),
            label_zh: field(&form, "label_zh"),
            kind,
            options,
            required: !field(&form, "required").is_empty(),
            default,
            sensitive: !field(&form, "sensitive").is_empty(),
            position: 100,
            active: true,
        };
        custom_fields::save(&app.store, &page.access, def)
            .await
            .map(|_| ())
    }
    .await;
    after(&app, page, res).await
}

pub async fn save_picklist(State(app): State<AppState>, Posted { page, form }: Posted) -> Response {
    let list = field(&form, "list");
    let existing = picklists::values(&app.store.db, &list)
        .await
        .unwrap_or_default();
    let value = field(&form, "value");
    let position = existing
        .iter()
        .find(|v| v.value == value)
        .map(|v| v.position)
        .unwrap_or(existing.len() as i32);
    let v = PicklistValue {
        list,
        value,
        label_en: field(&form, "label_en"),
        label_zh: field(&form, "label_zh"),
        position,
        active: !field(&form, "active").is_empty(),
    };
    let res = picklists::upsert(&app.store, &page.access, &v).await;
    after(&app, page, res).await
}

pub async fn save_duplicates(
    State(app): State<AppState>,
    Posted { page, form }: Posted,
) -> Response {
    let res = async {
        for o in record_objects() {
            let mut rules = duplicates::Rules::new();
            for (k, v) in &form {
                if let Some(rule) = k.strip_prefix(&format!("{}.", o.key())) {
                    let mode: RuleMode = serde_json::from_value(json!(v)).map_err(|_| {
                        DomainError::field(k.clone(), "invalid", "choose block, warn or off")
                    })?;
                    rules.insert(rule.to_string(), mode);
                }
            }
            if !rules.is_empty() {
                duplicates::set_rules(&app.store, &page.access, o, rules).await?;
            }
        }
        Ok(())
    }
    .await;
    after(&app, page, res).await
}

/// How long an import's uploaded rows are kept after it ends.
pub async fn save_import_retention(
    State(app): State<AppState>,
    Posted { page, form }: Posted,
) -> Response {
    let res = match field(&form, "keep_raw_days").parse::<i64>() {
        Ok(days) => imports::raw::set_retention(
            &app.store,
            &page.access,
            imports::raw::Retention {
                keep_raw_days: days,
            },
        )
        .await
        .map(|_| ()),
        Err(_) => Err(DomainError::field(
            "keep_raw_days",
            "invalid_number",
            "keep_raw_days is a whole number of days",
        )),
    };
    after(&app, page, res).await
}

pub async fn create_department(
    State(app): State<AppState>,
    Posted { page, form }: Posted,
) -> Response {
    let parent = Some(field(&form, "parent_id")).filter(|p| !p.is_empty());
    let res = rapport_services::departments::create(
        &app.store,
        &page.access,
        &field(&form, "name"),
        parent.as_deref(),
    )
    .await
    .map(|_| ());
    after(&app, page, res).await
}
