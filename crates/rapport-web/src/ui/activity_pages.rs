//! Activities in the web UI: the timeline and the "log activity" form on record pages, ticking
//! off tasks, the notification bell's page, "my day" on the home page, and the administrators'
//! job queue page. Every action goes through the same services as the API.

use super::form::{field, local_time};
use super::i18n::{t, Lang};
use super::posted::Posted;
use super::{error_page, field_message, redirect_or_error, render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Duration;
use rapport_core::activity::{Channel, Direction, Kind, Priority, Status};
use rapport_core::{Action, DomainError};
use rapport_services::activities::{self, Activity};
use rapport_services::objects;
use rapport_services::timeline;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// One line of a timeline or a task list, ready to show.
pub struct TlItem {
    pub id: String,
    pub kind: String,
    pub kind_label: String,
    pub at: String,
    pub title: String,
    pub link: Option<(String, String)>,
    pub who: String,
    pub status: String,
    pub lines: Vec<String>,
    pub can_complete: bool,
}

/// The "log activity" form: choices, the values typed, and errors next to fields.
pub struct ActivityForm {
    pub action: String,
    pub kinds: Vec<(String, String)>,
    pub channels: Vec<(String, String)>,
    pub directions: Vec<(String, String)>,
    pub priorities: Vec<(String, String)>,
    /// "Remind me … before": (minutes, label).
    pub reminders: Vec<(String, String)>,
    pub values: HashMap<String, String>,
    pub errors: HashMap<String, String>,
    pub open: bool,
}

impl ActivityForm {
    pub fn v(&self, name: &str) -> String {
        self.values.get(name).cloned().unwrap_or_default()
    }
    pub fn err(&self, name: &str) -> String {
        self.errors.get(name).cloned().unwrap_or_default()
    }
    pub fn is(&self, name: &str, value: &str) -> bool {
        self.values.get(name).map(String::as_str) == Some(value)
    }
}

/// The timeline section of a record page.
pub struct TimelineView {
    pub entries: Vec<TlItem>,
    pub filters: Vec<(String, String, bool)>,
    pub next: Option<String>,
    pub kinds: String,
    pub form: ActivityForm,
}

fn choices<T: Copy>(
    all: &[T],
    key: fn(T) -> &'static str,
    prefix: &str,
    lang: Lang,
) -> Vec<(String, String)> {
    all.iter()
        .map(|v| {
            (
                key(*v).to_string(),
                t(lang, &format!("{prefix}.{}", key(*v))),
            )
        })
        .collect()
}

pub fn empty_form(plural: &str, id: &str, lang: Lang) -> ActivityForm {
    let mut values = HashMap::new();
    values.insert("kind".to_string(), "call".to_string());
    ActivityForm {
        action: format!("/{plural}/{id}/activities"),
        kinds: choices(Kind::ALL, Kind::key, "kind", lang),
        channels: choices(Channel::ALL, Channel::key, "channel", lang),
        directions: choices(Direction::ALL, Direction::key, "direction", lang),
        priorities: choices(Priority::ALL, Priority::key, "priority", lang),
        reminders: [0, 5, 15, 30, 60, 120, 1440]
            .iter()
            .map(|m| (m.to_string(), t(lang, &format!("remind.{m}"))))
            .collect(),
        values,
        errors: HashMap::new(),
        open: false,
    }
}

pub(super) fn user_names(users: &[rapport_services::users::User]) -> HashMap<String, String> {
    users
        .iter()
        .map(|u| (u.id.clone(), u.name.clone()))
        .collect()
}

fn lang_sep(lang: Lang) -> &'static str {
    if lang == Lang::Zh {
        "、"
    } else {
        ", "
    }
}

pub(super) fn plural_of(related_type: &str) -> &'static str {
    rapport_core::Object::parse(related_type)
        .and_then(rapport_core::Object::plural)
        .unwrap_or("contacts")
}

