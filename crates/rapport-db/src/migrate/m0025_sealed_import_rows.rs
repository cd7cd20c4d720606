//! Migration 25: an uploaded file's rows sealed at rest (`import_rows.cells_enc`, encrypted
//! with the field keys; `cells` is left empty for new rows, and rows stored before are sealed
//! by the server at start), and when an import's raw rows and failed rows were deleted
//! (`imports.raw_deleted_at`: after the retention period, or at once by an erasure).

use super::{a, add_column, Step};
use sea_orm::sea_query::ColumnDef;

pub(super) fn steps() -> Vec<Step> {
    vec![
        add_column(
            "import_rows",
            ColumnDef::new(a("cells_enc")).text().null().to_owned(),
        ),
        add_column(
            "imports",
            ColumnDef::new(a("raw_deleted_at"))
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ),
    ]
}
