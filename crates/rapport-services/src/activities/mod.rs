//! Activities on accounts and contacts (later leads, opportunities and tickets): create with an
//! optional follow-up task, read, list, update, delete. Every change writes the audit entry and
//! outbox event, refreshes "last/next activity" on the linked record, schedules reminders as
//! jobs and notifies assignees and mentioned colleagues, all in one transaction.

pub mod access;
mod list;
mod model;
mod notify;
pub mod rollup;

use crate::access::Access;
use crate::{audit, jobs, outbox, users, Store};
use chrono::{DateTime, Utc};
use rapport_core::activity::{
    self, ActivityDraft, Channel, Direction, Kind, Mode, Priority, Status,
};
use rapport_core::{ids, DomainError, FieldError, Principal};
use rapport_db::{db_err, exec, one};
use sea_orm::sea_query::{Alias, Expr, Query, SimpleExpr};
use sea_orm::ConnectionTrait;
use serde_json::{json, Map, Value};

pub use list::{audit_list, labels, list, ListFilter};
pub use model::Activity;
pub(crate) use model::{row_to, select, COLS};
pub use notify::remind;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// The job that delivers a reminder.
pub const REMIND_JOB: &str = "activity.remind";

fn ms(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(3)
}

/// When an activity counts as done: a task when it is ticked off, anything else when it took
/// place (never in the future).
fn completion_time(kind: Kind, at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    if kind == Kind::Task {
        now
    } else {
        at.min(now)
    }
}

