//! The permission policy: what a role may do to each object type, over which records
//! (the scope), and which fields it may not see or change.
//!
//! A user's roles are merged into one [`Grants`] value: the widest scope per action wins, and a
//! field stays restricted only if every role restricts it (read-only beats hidden).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// What a permission is granted on: a record type or an administrative area.
///
/// The administrative areas are declared here. Record types are declared by their own folders in
/// the services crate (`Object::record`) and registered once at start-up
/// ([`register_records`]), so this vocabulary never has to name one: parsing a key or a plural
/// finds them through that registry.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Object {
    key: &'static str,
    plural: Option<&'static str>,
    owned: bool,
}

/// Whether a record type's records have an owner (so own, team and department scopes apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    Owned,
    Unowned,
}

static RECORDS: OnceLock<Vec<Object>> = OnceLock::new();

/// Make the record types known to [`Object::parse`], [`Object::from_plural`] and
/// [`Object::all`]. Called once with the registry of record types; later calls must name the
/// same types (a process serves one set).
pub fn register_records(types: impl IntoIterator<Item = Object>) {
    let types: Vec<Object> = types.into_iter().collect();
    let set = RECORDS.get_or_init(|| types.clone());
    assert_eq!(set, &types, "a process registers one set of record types");
}

impl Object {
    pub const USER: Object = Object::area("user");
    pub const ROLE: Object = Object::area("role");
    pub const DEPARTMENT: Object = Object::area("department");
    pub const AUDIT: Object = Object::area("audit");
    pub const SETTINGS: Object = Object::area("settings");

    /// The administrative areas, in the order the role editor shows them (after the record
    /// types).
    pub const AREAS: [Object; 5] = [
        Object::USER,
        Object::ROLE,
        Object::DEPARTMENT,
        Object::AUDIT,
        Object::SETTINGS,
    ];

    /// A record type: its key (`opportunity`), the plural its paths use (`opportunities`) and
    /// whether its records have an owner.
    pub const fn record(key: &'static str, plural: &'static str, owned: Ownership) -> Object {
        Object {
            key,
            plural: Some(plural),
            owned: matches!(owned, Ownership::Owned),
        }
    }

    const fn area(key: &'static str) -> Object {
        Object {
            key,
            plural: None,
            owned: false,
        }
    }

    /// The registered record types, in the order menus show them.
    pub fn records() -> &'static [Object] {
        RECORDS.get().map(Vec::as_slice).unwrap_or(&[])
    }

    /// Every object a role is granted on: the record types, then the administrative areas.
    pub fn all() -> Vec<Object> {
        Object::records()
            .iter()
            .copied()
            .chain(Object::AREAS)
            .collect()
    }

    pub fn key(self) -> &'static str {
        self.key
    }

    /// The plural used in paths (`/api/v1/opportunities`), for record types.
    pub fn plural(self) -> Option<&'static str> {
        self.plural
    }

    /// The record type a path's plural names.
    pub fn from_plural(s: &str) -> Option<Object> {
        Object::records()
            .iter()
            .copied()
            .find(|o| o.plural == Some(s))
    }

    pub fn parse(s: &str) -> Option<Object> {
        Object::records()
            .iter()
            .copied()
            .chain(Object::AREAS)
            .find(|o| o.key == s)
    }

    /// Objects whose records have an owner, so own/team/department scopes apply.
    pub fn is_owned(self) -> bool {
        self.owned
    }

    /// Record types kept by the record engine (lists, forms, custom fields, exports).
    pub fn is_record(self) -> bool {
        self.plural.is_some()
    }
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key)
    }
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key)
    }
}

impl Serialize for Object {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key)
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Object, D::Error> {
        let key = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Object::parse(&key)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown object `{key}`")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
    Export,
    Transfer,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Read,
        Action::Create,
        Action::Update,
        Action::Delete,
        Action::Export,
        Action::Transfer,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Export => "export",
            Action::Transfer => "transfer",
        }
    }
}

/// Which records an action reaches, narrowest first (the order matters: merging takes the max).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    #[default]
    None,
    /// Records the user owns.
    Own,
    /// Records owned by the user or anyone reporting to them, directly or not.
    Subordinates,
    /// Records owned by anyone in the user's department.
    Department,
    /// Records owned by anyone in the user's department or its sub-departments.
    DepartmentTree,
    /// Every record.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldAccess {
    Hidden,
    ReadOnly,
}

/// What one role (or the merge of a user's roles) allows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    #[serde(default)]
    pub permissions: BTreeMap<Object, BTreeMap<Action, Scope>>,
    #[serde(default)]
    pub field_rules: BTreeMap<Object, BTreeMap<String, FieldAccess>>,
}

impl Grants {
    pub fn scope(&self, object: Object, action: Action) -> Scope {
        self.permissions
            .get(&object)
            .and_then(|m| m.get(&action))
            .copied()
            .unwrap_or_default()
    }

    pub fn field_access(&self, object: Object, field: &str) -> Option<FieldAccess> {
        self.field_rules
            .get(&object)
            .and_then(|m| m.get(field))
            .copied()
    }

    pub fn can_read_field(&self, object: Object, field: &str) -> bool {
        self.field_access(object, field) != Some(FieldAccess::Hidden)
    }

    pub fn can_write_field(&self, object: Object, field: &str) -> bool {
        self.field_access(object, field).is_none()
    }

    /// Merge several roles: the widest scope wins, a field rule survives only if all roles
    /// restrict the field, and then the most permissive restriction applies.
    pub fn merge<'a>(roles: impl IntoIterator<Item = &'a Grants>) -> Grants {
        let roles: Vec<&Grants> = roles.into_iter().collect();
        let mut out = Grants::default();
        for g in &roles {
            for (obj, actions) in &g.permissions {
                let entry = out.permissions.entry(*obj).or_default();
                for (action, scope) in actions {
                    let cur = entry.entry(*action).or_default();
                    if *scope > *cur {
                        *cur = *scope;
                    }
                }
            }
        }
        if let Some((first, rest)) = roles.split_first() {
            for (obj, rules) in &first.field_rules {
                for (field, access) in rules {
                    let mut merged = Some(*access);
                    for other in rest {
                        merged = match (merged, other.field_access(*obj, field)) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            _ => None,
                        };
                    }
                    if let Some(m) = merged {
                        out.field_rules
                            .entry(*obj)
                            .or_default()
                            .insert(field.clone(), m);
                    }
                }
            }
        }
        out
    }

    /// Check a document coming from an administrator: only known actions and fields.
    pub fn validate_field_names(
        &self,
        known: impl Fn(Object, &str) -> bool,
    ) -> Result<(), crate::FieldError> {
        for (obj, rules) in &self.field_rules {
            for field in rules.keys() {
                if !known(*obj, field) {
                    return Err(crate::FieldError::new(
                        format!("field_rules.{}.{}", obj.key(), field),
                        "unknown_field",
                        format!("{} has no field named {field}", obj.key()),
                    ));
                }
            }
        }
        Ok(())
    }
}
