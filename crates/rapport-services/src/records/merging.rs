//! What a record type declares to be mergeable ([`Hooks::merging`](super::hooks::Hooks)): how
//! the duplicate scan finds likely duplicates among its records, and which rows elsewhere
//! point at one of them (a merge moves those to the survivor, its undo moves them back).
//! The merge service reads only this; it names no record type.

use serde::Serialize;

/// Why two records look alike, and how sure that makes us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    CreditCode,
    Email,
    Phone,
    Name,
    SwappedName,
    SimilarName,
}

impl Reason {
    pub fn key(self) -> &'static str {
        match self {
            Reason::CreditCode => "credit_code",
            Reason::Email => "email",
            Reason::Phone => "phone",
            Reason::Name => "name",
            Reason::SwappedName => "swapped_name",
            Reason::SimilarName => "similar_name",
        }
    }
}

/// A looser comparison than equal columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loose {
    /// People whose family and given names were entered the other way round ("Zhang San" /
    /// "San Zhang"): a join on the `family_norm` and `given_norm` columns.
    SwappedNames,
    /// Company names that differ a little (华为技术有限公司 / 华为技术（深圳）): compared within
    /// blocks of `name_norm` sharing their first characters.
    SimilarNames,
}

/// How a column refers to the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// The record's id.
    Id,
    /// JSON text with the id somewhere inside (contact links, attendees).
    Json,
}

/// A column of some table that points at records of the type.
#[derive(Debug, Clone, Copy)]
pub struct Reference {
    pub table: &'static str,
    pub column: &'static str,
    pub holds: Holds,
    /// The row's key columns (besides `column` itself).
    pub key: &'static [&'static str],
    /// `(column, value)` a row must also have, for tables that point at several types.
    pub of_type: Option<(&'static str, &'static str)>,
    /// The table holds one row per pair (`column`, `key`).
    pub unique_pair: bool,
}

impl Reference {
    /// A column holding the id, in a table keyed by `id`.
    pub const fn id(table: &'static str, column: &'static str) -> Reference {
        Reference {
            table,
            column,
            holds: Holds::Id,
            key: &["id"],
            of_type: None,
            unique_pair: false,
        }
    }

    /// A link table row keyed by the pair (`column`, `other`): a repeat of a pair the survivor
    /// already has is dropped.
    pub const fn pair(
        table: &'static str,
        column: &'static str,
        other: &'static [&'static str],
    ) -> Reference {
        Reference {
            table,
            column,
            holds: Holds::Id,
            key: other,
            of_type: None,
            unique_pair: true,
        }
    }

    /// JSON text holding the id, in a table keyed by `id`.
    pub const fn json(table: &'static str, column: &'static str) -> Reference {
        Reference {
            table,
            column,
            holds: Holds::Json,
            key: &["id"],
            of_type: None,
            unique_pair: false,
        }
    }

    /// A column holding the id of a record of the type named in `type_col`.
    pub const fn typed(
        table: &'static str,
        column: &'static str,
        type_col: &'static str,
        ty: &'static str,
    ) -> Reference {
        Reference {
            table,
            column,
            holds: Holds::Id,
            key: &["id"],
            of_type: Some((type_col, ty)),
            unique_pair: false,
        }
    }
}

/// A mergeable record type's declaration.
#[derive(Debug, Clone, Copy)]
pub struct Merging {
    /// Columns whose equal values make two records likely duplicates, with the reason and
    /// the confidence (0-100) that gives.
    pub exact: &'static [(&'static str, Reason, u8)],
    /// A looser comparison and its confidence.
    pub loose: Option<(Loose, u8)>,
    /// Rows of other tables that point at the type's records. Activities logged on them,
    /// notifications about them and earlier merges into them are moved for every type; they
    /// are not listed here.
    pub references: &'static [Reference],
    /// The type's own fields naming another record of the type (a parent account): cleared
    /// on the survivor when they would name itself, and on an undo when the record is gone.
    pub self_refs: &'static [&'static str],
}
