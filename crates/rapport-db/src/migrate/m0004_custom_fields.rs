use super::*;

pub(super) fn steps() -> Vec<Step> {
    let mut t = Table::create();
    t.table(a("custom_fields"));
    id_pk(&mut t);
    t.col(ColumnDef::new(a("object_type")).string_len(32).not_null());
    t.col(ColumnDef::new(a("key")).string_len(64).not_null());
    text_nn(&mut t, "definition");
    t.col(
        ColumnDef::new(a("position"))
            .integer()
            .not_null()
            .default(0),
    );
    ts_nn(&mut t, "created_at");
    ts_nn(&mut t, "updated_at");
    vec![
        Step::Table(t.to_owned()),
        Step::Index(index(
            "custom_fields_key",
            "custom_fields",
            &["object_type", "key"],
            true,
        )),
        add_column(
            "accounts",
            ColumnDef::new(a("custom_enc")).text().null().to_owned(),
        ),
        add_column(
            "contacts",
            ColumnDef::new(a("custom_enc")).text().null().to_owned(),
        ),
    ]
}
