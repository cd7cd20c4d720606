//! Activities, timelines, notifications and reminders delivered by the job queue: what a rep
//! logs, who sees it, and that every reminder arrives exactly once, also across restarts and
//! with two server processes on one PostgreSQL database.
#![allow(clippy::disallowed_methods)] // the server under test runs on the wall clock
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{App, Backend, Session};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

struct Team {
    admin: Session,
    manager: Session,
    rep_a: Session,
    rep_b: Session,
    rep_a_id: String,
    rep_b_id: String,
    manager_id: String,
}

async fn team(app: &App) -> Team {
    app.user("admin@example.com", "administrator", None, None)
        .await;
    let manager_id = app
        .user("manager@example.com", "sales_manager", Some("East"), None)
        .await;
    let rep_a_id = app
        .user(
            "rep.a@example.com",
            "sales_rep",
            Some("East"),
            Some("manager@example.com"),
        )
        .await;
    let rep_b_id = app
        .user(
            "rep.b@example.com",
            "sales_rep",
            Some("East"),
            Some("manager@example.com"),
        )
        .await;
    Team {
        admin: app.login("admin@example.com").await,
        manager: app.login("manager@example.com").await,
        rep_a: app.login("rep.a@example.com").await,
        rep_b: app.login("rep.b@example.com").await,
        rep_a_id,
        rep_b_id,
        manager_id,
    }
}

async fn account(app: &App, s: &Session, name: &str) -> String {
    let (st, acc) = app.post(s, "/api/v1/accounts", json!({"name": name})).await;
    assert_eq!(st, StatusCode::CREATED, "{acc}");
    acc["id"].as_str().unwrap().to_string()
}

fn at(offset_secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset_secs))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Poll until `check` holds for the session's notifications (or give up after `secs`).
async fn wait_notifications(
    app: &App,
    s: &Session,
    secs: u64,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let (st, body) = app.get(s, "/api/v1/notifications").await;
        assert_eq!(st, StatusCode::OK, "{body}");
        if check(&body) || std::time::Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn reminders_for(body: &Value, activity_id: &str) -> usize {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "reminder" && n["payload"]["activity_id"] == activity_id)
        .count()
}

