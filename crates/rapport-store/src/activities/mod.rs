//! Activities on accounts and contacts (later leads, opportunities and tickets): create with an
//! optional follow-up task, read, list, update, delete. Every change writes the audit entry and
//! outbox event, refreshes "last/next activity" on the linked record, schedules reminders as
//! jobs and notifies assignees and mentioned colleagues, all in one transaction.

pub mod access;
mod notify;
pub mod rollup;

use crate::db::{all, db_err, exec, get, one};
use crate::{audit, jobs, outbox, users, Store};
use chrono::{DateTime, Utc};
use rapport_core::activity::{
    self, ActivityDraft, Attendees, Channel, Direction, Kind, Mode, Priority, Status,
};
use rapport_core::{ids, DomainError, FieldError, Principal};
use sea_orm::sea_query::{Alias, Cond, Expr, Order, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, QueryResult};
use serde_json::{json, Map, Value};

pub use notify::remind;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// The job that delivers a reminder.
pub const REMIND_JOB: &str = "activity.remind";

/// An activity as stored.
#[derive(Debug, Clone)]
pub struct Activity {
    pub id: String,
    pub kind: Kind,
    pub subject: String,
    pub body: Option<String>,
    pub channel: Option<Channel>,
    pub related_type: String,
    pub related_id: String,
    pub owner_id: Option<String>,
    pub assignee_id: Option<String>,
    pub status: Status,
    pub priority: Option<Priority>,
    pub due_at: Option<DateTime<Utc>>,
    pub start_at: Option<DateTime<Utc>>,
    pub end_at: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
    pub remind_at: Option<DateTime<Utc>>,
    pub direction: Option<Direction>,
    pub duration_minutes: Option<i32>,
    pub outcome: Option<String>,
    pub place: Option<String>,
    pub attendees: Attendees,
    pub follow_up_of: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: Option<String>,
}

pub(crate) const COLS: [&str; 26] = [
    "id",
    "kind",
    "subject",
    "body",
    "channel",
    "related_type",
    "related_id",
    "owner_id",
    "assignee_id",
    "status",
    "priority",
    "due_at",
    "start_at",
    "end_at",
    "at",
    "remind_at",
    "direction",
    "duration_minutes",
    "outcome",
    "place",
    "attendees",
    "follow_up_of",
    "completed_at",
    "created_at",
    "updated_at",
    "created_by",
];

pub(crate) fn select() -> sea_orm::sea_query::SelectStatement {
    let mut q = Query::select();
    q.columns(COLS.map(|c| (t("activities"), t(c))))
        .from(t("activities"));
    q
}

fn bad_stored(what: &str) -> DomainError {
    DomainError::Internal(format!("stored activity has an invalid {what}"))
}

pub(crate) fn row_to(r: &QueryResult) -> Result<Activity, DomainError> {
    let kind: String = get(r, "kind")?;
    let status: String = get(r, "status")?;
    let opt = |col: &str| get::<Option<String>>(r, col);
    let attendees = match opt("attendees")? {
        Some(s) => serde_json::from_str(&s).unwrap_or_default(),
        None => Attendees::default(),
    };
    Ok(Activity {
        id: get(r, "id")?,
        kind: Kind::parse(&kind).ok_or_else(|| bad_stored("kind"))?,
        subject: get(r, "subject")?,
        body: opt("body")?,
        channel: opt("channel")?.as_deref().and_then(Channel::parse),
        related_type: get(r, "related_type")?,
        related_id: get(r, "related_id")?,
        owner_id: opt("owner_id")?,
        assignee_id: opt("assignee_id")?,
        status: Status::parse(&status).ok_or_else(|| bad_stored("status"))?,
        priority: opt("priority")?.as_deref().and_then(Priority::parse),
        due_at: get(r, "due_at")?,
        start_at: get(r, "start_at")?,
        end_at: get(r, "end_at")?,
        at: get(r, "at")?,
        remind_at: get(r, "remind_at")?,
        direction: opt("direction")?.as_deref().and_then(Direction::parse),
        duration_minutes: get(r, "duration_minutes")?,
        outcome: opt("outcome")?,
        place: opt("place")?,
        attendees,
        follow_up_of: opt("follow_up_of")?,
        completed_at: get(r, "completed_at")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
        created_by: opt("created_by")?,
    })
}