/// Show one activity as a timeline line.
pub fn item(
    a: &Activity,
    label: Option<&str>,
    names: &HashMap<String, String>,
    me: &str,
    lang: Lang,
) -> TlItem {
    let mut lines = Vec::new();
    let when = match (a.kind, a.start_at, a.end_at) {
        (Kind::Meeting | Kind::Visit, Some(s), Some(e)) => {
            format!(
                "{} – {}",
                local_time(s),
                local_time(e).chars().skip(11).collect::<String>()
            )
        }
        _ => local_time(a.at),
    };
    if let Some(p) = &a.place {
        lines.push(format!("{}: {p}", t(lang, "activity.place")));
    }
    if let (Some(d), Some(m)) = (a.direction, a.duration_minutes) {
        lines.push(format!(
            "{} · {m} min",
            t(lang, &format!("direction.{}", d.key()))
        ));
    }
    if let Some(o) = a.outcome.as_ref().filter(|_| a.kind != Kind::Email) {
        lines.push(format!("{}: {o}", t(lang, "activity.outcome")));
    }
    if let Some(b) = &a.body {
        lines.push(b.clone());
    }
    if let Some(u) = &a.assignee_id {
        lines.push(format!(
            "{}: {}",
            t(lang, "activity.assigned_to"),
            names.get(u).cloned().unwrap_or_default()
        ));
    }
    let mine = a.assignee_id.as_deref() == Some(me) || a.owner_id.as_deref() == Some(me);
    TlItem {
        id: a.id.clone(),
        kind: a.kind.key().to_string(),
        kind_label: t(lang, &format!("kind.{}", a.kind.key())),
        at: when,
        title: a.subject.clone(),
        link: label.map(|l| {
            (
                format!("/{}/{}", plural_of(&a.related_type), a.related_id),
                l.to_string(),
            )
        }),
        who: a
            .owner_id
            .as_ref()
            .and_then(|o| names.get(o).cloned())
            .unwrap_or_default(),
        status: match (a.kind, a.status, a.outcome.as_deref()) {
            // An email written in Rapport: sending, then sent.
            (Kind::Email, Status::Open, _) => t(lang, "status.sending"),
            (Kind::Email, Status::Done, Some("sent")) => t(lang, "status.sent"),
            (k, s, _) if k.is_planned() || s != Status::Done => {
                t(lang, &format!("status.{}", s.key()))
            }
            _ => String::new(),
        },
        lines,
        can_complete: a.status == Status::Open && mine,
    }
}

