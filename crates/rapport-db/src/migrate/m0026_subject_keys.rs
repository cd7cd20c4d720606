//! Migration 26: a key of its own for each person a record holds (contacts, leads), wrapped
//! with the field keys. The audit trail keeps what describes the person sealed with it; an
//! erasure deletes the key, so those values can no longer be read while the hash chain, which
//! covers the sealed text, still verifies (crypto-shredding).

use super::{a, text_nn, ts_nn, Step};
use sea_orm::sea_query::{ColumnDef, Index, Table};

pub(super) fn steps() -> Vec<Step> {
    let mut t = Table::create();
    t.table(a("subject_keys"));
    t.col(ColumnDef::new(a("object_type")).string_len(32).not_null());
    t.col(ColumnDef::new(a("object_id")).string_len(36).not_null());
    text_nn(&mut t, "key_enc");
    ts_nn(&mut t, "created_at");
    t.primary_key(Index::create().col(a("object_type")).col(a("object_id")));
    vec![Step::Table(t.to_owned())]
}
