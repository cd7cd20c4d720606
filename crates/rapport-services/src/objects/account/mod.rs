//! Accounts (客户): the companies sold to. A protected account is kept out of the public pool,
//! which needs the transfer right over it; an account cannot be deleted while deals and
//! documents name it, and its sub-accounts lose their parent when it goes.

mod fields;

use super::common::text_of;
use crate::objects;
use crate::records::duplicates::RuleMode;
use crate::records::hooks::{Branch, Cx, DuplicateRule, Hooks, NameSource, SearchText, Values};
use crate::records::merging::{Loose, Merging, Reason, Reference};
use crate::records::{ObjectDef, Record};
use crate::Store;
use rapport_core::fields::FieldValue;
use rapport_core::input::Input;
use rapport_core::permission::Ownership;
use rapport_core::{validate, DomainError, Object};
use rapport_db::exec;
use sea_orm::sea_query::{Alias, Expr, Query, Value as SqlValue};
use sea_orm::DatabaseTransaction;

/// An account's name in the name index: found by its words and, in Chinese, by any two
/// neighbouring characters (海川 finds 宁波海川物流有限公司).
pub const ACCOUNT_NAME: NameSource = NameSource::company("term.company", &["name"]);
const SHORT_NAME: NameSource = NameSource::fields("term.short", &["short_name"]);

pub use fields::FIELDS;

/// The permission key of account records (roles grant on it; paths use its plural).
pub const ACCOUNT: Object = Object::record("account", "accounts", Ownership::Owned);

pub const ACCOUNTS: ObjectDef = ObjectDef {
    object: ACCOUNT,
    table: "accounts",
    fields: FIELDS,
    hooks: &Rules,
};

/// Accounts sharing a credit code, phone or name, or with names alike, are likely
/// duplicates; a merge moves their contacts, deals, documents, payments, sub-accounts and pool
/// history to the survivor.
const MERGING: Merging = Merging {
    exact: &[
        ("credit_code_bidx", Reason::CreditCode, 100),
        ("phone_bidx", Reason::Phone, 85),
        ("name_norm", Reason::Name, 80),
    ],
    loose: Some((Loose::SimilarNames, 75)),
    references: &[
        Reference::pair("contact_accounts", "account_id", &["contact_id"]),
        Reference::id("opportunities", "account_id"),
        Reference::id("quotes", "account_id"),
        Reference::id("contracts", "account_id"),
        Reference::id("orders", "account_id"),
        Reference::id("payments", "account_id"),
        Reference::id("accounts", "parent_id"),
        Reference::id("pool_events", "account_id"),
        Reference::id("leads", "converted_account_id"),
    ],
    self_refs: &["parent_id"],
};

struct Rules;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

#[async_trait::async_trait]
impl Hooks for Rules {
    fn has_activities(&self) -> bool {
        true
    }

