//! Migration 12: the public pool (accounts' protection and pool dates, the claim and release
//! log) and sales targets.

use super::{a, bigint, id_pk, id_ref, index, text, text_nn, ts, ts_nn, DataStep, Step};
use sea_orm::sea_query::{ColumnDef, Table};

fn add(table: &str, col: &mut ColumnDef) -> Step {
    Step::Alter(Table::alter().table(a(table)).add_column(col).to_owned())
}

pub(super) fn steps() -> Vec<Step> {
    let mut steps = vec![
        add("accounts", ColumnDef::new(a("protected")).boolean().null()),
        add(
            "accounts",
            ColumnDef::new(a("claimed_at"))
                .timestamp_with_time_zone()
                .null(),
        ),
        add(
            "accounts",
            ColumnDef::new(a("pool_entered_at"))
                .timestamp_with_time_zone()
                .null(),
        ),
    ];
    // Accounts without an owner are the pool; this index lists them newest first.
    steps.push(Step::Index(index(
        "accounts_pool",
        "accounts",
        &["owner_id", "pool_entered_at"],
        false,
    )));

    // Every claim, release and automatic return (daily claim limits count these).
    let mut t = Table::create();
    t.table(a("pool_events"));
    id_pk(&mut t);
    t.col(ColumnDef::new(a("account_id")).string_len(36).not_null());
    id_ref(&mut t, "user_id");
    t.col(ColumnDef::new(a("action")).string_len(16).not_null());
    text(&mut t, "reason");
    text(&mut t, "note");
    ts_nn(&mut t, "at");
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "pool_events_user",
        "pool_events",
        &["user_id", "action", "at"],
        false,
    )));
    steps.push(Step::Index(index(
        "pool_events_account",
        "pool_events",
        &["account_id", "at"],
        false,
    )));

    // A target per user or department, period (2026, 2026-Q1, 2026-03) and measure.
    let mut t = Table::create();
    t.table(a("sales_targets"));
    id_pk(&mut t);
    t.col(ColumnDef::new(a("subject_type")).string_len(16).not_null());
    t.col(ColumnDef::new(a("subject_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("period")).string_len(8).not_null());
    t.col(ColumnDef::new(a("metric")).string_len(16).not_null());
    bigint(&mut t, "amount");
    t.col(ColumnDef::new(a("currency")).string_len(3).not_null());
    text_nn(&mut t, "updated_by");
    ts(&mut t, "updated_at");
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "sales_targets_key",
        "sales_targets",
        &["subject_type", "subject_id", "period", "metric"],
        true,
    )));
    steps.push(Step::Data(DataStep::Picklists));
    steps
}
