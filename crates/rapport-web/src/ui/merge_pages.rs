//! Duplicates and merging in the UI: the duplicate scan of a record type with bulk merging of
//! the groups chosen, the side-by-side page that merges one group with a value chosen per
//! field, and recent merges with their undo.

use super::form::{self, field};
use super::i18n::{t, Lang};
use super::posted::Posted;
use super::{back_with_error, error_page, render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use rapport_core::fields::FieldKind;
use rapport_core::{DomainError, Object};
use rapport_services::merge::{self, scan, Merge, MergeRequest};
use rapport_services::objects;
use rapport_services::records;
use serde_json::Value;

fn object_of(plural: &str) -> Result<(Object, &'static str), DomainError> {
    match plural {
        "accounts" => Ok((objects::ACCOUNT, "accounts")),
        "contacts" => Ok((objects::CONTACT, "contacts")),
        "leads" => Ok((objects::LEAD, "leads")),
        _ => Err(DomainError::NotFound),
    }
}

pub struct GroupRow {
    pub confidence: u8,
    pub reasons: String,
    /// Ids joined with commas: the value of the group's checkbox and compare link.
    pub ids: String,
    /// (id, label, created)
    pub records: Vec<(String, String, String)>,
}

pub struct MergeRow {
    pub merge: Merge,
    pub survivor_label: String,
    pub when: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "duplicates.html")]
struct DuplicatesPage {
    ctx: Ctx,
    plural: &'static str,
    title: String,
    min: u8,
    groups: Vec<GroupRow>,
    truncated: bool,
    merges: Vec<MergeRow>,
    notice: Option<String>,
    error: Option<String>,
}

fn reason_text(lang: Lang, r: scan::Reason) -> String {
    t(lang, &format!("dup.reason_{}", r.key()))
}

pub async fn duplicates_page(
    State(app): State<AppState>,
    mut page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    let (object, plural) = match object_of(&field(&q, "object")) {
        Ok(o) => o,
        Err(e) => return error_page(lang, e),
    };
    let min = field(&q, "min").parse::<u8>().unwrap_or(50).min(100);
    let opts = scan::ScanOptions {
        min_confidence: min,
        limit: 200,
    };
    let result = match scan::scan(&app.store, &page.access, object, opts).await {
        Ok(r) => r,
        Err(e) => return error_page(lang, e),
    };
    let groups = result
        .groups
        .iter()
        .map(|g| GroupRow {
            confidence: g.confidence,
            reasons: g
                .reasons
                .iter()
                .map(|r| reason_text(lang, *r))
                .collect::<Vec<_>>()
                .join(" · "),
            ids: g
                .records
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(","),
            records: g
                .records
                .iter()
                .map(|r| {
                    (
                        r.id.clone(),
                        r.label.clone(),
                        form::local_time(r.created_at),
                    )
                })
                .collect(),
        })
        .collect();
    let list = merge::list(&app.store, &page.access, object, 20)
        .await
        .unwrap_or_default();
    // The records kept, labelled in one read (those gone or out of sight say so).
    let labels: std::collections::HashMap<String, String> =
        match rapport_services::objects::def_of(object) {
            Some(d) => {
                let ids: Vec<String> = list.iter().map(|m| m.survivor_id.clone()).collect();
                records::read_many(&app.store, &page.access, d, &ids)
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| (r.id.clone(), r.label(d)))
                    .collect()
            }
            None => Default::default(),
        };
    let merges = list
        .into_iter()
        .map(|m| MergeRow {
            when: form::local_time(m.created_at),
            status: t(lang, &format!("dup.status_{}", m.status)),
            survivor_label: labels
                .get(&m.survivor_id)
                .cloned()
                .unwrap_or_else(|| t(lang, "dup.gone")),
            merge: m,
        })
        .collect();
    page.ctx.section = plural;
    let title = format!(
        "{} · {}",
        t(lang, &format!("nav.{plural}")),
        t(lang, "dup.title")
    );
    render(&DuplicatesPage {
        plural,
        title,
        min,
        groups,
        truncated: result.truncated,
        merges,
        notice: super::message(&q, &page.ctx, "notice"),
        error: super::message(&q, &page.ctx, "error"),
        // Last: the messages above read it.
        ctx: page.ctx,
    })
}

/// Merge the chosen groups, each into its oldest record with the default values.
pub async fn bulk_merge(State(app): State<AppState>, Posted { page, form: f }: Posted) -> Response {
    let lang = page.ctx.lang;
    let (object, plural) = match object_of(&field(&f, "object")) {
        Ok(o) => o,
        Err(e) => return error_page(lang, e),
    };
    let back = format!("/duplicates?object={plural}");
    let groups: Vec<MergeRequest> = f
        .iter()
        .filter(|(k, _)| k == "group")
        .filter_map(|(_, v)| {
            let mut ids = v.split(',').map(str::to_string);
            Some(MergeRequest {
                survivor_id: ids.next()?,
                merged_ids: ids.collect(),
                fields: Default::default(),
            })
        })
        .collect();
    if groups.is_empty() {
        return back_with_error(
            &back,
            &page.ctx,
            &DomainError::field("groups", "required", t(lang, "dup.choose_groups")),
        );
    }
    match merge::bulk(&app.store, &page.access, object, &groups).await {
        Ok(out) => {
            let merged = out.iter().filter(|o| o.merge_id.is_some()).count();
            let failed = out.len() - merged;
            let notice = t(lang, "dup.bulk_done")
                .replace("{merged}", &merged.to_string())
                .replace("{failed}", &failed.to_string());
            // Any group not merged is shown as an error, not in the green "done" banner.
            let key = if failed > 0 { "error" } else { "notice" };
            Redirect::to(&super::with_message(&back, &page.ctx, key, &notice)).into_response()
        }
        Err(e) => back_with_error(&back, &page.ctx, &e),
    }
}

