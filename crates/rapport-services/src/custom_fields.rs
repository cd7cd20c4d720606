//! Custom field definitions (administrators define them in settings).

use crate::access::Access;
use crate::{audit, Store};
use rapport_core::custom::CustomField;
use rapport_core::{ids, Action, DomainError, Object, Scope};
use rapport_db::{all, db_err, exec, get};
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use serde_json::json;

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// All definitions of an object type (active and not), by position.
pub async fn list(store: &Store, object: Object) -> Result<Vec<CustomField>, DomainError> {
    store
        .memos()
        .custom_fields
        .get_or_load(&object, || load(store, object))
        .await
}

/// The definitions as stored, read from the database.
async fn load(store: &Store, object: Object) -> Result<Vec<CustomField>, DomainError> {
    let rows = all(
        store.db.reader(),
        Query::select()
            .columns([t("definition")])
            .from(t("custom_fields"))
            .and_where(Expr::col(t("object_type")).eq(object.key()))
            .order_by(t("position"), Order::Asc)
            .order_by(t("created_at"), Order::Asc),
    )
    .await?;
    rows.iter()
        .map(|r| {
            let d: String = get(r, "definition")?;
            serde_json::from_str(&d).map_err(DomainError::internal)
        })
        .collect()
}

/// The definitions a caller may see: they need read access to the object, and fields their
/// role hides are left out.
pub async fn list_for(
    store: &Store,
    actor: &Access,
    object: Object,
) -> Result<Vec<CustomField>, DomainError> {
    if actor.scope(object, Action::Read) == Scope::None {
        return Err(DomainError::NotFound);
    }
    Ok(list(store, object)
        .await?
        .into_iter()
        .filter(|d| actor.grants.can_read_field(object, &d.key))
        .collect())
}

/// The active definitions: what forms, lists, filters and the API use.
pub async fn active(store: &Store, object: Object) -> Result<Vec<CustomField>, DomainError> {
    Ok(list(store, object)
        .await?
        .into_iter()
        .filter(|f| f.active)
        .collect())
}

/// The settings right over all (the API asks before reading a body).
pub fn may_change(actor: &Access) -> Result<(), DomainError> {
    crate::settings::may_change(actor, "managing custom fields")
}

/// Create or replace a definition (by key). The kind and sensitivity of an existing field
/// cannot change: stored values were written for them.
pub async fn save(
    store: &Store,
    actor: &Access,
    mut field: CustomField,
) -> Result<CustomField, DomainError> {
    may_change(actor)?;
    if store.types().def_of(field.object).is_none() {
        return Err(DomainError::field(
            "object",
            "invalid",
            "custom fields exist for record types (accounts, contacts, leads, opportunities, \
             products, quotes, contracts, orders, payments)",
        ));
    }
    field
        .check_definition()
        .map_err(|e| DomainError::Validation(vec![e]))?;
    if let Some(d) = &field.default {
        let stored = field.parse(d, &store.parse_context()).map_err(|mut e| {
            e.field = "default".into();
            DomainError::Validation(vec![e])
        })?;
        field.default = Some(stored).filter(|v| !v.is_null());
    }
    let existing = list(store, field.object)
        .await?
        .into_iter()
        .find(|f| f.key == field.key);
    let now = store.now();
    let tx = store.db.begin().await?;
    match &existing {
        Some(old) => {
            if old.kind != field.kind || old.sensitive != field.sensitive {
                return Err(DomainError::field(
                    "kind",
                    "immutable",
                    "the kind and sensitivity of an existing custom field cannot change",
                ));
            }
            field.id = old.id.clone();
            exec(
                &tx,
                Query::update()
                    .table(t("custom_fields"))
                    .values([
                        (
                            t("definition"),
                            serde_json::to_string(&field)
                                .map_err(DomainError::internal)?
                                .into(),
                        ),
                        (t("position"), field.position.into()),
                        (t("updated_at"), now.into()),
                    ])
                    .and_where(Expr::col(t("id")).eq(old.id.as_str())),
            )
            .await?;
        }
        None => {
            field.id = ids::new_id();
            exec(
                &tx,
                Query::insert()
                    .into_table(t("custom_fields"))
                    .columns(
                        [
                            "id",
                            "object_type",
                            "key",
                            "definition",
                            "position",
                            "created_at",
                            "updated_at",
                        ]
                        .map(t),
                    )
                    .values_panic([
                        field.id.clone().into(),
                        field.object.key().into(),
                        field.key.clone().into(),
                        serde_json::to_string(&field)
                            .map_err(DomainError::internal)?
                            .into(),
                        field.position.into(),
                        now.into(),
                        now.into(),
                    ]),
            )
            .await?;
        }
    }
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new(if existing.is_some() {
            "settings.custom_field_changed"
        } else {
            "settings.custom_field_created"
        })
        .object("custom_field", &field.id)
        .details(json!({"before": existing, "after": field})),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    store.memos().custom_fields.invalidate();
    Ok(field)
}
