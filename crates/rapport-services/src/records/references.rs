//! Checks a save makes against the database: picklist values are in their lists, users named
//! are active, and the records and price lists a save refers to exist and, where the actor's
//! scope applies, are ones the actor can see.

use super::{def_of, find_in_scope_fresh, t, ObjectDef, ACCOUNTS, CONTACTS};
use crate::access::{Access, OwnerFilter};
use crate::Store;
use rapport_core::fields::{FieldKind, FieldValue};
use rapport_core::input::Input;
use rapport_core::{Action, DomainError, FieldError, Object};
use rapport_db::{all, get, one};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::ConnectionTrait;

/// Checks that need the database: picklist values and references exist.
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
    // Records linked from a deal must be ones the actor can see (and saying "not found" for
    // the others reveals nothing).
    let account_scope = if def.object != Object::Account {
        actor.owners(Object::Account, Action::Read)
    } else {
        Some(OwnerFilter::All)
    };
    for (spec, value) in &input.values {
        if trusted.contains(&spec.name) {
            continue;
        }
        match (spec.kind, value) {
            (FieldKind::Picklist(list), FieldValue::Text(v)) if !v.is_empty() => {
                if !crate::picklists::is_allowed(&store.db, list, v).await? {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_choice",
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
            (FieldKind::RecordRef(object), FieldValue::Text(id)) if !spec.system => {
                let Some(target) = def_of(object) else {
                    continue;
                };
                let visible = match actor.owners(object, Action::Read) {
                    Some(f) => find_in_scope_fresh(store, target, &f, id).await?.is_some(),
                    None => false,
                };
                if !visible {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!("{} does not name a {} you can see", spec.name, object.key()),
                    ));
                }
            }
            (FieldKind::PriceListRef, FieldValue::Text(id)) => {
                if !crate::sales::price_lists::is_active(db, id).await? {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!("{} does not name an active price list", spec.name),
                    ));
                }
            }
            (FieldKind::AccountRef, FieldValue::Text(id)) if def.object != Object::Account => {
                let visible = match &account_scope {
                    Some(f) => find_in_scope_fresh(store, &ACCOUNTS, f, id)
                        .await?
                        .is_some(),
                    None => false,
                };
                if !visible {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!("{} does not name an account you can see", spec.name),
                    ));
                }
            }
            (FieldKind::ContactLinks, v @ FieldValue::Json(_)) => {
                let ids = rapport_core::fields::contact_link_ids(v);
                let filter = actor.owners(Object::Contact, Action::Read);
                let found = match filter {
                    Some(f) => read_ids_in_scope(db, &CONTACTS, &f, &ids).await?,
                    None => 0,
                };
                if found != ids.len() {
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
            (FieldKind::AccountRef, FieldValue::Text(id)) => {
                if Some(id.as_str()) == self_id {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        "an account cannot be its own parent",
                    ));
                } else if one(
                    db,
                    Query::select()
                        .column(t("id"))
                        .from(t("accounts"))
                        .and_where(Expr::col(t("id")).eq(id.as_str())),
                )
                .await?
                .is_none()
                {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        format!("{} does not name an existing account", spec.name),
                    ));
                }
            }
            (FieldKind::AccountLinks, FieldValue::Links(links)) if !links.is_empty() => {
                let ids: Vec<String> = links.iter().map(|l| l.account_id.clone()).collect();
                let found = all(
                    db,
                    Query::select()
                        .column(t("id"))
                        .from(t("accounts"))
                        .and_where(Expr::col(t("id")).is_in(ids.clone())),
                )
                .await?;
                if found.len() != ids.len() {
                    errors.push(FieldError::new(
                        spec.name,
                        "invalid_reference",
                        "accounts names an account that does not exist",
                    ));
                }
            }
            _ => {}
        }
        if spec.name == "currency" {
            if let FieldValue::Text(c) = value {
                if c.len() != 3 || !c.chars().all(|ch| ch.is_ascii_uppercase()) {
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
