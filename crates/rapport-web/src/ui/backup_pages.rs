//! The administrators' backup page: how backups are taken, whether they are healthy, the last
//! run and restore drill, what runs next, every backup kept; a copy or a drill started now.

use super::form::{field, local_time};
use super::i18n::{t, Lang};
use super::posted::Posted;
use super::{error_page, render, Ctx, Page};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use rapport_core::DomainError;
use rapport_services::backup::overview::{self, Mode, Overview};
use rapport_services::backup::{offsite, scheduled};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// One line of the status list: label, value, and whether it is a problem.
pub struct Line {
    pub label: String,
    pub value: String,
    pub bad: bool,
    pub id: &'static str,
}

pub struct GenerationRow {
    pub id: String,
    pub taken_at: String,
    pub restores_to: String,
    pub kind: String,
    pub segments: String,
    pub size: String,
    pub drill: String,
    pub drill_class: &'static str,
}

/// The off-site target form's values.
#[derive(Default)]
pub struct TargetForm {
    pub configured: bool,
    /// `s3` or `sftp`.
    pub kind: String,
    pub host_key: String,
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub prefix: String,
    pub access_key: String,
    pub secret_set: bool,
    pub path_style: bool,
}

#[derive(Template)]
#[template(path = "backups.html")]
struct BackupsPage {
    ctx: Ctx,
    notice: Option<String>,
    error: Option<String>,
    problems: Vec<String>,
    lines: Vec<Line>,
    rows: Vec<GenerationRow>,
    target: TargetForm,
    errors: HashMap<String, String>,
}

impl BackupsPage {
    fn err(&self, field: &str) -> String {
        self.errors.get(field).cloned().unwrap_or_default()
    }
}

/// A size as people read it: 1.2 MB, 830 KB, 4.1 GB.
pub fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.0} KB", (b / 1e3).ceil())
    }
}

fn seconds(lang: Lang, s: f64) -> String {
    match lang {
        Lang::Zh => format!("{s:.1} 秒"),
        Lang::En => format!("{s:.1} s"),
    }
}

fn hours(lang: Lang, h: f64) -> String {
    if h == 168.0 {
        return match lang {
            Lang::Zh => "每周".into(),
            Lang::En => "every week".into(),
        };
    }
    let (n, unit_zh, unit_en) = if h >= 24.0 && (h / 24.0).fract() == 0.0 {
        (h / 24.0, "天", "days")
    } else {
        (h, "小时", "hours")
    };
    match lang {
        Lang::Zh => format!("每 {n} {unit_zh}"),
        Lang::En if n == 1.0 => format!("every {}", unit_en.trim_end_matches('s')),
        Lang::En => format!("every {n} {unit_en}"),
    }
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(local_time).unwrap_or_else(|| "—".into())
}

