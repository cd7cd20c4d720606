//! Departments form a tree (a parent per department).

use crate::access::Access;
use crate::{audit, Store};
use rapport_core::{ids, Action, DomainError, Object, Scope};
use rapport_db::{all, db_err, exec, get, Db};
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Department {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
}

fn t(s: &str) -> Alias {
    Alias::new(s)
}

pub async fn list(db: &Db) -> Result<Vec<Department>, DomainError> {
    let rows = all(
        db.reader(),
        Query::select()
            .columns(["id", "name", "parent_id"].map(t))
            .from(t("departments"))
            .order_by(t("name"), Order::Asc),
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Department {
                id: get(r, "id")?,
                name: get(r, "name")?,
                parent_id: get(r, "parent_id")?,
            })
        })
        .collect()
}

/// The department tree for a caller with the department read right.
pub async fn list_for(store: &Store, actor: &Access) -> Result<Vec<Department>, DomainError> {
    if actor.scope(Object::DEPARTMENT, Action::Read) == Scope::None {
        return Err(DomainError::Forbidden(
            "listing departments needs the department right".into(),
        ));
    }
    list(&store.db).await
}

/// Creating departments needs the department right over all.
pub fn may_create(actor: &Access) -> Result<(), DomainError> {
    if actor.scope(Object::DEPARTMENT, Action::Create) != Scope::All {
        return Err(DomainError::Forbidden(
            "creating departments needs the department right".into(),
        ));
    }
    Ok(())
}

pub async fn create(
    store: &Store,
    actor: &Access,
    name: &str,
    parent_id: Option<&str>,
) -> Result<Department, DomainError> {
    may_create(actor)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(DomainError::field(
            "name",
            "invalid",
            "a department name has 1-100 characters",
        ));
    }
    let existing = list(&store.db).await?;
    if let Some(p) = parent_id {
        if !existing.iter().any(|d| d.id == p) {
            return Err(DomainError::field(
                "parent_id",
                "invalid_reference",
                "the parent department does not exist",
            ));
        }
    }
    if existing
        .iter()
        .any(|d| d.name == name && d.parent_id.as_deref() == parent_id)
    {
        return Err(DomainError::Conflict(format!(
            "a department named {name} already exists there"
        )));
    }
    let dept = Department {
        id: ids::new_id(),
        name: name.to_string(),
        parent_id: parent_id.map(str::to_string),
    };
    let tx = store.db.begin().await?;
    exec(
        &tx,
        Query::insert()
            .into_table(t("departments"))
            .columns(["id", "name", "parent_id", "created_at"].map(t))
            .values_panic([
                dept.id.clone().into(),
                dept.name.clone().into(),
                dept.parent_id.clone().into(),
                store.now().into(),
            ]),
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("department.created")
            .object("department", &dept.id)
            .details(serde_json::json!({"name": dept.name, "parent_id": dept.parent_id})),
    )
    .await?;
    crate::access::org::bump(&tx).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(dept)
}

/// Used by `rapport user create --department NAME`: a department named for the first time is
/// created at the top level.
pub async fn find_or_create(
    store: &Store,
    actor: &Access,
    name: &str,
) -> Result<Department, DomainError> {
    if let Some(d) = list(&store.db)
        .await?
        .into_iter()
        .find(|d| d.name == name.trim())
    {
        return Ok(d);
    }
    create(store, actor, name, None).await
}

pub async fn rename(
    store: &Store,
    actor: &Access,
    id: &str,
    name: &str,
) -> Result<(), DomainError> {
    if actor.scope(Object::DEPARTMENT, Action::Update) != Scope::All {
        return Err(DomainError::Forbidden(
            "changing departments needs the department right".into(),
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(DomainError::field(
            "name",
            "invalid",
            "a department name has 1-100 characters",
        ));
    }
    let tx = store.db.begin().await?;
    let n = exec(
        &tx,
        Query::update()
            .table(t("departments"))
            .value(t("name"), name)
            .and_where(Expr::col(t("id")).eq(id)),
    )
    .await?;
    if n == 0 {
        return Err(DomainError::NotFound);
    }
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("department.updated")
            .object("department", id)
            .details(serde_json::json!({"name": name})),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}
