//! Activities: tasks, calls, meetings, visits, logged emails and notes. This module holds the
//! kinds and their rules (which fields a kind takes, which statuses, what "when" means) and
//! reads API/form documents into a checked [`ActivityDraft`]; the store applies permissions.

use crate::error::FieldError;
use chrono::{DateTime, Utc};

mod read;
pub use read::{read, Mode};

macro_rules! keyed_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $key:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn key(self) -> &'static str {
                match self { $($name::$variant => $key),+ }
            }
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($key => Some($name::$variant),)+ _ => None }
            }
            pub fn keys() -> String {
                Self::ALL.iter().map(|v| v.key()).collect::<Vec<_>>().join(", ")
            }
        }
    };
}

keyed_enum!(
    /// What kind of interaction an activity records.
    Kind {
        Task => "task",
        Call => "call",
        Meeting => "meeting",
        Visit => "visit",
        Email => "email",
        Note => "note",
    }
);

keyed_enum!(
    /// How the interaction took place.
    Channel {
        Phone => "phone",
        Email => "email",
        Wechat => "wechat",
        Chat => "chat",
        Social => "social",
        InPerson => "in_person",
    }
);

keyed_enum!(
    Status {
        Open => "open",
        Done => "done",
        Cancelled => "cancelled",
    }
);

keyed_enum!(
    Priority {
        Low => "low",
        Normal => "normal",
        High => "high",
    }
);

keyed_enum!(
    Direction {
        Inbound => "inbound",
        Outbound => "outbound",
    }
);

impl Kind {
    /// Kinds that are planned and later done (the others record what already happened).
    pub fn is_planned(self) -> bool {
        matches!(self, Kind::Task | Kind::Meeting | Kind::Visit)
    }

    /// Kinds with a start and an end.
    pub fn has_span(self) -> bool {
        matches!(self, Kind::Meeting | Kind::Visit)
    }

    /// Whether a field of the activity document applies to this kind.
    pub fn allows(self, field: &str) -> bool {
        match field {
            "due_at" | "priority" | "assignee_id" => self == Kind::Task,
            "end_at" | "place" | "attendees" => self.has_span(),
            "direction" => matches!(self, Kind::Call | Kind::Email),
            "duration_minutes" | "outcome" => {
                matches!(self, Kind::Call | Kind::Visit | Kind::Meeting)
            }
            "remind_at" | "remind_before_minutes" => self.is_planned(),
            _ => true,
        }
    }

    /// The channel a kind implies when none is given.
    pub fn default_channel(self) -> Option<Channel> {
        match self {
            Kind::Call => Some(Channel::Phone),
            Kind::Email => Some(Channel::Email),
            Kind::Visit => Some(Channel::InPerson),
            _ => None,
        }
    }
}

/// People at a meeting or visit: colleagues, the customer's contacts, and anyone else by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attendees {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub contacts: Vec<String>,
    #[serde(default)]
    pub others: Vec<String>,
}

impl Attendees {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.contacts.is_empty() && self.others.is_empty()
    }
}

/// The checked content of a create or update. On update, `None` means "unchanged" and
/// `Some(None)` means "cleared".
#[derive(Debug, Clone, Default)]
pub struct ActivityDraft {
    pub kind: Option<Kind>,
    pub subject: Option<String>,
    pub body: Option<Option<String>>,
    pub channel: Option<Option<Channel>>,
    pub related: Option<(String, String)>,
    pub assignee_id: Option<Option<String>>,
    pub status: Option<Status>,
    pub priority: Option<Option<Priority>>,
    pub due_at: Option<Option<DateTime<Utc>>>,
    pub start_at: Option<Option<DateTime<Utc>>>,
    pub end_at: Option<Option<DateTime<Utc>>>,
    pub remind_at: Option<Option<DateTime<Utc>>>,
    /// A reminder this many minutes before the task is due or the meeting starts (instead of
    /// a `remind_at` time).
    pub remind_before_minutes: Option<i64>,
    pub direction: Option<Option<Direction>>,
    pub duration_minutes: Option<Option<i32>>,
    pub outcome: Option<Option<String>>,
    pub place: Option<Option<String>>,
    pub attendees: Option<Attendees>,
    /// A follow-up task created in the same step (create only).
    pub follow_up: Option<Box<ActivityDraft>>,
}

/// The reminder time a draft asks for: `remind_at`, or `remind_before_minutes` before the due
/// time (tasks) or the start (meetings, visits). `Err` names the missing time.
pub fn reminder_time(
    kind: Kind,
    remind_at: Option<DateTime<Utc>>,
    before_minutes: Option<i64>,
    due_at: Option<DateTime<Utc>>,
    start_at: Option<DateTime<Utc>>,
) -> Result<Option<DateTime<Utc>>, FieldError> {
    let Some(m) = before_minutes else {
        return Ok(remind_at);
    };
    let anchor = if kind == Kind::Task { due_at } else { start_at };
    match anchor {
        Some(t) => Ok(Some(t - chrono::Duration::minutes(m))),
        None => Err(FieldError::new(
            "remind_before_minutes",
            "needs_time",
            if kind == Kind::Task {
                "a reminder before the due time needs due_at"
            } else {
                "a reminder before the start needs start_at"
            },
        )),
    }
}

/// The time a timeline places an activity at: when it is due or starts, else when it was
/// logged.
pub fn timeline_at(
    kind: Kind,
    due_at: Option<DateTime<Utc>>,
    start_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
) -> DateTime<Utc> {
    match kind {
        Kind::Task => due_at.unwrap_or(created_at),
        _ => start_at.unwrap_or(created_at),
    }
}

