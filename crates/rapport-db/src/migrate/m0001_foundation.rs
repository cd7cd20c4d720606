use super::*;

pub(super) fn steps() -> Vec<Step> {
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
