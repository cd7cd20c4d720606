//! Migration 13: imports. An uploaded file's rows are kept until the import finishes, so an
//! import interrupted by a crash resumes from its checkpoint; failed rows and the records an
//! import created or updated are kept with it (error file, undo).

use super::{a, bigint, id_pk, index, text, text_nn, ts, ts_nn, Step};
use sea_orm::sea_query::{ColumnDef, ForeignKeyAction, Table};

pub(super) fn steps() -> Vec<Step> {
    let mut steps = Vec::new();
    let mut t = Table::create();
    t.table(a("imports"));
    id_pk(&mut t);
    t.col(ColumnDef::new(a("user_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("object")).string_len(32).not_null());
    text_nn(&mut t, "file_name");
    t.col(ColumnDef::new(a("status")).string_len(16).not_null());
    t.col(ColumnDef::new(a("encoding")).string_len(16).not_null());
    t.col(
        ColumnDef::new(a("header_row"))
            .big_integer()
            .not_null()
            .default(0),
    );
    text(&mut t, "mapping");
    t.col(
        ColumnDef::new(a("total_rows"))
            .big_integer()
            .not_null()
            .default(0),
    );
    // The last row (row_no) a run has finished with: the checkpoint.
    t.col(
        ColumnDef::new(a("processed"))
            .big_integer()
            .not_null()
            .default(0),
    );
    t.col(ColumnDef::new(a("dry")).boolean().not_null().default(false));
    for c in [
        "created_count",
        "updated_count",
        "skipped_count",
        "failed_count",
    ] {
        t.col(ColumnDef::new(a(c)).big_integer().not_null().default(0));
    }
    bigint(&mut t, "undone_count");
    text(&mut t, "error");
    ts_nn(&mut t, "created_at");
    ts_nn(&mut t, "updated_at");
    ts(&mut t, "finished_at");
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "imports_user",
        "imports",
        &["user_id", "created_at"],
        false,
    )));

    let fk = |t: &mut sea_orm::sea_query::TableCreateStatement| {
        t.foreign_key(
            sea_orm::sea_query::ForeignKey::create()
                .from_col(a("import_id"))
                .to_tbl(a("imports"))
                .to_col(a("id"))
                .on_delete(ForeignKeyAction::Cascade),
        );
    };
    let mut t = Table::create();
    t.table(a("import_rows"));
    t.col(ColumnDef::new(a("import_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("row_no")).big_integer().not_null());
    text_nn(&mut t, "cells");
    t.primary_key(
        sea_orm::sea_query::Index::create()
            .col(a("import_id"))
            .col(a("row_no")),
    );
    fk(&mut t);
    steps.push(Step::Table(t.to_owned()));

    let mut t = Table::create();
    t.table(a("import_errors"));
    t.col(ColumnDef::new(a("import_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("row_no")).big_integer().not_null());
    text_nn(&mut t, "reason");
    t.primary_key(
        sea_orm::sea_query::Index::create()
            .col(a("import_id"))
            .col(a("row_no")),
    );
    fk(&mut t);
    steps.push(Step::Table(t.to_owned()));

    let mut t = Table::create();
    t.table(a("import_records"));
    t.col(ColumnDef::new(a("import_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("record_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("action")).string_len(8).not_null());
    t.primary_key(
        sea_orm::sea_query::Index::create()
            .col(a("import_id"))
            .col(a("record_id")),
    );
    fk(&mut t);
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "import_records_record",
        "import_records",
        &["record_id"],
        false,
    )));
    steps
}
