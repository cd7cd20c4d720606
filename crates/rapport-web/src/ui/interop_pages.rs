//! vCard import from the contacts list: upload a .vcf file, see what was created and which
//! cards were refused and why. The cards go through the same service as the API.

use super::i18n::t;
use super::posted::PostedUpload;
use super::{error_message, field_message, render, Ctx};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rapport_services::interop::vcard;
use rapport_services::objects;

#[derive(Template)]
#[template(path = "vcard_import.html")]
struct ImportPage {
    ctx: Ctx,
    created: usize,
    failed: Vec<(usize, String, String)>,
    error: Option<String>,
}

pub async fn import_vcard(State(app): State<AppState>, posted: PostedUpload) -> Response {
    let PostedUpload { page, file, .. } = posted;
    let lang = page.ctx.lang;
    let file = file.map(|f| f.bytes).unwrap_or_default();
    let result = match String::from_utf8(file) {
        Ok(text) => vcard::import(&app.store, &page.access, &text).await,
        Err(_) => Err(rapport_core::DomainError::field(
            "file",
            "not_utf8",
            "the file is not UTF-8 text",
        )),
    };
    let (status, created, failed, error) = match result {
        Ok(r) => (
            StatusCode::OK,
            r.created.len(),
            r.failed
                .iter()
                .map(|f| {
                    let why = f
                        .errors
                        .iter()
                        .map(|e| {
                            let label =
                                rapport_services::objects::field(objects::CONTACT, &e.field)
                                    .map(|s| {
                                        if lang == super::i18n::Lang::Zh {
                                            s.label_zh
                                        } else {
                                            s.label_en
                                        }
                                    })
                                    .unwrap_or(&e.field);
                            format!("{label}: {}", field_message(lang, e))
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    (f.card, f.name.clone(), why)
                })
                .collect(),
            None,
        ),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            0,
            Vec::new(),
            Some(match &e {
                rapport_core::DomainError::Validation(errs) if !errs.is_empty() => {
                    format!("{}: {}", t(lang, "vcard.file"), errs[0].message)
                }
                other => error_message(lang, other),
            }),
        ),
    };
    let mut res = render(&ImportPage {
        ctx: page.ctx,
        created,
        failed,
        error,
    });
    *res.status_mut() = status;
    res
}
