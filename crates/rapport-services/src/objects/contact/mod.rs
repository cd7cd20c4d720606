//! Contacts (联系人): the people at accounts. `account_ids` is accepted as a shorthand for
//! `accounts` without roles (the external contract). A contact names a person, so its label
//! and the searches for it are kept out of the audit trail.

mod fields;

use super::account::ACCOUNT_NAME;
use super::common::{person_norms, text_of};
use crate::objects;
use crate::records::duplicates::RuleMode;
use crate::records::hooks::{
    Branch, DuplicateRule, Erasure, Hooks, NameSource, SearchText, Values,
};
use crate::records::merging::{Merging, Reference};
use crate::records::{ObjectDef, Record};
use rapport_core::permission::Ownership;
use rapport_core::{DomainError, Object};
use sea_orm::sea_query::{Alias, Cond, Expr, Query, Value as SqlValue};
use serde_json::{Map, Value};

pub use fields::FIELDS;

/// The permission key of contact records (roles grant on it; paths use its plural).
pub const CONTACT: Object = Object::record("contact", "contacts", Ownership::Owned);

pub const CONTACTS: ObjectDef = ObjectDef {
    object: CONTACT,
    table: "contacts",
    fields: FIELDS,
    hooks: &Rules,
};

/// Contacts sharing an email, mobile or name, or whose family and given names are each
/// other's, are likely duplicates; a merge moves their account links, quotes, deals' contact
/// lists and meeting attendance to the survivor.
const MERGING: Merging = Merging {
    exact: super::common::PERSON_DUPLICATES,
    loose: super::common::PERSON_LOOSE,
    references: &[
        Reference::pair("contact_accounts", "contact_id", &["account_id"]),
        Reference::id("quotes", "contact_id"),
        Reference::id("leads", "converted_contact_id"),
        Reference::json("opportunities", "contacts"),
        Reference::json("activities", "attendees"),
    ],
    self_refs: &[],
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

    fn normalise(&self, doc: &mut Map<String, Value>) -> Result<(), DomainError> {
        if let Some(ids) = doc.remove("account_ids") {
            if doc.contains_key("accounts") {
                return Err(DomainError::field(
                    "account_ids",
                    "conflicting_fields",
                    "send either accounts or account_ids, not both",
                ));
            }
            doc.insert("accounts".into(), ids);
        }
        Ok(())
    }

    fn derived(&self, values: &Values) -> Vec<(&'static str, SqlValue)> {
        person_norms(
            &text_of(values, "family_name"),
            &text_of(values, "given_name"),
        )
    }

    fn batch_creatable(&self) -> bool {
        true
    }

    fn label_columns(&self) -> &'static [&'static str] {
        &["family_name", "given_name"]
    }

    fn label(&self, rec: &Record) -> String {
        rapport_core::names::person_name(
            rec.text("family_name").unwrap_or(""),
            rec.text("given_name").unwrap_or(""),
        )
    }

    fn personal(&self) -> bool {
        true
    }

    fn erasure(&self) -> Option<Erasure> {
        Some(Erasure {
            placeholder: "family_name",
            also: &[
                "title",
                "department",
                "consent_email",
                "consent_sms",
                "tags",
            ],
        })
    }

    fn name_sources(&self) -> &'static [NameSource] {
        &[super::common::PERSON_NAME]
    }

    fn quick_search(&self, text: &SearchText<'_>) -> Vec<Branch> {
        if text.phoneish {
            return Vec::new();
        }
        // The names of their companies (among the newest 200 accounts they match).
        let Some(accounts) = text.names(objects::ACCOUNT, &ACCOUNT_NAME, 200) else {
            return Vec::new();
        };
        let sub = Query::select()
            .column(t("contact_id"))
            .from(t("contact_accounts"))
            .and_where(Expr::col(t("account_id")).in_subquery(accounts))
            .to_owned();
        vec![Branch {
            cond: Cond::all().add(Expr::col(t("id")).in_subquery(sub)),
            fields: &["accounts"],
            reads: Some(objects::ACCOUNT),
            terms: Vec::new(),
        }]
    }

    fn duplicate_rules(&self) -> &'static [DuplicateRule] {
        &[
            DuplicateRule {
                key: "email",
                mode: RuleMode::Warn,
            },
            DuplicateRule {
                key: "phone",
                mode: RuleMode::Warn,
            },
        ]
    }
}

/// (id, name) of the contacts the actor may read, most recently changed first: choices for
/// an opportunity's contacts.
pub async fn names(
    store: &crate::Store,
    actor: &crate::access::Access,
    limit: u64,
) -> Result<Vec<(String, String)>, DomainError> {
    crate::records::query::names(
        store,
        actor,
        &CONTACTS,
        &["family_name", "given_name"],
        ("updated_at", sea_orm::sea_query::Order::Desc),
        limit,
    )
    .await
}