    fn merging(&self) -> Option<&'static Merging> {
        Some(&MERGING)
    }

    fn importable(&self) -> bool {
        true
    }

    /// Protecting an account from the pool (or lifting it) is a manager's decision: it needs
    /// the transfer right over the account.
    async fn check(
        &self,
        cx: Cx<'_>,
        input: &Input,
        before: Option<&Record>,
        owner: Option<&str>,
    ) -> Result<(), DomainError> {
        let Some(p) = input.get("protected") else {
            return Ok(());
        };
        let now = matches!(p, FieldValue::Bool(true));
        let was = before
            .is_some_and(|b| matches!(b.values.get("protected"), Some(FieldValue::Bool(true))));
        if now != was {
            check_protect(cx.actor, owner)?;
        }
        Ok(())
    }

    fn derived(&self, values: &Values) -> Vec<(&'static str, SqlValue)> {
        vec![
            (
                "name_norm",
                SqlValue::String(Some(Box::new(validate::company_name_norm(&text_of(
                    values, "name",
                ))))),
            ),
            // Short names are searched by prefix too (indexed, like name_norm).
            (
                "short_norm",
                SqlValue::String(
                    Some(validate::search_norm(&text_of(values, "short_name")))
                        .filter(|s| !s.is_empty())
                        .map(Box::new),
                ),
            ),
        ]
    }

    fn batch_creatable(&self) -> bool {
        true
    }

    async fn delete_blocker(&self, store: &Store, id: &str) -> Result<Option<String>, DomainError> {
        super::blocked_by(
            store,
            "account",
            id,
            &[
                ("opportunities", "account_id", "opportunities"),
                ("quotes", "account_id", "quotes"),
                ("contracts", "account_id", "contracts"),
                ("orders", "account_id", "orders"),
            ],
        )
        .await
    }

    /// Its sub-accounts keep no parent.
    async fn before_delete(
        &self,
        tx: &DatabaseTransaction,
        before: &Record,
    ) -> Result<(), DomainError> {
        exec(
            tx,
            Query::update()
                .table(t("accounts"))
                .value(t("parent_id"), Option::<String>::None)
                .value(t("version"), Expr::col(t("version")).add(1))
                .and_where(Expr::col(t("parent_id")).eq(before.id.as_str())),
        )
        .await?;
        Ok(())
    }

    fn quick_search(&self, text: &SearchText<'_>) -> Vec<Branch> {
        let mut out = Vec::new();
        if let Ok(code) = validate::credit_code(text.q) {
            out.push(Branch::equal(
                "credit_code_bidx",
                text.keys.blind("credit_code", &code),
                &["credit_code"],
            ));
        }
        out
    }

    fn name_sources(&self) -> &'static [NameSource] {
        &[ACCOUNT_NAME, SHORT_NAME]
    }

    fn duplicate_rules(&self) -> &'static [DuplicateRule] {
        &[
            DuplicateRule {
                key: "name",
                mode: RuleMode::Warn,
            },
            DuplicateRule {
                key: "credit_code",
                mode: RuleMode::Block,
            },
            DuplicateRule {
                key: "phone",
                mode: RuleMode::Warn,
            },
        ]
    }

    fn duplicate_keys(
        &self,
        keys: &crate::Keyring,
        rule: &str,
        values: &Values,
    ) -> Option<(&'static str, Vec<String>)> {
        let value = text_of(
            values,
            if rule == "name" {
                "name"
            } else {
                "credit_code"
            },
        );
        match rule {
            "name" => Some((
                "name_norm",
                Some(validate::company_name_norm(&value))
                    .filter(|n| !n.is_empty())
                    .into_iter()
                    .collect(),
            )),
            "credit_code" => Some((
                "credit_code_bidx",
                Some(value)
                    .filter(|c| !c.is_empty())
                    .map(|c| keys.blind("credit_code", &c))
                    .into_iter()
                    .collect(),
            )),
            _ => None,
        }
    }
}

/// (id, name) of accounts the actor may read, by name: choices for pickers.
pub async fn names(
    store: &Store,
    actor: &crate::access::Access,
    limit: u64,
) -> Result<Vec<(String, String)>, DomainError> {
    crate::records::query::names(
        store,
        actor,
        &ACCOUNTS,
        &["name"],
        ("name", sea_orm::sea_query::Order::Asc),
        limit,
    )
    .await
}

/// Whether the actor may change an account's protection: it needs the transfer right over the
/// account (a manager's decision, not the owner's).
pub fn check_protect(
    actor: &crate::access::Access,
    owner: Option<&str>,
) -> Result<(), DomainError> {
    let ok = match actor.owners(objects::ACCOUNT, rapport_core::Action::Transfer) {
        Some(f) => f.allows(owner),
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(DomainError::Validation(vec![
            rapport_core::FieldError::new(
                "protected",
                "field_not_writable",
                "protecting an account from the pool needs the transfer right over it",
            ),
        ]))
    }
}
