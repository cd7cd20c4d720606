//! Schema migrations: one list, written with sea-query so the same definitions produce the
//! SQLite and the PostgreSQL schema. Applied at start-up; each runs once, in order.

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

use crate::db::{build, build_schema, db_err, Db};
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

enum DataStep {
    /// Picklists of `picklists::DEFAULTS` that have no values yet.
    Picklists,
    /// The built-in roles' rights on record types added after they were created (a role an
    /// administrator has already given rights on the type is left alone).
    RoleGrants(&'static [rapport_core::Object]),
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

fn m0001_foundation() -> Vec<Step> {
    let mut steps = Vec::new();

    let mut t = Table::create();
    t.table(a("departments"));
    id_pk(&mut t);
    text_nn(&mut t, "name");
    id_ref(&mut t, "parent_id");
    ts_nn(&mut t, "created_at");
    fk(
        &mut t,
        "parent_id",
        "departments",
        ForeignKeyAction::Restrict,
    );
    steps.push(Step::Table(t.to_owned()));

    let mut t = Table::create();
    t.table(a("roles"));
    id_pk(&mut t);
    t.col(
        ColumnDef::new(a("key"))
            .string_len(64)
            .not_null()
            .unique_key(),
    );
    text_nn(&mut t, "name_en");
    text_nn(&mut t, "name_zh");
    text_nn(&mut t, "grants");
    boolean(&mut t, "require_mfa", false);
    boolean(&mut t, "builtin", false);
    ts_nn(&mut t, "created_at");
    ts_nn(&mut t, "updated_at");
    steps.push(Step::Table(t.to_owned()));

    let mut t = Table::create();
    t.table(a("users"));
    id_pk(&mut t);
    t.col(
        ColumnDef::new(a("email"))
            .string_len(254)
            .not_null()
            .unique_key(),
    );
    text_nn(&mut t, "name");
    text(&mut t, "phone_enc");
    text_nn(&mut t, "password_hash");
    id_ref(&mut t, "department_id");
    id_ref(&mut t, "manager_id");
    boolean(&mut t, "active", true);
    text_nn(&mut t, "language");
    text_nn(&mut t, "time_zone");
    text(&mut t, "totp_secret_enc");
    text(&mut t, "totp_pending_enc");
    bigint(&mut t, "totp_last_step");
    text(&mut t, "recovery_codes");
    ts_nn(&mut t, "created_at");
    ts_nn(&mut t, "updated_at");
    fk(
        &mut t,
        "department_id",
        "departments",
        ForeignKeyAction::SetNull,
    );
    fk(&mut t, "manager_id", "users", ForeignKeyAction::SetNull);
    steps.push(Step::Table(t.to_owned()));

    let mut t = Table::create();
    t.table(a("user_roles"));
    t.col(ColumnDef::new(a("user_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("role_id")).string_len(36).not_null());
    t.primary_key(Index::create().col(a("user_id")).col(a("role_id")));
    fk(&mut t, "user_id", "users", ForeignKeyAction::Cascade);
    fk(&mut t, "role_id", "roles", ForeignKeyAction::Cascade);
    steps.push(Step::Table(t.to_owned()));

    let mut t = Table::create();
    t.table(a("sessions"));
    id_pk(&mut t);
    t.col(
        ColumnDef::new(a("token_hash"))
            .string_len(64)
            .not_null()
            .unique_key(),
    );
    t.col(ColumnDef::new(a("user_id")).string_len(36).not_null());
    ts_nn(&mut t, "created_at");
    ts_nn(&mut t, "last_seen_at");
    ts_nn(&mut t, "expires_at");
    text(&mut t, "ip");
    text(&mut t, "user_agent");
    ts(&mut t, "revoked_at");
    fk(&mut t, "user_id", "users", ForeignKeyAction::Cascade);
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "sessions_user",
        "sessions",
        &["user_id"],
        false,
    )));

    let mut t = Table::create();
    t.table(a("api_tokens"));
    id_pk(&mut t);
    t.col(
        ColumnDef::new(a("token_hash"))
            .string_len(64)
            .not_null()
            .unique_key(),
    );
    t.col(ColumnDef::new(a("user_id")).string_len(36).not_null());
    text_nn(&mut t, "name");
    boolean(&mut t, "read_only", true);
    ts_nn(&mut t, "created_at");
    ts(&mut t, "expires_at");
    ts(&mut t, "last_used_at");
    ts(&mut t, "revoked_at");
    fk(&mut t, "user_id", "users", ForeignKeyAction::Cascade);
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "api_tokens_user",
        "api_tokens",
        &["user_id"],
        false,
    )));

    let mut t = Table::create();
    t.table(a("login_attempts"));
    t.col(
        ColumnDef::new(a("key"))
            .string_len(300)
            .not_null()
            .primary_key(),
    );
    t.col(
        ColumnDef::new(a("failures"))
            .big_integer()
            .not_null()
            .default(0),
    );
    ts_nn(&mut t, "window_start");
    ts(&mut t, "locked_until");
    steps.push(Step::Table(t.to_owned()));

    let mut t = Table::create();
    t.table(a("audit_head"));
    t.col(ColumnDef::new(a("id")).integer().not_null().primary_key());
    t.col(ColumnDef::new(a("seq")).big_integer().not_null());
    text_nn(&mut t, "hash");
    steps.push(Step::Table(t.to_owned()));

    let mut t = Table::create();
    t.table(a("audit_log"));
    t.col(
        ColumnDef::new(a("seq"))
            .big_integer()
            .not_null()
            .primary_key(),
    );
    t.col(ColumnDef::new(a("at")).string_len(40).not_null());
    text_nn(&mut t, "actor_id");
    text(&mut t, "actor_email");
    text(&mut t, "session_id");
    text(&mut t, "token_id");
    text(&mut t, "ip");
    text(&mut t, "user_agent");
    t.col(ColumnDef::new(a("action")).string_len(64).not_null());
    t.col(ColumnDef::new(a("object_type")).string_len(32).null());
    t.col(ColumnDef::new(a("object_id")).string_len(64).null());
    text_nn(&mut t, "details");
    text_nn(&mut t, "prev_hash");
    text_nn(&mut t, "hash");
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "audit_object",
        "audit_log",
        &["object_type", "object_id"],
        false,
    )));
    steps.push(Step::Index(index(
        "audit_actor",
        "audit_log",
        &["actor_id"],
        false,
    )));
    steps.push(Step::Index(index(
        "audit_action",
        "audit_log",
        &["action"],
        false,
    )));
    steps.push(Step::Index(index("audit_at", "audit_log", &["at"], false)));

    let mut t = Table::create();
    t.table(a("outbox"));
    t.col(
        ColumnDef::new(a("seq"))
            .big_integer()
            .not_null()
            .auto_increment()
            .primary_key(),
    );
    t.col(ColumnDef::new(a("at")).string_len(40).not_null());
    t.col(ColumnDef::new(a("event")).string_len(64).not_null());
    t.col(ColumnDef::new(a("object_type")).string_len(32).not_null());
    t.col(ColumnDef::new(a("object_id")).string_len(64).not_null());
    text_nn(&mut t, "actor_id");
    text_nn(&mut t, "payload");
    steps.push(Step::Table(t.to_owned()));

    let mut t = Table::create();
    t.table(a("settings"));
    t.col(
        ColumnDef::new(a("key"))
            .string_len(100)
            .not_null()
            .primary_key(),
    );
    text_nn(&mut t, "value");
    steps.push(Step::Table(t.to_owned()));

    let mut t = Table::create();
    t.table(a("picklist_values"));
    t.col(ColumnDef::new(a("list_key")).string_len(64).not_null());
    t.col(ColumnDef::new(a("value")).string_len(64).not_null());
    text_nn(&mut t, "label_en");
    text_nn(&mut t, "label_zh");
    t.col(
        ColumnDef::new(a("position"))
            .integer()
            .not_null()
            .default(0),
    );
    boolean(&mut t, "active", true);
    t.primary_key(Index::create().col(a("list_key")).col(a("value")));
    steps.push(Step::Table(t.to_owned()));

    // Accounts.
    let mut t = Table::create();
    t.table(a("accounts"));
    id_pk(&mut t);
    text_nn(&mut t, "name");
    t.col(ColumnDef::new(a("name_norm")).string_len(200).not_null());
    text(&mut t, "short_name");
    text(&mut t, "credit_code_enc");
    t.col(ColumnDef::new(a("credit_code_bidx")).string_len(64).null());
    for c in [
        "industry", "size", "level", "source", "province", "city", "status",
    ] {
        t.col(ColumnDef::new(a(c)).string_len(64).null());
    }
    text(&mut t, "address_enc");
    text(&mut t, "website");
    text(&mut t, "phone_enc");
    t.col(ColumnDef::new(a("phone_bidx")).string_len(64).null());
    text(&mut t, "tags");
    id_ref(&mut t, "owner_id");
    id_ref(&mut t, "department_id");
    id_ref(&mut t, "parent_id");
    bigint(&mut t, "annual_revenue");
    bigint(&mut t, "credit_limit");
    t.col(
        ColumnDef::new(a("currency"))
            .string_len(3)
            .not_null()
            .default("CNY"),
    );
    ts(&mut t, "last_activity_at");
    text(&mut t, "custom");
    id_ref(&mut t, "created_by");
    ts_nn(&mut t, "created_at");
    ts_nn(&mut t, "updated_at");
    fk(&mut t, "owner_id", "users", ForeignKeyAction::Restrict);
    fk(&mut t, "parent_id", "accounts", ForeignKeyAction::SetNull);
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "accounts_owner",
        "accounts",
        &["owner_id", "id"],
        false,
    )));
    steps.push(Step::Index(index(
        "accounts_name_norm",
        "accounts",
        &["name_norm"],
        false,
    )));
    steps.push(Step::Index(index(
        "accounts_credit_code",
        "accounts",
        &["credit_code_bidx"],
        false,
    )));
    steps.push(Step::Index(index(
        "accounts_phone",
        "accounts",
        &["phone_bidx"],
        false,
    )));
    steps.push(Step::Index(index(
        "accounts_updated",
        "accounts",
        &["updated_at", "id"],
        false,
    )));

    // Contacts.
    let mut t = Table::create();
    t.table(a("contacts"));
    id_pk(&mut t);
    text_nn(&mut t, "family_name");
    text(&mut t, "given_name");
    t.col(ColumnDef::new(a("name_norm")).string_len(130).not_null());
    text(&mut t, "title");
    text(&mut t, "department");
    text(&mut t, "mobile_enc");
    t.col(ColumnDef::new(a("mobile_bidx")).string_len(64).null());
    text(&mut t, "phones_enc");
    text(&mut t, "email_enc");
    t.col(ColumnDef::new(a("email_bidx")).string_len(64).null());
    text(&mut t, "emails_enc");
    text(&mut t, "wechat_enc");
    t.col(ColumnDef::new(a("birthday")).string_len(10).null());
    text(&mut t, "address_enc");
    id_ref(&mut t, "owner_id");
    id_ref(&mut t, "department_id");
    text(&mut t, "tags");
    text(&mut t, "preferences");
    for c in ["consent_email", "consent_sms"] {
        t.col(ColumnDef::new(a(&format!("{c}_granted"))).boolean().null());
        ts(&mut t, &format!("{c}_at"));
        text(&mut t, &format!("{c}_source"));
    }
    ts(&mut t, "last_activity_at");
    text(&mut t, "custom");
    id_ref(&mut t, "created_by");
    ts_nn(&mut t, "created_at");
    ts_nn(&mut t, "updated_at");
    fk(&mut t, "owner_id", "users", ForeignKeyAction::Restrict);
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "contacts_owner",
        "contacts",
        &["owner_id", "id"],
        false,
    )));
    steps.push(Step::Index(index(
        "contacts_name_norm",
        "contacts",
        &["name_norm"],
        false,
    )));
    steps.push(Step::Index(index(
        "contacts_mobile",
        "contacts",
        &["mobile_bidx"],
        false,
    )));
    steps.push(Step::Index(index(
        "contacts_email",
        "contacts",
        &["email_bidx"],
        false,
    )));
    steps.push(Step::Index(index(
        "contacts_updated",
        "contacts",
        &["updated_at", "id"],
        false,
    )));

    let mut t = Table::create();
    t.table(a("contact_accounts"));
    t.col(ColumnDef::new(a("contact_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("account_id")).string_len(36).not_null());
    text(&mut t, "role");
    t.primary_key(Index::create().col(a("contact_id")).col(a("account_id")));
    fk(&mut t, "contact_id", "contacts", ForeignKeyAction::Cascade);
    fk(&mut t, "account_id", "accounts", ForeignKeyAction::Cascade);
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "contact_accounts_account",
        "contact_accounts",
        &["account_id"],
        false,
    )));

    // Blind-index tokens for exact lookup of encrypted values (all emails, phones, last digits).
    let mut t = Table::create();
    t.table(a("search_tokens"));
    t.col(ColumnDef::new(a("object_type")).string_len(32).not_null());
    t.col(ColumnDef::new(a("record_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("token")).string_len(64).not_null());
    t.primary_key(
        Index::create()
            .col(a("object_type"))
            .col(a("token"))
            .col(a("record_id")),
    );
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "search_tokens_record",
        "search_tokens",
        &["record_id"],
        false,
    )));

    steps
}

