//! A record as one reader sees it, written straight to JSON. A list page is serialised from
//! its records without building a `serde_json::Value` tree per record (the trees cost more
//! than reading the page, ADR 0014); [`super::to_json`] is the same view as a tree.

use super::{ObjectDef, Record};
use rapport_core::fields::{api_time, FieldKind, FieldSpec, FieldValue};
use rapport_core::{Grants, Principal};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// Which fields of one record type a reader sees, decided once for many records.
pub struct Lens<'a> {
    def: &'a ObjectDef,
    grants: &'a Grants,
    fields: Vec<&'static FieldSpec>,
}

impl<'a> Lens<'a> {
    pub fn new(def: &'a ObjectDef, actor: &'a Principal) -> Lens<'a> {
        let fields = def
            .fields
            .iter()
            .filter(|f| actor.grants.can_read_field(def.object, f.name))
            .collect();
        Lens {
            def,
            grants: &actor.grants,
            fields,
        }
    }

    /// Does the reader see the field (built-in or custom) called `name`?
    pub(super) fn sees(&self, name: &str) -> bool {
        self.grants.can_read_field(self.def.object, name)
    }

    /// `rec` through this lens.
    pub fn show<'r>(&'r self, rec: &'r Record) -> Shown<'r> {
        Shown { lens: self, rec }
    }
}

/// A record through a [`Lens`]: hidden fields left out.
pub struct Shown<'a> {
    lens: &'a Lens<'a>,
    rec: &'a Record,
}

impl Shown<'_> {
    /// The same view as a `Value` tree.
    pub fn to_json(&self) -> serde_json::Value {
        // Cannot fail: the view writes strings, numbers and maps with string keys.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl Serialize for Shown<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Shown { lens, rec } = self;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &rec.id)?;
        for f in &lens.fields {
            let v = rec.values.get(f.name);
            if f.kind == FieldKind::AccountLinks {
                if let Some(FieldValue::Links(links)) = v {
                    m.serialize_entry("account_ids", &AccountIds(links))?;
                }
            }
            m.serialize_entry(f.name, v.unwrap_or(&FieldValue::Null))?;
        }
        for (k, v) in &rec.custom {
            if lens.sees(k) {
                m.serialize_entry(k, v)?;
            }
        }
        if !rec.unreadable.is_empty() {
            let seen: Vec<&str> = rec
                .unreadable
                .iter()
                .copied()
                .filter(|f| *f == super::unreadable::CUSTOM || lens.sees(f))
                .collect();
            m.serialize_entry(super::unreadable::KEY, &seen)?;
        }
        m.serialize_entry("created_at", &api_time(&rec.created_at))?;
        m.serialize_entry("updated_at", &api_time(&rec.updated_at))?;
        m.end()
    }
}

/// A contact's account ids, beside its links.
pub(super) struct AccountIds<'a>(pub(super) &'a [rapport_core::fields::AccountLink]);

impl Serialize for AccountIds<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for l in self.0 {
            seq.serialize_element(&l.account_id)?;
        }
        seq.end()
    }
}
