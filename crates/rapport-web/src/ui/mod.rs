//! The web interface: server-rendered pages (askama) over the same services as the API.
//! Forms post back with a CSRF token; every page works without JavaScript.

mod activity_pages;
mod admin_pages;
mod assets;
mod auth_pages;
mod backup_pages;
mod create_pages;
mod document_pages;
mod export_pages;
mod form;
mod home_pages;
pub mod i18n;
mod import_pages;
mod interop_pages;
mod jobs_pages;
mod list_pages;
mod mail_pages;
mod merge_pages;
mod messages;
mod notification_pages;
mod pool_pages;
mod posted;
mod record_pages;
mod related;
mod role_pages;
mod sales_pages;
mod sales_settings_pages;
mod security_pages;
mod settings_pages;

use crate::extract::{cookie, csrf_for, Client, SESSION_COOKIE};
use crate::AppState;
use askama::Template;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use i18n::Lang;
use rapport_core::DomainError;
use rapport_services::access::Access;
use rapport_services::users::User;

pub const LANG_COOKIE: &str = "rapport_lang";
pub const PRE_CSRF_COOKIE: &str = "rapport_csrf";
pub const VIEW_AS_COOKIE: &str = "rapport_view_as";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/app.css", get(assets::css))
        .route("/static/app.js", get(assets::js))
        .route("/favicon.svg", get(assets::favicon))
        .route("/favicon.ico", get(assets::favicon))
        .route(
            "/login",
            get(auth_pages::login_page).post(auth_pages::login_submit),
        )
        .route("/logout", post(auth_pages::logout))
        .route(
            "/setup",
            get(auth_pages::setup_page).post(auth_pages::setup_submit),
        )
        .route("/lang", post(auth_pages::switch_language))
        .route("/", get(home_pages::home))
        .route("/search", get(home_pages::search))
        .route("/search/suggest", get(home_pages::suggest))
        .route("/me/security", get(security_pages::page))
        .route("/me/mfa/enroll", post(security_pages::mfa_enroll))
        .route("/me/mfa/confirm", post(security_pages::mfa_confirm))
        .route("/me/mfa/disable", post(security_pages::mfa_disable))
        .route(
            "/me/sessions/{id}/revoke",
            post(security_pages::revoke_session),
        )
        .route("/me/tokens", post(security_pages::create_token))
        .route(
            "/me/calendar-feed/reset",
            post(security_pages::reset_calendar),
        )
        .route("/me/tokens/{id}/revoke", post(security_pages::revoke_token))
        .route("/admin/audit", get(admin_pages::audit))
        .route(
            "/admin/users",
            get(admin_pages::users).post(admin_pages::create_user),
        )
        .route("/admin/users/{id}/active", post(admin_pages::set_active))
        .route(
            "/admin/users/{id}/password",
            post(admin_pages::reset_password),
        )
        .route("/admin/users/{id}/mfa-reset", post(admin_pages::reset_mfa))
        .route(
            "/admin/users/{id}/revoke",
            post(admin_pages::revoke_sessions),
        )
        .route("/admin/view-as", post(admin_pages::view_as))
        .route("/admin/settings", get(settings_pages::page))
        .route("/admin/sales", get(sales_settings_pages::page))
        .route(
            "/admin/sales/pipelines/{id}",
            post(sales_settings_pages::save_pipeline),
        )
        .route(
            "/admin/sales/approval-flow",
            post(sales_settings_pages::save_flow),
        )
        .route("/admin/sales/pool", post(sales_settings_pages::save_pool))
        .route(
            "/admin/sales/price-lists/{id}",
            post(sales_settings_pages::save_price_list),
        )
        .route(
            "/admin/settings/custom-fields",
            post(settings_pages::save_custom_field),
        )
        .route(
            "/admin/settings/picklists",
            post(settings_pages::save_picklist),
        )
        .route(
            "/admin/settings/departments",
            post(settings_pages::create_department),
        )
        .route(
            "/admin/settings/duplicates",
            post(settings_pages::save_duplicates),
        )
        .route(
            "/admin/settings/imports",
            post(settings_pages::save_import_retention),
        )
        .route("/admin/settings/roles", post(role_pages::create_role))
        .route(
            "/admin/settings/roles/{key}",
            get(role_pages::role_page).post(role_pages::save_role),
        )
        .route(
            "/admin/settings/roles/{key}/delete",
            post(role_pages::delete_role),
        )
        .route("/admin/view-as/exit", post(admin_pages::view_as_exit))
        .route("/admin/jobs", get(jobs_pages::jobs_page))
        .route(
            "/admin/backups",
            get(backup_pages::page).post(backup_pages::start),
        )
        .route("/admin/backups/drill", post(backup_pages::drill))
        .route("/admin/backups/target", post(backup_pages::save_target))
        .route(
            "/admin/backups/target/test",
            post(backup_pages::test_target),
        )
        .route(
            "/admin/backups/target/remove",
            post(backup_pages::remove_target),
        )
        .route("/admin/mail", get(mail_pages::page).post(mail_pages::save))
        .route("/admin/mail/test", post(mail_pages::test))
        .route("/admin/mail/anchors", post(mail_pages::save_anchor_email))
        .route(
            "/me/email-notifications",
            post(mail_pages::save_preferences),
        )
        .route("/contacts/{id}/email", post(mail_pages::email_contact))
        .route("/admin/jobs/{id}/retry", post(jobs_pages::retry_job))
        .route(
            "/notifications",
            get(notification_pages::notifications_page),
        )
        .route(
            "/notifications/read-all",
            post(notification_pages::mark_all_read),
        )
        .route(
            "/notifications/{id}/read",
            post(notification_pages::mark_read),
        )
        .route("/activities/{id}/done", post(activity_pages::complete))
        .route("/{object}/{id}/activities", post(activity_pages::log))
        .route(
            "/contacts/import-vcard",
            post(interop_pages::import_vcard).layer(axum::extract::DefaultBodyLimit::max(
                crate::api::interop::MAX_VCARD_BYTES + 64 * 1024,
            )),
        )
        .route("/opportunities/board", get(sales_pages::board_page))
        .route("/approvals", get(document_pages::approvals_page))
        .route(
            "/imports",
            get(import_pages::list_page)
                .post(import_pages::upload)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::api::imports::MAX_IMPORT_BYTES,
                )),
        )
        .route("/imports/{id}", get(import_pages::import_page))
        .route("/imports/{id}/run", post(import_pages::run))
        .route("/imports/{id}/undo", post(import_pages::undo))
        .route("/exports", get(export_pages::exports_page))
        .route("/exports/{id}/file", get(export_pages::file))
        .route("/duplicates", get(merge_pages::duplicates_page))
        .route("/duplicates/merge", post(merge_pages::bulk_merge))
        .route(
            "/merge",
            get(merge_pages::merge_page).post(merge_pages::merge),
        )
        .route("/merges/{id}/undo", post(merge_pages::undo))
        .route("/pool", get(pool_pages::pool_page))
        .route("/pool/{id}/claim", post(pool_pages::claim))
        .route("/accounts/{id}/release", post(pool_pages::release))
        .route(
            "/targets",
            get(pool_pages::targets_page).post(pool_pages::set_target),
        )
        .route("/receivables", get(document_pages::receivables_page))
        .route("/quotes/{id}/print", get(document_pages::print_quote))
        .route(
            "/quotes/{id}/status/{status}",
            post(document_pages::quote_status),
        )
        .route("/quotes/{id}/contract", post(document_pages::make_contract))
        .route("/quotes/{id}/order", post(document_pages::make_quote_order))
        .route(
            "/contracts/{id}/order",
            post(document_pages::make_contract_order),
        )
        .route("/contracts/{id}/plan", post(document_pages::save_plan))
        .route(
            "/contracts/{id}/{action}",
            post(document_pages::contract_action),
        )
        .route("/opportunities/{id}/stage", post(sales_pages::move_stage))
        .route(
            "/leads/{id}/convert",
            get(sales_pages::convert_form).post(sales_pages::convert),
        )
        .route("/{object}", get(list_pages::list))
        .route(
            "/{object}/new",
            get(create_pages::new_form).post(create_pages::create),
        )
        .route("/{object}/views", post(list_pages::save_view))
        .route("/{object}/bulk", post(list_pages::bulk))
        .route("/{object}/export", get(list_pages::export))
        .route("/{object}/{id}", get(record_pages::detail))
        .route("/{object}/{id}/edit", post(record_pages::edit_field))
        .route("/{object}/{id}/delete", post(record_pages::delete))
        .route("/{object}/{id}/erase", post(record_pages::erase))
}