/// Check the people a draft names: the assignee and attending colleagues must be active
/// users, attending contacts must be contacts the actor may read.
async fn check_people(
    store: &Store,
    actor: &Access,
    d: &ActivityDraft,
    prefix: &str,
) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    if let Some(Some(a)) = &d.assignee_id {
        if !users::get_user(store, a).await?.is_some_and(|u| u.active) {
            errors.push(FieldError::new(
                format!("{prefix}assignee_id"),
                "unknown_user",
                "the assignee is not an active user",
            ));
        }
    }
    if let Some(att) = &d.attendees {
        for u in &att.users {
            if !users::get_user(store, u).await?.is_some_and(|u| u.active) {
                errors.push(FieldError::new(
                    format!("{prefix}attendees.users"),
                    "unknown_user",
                    format!("{u} is not an active user"),
                ));
            }
        }
        for c in &att.contacts {
            if access::readable_parent(store, actor, "contact", c)
                .await?
                .is_none()
            {
                errors.push(FieldError::new(
                    format!("{prefix}attendees.contacts"),
                    "not_found",
                    format!("there is no contact {c} you may see"),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// Build a new activity from a checked draft.
fn build(
    d: &ActivityDraft,
    actor: &Access,
    related: (&str, &str),
    now: DateTime<Utc>,
    follow_up_of: Option<String>,
) -> Result<Activity, DomainError> {
    let kind = d
        .kind
        .ok_or_else(|| DomainError::field("kind", "required", "kind is required"))?;
    let due_at = d.due_at.flatten().map(ms);
    let start_at = d.start_at.flatten().map(ms);
    let at = ms(activity::timeline_at(kind, due_at, start_at, now));
    let status = d
        .status
        .unwrap_or_else(|| activity::default_status(kind, at, now));
    let assignee_id = match kind {
        Kind::Task => Some(
            d.assignee_id
                .clone()
                .flatten()
                .unwrap_or_else(|| actor.user_id.clone()),
        ),
        _ => None,
    };
    let completed_at = (status == Status::Done).then(|| completion_time(kind, at, now));
    Ok(Activity {
        id: ids::new_id(),
        kind,
        subject: d.subject.clone().unwrap_or_default(),
        body: d.body.clone().flatten(),
        channel: d.channel.flatten().or_else(|| kind.default_channel()),
        related_type: related.0.to_string(),
        related_id: related.1.to_string(),
        owner_id: Some(actor.user_id.clone()),
        assignee_id,
        status,
        priority: match kind {
            Kind::Task => Some(d.priority.flatten().unwrap_or(Priority::Normal)),
            _ => None,
        },
        due_at,
        start_at,
        end_at: d.end_at.flatten().map(ms),
        at,
        remind_at: activity::reminder_time(
            kind,
            d.remind_at.flatten(),
            d.remind_before_minutes,
            due_at,
            start_at,
        )
        .map_err(|e| DomainError::Validation(vec![e]))?
        .map(ms),
        direction: d.direction.flatten(),
        duration_minutes: d.duration_minutes.flatten(),
        outcome: d.outcome.clone().flatten(),
        place: d.place.clone().flatten(),
        attendees: d.attendees.clone().unwrap_or_default(),
        follow_up_of,
        completed_at,
        created_at: now,
        updated_at: now,
        created_by: Some(actor.user_id.clone()),
    })
}

fn values(a: &Activity) -> Result<Vec<SimpleExpr>, DomainError> {
    let attendees = if a.attendees.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&a.attendees).map_err(DomainError::internal)?)
    };
    Ok(vec![
        a.id.clone().into(),
        a.kind.key().into(),
        a.subject.clone().into(),
        a.body.clone().into(),
        a.channel.map(Channel::key).into(),
        a.related_type.clone().into(),
        a.related_id.clone().into(),
        a.owner_id.clone().into(),
        a.assignee_id.clone().into(),
        a.status.key().into(),
        a.priority.map(Priority::key).into(),
        a.due_at.into(),
        a.start_at.into(),
        a.end_at.into(),
        a.at.into(),
        a.remind_at.into(),
        a.direction.map(Direction::key).into(),
        a.duration_minutes.into(),
        a.outcome.clone().into(),
        a.place.clone().into(),
        attendees.into(),
        a.follow_up_of.clone().into(),
        a.completed_at.into(),
        a.created_at.into(),
        a.updated_at.into(),
        a.created_by.clone().into(),
    ])
}

async fn insert<C: ConnectionTrait>(c: &C, a: &Activity) -> Result<(), DomainError> {
    exec(
        c,
        Query::insert()
            .into_table(t("activities"))
            .columns(COLS.map(t))
            .values(values(a)?)
            .map_err(DomainError::internal)?,
    )
    .await?;
    Ok(())
}

/// Schedule the reminder of an open activity (one job per activity and reminder time).
async fn schedule_reminder<C: ConnectionTrait>(
    c: &C,
    now: DateTime<Utc>,
    a: &Activity,
) -> Result<(), DomainError> {
    if let (Some(at), Status::Open) = (a.remind_at, a.status) {
        let key = format!("remind:{}:{}", a.id, at.timestamp_millis());
        jobs::enqueue(
            c,
            now,
            jobs::NewJob::new(
                REMIND_JOB,
                json!({"activity_id": a.id, "remind_at": at.timestamp_millis()}),
                at,
            )
            .dedupe(key),
        )
        .await?;
    }
    Ok(())
}

fn audit_summary(a: &Activity) -> Value {
    json!({"kind": a.kind.key(), "subject": a.subject, "related_type": a.related_type,
           "related_id": a.related_id, "status": a.status.key(), "assignee_id": a.assignee_id})
}

/// An activity's free text, which describes the person when it is logged on a person's record.
const PERSONAL_TEXT: [&str; 4] = ["subject", "outcome", "place", "attendees"];

/// The audit details of an activity, its free text sealed with the key of the person whose
/// record it is logged on (a contact, a lead), so that erasing them erases it from the trail
/// too (`audit::subjects`). Details of activities on other records are left as they are.
async fn sealed_for_trail<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    a: &Activity,
    mut details: Value,
) -> Result<Value, DomainError> {
    let personal = access::def_of(&a.related_type).is_some_and(|d| d.hooks.erasure().is_some());
    if !personal {
        return Ok(details);
    }
    let sealer = audit::subjects::sealer(c, store, &a.related_type, &a.related_id).await?;
    let Value::Object(m) = &mut details else {
        return Ok(details);
    };
    if let Some(Value::Object(changes)) = m.get_mut("changes") {
        for k in PERSONAL_TEXT {
            if let Some(Value::Object(change)) = changes.get_mut(k) {
                for side in ["before", "after"] {
                    if let Some(v) = change.get_mut(side) {
                        *v = sealer.seal_naming(v)?;
                    }
                }
            }
        }
    }
    for k in PERSONAL_TEXT {
        if let Some(v) = m.get_mut(k) {
            *v = sealer.seal_naming(v)?;
        }
    }
    Ok(details)
}

/// Log an activity (and optionally a follow-up task) on a record the actor may read.
pub async fn create(
    store: &Store,
    actor: &Access,
    doc: &Map<String, Value>,
) -> Result<Value, DomainError> {
    create_inner(store, actor, doc, None).await
}

/// [`create`], enqueuing a job about the new activity in the same transaction (an email to
/// send, for instance).
pub async fn create_with_job(
    store: &Store,
    actor: &Access,
    doc: &Map<String, Value>,
    job: &(dyn Fn(&str) -> jobs::NewJob + Sync),
) -> Result<Value, DomainError> {
    create_inner(store, actor, doc, Some(job)).await
}

async fn create_inner(
    store: &Store,
    actor: &Access,
    doc: &Map<String, Value>,
    job: Option<&(dyn Fn(&str) -> jobs::NewJob + Sync)>,
) -> Result<Value, DomainError> {
    if actor.read_only {
        return Err(DomainError::Forbidden("this session is read-only".into()));
    }
    let d = activity::read(doc, Mode::Create, access::related_types())?;
    let (rt, rid) = d
        .related
        .clone()
        .ok_or_else(|| DomainError::field("related_id", "required", "related_id is required"))?;
    let Some(parent) = access::readable_parent(store, actor, &rt, &rid).await? else {
        return Err(DomainError::field(
            "related_id",
            "not_found",
            format!("there is no {rt} {rid} you may see"),
        ));
    };
    check_people(store, actor, &d, "").await?;
    if let Some(f) = &d.follow_up {
        check_people(store, actor, f, "follow_up.").await?;
    }
    let now = store.now();
    let a = build(&d, actor, (&rt, &rid), now, None)?;
    let follow = match &d.follow_up {
        Some(f) => Some(
            build(f, actor, (&rt, &rid), now, Some(a.id.clone())).map_err(|e| match e {
                DomainError::Validation(errs) => DomainError::Validation(
                    errs.into_iter()
                        .map(|mut fe| {
                            fe.field = format!("follow_up.{}", fe.field);
                            fe
                        })
                        .collect(),
                ),
                other => other,
            })?,
        ),
        None => None,
    };
    let label = parent.label(access::def_of(&rt).ok_or(DomainError::NotFound)?);

    let tx = store.db.begin().await?;
    for x in std::iter::once(&a).chain(follow.iter()) {
        insert(&tx, x).await?;
        schedule_reminder(&tx, now, x).await?;
        notify::on_create(&tx, store, actor, x).await?;
        audit::record(
            &tx,
            store,
            actor,
            audit::Entry::new("activity.created")
                .object("activity", &x.id)
                .details(sealed_for_trail(&tx, store, x, audit_summary(x)).await?),
        )
        .await?;
        outbox::emit(
            &tx,
            store,
            actor,
            "activity.created",
            "activity",
            &x.id,
            json!({"id": x.id, "related_type": rt, "related_id": rid}),
        )
        .await?;
    }
    rollup::refresh(&tx, &rt, &rid).await?;
    if let Some(job) = job {
        jobs::enqueue(&tx, now, job(&a.id)).await?;
    }
    tx.commit().await.map_err(db_err)?;

    let mut out = a.to_json(Some(&label));
    if let Some(f) = follow {
        out["follow_up"] = f.to_json(Some(&label));
    }
    Ok(out)
}

/// Load an activity the actor may see, with the linked record's label when readable.
pub async fn find(
    store: &Store,
    actor: &Access,
    id: &str,
) -> Result<(Activity, Option<String>), DomainError> {
    let mut q = select();
    q.and_where(Expr::col((t("activities"), t("id"))).eq(id))
        .cond_where(access::visible(store, actor).await?);
    let row = one(store.db.reader(), &q)
        .await?
        .ok_or(DomainError::NotFound)?;
    let a = row_to(&row)?;
    let label = match (
        access::def_of(&a.related_type),
        access::readable_parent(store, actor, &a.related_type, &a.related_id).await?,
    ) {
        (Some(def), Some(p)) => Some(p.label(def)),
        _ => None,
    };
    Ok((a, label))
}

/// Load an activity without any permission check, for jobs acting on the system's behalf.
pub async fn find_system<C: ConnectionTrait>(
    c: &C,
    id: &str,
) -> Result<Option<Activity>, DomainError> {
    let mut q = select();
    q.and_where(Expr::col((t("activities"), t("id"))).eq(id));
    one(c, &q).await?.as_ref().map(row_to).transpose()
}

/// Mark an activity done on the system's behalf (an email the queue sent), inside the job's
/// transaction, with its audit entry and the record's figures refreshed.
pub async fn mark_done_by_system<C: ConnectionTrait>(
    c: &C,
    store: &Store,
    a: &Activity,
    outcome: &str,
) -> Result<(), DomainError> {
    let now = store.now();
    exec(
        c,
        Query::update()
            .table(t("activities"))
            .value(t("status"), Status::Done.key())
            .value(t("completed_at"), now)
            .value(t("outcome"), outcome)
            .value(t("updated_at"), now)
            .and_where(Expr::col(t("id")).eq(a.id.clone())),
    )
    .await?;
    audit::record(
        c,
        store,
        &Principal::system(),
        audit::Entry::new("activity.updated")
            .object("activity", &a.id)
            .details(
                sealed_for_trail(
                    c,
                    store,
                    a,
                    json!({"changes": {
                        "status": {"before": a.status.key(), "after": "done"},
                        "outcome": {"before": a.outcome, "after": outcome},
                    }}),
                )
                .await?,
            ),
    )
    .await?;
    rollup::refresh(c, &a.related_type, &a.related_id).await
}

/// Read one activity (audited).
pub async fn read(store: &Store, actor: &Access, id: &str) -> Result<Value, DomainError> {
    let (a, label) = find(store, actor, id).await?;
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("activity.read").object("activity", id),
    )
    .await?;
    Ok(a.to_json(label.as_deref()))
}

