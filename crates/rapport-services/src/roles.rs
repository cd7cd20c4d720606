//! Roles: editable bundles of permissions and field rules. Changes take effect on the next
//! request because grants are loaded per request, never cached across requests.

use crate::access::Access;
use crate::{audit, Store};
use rapport_core::{Action, DomainError, Grants, Object, Scope};
use rapport_db::{all, db_err, exec, get, one, Db};
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use sea_orm::ConnectionTrait;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Role {
    pub id: String,
    pub key: String,
    pub name_en: String,
    pub name_zh: String,
    pub grants: Grants,
    pub require_mfa: bool,
    pub builtin: bool,
}

fn t(s: &str) -> Alias {
    Alias::new(s)
}

fn row_to_role(r: &sea_orm::QueryResult) -> Result<Role, DomainError> {
    let grants: String = get(r, "grants")?;
    Ok(Role {
        id: get(r, "id")?,
        key: get(r, "key")?,
        name_en: get(r, "name_en")?,
        name_zh: get(r, "name_zh")?,
        grants: serde_json::from_str(&grants).map_err(DomainError::internal)?,
        require_mfa: get(r, "require_mfa")?,
        builtin: get(r, "builtin")?,
    })
}

const COLS: [&str; 7] = [
    "id",
    "key",
    "name_en",
    "name_zh",
    "grants",
    "require_mfa",
    "builtin",
];

pub async fn list(db: &Db) -> Result<Vec<Role>, DomainError> {
    let rows = all(
        db.reader(),
        Query::select()
            .columns(COLS.map(t))
            .from(t("roles"))
            .order_by(t("created_at"), Order::Asc),
    )
    .await?;
    rows.iter().map(row_to_role).collect()
}

pub async fn by_key<C: ConnectionTrait>(c: &C, key: &str) -> Result<Option<Role>, DomainError> {
    let row = one(
        c,
        Query::select()
            .columns(COLS.map(t))
            .from(t("roles"))
            .and_where(Expr::col(t("key")).eq(key)),
    )
    .await?;
    row.as_ref().map(row_to_role).transpose()
}

/// The roles a user holds.
pub async fn of_user<C: ConnectionTrait>(c: &C, user_id: &str) -> Result<Vec<Role>, DomainError> {
    let rows = all(
        c,
        Query::select()
            .columns(COLS.map(|col| (t("roles"), t(col))))
            .from(t("roles"))
            .inner_join(
                t("user_roles"),
                Expr::col((t("user_roles"), t("role_id"))).equals((t("roles"), t("id"))),
            )
            .and_where(Expr::col((t("user_roles"), t("user_id"))).eq(user_id)),
    )
    .await?;
    rows.iter().map(row_to_role).collect()
}

/// All roles, for a caller with the role read right.
pub async fn list_for(store: &Store, actor: &Access) -> Result<Vec<Role>, DomainError> {
    if actor.scope(Object::Role, Action::Read) == Scope::None {
        return Err(DomainError::Forbidden(
            "listing roles needs the role right".into(),
        ));
    }
    list(&store.db).await
}

/// The roles of every user, in one query (user lists; avoids a query per user).
pub async fn of_all_users<C: ConnectionTrait>(
    c: &C,
) -> Result<std::collections::HashMap<String, Vec<Role>>, DomainError> {
    let rows = all(
        c,
        Query::select()
            .columns(COLS.map(|col| (t("roles"), t(col))))
            .column((t("user_roles"), t("user_id")))
            .from(t("roles"))
            .inner_join(
                t("user_roles"),
                Expr::col((t("user_roles"), t("role_id"))).equals((t("roles"), t("id"))),
            ),
    )
    .await?;
    let mut out: std::collections::HashMap<String, Vec<Role>> = Default::default();
    for r in &rows {
        out.entry(get(r, "user_id")?)
            .or_default()
            .push(row_to_role(r)?);
    }
    Ok(out)
}

/// Replace a role's permissions, field rules and MFA requirement (administrators only).
pub async fn update(
    store: &Store,
    actor: &Access,
    key: &str,
    grants: Grants,
    require_mfa: bool,
) -> Result<Role, DomainError> {
    if actor.scope(Object::Role, Action::Update) != Scope::All {
        return Err(DomainError::Forbidden(
            "changing roles needs the role right".into(),
        ));
    }
    grants
        .validate_field_names(crate::objects::is_known_field)
        .map_err(|e| DomainError::Validation(vec![e]))?;
    let before = by_key(store.db.reader(), key)
        .await?
        .ok_or(DomainError::NotFound)?;
    if before.key == "administrator" && grants.scope(Object::Role, Action::Update) != Scope::All {
        return Err(DomainError::field(
            "grants",
            "locked_out",
            "the administrator role must keep the right to change roles",
        ));
    }
    let tx = store.db.begin().await?;
    exec(
        &tx,
        Query::update()
            .table(t("roles"))
            .values([
                (
                    t("grants"),
                    serde_json::to_string(&grants)
                        .map_err(DomainError::internal)?
                        .into(),
                ),
                (t("require_mfa"), require_mfa.into()),
                (t("updated_at"), store.now().into()),
            ])
            .and_where(Expr::col(t("key")).eq(key)),
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("role.updated")
            .object("role", &before.id)
            .details(serde_json::json!({
                "key": key,
                "before": {"grants": before.grants, "require_mfa": before.require_mfa},
                "after": {"grants": grants, "require_mfa": require_mfa},
            })),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    store.auth_cache().invalidate();
    by_key(store.db.reader(), key)
        .await?
        .ok_or(DomainError::NotFound)
}