fn m0002_saved_views() -> Vec<Step> {
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

fn m0003_contact_id_number() -> Vec<Step> {
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

fn m0004_custom_fields() -> Vec<Step> {
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

/// Indexed prefix search on contacts' family names and accounts' short names, and an index for
/// sorting accounts by name (found by `make bench`, see docs/adr/0005).
fn m0005_search_indexes() -> Vec<Step> {
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

type Migration = (i64, &'static str, fn() -> Vec<Step>);

const MIGRATIONS: &[Migration] = &[
    (1, "foundation", m0001_foundation),
    (2, "saved_views", m0002_saved_views),
    (3, "contact_id_number", m0003_contact_id_number),
    (4, "custom_fields", m0004_custom_fields),
    (5, "search_indexes", m0005_search_indexes),
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
];

/// Apply every migration not yet applied, with `now` as the time of the rows they seed. Safe
/// to call from several processes at once on PostgreSQL (an advisory lock serialises them).
pub async fn run(db: &Db, now: chrono::DateTime<chrono::Utc>) -> Result<(), DomainError> {
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

    let rows = tx
        .query_all(build(
            backend,
            Query::select()
                .column(a("version"))
                .from(a("schema_migrations")),
        ))
        .await
        .map_err(db_err)?;
    let mut applied = Vec::new();
    for r in rows {
        applied.push(crate::db::get::<i64>(&r, "version")?);
    }
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
                    seed_data(&tx, d, now).await?;
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
            seed(&tx, now).await?;
        }
    }
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

/// Data the first migration needs: the built-in roles, the audit chain head, picklists.
async fn seed(
    tx: &sea_orm::DatabaseTransaction,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DomainError> {
    let backend = tx.get_database_backend();
    seed_data(tx, DataStep::MissingRoles, now).await?;
    tx.execute(build(
        backend,
        Query::insert()
            .into_table(a("audit_head"))
            .columns([a("id"), a("seq"), a("hash")])
            .values_panic([1.into(), 0i64.into(), crate::audit::GENESIS.into()]),
    ))
    .await
    .map_err(db_err)?;
    seed_data(tx, DataStep::Picklists, now).await?;
    Ok(())
}

async fn seed_data(
    tx: &sea_orm::DatabaseTransaction,
    step: DataStep,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DomainError> {
    let backend = tx.get_database_backend();
    match step {
        DataStep::Picklists => {
            for (list, values) in crate::picklists::DEFAULTS {
                let present = tx
                    .query_one(build(
                        backend,
                        Query::select()
                            .column(a("value"))
                            .from(a("picklist_values"))
                            .and_where(sea_orm::sea_query::Expr::col(a("list_key")).eq(*list))
                            .limit(1),
                    ))
                    .await
                    .map_err(db_err)?;
                if present.is_some() {
                    continue;
                }
                for (pos, (value, en, zh)) in values.iter().enumerate() {
                    tx.execute(build(
                        backend,
                        Query::insert()
                            .into_table(a("picklist_values"))
                            .columns(
                                [
                                    "list_key", "value", "label_en", "label_zh", "position",
                                    "active",
                                ]
                                .map(a),
                            )
                            .values_panic([
                                (*list).into(),
                                (*value).into(),
                                (*en).into(),
                                (*zh).into(),
                                (pos as i32).into(),
                                true.into(),
                            ]),
                    ))
                    .await
                    .map_err(db_err)?;
                }
            }
        }
        DataStep::RoleGrants(objects) => {
            for role in rapport_core::permission::builtin_roles() {
                let row = tx
                    .query_one(build(
                        backend,
                        Query::select()
                            .column(a("grants"))
                            .from(a("roles"))
                            .and_where(sea_orm::sea_query::Expr::col(a("key")).eq(role.key)),
                    ))
                    .await
                    .map_err(db_err)?;
                let Some(row) = row else { continue };
                let raw: String = crate::db::get(&row, "grants")?;
                let mut grants: rapport_core::Grants =
                    serde_json::from_str(&raw).map_err(DomainError::internal)?;
                let mut changed = false;
                for o in objects {
                    if grants.permissions.contains_key(o) {
                        continue;
                    }
                    if let Some(p) = role.grants.permissions.get(o) {
                        grants.permissions.insert(*o, p.clone());
                        changed = true;
                    }
                    if let Some(r) = role.grants.field_rules.get(o) {
                        grants.field_rules.insert(*o, r.clone());
                    }
                }
                if changed {
                    let json = serde_json::to_string(&grants).map_err(DomainError::internal)?;
                    tx.execute(build(
                        backend,
                        Query::update()
                            .table(a("roles"))
                            .value(a("grants"), json)
                            .and_where(sea_orm::sea_query::Expr::col(a("key")).eq(role.key)),
                    ))
                    .await
                    .map_err(db_err)?;
                }
            }
        }
        DataStep::DefaultPipeline => crate::pipelines::seed_default(tx, now).await?,
        DataStep::MissingRoles => {
            for role in rapport_core::permission::builtin_roles() {
                let present = tx
                    .query_one(build(
                        backend,
                        Query::select()
                            .column(a("id"))
                            .from(a("roles"))
                            .and_where(sea_orm::sea_query::Expr::col(a("key")).eq(role.key)),
                    ))
                    .await
                    .map_err(db_err)?;
                if present.is_some() {
                    continue;
                }
                let grants = serde_json::to_string(&role.grants).map_err(DomainError::internal)?;
                tx.execute(build(
                    backend,
                    Query::insert()
                        .into_table(a("roles"))
                        .columns(
                            [
                                "id",
                                "key",
                                "name_en",
                                "name_zh",
                                "grants",
                                "require_mfa",
                                "builtin",
                                "created_at",
                                "updated_at",
                            ]
                            .map(a),
                        )
                        .values_panic([
                            rapport_core::ids::new_id().into(),
                            role.key.into(),
                            role.name_en.into(),
                            role.name_zh.into(),
                            grants.into(),
                            false.into(),
                            true.into(),
                            now.into(),
                            now.into(),
                        ]),
                ))
                .await
                .map_err(db_err)?;
            }
        }
    }
    Ok(())
}
