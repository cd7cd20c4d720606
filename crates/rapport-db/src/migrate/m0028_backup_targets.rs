//! Migration 28: the off-site backup target (one row, `default`): S3-compatible object
//! storage or an SFTP server, its secret (access key, private key) encrypted.

use super::{a, boolean, id_pk, text, text_nn, ts_nn, Step};
use sea_orm::sea_query::{ColumnDef, Table};

pub(super) fn steps() -> Vec<Step> {
    let mut t = Table::create();
    t.table(a("backup_targets"));
    id_pk(&mut t);
    t.col(ColumnDef::new(a("kind")).string_len(16).not_null());
    text_nn(&mut t, "endpoint");
    text_nn(&mut t, "region");
    text_nn(&mut t, "bucket");
    text(&mut t, "prefix");
    text_nn(&mut t, "access_key");
    text(&mut t, "secret_enc");
    boolean(&mut t, "path_style", true);
    // SFTP: the server's pinned host key.
    text(&mut t, "host_key");
    ts_nn(&mut t, "updated_at");
    vec![Step::Table(t.to_owned())]
}
