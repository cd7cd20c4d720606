//! A role's page: its names, its permissions per record type and action, its field rules per
//! record type (custom fields included) and its MFA requirement; and creating, renaming and
//! deleting roles.

use super::i18n::{t, Lang};
use super::posted::Posted;
use super::settings_pages::{object_label, record_objects, show};
use super::{error_message, render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use rapport_core::permission::{Action, FieldAccess, Grants, Object, Scope};
use rapport_core::DomainError;
use rapport_services::{custom_fields, objects, roles};
use serde_json::json;
use std::collections::BTreeMap;

use super::form::trimmed as field;

type Options = Vec<(String, String, bool)>;
/// (object key, object label, [(input name, action label, scope options)])
type PermissionRow = (String, String, Vec<(String, String, Options)>);

/// (form name `object.field`, label, current rule: "", "read_only" or "hidden")
type FieldRule = (String, String, String);

#[derive(Template)]
#[template(path = "role.html")]
struct RolePage {
    ctx: Ctx,
    title: String,
    key: String,
    error: Option<String>,
    actions: Vec<(String, String)>,
    objects: Vec<PermissionRow>,
    /// Per record type: (its name, how many rules are set, (name, label, rule) per field).
    field_rules: Vec<(String, usize, Vec<FieldRule>)>,
    require_mfa: bool,
    name_zh: String,
    name_en: String,
    /// Built-in roles can be changed but not deleted.
    builtin: bool,
}

const SCOPES: &[(Scope, &str, &str)] = &[
    (Scope::None, "无", "None"),
    (Scope::Own, "本人", "Own"),
    (Scope::Subordinates, "本人及下属", "Own + reports"),
    (Scope::Department, "本部门", "Department"),
    (Scope::DepartmentTree, "本部门及下级", "Department tree"),
    (Scope::All, "全部", "All"),
];

fn scope_key(s: Scope) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

async fn show_role(app: &AppState, page: Page, key: &str, error: Option<String>) -> Response {
    let lang = page.ctx.lang;
    if !page.access.is_admin() {
        return super::error_page(lang, DomainError::Forbidden("roles".into()));
    }
    let Ok(Some(role)) = roles::by_key(app.store.db.reader(), key).await else {
        return super::error_page(lang, DomainError::NotFound);
    };
    let zh = lang == Lang::Zh;
    let action_label = |a: Action| t(lang, &format!("settings.action_{}", a.key()));
    let object_name = |o: Object| object_label(lang, o);
    let objects_rows = Object::all()
        .into_iter()
        .map(|o| {
            let cells = Action::ALL
                .into_iter()
                .map(|a| {
                    let current = role.grants.scope(o, a);
                    let options = SCOPES
                        .iter()
                        .map(|(s, z, e)| {
                            (
                                scope_key(*s),
                                if zh { z } else { e }.to_string(),
                                *s == current,
                            )
                        })
                        .collect();
                    (
                        format!("perm.{}.{}", o.key(), a.key()),
                        action_label(a),
                        options,
                    )
                })
                .collect();
            (o.key().to_string(), object_name(o), cells)
        })
        .collect();
    let mut field_rules = Vec::new();
    for o in record_objects() {
        let access_of = |name: &str| match role.grants.field_access(o, name) {
            Some(FieldAccess::Hidden) => "hidden",
            Some(FieldAccess::ReadOnly) => "read_only",
            None => "",
        };
        let mut rules = Vec::new();
        for f in objects::def_of(o)
            .map_or(&[][..], |d| d.fields)
            .iter()
            .filter(|f| !f.system && f.name != "owner_id")
        {
            rules.push((
                format!("{}.{}", o.key(), f.name),
                if zh { f.label_zh } else { f.label_en }.to_string(),
                access_of(f.name).to_string(),
            ));
        }
        for c in custom_fields::list(&app.store, o).await.unwrap_or_default() {
            rules.push((
                format!("{}.{}", o.key(), c.key),
                c.label(zh).to_string(),
                access_of(&c.key).to_string(),
            ));
        }
        let set = rules.iter().filter(|r| !r.2.is_empty()).count();
        field_rules.push((object_label(lang, o), set, rules));
    }
    render(&RolePage {
        title: if zh {
            role.name_zh.clone()
        } else {
            role.name_en.clone()
        },
        key: role.key.clone(),
        error,
        actions: Action::ALL
            .into_iter()
            .map(|a| (a.key().to_string(), action_label(a)))
            .collect(),
        objects: objects_rows,
        field_rules,
        require_mfa: role.require_mfa,
        name_zh: role.name_zh.clone(),
        name_en: role.name_en.clone(),
        builtin: role.builtin,
        ctx: page.ctx,
    })
}

pub async fn role_page(
    State(app): State<AppState>,
    page: Page,
    Path(key): Path<String>,
) -> Response {
    show_role(&app, page, &key, None).await
}

pub async fn save_role(
    State(app): State<AppState>,
    Path(key): Path<String>,
    Posted { page, form }: Posted,
) -> Response {
    let mut grants = Grants::default();
    for (k, v) in &form {
        if let Some(rest) = k.strip_prefix("perm.") {
            let mut parts = rest.splitn(2, '.');
            let (Some(o), Some(a)) = (parts.next().and_then(Object::parse), parts.next()) else {
                continue;
            };
            let Some(action) = Action::ALL.into_iter().find(|x| x.key() == a) else {
                continue;
            };
            let scope: Scope = serde_json::from_value(json!(v)).unwrap_or_default();
            if scope != Scope::None {
                grants
                    .permissions
                    .entry(o)
                    .or_insert_with(BTreeMap::new)
                    .insert(action, scope);
            }
        } else if let Some(rest) = k.strip_prefix("rule.") {
            let mut parts = rest.splitn(2, '.');
            let (Some(o), Some(f)) = (parts.next().and_then(Object::parse), parts.next()) else {
                continue;
            };
            let access = match v.as_str() {
                "hidden" => FieldAccess::Hidden,
                "read_only" => FieldAccess::ReadOnly,
                _ => continue,
            };
            grants
                .field_rules
                .entry(o)
                .or_insert_with(BTreeMap::new)
                .insert(f.to_string(), access);
        }
    }
    let res = async {
        let current = roles::by_key(app.store.db.reader(), &key)
            .await?
            .ok_or(DomainError::NotFound)?;
        let (name_zh, name_en) = (field(&form, "name_zh"), field(&form, "name_en"));
        if name_zh != current.name_zh || name_en != current.name_en {
            roles::rename(&app.store, &page.access, &key, &name_en, &name_zh).await?;
        }
        roles::update(
            &app.store,
            &page.access,
            &key,
            grants,
            !field(&form, "require_mfa").is_empty(),
        )
        .await
    }
    .await;
    match res {
        Ok(_) => Redirect::to("/admin/settings?saved=1").into_response(),
        Err(e) => {
            let msg = error_message(page.ctx.lang, &e);
            show_role(&app, page, &key, Some(msg)).await
        }
    }
}

/// A new role from the settings page: from scratch or as a copy of another; its page opens.
pub async fn create_role(State(app): State<AppState>, Posted { page, form }: Posted) -> Response {
    let draft = roles::RoleDraft {
        key: field(&form, "key"),
        name_en: field(&form, "name_en"),
        name_zh: field(&form, "name_zh"),
        copy_of: Some(field(&form, "copy_of")).filter(|c| !c.is_empty()),
        grants: None,
        require_mfa: false,
    };
    match roles::create(&app.store, &page.access, draft).await {
        Ok(role) => Redirect::to(&format!("/admin/settings/roles/{}", role.key)).into_response(),
        Err(e) => {
            let msg = error_message(page.ctx.lang, &e);
            show(&app, page, Some(msg), None).await
        }
    }
}

/// Delete a role nobody holds.
pub async fn delete_role(
    State(app): State<AppState>,
    Path(key): Path<String>,
    Posted { page, form: _ }: Posted,
) -> Response {
    match roles::delete(&app.store, &page.access, &key).await {
        Ok(()) => Redirect::to("/admin/settings?saved=1").into_response(),
        Err(e) => {
            let msg = error_message(page.ctx.lang, &e);
            show_role(&app, page, &key, Some(msg)).await
        }
    }
}
