use super::*;

pub(super) fn steps() -> Vec<Step> {
    let mut t = Table::create();
    t.table(a("saved_views"));
    id_pk(&mut t);
    t.col(ColumnDef::new(a("object_type")).string_len(32).not_null());
    text_nn(&mut t, "name");
    t.col(ColumnDef::new(a("owner_id")).string_len(36).not_null());
    id_ref(&mut t, "shared_department_id");
    text_nn(&mut t, "query");
    ts_nn(&mut t, "created_at");
    fk(&mut t, "owner_id", "users", ForeignKeyAction::Cascade);
    vec![
        Step::Table(t.to_owned()),
        Step::Index(index(
            "saved_views_owner",
            "saved_views",
            &["object_type", "owner_id"],
            false,
        )),
    ]
}
