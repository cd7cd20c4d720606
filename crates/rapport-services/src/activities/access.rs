//! Who may see and change an activity (ADR 0006): an activity is visible to whoever may read
//! the record it is linked to, and to its owner and assignee; it may be changed by its owner or
//! assignee, or by whoever may update the linked record.

use crate::access::{Access, OwnerFilter};
use crate::records::{self, ObjectDef, Record};
use crate::Store;
use rapport_core::{Action, DomainError};
use rapport_db::{all, get};
use sea_orm::sea_query::{Alias, Cond, Condition, Expr, Query};
use std::collections::HashMap;
use std::sync::OnceLock;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// The record type behind an activity's `related_type`: a registered type whose hooks say
/// activities attach to it.
pub fn def_of(related_type: &str) -> Option<&'static ObjectDef> {
    crate::objects::ALL
        .iter()
        .copied()
        .find(|d| d.object.key() == related_type && d.hooks.has_activities())
}

/// The record type whose records have a timeline, by the plural its paths use.
pub fn def_of_plural(plural: &str) -> Option<&'static ObjectDef> {
    crate::objects::by_plural(plural).filter(|d| d.hooks.has_activities())
}

/// The keys of the record types activities attach to (`related_type`), in menu order.
pub fn related_types() -> &'static [&'static str] {
    static KEYS: OnceLock<Vec<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| {
        crate::objects::ALL
            .iter()
            .filter(|d| d.hooks.has_activities())
            .map(|d| d.object.key())
            .collect()
    })
}

/// The linked record, if the actor may read it.
pub async fn readable_parent(
    store: &Store,
    actor: &Access,
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
    _store: &Store,
    actor: &Access,
    related_type: &str,
    parent: &Record,
) -> Result<bool, DomainError> {
    let Some(def) = def_of(related_type) else {
        return Ok(false);
    };
    Ok(actor
        .owners(def.object, Action::Update)
        .is_some_and(|f| f.allows(parent.owner_id())))
}

/// The SQL condition selecting the activities the actor may see, applied inside every query
/// (lists, counts, timelines) so nothing outside it is ever read.
pub async fn visible(_store: &Store, actor: &Access) -> Result<Condition, DomainError> {
    let mut any = Cond::any()
        .add(Expr::col((t("activities"), t("owner_id"))).eq(actor.user_id.clone()))
        .add(Expr::col((t("activities"), t("assignee_id"))).eq(actor.user_id.clone()));
    for def in crate::objects::ALL
        .iter()
        .copied()
        .filter(|d| d.hooks.has_activities())
    {
        let Some(filter) = actor.owners(def.object, Action::Read) else {
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

/// The labels of those of `ids` (all of one record type) the actor may read, in one query.
pub async fn readable_labels(
    store: &Store,
    actor: &Access,
    related_type: &str,
    ids: &[String],
) -> Result<HashMap<String, String>, DomainError> {
    let Some(def) = def_of(related_type) else {
        return Ok(HashMap::new());
    };
    let Some(filter) = actor.owners(def.object, Action::Read) else {
        return Ok(HashMap::new());
    };
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let label_cols = def.hooks.label_columns();
    let mut q = Query::select();
    q.column(t("id"))
        .columns(label_cols.iter().map(|c| t(c)))
        .from(t(def.table))
        .and_where(Expr::col(t("id")).is_in(ids.to_vec()));
    if let OwnerFilter::Owners(owners) = filter {
        q.and_where(Expr::col(t("owner_id")).is_in(owners));
    }
    let mut out = HashMap::new();
    for r in all(store.db.reader(), &q).await? {
        let mut label = String::new();
        for c in label_cols {
            label.push_str(&get::<Option<String>>(&r, c)?.unwrap_or_default());
        }
        out.insert(get(&r, "id")?, label);
    }
    Ok(out)
}