fn lines(lang: Lang, o: &Overview) -> (Vec<Line>, Vec<String>) {
    let tr = |k: &str| t(lang, k);
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let mut line = |id: &'static str, label: &str, value: String, bad: bool| {
        out.push(Line {
            label: tr(label),
            value,
            bad,
            id,
        })
    };
    let mode = match o.mode {
        Mode::Continuous => format!(
            "{} · {} {}",
            tr("backups.mode_continuous"),
            tr("backups.full_copy"),
            hours(lang, o.full_every_hours)
        ),
        Mode::Scheduled => format!(
            "{} · {}",
            tr("backups.mode_scheduled"),
            hours(lang, o.full_every_hours)
        ),
        Mode::Manual => tr("backups.mode_manual"),
    };
    line("mode", "backups.mode", mode, false);
    match &o.last_success {
        Some(g) => line(
            "last-success",
            "backups.last_success",
            format!(
                "{} · {} · {} {}",
                time(g.taken_at),
                size(g.bytes),
                tr("backups.restores_to"),
                time(g.restores_to)
            ),
            false,
        ),
        None => {
            problems.push(tr("backups.none_yet"));
            line("last-success", "backups.last_success", "—".into(), true)
        }
    }
    if let Some(c) = &o.continuous {
        let bad = c.last_error.is_some();
        let mut v = format!("{} {}", tr("backups.restores_to"), time(c.restores_to));
        if let Some(e) = &c.last_error {
            v = format!("{v} · {}: {e}", tr("backups.error"));
            problems.push(format!("{}: {e}", tr("backups.continuous_failing")));
        }
        line("continuous", "backups.continuous", v, bad);
    }
    if let Some(r) = &o.last_run {
        let trigger = tr(&format!("backups.trigger_{}", r.trigger));
        let v = match &r.error {
            None => format!(
                "{} · {} · {} · {}",
                time(Some(r.at)),
                tr("backups.passed"),
                seconds(lang, r.seconds),
                trigger
            ),
            Some(e) => {
                problems.push(format!("{}: {e}", tr("backups.last_run_failed")));
                format!(
                    "{} · {}: {e} · {trigger}",
                    time(Some(r.at)),
                    tr("backups.failed")
                )
            }
        };
        line("last-run", "backups.last_run", v, r.error.is_some());
    }
    line(
        "next-backup",
        "backups.next_backup",
        time(o.next_backup),
        false,
    );
    match &o.last_drill {
        Some(d) => {
            let v = if d.passed {
                format!(
                    "{} · {} · {}",
                    time(d.at),
                    tr("backups.passed"),
                    d.generation
                )
            } else {
                let e = d.error.clone().unwrap_or_default();
                problems.push(format!("{}: {e}", tr("backups.drill_failed")));
                format!("{} · {}: {e}", time(d.at), tr("backups.failed"))
            };
            line("last-drill", "backups.last_drill", v, !d.passed)
        }
        None => line(
            "last-drill",
            "backups.last_drill",
            tr("backups.never"),
            false,
        ),
    }
    let next_drill = match o.drill_every_hours {
        Some(h) => match lang {
            Lang::Zh => format!("{}（{}）", time(o.next_drill), hours(lang, h)),
            Lang::En => format!("{} ({})", time(o.next_drill), hours(lang, h)),
        },
        None => tr("backups.drills_off"),
    };
    line("next-drill", "backups.next_drill", next_drill, false);
    let target = match (&o.target.problem, o.target.free_bytes, o.target.total_bytes) {
        (Some(p), _, _) => {
            problems.push(p.clone());
            format!("{} · {p}", o.target.dir)
        }
        (None, Some(free), Some(total)) => format!(
            "{} · {} · {} {} / {}",
            o.target.dir,
            tr("backups.healthy"),
            tr("backups.free"),
            size(free),
            size(total)
        ),
        (None, _, _) => format!("{} · {}", o.target.dir, tr("backups.healthy")),
    };
    line(
        "target",
        "backups.target",
        target,
        o.target.problem.is_some(),
    );
    if let Some(off) = &o.offsite {
        let v = match &off.last {
            None => format!("{} · {}", off.target, tr("backups.offsite_pending")),
            Some(l) => match &l.error {
                Some(e) => {
                    problems.push(format!("{}: {e}", tr("backups.offsite_failing")));
                    format!(
                        "{} · {} · {}: {e}",
                        off.target,
                        time(Some(l.at)),
                        tr("backups.failed")
                    )
                }
                None => format!(
                    "{} · {} {} · {} {}",
                    off.target,
                    tr("backups.offsite_checked"),
                    time(Some(l.at)),
                    l.generations,
                    tr(if l.generations == 1 {
                        "backups.offsite_there_one"
                    } else {
                        "backups.offsite_there"
                    })
                ),
            },
        };
        let bad = off.last.as_ref().is_some_and(|l| l.error.is_some());
        line("offsite", "backups.offsite", v, bad);
    }
    let retention = match lang {
        Lang::Zh => format!(
            "最近 {} 天全部保留，另留 {} 周、{} 个月各一份",
            o.retention.daily, o.retention.weekly, o.retention.monthly
        ),
        Lang::En => format!(
            "everything from the last {} days, then one a week for {} weeks and one a month for {} months",
            o.retention.daily, o.retention.weekly, o.retention.monthly
        ),
    };
    line("retention", "backups.retention", retention, false);
    (out, problems)
}

