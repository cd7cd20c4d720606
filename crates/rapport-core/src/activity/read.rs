//! Reading an activity document (API body or form) into a checked [`ActivityDraft`]: unknown
//! fields, types, choices, lengths and the rules of each kind, every error at once.

use super::{ActivityDraft, Attendees, Channel, Direction, Kind, Priority, Status};
use crate::error::FieldError;
use crate::DomainError;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

const FIELDS: &[&str] = &[
    "kind",
    "subject",
    "body",
    "channel",
    "related_type",
    "related_id",
    "assignee_id",
    "status",
    "priority",
    "due_at",
    "start_at",
    "end_at",
    "remind_at",
    "remind_before_minutes",
    "direction",
    "duration_minutes",
    "outcome",
    "place",
    "attendees",
    "follow_up",
];

/// Fields of the follow-up task document.
const FOLLOW_UP_FIELDS: &[&str] = &[
    "subject",
    "body",
    "assignee_id",
    "priority",
    "due_at",
    "remind_at",
    "remind_before_minutes",
];

struct Reader<'a> {
    doc: &'a Map<String, Value>,
    prefix: &'a str,
    errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    fn err(&mut self, field: &str, code: &'static str, msg: impl Into<String>) {
        let name = self.name(field);
        self.errors.push(FieldError::new(name, code, msg));
    }

    /// `None`: absent; `Some(None)`: null or empty text; `Some(Some(s))`: trimmed text.
    fn text(&mut self, field: &str, max: usize) -> Option<Option<String>> {
        match self.doc.get(field)? {
            Value::Null => Some(None),
            Value::String(s) => {
                let s = s.trim();
                if s.chars().count() > max {
                    self.err(
                        field,
                        "too_long",
                        format!("{} must be at most {max} characters", self.name(field)),
                    );
                    return None;
                }
                Some((!s.is_empty()).then(|| s.to_string()))
            }
            _ => {
                self.err(
                    field,
                    "invalid_type",
                    format!("{} must be a string", self.name(field)),
                );
                None
            }
        }
    }

    fn keyed<T>(
        &mut self,
        field: &str,
        parse: fn(&str) -> Option<T>,
        keys: String,
    ) -> Option<Option<T>> {
        match self.text(field, 40)? {
            None => Some(None),
            Some(s) => match parse(&s) {
                Some(v) => Some(Some(v)),
                None => {
                    self.err(
                        field,
                        "invalid_choice",
                        format!("{} must be one of: {keys}", self.name(field)),
                    );
                    None
                }
            },
        }
    }

    fn time(&mut self, field: &str) -> Option<Option<DateTime<Utc>>> {
        match self.text(field, 64)? {
            None => Some(None),
            Some(s) => match DateTime::parse_from_rfc3339(&s) {
                Ok(t) => Some(Some(t.with_timezone(&Utc))),
                Err(_) => {
                    self.err(
                        field,
                        "invalid_datetime",
                        format!(
                            "{} must be an RFC 3339 date-time such as 2026-01-31T09:30:00+08:00",
                            self.name(field)
                        ),
                    );
                    None
                }
            },
        }
    }

    /// `remind_before_minutes`: a whole number of minutes, up to a week.
    fn minutes_before(&mut self) -> Option<i64> {
        match self.doc.get("remind_before_minutes")? {
            Value::Null => None,
            v => match v.as_i64() {
                Some(n) if (0..=7 * 24 * 60).contains(&n) => Some(n),
                _ => {
                    self.err(
                        "remind_before_minutes",
                        "out_of_range",
                        format!(
                            "{} must be a whole number of minutes from 0 to 10080",
                            self.name("remind_before_minutes")
                        ),
                    );
                    None
                }
            },
        }
    }

    fn unknown(&mut self, allowed: &[&str]) {
        let unknown: Vec<String> = self
            .doc
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            self.err(
                &k,
                "unknown_field",
                format!("activities have no field named {}", self.name(&k)),
            );
        }
    }
}

/// Create or update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update(Kind),
}