/// What every page template needs.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub user: Option<User>,
    pub csrf: String,
    pub is_admin: bool,
    pub path: String,
    pub section: &'static str,
    pub search: String,
    pub asset_version: &'static str,
    /// Set while an administrator previews what another user sees.
    pub viewing_as: Option<String>,
    /// Unread notifications (the bell).
    pub unread: i64,
}

impl Ctx {
    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key)
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }
}

fn resolve_lang(parts: &Parts, user: Option<&User>) -> Lang {
    lang_of(&parts.headers, user)
}

/// The language cookie, then the user's language, then the browser's `Accept-Language`,
/// then Chinese.
fn lang_of(headers: &axum::http::HeaderMap, user: Option<&User>) -> Lang {
    if let Some(l) = crate::extract::cookie_in(headers, LANG_COOKIE).and_then(|c| Lang::parse(&c)) {
        return l;
    }
    if let Some(l) = user.and_then(|u| Lang::parse(&u.language)) {
        return l;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept)
        .unwrap_or(Lang::Zh)
}

/// A signed-in page request. Without a valid session cookie the browser is sent to sign in
/// (or to the first-run setup page when there are no users yet).
pub struct Page {
    pub ctx: Ctx,
    /// The caller's rights, resolved once for the request.
    pub access: Access,
    pub user: User,
    pub must_enrol_mfa: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Page
where
    AppState: axum::extract::FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app: AppState = axum::extract::FromRef::from_ref(state);
        let client = Client::from_request_parts(parts, state)
            .await
            .unwrap_or(Client {
                ip: None,
                user_agent: None,
            });
        let to_login = || {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            Redirect::to(&format!("/login?next={}", form::urlencode(next))).into_response()
        };
        let Some(token) = cookie(parts, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
            if matches!(rapport_services::users::count(&app.store).await, Ok(0)) {
                return Err(Redirect::to("/setup").into_response());
            }
            return Err(to_login());
        };
        let authed = match rapport_auth::service::authenticate(
            &app.store,
            &app.auth,
            &token,
            client.ip,
            client.user_agent,
        )
        .await
        {
            Ok(a) => a,
            Err(DomainError::Unauthenticated) => return Err(to_login()),
            Err(e) => return Err(error_page(Lang::Zh, e)),
        };
        let lang = resolve_lang(parts, Some(&authed.user));
        let path = parts.uri.path().to_string();
        if authed.must_enrol_mfa
            && !path.starts_with("/me/")
            && path != "/logout"
            && path != "/lang"
        {
            return Err(Redirect::to("/me/security").into_response());
        }
        let section = match path.split('/').nth(1).unwrap_or("") {
            "" => "home",
            "accounts" => "accounts",
            "contacts" => "contacts",
            "leads" => "leads",
            "opportunities" if path.starts_with("/opportunities/board") => "board",
            "opportunities" => "opportunities",
            "products" => "products",
            "quotes" => "quotes",
            "contracts" | "approvals" => "contracts",
            "orders" => "orders",
            "payments" | "receivables" => "payments",
            "pool" => "pool",
            "imports" => "imports",
            "targets" => "targets",
            "admin" if path.starts_with("/admin/users") => "users",
            "admin" if path.starts_with("/admin/settings") => "settings",
            "admin" if path.starts_with("/admin/sales") => "sales_settings",
            "admin" if path.starts_with("/admin/jobs") => "jobs",
            "admin" if path.starts_with("/admin/mail") => "mail",
            "admin" if path.starts_with("/admin/backups") => "backups",
            "admin" => "audit",
            _ => "",
        };
        let mut principal = authed.principal;
        let mut viewing_as = None;
        let exempt = matches!(path.as_str(), "/admin/view-as/exit" | "/logout" | "/lang");
        if let Some(target) = cookie(parts, VIEW_AS_COOKIE)
            .filter(|t| !t.is_empty() && !exempt && principal.is_admin())
        {
            if let Ok(Some(user)) = rapport_services::users::get_user(&app.store, &target).await {
                if let Ok((mut viewed, _)) = rapport_auth::service::principal_for(
                    &app.store,
                    &user,
                    principal.session_id.clone(),
                    None,
                    true,
                    principal.ip.clone(),
                    principal.user_agent.clone(),
                )
                .await
                {
                    viewed.viewed_by = Some(principal.user_id.clone());
                    principal = viewed;
                    viewing_as = Some(user.name.clone());
                }
            }
        }
        let access = match Access::resolve(&app.store, principal).await {
            Ok(a) => a,
            Err(e) => return Err(error_page(lang, e)),
        };
        let principal = access.principal();
        let ctx = Ctx {
            lang,
            user: Some(authed.user.clone()),
            csrf: csrf_for(&token),
            is_admin: principal.is_admin(),
            path: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            section,
            search: String::new(),
            asset_version: assets::VERSION,
            viewing_as,
            unread: rapport_services::notifications::unread_count(&app.store, &access)
                .await
                .unwrap_or(0),
        };
        Ok(Page {
            ctx,
            access,
            user: authed.user,
            must_enrol_mfa: authed.must_enrol_mfa,
        })
    }
}