/// The timeline of a record page (`kinds` and `cursor` from its query string); `users` are
/// the (id, name) pairs the record page has loaded already.
pub async fn timeline_view(
    app: &AppState,
    page: &Page,
    (plural, object, id): (&str, &str, &str),
    users: &[(String, String)],
    query: &[(String, String)],
) -> Result<TimelineView, DomainError> {
    let lang = page.ctx.lang;
    let kinds = field(query, "kinds");
    let params = timeline::Params {
        kinds: kinds
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        cursor: Some(field(query, "tl_cursor")).filter(|c| !c.is_empty()),
        limit: 30,
    };
    let tl = timeline::of_record(&app.store, &page.access, object, id, &params).await?;
    let names: HashMap<String, String> = users.iter().cloned().collect();
    let me = page.access.user_id.as_str();
    let mut entries = Vec::new();
    for e in &tl.data {
        match &e.item {
            timeline::Item::Activity(a, label) => {
                let mut it = item(a, label.as_deref(), &names, me, lang);
                if a.related_id == id {
                    it.link = None; // this very record
                }
                entries.push(it);
            }
            timeline::Item::Change(c) => {
                let action = c["action"].as_str().unwrap_or("");
                let key = format!("action.{action}");
                let mut lines = Vec::new();
                if let Some(Value::Object(m)) = c.get("changes") {
                    let obj = rapport_core::Object::parse(object);
                    let fields: Vec<String> = m
                        .keys()
                        .map(
                            |k| match obj.and_then(|o| rapport_services::objects::field(o, k)) {
                                Some(f) if lang == Lang::Zh => f.label_zh.to_string(),
                                Some(f) => f.label_en.to_string(),
                                None => k.clone(),
                            },
                        )
                        .collect();
                    if !fields.is_empty() {
                        lines.push(fields.join(lang_sep(lang)));
                    }
                }
                entries.push(TlItem {
                    id: String::new(),
                    kind: "change".into(),
                    kind_label: t(lang, "kind.change"),
                    at: local_time(e.at),
                    title: if super::i18n::has(&key) {
                        t(lang, &key)
                    } else {
                        action.to_string()
                    },
                    link: None,
                    who: c["actor_id"]
                        .as_str()
                        .and_then(|u| names.get(u).cloned())
                        .or_else(|| c["actor_email"].as_str().map(String::from))
                        .unwrap_or_default(),
                    status: String::new(),
                    lines,
                    can_complete: false,
                });
            }
            timeline::Item::Related(r) => {
                let label = r["label"].as_str().unwrap_or("").to_string();
                let event = r["event"].as_str().unwrap_or("contact.added");
                let money = match (r["amount"].as_str(), r["currency"].as_str()) {
                    (Some(a), c) => format!("{a} {}", c.unwrap_or("")),
                    _ => String::new(),
                };
                let lines = match event {
                    "opportunity.stage_changed" => vec![r[if lang == super::i18n::Lang::Zh {
                        "stage_zh"
                    } else {
                        "stage_en"
                    }]
                    .as_str()
                    .unwrap_or("")
                    .to_string()],
                    "payment.received" => {
                        vec![format!("{money} · {}", r["paid_on"].as_str().unwrap_or(""))]
                    }
                    _ if !money.is_empty() => vec![money],
                    _ => vec![],
                };
                let plural = r["object_type"].as_str().map_or("contacts", plural_of);
                entries.push(TlItem {
                    id: String::new(),
                    kind: "related".into(),
                    kind_label: t(lang, &format!("timeline.{event}")),
                    at: local_time(e.at),
                    // The record's name once, as the link to it.
                    title: String::new(),
                    link: r["id"]
                        .as_str()
                        .map(|i| (format!("/{plural}/{i}"), label.clone())),
                    who: String::new(),
                    status: String::new(),
                    lines,
                    can_complete: false,
                });
            }
        }
    }
    let mut filters = vec![("".to_string(), t(lang, "kind.all"), kinds.is_empty())];
    for k in timeline::kinds() {
        filters.push((k.to_string(), t(lang, &format!("kind.{k}")), kinds == k));
    }
    Ok(TimelineView {
        entries,
        filters,
        next: tl.next_cursor,
        kinds,
        form: empty_form(plural, id, lang),
    })
}

/// A datetime-local value read in the instance's zone (Asia/Shanghai), as the record forms do.
fn local_input(raw: &str) -> Value {
    let raw = raw.trim();
    if raw.is_empty() {
        Value::Null
    } else if raw.len() == 16 {
        json!(format!("{raw}:00+08:00"))
    } else {
        json!(raw)
    }
}

const TIME_FIELDS: [&str; 4] = ["start_at", "end_at", "due_at", "remind_at"];
const TEXT_FIELDS: [&str; 7] = [
    "subject",
    "body",
    "channel",
    "direction",
    "outcome",
    "place",
    "priority",
];

