//! Form posts of the web interface, with their CSRF token checked in one place. A handler that
//! takes one of these extractors never runs for a post whose token does not match:
//! - [`Posted`]: a signed-in page's form (the token derived from the session);
//! - [`PostedUpload`]: the same for a multipart upload (the token is a field of the form);
//! - [`AnonPosted`]: a form before sign-in (the double-submit cookie set by [`Anon`]);
//! - [`EitherPosted`]: a form shown both before and after sign-in (the language switch).
//!
//! The token is compared in constant time. A failed check answers 403 and nothing runs.

use super::form::field;
use super::{csrf_failed, error_page, Anon, Page, PRE_CSRF_COOKIE};
use crate::extract::{cookie, csrf_for, SESSION_COOKIE};
use crate::AppState;
use axum::extract::{Form, FromRequest, FromRequestParts, Multipart, Request};
use axum::response::{IntoResponse, Response};
use rapport_core::DomainError;
use subtle::ConstantTimeEq;

/// The fields of a URL-encoded form, in the order posted.
pub type Pairs = Vec<(String, String)>;

/// Whether a posted token is the expected one (never for an empty expectation).
fn matches(posted: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(posted.as_bytes().ct_eq(expected.as_bytes()))
}

async fn read_form<S: Send + Sync>(req: Request, state: &S) -> Result<Pairs, Response> {
    let Form(form) = Form::<Pairs>::from_request(req, state)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(form)
}

/// A signed-in page's form post whose CSRF token matched.
pub struct Posted {
    pub page: Page,
    pub form: Pairs,
}

impl<S: Send + Sync> FromRequest<S> for Posted
where
    AppState: axum::extract::FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let page = Page::from_request_parts(&mut parts, state).await?;
        let form = read_form(Request::from_parts(parts, body), state).await?;
        if !matches(&field(&form, "csrf"), &page.ctx.csrf) {
            return Err(csrf_failed());
        }
        Ok(Posted { page, form })
    }
}

/// A file posted with a form.
pub struct Upload {
    /// The name the browser gave the file.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A signed-in page's multipart post (its text fields and its `file`) whose CSRF token
/// matched. An upload that cannot be read is refused before the check, as bad input.
pub struct PostedUpload {
    pub page: Page,
    pub fields: Pairs,
    pub file: Option<Upload>,
}

impl<S: Send + Sync> FromRequest<S> for PostedUpload
where
    AppState: axum::extract::FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let page = Page::from_request_parts(&mut parts, state).await?;
        let lang = page.ctx.lang;
        let malformed = || {
            error_page(
                lang,
                DomainError::field("file", "malformed_upload", "the upload could not be read"),
            )
        };
        let mut multipart = Multipart::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| malformed())?;
        let (mut fields, mut file) = (Pairs::new(), None);
        loop {
            let next = multipart.next_field().await.map_err(|_| malformed())?;
            let Some(mut f) = next else { break };
            let name = f.name().unwrap_or("").to_string();
            if name == "file" {
                let file_name = f.file_name().unwrap_or("upload").to_string();
                // Chunk by chunk into one buffer: the file is held once.
                let mut bytes = Vec::new();
                while let Some(chunk) = f.chunk().await.map_err(|_| malformed())? {
                    bytes.extend_from_slice(&chunk);
                }
                file = Some(Upload {
                    name: file_name,
                    bytes,
                });
            } else {
                fields.push((name, f.text().await.map_err(|_| malformed())?));
            }
        }
        if !matches(&field(&fields, "csrf"), &page.ctx.csrf) {
            return Err(csrf_failed());
        }
        Ok(PostedUpload { page, fields, file })
    }
}

/// A form post before sign-in whose token matched the double-submit cookie.
pub struct AnonPosted {
    pub anon: Anon,
    pub form: Pairs,
}

impl<S: Send + Sync> FromRequest<S> for AnonPosted
where
    AppState: axum::extract::FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Ok(anon) = Anon::from_request_parts(&mut parts, state).await;
        // A token Anon has just made up (no cookie came) matches nothing the browser sent.
        let expected = if anon.set_cookie.is_some() {
            String::new()
        } else {
            anon.ctx.csrf.clone()
        };
        let form = read_form(Request::from_parts(parts, body), state).await?;
        if !matches(&field(&form, "csrf"), &expected) {
            return Err(csrf_failed());
        }
        Ok(AnonPosted { anon, form })
    }
}

/// A form post from a page shown before and after sign-in: the token matches the session's
/// (`session` is then its token) or the pre-sign-in cookie.
pub struct EitherPosted {
    pub session: Option<String>,
    pub form: Pairs,
}

impl<S: Send + Sync> FromRequest<S> for EitherPosted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let session = cookie(&parts, SESSION_COOKIE).filter(|s| !s.is_empty());
        let pre = cookie(&parts, PRE_CSRF_COOKIE).unwrap_or_default();
        let form = read_form(Request::from_parts(parts, body), state).await?;
        let posted = field(&form, "csrf");
        let by_session = session
            .as_deref()
            .is_some_and(|tok| matches(&posted, &csrf_for(tok)));
        if !by_session && !matches(&posted, &pre) {
            return Err(csrf_failed());
        }
        Ok(EitherPosted { session, form })
    }
}
