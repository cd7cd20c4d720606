//! The home page (counts and the day's activities) and global search across record types.

use super::{render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use rapport_core::{Action, DomainError, Scope};
use rapport_services::objects::CONTACTS;
use rapport_services::records::query::{self, ListParams};

use super::form::{self, field};
use super::i18n::t;
use super::record_pages::{page_error, record_label};

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    ctx: Ctx,
    accounts: String,
    contacts: String,
    day: super::activity_pages::MyDay,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    ctx: Ctx,
    groups: Vec<SearchGroup>,
}

/// What a search found of one record type: its name, the first matches (label, link, a line
/// under it) and, when there are more, the type's list with the same search.
struct SearchGroup {
    title: String,
    rows: Vec<(String, String, String)>,
    more: Option<String>,
}

/// Matches shown a record type on the search page.
const SEARCH_ROWS: u64 = 10;

pub async fn home(State(app): State<AppState>, page: Page) -> Response {
    let count =
        |n: Result<i64, DomainError>| n.map(|n| n.to_string()).unwrap_or_else(|_| "—".into());
    let accounts = count(
        query::count(
            &app.store,
            &page.access,
            &rapport_services::objects::ACCOUNTS,
        )
        .await,
    );
    let contacts = count(query::count(&app.store, &page.access, &CONTACTS).await);
    let day = match super::activity_pages::my_day(&app, &page).await {
        Ok(d) => d,
        Err(e) => return page_error(page.ctx.lang, e),
    };
    render(&HomePage {
        ctx: page.ctx,
        accounts,
        contacts,
        day,
    })
}

/// What a search for `text` finds of every record type the user may read, through each
/// type's quick search (names, numbers, emails, phones), grouped by type in the order of the
/// navigation, at most `rows` a type.
async fn find_groups(
    app: &AppState,
    page: &Page,
    text: &str,
    rows: u64,
) -> Result<Vec<SearchGroup>, DomainError> {
    let lang = page.ctx.lang;
    let mut groups = Vec::new();
    if text.is_empty() {
        return Ok(groups);
    }
    for def in app.store.types().all() {
        if page.access.scope(def.object, Action::Read) == Scope::None {
            continue;
        }
        let params = ListParams {
            q: Some(text.to_string()),
            limit: Some(rows),
            ..Default::default()
        };
        let found = query::list(&app.store, &page.access, def, &params).await?;
        if found.data.is_empty() {
            continue;
        }
        let rows = found
            .data
            .iter()
            .map(|r| {
                let sub = ["number", "city", "title", "company", "code"]
                    .iter()
                    .find_map(|k| r[*k].as_str().filter(|s| !s.is_empty()))
                    .unwrap_or("")
                    .to_string();
                (
                    record_label(def, r),
                    format!("/{}/{}", def.plural(), r["id"].as_str().unwrap_or("")),
                    sub,
                )
            })
            .collect();
        groups.push(SearchGroup {
            title: t(lang, &format!("nav.{}", def.plural())),
            rows,
            more: found
                .next_cursor
                .map(|_| format!("/{}?q={}", def.plural(), form::urlencode(text))),
        });
    }
    Ok(groups)
}

/// Global search: what every record type the user may read has that matches, grouped.
pub async fn search(
    State(app): State<AppState>,
    mut page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let text = field(&q, "q").trim().to_string();
    page.ctx.search = text.clone();
    match find_groups(&app, &page, &text, SEARCH_ROWS).await {
        Ok(groups) => render(&SearchPage {
            ctx: page.ctx,
            groups,
        }),
        Err(e) => page_error(page.ctx.lang, e),
    }
}

/// Matches a record type shows while the search is typed.
const SUGGEST_ROWS: u64 = 5;

/// The global search's suggestions while it is typed (the top bar's list; Ctrl/Cmd+K):
/// `{"groups": [{"title", "rows": [{"label", "href", "sub"}], "more"}], "all"}`.
pub async fn suggest(
    State(app): State<AppState>,
    page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let text = field(&q, "q").trim().to_string();
    match find_groups(&app, &page, &text, SUGGEST_ROWS).await {
        Ok(groups) => axum::Json(serde_json::json!({
            "groups": groups.iter().map(|g| serde_json::json!({
                "title": g.title,
                "rows": g.rows.iter().map(|(label, href, sub)| serde_json::json!({
                    "label": label, "href": href, "sub": sub,
                })).collect::<Vec<_>>(),
                "more": g.more,
            })).collect::<Vec<_>>(),
            "all": format!("/search?q={}", form::urlencode(&text)),
        }))
        .into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}
