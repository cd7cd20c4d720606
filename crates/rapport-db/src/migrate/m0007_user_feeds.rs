//! Migration 7: a private calendar feed per user (looked up by the hash of its secret, the
//! secret itself kept encrypted so the user can see the address again) and the notifications a
//! user also wants by email.

use super::{a, add_column, index, Step};
use sea_orm::sea_query::ColumnDef;

pub(super) fn steps() -> Vec<Step> {
    vec![
        add_column(
            "users",
            ColumnDef::new(a("calendar_feed_hash"))
                .string_len(64)
                .null()
                .to_owned(),
        ),
        add_column(
            "users",
            ColumnDef::new(a("calendar_feed_enc"))
                .text()
                .null()
                .to_owned(),
        ),
        add_column(
            "users",
            ColumnDef::new(a("email_notifications"))
                .text()
                .null()
                .to_owned(),
        ),
        Step::Index(index(
            "users_calendar_feed",
            "users",
            &["calendar_feed_hash"],
            true,
        )),
    ]
}
