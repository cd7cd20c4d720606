//! The points of the one write pipeline where a record type's own rules run. The engine never
//! names a record type: it calls these hooks of the type being written, in this order,
//! whichever path writes (a single create or update, the group writer, an import, a merge,
//! the demo):
//!
//! 1. [`Hooks::normalise`] the posted document (aliases of fields);
//! 2. the engine reads and checks the values generically (types, required fields, field rules,
//!    picklists, references the actor may see);
//! 3. [`Hooks::default_owner`] when none is named;
//! 4. [`Hooks::check`] what only the type knows to refuse (rights over a field, say);
//! 5. [`Hooks::load`] what the type's rules read from the database, once per write or batch,
//!    then [`Hooks::apply`] them to the values (derive, validate, refuse);
//! 6. in the write's transaction, [`Hooks::before_insert`] (a document number), the row with
//!    [`Hooks::derived`] columns, then [`Hooks::after_write`] (rows that follow the record:
//!    a stage history, a contract's received amount);
//! 7. on delete, [`Hooks::delete_blocker`] and, in the transaction, [`Hooks::before_delete`]
//!    and [`Hooks::after_delete`] around the row's removal.
//!
//! Every hook has a default that does nothing; a type implements what its rules need.

use super::Record;
use crate::access::Access;
use crate::Store;
use chrono::{DateTime, Utc};
use rapport_core::fields::FieldValue;
use rapport_core::input::Input;
use rapport_core::DomainError;
use sea_orm::sea_query::{Condition, Value as SqlValue};
use sea_orm::DatabaseTransaction;
use serde_json::{Map, Value};
use std::any::Any;
use std::collections::BTreeMap;

/// A record's values by field name.
pub type Values = BTreeMap<&'static str, FieldValue>;

/// Who writes, and where.
#[derive(Clone, Copy)]
pub struct Cx<'a> {
    pub store: &'a Store,
    pub actor: &'a Access,
}

/// What a type's rules read from the database before a write ([`Hooks::load`]), handed back to
/// [`Hooks::apply`]: the type's own value, or nothing.
#[derive(Default)]
pub struct Loaded(Option<Box<dyn Any + Send + Sync>>);

impl Loaded {
    pub fn of<T: Any + Send + Sync>(value: T) -> Loaded {
        Loaded(Some(Box::new(value)))
    }

    /// The value a type's [`Hooks::load`] put in, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.as_ref().and_then(|b| b.downcast_ref::<T>())
    }
}

/// One write as the rules see it: the record before (none for a create), the values after the
/// caller's input is merged in (the rules may change them), and what the caller sent.
pub struct Change<'a> {
    pub before: Option<&'a Record>,
    pub values: &'a mut Values,
    pub input: &'a Input,
    pub now: DateTime<Utc>,
}

/// What a type's rules decided that the write must also do (passed to
/// [`Hooks::after_write`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effects {
    /// The record enters a stage with this write (an opportunity's stage history).
    pub enters_stage: bool,
}

/// A written record, as [`Hooks::after_write`] sees it.
pub struct Written<'a> {
    pub id: &'a str,
    pub before: Option<&'a Record>,
    pub values: &'a Values,
    pub effects: Effects,
    pub actor_id: &'a str,
    pub now: DateTime<Utc>,
}

/// One way a quick search matches; a prefix range also names its column and prefix, so the
/// search can choose how to read it (see `records::search`).
/// What erasing a person's record clears besides its personal and sensitive fields (which
/// always go), and which field keeps a placeholder so the row still shows in lists.
#[derive(Debug, Clone, Copy)]
pub struct Erasure {
    pub placeholder: &'static str,
    pub also: &'static [&'static str],
}

pub struct Branch {
    pub cond: Condition,
    /// The fields whose values this branch compares: it is left out for an actor who may not
    /// read one of them.
    pub fields: &'static [&'static str],
    /// Another record type whose values the branch compares (a contact found by the names of
    /// its accounts): left out for an actor who may not read that type.
    pub reads: Option<rapport_core::Object>,
    /// A name-index branch: the blind tokens of the terms a record must all hold, the first
    /// the one read through the index (newest first, as many as the page needs). `cond` says
    /// the same for the paths that read the branches as one condition.
    pub terms: Vec<String>,
}