/// A page request before sign-in: language and a double-submit CSRF cookie.
pub struct Anon {
    pub ctx: Ctx,
    pub set_cookie: Option<HeaderValue>,
    pub client: Client,
}

impl<S: Send + Sync> FromRequestParts<S> for Anon
where
    AppState: axum::extract::FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app: AppState = axum::extract::FromRef::from_ref(state);
        let client = Client::from_request_parts(parts, state)
            .await
            .unwrap_or(Client {
                ip: None,
                user_agent: None,
            });
        let existing = cookie(parts, PRE_CSRF_COOKIE)
            .filter(|c| c.len() == 32 && c.chars().all(|ch| ch.is_ascii_hexdigit()));
        let (csrf, set_cookie) = match existing {
            Some(c) => (c, None),
            None => {
                use rand::RngCore;
                let mut b = [0u8; 16];
                rand::rngs::OsRng.fill_bytes(&mut b);
                let v: String = b.iter().map(|x| format!("{x:02x}")).collect();
                // Secure under TLS, like the session cookie.
                let secure = if app.tls { "; Secure" } else { "" };
                let header = HeaderValue::from_str(&format!(
                    "{PRE_CSRF_COOKIE}={v}; Path=/; HttpOnly; SameSite=Strict{secure}"
                ))
                .ok();
                (v, header)
            }
        };
        Ok(Anon {
            ctx: Ctx {
                lang: resolve_lang(parts, None),
                user: None,
                csrf,
                is_admin: false,
                path: parts.uri.path().to_string(),
                section: "",
                search: String::new(),
                asset_version: assets::VERSION,
                viewing_as: None,
                unread: 0,
            },
            set_cookie,
            client,
        })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Anon
