//! Migration 27: the locks of duplicate-rule keys as rows with a version. A write holding a
//! key a strict rule refuses takes its bucket's row (one of 128 a rule, `dialect::claim_keys`)
//! until it commits, as the advisory locks did on PostgreSQL, and counts the bucket's version
//! up. An import that checked a batch outside its transaction compares the versions it read
//! then with those it finds when it claims the buckets: only keys in buckets someone else
//! wrote since are looked up again (ADR 0033).

use super::{a, Step};
use sea_orm::sea_query::{ColumnDef, Table};

pub(super) fn steps() -> Vec<Step> {
    let mut t = Table::create();
    t.table(a("key_locks"));
    t.col(
        ColumnDef::new(a("name"))
            .string_len(200)
            .not_null()
            .primary_key(),
    );
    t.col(ColumnDef::new(a("version")).big_integer().not_null());
    vec![Step::Table(t.to_owned())]
}