impl Branch {
    /// Rows whose `column` starts with `prefix` (an index range).
    pub fn prefix(column: &'static str, prefix: &str, fields: &'static [&'static str]) -> Branch {
        Branch {
            cond: super::query::prefix_range(column, prefix),
            fields,
            reads: None,
            terms: Vec::new(),
        }
    }

    /// Rows whose `column` equals `value`.
    pub fn equal(column: &'static str, value: String, fields: &'static [&'static str]) -> Branch {
        Branch {
            cond: Condition::all().add(
                sea_orm::sea_query::Expr::col(sea_orm::sea_query::Alias::new(column)).eq(value),
            ),
            fields,
            reads: None,
            terms: Vec::new(),
        }
    }
}

/// A text of a record that quick search finds by its words and, in Chinese, by any two
/// neighbouring characters (the name index, ADR 0041): its terms are blind-index tokens of
/// `kind`, kept with the record's other tokens and rewritten with them.
pub struct NameSource {
    /// The blind-index kind of its terms (stable: stored tokens depend on it).
    pub kind: &'static str,
    /// The fields the text is made of: a search through it is left out for an actor who may
    /// not read one of them.
    pub fields: &'static [&'static str],
    /// The text indexed, from a record's values; `None`: the fields' texts, space separated.
    pub text: Option<fn(&Values) -> String>,
    /// A company's name: a search leaves out the legal form it ends with (有限公司, Ltd.).
    pub company: bool,
}

impl NameSource {
    /// The text of `fields`.
    pub const fn fields(kind: &'static str, fields: &'static [&'static str]) -> NameSource {
        NameSource {
            kind,
            fields,
            text: None,
            company: false,
        }
    }

    /// A company name held in `field`.
    pub const fn company(kind: &'static str, fields: &'static [&'static str]) -> NameSource {
        NameSource {
            kind,
            fields,
            text: None,
            company: true,
        }
    }

    /// The text of a record's values this source indexes.
    pub fn text_of(&self, values: &Values) -> String {
        if let Some(f) = self.text {
            return f(values);
        }
        let mut out = String::new();
        for name in self.fields {
            if let Some(FieldValue::Text(t)) = values.get(name) {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(t);
            }
        }
        out
    }
}

/// A duplicate rule of a type and how strict it is by default.
#[derive(Debug, Clone, Copy)]
pub struct DuplicateRule {
    pub key: &'static str,
    pub mode: super::duplicates::RuleMode,
}

/// The rules of one record type.
#[async_trait::async_trait]
pub trait Hooks: Send + Sync {
    /// Rewrite the posted document before it is read (aliases of fields).
    fn normalise(&self, _doc: &mut Map<String, Value>) -> Result<(), DomainError> {
        Ok(())
    }

    /// The owner a new record gets when none is named (`None`: the creator).
    async fn default_owner(
        &self,
        _cx: Cx<'_>,
        _input: &Input,
    ) -> Result<Option<String>, DomainError> {
        Ok(None)
    }

    /// What only the type knows to refuse about the caller's input (a right over one field),
    /// with the owner the record has or gets.
    async fn check(
        &self,
        _cx: Cx<'_>,
        _input: &Input,
        _before: Option<&Record>,
        _owner: Option<&str>,
    ) -> Result<(), DomainError> {
        Ok(())
    }

    /// Read what [`Hooks::apply`] needs, once per write or batch (`input` is `None` for a
    /// batch, whose rows are not known yet).
    async fn load(
        &self,
        _cx: Cx<'_>,
        _input: Option<&Input>,
        _before: Option<&Record>,
    ) -> Result<Loaded, DomainError> {
        Ok(Loaded::default())
    }

    /// Apply the type's rules to the values about to be written: fill in, derive, check,
    /// refuse.
    fn apply(&self, _loaded: &Loaded, _change: Change<'_>) -> Result<Effects, DomainError> {
        Ok(Effects::default())
    }

    /// Columns kept in step with the values (normalised names for search and duplicates).
    fn derived(&self, _values: &Values) -> Vec<(&'static str, SqlValue)> {
        Vec::new()
    }

    /// Values set in the creating transaction, before the row is written (a number).
    async fn before_insert(
        &self,
        _tx: &DatabaseTransaction,
        _values: &mut Values,
        _now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        Ok(())
    }

    /// Rows that follow a written record, in its transaction.
    async fn after_write(
        &self,
        _tx: &DatabaseTransaction,
        _written: &Written<'_>,
    ) -> Result<(), DomainError> {
        Ok(())
    }

    /// Whether the fast batch path may create records of the type (no numbers, no
    /// references it does not check).
    fn batch_creatable(&self) -> bool {
        false
    }

    /// Why a record cannot be deleted, if something depends on it.
    async fn delete_blocker(
        &self,
        _store: &Store,
        _id: &str,
    ) -> Result<Option<String>, DomainError> {
        Ok(None)
    }

    /// What deleting a record does to others before its row goes, in its transaction (clear
    /// references to it).
    async fn before_delete(
        &self,
        _tx: &DatabaseTransaction,
        _before: &Record,
    ) -> Result<(), DomainError> {
        Ok(())
    }

    /// What deleting a record does to others once its row is gone, in its transaction.
    async fn after_delete(
        &self,
        _tx: &DatabaseTransaction,
        _before: &Record,
    ) -> Result<(), DomainError> {
        Ok(())
    }

    /// Values a new record takes when its creator gives none (the new-record form shows them
    /// already filled in; a create without them gets them).
    fn new_defaults(&self) -> Vec<(&'static str, FieldValue)> {
        Vec::new()
    }

    /// A short label for lists of related records, duplicate hints and the audit trail.
    fn label(&self, rec: &Record) -> String {
        rec.text("name").unwrap_or("").to_string()
    }

    /// The columns whose values, joined, name a record where only its row is at hand (the
    /// records an activity list links to).
    fn label_columns(&self) -> &'static [&'static str] {
        &["name"]
    }

    /// Whether a record names a person (its label and searches are personal data, kept out of
    /// the audit trail).
    fn personal(&self) -> bool {
        false
    }

    /// Whether files can be imported into the type (rows matched to existing records on its
    /// duplicate rules' keys).
    fn importable(&self) -> bool {
        false
    }

    /// Whether activities (calls, meetings, tasks, notes...) attach to the type's records, and so
    /// whether its records have a timeline.
    fn has_activities(&self) -> bool {
        false
    }

    /// How a record of the type is erased under privacy law, if it holds a person.
    fn erasure(&self) -> Option<Erasure> {
        None
    }

    /// Ways a quick search matches records of the type beyond the blind-index tokens of its
    /// emails and phones and the terms of its [`NameSource`]s (codes, numbers, related
    /// records).
    fn quick_search(&self, _text: &SearchText<'_>) -> Vec<Branch> {
        Vec::new()
    }

    /// The texts of a record found through the name index (names, company names).
    fn name_sources(&self) -> &'static [NameSource] {
        &[]
    }

