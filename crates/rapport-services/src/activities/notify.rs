//! Who hears about an activity: the assignee of a task someone else gave them, colleagues
//! @mentioned in its text (only those who may read the linked record), and the reminder
//! recipients when its reminder job runs.

use super::{access, row_to, select, Activity};
use crate::access::Access;
use crate::notifications::{self, NewNotification};
use crate::{users, Store};
use rapport_core::activity::{mentions, Status};
use rapport_core::{DomainError, Principal};
use rapport_db::{all, get, one};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

fn link(a: &Activity) -> Option<(String, String)> {
    Some((a.related_type.clone(), a.related_id.clone()))
}

async fn notify_assignee<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    actor: &Access,
    a: &Activity,
) -> Result<(), DomainError> {
    if let Some(assignee) = &a.assignee_id {
        if assignee != &actor.user_id {
            notifications::notify(
                c,
                store.now(),
                NewNotification {
                    user_id: assignee.clone(),
                    kind: notifications::ASSIGNED,
                    subject: a.subject.clone(),
                    object: link(a),
                    actor_id: Some(actor.user_id.clone()),
                    payload: json!({"activity_id": a.id, "due_at": a.due_at}),
                    dedupe_key: None,
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// Active users named by `@mentions` in `text`: a mention matches a user whose name it starts
/// with (Chinese text has no spaces after a name) or the part of their email before the `@`.
async fn mentioned_users<C: ConnectionTrait>(
    c: &C,
    text: &str,
) -> Result<Vec<(String, String, Option<String>)>, DomainError> {
    let words = mentions(text);
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let rows = all(
        c,
        Query::select()
            .columns([t("id"), t("name"), t("email"), t("department_id")])
            .from(t("users"))
            .and_where(Expr::col(t("active")).eq(true)),
    )
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let id: String = get(&r, "id")?;
        let name: String = get(&r, "name")?;
        let email: String = get(&r, "email")?;
        let dept: Option<String> = get(&r, "department_id")?;
        let local = email.split('@').next().unwrap_or("").to_lowercase();
        let hit = words.iter().any(|w| {
            let lw = w.to_lowercase();
            (!name.trim().is_empty() && name.chars().count() >= 2 && w.starts_with(name.trim()))
                || (!local.is_empty() && lw == local)
        });
        if hit {
            out.push((id, email, dept));
        }
    }
    Ok(out)
}

async fn notify_mentions<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    actor: &Access,
    a: &Activity,
    text: &str,
) -> Result<(), DomainError> {
    for (id, email, dept) in mentioned_users(c, text).await? {
        if id == actor.user_id {
            continue;
        }
        let (grants, _) = users::grants_of(c, &id).await?;
        let them = Access::resolve(
            store,
            Principal {
                user_id: id.clone(),
                email,
                department_id: dept,
                grants,
                ..Principal::system()
            },
        )
        .await?;
        if access::readable_parent(store, &them, &a.related_type, &a.related_id)
            .await?
            .is_none()
        {
            continue;
        }
        notifications::notify(
            c,
            store.now(),
            NewNotification {
                user_id: id.clone(),
                kind: notifications::MENTION,
                subject: a.subject.clone(),
                object: link(a),
                actor_id: Some(actor.user_id.clone()),
                payload: json!({"activity_id": a.id}),
                dedupe_key: Some(format!("mention:{}:{}", a.id, id)),
            },
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn on_create<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    actor: &Access,
    a: &Activity,
) -> Result<(), DomainError> {
    notify_assignee(c, store, actor, a).await?;
    if let Some(body) = &a.body {
        notify_mentions(c, store, actor, a, body).await?;
    }
    Ok(())
}

pub(super) async fn on_update<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    actor: &Access,
    before: &Activity,
    after: &Activity,
) -> Result<(), DomainError> {
    if after.assignee_id != before.assignee_id {
        notify_assignee(c, store, actor, after).await?;
    }
    if after.body != before.body {
        if let Some(body) = &after.body {
            // Mentions already notified keep their dedupe key: only new names are told.
            notify_mentions(c, store, actor, after, body).await?;
        }
    }
    Ok(())
}

/// The reminder job: inside the job's transaction, tell the recipients of a still-open
/// activity whose reminder time is still the one the job was scheduled for.
pub async fn remind<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    payload: &Value,
) -> Result<(), DomainError> {
    let Some(id) = payload["activity_id"].as_str() else {
        return Err(DomainError::Internal(
            "reminder job without activity_id".into(),
        ));
    };
    let at = payload["remind_at"].as_i64();
    let mut q = select();
    q.and_where(Expr::col((t("activities"), t("id"))).eq(id));
    let Some(row) = one(c, &q).await? else {
        return Ok(()); // deleted since
    };
    let a = row_to(&row)?;
    if a.status != Status::Open || a.remind_at.map(|r| r.timestamp_millis()) != at {
        return Ok(()); // done, cancelled or rescheduled since
    }
    for user in a.reminder_recipients() {
        notifications::notify(
            c,
            store.now(),
            NewNotification {
                user_id: user.clone(),
                kind: notifications::REMINDER,
                subject: a.subject.clone(),
                object: link(&a),
                actor_id: None,
                payload: json!({"activity_id": a.id, "kind": a.kind.key(), "at": a.at}),
                dedupe_key: Some(format!("remind:{}:{}:{}", a.id, at.unwrap_or(0), user)),
            },
        )
        .await?;
    }
    Ok(())
}
