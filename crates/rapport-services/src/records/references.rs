//! Checks a save makes against the database: picklist values are in their lists, users named
//! are active, price lists are in use, and every record a save refers to (a reference field,
//! a contact's accounts, an opportunity's contacts) is one the actor may read. A record the
//! actor may not see is refused exactly as one that does not exist, so a save reveals nothing
//! about it.

use super::{find_in_scope_fresh, t, ObjectDef};
use crate::access::{Access, OwnerFilter};
use crate::Store;
use rapport_core::fields::{FieldKind, FieldValue};
use rapport_core::input::Input;
use rapport_core::{Action, DomainError, FieldError};
use rapport_db::{all, get, one};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::ConnectionTrait;

/// Checks that need the database: picklist values and references exist and are visible.
#[allow(clippy::collapsible_match)] // awaits cannot move into match guards
pub(super) async fn check_references(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    input: &Input,
    self_id: Option<&str>,
    trusted: &[&str],
) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    let db = store.db.reader();
    for (spec, value) in &input.values {
        if trusted.contains(&spec.name) {
            continue;
        }
        // The record type a single reference names.
        let target = match spec.kind {
            FieldKind::AccountRef => store.types().by_key("account").map(|d| d.object),
            FieldKind::RecordRef(object) if !spec.system => Some(object),
            _ => None,
        };
        match (spec.kind, value) {
            (FieldKind::Picklist(list), FieldValue::Text(v)) if !v.is_empty() => {
                if !crate::picklists::is_allowed(&store.db, list, v).await? {
                    errors.push(FieldError::new(
                        spec.name,
                        "not_in_picklist",
                        format!("{v} is not a value of the {list} list"),
                    ));
                }
            }
            // Whoever signed in with a session or token was found active by authentication.
            (FieldKind::UserRef, FieldValue::Text(id))
                if *id == actor.user_id
                    && (actor.session_id.is_some() || actor.token_id.is_some()) => {}
            (FieldKind::UserRef, FieldValue::Text(id)) => {
                let row = one(
                    db,
                    Query::select()
                        .column(t("active"))
                        .from(t("users"))
                        .and_where(Expr::col(t("id")).eq(id.as_str())),
                )
                .await?;
                let active = match row {
                    Some(r) => get::<bool>(&r, "active")?,
                    None => false,
                };
                if !active {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!("{} is not an active user", spec.name),
                    ));
                }
            }
            (FieldKind::PriceListRef, FieldValue::Text(id)) => {
                if !crate::price_lists::is_active(db, id).await? {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!("{} does not name an active price list", spec.name),
                    ));
                }
            }
            (_, FieldValue::Text(id)) if target.is_some() => {
                let Some(object) = target else { continue };
                let Some(target_def) = store.types().def_of(object) else {
                    continue;
                };
                if object == def.object && Some(id.as_str()) == self_id {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!("a {} cannot refer to itself", object.key()),
                    ));
                } else if !visible(store, actor, target_def, std::slice::from_ref(id)).await? {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!("{} does not name a {} you can see", spec.name, object.key()),
                    ));
                }
            }
            (FieldKind::ContactLinks, v @ FieldValue::Json(_)) => {
                let ids = rapport_core::fields::contact_link_ids(v);
                let contacts = store.types().by_key("contact");
                let ok = match contacts {
                    Some(c) => visible(store, actor, c, &ids).await?,
                    None => ids.is_empty(),
                };
                if !ok {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!(
                            "{} names a contact that does not exist or you cannot see",
                            spec.name
                        ),
                    ));
                }
            }
            (FieldKind::AccountLinks, FieldValue::Links(links)) if !links.is_empty() => {
                let ids: Vec<String> = links.iter().map(|l| l.account_id.clone()).collect();
                let ok = match store.types().by_key("account") {
                    Some(a) => visible(store, actor, a, &ids).await?,
                    None => false,
                };
                if !ok {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!(
                            "{} names an account that does not exist or you cannot see",
                            spec.name
                        ),
                    ));
                }
            }
            _ => {}
        }
        if spec.name == "currency" {
            if let FieldValue::Text(c) = value {
                if !rapport_core::validate::currency(c) {
                    errors.push(FieldError::new(
                        "currency",
                        "invalid_currency",
                        "currency must be an ISO 4217 code such as CNY",
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// Whether every one of `ids` names a record of `def` the actor may read.
async fn visible(
    store: &Store,
    actor: &Access,
    def: &ObjectDef,
    ids: &[String],
) -> Result<bool, DomainError> {
    let Some(filter) = actor.owners(def.object, Action::Read) else {
        return Ok(ids.is_empty());
    };
    if let [id] = ids {
        return Ok(find_in_scope_fresh(store, def, &filter, id)
            .await?
            .is_some());
    }
    let mut wanted = ids.to_vec();
    wanted.sort();
    wanted.dedup();
    Ok(read_ids_in_scope(store.db.reader(), def, &filter, &wanted).await? == wanted.len())
}

/// How many of `ids` exist inside `filter`.
async fn read_ids_in_scope<C: ConnectionTrait>(
    c: &C,
    def: &ObjectDef,
    filter: &OwnerFilter,
    ids: &[String],
) -> Result<usize, DomainError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut q = Query::select();
    q.column(t("id"))
        .from(t(def.table))
        .and_where(Expr::col(t("id")).is_in(ids.to_vec()));
    if let OwnerFilter::Owners(owners) = filter {
        q.and_where(Expr::col(t("owner_id")).is_in(owners.clone()));
    }
    Ok(all(c, &q).await?.len())
}