    /// How duplicates of the type are found and merged; `None`: its records cannot be merged.
    fn merging(&self) -> Option<&'static super::merging::Merging> {
        None
    }

    /// The type's duplicate rules with their default modes.
    fn duplicate_rules(&self) -> &'static [DuplicateRule] {
        &[]
    }

    /// The keys `rule` compares for one record's values, when the type keeps the rule in a
    /// column of its own (rules on emails and phones go through the search index), as
    /// `(column, keys)`: records whose `column` holds one of the keys are duplicates.
    fn duplicate_keys(
        &self,
        _keys: &crate::Keyring,
        _rule: &str,
        _values: &Values,
    ) -> Option<(&'static str, Vec<String>)> {
        None
    }
}

/// A quick search's text, read once for every branch.
pub struct SearchText<'a> {
    /// As typed, trimmed.
    pub q: &'a str,
    pub keys: &'a crate::Keyring,
    /// The text looks like a phone number (digits and `+-() `).
    pub phoneish: bool,
}

impl SearchText<'_> {
    /// The blind tokens of the terms a record's `source` must all hold to match, the most
    /// selective first (the longest term); empty when the text has nothing to search by.
    pub fn terms(&self, source: &NameSource) -> Vec<String> {
        let mut terms = if source.company {
            rapport_core::search_terms::company_query_terms(self.q)
        } else {
            rapport_core::search_terms::query_terms(self.q)
        };
        // Stable: among terms of one length the first typed leads.
        terms.sort_by_key(|t| std::cmp::Reverse(t.chars().count()));
        terms
            .iter()
            .map(|t| self.keys.blind(source.kind, t))
            .collect()
    }

    /// The ids of up to `limit` records of `object` whose `source` matches the text, or
    /// `None` when the text has nothing to search by.
    pub fn names(
        &self,
        object: rapport_core::Object,
        source: &NameSource,
        limit: u64,
    ) -> Option<sea_orm::sea_query::SelectStatement> {
        let terms = self.terms(source);
        let (first, rest) = terms.split_first()?;
        let mut q = rapport_db::search_index::lookup(Some(object.key()), vec![first.clone()]);
        q.column(sea_orm::sea_query::Alias::new("record_id"));
        for term in rest {
            q.and_where(rapport_db::search_index::holds(
                object.key(),
                term,
                "search_tokens",
            ));
        }
        Some(q.limit(limit).to_owned())
    }
}
