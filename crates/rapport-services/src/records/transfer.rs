//! Transferring records to a new owner, one or many, with a reason; audited per record.

use super::hooks::Effects;
use super::{
    check_references, diff, find_in_scope_fresh, forbidden, write_changes, Changes, ObjectDef,
};
use crate::access::Access;
use crate::Store;
use rapport_core::fields::FieldValue;
use rapport_core::input::Input;
use rapport_core::{Action, DomainError};
use rapport_db::db_err;
use serde_json::json;

/// Transfer records to a new owner, with a reason (audited per record).
pub async fn transfer(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    ids: &[String],
    new_owner: &str,
    reason: &str,
) -> Result<usize, DomainError> {
    let tf = actor
        .owners(def.object, Action::Transfer)
        .ok_or_else(|| forbidden(def, Action::Transfer))?;
    let Some(owner_spec) = def.field("owner_id") else {
        return Err(DomainError::field(
            "owner_id",
            "no_owner",
            format!("{} records have no owner to transfer", def.key()),
        ));
    };
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(DomainError::field(
            "reason",
            "required",
            "a transfer needs a reason (at most 500 characters)",
        ));
    }
    if ids.is_empty() || ids.len() > 1000 {
        return Err(DomainError::field(
            "ids",
            "invalid",
            "transfer 1 to 1000 records at a time",
        ));
    }
    if !tf.allows(Some(new_owner)) {
        return Err(DomainError::field(
            "owner_id",
            "owner_out_of_scope",
            "you may not transfer records to that owner",
        ));
    }
    let mut input = Input::default();
    input.set(owner_spec, FieldValue::Text(new_owner.to_string()));
    check_references(store, actor, def, &input, None, &[]).await?;
    let read = actor
        .owners(def.object, Action::Read)
        .ok_or(DomainError::NotFound)?;
    let mut records = Vec::new();
    for id in ids {
        let rec = find_in_scope_fresh(store, def, &read, id)
            .await?
            .ok_or(DomainError::NotFound)?;
        if !tf.allows(rec.owner_id()) {
            return Err(forbidden(def, Action::Transfer));
        }
        records.push(rec);
    }
    let dept = actor.department_of(store, new_owner).await?;
    let mut n = 0;
    for rec in records {
        if rec.owner_id() == Some(new_owner) {
            continue;
        }
        let mut after = rec.values.clone();
        after.insert("owner_id", FieldValue::Text(new_owner.to_string()));
        after.insert(
            "department_id",
            dept.clone().map_or(FieldValue::Null, FieldValue::Text),
        );
        let changed = diff(def, &rec.values, &after);
        // Each record in a transaction of its own, as before.
        let tx = store.db.begin().await?;
        write_changes(
            &tx,
            store,
            actor,
            Changes {
                def,
                before: &rec,
                after: &after,
                changed,
                verb: "transferred",
                extra: json!({"reason": reason}),
                custom_after: None,
                effects: Effects::default(),
            },
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        n += 1;
    }
    Ok(n)
}
