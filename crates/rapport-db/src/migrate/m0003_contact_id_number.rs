use super::*;

pub(super) fn steps() -> Vec<Step> {
    vec![
        add_column(
            "contacts",
            ColumnDef::new(a("id_number_enc")).text().null().to_owned(),
        ),
        add_column(
            "contacts",
            ColumnDef::new(a("id_number_bidx"))
                .string_len(64)
                .null()
                .to_owned(),
        ),
        Step::Index(index(
            "contacts_id_number",
            "contacts",
            &["id_number_bidx"],
            false,
        )),
    ]
}
