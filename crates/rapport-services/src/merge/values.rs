//! The survivor's values after a merge: per field, the chosen record's value; without a
//! choice, the survivor's own value, or the first merged record's where the survivor has
//! none; tags, emails and phones of all records together, so no way of reaching the
//! customer is lost.

use crate::access::Access;
use crate::records::{ObjectDef, Record};
use crate::Store;
use rapport_core::custom::CustomField;
use rapport_core::fields::{FieldKind, FieldSpec, FieldValue};
use rapport_core::{Action, DomainError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Field name → id of the record whose value the survivor takes.
pub type Choices = BTreeMap<String, String>;

/// The built-in fields a merge lets the actor choose: those they may read and change, other
/// than system fields and links (links move with the records).
pub fn mergeable_fields(def: &ObjectDef, actor: &Access) -> Vec<&'static FieldSpec> {
    def.fields
        .iter()
        .filter(|f| {
            !f.system
                && f.name != "department_id"
                && !matches!(
                    f.kind,
                    FieldKind::AccountLinks | FieldKind::ContactLinks | FieldKind::LineItems
                )
                && actor.grants.can_read_field(def.object, f.name)
                && actor.grants.can_write_field(def.object, f.name)
        })
        .collect()
}

fn mergeable_custom<'a>(
    def: &ObjectDef,
    actor: &Access,
    defs: &'a [CustomField],
) -> Vec<&'a CustomField> {
    defs.iter()
        .filter(|d| {
            actor.grants.can_read_field(def.object, &d.key)
                && actor.grants.can_write_field(def.object, &d.key)
        })
        .collect()
}

pub(super) struct Plan {
    pub after: BTreeMap<&'static str, FieldValue>,
    pub custom_after: Option<Map<String, Value>>,
    pub custom_changed: Vec<String>,
}

fn is_list(kind: &FieldKind) -> bool {
    matches!(
        kind,
        FieldKind::Tags | FieldKind::EmailList | FieldKind::PhoneList
    )
}

fn list_cap(kind: &FieldKind) -> usize {
    match kind {
        FieldKind::Tags => 50,
        _ => 20,
    }
}

/// The list kind that keeps extra values of a single-value kind.
fn list_for(kind: &FieldKind) -> Option<FieldKind> {
    match kind {
        FieldKind::Email => Some(FieldKind::EmailList),
        FieldKind::Phone => Some(FieldKind::PhoneList),
        _ => None,
    }
}

fn push_unique(list: &mut Vec<String>, items: &[String], cap: usize) {
    for i in items {
        if list.len() < cap && !list.contains(i) {
            list.push(i.clone());
        }
    }
}