/// The API document for what the form sent: only fields that apply to the chosen kind.
fn form_doc(form: &[(String, String)], object: &str, id: &str) -> Map<String, Value> {
    let mut doc = Map::new();
    let kind_key = field(form, "kind");
    doc.insert("kind".into(), json!(kind_key));
    doc.insert("related_type".into(), json!(object));
    doc.insert("related_id".into(), json!(id));
    let kind = Kind::parse(&kind_key);
    let applies = |f: &str| kind.is_none_or(|k| k.allows(f));
    for f in TEXT_FIELDS {
        let v = field(form, f);
        if !v.trim().is_empty() && applies(f) {
            doc.insert(f.into(), json!(v));
        }
    }
    for f in TIME_FIELDS {
        let v = local_input(&field(form, f));
        if !v.is_null() && applies(f) {
            doc.insert(f.into(), v);
        }
    }
    let before = field(form, "remind_before_minutes");
    if !before.trim().is_empty() && applies("remind_before_minutes") {
        doc.insert(
            "remind_before_minutes".into(),
            before
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(json!(before)),
        );
    }
    let d = field(form, "duration_minutes");
    if !d.trim().is_empty() && applies("duration_minutes") {
        doc.insert(
            "duration_minutes".into(),
            d.trim().parse::<i64>().map(Value::from).unwrap_or(json!(d)),
        );
    }
    if field(form, "follow_up") == "1" {
        let mut f = Map::new();
        f.insert("subject".into(), json!(field(form, "follow_up_subject")));
        for (src, dst) in [
            ("follow_up_due_at", "due_at"),
            ("follow_up_remind_at", "remind_at"),
        ] {
            let v = local_input(&field(form, src));
            if !v.is_null() {
                f.insert(dst.into(), v);
            }
        }
        let before = field(form, "follow_up_remind_before");
        if let Ok(m) = before.trim().parse::<i64>() {
            f.insert("remind_before_minutes".into(), json!(m));
        }
        doc.insert("follow_up".into(), Value::Object(f));
    }
    doc
}

#[derive(Template)]
#[template(path = "activity_form.html")]
struct FormPage {
    ctx: Ctx,
    back: String,
    form: ActivityForm,
    error: Option<String>,
}

/// Log an activity from a record page. Errors re-show the form with messages next to fields.
pub async fn log(
    State(app): State<AppState>,
    Path((plural, id)): Path<(String, String)>,
    Posted { page, form }: Posted,
) -> Response {
    let lang = page.ctx.lang;
    let Some(object) =
        rapport_services::activities::access::def_of_plural(&plural).map(|d| d.object.key())
    else {
        return error_page(lang, DomainError::NotFound);
    };
    let doc = form_doc(&form, object, &id);
    match activities::create(&app.store, &page.access, &doc).await {
        Ok(_) => Redirect::to(&format!("/{plural}/{id}#timeline")).into_response(),
        Err(DomainError::Validation(errs)) => {
            let mut f = empty_form(&plural, &id, lang);
            f.open = true;
            for (k, v) in &form {
                if k != "csrf" {
                    f.values.insert(k.clone(), v.clone());
                }
            }
            let mut general = Vec::new();
            for e in &errs {
                let key = e.field.replace("follow_up.", "follow_up_");
                let key = if key.starts_with("follow_up_") {
                    key
                } else {
                    e.field.clone()
                };
                if key == "related_id" || key == "kind" && !f.values.contains_key("kind") {
                    general.push(field_message(lang, e));
                } else {
                    f.errors.insert(key, field_message(lang, e));
                }
            }
            let mut res = render(&FormPage {
                ctx: page.ctx,
                back: format!("/{plural}/{id}"),
                form: f,
                error: (!general.is_empty()).then(|| general.join("; ")),
            });
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            res
        }
        Err(e) => error_page(lang, e),
    }
}

/// Where to go back to after a small action: a local path from the form, else home.
fn back_to(form: &[(String, String)]) -> String {
    let next = field(form, "next");
    if next.starts_with('/') && !next.starts_with("//") {
        next
    } else {
        "/".into()
    }
}

/// Tick off a task (or mark a meeting held).
pub async fn complete(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted { page, form }: Posted,
) -> Response {
    let mut doc = Map::new();
    doc.insert("status".into(), json!("done"));
    let result = activities::update(&app.store, &page.access, &id, &doc).await;
    redirect_or_error(page.ctx.lang, result, &back_to(&form))
}

