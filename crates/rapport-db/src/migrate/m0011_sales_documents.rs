//! Migration 11: products and price lists, quotes, contracts with their approval steps and
//! payment plans, orders, payments received, and the yearly counters that number documents.

use super::m0010_lead_to_cash::{common_tail, norm};
use super::{
    a, bigint, boolean, fk, id_pk, id_ref, index, text, text_nn, ts, ts_nn, DataStep, Step,
};
use sea_orm::sea_query::{ColumnDef, ForeignKeyAction, Table, TableCreateStatement};

fn date(t: &mut TableCreateStatement, name: &str) {
    t.col(ColumnDef::new(a(name)).string_len(10).null());
}

fn short(t: &mut TableCreateStatement, name: &str, len: u32) {
    t.col(ColumnDef::new(a(name)).string_len(len).null());
}

/// Columns of a priced document (quote, order).
fn priced(t: &mut TableCreateStatement) {
    short(t, "currency", 3);
    text(t, "lines");
    for c in [
        "gross_amount",
        "discount_amount",
        "net_amount",
        "tax_amount",
        "total",
    ] {
        bigint(t, c);
    }
}

fn indexes(steps: &mut Vec<Step>, table: &str, list: &[(&str, &[&str])]) {
    for (name, cols) in list {
        steps.push(Step::Index(index(
            &format!("{table}_{name}"),
            table,
            cols,
            false,
        )));
    }
}

