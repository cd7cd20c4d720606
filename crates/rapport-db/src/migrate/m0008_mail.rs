//! Migration 8: the outgoing mail server (one row, `default`), its password encrypted.

use super::{a, id_pk, text, ts_nn, Step};
use sea_orm::sea_query::{ColumnDef, Table};

pub(super) fn steps() -> Vec<Step> {
    let mut t = Table::create();
    t.table(a("smtp_servers"));
    id_pk(&mut t);
    t.col(ColumnDef::new(a("host")).text().not_null());
    t.col(ColumnDef::new(a("port")).integer().not_null());
    t.col(ColumnDef::new(a("security")).string_len(16).not_null());
    text(&mut t, "username");
    text(&mut t, "password_enc");
    t.col(ColumnDef::new(a("from_address")).text().not_null());
    text(&mut t, "from_name");
    ts_nn(&mut t, "updated_at");
    vec![Step::Table(t.to_owned())]
}
