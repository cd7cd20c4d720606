//! In-app notifications: a user's own inbox (assignments, mentions, reminders, later
//! approvals). Services create them inside the transaction of the change that causes them;
//! a user reads and marks only their own, and anyone else's is a 404.

use crate::access::Access;
use crate::{audit, Store};
use chrono::{DateTime, Utc};
use rapport_core::{ids, DomainError};
use rapport_db::{all, db_err, exec, get, one};
use sea_orm::sea_query::{Alias, Expr, OnConflict, Order, Query};
use sea_orm::{ConnectionTrait, QueryResult};
use serde::Serialize;
use serde_json::{json, Value};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// Why a user is notified.
pub const ASSIGNED: &str = "task_assigned";
pub const MENTION: &str = "mention";
pub const REMINDER: &str = "reminder";
/// A contract waits for the user's approval.
pub const APPROVAL_REQUESTED: &str = "approval_requested";
/// A contract the user submitted was approved, or rejected.
pub const CONTRACT_APPROVED: &str = "contract_approved";
pub const CONTRACT_REJECTED: &str = "contract_rejected";

/// A restore drill (or a scheduled backup) failed: sent to every administrator.
pub const BACKUP_FAILED: &str = "backup_failed";

/// Notifications always sent by email as well (operational alarms nobody should miss).
pub const ALWAYS_EMAILED: [&str; 1] = [BACKUP_FAILED];

/// Notifications a user may also receive by email.
pub const EMAILABLE: [&str; 6] = [
    ASSIGNED,
    MENTION,
    REMINDER,
    APPROVAL_REQUESTED,
    CONTRACT_APPROVED,
    CONTRACT_REJECTED,
];

/// The job that emails a notification (run by `crate::mail`).
pub const MAIL_JOB: &str = "mail.notification";

#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub actor_id: Option<String>,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// A notification to create.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub user_id: String,
    pub kind: &'static str,
    pub subject: String,
    pub object: Option<(String, String)>,
    pub actor_id: Option<String>,
    pub payload: Value,
    /// At most one notification with this key is ever created.
    pub dedupe_key: Option<String>,
}

const COLS: [&str; 9] = [
    "id",
    "kind",
    "subject",
    "object_type",
    "object_id",
    "actor_id",
    "payload",
    "created_at",
    "read_at",
];

fn row_to(r: &QueryResult) -> Result<Notification, DomainError> {
    let payload: String = get(r, "payload")?;
    Ok(Notification {
        id: get(r, "id")?,
        kind: get(r, "kind")?,
        subject: get(r, "subject")?,
        object_type: get(r, "object_type")?,
        object_id: get(r, "object_id")?,
        actor_id: get(r, "actor_id")?,
        payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
        created_at: get(r, "created_at")?,
        read_at: get(r, "read_at")?,
    })
}

/// Create a notification inside the caller's transaction. Returns false when one with the
/// same dedupe key exists already.
pub async fn notify<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
    n: NewNotification,
) -> Result<bool, DomainError> {
    let id = ids::new_id();
    let (user_id, kind) = (n.user_id.clone(), n.kind);
    let (ot, oid) = match n.object {
        Some((t, i)) => (Some(t), Some(i)),
        None => (None, None),
    };
    let mut q = Query::insert();
    q.into_table(t("notifications"))
        .columns(
            [
                "id",
                "user_id",
                "kind",
                "subject",
                "object_type",
                "object_id",
                "actor_id",
                "payload",
                "dedupe_key",
                "created_at",
            ]
            .map(t),
        )
        .values_panic([
            id.clone().into(),
            n.user_id.into(),
            n.kind.into(),
            n.subject.into(),
            ot.into(),
            oid.into(),
            n.actor_id.into(),
            n.payload.to_string().into(),
            n.dedupe_key.into(),
            now.into(),
        ]);
    q.on_conflict(OnConflict::column(t("dedupe_key")).do_nothing().to_owned());
    let created = exec(c, &q).await? == 1;
    if created {
        queue_mail(c, now, &user_id, kind, &id).await?;
    }
    Ok(created)
}

/// The caller's notifications, newest first; `before` is the id-ordered cursor.
pub async fn list(
    store: &Store,
    actor: &Access,
    unread_only: bool,
    before: Option<(DateTime<Utc>, String)>,
    limit: u64,
) -> Result<Vec<Notification>, DomainError> {
    let mut q = Query::select();
    q.columns(COLS.map(t))
        .from(t("notifications"))
        .and_where(Expr::col(t("user_id")).eq(actor.user_id.clone()))
        .order_by(t("created_at"), Order::Desc)
        .order_by(t("id"), Order::Desc)
        .limit(limit.clamp(1, 200));
    if unread_only {
        q.and_where(Expr::col(t("read_at")).is_null());
    }
    if let Some((at, id)) = before {
        q.cond_where(
            sea_orm::sea_query::Cond::any()
                .add(Expr::col(t("created_at")).lt(at))
                .add(
                    sea_orm::sea_query::Cond::all()
                        .add(Expr::col(t("created_at")).eq(at))
                        .add(Expr::col(t("id")).lt(id)),
                ),
        );
    }
    let rows = all(store.db.reader(), &q).await?;
    rows.iter().map(row_to).collect()
}

