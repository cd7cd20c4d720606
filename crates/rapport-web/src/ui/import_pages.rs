//! The import wizard: upload a file, map its columns (suggested from their names), check it
//! with a dry run, import in the background with a progress bar, then the results with the
//! failed rows, the error file and undo. Every step calls the same service as the API.

use super::form::field;
use super::i18n::{t, Lang};
use super::posted::Posted;
use super::posted::PostedUpload;
use super::{back_with_error, redirect_or_error, render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use rapport_core::{Action, DomainError, Object, Scope};
use rapport_services::imports::{self, Import, Mapping};
use rapport_services::objects;

#[derive(Template)]
#[template(path = "imports.html")]
struct ImportsPage {
    ctx: Ctx,
    object: String,
    /// (plural, label) of the record types the user may import
    objects: Vec<(String, String)>,
    imports: Vec<(Import, String)>,
    error: Option<String>,
}

/// A record type's name in the menu, from its key or its plural.
fn object_label(lang: Lang, object: &str) -> String {
    match Object::parse(object).or_else(|| Object::from_plural(object)) {
        Some(o) => super::settings_pages::object_label(lang, o),
        None => object.to_string(),
    }
}

pub async fn list_page(
    State(app): State<AppState>,
    page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    let list = match imports::list(&app.store, &page.access).await {
        Ok(l) => l,
        Err(e) => return redirect_or_error(lang, Err::<(), _>(e), ""),
    };
    let objects = objects::ALL
        .iter()
        .filter(|d| d.hooks.importable())
        .filter(|d| page.access.scope(d.object, Action::Create) != Scope::None)
        .map(|d| (d.plural().to_string(), object_label(lang, d.plural())))
        .collect();
    render(&ImportsPage {
        object: field(&q, "object"),
        objects,
        imports: list
            .into_iter()
            .map(|i| {
                let label = object_label(lang, &i.object);
                (i, label)
            })
            .collect(),
        error: super::message(&q, &page.ctx, "error"),
        ctx: page.ctx,
    })
}

/// The upload form's post: object and the file.
pub async fn upload(State(app): State<AppState>, posted: PostedUpload) -> Response {
    let PostedUpload { page, fields, file } = posted;
    let object = field(&fields, "object");
    let (name, bytes) = file.map(|f| (f.name, f.bytes)).unwrap_or_default();
    let Some(obj) = Object::from_plural(&object) else {
        return back_with_error(
            "/imports",
            &page.ctx,
            &DomainError::field("object", "invalid_choice", "choose what to import"),
        );
    };
    match imports::upload(&app.store, &page.access, obj, &name, &bytes, None).await {
        Ok(p) => Redirect::to(&format!("/imports/{}", p.import.id)).into_response(),
        Err(e) => back_with_error(&format!("/imports?object={object}"), &page.ctx, &e),
    }
}

/// One column of the mapping form: (index, name in the file, sample, chosen field).
type Column = (usize, String, String, String);

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    ctx: Ctx,
    imp: Import,
    object_label: String,
    /// The first rows, numbered from 0, for choosing the header row.
    rows: Vec<(usize, Vec<String>)>,
    header_row: u64,
    columns: Vec<Column>,
    /// (field, label) choices of a column
    targets: Vec<(String, String)>,
    mapping: Mapping,
    match_keys: Vec<(String, String)>,
    editable: bool,
    running: bool,
    errors: Vec<(i64, String)>,
    error: Option<String>,
}

impl ImportPage {
    fn same(&self, a: &str, b: &str) -> bool {
        a == b
    }

    fn status_key(&self) -> String {
        format!("import.status_{}", self.imp.status)
    }
}

pub async fn import_page(
    State(app): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = page.ctx.lang;
    let header = field(&q, "header_row").parse::<u64>().ok();
    let preview = match imports::preview(&app.store, &page.access, &id, header).await {
        Ok(p) => p,
        Err(e) => return redirect_or_error(lang, Err::<(), _>(e), ""),
    };
    let m = preview.suggested.clone();
    let header_cells = preview
        .rows
        .get(m.header_row as usize)
        .cloned()
        .unwrap_or_default();
    let sample = preview
        .rows
        .get(m.header_row as usize + 1)
        .cloned()
        .unwrap_or_default();
    let columns = header_cells
        .iter()
        .enumerate()
        .map(|(i, h)| {
            (
                i,
                h.clone(),
                sample.get(i).cloned().unwrap_or_default(),
                m.columns.get(&i.to_string()).cloned().unwrap_or_default(),
            )
        })
        .collect();
    let targets = preview
        .targets
        .iter()
        .map(|(k, zh, en)| {
            (
                k.clone(),
                if lang == Lang::Zh {
                    zh.clone()
                } else {
                    en.clone()
                },
            )
        })
        .collect();
    let match_keys = Object::parse(&preview.import.object)
        .map(imports::match_keys)
        .unwrap_or_default()
        .into_iter()
        .map(|k| (k.to_string(), t(lang, &format!("import.match_{k}"))))
        .collect();
    let imp = preview.import;
    let errors = if matches!(imp.status.as_str(), "dry_done" | "done" | "undone") {
        imports::errors(&app.store, &page.access, &id, 200)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    render(&ImportPage {
        object_label: object_label(lang, &imp.object),
        rows: preview.rows.into_iter().enumerate().take(8).collect(),
        header_row: m.header_row,
        columns,
        targets,
        editable: matches!(imp.status.as_str(), "parsed" | "mapped" | "dry_done"),
        running: matches!(imp.status.as_str(), "running" | "dry_running"),
        imp,
        mapping: m,
        match_keys,
        errors,
        error: super::message(&q, &page.ctx, "error"),
        ctx: page.ctx,
    })
}

/// Save the mapping, then start the dry run (`go=dry`) or the import (`go=start`).
pub async fn run(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: f }: Posted,
) -> Response {
    let to = format!("/imports/{id}");
    let columns = f
        .iter()
        .filter_map(|(k, v)| {
            let col = k.strip_prefix("col.")?;
            (!v.is_empty()).then(|| (col.to_string(), v.clone()))
        })
        .collect();
    let m = Mapping {
        header_row: field(&f, "header_row").parse().unwrap_or(0),
        columns,
        values: Default::default(),
        match_on: field(&f, "match_on"),
        on_match: field(&f, "on_match"),
    };
    let store = &app.store;
    let actor = &page.access;
    let result = match imports::set_mapping(store, actor, &id, m).await {
        Ok(_) => imports::start(store, actor, &id, field(&f, "go") == "dry").await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Redirect::to(&to).into_response(),
        Err(e) => back_with_error(&to, &page.ctx, &e),
    }
}

pub async fn undo(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form: _f }: Posted,
) -> Response {
    let to = format!("/imports/{id}");
    match imports::undo(&app.store, &page.access, &id).await {
        Ok(_) => Redirect::to(&to).into_response(),
        Err(e) => back_with_error(&to, &page.ctx, &e),
    }
}
