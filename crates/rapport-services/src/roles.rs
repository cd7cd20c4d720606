//! Roles: editable bundles of permissions and field rules. Changes take effect on the next
//! request because grants are loaded per request, never cached across requests.

use crate::access::Access;
use crate::{audit, Store};
use rapport_core::{ids, Action, DomainError, FieldError, Grants, Object, Scope};
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
    if actor.scope(Object::ROLE, Action::Read) == Scope::None {
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
    require(actor, Action::Update, "changing roles")?;
    check_grants(store, &grants)?;
    let before = by_key(store.db.reader(), key)
        .await?
        .ok_or(DomainError::NotFound)?;
    if before.key == "administrator" && grants.scope(Object::ROLE, Action::Update) != Scope::All {
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

/// What an administrator gives a new role: its key and names, and where its rights come from
/// (a copy of another role's, the `grants` given, or none at first).
#[derive(Debug, Clone, Default)]
pub struct RoleDraft {
    pub key: String,
    pub name_en: String,
    pub name_zh: String,
    pub copy_of: Option<String>,
    pub grants: Option<Grants>,
    pub require_mfa: bool,
}

/// The caller may do `action` to roles at all: checked before a request's body is read, so
/// one without the right learns nothing from the validation of what they sent.
pub fn may(actor: &Access, action: Action) -> Result<(), DomainError> {
    let what = if action == Action::Create {
        "creating roles"
    } else {
        "changing roles"
    };
    require(actor, action, what)
}

/// Grants name only fields that exist (before anything of a change is written).
pub fn check_grants(store: &Store, grants: &Grants) -> Result<(), DomainError> {
    grants
        .validate_field_names(|o, f| store.types().is_known_field(o, f))
        .map_err(|e| DomainError::Validation(vec![e]))
}

fn require(actor: &Access, action: Action, what: &str) -> Result<(), DomainError> {
    if actor.scope(Object::ROLE, action) != Scope::All {
        return Err(DomainError::Forbidden(format!(
            "{what} needs the role right"
        )));
    }
    Ok(())
}

/// A role's names: both given, trimmed, 1–100 characters.
fn check_names(name_en: &str, name_zh: &str) -> Result<(String, String), DomainError> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (field, v) in [("name_en", name_en), ("name_zh", name_zh)] {
        let v = v.trim();
        if v.is_empty() || v.chars().count() > 100 || v.chars().any(char::is_control) {
            errors.push(FieldError::new(
                field,
                "invalid",
                format!("{field} needs 1-100 characters"),
            ));
        }
        out.push(v.to_string());
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    Ok((out.remove(0), out.remove(0)))
}

/// Create a role (administrators): from scratch, with `grants`, or as a copy of another role.
pub async fn create(store: &Store, actor: &Access, draft: RoleDraft) -> Result<Role, DomainError> {
    require(actor, Action::Create, "creating roles")?;
    let key = draft.key.trim().to_string();
    let key_ok = key.len() >= 2
        && key.len() <= 40
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !key_ok {
        return Err(DomainError::field(
            "key",
            "invalid",
            "a role key has 2-40 characters: a-z, 0-9 and _, starting with a letter",
        ));
    }
    let (name_en, name_zh) = check_names(&draft.name_en, &draft.name_zh)?;
    let grants = match (&draft.copy_of, draft.grants) {
        (Some(_), Some(_)) => {
            return Err(DomainError::field(
                "copy_of",
                "conflict",
                "give either copy_of or grants, not both",
            ))
        }
        (Some(from), None) => {
            by_key(store.db.reader(), from)
                .await?
                .ok_or_else(|| {
                    DomainError::field("copy_of", "not_found", format!("no role {from}"))
                })?
                .grants
        }
        (None, Some(g)) => g,
        (None, None) => Grants::default(),
    };
    grants
        .validate_field_names(|o, f| store.types().is_known_field(o, f))
        .map_err(|e| DomainError::Validation(vec![e]))?;
    if by_key(store.db.reader(), &key).await?.is_some() {
        return Err(DomainError::Conflict(format!(
            "a role with the key {key} exists"
        )));
    }
    let id = ids::new_id();
    let now = store.now();
    let tx = store.db.begin().await?;
    let inserted = exec(
        &tx,
        Query::insert()
            .into_table(t("roles"))
            .columns(
                [
                    "id",
                    "key",
                    "name_en",
                    "name_zh",
                    "grants",
                    "require_mfa",
                    "builtin",
                    "created_at",
                    "updated_at",
                ]
                .map(t),
            )
            .values_panic([
                id.clone().into(),
                key.clone().into(),
                name_en.clone().into(),
                name_zh.clone().into(),
                serde_json::to_string(&grants)
                    .map_err(DomainError::internal)?
                    .into(),
                draft.require_mfa.into(),
                false.into(),
                now.into(),
                now.into(),
            ]),
    )
    .await;
    match inserted {
        Ok(_) => {}
        // Created meanwhile under the same key.
        Err(e) if e.is_unique_violation() => {
            return Err(DomainError::Conflict(format!(
                "a role with the key {key} exists"
            )))
        }
        Err(e) => return Err(e),
    }
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("role.created")
            .object("role", &id)
            .details(serde_json::json!({
                "key": key, "name_en": name_en, "name_zh": name_zh,
                "copy_of": draft.copy_of, "grants": grants, "require_mfa": draft.require_mfa,
            })),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    by_key(store.db.reader(), &key)
        .await?
        .ok_or(DomainError::NotFound)
}

/// Rename a role (any role; its key stays).
pub async fn rename(
    store: &Store,
    actor: &Access,
    key: &str,
    name_en: &str,
    name_zh: &str,
) -> Result<Role, DomainError> {
    require(actor, Action::Update, "renaming roles")?;
    let (name_en, name_zh) = check_names(name_en, name_zh)?;
    let before = by_key(store.db.reader(), key)
        .await?
        .ok_or(DomainError::NotFound)?;
    let tx = store.db.begin().await?;
    exec(
        &tx,
        Query::update()
            .table(t("roles"))
            .values([
                (t("name_en"), name_en.clone().into()),
                (t("name_zh"), name_zh.clone().into()),
                (t("updated_at"), store.now().into()),
            ])
            .and_where(Expr::col(t("key")).eq(key)),
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("role.renamed")
            .object("role", &before.id)
            .details(serde_json::json!({
                "key": key,
                "before": {"name_en": before.name_en, "name_zh": before.name_zh},
                "after": {"name_en": name_en, "name_zh": name_zh},
            })),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    by_key(store.db.reader(), key)
        .await?
        .ok_or(DomainError::NotFound)
}

/// Delete a role nobody holds. Built-in roles stay.
pub async fn delete(store: &Store, actor: &Access, key: &str) -> Result<(), DomainError> {
    require(actor, Action::Delete, "deleting roles")?;
    let role = by_key(store.db.reader(), key)
        .await?
        .ok_or(DomainError::NotFound)?;
    if role.builtin {
        return Err(DomainError::Conflict(format!(
            "{key} is a built-in role: it can be changed but not deleted"
        )));
    }
    let tx = store.db.begin().await?;
    // Counted inside the deleting transaction: a user given the role meanwhile keeps it.
    let holders = all(
        &tx,
        Query::select()
            .column(t("user_id"))
            .from(t("user_roles"))
            .and_where(Expr::col(t("role_id")).eq(role.id.as_str())),
    )
    .await?
    .len();
    if holders > 0 {
        return Err(DomainError::Conflict(format!(
            "{holders} user(s) hold the role {key}: give them another role first"
        )));
    }
    exec(
        &tx,
        Query::delete()
            .from_table(t("roles"))
            .and_where(Expr::col(t("id")).eq(role.id.as_str())),
    )
    .await?;
    audit::record(
        &tx,
        store,
        actor,
        audit::Entry::new("role.deleted")
            .object("role", &role.id)
            .details(serde_json::json!({"key": key, "name_en": role.name_en, "name_zh": role.name_zh, "grants": role.grants})),
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    store.auth_cache().invalidate();
    Ok(())
}
