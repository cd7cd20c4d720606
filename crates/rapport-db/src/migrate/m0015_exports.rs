//! Migration 15: exports that run in the background. The file is kept in the database in
//! encrypted chunks (customer data at rest is encrypted, and every server of a PostgreSQL
//! deployment can serve the download), until it expires.

use super::{a, bigint, id_pk, index, text, text_nn, ts, ts_nn, Step};
use sea_orm::sea_query::{ColumnDef, ForeignKeyAction, Table};

pub(super) fn steps() -> Vec<Step> {
    let mut steps = Vec::new();
    let mut t = Table::create();
    t.table(a("exports"));
    id_pk(&mut t);
    t.col(ColumnDef::new(a("user_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("object")).string_len(32).not_null());
    t.col(ColumnDef::new(a("format")).string_len(8).not_null());
    t.col(ColumnDef::new(a("status")).string_len(16).not_null());
    text_nn(&mut t, "spec");
    bigint(&mut t, "total_rows");
    t.col(
        ColumnDef::new(a("processed"))
            .big_integer()
            .not_null()
            .default(0),
    );
    t.col(
        ColumnDef::new(a("bytes"))
            .big_integer()
            .not_null()
            .default(0),
    );
    text(&mut t, "error");
    ts_nn(&mut t, "created_at");
    ts(&mut t, "finished_at");
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "exports_user",
        "exports",
        &["user_id", "created_at"],
        false,
    )));

    let mut t = Table::create();
    t.table(a("export_chunks"));
    t.col(ColumnDef::new(a("export_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("seq")).big_integer().not_null());
    text_nn(&mut t, "data_enc");
    t.primary_key(
        sea_orm::sea_query::Index::create()
            .col(a("export_id"))
            .col(a("seq")),
    );
    t.foreign_key(
        sea_orm::sea_query::ForeignKey::create()
            .from_col(a("export_id"))
            .to_tbl(a("exports"))
            .to_col(a("id"))
            .on_delete(ForeignKeyAction::Cascade),
    );
    steps.push(Step::Table(t.to_owned()));
    steps
}
