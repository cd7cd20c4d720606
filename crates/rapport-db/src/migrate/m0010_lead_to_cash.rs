//! Migration 10: leads, opportunities, sales pipelines with their stages, and the stage history
//! of every opportunity. Seeds the default pipeline, the new picklists, and the built-in roles'
//! rights on the new record types.

use super::{a, bigint, fk, id_pk, id_ref, index, text, text_nn, ts, ts_nn, DataStep, Step};
use sea_orm::sea_query::{ColumnDef, ForeignKeyAction, Table, TableCreateStatement};

pub(super) fn common_tail(t: &mut TableCreateStatement) {
    id_ref(t, "owner_id");
    id_ref(t, "department_id");
    text(t, "tags");
    text(t, "description");
    ts(t, "last_activity_at");
    ts(t, "next_activity_at");
    text(t, "custom");
    text(t, "custom_enc");
    id_ref(t, "created_by");
    ts_nn(t, "created_at");
    ts_nn(t, "updated_at");
    fk(t, "owner_id", "users", ForeignKeyAction::Restrict);
}

pub(super) fn norm(t: &mut TableCreateStatement, name: &str, len: u32) {
    t.col(ColumnDef::new(a(name)).string_len(len).null());
}

pub(super) fn steps() -> Vec<Step> {
    let mut steps = Vec::new();

    let mut t = Table::create();
    t.table(a("pipelines"));
    id_pk(&mut t);
    text_nn(&mut t, "name_en");
    text_nn(&mut t, "name_zh");
    t.col(
        ColumnDef::new(a("position"))
            .integer()
            .not_null()
            .default(0),
    );
    t.col(
        ColumnDef::new(a("is_default"))
            .boolean()
            .not_null()
            .default(false),
    );
    t.col(
        ColumnDef::new(a("active"))
            .boolean()
            .not_null()
            .default(true),
    );
    // Cards untouched in their stage for longer than this stand out on the board.
    t.col(
        ColumnDef::new(a("stale_days"))
            .integer()
            .not_null()
            .default(14),
    );
    ts_nn(&mut t, "created_at");
    ts_nn(&mut t, "updated_at");
    steps.push(Step::Table(t.to_owned()));

    let mut t = Table::create();
    t.table(a("pipeline_stages"));
    id_pk(&mut t);
    t.col(ColumnDef::new(a("pipeline_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("key")).string_len(64).not_null());
    text_nn(&mut t, "name_en");
    text_nn(&mut t, "name_zh");
    t.col(ColumnDef::new(a("position")).integer().not_null());
    t.col(ColumnDef::new(a("probability")).integer().not_null());
    // open, won or lost
    t.col(ColumnDef::new(a("kind")).string_len(8).not_null());
    fk(
        &mut t,
        "pipeline_id",
        "pipelines",
        ForeignKeyAction::Cascade,
    );
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "pipeline_stages_key",
        "pipeline_stages",
        &["pipeline_id", "key"],
        true,
    )));

    let mut t = Table::create();
    t.table(a("leads"));
    id_pk(&mut t);
    text(&mut t, "company");
    text_nn(&mut t, "family_name");
    text(&mut t, "given_name");
    text(&mut t, "title");
    text(&mut t, "mobile_enc");
    norm(&mut t, "mobile_bidx", 64);
    text(&mut t, "email_enc");
    norm(&mut t, "email_bidx", 64);
    text(&mut t, "wechat_enc");
    text(&mut t, "industry");
    text(&mut t, "province");
    text(&mut t, "city");
    text(&mut t, "source");
    text(&mut t, "campaign");
    t.col(ColumnDef::new(a("status")).string_len(64).null());
    text(&mut t, "disqualify_reason");
    bigint(&mut t, "score");
    ts(&mut t, "converted_at");
    id_ref(&mut t, "converted_account_id");
    id_ref(&mut t, "converted_contact_id");
    id_ref(&mut t, "converted_opportunity_id");
    norm(&mut t, "name_norm", 130);
    norm(&mut t, "family_norm", 60);
    norm(&mut t, "company_norm", 200);
    common_tail(&mut t);
    steps.push(Step::Table(t.to_owned()));
    for (name, cols) in [
        ("leads_owner", &["owner_id", "id"][..]),
        ("leads_name_norm", &["name_norm"]),
        ("leads_family_norm", &["family_norm"]),
        ("leads_company_norm", &["company_norm"]),
        ("leads_mobile", &["mobile_bidx"]),
        ("leads_email", &["email_bidx"]),
        ("leads_status", &["status", "id"]),
        ("leads_updated", &["updated_at", "id"]),
    ] {
        steps.push(Step::Index(index(name, "leads", cols, false)));
    }

    let mut t = Table::create();
    t.table(a("opportunities"));
    id_pk(&mut t);
    text_nn(&mut t, "name");
    norm(&mut t, "name_norm", 200);
    t.col(ColumnDef::new(a("account_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("pipeline_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("stage")).string_len(64).not_null());
    bigint(&mut t, "probability");
    bigint(&mut t, "amount");
    t.col(ColumnDef::new(a("currency")).string_len(3).null());
    t.col(
        ColumnDef::new(a("expected_close_date"))
            .string_len(10)
            .null(),
    );
    text(&mut t, "next_step");
    text(&mut t, "competitors");
    text(&mut t, "contacts");
    text(&mut t, "source");
    text(&mut t, "campaign");
    text(&mut t, "lost_reason");
    t.col(ColumnDef::new(a("status")).string_len(8).not_null());
    ts(&mut t, "stage_entered_at");
    ts(&mut t, "closed_at");
    id_ref(&mut t, "lead_id");
    common_tail(&mut t);
    fk(&mut t, "account_id", "accounts", ForeignKeyAction::Restrict);
    fk(
        &mut t,
        "pipeline_id",
        "pipelines",
        ForeignKeyAction::Restrict,
    );
    steps.push(Step::Table(t.to_owned()));
    for (name, cols) in [
        ("opportunities_owner", &["owner_id", "id"][..]),
        ("opportunities_account", &["account_id"]),
        ("opportunities_name_norm", &["name_norm"]),
        (
            "opportunities_board",
            &["pipeline_id", "stage", "amount", "id"],
        ),
        ("opportunities_status", &["status", "expected_close_date"]),
        ("opportunities_updated", &["updated_at", "id"]),
    ] {
        steps.push(Step::Index(index(name, "opportunities", cols, false)));
    }

    let mut t = Table::create();
    t.table(a("opportunity_stages"));
    id_pk(&mut t);
    t.col(
        ColumnDef::new(a("opportunity_id"))
            .string_len(36)
            .not_null(),
    );
    t.col(ColumnDef::new(a("pipeline_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("stage")).string_len(64).not_null());
    ts_nn(&mut t, "entered_at");
    ts(&mut t, "left_at");
    id_ref(&mut t, "entered_by");
    fk(
        &mut t,
        "opportunity_id",
        "opportunities",
        ForeignKeyAction::Cascade,
    );
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "opportunity_stages_opp",
        "opportunity_stages",
        &["opportunity_id", "entered_at"],
        false,
    )));

    steps.push(Step::Data(DataStep::Picklists));
    steps.push(Step::Data(DataStep::RoleGrants(&["lead", "opportunity"])));
    steps.push(Step::Data(DataStep::DefaultPipeline));
    steps
}
