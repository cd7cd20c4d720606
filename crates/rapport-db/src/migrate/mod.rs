//! Schema migrations: one list, one file each, written with sea-query so the same definitions
//! produce the SQLite and the PostgreSQL schema. Applied at start-up; each runs once, in
//! order. Rows a migration seeds (roles, picklists, the default pipeline) name business
//! objects this crate knows nothing of: the caller writes them ([`Seeds`]).

mod m0001_foundation;
mod m0002_saved_views;
mod m0003_contact_id_number;
mod m0004_custom_fields;
mod m0005_search_indexes;
mod m0006_activities;
mod m0007_user_feeds;
mod m0008_mail;
mod m0009_sort_indexes;
mod m0010_lead_to_cash;
mod m0011_sales_documents;
mod m0012_pool_targets;
mod m0013_imports;
mod m0014_merges;
mod m0015_exports;
mod m0016_token_lookup;
mod m0017_short_tokens;
mod m0018_clustered_keys;
mod m0019_search_covering;
mod m0020_audit_journal;
mod m0021_level_list_index;
mod m0022_token_generations;
mod m0023_org_version;
mod m0024_record_versions;
mod m0025_sealed_import_rows;
mod m0026_subject_keys;
mod m0027_key_locks;
mod m0028_backup_targets;
mod m0029_name_index;

use crate::error::db_err;
use crate::statements::{build, build_schema};
use crate::Db;
use rapport_core::DomainError;
use sea_orm::sea_query::{
    Alias, ColumnDef, ForeignKey, ForeignKeyAction, Index, Query, Table, TableCreateStatement,
};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

fn a(s: &str) -> Alias {
    Alias::new(s)
}

fn id_pk(t: &mut TableCreateStatement) {
    t.col(
        ColumnDef::new(a("id"))
            .string_len(36)
            .not_null()
            .primary_key(),
    );
}

fn text(t: &mut TableCreateStatement, name: &str) {
    t.col(ColumnDef::new(a(name)).text().null());
}

fn text_nn(t: &mut TableCreateStatement, name: &str) {
    t.col(ColumnDef::new(a(name)).text().not_null());
}

fn id_ref(t: &mut TableCreateStatement, name: &str) {
    t.col(ColumnDef::new(a(name)).string_len(36).null());
}

fn ts(t: &mut TableCreateStatement, name: &str) {
    t.col(ColumnDef::new(a(name)).timestamp_with_time_zone().null());
}

fn ts_nn(t: &mut TableCreateStatement, name: &str) {
    t.col(
        ColumnDef::new(a(name))
            .timestamp_with_time_zone()
            .not_null(),
    );
}

fn boolean(t: &mut TableCreateStatement, name: &str, default: bool) {
    t.col(
        ColumnDef::new(a(name))
            .boolean()
            .not_null()
            .default(default),
    );
}

fn bigint(t: &mut TableCreateStatement, name: &str) {
    t.col(ColumnDef::new(a(name)).big_integer().null());
}

fn fk(t: &mut TableCreateStatement, col: &str, table: &str, on_delete: ForeignKeyAction) {
    t.foreign_key(
        ForeignKey::create()
            .from_col(a(col))
            .to_tbl(a(table))
            .to_col(a("id"))
            .on_delete(on_delete),
    );
}

fn index(
    name: &str,
    table: &str,
    cols: &[&str],
    unique: bool,
) -> sea_orm::sea_query::IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(a(table));
    for c in cols {
        i.col(a(c));
    }
    if unique {
        i.unique();
    }
    i.if_not_exists();
    i.to_owned()
}

