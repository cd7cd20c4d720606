//! Who may see and change an activity (ADR 0006): an activity is visible to whoever may read
//! the record it is linked to, and to its owner and assignee; it may be changed by its owner or
//! assignee, or by whoever may update the linked record.

use crate::records::{self, ObjectDef, Record, ACCOUNTS, CONTACTS};
use crate::scope::{owner_filter, OwnerFilter};
use crate::Store;
use rapport_core::{Action, DomainError, Principal};
use sea_orm::sea_query::{Alias, Cond, Condition, Expr, Query};

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// The record type behind an activity's `related_type`.
pub fn def_of(related_type: &str) -> Option<&'static ObjectDef> {
    match related_type {
        "account" => Some(&ACCOUNTS),
        "contact" => Some(&CONTACTS),
        _ => None,
    }
}

/// The linked record, if the actor may read it.
pub async fn readable_parent(
    store: &Store,
    actor: &Principal,
    related_type: &str,
    related_id: &str,
) -> Result<Option<Record>, DomainError> {
    let Some(def) = def_of(related_type) else {
        return Ok(None);
    };
    match records::read_record(store, actor, def, related_id).await {
        Ok(r) => Ok(Some(r)),
        Err(DomainError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether the actor may update the linked record (and so every activity on it).
pub async fn may_update_parent(
    store: &Store,
    actor: &Principal,
    related_type: &str,
    parent: &Record,
) -> Result<bool, DomainError> {
    let Some(def) = def_of(related_type) else {
        return Ok(false);
    };
    Ok(owner_filter(store, actor, def.object, Action::Update)
        .await?
        .is_some_and(|f| f.allows(parent.owner_id())))
}

/// The SQL condition selecting the activities the actor may see, applied inside every query
/// (lists, counts, timelines) so nothing outside it is ever read.
pub async fn visible(store: &Store, actor: &Principal) -> Result<Condition, DomainError> {
    let mut any = Cond::any()
        .add(Expr::col((t("activities"), t("owner_id"))).eq(actor.user_id.clone()))
        .add(Expr::col((t("activities"), t("assignee_id"))).eq(actor.user_id.clone()));
    for def in [&ACCOUNTS, &CONTACTS] {
        let Some(filter) = owner_filter(store, actor, def.object, Action::Read).await? else {
            continue;
        };
        let is_type = Expr::col((t("activities"), t("related_type"))).eq(def.key());
        match filter {
            OwnerFilter::All => any = any.add(is_type),
            OwnerFilter::Owners(owners) => {
                let mut sub = Query::select();
                sub.column(t("id"))
                    .from(t(def.table))
                    .and_where(Expr::col(t("owner_id")).is_in(owners));
                any = any.add(
                    Cond::all()
                        .add(is_type)
                        .add(Expr::col((t("activities"), t("related_id"))).in_subquery(sub)),
                );
            }
        }
    }
    Ok(any)
}