/// The status a new activity gets when none is given: planned kinds in the future are open,
/// everything that already happened is done.
pub fn default_status(kind: Kind, at: DateTime<Utc>, now: DateTime<Utc>) -> Status {
    match kind {
        Kind::Task => Status::Open,
        Kind::Meeting | Kind::Visit if at > now => Status::Open,
        _ => Status::Done,
    }
}

/// `@name` mentions in a note: the words after each `@` (up to whitespace or punctuation),
/// which the store matches against user names and the part of emails before the `@`.
pub fn mentions(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' && (i == 0 || !chars[i - 1].is_alphanumeric()) {
            let start = i + 1;
            let mut end = start;
            while end < chars.len()
                && (chars[end].is_alphanumeric() || matches!(chars[end], '.' | '_' | '-'))
            {
                end += 1;
            }
            let word: String = chars[start..end].iter().collect();
            let word = word.trim_end_matches('.').to_string();
            if !word.is_empty() && !out.contains(&word) {
                out.push(word);
            }
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::DomainError;
    use serde_json::{json, Map, Value};

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn codes(e: DomainError) -> Vec<(String, &'static str)> {
        match e {
            DomainError::Validation(v) => v.into_iter().map(|f| (f.field, f.code)).collect(),
            other => panic!("expected validation, got {other:?}"),
        }
    }

    const RELATED: &[&str] = &["account", "contact"];

    #[test]
    fn a_visit_needs_a_start_and_an_end_after_it() {
        let e = read(
            &doc(json!({"kind": "visit", "subject": "拜访", "related_type": "account", "related_id": "a"})),
            Mode::Create,
            RELATED,
        )
        .unwrap_err();
        assert!(codes(e).contains(&("start_at".into(), "required")));
        let e = read(
            &doc(json!({"kind": "visit", "subject": "拜访", "related_type": "account", "related_id": "a",
                "start_at": "2026-11-20T10:00:00+08:00", "end_at": "2026-11-20T09:00:00+08:00"})),
            Mode::Create,
            RELATED,
        )
        .unwrap_err();
        assert_eq!(codes(e), vec![("end_at".into(), "before_start")]);
    }

    #[test]
    fn fields_that_do_not_fit_the_kind_are_named() {
        let e = read(
            &doc(
                json!({"kind": "note", "subject": "s", "related_type": "contact", "related_id": "c",
                "due_at": "2026-11-20T10:00:00Z", "duration_minutes": 5, "colour": "red"}),
            ),
            Mode::Create,
            RELATED,
        )
        .unwrap_err();
        let c = codes(e);
        assert!(c.contains(&("due_at".into(), "not_for_kind")));
        assert!(c.contains(&("duration_minutes".into(), "not_for_kind")));
        assert!(c.contains(&("colour".into(), "unknown_field")));
    }

    #[test]
    fn kind_and_record_cannot_change_on_update() {
        let e = read(
            &doc(json!({"kind": "call", "related_id": "x"})),
            Mode::Update(Kind::Task),
            RELATED,
        )
        .unwrap_err();
        let c = codes(e);
        assert!(c.contains(&("kind".into(), "immutable")));
        assert!(c.contains(&("related_id".into(), "immutable")));
    }

    #[test]
    fn follow_up_errors_carry_their_prefix() {
        let e = read(
            &doc(
                json!({"kind": "call", "subject": "s", "related_type": "account", "related_id": "a",
                "follow_up": {"due_at": "tomorrow"}}),
            ),
            Mode::Create,
            RELATED,
        )
        .unwrap_err();
        let c = codes(e);
        assert!(c.contains(&("follow_up.subject".into(), "required")));
        assert!(c.contains(&("follow_up.due_at".into(), "invalid_datetime")));
    }

    #[test]
    fn a_reminder_before_the_due_time_is_computed_and_needs_that_time() {
        let due = DateTime::parse_from_rfc3339("2026-11-25T10:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            reminder_time(Kind::Task, None, Some(15), Some(due), None).unwrap(),
            Some(due - chrono::Duration::minutes(15))
        );
        assert!(reminder_time(Kind::Meeting, None, Some(15), Some(due), None).is_err());
        let e = read(
            &doc(
                json!({"kind": "task", "subject": "s", "related_type": "account", "related_id": "a",
                "remind_before_minutes": 15, "remind_at": "2026-11-25T09:00:00Z"}),
            ),
            Mode::Create,
            RELATED,
        )
        .unwrap_err();
        assert_eq!(codes(e), vec![("remind_before_minutes".into(), "conflict")]);
        let e = read(
            &doc(
                json!({"kind": "note", "subject": "s", "related_type": "account", "related_id": "a",
                "remind_before_minutes": -5}),
            ),
            Mode::Create,
            RELATED,
        )
        .unwrap_err();
        assert!(codes(e).contains(&("remind_before_minutes".into(), "out_of_range")));
    }

    #[test]
    fn mentions_are_found_in_chinese_and_english_text() {
        assert_eq!(
            mentions("请 @张伟 跟进，cc @li.na. 邮箱 a@b.com"),
            vec!["张伟".to_string(), "li.na".to_string()]
        );
    }

    #[test]
    fn planned_kinds_default_to_open_only_in_the_future() {
        let now = crate::Clock::now(&crate::SystemClock);
        let past = now - chrono::Duration::hours(1);
        assert_eq!(default_status(Kind::Visit, past, now), Status::Done);
        assert_eq!(
            default_status(Kind::Meeting, now + chrono::Duration::hours(1), now),
            Status::Open
        );
        assert_eq!(default_status(Kind::Task, past, now), Status::Open);
        assert_eq!(default_status(Kind::Call, now, now), Status::Done);
    }
}
