//! Sign-in, sign-out, the first-run setup page and the language switch.

use super::posted::{AnonPosted, EitherPosted, Posted};
use super::{error_message, form, i18n, render, Anon, Ctx, LANG_COOKIE};
use crate::api::auth::session_cookie;
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use rapport_auth::service::{self as auth, LoginRequest};
use rapport_core::DomainError;
use rapport_services::access::Access;
use std::collections::HashMap;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: Ctx,
    error: Option<String>,
    email: String,
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    ctx: Ctx,
    error: Option<String>,
    email: String,
    name: String,
}

fn with_cookie(mut res: Response, c: Option<HeaderValue>) -> Response {
    if let Some(c) = c {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

use super::form::field;

/// Only a path on this site is followed after sign-in: it starts with one `/`, and holds
/// only visible ASCII (browsers drop tabs and line breaks, so `/\t/evil.example` would be
/// `//evil.example`; anything else could not be a `Location` header). Otherwise the home page.
fn safe_next(next: &str) -> String {
    let visible = next.bytes().all(|b| (0x21..=0x7e).contains(&b));
    let second = next.as_bytes().get(1).copied();
    if visible
        && next.starts_with('/')
        && !matches!(second, Some(b'/') | Some(b'\\'))
        && !next.contains('\\')
    {
        next.to_string()
    } else {
        "/".into()
    }
}

pub async fn login_page(State(app): State<AppState>, anon: Anon) -> Response {
    if matches!(rapport_services::users::count(&app.store).await, Ok(0)) {
        return Redirect::to("/setup").into_response();
    }
    let page = LoginPage {
        ctx: anon.ctx,
        error: None,
        email: String::new(),
    };
    with_cookie(render(&page), anon.set_cookie)
}

pub async fn login_submit(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    AnonPosted { anon, form }: AnonPosted,
) -> Response {
    let lang = anon.ctx.lang;
    let email = field(&form, "email");
    let totp = field(&form, "totp");
    let req = LoginRequest {
        email: email.clone(),
        password: field(&form, "password"),
        totp: Some(totp).filter(|t| !t.trim().is_empty()),
        ip: anon.client.ip.clone(),
        user_agent: anon.client.user_agent.clone(),
    };
    match auth::login(&app.store, &app.auth, req).await {
        Ok(res) => {
            let next = safe_next(q.get("next").map(String::as_str).unwrap_or("/"));
            let mut r = Redirect::to(&next).into_response();
            r.headers_mut().append(
                header::SET_COOKIE,
                session_cookie(&app, &res.token, app.auth.absolute_timeout.num_seconds()),
            );
            r
        }
        Err(e) => {
            let msg = match e {
                DomainError::InvalidCredentials => i18n::t(lang, "login.failed"),
                DomainError::MfaRequired => i18n::t(lang, "login.mfa"),
                DomainError::RateLimited { .. } => i18n::t(lang, "login.throttled"),
                other => error_message(lang, &other),
            };
            let page = LoginPage {
                ctx: anon.ctx,
                error: Some(msg),
                email,
            };
            let mut res = render(&page);
            *res.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            with_cookie(res, anon.set_cookie)
        }
    }
}

pub async fn logout(State(app): State<AppState>, Posted { page, form: _ }: Posted) -> Response {
    let _ = auth::logout(&app.store, &page.access).await;
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, session_cookie(&app, "", 0));
    r
}

pub async fn setup_page(State(app): State<AppState>, anon: Anon) -> Response {
    if !matches!(rapport_services::users::count(&app.store).await, Ok(0)) {
        return Redirect::to("/login").into_response();
    }
    let page = SetupPage {
        ctx: anon.ctx,
        error: None,
        email: String::new(),
        name: String::new(),
    };
    with_cookie(render(&page), anon.set_cookie)
}

pub async fn setup_submit(
    State(app): State<AppState>,
    AnonPosted { anon, form }: AnonPosted,
) -> Response {
    let lang = anon.ctx.lang;
    let (email, name, password) = (
        field(&form, "email"),
        field(&form, "name"),
        field(&form, "password"),
    );
    match auth::setup_first_admin(
        &app.store,
        &email,
        &name,
        &password,
        lang.code(),
        anon.client.ip.clone(),
    )
    .await
    {
        Ok(user) => {
            if !field(&form, "sample").is_empty() {
                if let Ok((principal, _)) = auth::principal_for(
                    &app.store,
                    &user,
                    None,
                    None,
                    false,
                    anon.client.ip.clone(),
                    None,
                )
                .await
                {
                    let sampled = match Access::resolve(&app.store, principal).await {
                        Ok(access) => {
                            rapport_services::demo::sample(&app.store, &access, 30, 60).await
                        }
                        Err(e) => Err(e),
                    };
                    if let Err(e) = sampled {
                        tracing::warn!(error = %e, "sample data could not be created");
                    }
                }
            }
            Redirect::to("/login").into_response()
        }
        Err(DomainError::SetupDone) => Redirect::to("/login").into_response(),
        Err(e) => {
            let page = SetupPage {
                ctx: anon.ctx,
                error: Some(error_message(lang, &e)),
                email,
                name,
            };
            let mut res = render(&page);
            *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            with_cookie(res, anon.set_cookie)
        }
    }
}

/// Switch language: remembered in a cookie and, when signed in, on the user's profile.
pub async fn switch_language(
    State(app): State<AppState>,
    EitherPosted { session, form }: EitherPosted,
) -> Response {
    let Some(lang) = i18n::Lang::parse(&field(&form, "lang")) else {
        return (
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "lang must be zh-CN or en",
        )
            .into_response();
    };
    if let Some(tok) = session {
        if let Ok(a) = auth::authenticate(&app.store, &app.auth, &tok, None, None).await {
            let _ =
                rapport_services::users::set_language(&app.store, &a.user.id, lang.code()).await;
        }
    }
    let next = safe_next(&field(&form, "next"));
    let mut r = Redirect::to(&next).into_response();
    let secure = if app.tls { "; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax{secure}",
        lang.code()
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    let _ = form::urlencode("");
    r
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_on_this_site_are_followed() {
        for ok in [
            "/",
            "/accounts?q=a&sort=-name",
            "/contacts/0190-ab#top",
            "/search?q=%E5%BC%A0",
        ] {
            assert_eq!(safe_next(ok), ok);
        }
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\r\nX: 1",
            "/\n/evil.example",
            "/ /evil.example",
            "/客户",
            "evil.example",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }
}