where
    AppState: axum::extract::FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(Some(
            <Anon as FromRequestParts<S>>::from_request_parts(parts, state).await?,
        ))
    }
}

/// Render a template, or a plain error page if rendering fails.
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "rendering failed").into_response()
        }
    }
}

/// The translated message of a domain error, for a banner.
pub fn error_message(lang: Lang, e: &DomainError) -> String {
    match e {
        DomainError::NotFound => i18n::t(lang, "record.not_found"),
        DomainError::VersionConflict => i18n::t(lang, "record.changed_meanwhile"),
        DomainError::Forbidden(_) => i18n::t(lang, "err.forbidden"),
        DomainError::Validation(errs) => errs
            .iter()
            .map(|f| field_message(lang, f))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

pub fn field_message(lang: Lang, f: &rapport_core::FieldError) -> String {
    let key = format!("err.{}", f.code);
    if i18n::has(&key) {
        i18n::t(lang, &key)
    } else {
        f.message.clone()
    }
}

pub(crate) fn error_page(lang: Lang, e: DomainError) -> Response {
    let status = match &e {
        DomainError::NotFound => StatusCode::NOT_FOUND,
        DomainError::Forbidden(_) => StatusCode::FORBIDDEN,
        DomainError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        DomainError::Storage(rapport_core::StorageError::Unique { .. })
        | DomainError::VersionConflict => StatusCode::CONFLICT,
        e if e.is_internal() => {
            tracing::error!(error = %e, "internal error");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    let message = match &e {
        e if e.is_internal() => i18n::t(lang, "error.internal_detail"),
        _ => error_message(lang, &e),
    };
    status_page(lang, status, message)
}

/// A page for a refusal or an error: the status in words as its title, the message, a way
/// home; in the reader's language, with the site's look (no navigation: there may be no
/// signed-in user).
pub(crate) fn status_page(lang: Lang, status: StatusCode, message: String) -> Response {
    let key = match status {
        StatusCode::NOT_FOUND => "error.not_found",
        StatusCode::FORBIDDEN => "error.forbidden",
        StatusCode::CONFLICT => "error.conflict",
        s if s.is_server_error() => "error.internal",
        _ => "error.refused",
    };
    let page = ErrorPage {
        lang,
        title: i18n::t(lang, key),
        message,
        home: i18n::t(lang, "error.home"),
        version: assets::VERSION,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, page.message).into_response(),
    }
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    lang: Lang,
    title: String,
    message: String,
    home: String,
    version: &'static str,
}

/// The language of a request that may have no session: the language cookie, then the
/// browser's `Accept-Language`, then Chinese.
pub(crate) fn request_lang(headers: &axum::http::HeaderMap) -> Lang {
    lang_of(headers, None)
}

pub use messages::{message, with_message};

/// After a failed form action: back to `to` with the error as people read it (`?error=`), shown
/// there as a banner.
pub fn back_with_error(to: &str, ctx: &Ctx, e: &DomainError) -> Response {
    Redirect::to(&with_message(to, ctx, "error", &error_message(ctx.lang, e))).into_response()
}

/// After a small form action: go to `to` when it worked, else show the error page.
pub fn redirect_or_error<T>(lang: Lang, result: Result<T, DomainError>, to: &str) -> Response {
    match result {
        Ok(_) => Redirect::to(to).into_response(),
        Err(e) => error_page(lang, e),
    }
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A failed POST whose CSRF token does not match.
pub fn csrf_failed() -> Response {
    (
        StatusCode::FORBIDDEN,
        "CSRF check failed; reload the page and try again",
    )
        .into_response()
}
