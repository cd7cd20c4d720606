//! An activity as stored and as the API shows it: the columns, reading a row, the JSON shape.

use chrono::{DateTime, Utc};
use rapport_core::activity::{Attendees, Channel, Direction, Kind, Priority, Status};
use rapport_core::DomainError;
use rapport_db::get;
use sea_orm::sea_query::{Alias, Query};
use sea_orm::QueryResult;
use serde_json::{json, Value};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

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