fn rows(lang: Lang, o: &Overview) -> Vec<GenerationRow> {
    o.generations
        .iter()
        .map(|g| {
            let (drill, drill_class) = match g.drill {
                Some(true) => (t(lang, "backups.passed"), "job-done"),
                Some(false) => (t(lang, "backups.failed"), "job-failed"),
                None => ("—".into(), ""),
            };
            GenerationRow {
                id: g.id.clone(),
                taken_at: time(g.taken_at),
                restores_to: time(g.restores_to),
                kind: t(
                    lang,
                    match (g.complete, g.continuous) {
                        (false, _) => "backups.incomplete",
                        (true, true) => "backups.kind_continuous",
                        (true, false) => "backups.kind_full",
                    },
                ),
                segments: g.segments.to_string(),
                size: size(g.bytes),
                drill,
                drill_class,
            }
        })
        .collect()
}

#[derive(serde::Deserialize)]
pub struct Notice {
    queued: Option<String>,
    saved: Option<String>,
    /// `ok`, or what the storage answered.
    tested: Option<String>,
}

/// What the page shows besides the overview: a notice, an error, the form as posted.
#[derive(Default)]
struct Extra {
    notice: Option<String>,
    error: Option<String>,
    form: Option<TargetForm>,
    errors: HashMap<String, String>,
}

