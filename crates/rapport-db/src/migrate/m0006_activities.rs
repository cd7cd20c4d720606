//! Migration 6: activities, the durable job queue, in-app notifications, and the "next
//! activity" column on accounts and contacts.

use super::{a, add_column, id_pk, id_ref, index, text, text_nn, ts, ts_nn, Step};
use sea_orm::sea_query::{ColumnDef, Table};

pub(super) fn steps() -> Vec<Step> {
    let mut steps = Vec::new();

    let mut t = Table::create();
    t.table(a("activities"));
    id_pk(&mut t);
    t.col(ColumnDef::new(a("kind")).string_len(16).not_null());
    text_nn(&mut t, "subject");
    text(&mut t, "body");
    text(&mut t, "channel");
    t.col(ColumnDef::new(a("related_type")).string_len(32).not_null());
    t.col(ColumnDef::new(a("related_id")).string_len(36).not_null());
    id_ref(&mut t, "owner_id");
    id_ref(&mut t, "assignee_id");
    t.col(ColumnDef::new(a("status")).string_len(16).not_null());
    text(&mut t, "priority");
    ts(&mut t, "due_at");
    ts(&mut t, "start_at");
    ts(&mut t, "end_at");
    // When it happened or is planned: what timelines sort by.
    ts_nn(&mut t, "at");
    ts(&mut t, "remind_at");
    text(&mut t, "direction");
    t.col(ColumnDef::new(a("duration_minutes")).integer().null());
    text(&mut t, "outcome");
    text(&mut t, "place");
    text(&mut t, "attendees");
    id_ref(&mut t, "follow_up_of");
    ts(&mut t, "completed_at");
    ts_nn(&mut t, "created_at");
    ts_nn(&mut t, "updated_at");
    id_ref(&mut t, "created_by");
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "activities_related",
        "activities",
        &["related_type", "related_id", "at"],
        false,
    )));
    steps.push(Step::Index(index(
        "activities_assignee",
        "activities",
        &["assignee_id", "status", "at"],
        false,
    )));
    steps.push(Step::Index(index(
        "activities_owner",
        "activities",
        &["owner_id", "at"],
        false,
    )));

    let mut t = Table::create();
    t.table(a("jobs"));
    id_pk(&mut t);
    t.col(ColumnDef::new(a("kind")).string_len(64).not_null());
    text_nn(&mut t, "payload");
    t.col(ColumnDef::new(a("status")).string_len(16).not_null());
    t.col(
        ColumnDef::new(a("attempts"))
            .integer()
            .not_null()
            .default(0),
    );
    t.col(
        ColumnDef::new(a("max_attempts"))
            .integer()
            .not_null()
            .default(5),
    );
    ts_nn(&mut t, "run_at");
    text(&mut t, "locked_by");
    ts(&mut t, "locked_until");
    text(&mut t, "last_error");
    t.col(ColumnDef::new(a("dedupe_key")).string_len(200).null());
    ts_nn(&mut t, "created_at");
    ts_nn(&mut t, "updated_at");
    ts(&mut t, "finished_at");
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "jobs_due",
        "jobs",
        &["status", "run_at"],
        false,
    )));
    steps.push(Step::Index(index(
        "jobs_dedupe",
        "jobs",
        &["dedupe_key"],
        true,
    )));

    let mut t = Table::create();
    t.table(a("notifications"));
    id_pk(&mut t);
    t.col(ColumnDef::new(a("user_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("kind")).string_len(32).not_null());
    text_nn(&mut t, "subject");
    text(&mut t, "object_type");
    id_ref(&mut t, "object_id");
    id_ref(&mut t, "actor_id");
    text_nn(&mut t, "payload");
    t.col(ColumnDef::new(a("dedupe_key")).string_len(200).null());
    ts_nn(&mut t, "created_at");
    ts(&mut t, "read_at");
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "notifications_user",
        "notifications",
        &["user_id", "created_at"],
        false,
    )));
    steps.push(Step::Index(index(
        "notifications_dedupe",
        "notifications",
        &["dedupe_key"],
        true,
    )));

    for table in ["accounts", "contacts"] {
        steps.push(add_column(
            table,
            ColumnDef::new(a("next_activity_at"))
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ));
    }
    steps
}