fn ts(v: Option<DateTime<Utc>>) -> Value {
    v.map_or(Value::Null, |t| {
        Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    })
}

impl Activity {
    /// The API shape. `related_label` is the linked record's name when the viewer may read it.
    pub fn to_json(&self, related_label: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "kind": self.kind.key(),
            "subject": self.subject,
            "body": self.body,
            "channel": self.channel.map(Channel::key),
            "related_type": self.related_type,
            "related_id": self.related_id,
            "related_label": related_label,
            "owner_id": self.owner_id,
            "assignee_id": self.assignee_id,
            "status": self.status.key(),
            "priority": self.priority.map(Priority::key),
            "due_at": ts(self.due_at),
            "start_at": ts(self.start_at),
            "end_at": ts(self.end_at),
            "at": ts(Some(self.at)),
            "remind_at": ts(self.remind_at),
            "direction": self.direction.map(Direction::key),
            "duration_minutes": self.duration_minutes,
            "outcome": self.outcome,
            "place": self.place,
            "attendees": self.attendees,
            "follow_up_of": self.follow_up_of,
            "completed_at": ts(self.completed_at),
            "created_at": ts(Some(self.created_at)),
            "updated_at": ts(Some(self.updated_at)),
            "created_by": self.created_by,
        })
    }

    /// Open and overdue at `now`.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status == Status::Open && self.at < now
    }

    /// Who a reminder goes to: the assignee (or owner) and colleagues attending.
    pub fn reminder_recipients(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .assignee_id
            .clone()
            .or_else(|| self.owner_id.clone())
            .into_iter()
            .collect();
        for u in &self.attendees.users {
            if !out.contains(u) {
                out.push(u.clone());
            }
        }
        out
    }
}

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
    actor: &Principal,
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
    actor: &Principal,
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

/// Log an activity (and optionally a follow-up task) on a record the actor may read.
pub async fn create(
    store: &Store,
    actor: &Principal,
    doc: &Map<String, Value>,
) -> Result<Value, DomainError> {
    create_inner(store, actor, doc, None).await
}

/// [`create`], enqueuing a job about the new activity in the same transaction (an email to
/// send, for instance).
pub async fn create_with_job(
    store: &Store,
    actor: &Principal,
    doc: &Map<String, Value>,
    job: &(dyn Fn(&str) -> jobs::NewJob + Sync),
) -> Result<Value, DomainError> {
    create_inner(store, actor, doc, Some(job)).await
}

async fn create_inner(
    store: &Store,
    actor: &Principal,
    doc: &Map<String, Value>,
    job: Option<&(dyn Fn(&str) -> jobs::NewJob + Sync)>,
) -> Result<Value, DomainError> {
    if actor.read_only {
        return Err(DomainError::Forbidden("this session is read-only".into()));
    }
    let d = activity::read(doc, Mode::Create)?;
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
                .details(audit_summary(x)),
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
    actor: &Principal,
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
            .details(json!({"changes": {
                "status": {"before": a.status.key(), "after": "done"},
                "outcome": {"before": a.outcome, "after": outcome},
            }})),
    )
    .await?;
    rollup::refresh(c, &a.related_type, &a.related_id).await
}

