//! iCalendar (RFC 5545) through the `icalendar` crate: a calendar of events (meetings, visits)
//! and to-dos (tasks) that calendar programs subscribe to.

use chrono::{DateTime, Duration, Utc};
use icalendar::{Calendar, Component, Event, EventLike, Todo, TodoStatus};
use rapport_core::activity::{Priority, Status};

/// One entry of a calendar, as the feed shows it.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    /// Unique within Rapport (the activity's id); the entry's UID is `<id>@rapport`.
    pub id: &'a str,
    pub subject: &'a str,
    pub body: Option<&'a str>,
    pub place: Option<&'a str>,
    pub updated_at: DateTime<Utc>,
    /// When an event starts (an hour long unless `end` says otherwise).
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    /// When a to-do is due.
    pub due: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub priority: Option<Priority>,
    pub status: Status,
}

/// A calendar being written.
#[derive(Debug)]
pub struct Feed(Calendar);

impl Feed {
    pub fn new(name: &str) -> Feed {
        let mut cal = Calendar::new();
        cal.name(name);
        Feed(cal)
    }

    /// Add `item` as an event (VEVENT).
    pub fn event(&mut self, item: &Item) {
        let mut e = Event::new();
        e.uid(&format!("{}@rapport", item.id))
            .summary(item.subject)
            .timestamp(item.updated_at)
            .starts(item.start)
            .ends(item.end.unwrap_or(item.start + Duration::hours(1)));
        if let Some(p) = item.place {
            e.location(p);
        }
        if let Some(b) = item.body {
            e.description(b);
        }
        e.status(match item.status {
            Status::Cancelled => icalendar::EventStatus::Cancelled,
            _ => icalendar::EventStatus::Confirmed,
        });
        self.0.push(e.done());
    }

    /// Add `item` as a to-do (VTODO).
    pub fn todo(&mut self, item: &Item) {
        let mut t = Todo::new();
        t.uid(&format!("{}@rapport", item.id))
            .summary(item.subject)
            .timestamp(item.updated_at);
        if let Some(d) = item.due {
            t.due(d);
        }
        if let Some(b) = item.body {
            t.description(b);
        }
        t.priority(match item.priority {
            Some(Priority::High) => 1,
            Some(Priority::Low) => 9,
            _ => 5,
        });
        t.status(match item.status {
            Status::Open => TodoStatus::NeedsAction,
            Status::Done => TodoStatus::Completed,
            Status::Cancelled => TodoStatus::Cancelled,
        });
        if let Some(c) = item.completed_at {
            t.completed(c);
        }
        self.0.push(t.done());
    }

    /// The calendar as iCalendar text.
    pub fn finish(mut self) -> String {
        self.0.done().to_string()
    }
}