pub(super) async fn plan(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    survivor: &Record,
    merged: &[Record],
    choices: &Choices,
) -> Result<Plan, DomainError> {
    let fields = mergeable_fields(def, actor);
    let defs = crate::custom_fields::active(store, def.object).await?;
    let custom = mergeable_custom(def, actor, &defs);
    let all: Vec<&Record> = std::iter::once(survivor).chain(merged).collect();
    let record_of = |field: &str, id: &str| {
        all.iter().copied().find(|r| r.id == id).ok_or_else(|| {
            DomainError::field(
                format!("fields.{field}"),
                "not_in_merge",
                format!("{field} must take its value from one of the merged records"),
            )
        })
    };
    for (field, id) in choices {
        record_of(field, id)?;
        if !fields.iter().any(|f| f.name == field) && !custom.iter().any(|d| &d.key == field) {
            return Err(DomainError::field(
                format!("fields.{field}"),
                "not_mergeable",
                format!("{field} is not a field you can choose in a merge"),
            ));
        }
    }

    let mut after = survivor.values.clone();
    for f in &fields {
        if let Some(id) = choices.get(f.name) {
            let v = record_of(f.name, id)?
                .values
                .get(f.name)
                .cloned()
                .unwrap_or(FieldValue::Null);
            after.insert(f.name, v);
        } else if is_list(&f.kind) {
            let mut list = Vec::new();
            for r in &all {
                if let Some(FieldValue::List(l)) = r.values.get(f.name) {
                    push_unique(&mut list, l, list_cap(&f.kind));
                }
            }
            after.insert(
                f.name,
                if list.is_empty() {
                    FieldValue::Null
                } else {
                    FieldValue::List(list)
                },
            );
        } else if survivor.values.get(f.name).is_none_or(FieldValue::is_null) {
            if let Some(v) = merged
                .iter()
                .filter_map(|r| r.values.get(f.name))
                .find(|v| !v.is_null())
            {
                after.insert(f.name, v.clone());
            }
        }
    }
    // Emails and phones that lost to another record's go to the record's list of others.
    for f in &fields {
        let Some(list_kind) = list_for(&f.kind) else {
            continue;
        };
        let Some(list_field) = fields
            .iter()
            .find(|l| l.kind == list_kind && !choices.contains_key(l.name))
        else {
            continue;
        };
        let kept = after.get(f.name).cloned();
        let mut list = match after.get(list_field.name) {
            Some(FieldValue::List(l)) => l.clone(),
            _ => Vec::new(),
        };
        for r in &all {
            if let Some(FieldValue::Text(v)) = r.values.get(f.name) {
                if !v.is_empty() && kept.as_ref() != Some(&FieldValue::Text(v.clone())) {
                    push_unique(&mut list, std::slice::from_ref(v), list_cap(&list_kind));
                }
            }
        }
        if !list.is_empty() {
            after.insert(list_field.name, FieldValue::List(list));
        }
    }
    // Activity times cover the activities that moved.
    if def.field("last_activity_at").is_some() {
        let latest = all
            .iter()
            .filter_map(|r| match r.values.get("last_activity_at") {
                Some(FieldValue::DateTime(t)) => Some(*t),
                _ => None,
            })
            .max();
        after.insert(
            "last_activity_at",
            latest.map_or(FieldValue::Null, FieldValue::DateTime),
        );
    }
    if def.field("next_activity_at").is_some() {
        let next = all
            .iter()
            .filter_map(|r| match r.values.get("next_activity_at") {
                Some(FieldValue::DateTime(t)) => Some(*t),
                _ => None,
            })
            .min();
        after.insert(
            "next_activity_at",
            next.map_or(FieldValue::Null, FieldValue::DateTime),
        );
    }
    // The owner comes with its department; changing it needs the transfer right.
    if let Some(id) = choices.get("owner_id") {
        let from = record_of("owner_id", id)?;
        if from.owner_id() != survivor.owner_id() {
            let tf = actor.owners(def.object, Action::Transfer);
            if !tf.is_some_and(|f| f.allows(survivor.owner_id()) && f.allows(from.owner_id())) {
                return Err(DomainError::field(
                    "fields.owner_id",
                    "owner_out_of_scope",
                    "taking another record's owner needs the right to transfer to that owner",
                ));
            }
            after.insert(
                "department_id",
                from.values
                    .get("department_id")
                    .cloned()
                    .unwrap_or(FieldValue::Null),
            );
        }
    }
    // What only the type knows to refuse (protecting an account from the pool), as for an
    // update that sets the values the merge takes from the other records.
    let mut taken = rapport_core::input::Input::default();
    for spec in def.fields {
        if let Some(v) = after
            .get(spec.name)
            .filter(|v| survivor.values.get(spec.name) != Some(*v))
        {
            taken.set(spec, v.clone());
        }
    }
    def.hooks
        .check(
            crate::records::hooks::Cx { store, actor },
            &taken,
            Some(survivor),
            survivor.owner_id(),
        )
        .await?;

    let mut custom_after = survivor.custom.clone();
    let mut custom_changed = Vec::new();
    for d in &custom {
        let value = match choices.get(&d.key) {
            Some(id) => record_of(&d.key, id)?.custom.get(&d.key).cloned(),
            None if survivor.custom.get(&d.key).is_none_or(Value::is_null) => merged
                .iter()
                .filter_map(|r| r.custom.get(&d.key))
                .find(|v| !v.is_null())
                .cloned(),
            None => continue,
        };
        let value = value.unwrap_or(Value::Null);
        if survivor.custom.get(&d.key).unwrap_or(&Value::Null) != &value {
            custom_changed.push(d.key.clone());
            if value.is_null() {
                custom_after.remove(&d.key);
            } else {
                custom_after.insert(d.key.clone(), value);
            }
        }
    }
    Ok(Plan {
        after,
        custom_after: (!custom_changed.is_empty()).then_some(custom_after),
        custom_changed,
    })
}
