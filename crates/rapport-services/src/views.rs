//! Saved list views: a name and the list's query (filter, sort, columns), private or shared
//! with the owner's department. Opening a view still applies the viewer's own scope.

use crate::access::Access;
use crate::{audit, Store};
use rapport_core::{ids, Action, DomainError, Object, Scope};
use rapport_db::{all, db_err, exec, get};
use sea_orm::sea_query::{Alias, Cond, Expr, Order, Query};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct SavedView {
    pub id: String,
    pub object_type: String,
    pub name: String,
    pub owner_id: String,
    pub shared: bool,
    pub query: String,
}

fn t(s: &str) -> Alias {
    Alias::new(s)
}

pub async fn list(
    store: &Store,
    actor: &Access,
    object: Object,
) -> Result<Vec<SavedView>, DomainError> {
    let mut visible = Cond::any().add(Expr::col(t("owner_id")).eq(actor.user_id.as_str()));
    if let Some(d) = &actor.department_id {
        visible = visible.add(Expr::col(t("shared_department_id")).eq(d.as_str()));
    }
    let rows = all(
        store.db.reader(),
        Query::select()
            .columns(
                [
                    "id",
                    "object_type",
                    "name",
                    "owner_id",
                    "shared_department_id",
                    "query",
                ]
                .map(t),
            )
            .from(t("saved_views"))
            .and_where(Expr::col(t("object_type")).eq(object.key()))
            .cond_where(visible)
            .order_by(t("name"), Order::Asc),
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SavedView {
                id: get(r, "id")?,
                object_type: get(r, "object_type")?,
                name: get(r, "name")?,
                owner_id: get(r, "owner_id")?,
                shared: get::<Option<String>>(r, "shared_department_id")?.is_some(),
                query: get(r, "query")?,
            })
        })
        .collect()
}

pub async fn create(
    store: &Store,
    actor: &Access,
    object: Object,
    name: &str,
    query: &str,
    shared: bool,
) -> Result<SavedView, DomainError> {
    if actor.scope(object, Action::Read) == Scope::None || actor.read_only {
        return Err(DomainError::Forbidden(
            "you may not save views of these records".into(),
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(DomainError::field(
            "name",
            "invalid",
            "a view name has 1-60 characters",
        ));
    }
    if query.len() > 4000 || query.chars().any(|c| c.is_control()) {
        return Err(DomainError::field(
            "query",
            "invalid",
            "the view's query is too long",
        ));
    }
    let shared_dept = if shared {
        Some(actor.department_id.clone().ok_or_else(|| {
            DomainError::field(
                "shared",
                "no_department",
                "you belong to no department to share with",
            )
        })?)
    } else {
        None
    };
    let view = SavedView {
        id: ids::new_id(),
        object_type: object.key().into(),
        name: name.into(),
        owner_id: actor.user_id.clone(),
        shared: shared_dept.is_some(),
        query: query.into(),
    };
    let tx = store.db.begin().await?;
    exec(
        &tx,
        Query::insert()
            .into_table(t("saved_views"))
            .columns(
                [
                    "id",
                    "object_type",
                    "name",
                    "owner_id",
                    "shared_department_id",
                    "query",
                    "created_at",
                ]
                .map(t),
            )
            .values_panic([
                view.id.clone().into(),
                view.object_type.clone().into(),
                view.name.clone().into(),
                view.owner_id.clone().into(),
                shared_dept.into(),
                view.query.clone().into(),
                store.now().into(),
            ]),
    )
    .await?;
    audit::record(&tx, store, actor, audit::Entry::new("view.created").object("saved_view", &view.id).details(serde_json::json!({"name": view.name, "object": view.object_type, "shared": view.shared}))).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(view)
}