pub struct Cell {
    pub record_id: String,
    pub display: String,
    pub checked: bool,
}

pub struct FieldRow {
    pub name: String,
    pub label: String,
    /// Values differ: the user picks one.
    pub choose: bool,
    /// Lists are combined, not chosen.
    pub combined: bool,
    pub cells: Vec<Cell>,
}

#[derive(Template)]
#[template(path = "merge.html")]
struct MergePage {
    ctx: Ctx,
    plural: &'static str,
    ids: String,
    /// (id, label, created)
    records: Vec<(String, String, String)>,
    rows: Vec<FieldRow>,
    error: Option<String>,
}

impl MergePage {
    fn first(&self, id: &str) -> bool {
        self.records.first().is_some_and(|r| r.0 == id)
    }
}

pub async fn merge_page(
    State(app): State<AppState>,
    mut page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    let (object, plural) = match object_of(&field(&q, "object")) {
        Ok(o) => o,
        Err(e) => return error_page(lang, e),
    };
    let Some(def) = rapport_services::objects::def_of(object) else {
        return error_page(lang, DomainError::NotFound);
    };
    let ids: Vec<String> = field(&q, "ids")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .take(merge::MAX_RECORDS)
        .collect();
    let recs = match merge::candidates(&app.store, &page.access, object, &ids).await {
        Ok(r) => r,
        Err(e) => return error_page(lang, e),
    };
    let actor = &page.access;
    let choices = match super::record_pages::choices(&app.store, actor, lang, object).await {
        Ok(c) => c,
        Err(e) => return error_page(lang, e),
    };
    let region = app.store.settings.phone_region.clone();
    let json: Vec<Value> = recs
        .iter()
        .map(|r| records::to_json(def, actor, r))
        .collect();
    let mut rows = Vec::new();
    for spec in merge::mergeable_fields(def, actor) {
        let shown: Vec<String> = json
            .iter()
            .map(|v| form::display(spec, &v[spec.name], lang, &choices, &region))
            .collect();
        rows.push((
            spec.name.to_string(),
            form::label(spec, lang),
            matches!(
                spec.kind,
                FieldKind::Tags | FieldKind::EmailList | FieldKind::PhoneList
            ),
            shown,
        ));
    }
    for c in choices.customs.iter().filter(|c| {
        actor.grants.can_read_field(object, &c.key) && actor.grants.can_write_field(object, &c.key)
    }) {
        let shown: Vec<String> = json
            .iter()
            .map(|v| {
                form::custom_display(
                    c,
                    v.get(&c.key).unwrap_or(&Value::Null),
                    lang,
                    &choices,
                    &region,
                )
            })
            .collect();
        let label = match lang {
            Lang::Zh => c.label_zh.clone(),
            Lang::En => c.label_en.clone(),
        };
        rows.push((c.key.clone(), label, false, shown));
    }
    let rows = rows
        .into_iter()
        .filter(|(_, _, _, shown)| shown.iter().any(|s| !s.is_empty()))
        .map(|(name, label, combined, shown)| {
            let first_set = shown.iter().position(|s| !s.is_empty()).unwrap_or(0);
            let choose = !combined && shown.iter().any(|s| *s != shown[first_set]);
            FieldRow {
                name,
                label,
                choose,
                combined,
                cells: recs
                    .iter()
                    .zip(shown)
                    .enumerate()
                    .map(|(i, (r, display))| Cell {
                        record_id: r.id.clone(),
                        display,
                        checked: i == first_set,
                    })
                    .collect(),
            }
        })
        .collect();
    page.ctx.section = plural;
    render(&MergePage {
        plural,
        ids: ids.join(","),
        records: recs
            .iter()
            .map(|r| (r.id.clone(), r.label(def), form::local_time(r.created_at)))
            .collect(),
        rows,
        error: super::message(&q, &page.ctx, "error"),
        // Last: the messages above read it.
        ctx: page.ctx,
    })
}

pub async fn merge(State(app): State<AppState>, Posted { page, form: f }: Posted) -> Response {
    let lang = page.ctx.lang;
    let (object, plural) = match object_of(&field(&f, "object")) {
        Ok(o) => o,
        Err(e) => return error_page(lang, e),
    };
    let ids: Vec<String> = field(&f, "ids").split(',').map(str::to_string).collect();
    let survivor = field(&f, "survivor");
    let req = MergeRequest {
        merged_ids: ids.iter().filter(|i| **i != survivor).cloned().collect(),
        survivor_id: survivor.clone(),
        fields: f
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("f_").map(|k| (k.to_string(), v.clone())))
            .collect(),
    };
    match merge::merge(&app.store, &page.access, object, &req).await {
        Ok(_) => Redirect::to(&format!("/{plural}/{survivor}")).into_response(),
        Err(e) => back_with_error(
            &format!("/merge?object={plural}&ids={}", ids.join(",")),
            &page.ctx,
            &e,
        ),
    }
}

pub async fn undo(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: f }: Posted,
) -> Response {
    let lang = page.ctx.lang;
    let plural = object_of(&field(&f, "object")).map_or("accounts", |o| o.1);
    let back = format!("/duplicates?object={plural}");
    match merge::undo(&app.store, &page.access, &id).await {
        Ok(_) => Redirect::to(&super::with_message(
            &back,
            &page.ctx,
            "notice",
            &t(lang, "dup.undone"),
        ))
        .into_response(),
        Err(e) => back_with_error(&back, &page.ctx, &e),
    }
}
