//! "Last activity" and "next activity" on accounts, contacts, leads and opportunities,
//! recomputed in the same transaction as every change to an activity. An account's figures
//! include the activities of its contacts and opportunities.

use rapport_core::DomainError;
use rapport_db::{all, exec, get};
use sea_orm::sea_query::{
    Alias, Cond, Condition, Expr, Func, Query, SimpleExpr, SubQueryStatement,
};
use sea_orm::ConnectionTrait;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

fn on_account(account_id: &str) -> Condition {
    let mut contacts = Query::select();
    contacts
        .column(t("contact_id"))
        .from(t("contact_accounts"))
        .and_where(Expr::col(t("account_id")).eq(account_id));
    let mut deals = Query::select();
    deals
        .column(t("id"))
        .from(t("opportunities"))
        .and_where(Expr::col(t("account_id")).eq(account_id));
    Cond::any()
        .add(
            Cond::all()
                .add(Expr::col(t("related_type")).eq("account"))
                .add(Expr::col(t("related_id")).eq(account_id)),
        )
        .add(
            Cond::all()
                .add(Expr::col(t("related_type")).eq("contact"))
                .add(Expr::col(t("related_id")).in_subquery(contacts)),
        )
        .add(
            Cond::all()
                .add(Expr::col(t("related_type")).eq("opportunity"))
                .add(Expr::col(t("related_id")).in_subquery(deals)),
        )
}

fn on_one(related_type: &str, id: &str) -> Condition {
    Cond::all()
        .add(Expr::col(t("related_type")).eq(related_type))
        .add(Expr::col(t("related_id")).eq(id))
}

fn on_contact(contact_id: &str) -> Condition {
    Cond::all()
        .add(Expr::col(t("related_type")).eq("contact"))
        .add(Expr::col(t("related_id")).eq(contact_id))
}

fn sub(agg: SimpleExpr, status: &str, which: Condition) -> SimpleExpr {
    let mut q = Query::select();
    q.expr(agg)
        .from(t("activities"))
        .and_where(Expr::col(t("status")).eq(status))
        .cond_where(which);
    SimpleExpr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(q)))
}

async fn update_one<C: ConnectionTrait>(
    c: &C,
    table: &str,
    id: &str,
    which: Condition,
) -> Result<(), DomainError> {
    exec(
        c,
        Query::update()
            .table(t(table))
            .value(
                t("last_activity_at"),
                sub(
                    Func::max(Expr::col(t("completed_at"))).into(),
                    "done",
                    which.clone(),
                ),
            )
            .value(
                t("next_activity_at"),
                sub(Func::min(Expr::col(t("at"))).into(), "open", which),
            )
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    Ok(())
}

/// Recompute the figures of the record an activity is linked to (and, for a contact, of the
/// accounts it belongs to).
pub async fn refresh<C: ConnectionTrait>(
    c: &C,
    related_type: &str,
    related_id: &str,
) -> Result<(), DomainError> {
    match related_type {
        "account" => update_one(c, "accounts", related_id, on_account(related_id)).await,
        "contact" => {
            update_one(c, "contacts", related_id, on_contact(related_id)).await?;
            let rows = all(
                c,
                Query::select()
                    .column(t("account_id"))
                    .from(t("contact_accounts"))
                    .and_where(Expr::col(t("contact_id")).eq(related_id)),
            )
            .await?;
            for r in rows {
                let account: String = get(&r, "account_id")?;
                update_one(c, "accounts", &account, on_account(&account)).await?;
            }
            Ok(())
        }
        "lead" => update_one(c, "leads", related_id, on_one("lead", related_id)).await,
        "opportunity" => {
            update_one(
                c,
                "opportunities",
                related_id,
                on_one("opportunity", related_id),
            )
            .await?;
            let rows = all(
                c,
                Query::select()
                    .column(t("account_id"))
                    .from(t("opportunities"))
                    .and_where(Expr::col(t("id")).eq(related_id)),
            )
            .await?;
            for r in rows {
                let account: String = get(&r, "account_id")?;
                update_one(c, "accounts", &account, on_account(&account)).await?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
