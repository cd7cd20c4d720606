//! The record types the engine serves, as the crate root hands them to the [`Store`]
//! (`crate::objects::TYPES`). The engine and the settings below it find a type here, never by
//! naming it, so a new type is registered in one place.
//!
//! [`Store`]: crate::Store

use super::ObjectDef;
use rapport_core::fields::FieldSpec;
use rapport_core::Object;

/// Every record type, in the order menus and pickers show them.
#[derive(Clone, Copy)]
pub struct RecordTypes(&'static [&'static ObjectDef]);

impl std::fmt::Debug for RecordTypes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|d| d.plural()))
            .finish()
    }
}

impl RecordTypes {
    pub const fn new(all: &'static [&'static ObjectDef]) -> RecordTypes {
        RecordTypes(all)
    }

    pub fn all(&self) -> &'static [&'static ObjectDef] {
        self.0
    }

    /// The record type of an object, if it is one.
    pub fn def_of(&self, object: Object) -> Option<&'static ObjectDef> {
        self.0.iter().copied().find(|d| d.object == object)
    }

    /// The record type whose permission key is `key` (a field kind that names its target type
    /// — `AccountRef`, `ContactLinks` — finds it here).
    pub fn by_key(&self, key: &str) -> Option<&'static ObjectDef> {
        self.0.iter().copied().find(|d| d.object.key() == key)
    }

    /// The record type a path's plural names (`/api/v1/opportunities`).
    pub fn by_plural(&self, plural: &str) -> Option<&'static ObjectDef> {
        self.0.iter().copied().find(|d| d.plural() == plural)
    }

    /// The built-in field `name` of `object` records, if it has one.
    pub fn field(&self, object: Object, name: &str) -> Option<&'static FieldSpec> {
        self.def_of(object).and_then(|d| d.field(name))
    }

    /// Whether a field rule may name this field (any built-in or custom field of a record
    /// type).
    pub fn is_known_field(&self, object: Object, name: &str) -> bool {
        self.field(object, name).is_some()
            || (self.def_of(object).is_some() && rapport_core::custom::is_custom_key(name))
    }
}
