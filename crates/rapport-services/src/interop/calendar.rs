//! Every user's private iCalendar feed (RFC 5545): their meetings and visits as events and their
//! tasks as to-dos, at a secret address calendar apps subscribe to. The secret is looked up by
//! its SHA-256 and kept encrypted so the user can see the address again; resetting it makes the
//! old address stop working at once.

use crate::access::Access;
use crate::activities::{self, Activity};
use crate::{audit, users, Store};
use chrono::Duration;
use rapport_core::activity::Kind;
use rapport_core::DomainError;
use rapport_db::{exec, get, one};
use rapport_interchange::icalendar::{Feed, Item};
use sea_orm::sea_query::{Alias, Expr, Query};
use sha2::{Digest, Sha256};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

async fn store_token(store: &Store, actor: &Access, token: &str) -> Result<(), DomainError> {
    let enc = store
        .keys()?
        .encrypt("users", "calendar_feed_enc", &actor.user_id, token)?;
    let tx = store.db.begin().await?;
    exec(
        &tx,
        Query::update()
            .table(t("users"))
            .value(t("calendar_feed_hash"), hash(token))
            .value(t("calendar_feed_enc"), enc)
            .and_where(Expr::col(t("id")).eq(actor.user_id.clone())),
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("calendar_feed.reset").object("user", &actor.user_id),
    )
    .await?;
    tx.commit().await.map_err(rapport_db::db_err)?;
    Ok(())
}

/// The secret of the caller's feed, created on first use.
pub async fn token(store: &Store, actor: &Access) -> Result<String, DomainError> {
    if actor.viewed_by.is_some() {
        return Err(DomainError::Forbidden(
            "a preview cannot read another user's calendar address".into(),
        ));
    }
    let row = one(
        store.db.reader(),
        Query::select()
            .column(t("calendar_feed_enc"))
            .from(t("users"))
            .and_where(Expr::col(t("id")).eq(actor.user_id.clone())),
    )
    .await?
    .ok_or(DomainError::NotFound)?;
    match get::<Option<String>>(&row, "calendar_feed_enc")? {
        Some(enc) => store
            .keys()?
            .decrypt("users", "calendar_feed_enc", &actor.user_id, &enc),
        None => {
            let token = new_token();
            store_token(store, actor, &token).await?;
            Ok(token)
        }
    }
}

/// Replace the caller's feed secret; the old address stops working.
pub async fn reset(store: &Store, actor: &Access) -> Result<String, DomainError> {
    if actor.read_only {
        return Err(DomainError::Forbidden("this session is read-only".into()));
    }
    let token = new_token();
    store_token(store, actor, &token).await?;
    Ok(token)
}

/// An activity as the feed shows it.
fn item(a: &Activity) -> Item<'_> {
    Item {
        id: &a.id,
        subject: &a.subject,
        body: a.body.as_deref(),
        place: a.place.as_deref(),
        updated_at: a.updated_at,
        start: a.start_at.unwrap_or(a.at),
        end: a.end_at,
        due: a.due_at,
        completed_at: a.completed_at,
        priority: a.priority,
        status: a.status,
    }
}

/// The feed behind a secret: the owner's meetings, visits (also those they attend) and tasks
/// from 30 days back to a year ahead, read with the owner's own permissions. An unknown secret
/// or a disabled user is not found.
pub async fn render(store: &Store, token: &str) -> Result<String, DomainError> {
    if token.len() != 64 || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(DomainError::NotFound);
    }
    let row = one(
        store.db.reader(),
        Query::select()
            .column(t("id"))
            .from(t("users"))
            .and_where(Expr::col(t("calendar_feed_hash")).eq(hash(token))),
    )
    .await?
    .ok_or(DomainError::NotFound)?;
    let id: String = get(&row, "id")?;
    let user = users::get_user(store, &id)
        .await?
        .filter(|u| u.active)
        .ok_or(DomainError::NotFound)?;
    let owner = crate::users::access_of(store, &user.id, true)
        .await?
        .ok_or(DomainError::NotFound)?;
    let now = store.now();
    let mut feed = Feed::new(&format!("Rapport · {}", user.name));
    for kind in [Kind::Meeting, Kind::Visit, Kind::Task] {
        let rows = activities::list(
            store,
            &owner,
            &activities::ListFilter {
                assignee_id: Some(user.id.clone()),
                include_attending: true,
                kind: Some(kind),
                since: Some(now - Duration::days(30)),
                until: Some(now + Duration::days(365)),
                ascending: true,
                limit: 200,
                ..Default::default()
            },
        )
        .await?;
        for (a, _) in rows {
            if kind == Kind::Task {
                feed.todo(&item(&a));
            } else {
                feed.event(&item(&a));
            }
        }
    }
    audit::record_alone(
        store,
        &owner,
        audit::Entry::new("calendar_feed.read").object("user", &owner.user_id),
    )
    .await?;
    Ok(feed.finish())
}