/// How many of the caller's notifications are unread (the bell).
pub async fn unread_count(store: &Store, actor: &Access) -> Result<i64, DomainError> {
    let row = one(
        store.db.reader(),
        Query::select()
            .expr_as(Expr::col(t("id")).count(), t("n"))
            .from(t("notifications"))
            .and_where(Expr::col(t("user_id")).eq(actor.user_id.clone()))
            .and_where(Expr::col(t("read_at")).is_null()),
    )
    .await?;
    match row {
        Some(r) => get(&r, "n"),
        None => Ok(0),
    }
}

/// Mark one of the caller's notifications read. Someone else's is not found.
pub async fn mark_read(store: &Store, actor: &Access, id: &str) -> Result<(), DomainError> {
    let now = store.now();
    let tx = store.db.begin().await?;
    let exists = one(
        &tx,
        Query::select()
            .column(t("read_at"))
            .from(t("notifications"))
            .and_where(Expr::col(t("id")).eq(id))
            .and_where(Expr::col(t("user_id")).eq(actor.user_id.clone())),
    )
    .await?;
    let Some(row) = exists else {
        return Err(DomainError::NotFound);
    };
    if get::<Option<DateTime<Utc>>>(&row, "read_at")?.is_none() {
        exec(
            &tx,
            Query::update()
                .table(t("notifications"))
                .value(t("read_at"), now)
                .and_where(Expr::col(t("id")).eq(id)),
        )
        .await?;
        audit::record(
            &tx,
            store,
            actor,
            audit::Entry::new("notification.read").object("notification", id),
        )
        .await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

/// Mark all of the caller's notifications read; returns how many changed.
pub async fn mark_all_read(store: &Store, actor: &Access) -> Result<u64, DomainError> {
    let now = store.now();
    let tx = store.db.begin().await?;
    let n = exec(
        &tx,
        Query::update()
            .table(t("notifications"))
            .value(t("read_at"), now)
            .and_where(Expr::col(t("user_id")).eq(actor.user_id.clone()))
            .and_where(Expr::col(t("read_at")).is_null()),
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("notification.read_all").details(json!({"count": n})),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(n)
}

/// The notifications the caller also wants by email.
pub async fn email_preferences<C: ConnectionTrait>(
    c: &C,
    user_id: &str,
) -> Result<Vec<String>, DomainError> {
    let row = one(
        c,
        Query::select()
            .column(t("email_notifications"))
            .from(t("users"))
            .and_where(Expr::col(t("id")).eq(user_id)),
    )
    .await?;
    Ok(row
        .and_then(|r| {
            get::<Option<String>>(&r, "email_notifications")
                .ok()
                .flatten()
        })
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

/// Choose which notifications also come by email.
pub async fn set_email_preferences(
    store: &Store,
    actor: &Access,
    kinds: &[String],
) -> Result<(), DomainError> {
    if actor.read_only {
        return Err(DomainError::Forbidden("this session is read-only".into()));
    }
    for k in kinds {
        if !EMAILABLE.contains(&k.as_str()) {
            return Err(DomainError::field(
                "email_notifications",
                "invalid_choice",
                format!("email_notifications may contain: {}", EMAILABLE.join(", ")),
            ));
        }
    }
    let mut kinds: Vec<String> = kinds.to_vec();
    kinds.sort();
    kinds.dedup();
    let tx = store.db.begin().await?;
    exec(
        &tx,
        Query::update()
            .table(t("users"))
            .value(
                t("email_notifications"),
                serde_json::to_string(&kinds).map_err(DomainError::internal)?,
            )
            .and_where(Expr::col(t("id")).eq(actor.user_id.clone())),
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("user.email_notifications_changed")
            .object("user", &actor.user_id)
            .details(json!({"email_notifications": kinds})),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

/// Inside the transaction that created a notification: queue its email when the user wants it.
async fn queue_mail<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
    user_id: &str,
    kind: &str,
    notification_id: &str,
) -> Result<(), DomainError> {
    if !ALWAYS_EMAILED.contains(&kind)
        && !email_preferences(c, user_id)
            .await?
            .iter()
            .any(|k| k == kind)
    {
        return Ok(());
    }
    crate::jobs::enqueue(
        c,
        now,
        crate::jobs::NewJob::new(MAIL_JOB, json!({"notification_id": notification_id}), now)
            .dedupe(format!("mail:{notification_id}")),
    )
    .await?;
    Ok(())
}