/// Read and check an activity document. On update, `Mode::Update(kind)` carries the stored
/// kind (the kind and the linked record cannot change). `related_types` are the record types
/// activities attach to (the services' registry knows them).
pub fn read(
    doc: &Map<String, Value>,
    mode: Mode,
    related_types: &[&str],
) -> Result<ActivityDraft, DomainError> {
    let mut r = Reader {
        doc,
        prefix: "",
        errors: Vec::new(),
    };
    r.unknown(FIELDS);
    let mut d = ActivityDraft::default();
    let kind = match mode {
        Mode::Update(k) => {
            for f in ["kind", "related_type", "related_id", "follow_up"] {
                if doc.contains_key(f) {
                    r.err(
                        f,
                        "immutable",
                        format!("{f} cannot be changed after creation"),
                    );
                }
            }
            Some(k)
        }
        Mode::Create => {
            let before = r.errors.len();
            let k = r.keyed("kind", Kind::parse, Kind::keys()).flatten();
            if k.is_none() && r.errors.len() == before {
                r.err(
                    "kind",
                    "required",
                    format!("kind is required: one of {}", Kind::keys()),
                );
            }
            k
        }
    };
    d.kind = kind;

    match r.text("subject", 200) {
        Some(Some(s)) => d.subject = Some(s),
        Some(None) => r.err("subject", "required", "subject must not be empty"),
        None if mode == Mode::Create && !doc.contains_key("subject") => {
            r.err("subject", "required", "subject is required")
        }
        None => {}
    }
    d.body = r.text("body", 20_000);
    d.channel = r.keyed("channel", Channel::parse, Channel::keys());
    d.assignee_id = r.text("assignee_id", 36);
    d.status = match r.keyed("status", Status::parse, Status::keys()) {
        Some(Some(s)) => Some(s),
        Some(None) => {
            r.err("status", "required", "status cannot be empty");
            None
        }
        None => None,
    };
    d.priority = r.keyed("priority", Priority::parse, Priority::keys());
    d.due_at = r.time("due_at");
    d.start_at = r.time("start_at");
    d.end_at = r.time("end_at");
    d.remind_at = r.time("remind_at");
    d.remind_before_minutes = r.minutes_before();
    d.direction = r.keyed("direction", Direction::parse, Direction::keys());
    d.outcome = r.text("outcome", 200);
    d.place = r.text("place", 300);
    d.duration_minutes = match doc.get("duration_minutes") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => match v.as_i64() {
            Some(n) if (0..=24 * 60).contains(&n) => Some(Some(n as i32)),
            _ => {
                r.err(
                    "duration_minutes",
                    "out_of_range",
                    "duration_minutes must be a whole number from 0 to 1440",
                );
                None
            }
        },
    };
    d.attendees = match doc.get("attendees") {
        None | Some(Value::Null) => None,
        Some(v) => match serde_json::from_value::<Attendees>(v.clone()) {
            Ok(a) if a.users.len() + a.contacts.len() + a.others.len() <= 100 => Some(a),
            Ok(_) => {
                r.err(
                    "attendees",
                    "too_many",
                    "a meeting has at most 100 attendees",
                );
                None
            }
            Err(_) => {
                r.err(
                    "attendees",
                    "invalid_type",
                    "attendees must be an object with users, contacts and others (arrays of strings)",
                );
                None
            }
        },
    };
    if mode == Mode::Create {
        let rt = r.text("related_type", 32).flatten();
        let rid = r.text("related_id", 36).flatten();
        match (rt, rid) {
            (Some(t), Some(id)) if related_types.contains(&t.as_str()) => d.related = Some((t, id)),
            (Some(t), _) if !related_types.contains(&t.as_str()) => r.err(
                "related_type",
                "invalid_choice",
                format!("related_type must be one of: {}", related_types.join(", ")),
            ),
            (None, _) => r.err("related_type", "required", "related_type is required"),
            (_, None) => r.err("related_id", "required", "related_id is required"),
            _ => {}
        }
    }

    if let Some(kind) = kind {
        for f in FIELDS {
            let set = doc.get(*f).is_some_and(|v| !v.is_null());
            if set && !kind.allows(f) {
                r.err(
                    f,
                    "not_for_kind",
                    format!("{f} does not apply to a {}", kind.key()),
                );
            }
        }
        if d.remind_before_minutes.is_some() && d.remind_at.flatten().is_some() {
            r.err(
                "remind_before_minutes",
                "conflict",
                "give remind_at or remind_before_minutes, not both",
            );
        }
        if kind.has_span() && mode == Mode::Create && d.start_at.flatten().is_none() {
            r.err(
                "start_at",
                "required",
                format!("a {} needs start_at", kind.key()),
            );
        }
        if let (Some(Some(s)), Some(Some(e))) = (d.start_at, d.end_at) {
            if e < s {
                r.err(
                    "end_at",
                    "before_start",
                    "end_at must not be before start_at",
                );
            }
        }
    }

    if let Some(v) = doc.get("follow_up").filter(|v| !v.is_null()) {
        match v {
            Value::Object(m) => {
                let mut fr = Reader {
                    doc: m,
                    prefix: "follow_up.",
                    errors: Vec::new(),
                };
                fr.unknown(FOLLOW_UP_FIELDS);
                let mut f = ActivityDraft {
                    kind: Some(Kind::Task),
                    ..Default::default()
                };
                match fr.text("subject", 200) {
                    Some(Some(s)) => f.subject = Some(s),
                    _ => fr.err("subject", "required", "follow_up.subject is required"),
                }
                f.body = fr.text("body", 20_000);
                f.assignee_id = fr.text("assignee_id", 36);
                f.priority = fr.keyed("priority", Priority::parse, Priority::keys());
                f.due_at = fr.time("due_at");
                f.remind_at = fr.time("remind_at");
                f.remind_before_minutes = fr.minutes_before();
                r.errors.append(&mut fr.errors);
                d.follow_up = Some(Box::new(f));
            }
            _ => r.err("follow_up", "invalid_type", "follow_up must be an object"),
        }
    }

    if r.errors.is_empty() {
        Ok(d)
    } else {
        Err(DomainError::Validation(r.errors))
    }
}