story!(
    a_visit_with_a_follow_up_task_appears_on_the_account_timeline,
    |app| {
        let t = team(&app).await;
        let acc = account(&app, &t.rep_a, "华为技术有限公司").await;
        let (s, visit) = app
        .post(
            &t.rep_a,
            "/api/v1/activities",
            json!({
                "kind": "visit", "subject": "拜访采购部", "related_type": "account", "related_id": acc,
                "start_at": at(-7200), "end_at": at(-3600), "place": "深圳坂田",
                "outcome": "需求明确", "body": "讨论了二期方案",
                "follow_up": {"subject": "发送报价", "due_at": at(86_400), "priority": "high"}
            }),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{visit}");
        assert_eq!(visit["status"], "done", "a visit in the past is done");
        assert_eq!(visit["channel"], "in_person");
        assert_eq!(visit["related_label"], "华为技术有限公司");
        let task = &visit["follow_up"];
        assert_eq!(task["kind"], "task");
        assert_eq!(task["status"], "open");
        assert_eq!(task["assignee_id"], json!(t.rep_a_id));
        assert_eq!(task["follow_up_of"], visit["id"]);

        // Last and next activity on the account follow.
        let (_, a) = app.get(&t.rep_a, &format!("/api/v1/accounts/{acc}")).await;
        assert_eq!(a["last_activity_at"], visit["start_at"]);
        assert_eq!(a["next_activity_at"], task["due_at"]);

        // The timeline, newest first: the follow-up (due tomorrow), the account's creation (now),
        // the visit (two hours ago).
        let (s, tl) = app
            .get(&t.rep_a, &format!("/api/v1/accounts/{acc}/timeline"))
            .await;
        assert_eq!(s, StatusCode::OK, "{tl}");
        let types: Vec<String> = tl["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e["activity"]["kind"]
                    .as_str()
                    .unwrap_or(e["type"].as_str().unwrap())
                    .to_string()
            })
            .collect();
        assert_eq!(types, vec!["task", "change", "visit"]);
        // Filter by kind.
        let (_, only) = app
            .get(
                &t.rep_a,
                &format!("/api/v1/accounts/{acc}/timeline?kinds=visit"),
            )
            .await;
        assert_eq!(only["data"].as_array().unwrap().len(), 1);
        let (s, bad) = app
            .get(
                &t.rep_a,
                &format!("/api/v1/accounts/{acc}/timeline?kinds=gossip"),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        // Only types activities attach to have a timeline.
        let (s, _) = app
            .get(&t.rep_a, &format!("/api/v1/quotes/{acc}/timeline"))
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // Paginated: one entry a page, same order.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/accounts/{acc}/timeline?limit=1&cursor={c}"),
                None => format!("/api/v1/accounts/{acc}/timeline?limit=1"),
            };
            let (_, page) = app.get(&t.rep_a, &path).await;
            for e in page["data"].as_array().unwrap() {
                seen.push(e["at"].as_str().unwrap().to_string());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 3);

        // Completing the task moves "next activity" away and "last activity" forward.
        let task_id = task["id"].as_str().unwrap();
        let (s, done) = app
            .patch(
                &t.rep_a,
                &format!("/api/v1/activities/{task_id}"),
                json!({"status": "done"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{done}");
        assert!(done["completed_at"].is_string());
        let (_, a) = app.get(&t.rep_a, &format!("/api/v1/accounts/{acc}")).await;
        assert_eq!(a["next_activity_at"], Value::Null);
        assert_eq!(a["last_activity_at"], done["completed_at"]);

        // My open tasks list is now empty; my activity list has both.
        let (_, open) = app
            .get(&t.rep_a, "/api/v1/activities?assignee_id=me&status=open")
            .await;
        assert_eq!(open["data"].as_array().unwrap().len(), 0);
        let (_, mine) = app
            .get(
                &t.rep_a,
                &format!("/api/v1/activities?related_type=account&related_id={acc}"),
            )
            .await;
        assert_eq!(mine["data"].as_array().unwrap().len(), 2);
    }
);

story!(activities_outside_the_scope_are_invisible, |app| {
    let t = team(&app).await;
    let acc = account(&app, &t.rep_a, "Acme Trading").await;
    let (s, call) = app
        .post(
            &t.rep_a,
            "/api/v1/activities",
            json!({"kind": "call", "subject": "Pricing call", "related_type": "account",
                   "related_id": acc, "direction": "outbound", "duration_minutes": 12}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{call}");
    let call_id = call["id"].as_str().unwrap();

    // Rep B: the activity, the timeline and the list show nothing; writes are refused.
    let path = format!("/api/v1/activities/{call_id}");
    assert_eq!(app.get(&t.rep_b, &path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.patch(&t.rep_b, &path, json!({"subject": "mine"}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.delete(&t.rep_b, &path).await.0, StatusCode::NOT_FOUND);
    let (s, _) = app
        .get(&t.rep_b, &format!("/api/v1/accounts/{acc}/timeline"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = app.get(&t.rep_b, "/api/v1/activities").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    // Logging on a record rep B cannot see: the record is "not found", nothing is written.
    let (s, err) = app
        .post(
            &t.rep_b,
            "/api/v1/activities",
            json!({"kind": "note", "subject": "x", "related_type": "account", "related_id": acc}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["errors"][0]["field"], "related_id");
    let (_, all) = app.get(&t.admin, "/api/v1/activities").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 1);

    // The manager sees it and may change it (may update the account).
    assert_eq!(app.get(&t.manager, &path).await.0, StatusCode::OK);
    let (s, _) = app
        .patch(&t.manager, &path, json!({"outcome": "agreed"}))
        .await;
    assert_eq!(s, StatusCode::OK);

    // A contact of rep B's on rep A's account: its call never shows on rep A's timeline,
    // not even as an entry count, but the manager's timeline has it.
    let (s, contact) = app
        .post(
            &t.admin,
            "/api/v1/contacts",
            json!({"family_name": "王", "given_name": "芳", "owner_id": t.rep_b_id,
                   "accounts": [{"account_id": acc}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{contact}");
    let cid = contact["id"].as_str().unwrap();
    let (s, secret) = app
        .post(
            &t.rep_b,
            "/api/v1/activities",
            json!({"kind": "note", "subject": "私下沟通", "related_type": "contact", "related_id": cid}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{secret}");
    let (_, tl_a) = app
        .get(&t.rep_a, &format!("/api/v1/accounts/{acc}/timeline"))
        .await;
    let text = tl_a.to_string();
    assert!(!text.contains("私下沟通"), "{text}");
    assert!(
        !text.contains(cid),
        "the contact itself is not shown to rep A"
    );
    let (_, tl_m) = app
        .get(&t.manager, &format!("/api/v1/accounts/{acc}/timeline"))
        .await;
    assert!(tl_m.to_string().contains("私下沟通"));
    assert!(tl_m.to_string().contains("contact.added"));
    assert!(
        tl_m["data"].as_array().unwrap().len() > tl_a["data"].as_array().unwrap().len(),
        "rep A's timeline is shorter: nothing of rep B's contact is counted"
    );
});

story!(bad_activity_input_is_named_and_changes_nothing, |app| {
    let t = team(&app).await;
    let acc = account(&app, &t.rep_a, "Bad Input Ltd").await;
    let cases = [
        (
            json!({"subject": "x", "related_type": "account", "related_id": acc}),
            "kind",
        ),
        (
            json!({"kind": "dance", "subject": "x", "related_type": "account", "related_id": acc}),
            "kind",
        ),
        (
            json!({"kind": "note", "related_type": "account", "related_id": acc}),
            "subject",
        ),
        (
            json!({"kind": "meeting", "subject": "x", "related_type": "account", "related_id": acc}),
            "start_at",
        ),
        (
            json!({"kind": "meeting", "subject": "x", "related_type": "account", "related_id": acc,
                "start_at": at(100), "end_at": at(50)}),
            "end_at",
        ),
        (
            json!({"kind": "call", "subject": "x", "related_type": "account", "related_id": acc,
                "duration_minutes": -3}),
            "duration_minutes",
        ),
        (
            json!({"kind": "task", "subject": "x", "related_type": "account", "related_id": acc,
                "due_at": "next tuesday"}),
            "due_at",
        ),
        (
            json!({"kind": "task", "subject": "x", "related_type": "account", "related_id": acc,
                "assignee_id": "nobody"}),
            "assignee_id",
        ),
        (
            json!({"kind": "note", "subject": "x", "related_type": "planet", "related_id": acc}),
            "related_type",
        ),
        (
            json!({"kind": "note", "subject": "x", "related_type": "account", "related_id": acc,
                "mood": "happy"}),
            "mood",
        ),
        (
            json!({"kind": "note", "subject": 5, "related_type": "account", "related_id": acc}),
            "subject",
        ),
    ];
    for (body, field) in cases {
        let (s, err) = app.post(&t.rep_a, "/api/v1/activities", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {err}");
        assert_eq!(err["code"], "validation_failed");
        let fields: Vec<&str> = err["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body} -> {err}");
    }
    let (_, all) = app.get(&t.admin, "/api/v1/activities").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 0);
    let (s, _) = app.get(&t.rep_a, "/api/v1/activities?status=maybe").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // The kind cannot change on update.
    let (_, note) = app
        .post(
            &t.rep_a,
            "/api/v1/activities",
            json!({"kind": "note", "subject": "ok", "related_type": "account", "related_id": acc}),
        )
        .await;
    let (s, err) = app
        .patch(
            &t.rep_a,
            &format!("/api/v1/activities/{}", note["id"].as_str().unwrap()),
            json!({"kind": "task"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
});

story!(
    assignments_and_mentions_notify_only_those_who_may_see,
    |app| {
        let t = team(&app).await;
        let acc = account(&app, &t.rep_a, "Mention Co").await;
        // A task for rep B on rep A's account: rep B is told and may see and complete the task.
        let (s, task) = app
            .post(
                &t.rep_a,
                "/api/v1/activities",
                json!({"kind": "task", "subject": "Call back the buyer", "related_type": "account",
                   "related_id": acc, "assignee_id": t.rep_b_id, "due_at": at(3600)}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{task}");
        let (_, n) = app.get(&t.rep_b, "/api/v1/notifications").await;
        assert_eq!(n["unread"], 1, "{n}");
        assert_eq!(n["data"][0]["kind"], "task_assigned");
        assert_eq!(n["data"][0]["subject"], "Call back the buyer");
        let tid = task["id"].as_str().unwrap();
        let (s, seen) = app
            .get(&t.rep_b, &format!("/api/v1/activities/{tid}"))
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            seen["related_label"],
            Value::Null,
            "the account stays hidden"
        );
        let (s, _) = app
            .patch(
                &t.rep_b,
                &format!("/api/v1/activities/{tid}"),
                json!({"status": "done"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);

        // A note mentioning the manager (who may read the account) and rep B (who may not).
        let (s, _) = app
        .post(
            &t.rep_a,
            "/api/v1/activities",
            json!({"kind": "note", "subject": "Budget", "related_type": "account", "related_id": acc,
                   "body": "@manager 请审批预算, cc @rep.b"}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        let (_, m) = app.get(&t.manager, "/api/v1/notifications").await;
        assert_eq!(m["unread"], 1, "{m}");
        assert_eq!(m["data"][0]["kind"], "mention");
        assert_eq!(m["data"][0]["actor_id"], json!(t.rep_a_id));
        let (_, b) = app.get(&t.rep_b, "/api/v1/notifications").await;
        assert_eq!(b["unread"], 1, "only the assignment: {b}");

        // Notifications are private: someone else's is not found; mark read works for the owner.
        let nid = m["data"][0]["id"].as_str().unwrap();
        let (s, _) = app
            .post(
                &t.rep_b,
                &format!("/api/v1/notifications/{nid}/read"),
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = app
            .post(
                &t.manager,
                &format!("/api/v1/notifications/{nid}/read"),
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (_, m) = app
            .get(&t.manager, "/api/v1/notifications?unread=true")
            .await;
        assert_eq!(m["unread"], 0);
        assert_eq!(m["data"].as_array().unwrap().len(), 0);
        let _ = t.manager_id;
    }
);

story!(a_reminder_arrives_once_and_can_be_marked_read, |app| {
    let t = team(&app).await;
    let acc = account(&app, &t.rep_a, "Reminder Co").await;
    let (s, task) = app
        .post(
            &t.rep_a,
            "/api/v1/activities",
            json!({"kind": "task", "subject": "准备合同", "related_type": "account", "related_id": acc,
                   "due_at": at(600), "remind_at": at(1)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{task}");
    let id = task["id"].as_str().unwrap();
    let body = wait_notifications(&app, &t.rep_a, 20, |b| reminders_for(b, id) > 0).await;
    assert_eq!(reminders_for(&body, id), 1, "{body}");
    // A reminder rescheduled into the past runs again (a new time is a new reminder); a
    // cancelled task's pending reminder does nothing.
    let (_, cancelled) = app
        .post(
            &t.rep_a,
            "/api/v1/activities",
            json!({"kind": "task", "subject": "取消的任务", "related_type": "account", "related_id": acc,
                   "remind_at": at(2)}),
        )
        .await;
    let cid = cancelled["id"].as_str().unwrap();
    app.patch(
        &t.rep_a,
        &format!("/api/v1/activities/{cid}"),
        json!({"status": "cancelled"}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_, body) = app.get(&t.rep_a, "/api/v1/notifications").await;
    assert_eq!(reminders_for(&body, id), 1, "still exactly one: {body}");
    assert_eq!(reminders_for(&body, cid), 0, "{body}");
    let (s, r) = app
        .post(&t.rep_a, "/api/v1/notifications/read-all", json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["marked"], 1);
    let (_, body) = app.get(&t.rep_a, "/api/v1/notifications").await;
    assert_eq!(body["unread"], 0);
    // The job queue shows the finished reminder jobs to administrators only.
    let (s, jobs) = app.get(&t.admin, "/api/v1/jobs?status=done").await;
    assert_eq!(s, StatusCode::OK, "{jobs}");
    assert!(jobs["data"].as_array().unwrap().len() >= 2, "{jobs}");
    let (s, _) = app.get(&t.rep_a, "/api/v1/jobs").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
});

story!(
    a_reminder_due_while_the_server_was_down_arrives_once_after_restart,
    |app| {
        let mut app = app;
        let t = team(&app).await;
        let acc = account(&app, &t.rep_a, "Downtime Co").await;
        let (_, task) = app
            .post(
                &t.rep_a,
                "/api/v1/activities",
                json!({"kind": "task", "subject": "Restart reminder", "related_type": "account",
                   "related_id": acc, "remind_at": at(2)}),
            )
            .await;
        let id = task["id"].as_str().unwrap().to_string();
        app.stop();
        tokio::time::sleep(Duration::from_secs(3)).await;
        app.spawn();
        let rep = app.login("rep.a@example.com").await;
        let body = wait_notifications(&app, &rep, 20, |b| reminders_for(b, &id) > 0).await;
        assert_eq!(reminders_for(&body, &id), 1, "{body}");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (_, body) = app.get(&rep, "/api/v1/notifications").await;
        assert_eq!(reminders_for(&body, &id), 1, "{body}");
    }
);

story!(failed_jobs_are_retried_with_backoff_and_by_hand, |app| {
    let t = team(&app).await;
    // A job no handler knows fails; with one attempt allowed it ends as failed at once.
    // (Times are copied from the housekeeping job the worker scheduled at start-up, so they
    // are stored exactly as the server stores them.)
    app.sql(
        "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at) \
         SELECT 'job-1', 'no.such.kind', '{}', 'pending', 0, 1, created_at, created_at, created_at \
         FROM jobs WHERE kind = 'jobs.purge'",
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let failed = loop {
        let (_, jobs) = app.get(&t.admin, "/api/v1/jobs?status=failed").await;
        if !jobs["data"].as_array().unwrap().is_empty() || std::time::Instant::now() > deadline {
            break jobs;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(failed["data"][0]["id"], "job-1", "{failed}");
    assert!(failed["data"][0]["last_error"]
        .as_str()
        .unwrap()
        .contains("no handler"));
    assert_eq!(failed["counts"]["failed"], 1);
    // Rep cannot retry; admin can, and it is audited.
    let (s, _) = app
        .post(&t.rep_a, "/api/v1/jobs/job-1/retry", json!({}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, job) = app
        .post(&t.admin, "/api/v1/jobs/job-1/retry", json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{job}");
    assert_eq!(job["status"], "pending");
    assert_eq!(job["attempts"], 0);
    let (s, _) = app
        .post(&t.admin, "/api/v1/jobs/nope/retry", json!({}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, audit) = app.get(&t.admin, "/api/v1/audit?action=job.retried").await;
    assert_eq!(audit["data"].as_array().unwrap().len(), 1);
    let _ = (t.rep_b, t.rep_a_id, t.manager);
});

/// Two server processes on one PostgreSQL database: every reminder is delivered exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_postgres_deliver_each_reminder_once() {
    let Some(app) = App::start_with(Backend::Postgres, &[("RAPPORT_JOB_POLL_MS", "20")]).await
    else {
        eprintln!("RAPPORT_TEST_DATABASE_URL not set: PostgreSQL run skipped");
        return;
    };
    let second = app.spawn_another();
    let t = team(&app).await;
    let acc = account(&app, &t.rep_a, "Two Servers Co").await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let (s, task) = app
            .post(
                &t.rep_a,
                "/api/v1/activities",
                json!({"kind": "task", "subject": format!("任务 {i}"), "related_type": "account",
                       "related_id": acc, "remind_at": at(2)}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{task}");
        ids.push(task["id"].as_str().unwrap().to_string());
    }
    let body = wait_notifications(&app, &t.rep_a, 30, |b| {
        ids.iter().all(|id| reminders_for(b, id) > 0)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, body2) = app.get(&t.rep_a, "/api/v1/notifications?limit=200").await;
    for id in &ids {
        assert_eq!(reminders_for(&body2, id), 1, "{body}");
    }
    // Each reminder job ran once: claimed by one process, one attempt, done.
    let rows = app
        .sql_rows("SELECT status, attempts FROM jobs WHERE kind = 'activity.remind'")
        .await;
    assert_eq!(rows.len(), ids.len());
    for r in &rows {
        assert_eq!(r.try_get::<String>("", "status").unwrap(), "done");
        assert_eq!(r.try_get::<i32>("", "attempts").unwrap(), 1);
    }
    drop(second);
}

story!(a_job_interrupted_mid_run_runs_again_exactly_once, |app| {
    let mut app = app;
    let t = team(&app).await;
    let acc = account(&app, &t.rep_a, "Crash Co").await;
    let (_, task) = app
        .post(
            &t.rep_a,
            "/api/v1/activities",
            json!({"kind": "task", "subject": "Interrupted reminder", "related_type": "account",
                   "related_id": acc, "remind_at": at(3600)}),
        )
        .await;
    let id = task["id"].as_str().unwrap().to_string();
    app.stop();
    // As if a process had claimed the reminder and was killed with -9 while running it: the
    // job is left `running` under a dead worker's lease, its work never committed. On
    // PostgreSQL the lease has run out; on SQLite it has not, and start-up releases it.
    let lease = match app.backend {
        Backend::Sqlite => "run_at",
        Backend::Postgres => "created_at",
    };
    app.sql(&format!(
        "UPDATE jobs SET status = 'running', locked_by = 'killed-worker', attempts = 1, \
         locked_until = {lease}, run_at = created_at WHERE kind = 'activity.remind'"
    ))
    .await;
    app.spawn();
    let rep = app.login("rep.a@example.com").await;
    let body = wait_notifications(&app, &rep, 20, |b| reminders_for(b, &id) > 0).await;
    assert_eq!(reminders_for(&body, &id), 1, "{body}");
    let rows = app
        .sql_rows("SELECT status, attempts FROM jobs WHERE kind = 'activity.remind'")
        .await;
    assert_eq!(rows[0].try_get::<String>("", "status").unwrap(), "done");
    assert_eq!(rows[0].try_get::<i32>("", "attempts").unwrap(), 2);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, body) = app.get(&rep, "/api/v1/notifications").await;
    assert_eq!(reminders_for(&body, &id), 1, "{body}");
});

story!(a_reminder_minutes_before_the_due_time, |app| {
    let t = team(&app).await;
    let acc = account(&app, &t.rep_a, "Before Co").await;
    let (s, task) = app
        .post(
            &t.rep_a,
            "/api/v1/activities",
            json!({"kind": "task", "subject": "提前提醒", "related_type": "account", "related_id": acc,
                   "due_at": at(15 * 60 + 1), "remind_before_minutes": 15}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{task}");
    let due = chrono::DateTime::parse_from_rfc3339(task["due_at"].as_str().unwrap()).unwrap();
    let remind = chrono::DateTime::parse_from_rfc3339(task["remind_at"].as_str().unwrap()).unwrap();
    assert_eq!(due - remind, chrono::Duration::minutes(15));
    let id = task["id"].as_str().unwrap();
    let body = wait_notifications(&app, &t.rep_a, 20, |b| reminders_for(b, id) > 0).await;
    assert_eq!(reminders_for(&body, id), 1, "{body}");
    // Without a due time there is nothing to count back from; the follow-up's error is prefixed.
    let (s, err) = app
        .post(
            &t.rep_a,
            "/api/v1/activities",
            json!({"kind": "call", "subject": "c", "related_type": "account", "related_id": acc,
                   "follow_up": {"subject": "next", "remind_before_minutes": 30}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["errors"][0]["field"], "follow_up.remind_before_minutes");
    assert_eq!(err["errors"][0]["code"], "needs_time");
    let _ = (t.rep_b, t.manager, t.admin);
});
