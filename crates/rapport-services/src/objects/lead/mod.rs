//! Leads (线索): prospects not yet qualified. New leads start as "new"; "converted" is
//! reached only by converting ([`convert`]); a disqualified lead says why; a converted lead no
//! longer changes.

pub mod convert;
mod fields;

use super::common::{person_norms, text_of};
use crate::records::duplicates::RuleMode;
use crate::records::hooks::{
    Change, DuplicateRule, Effects, Erasure, Hooks, Loaded, NameSource, Values,
};
use crate::records::merging::{Merging, Reference};
use crate::records::{ObjectDef, Record};
use rapport_core::fields::FieldValue;
use rapport_core::permission::Ownership;
use rapport_core::{validate, DomainError, FieldError, Object};
use sea_orm::sea_query::Value as SqlValue;

pub use fields::FIELDS;

/// The permission key of lead records (roles grant on it; paths use its plural).
pub const LEAD: Object = Object::record("lead", "leads", Ownership::Owned);

pub const LEADS: ObjectDef = ObjectDef {
    object: LEAD,
    table: "leads",
    fields: FIELDS,
    hooks: &Rules,
};

/// Leads sharing an email, mobile or name, or whose family and given names are each other's,
/// are likely duplicates; a merge moves the deals they became to the survivor.
const MERGING: Merging = Merging {
    exact: super::common::PERSON_DUPLICATES,
    loose: super::common::PERSON_LOOSE,
    references: &[Reference::id("opportunities", "lead_id")],
    self_refs: &[],
};

struct Rules;

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

    fn apply(&self, _loaded: &Loaded, change: Change<'_>) -> Result<Effects, DomainError> {
        let Change {
            before,
            values,
            input,
            ..
        } = change;
        if before.is_some_and(|b| b.text("status") == Some("converted")) {
            return Err(DomainError::Conflict(
                "this lead has been converted and can no longer be changed".into(),
            ));
        }
        if text_of(values, "status").is_empty() {
            values.insert("status", FieldValue::Text("new".into()));
        }
        let status = text_of(values, "status");
        if status == "converted" && input.get("status").is_some() {
            return Err(DomainError::field(
                "status",
                "convert_instead",
                "a lead becomes converted by converting it",
            ));
        }
        if status == "disqualified" {
            if text_of(values, "disqualify_reason").is_empty() {
                return Err(DomainError::Validation(vec![FieldError::new(
                    "disqualify_reason",
                    "required",
                    "say why the lead is disqualified",
                )]));
            }
        } else {
            values.insert("disqualify_reason", FieldValue::Null);
        }
        Ok(Effects::default())
    }

    fn derived(&self, values: &Values) -> Vec<(&'static str, SqlValue)> {
        let company = validate::company_name_norm(&text_of(values, "company"));
        let mut cols = person_norms(
            &text_of(values, "family_name"),
            &text_of(values, "given_name"),
        );
        cols.push((
            "company_norm",
            SqlValue::String(Some(company).filter(|c| !c.is_empty()).map(Box::new)),
        ));
        cols
    }

    fn batch_creatable(&self) -> bool {
        true
    }

    fn label_columns(&self) -> &'static [&'static str] {
        &["family_name", "given_name"]
    }

    fn label(&self, rec: &Record) -> String {
        let person = rapport_core::names::person_name(
            rec.text("family_name").unwrap_or(""),
            rec.text("given_name").unwrap_or(""),
        );
        match rec.text("company").filter(|c| !c.is_empty()) {
            Some(c) => format!("{person} ({c})"),
            None => person,
        }
    }

    fn personal(&self) -> bool {
        true
    }

    fn erasure(&self) -> Option<Erasure> {
        Some(Erasure {
            placeholder: "family_name",
            also: &["title", "province", "city", "tags", "description"],
        })
    }

    fn name_sources(&self) -> &'static [NameSource] {
        const COMPANY: NameSource = NameSource::company("term.company", &["company"]);
        &[super::common::PERSON_NAME, COMPANY]
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