/// Whether the actor may change or delete this activity (it is visible to them already).
async fn may_modify(store: &Store, actor: &Access, a: &Activity) -> Result<bool, DomainError> {
    if actor.read_only {
        return Ok(false);
    }
    let me = Some(actor.user_id.as_str());
    if a.owner_id.as_deref() == me || a.assignee_id.as_deref() == me {
        return Ok(true);
    }
    match access::readable_parent(store, actor, &a.related_type, &a.related_id).await? {
        Some(p) => access::may_update_parent(store, actor, &a.related_type, &p).await,
        None => Ok(false),
    }
}

fn set<T: Clone>(field: &mut T, v: &Option<T>) {
    if let Some(v) = v {
        *field = v.clone();
    }
}

/// Change an activity: its owner, its assignee, or whoever may update the linked record.
pub async fn update(
    store: &Store,
    actor: &Access,
    id: &str,
    doc: &Map<String, Value>,
) -> Result<Value, DomainError> {
    let (before, label) = find(store, actor, id).await?;
    if !may_modify(store, actor, &before).await? {
        return Err(DomainError::Forbidden(
            "only the owner, the assignee or whoever may edit the record can change this activity"
                .into(),
        ));
    }
    let d = activity::read(doc, Mode::Update(before.kind), access::related_types())?;
    check_people(store, actor, &d, "").await?;
    let now = store.now();
    let mut a = before.clone();
    set(&mut a.subject, &d.subject.clone());
    set(&mut a.body, &d.body);
    set(&mut a.channel, &d.channel);
    if before.kind == Kind::Task {
        if let Some(x) = &d.assignee_id {
            a.assignee_id = Some(x.clone().unwrap_or_else(|| actor.user_id.clone()));
        }
    }
    set(&mut a.status, &d.status);
    set(&mut a.priority, &d.priority);
    set(&mut a.due_at, &d.due_at.map(|v| v.map(ms)));
    set(&mut a.start_at, &d.start_at.map(|v| v.map(ms)));
    set(&mut a.end_at, &d.end_at.map(|v| v.map(ms)));
    set(&mut a.remind_at, &d.remind_at.map(|v| v.map(ms)));
    if d.remind_before_minutes.is_some() {
        a.remind_at =
            activity::reminder_time(a.kind, None, d.remind_before_minutes, a.due_at, a.start_at)
                .map_err(|e| DomainError::Validation(vec![e]))?
                .map(ms);
    }
    set(&mut a.direction, &d.direction);
    set(&mut a.duration_minutes, &d.duration_minutes);
    set(&mut a.outcome, &d.outcome);
    set(&mut a.place, &d.place);
    set(&mut a.attendees, &d.attendees);
    if a.kind.has_span() && a.start_at.is_none() {
        return Err(DomainError::field(
            "start_at",
            "required",
            format!("a {} needs start_at", a.kind.key()),
        ));
    }
    if let (Some(s), Some(e)) = (a.start_at, a.end_at) {
        if e < s {
            return Err(DomainError::field(
                "end_at",
                "before_start",
                "end_at must not be before start_at",
            ));
        }
    }
    a.at = ms(activity::timeline_at(
        a.kind,
        a.due_at,
        a.start_at,
        a.created_at,
    ));
    a.completed_at = match (before.status, a.status) {
        (Status::Done, Status::Done) => before.completed_at,
        (_, Status::Done) => Some(completion_time(a.kind, a.at, now)),
        _ => None,
    };
    a.updated_at = now;

    let old = before.to_json(None);
    let new = a.to_json(None);
    let mut changes = Map::new();
    if let (Value::Object(o), Value::Object(n)) = (&old, &new) {
        for (k, v) in n {
            if matches!(k.as_str(), "updated_at" | "body") {
                continue;
            }
            if o.get(k) != Some(v) {
                changes.insert(k.clone(), json!({"before": o.get(k), "after": v}));
            }
        }
        if o.get("body") != n.get("body") {
            changes.insert("body".into(), json!({"changed": true}));
        }
    }

    let tx = store.db.begin().await?;
    let mut q = Query::update();
    q.table(t("activities"));
    for (col, v) in COLS.iter().zip(values(&a)?) {
        if !matches!(
            *col,
            "id" | "kind" | "related_type" | "related_id" | "created_at" | "created_by"
        ) {
            q.value(t(col), v);
        }
    }
    q.and_where(Expr::col(t("id")).eq(id));
    exec(&tx, &q).await?;
    schedule_reminder(&tx, now, &a).await?;
    notify::on_update(&tx, store, actor, &before, &a).await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("activity.updated")
            .object("activity", id)
            .details(sealed_for_trail(&tx, store, &a, json!({"changes": changes})).await?),
    )
    .await?;
    outbox::emit(
        &tx,
        store,
        actor,
        "activity.updated",
        "activity",
        id,
        json!({"id": id, "related_type": a.related_type, "related_id": a.related_id}),
    )
    .await?;
    rollup::refresh(&tx, &a.related_type, &a.related_id).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(a.to_json(label.as_deref()))
}