enum Step {
    Table(TableCreateStatement),
    Index(sea_orm::sea_query::IndexCreateStatement),
    /// One ALTER TABLE statement (SQLite takes one change per statement).
    Alter(sea_orm::sea_query::TableAlterStatement),
    /// Portable SQL (data backfills).
    Sql(&'static str),
    /// Portable SQL put together when the migration runs (the same statement for several
    /// tables).
    SqlText(String),
    /// PostgreSQL only (the dialect seam: index options SQLite does not have).
    PgSql(&'static str),
    /// SQLite only (table layouts PostgreSQL does not have, such as `WITHOUT ROWID`).
    SqliteSql(&'static str),
    /// Seed data written by code; each is idempotent (only fills in what is missing).
    Data(DataStep),
}

/// Rows a migration seeds, written by the caller's [`Seeds`]. Each is idempotent: it only
/// fills in what is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataStep {
    /// The first migration's rows: the built-in roles, the audit chain's head, picklists.
    Foundation,
    /// Picklists of the default lists that have no values yet.
    Picklists,
    /// The built-in roles' rights on the record types with these keys, added after the roles
    /// were created (a role an administrator has already given rights on the type is left
    /// alone).
    RoleGrants(&'static [&'static str]),
    /// The default sales pipeline, if there is no pipeline.
    DefaultPipeline,
    /// Built-in roles that do not exist yet (by key).
    MissingRoles,
}

fn add_column(table: &str, col: ColumnDef) -> Step {
    let mut col = col;
    Step::Alter(
        Table::alter()
            .table(a(table))
            .add_column(&mut col)
            .to_owned(),
    )
}

type Migration = (i64, &'static str, fn() -> Vec<Step>);

const MIGRATIONS: &[Migration] = &[
    (1, "foundation", m0001_foundation::steps),
    (2, "saved_views", m0002_saved_views::steps),
    (3, "contact_id_number", m0003_contact_id_number::steps),
    (4, "custom_fields", m0004_custom_fields::steps),
    (5, "search_indexes", m0005_search_indexes::steps),
    (6, "activities_jobs_notifications", m0006_activities::steps),
    (7, "user_feeds", m0007_user_feeds::steps),
    (8, "mail", m0008_mail::steps),
    (9, "sort_indexes", m0009_sort_indexes::steps),
    (10, "lead_to_cash", m0010_lead_to_cash::steps),
    (11, "sales_documents", m0011_sales_documents::steps),
    (12, "pool_targets", m0012_pool_targets::steps),
    (13, "imports", m0013_imports::steps),
    (14, "merges", m0014_merges::steps),
    (15, "exports", m0015_exports::steps),
    (16, "token_lookup", m0016_token_lookup::steps),
    (17, "short_tokens", m0017_short_tokens::steps),
    (18, "clustered_keys", m0018_clustered_keys::steps),
    (19, "search_covering", m0019_search_covering::steps),
    (20, "audit_journal", m0020_audit_journal::steps),
    (21, "level_list_index", m0021_level_list_index::steps),
    (22, "token_generations", m0022_token_generations::steps),
    (23, "org_version", m0023_org_version::steps),
    (24, "record_versions", m0024_record_versions::steps),
    (25, "sealed_import_rows", m0025_sealed_import_rows::steps),
    (26, "subject_keys", m0026_subject_keys::steps),
    (27, "key_locks", m0027_key_locks::steps),
    (28, "backup_targets", m0028_backup_targets::steps),
    (29, "name_index", m0029_name_index::steps),
];

/// The migrations this build knows that the database has not applied yet (version, name),
/// read without changing anything (`rapport doctor`). A database never migrated lacks all.
pub async fn pending(db: &Db) -> Result<Vec<(i64, &'static str)>, DomainError> {
    // No table yet: nothing applied.
    let applied = applied(db.reader()).await.unwrap_or_default();
    Ok(MIGRATIONS
        .iter()
        .filter(|(v, _, _)| !applied.contains(v))
        .map(|(v, name, _)| (*v, *name))
        .collect())
}

/// The versions the database has applied.
async fn applied<C: ConnectionTrait>(c: &C) -> Result<Vec<i64>, DomainError> {
    let rows = c
        .query_all(build(
            c.get_database_backend(),
            Query::select()
                .column(a("version"))
                .from(a("schema_migrations")),
        ))
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| crate::statements::get::<i64>(r, "version"))
        .collect()
}

/// How many migrations this build knows.
pub fn known() -> usize {
    MIGRATIONS.len()
}

/// Apply every migration not yet applied, with `now` as the time of the rows they seed. Safe
/// to call from several processes at once on PostgreSQL (an advisory lock serialises them).
pub async fn run(
    db: &Db,
    now: chrono::DateTime<chrono::Utc>,
    seeds: &dyn Seeds,
) -> Result<(), DomainError> {
    let tx = db.begin().await?;
    let backend = tx.get_database_backend();
    if backend == DatabaseBackend::Postgres {
        tx.execute(Statement::from_string(
            backend,
            "SELECT pg_advisory_xact_lock(727274)",
        ))
        .await
        .map_err(db_err)?;
    }
    let mut t = Table::create();
    t.table(a("schema_migrations"))
        .if_not_exists()
        .col(
            ColumnDef::new(a("version"))
                .big_integer()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(a("name")).text().not_null());
    tx.execute(build_schema(backend, &t))
        .await
        .map_err(db_err)?;

    let applied = applied(&tx).await?;
    for (version, name, steps) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tracing::info!(version, name, "applying migration");
        for step in steps() {
            let stmt = match step {
                Step::Table(t) => build_schema(backend, &t),
                Step::Index(i) => build_schema(backend, &i),
                Step::Alter(t) => build_schema(backend, &t),
                Step::Sql(sql) => Statement::from_string(backend, sql),
                Step::SqlText(sql) => Statement::from_string(backend, sql),
                Step::PgSql(sql) if backend == DatabaseBackend::Postgres => {
                    Statement::from_string(backend, sql)
                }
                Step::PgSql(_) => continue,
                Step::SqliteSql(sql) if backend == DatabaseBackend::Sqlite => {
                    Statement::from_string(backend, sql)
                }
                Step::SqliteSql(_) => continue,
                Step::Data(d) => {
                    seeds.seed(&tx, d, now).await?;
                    continue;
                }
            };
            tx.execute(stmt).await.map_err(db_err)?;
        }
        tx.execute(build(
            backend,
            Query::insert()
                .into_table(a("schema_migrations"))
                .columns([a("version"), a("name")])
                .values_panic([(*version).into(), (*name).into()]),
        ))
        .await
        .map_err(db_err)?;
        if *version == 1 {
            seeds.seed(&tx, DataStep::Foundation, now).await?;
        }
    }
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

/// Writes the rows migrations seed.
#[async_trait::async_trait]
pub trait Seeds: Send + Sync {
    async fn seed(
        &self,
        tx: &sea_orm::DatabaseTransaction,
        step: DataStep,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), DomainError>;
}

/// Seeds nothing: the schema alone, for this crate's own tests.
#[cfg(test)]
pub(crate) struct SchemaOnly;

#[cfg(test)]
#[async_trait::async_trait]
impl Seeds for SchemaOnly {
    async fn seed(
        &self,
        _: &sea_orm::DatabaseTransaction,
        _: DataStep,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), DomainError> {
        Ok(())
    }
}