pub(super) fn steps() -> Vec<Step> {
    let mut steps = Vec::new();

    // Yearly document numbers: one row per (kind, year), incremented in the creating
    // transaction.
    let mut t = Table::create();
    t.table(a("counters"));
    t.col(
        ColumnDef::new(a("key"))
            .string_len(64)
            .not_null()
            .primary_key(),
    );
    t.col(ColumnDef::new(a("value")).big_integer().not_null());
    steps.push(Step::Table(t.to_owned()));

    let mut t = Table::create();
    t.table(a("products"));
    id_pk(&mut t);
    t.col(ColumnDef::new(a("code")).string_len(64).not_null());
    text_nn(&mut t, "name");
    norm(&mut t, "name_norm", 200);
    text(&mut t, "category");
    short(&mut t, "unit", 20);
    bigint(&mut t, "price");
    short(&mut t, "currency", 3);
    bigint(&mut t, "tax_rate");
    t.col(ColumnDef::new(a("active")).boolean().null());
    text(&mut t, "tags");
    text(&mut t, "description");
    text(&mut t, "custom");
    text(&mut t, "custom_enc");
    id_ref(&mut t, "created_by");
    ts_nn(&mut t, "created_at");
    ts_nn(&mut t, "updated_at");
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "products_code",
        "products",
        &["code"],
        true,
    )));
    indexes(
        &mut steps,
        "products",
        &[
            ("name_norm", &["name_norm"]),
            ("updated", &["updated_at", "id"]),
        ],
    );

    let mut t = Table::create();
    t.table(a("price_lists"));
    id_pk(&mut t);
    text_nn(&mut t, "name");
    t.col(ColumnDef::new(a("currency")).string_len(3).not_null());
    boolean(&mut t, "active", true);
    ts_nn(&mut t, "created_at");
    ts_nn(&mut t, "updated_at");
    steps.push(Step::Table(t.to_owned()));

    let mut t = Table::create();
    t.table(a("price_list_items"));
    t.col(ColumnDef::new(a("price_list_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("product_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("price")).big_integer().not_null());
    t.primary_key(
        sea_orm::sea_query::Index::create()
            .col(a("price_list_id"))
            .col(a("product_id")),
    );
    fk(
        &mut t,
        "price_list_id",
        "price_lists",
        ForeignKeyAction::Cascade,
    );
    fk(&mut t, "product_id", "products", ForeignKeyAction::Cascade);
    steps.push(Step::Table(t.to_owned()));

    let mut t = Table::create();
    t.table(a("quotes"));
    id_pk(&mut t);
    short(&mut t, "number", 40);
    text_nn(&mut t, "name");
    norm(&mut t, "name_norm", 200);
    t.col(ColumnDef::new(a("account_id")).string_len(36).not_null());
    id_ref(&mut t, "opportunity_id");
    id_ref(&mut t, "contact_id");
    short(&mut t, "status", 64);
    date(&mut t, "valid_until");
    id_ref(&mut t, "price_list_id");
    priced(&mut t);
    text(&mut t, "terms");
    ts(&mut t, "sent_at");
    ts(&mut t, "decided_at");
    common_tail(&mut t);
    fk(&mut t, "account_id", "accounts", ForeignKeyAction::Restrict);
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "quotes_number",
        "quotes",
        &["number"],
        true,
    )));
    indexes(
        &mut steps,
        "quotes",
        &[
            ("owner", &["owner_id", "id"]),
            ("account", &["account_id"]),
            ("opportunity", &["opportunity_id"]),
            ("name_norm", &["name_norm"]),
            ("updated", &["updated_at", "id"]),
        ],
    );

    let mut t = Table::create();
    t.table(a("contracts"));
    id_pk(&mut t);
    short(&mut t, "number", 40);
    text_nn(&mut t, "name");
    norm(&mut t, "name_norm", 200);
    t.col(ColumnDef::new(a("account_id")).string_len(36).not_null());
    id_ref(&mut t, "opportunity_id");
    id_ref(&mut t, "quote_id");
    bigint(&mut t, "amount");
    short(&mut t, "currency", 3);
    date(&mut t, "start_date");
    date(&mut t, "end_date");
    date(&mut t, "signed_date");
    text(&mut t, "customer_signatory");
    id_ref(&mut t, "our_signatory");
    short(&mut t, "status", 64);
    ts(&mut t, "submitted_at");
    ts(&mut t, "approved_at");
    bigint(&mut t, "received_amount");
    text(&mut t, "terms");
    common_tail(&mut t);
    fk(&mut t, "account_id", "accounts", ForeignKeyAction::Restrict);
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "contracts_number",
        "contracts",
        &["number"],
        true,
    )));
    indexes(
        &mut steps,
        "contracts",
        &[
            ("owner", &["owner_id", "id"]),
            ("account", &["account_id"]),
            ("status", &["status", "id"]),
            ("name_norm", &["name_norm"]),
            ("updated", &["updated_at", "id"]),
        ],
    );

    // One row per approval step of a submission; `decision` is null while it waits.
    let mut t = Table::create();
    t.table(a("contract_approvals"));
    id_pk(&mut t);
    t.col(ColumnDef::new(a("contract_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("round")).integer().not_null());
    t.col(ColumnDef::new(a("step")).integer().not_null());
    t.col(ColumnDef::new(a("rule")).string_len(64).not_null());
    // JSON array of the user ids who may decide this step.
    text_nn(&mut t, "approvers");
    id_ref(&mut t, "submitted_by");
    short(&mut t, "decision", 16);
    id_ref(&mut t, "decided_by");
    text(&mut t, "comment");
    ts_nn(&mut t, "created_at");
    ts(&mut t, "decided_at");
    fk(
        &mut t,
        "contract_id",
        "contracts",
        ForeignKeyAction::Cascade,
    );
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "contract_approvals_contract",
        "contract_approvals",
        &["contract_id", "round", "step"],
        true,
    )));
    steps.push(Step::Index(index(
        "contract_approvals_open",
        "contract_approvals",
        &["decision", "created_at"],
        false,
    )));

    // The payment plan: instalments with due dates.
    let mut t = Table::create();
    t.table(a("contract_instalments"));
    t.col(ColumnDef::new(a("contract_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("seq")).integer().not_null());
    t.col(ColumnDef::new(a("due_date")).string_len(10).not_null());
    t.col(ColumnDef::new(a("amount")).big_integer().not_null());
    text(&mut t, "note");
    t.primary_key(
        sea_orm::sea_query::Index::create()
            .col(a("contract_id"))
            .col(a("seq")),
    );
    fk(
        &mut t,
        "contract_id",
        "contracts",
        ForeignKeyAction::Cascade,
    );
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "contract_instalments_due",
        "contract_instalments",
        &["due_date"],
        false,
    )));

    let mut t = Table::create();
    t.table(a("orders"));
    id_pk(&mut t);
    short(&mut t, "number", 40);
    text_nn(&mut t, "name");
    norm(&mut t, "name_norm", 200);
    t.col(ColumnDef::new(a("account_id")).string_len(36).not_null());
    id_ref(&mut t, "contract_id");
    id_ref(&mut t, "quote_id");
    date(&mut t, "order_date");
    short(&mut t, "status", 64);
    priced(&mut t);
    text(&mut t, "shipping_address");
    text(&mut t, "cancel_reason");
    for c in [
        "confirmed_at",
        "shipped_at",
        "delivered_at",
        "completed_at",
        "cancelled_at",
    ] {
        ts(&mut t, c);
    }
    common_tail(&mut t);
    fk(&mut t, "account_id", "accounts", ForeignKeyAction::Restrict);
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "orders_number",
        "orders",
        &["number"],
        true,
    )));
    indexes(
        &mut steps,
        "orders",
        &[
            ("owner", &["owner_id", "id"]),
            ("account", &["account_id"]),
            ("contract", &["contract_id"]),
            ("name_norm", &["name_norm"]),
            ("updated", &["updated_at", "id"]),
        ],
    );

    let mut t = Table::create();
    t.table(a("payments"));
    id_pk(&mut t);
    short(&mut t, "number", 40);
    t.col(ColumnDef::new(a("contract_id")).string_len(36).not_null());
    t.col(ColumnDef::new(a("account_id")).string_len(36).not_null());
    bigint(&mut t, "amount");
    short(&mut t, "currency", 3);
    date(&mut t, "paid_on");
    text(&mut t, "method");
    bigint(&mut t, "instalment");
    text(&mut t, "reference");
    common_tail(&mut t);
    fk(
        &mut t,
        "contract_id",
        "contracts",
        ForeignKeyAction::Restrict,
    );
    steps.push(Step::Table(t.to_owned()));
    steps.push(Step::Index(index(
        "payments_number",
        "payments",
        &["number"],
        true,
    )));
    indexes(
        &mut steps,
        "payments",
        &[
            ("owner", &["owner_id", "id"]),
            ("contract", &["contract_id"]),
            ("account", &["account_id"]),
            ("paid_on", &["paid_on"]),
            ("updated", &["updated_at", "id"]),
        ],
    );

    steps.push(Step::Data(DataStep::Picklists));
    steps.push(Step::Data(DataStep::MissingRoles));
    steps.push(Step::Data(DataStep::RoleGrants(&[
        "product", "quote", "contract", "order", "payment",
    ])));
    steps
}