/// Delete an activity (same right as changing it).
/// An erasure of the record `key`/`id`: its activities keep their kind, times and owner, but
/// what they say about the person (notes, outcome, place) goes and the subject becomes
/// `placeholder`. Returns how many activities were touched.
pub(crate) async fn erase_contents<C: ConnectionTrait>(
    c: &C,
    key: &str,
    id: &str,
    placeholder: &str,
) -> Result<u64, DomainError> {
    exec(
        c,
        Query::update()
            .table(t("activities"))
            .value(t("subject"), placeholder)
            .value(t("body"), Option::<String>::None)
            .value(t("outcome"), Option::<String>::None)
            .value(t("place"), Option::<String>::None)
            .and_where(Expr::col(t("related_type")).eq(key))
            .and_where(Expr::col(t("related_id")).eq(id)),
    )
    .await
}

pub async fn delete(store: &Store, actor: &Access, id: &str) -> Result<(), DomainError> {
    let (a, _) = find(store, actor, id).await?;
    if !may_modify(store, actor, &a).await? {
        return Err(DomainError::Forbidden(
            "only the owner, the assignee or whoever may edit the record can delete this activity"
                .into(),
        ));
    }
    let tx = store.db.begin().await?;
    exec(
        &tx,
        Query::update()
            .table(t("activities"))
            .value(t("follow_up_of"), Option::<String>::None)
            .and_where(Expr::col(t("follow_up_of")).eq(id)),
    )
    .await?;
    exec(
        &tx,
        Query::delete()
            .from_table(t("activities"))
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("activity.deleted")
            .object("activity", id)
            .details(sealed_for_trail(&tx, store, &a, audit_summary(&a)).await?),
    )
    .await?;
    outbox::emit(
        &tx,
        store,
        actor,
        "activity.deleted",
        "activity",
        id,
        json!({"id": id}),
    )
    .await?;
    rollup::refresh(&tx, &a.related_type, &a.related_id).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(())
}
