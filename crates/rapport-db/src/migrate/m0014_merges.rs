//! Migration 14: merges of duplicate records. A merge keeps what it changed (the survivor's
//! columns before and after, the references it moved, the merged records' rows) so it can be
//! undone; `merged_records` maps each merged-away id to the record it went into, for history
//! and for old links.

use super::{a, id_pk, id_ref, index, text_nn, ts, ts_nn, Step};
use sea_orm::sea_query::{ColumnDef, Table};

pub(super) fn steps() -> Vec<Step> {
    let mut steps = Vec::new();
    let mut t = Table::create();
    t.table(a("merges"));
    id_pk(&mut t);
    t.col(ColumnDef::new(a("object_type")).string_len(32).not_null());
    t.col(ColumnDef::new(a("survivor_id")).string_len(36).not_null());
    text_nn(&mut t, "merged_ids");
    t.col(ColumnDef::new(a("actor_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("status")).string_len(16).not_null());
    text_nn(&mut t, "fields");
    text_nn(&mut t, "undo");
    ts_nn(&mut t, "created_at");
    ts(&mut t, "undone_at");
    id_ref(&mut t, "undone_by");
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "merges_object",
        "merges",
        &["object_type", "created_at"],
        false,
    )));
    steps.push(Step::Index(index(
        "merges_survivor",
        "merges",
        &["survivor_id"],
        false,
    )));

    let mut t = Table::create();
    t.table(a("merged_records"));
    t.col(
        ColumnDef::new(a("merged_id"))
            .string_len(36)
            .not_null()
            .primary_key(),
    );
    t.col(ColumnDef::new(a("survivor_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("merge_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("object_type")).string_len(32).not_null());
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "merged_records_survivor",
        "merged_records",
        &["survivor_id"],
        false,
    )));
    steps
}
