use super::*;

/// Indexed prefix search on contacts' family names and accounts' short names, and an index for
/// sorting accounts by name (found by `make bench`, see docs/adr/0005).
pub(super) fn steps() -> Vec<Step> {
    vec![
        add_column(
            "contacts",
            ColumnDef::new(a("family_norm"))
                .string_len(60)
                .null()
                .to_owned(),
        ),
        Step::Sql("UPDATE contacts SET family_norm = lower(family_name)"),
        Step::Index(index(
            "contacts_family_norm",
            "contacts",
            &["family_norm"],
            false,
        )),
        add_column(
            "accounts",
            ColumnDef::new(a("short_norm"))
                .string_len(60)
                .null()
                .to_owned(),
        ),
        Step::Sql(
            "UPDATE accounts SET short_norm = lower(short_name) WHERE short_name IS NOT NULL",
        ),
        Step::Index(index(
            "accounts_short_norm",
            "accounts",
            &["short_norm"],
            false,
        )),
        Step::Index(index("accounts_name", "accounts", &["name", "id"], false)),
    ]
}