/// Read one activity (audited).
pub async fn read(store: &Store, actor: &Principal, id: &str) -> Result<Value, DomainError> {
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
async fn may_modify(store: &Store, actor: &Principal, a: &Activity) -> Result<bool, DomainError> {
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
    actor: &Principal,
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
    let d = activity::read(doc, Mode::Update(before.kind))?;
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
            .details(json!({"changes": changes})),
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
pub async fn delete(store: &Store, actor: &Principal, id: &str) -> Result<(), DomainError> {
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
            .details(audit_summary(&a)),
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

/// Filters for the activity list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only activities assigned to (or, without an assignee, owned by) this user.
    pub assignee_id: Option<String>,
    /// With `assignee_id`: also meetings and visits that user attends.
    pub include_attending: bool,
    pub kind: Option<Kind>,
    pub status: Option<Status>,
    /// Only activities at or before this time (with `status=open`: due by then).
    pub until: Option<DateTime<Utc>>,
    pub since: Option<DateTime<Utc>>,
    pub related: Option<(String, String)>,
    /// Cursor: activities ordered before this (at, id).
    pub after: Option<(DateTime<Utc>, String)>,
    /// Oldest first (a to-do list) instead of newest first.
    pub ascending: bool,
    pub limit: u64,
}

/// Activities the actor may see, filtered; each with its linked record's label when the actor
/// may read that record.
pub async fn list(
    store: &Store,
    actor: &Principal,
    f: &ListFilter,
) -> Result<Vec<(Activity, Option<String>)>, DomainError> {
    let mut q = select();
    q.cond_where(access::visible(store, actor).await?);
    let col = |c: &str| Expr::col((t("activities"), t(c)));
    if let Some(u) = &f.assignee_id {
        let mut mine = Cond::any().add(col("assignee_id").eq(u.clone())).add(
            Cond::all()
                .add(col("assignee_id").is_null())
                .add(col("owner_id").eq(u.clone())),
        );
        if f.include_attending {
            // Attendees are stored as JSON; user ids are quoted strings in it.
            mine = mine.add(col("attendees").like(format!("%\"{}\"%", u.replace(['%', '_'], ""))));
        }
        q.cond_where(mine);
    }
    if let Some(k) = f.kind {
        q.and_where(col("kind").eq(k.key()));
    }
    if let Some(s) = f.status {
        q.and_where(col("status").eq(s.key()));
    }
    if let Some(u) = f.until {
        q.and_where(col("at").lte(u));
    }
    if let Some(s) = f.since {
        q.and_where(col("at").gte(s));
    }
    if let Some((rt, rid)) = &f.related {
        q.and_where(col("related_type").eq(rt.clone()))
            .and_where(col("related_id").eq(rid.clone()));
    }
    let (ord, cmp_lt) = if f.ascending {
        (Order::Asc, false)
    } else {
        (Order::Desc, true)
    };
    if let Some((at, id)) = &f.after {
        let (a, b) = if cmp_lt {
            (col("at").lt(*at), col("id").lt(id.clone()))
        } else {
            (col("at").gt(*at), col("id").gt(id.clone()))
        };
        q.cond_where(
            Cond::any()
                .add(a)
                .add(Cond::all().add(col("at").eq(*at)).add(b)),
        );
    }
    q.order_by((t("activities"), t("at")), ord.clone())
        .order_by((t("activities"), t("id")), ord)
        .limit(f.limit.clamp(1, 200));
    let rows = all(store.db.reader(), &q).await?;
    let acts: Vec<Activity> = rows.iter().map(row_to).collect::<Result<_, _>>()?;
    labels(store, actor, acts).await
}

/// Attach the labels of the linked records the actor may read (one query per record type).
pub async fn labels(
    store: &Store,
    actor: &Principal,
    acts: Vec<Activity>,
) -> Result<Vec<(Activity, Option<String>)>, DomainError> {
    let mut by_type: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for a in &acts {
        let ids = by_type.entry(a.related_type.as_str()).or_default();
        if !ids.contains(&a.related_id) {
            ids.push(a.related_id.clone());
        }
    }
    let mut names: std::collections::HashMap<(String, String), String> = Default::default();
    for (ty, ids) in by_type {
        for (id, label) in access::readable_labels(store, actor, ty, &ids).await? {
            names.insert((ty.to_string(), id), label);
        }
    }
    Ok(acts
        .into_iter()
        .map(|a| {
            let l = names
                .get(&(a.related_type.clone(), a.related_id.clone()))
                .cloned();
            (a, l)
        })
        .collect())
}

/// Audit a list read (what was asked for, not what came back).
pub async fn audit_list(store: &Store, actor: &Principal, what: Value) -> Result<(), DomainError> {
    audit::record_alone(
        store,
        actor,
        audit::Entry::new("activity.listed").details(what),
    )
    .await
}