async fn show(app: &AppState, page: Page, extra: Extra) -> Response {
    let lang = page.ctx.lang;
    let o = match overview::overview(&app.store, &page.access).await {
        Ok(o) => o,
        Err(e) => return error_page(lang, e),
    };
    let (lines, problems) = lines(lang, &o);
    let target = match extra.form {
        Some(f) => f,
        None => match offsite::settings_for(&app.store, &page.access).await {
            Ok(v) if !v.is_null() => TargetForm {
                configured: true,
                kind: v["kind"].as_str().unwrap_or("s3").into(),
                host_key: v["host_key"].as_str().unwrap_or("").into(),
                endpoint: v["endpoint"].as_str().unwrap_or("").into(),
                region: v["region"].as_str().unwrap_or("").into(),
                bucket: v["bucket"].as_str().unwrap_or("").into(),
                prefix: v["prefix"].as_str().unwrap_or("").into(),
                access_key: v["access_key"].as_str().unwrap_or("").into(),
                secret_set: v["secret_key_set"] == json!(true),
                path_style: v["path_style"] != json!(false),
            },
            _ => TargetForm {
                path_style: true,
                kind: "s3".into(),
                ..Default::default()
            },
        },
    };
    let invalid = !extra.errors.is_empty();
    let mut res = render(&BackupsPage {
        rows: rows(lang, &o),
        lines,
        problems,
        notice: extra.notice,
        error: extra.error,
        target,
        errors: extra.errors,
        ctx: page.ctx,
    });
    if invalid {
        *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    res
}

pub async fn page(State(app): State<AppState>, page: Page, Query(q): Query<Notice>) -> Response {
    let lang = page.ctx.lang;
    let notice = match (q.queued.as_deref(), q.saved.as_deref()) {
        (Some("backup"), _) => Some(t(lang, "backups.queued_backup")),
        (Some("drill"), _) => Some(t(lang, "backups.queued_drill")),
        (_, Some("target")) => Some(t(lang, "backups.target_saved")),
        (_, Some("removed")) => Some(t(lang, "backups.target_removed")),
        _ => None,
    };
    let (notice, error) = match q.tested.as_deref() {
        Some("ok") => (Some(t(lang, "backups.target_works")), None),
        Some(m) => (
            notice,
            Some(format!("{}: {m}", t(lang, "backups.target_fails"))),
        ),
        None => (notice, None),
    };
    show(
        &app,
        page,
        Extra {
            notice,
            error,
            ..Default::default()
        },
    )
    .await
}

pub async fn start(State(app): State<AppState>, Posted { page, form: _ }: Posted) -> Response {
    match scheduled::request(&app.store, &page.access, false).await {
        Ok(_) => Redirect::to("/admin/backups?queued=backup").into_response(),
        Err(e) => error_page(page.ctx.lang, e),
    }
}

pub async fn drill(State(app): State<AppState>, Posted { page, form: _ }: Posted) -> Response {
    match scheduled::request(&app.store, &page.access, true).await {
        Ok(_) => Redirect::to("/admin/backups?queued=drill").into_response(),
        Err(e) => error_page(page.ctx.lang, e),
    }
}

/// Saves the off-site target from the form (a blank secret keeps the stored one).
pub async fn save_target(State(app): State<AppState>, Posted { page, form }: Posted) -> Response {
    let lang = page.ctx.lang;
    let mut doc = Map::new();
    let kind = field(&form, "kind");
    let sftp = kind == "sftp";
    doc.insert("kind".into(), json!(if sftp { "sftp" } else { "s3" }));
    let fields: &[&str] = if sftp {
        &["endpoint", "prefix", "host_key"]
    } else {
        &["endpoint", "region", "bucket", "prefix", "access_key"]
    };
    for k in fields {
        doc.insert((*k).into(), json!(field(&form, k).trim()));
    }
    let secret = field(&form, if sftp { "private_key" } else { "secret_key" });
    if !secret.is_empty() {
        doc.insert("secret_key".into(), json!(secret));
    }
    doc.insert(
        "path_style".into(),
        Value::Bool(field(&form, "path_style") == "on"),
    );
    match offsite::save(&app.store, &page.access, &doc).await {
        Ok(_) => Redirect::to("/admin/backups?saved=target#offsite").into_response(),
        Err(DomainError::Validation(errs)) => {
            let errors = errs
                .iter()
                .map(|e| (e.field.clone(), super::field_message(lang, e)))
                .collect();
            let posted = TargetForm {
                configured: false,
                kind: if sftp { "sftp" } else { "s3" }.into(),
                host_key: field(&form, "host_key"),
                endpoint: field(&form, "endpoint"),
                region: field(&form, "region"),
                bucket: field(&form, "bucket"),
                prefix: field(&form, "prefix"),
                access_key: field(&form, "access_key"),
                secret_set: false,
                path_style: field(&form, "path_style") == "on",
            };
            show(
                &app,
                page,
                Extra {
                    form: Some(posted),
                    errors,
                    ..Default::default()
                },
            )
            .await
        }
        Err(e) => error_page(lang, e),
    }
}

/// Tests the target, then shows the page again (a redirect, so that reloading or switching
/// language does not test again).
pub async fn test_target(
    State(app): State<AppState>,
    Posted { page, form: _ }: Posted,
) -> Response {
    match offsite::test(&app.store, &page.access).await {
        Ok(_) => Redirect::to("/admin/backups?tested=ok#offsite").into_response(),
        Err(DomainError::Upstream(m)) => {
            let m: String = m.chars().take(300).collect();
            Redirect::to(&format!(
                "/admin/backups?tested={}#offsite",
                super::form::urlencode(&m)
            ))
            .into_response()
        }
        Err(e) => error_page(page.ctx.lang, e),
    }
}

pub async fn remove_target(
    State(app): State<AppState>,
    Posted { page, form: _ }: Posted,
) -> Response {
    match offsite::remove(&app.store, &page.access).await {
        Ok(()) => Redirect::to("/admin/backups?saved=removed").into_response(),
        Err(e) => error_page(page.ctx.lang, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_intervals_read_naturally() {
        assert_eq!(size(1_234_567), "1.2 MB");
        assert_eq!(size(4_100_000_000), "4.1 GB");
        assert_eq!(size(999), "1 KB");
        assert_eq!(hours(Lang::En, 24.0), "every day");
        assert_eq!(hours(Lang::En, 168.0), "every week");
        assert_eq!(hours(Lang::En, 72.0), "every 3 days");
        assert_eq!(hours(Lang::Zh, 6.0), "每 6 小时");
        assert_eq!(hours(Lang::Zh, 48.0), "每 2 天");
    }
}
