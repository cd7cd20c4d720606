//! The home page (counts and the day's activities) and global search across record types.

use super::{render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use rapport_core::{Action, DomainError, Scope};
use rapport_services::objects;
use rapport_services::objects::CONTACTS;
use rapport_services::records::query::{self, ListParams};

use super::form::field;
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
    accounts: Vec<(String, String, String)>,
    contacts: Vec<(String, String, String)>,
}

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

pub async fn search(
    State(app): State<AppState>,
    mut page: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let text = field(&q, "q").trim().to_string();
    let lang = page.ctx.lang;
    page.ctx.search = text.clone();
    let mut out: Vec<Vec<(String, String, String)>> = vec![vec![], vec![]];
    if !text.is_empty() {
        for (i, def) in [&rapport_services::objects::ACCOUNTS, &CONTACTS]
            .into_iter()
            .enumerate()
        {
            if page.access.scope(def.object, Action::Read) == Scope::None {
                continue;
            }
            let params = ListParams {
                q: Some(text.clone()),
                limit: Some(20),
                ..Default::default()
            };
            match query::list(&app.store, &page.access, def, &params).await {
                Ok(p) => {
                    out[i] = p
                        .data
                        .iter()
                        .map(|r| {
                            let sub = if def.object == objects::ACCOUNT {
                                r["city"].as_str().unwrap_or("").to_string()
                            } else {
                                r["title"].as_str().unwrap_or("").to_string()
                            };
                            (
                                record_label(def, r),
                                format!("/{}s/{}", def.key(), r["id"].as_str().unwrap_or("")),
                                sub,
                            )
                        })
                        .collect()
                }
                Err(e) => return page_error(lang, e),
            }
        }
    }
    let contacts = out.pop().unwrap_or_default();
    let accounts = out.pop().unwrap_or_default();
    render(&SearchPage {
        ctx: page.ctx,
        accounts,
        contacts,
    })
}
