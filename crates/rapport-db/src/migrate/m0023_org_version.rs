//! Migration 23: a version of the organisation (users' departments, managers and whether they
//! are active; the department tree), raised by every change to it. Servers keep the whole
//! organisation in memory to resolve scopes and read only this row to know it is current, also
//! when another process (the command line, a second server) changed it.

use super::{a, Step};
use sea_orm::sea_query::{ColumnDef, Table};

pub(super) fn steps() -> Vec<Step> {
    let mut t = Table::create();
    t.table(a("org_version"))
        .if_not_exists()
        .col(ColumnDef::new(a("id")).integer().not_null().primary_key())
        .col(ColumnDef::new(a("version")).big_integer().not_null());
    vec![
        Step::Table(t.to_owned()),
        Step::Sql("INSERT INTO org_version (id, version) VALUES (1, 0)"),
    ]
}