/// "My day": overdue and today's tasks, and meetings and visits in the coming week.
pub struct MyDay {
    pub overdue: Vec<TlItem>,
    pub today: Vec<TlItem>,
    pub upcoming: Vec<TlItem>,
    /// (link, name, amount) of my open deals without a next activity.
    pub no_next: Vec<(String, String, String)>,
    /// (link, name, when and why) of my accounts about to return to the pool.
    pub returning: Vec<(String, String, String)>,
}

pub async fn my_day(app: &AppState, page: &Page) -> Result<MyDay, DomainError> {
    let lang = page.ctx.lang;
    let now = app.store.now();
    // The end of today in the instance's zone (UTC+8).
    let local = now + Duration::hours(8);
    let end_of_day = local
        .date_naive()
        .and_hms_opt(23, 59, 59)
        .map(|t| t.and_utc() - Duration::hours(8))
        .unwrap_or(now);
    let me = page.access.user_id.clone();
    let names = user_names(
        &rapport_services::users::list(&app.store, &page.access)
            .await
            .unwrap_or_default(),
    );
    let open_mine = |until, since, kind| activities::ListFilter {
        assignee_id: Some(me.clone()),
        status: Some(Status::Open),
        kind,
        until,
        since,
        ascending: true,
        limit: 50,
        ..Default::default()
    };
    let show = |rows: Vec<(Activity, Option<String>)>| -> Vec<TlItem> {
        rows.iter()
            .map(|(a, l)| item(a, l.as_deref(), &names, &me, lang))
            .collect()
    };
    let overdue = activities::list(
        &app.store,
        &page.access,
        &open_mine(
            Some(now - Duration::milliseconds(1)),
            None,
            Some(Kind::Task),
        ),
    )
    .await?;
    let today = activities::list(
        &app.store,
        &page.access,
        &open_mine(Some(end_of_day), Some(now), Some(Kind::Task)),
    )
    .await?;
    let mut upcoming = Vec::new();
    for k in [Kind::Meeting, Kind::Visit] {
        upcoming.extend(
            activities::list(
                &app.store,
                &page.access,
                &activities::ListFilter {
                    include_attending: true,
                    ..open_mine(Some(now + Duration::days(7)), Some(now), Some(k))
                },
            )
            .await?,
        );
    }
    upcoming.sort_by_key(|a| a.0.at);
    // My open deals nobody planned a next step for, largest first.
    let mut no_next = Vec::new();
    if page.access.scope(objects::OPPORTUNITY, Action::Read) != rapport_core::Scope::None {
        let params = rapport_services::records::query::ListParams {
            filter: Some(json!({"and": [
                {"field": "owner_id", "op": "eq", "value": me},
                {"field": "status", "op": "eq", "value": "open"},
                {"field": "next_activity_at", "op": "is_empty"}
            ]})),
            sort: Some("-amount".into()),
            limit: Some(10),
            ..Default::default()
        };
        for o in rapport_services::records::query::list(
            &app.store,
            &page.access,
            &rapport_services::objects::OPPORTUNITIES,
            &params,
        )
        .await?
        .data
        {
            no_next.push((
                format!("/opportunities/{}", o["id"].as_str().unwrap_or("")),
                o["name"].as_str().unwrap_or("").to_string(),
                o["amount"]
                    .as_str()
                    .map(|a| format!("{a} {}", o["currency"].as_str().unwrap_or("")))
                    .unwrap_or_default(),
            ));
        }
    }
    // My accounts that go back to the public pool within a week unless followed up.
    let returning = rapport_services::pool::returning_soon(&app.store, &page.access, 7)
        .await?
        .into_iter()
        .take(20)
        .map(|r| {
            (
                format!("/accounts/{}#timeline", r.id),
                r.name,
                format!(
                    "{} · {}",
                    local_time(r.at),
                    t(lang, &format!("pool.reason_{}", r.reason))
                ),
            )
        })
        .collect();
    Ok(MyDay {
        overdue: show(overdue),
        today: show(today),
        upcoming: show(upcoming),
        no_next,
        returning,
    })
}
