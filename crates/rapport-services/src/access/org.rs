//! The organisation scopes are resolved from: every user's department, manager and whether
//! they are active, and the department tree. Read whole and kept in memory with the version
//! it was read at (`org_version`, migration 23): every change to users' departments,
//! managers or activity and to the department tree raises the version in the same
//! transaction ([`bump`]), so a request reads one row to know the tree is current, also when
//! another process (the command line, a second server) made the change.

use crate::Store;
use rapport_core::DomainError;
use rapport_db::{all, exec, get, one};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::ConnectionTrait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A user as the organisation knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub department_id: Option<String>,
    pub manager_id: Option<String>,
    pub active: bool,
}

/// Users and departments, as scopes need them.
#[derive(Debug, Default)]
pub struct OrgTree {
    users: HashMap<String, Member>,
    /// department → its parent
    departments: HashMap<String, Option<String>>,
}

impl OrgTree {
    pub fn new(
        users: impl IntoIterator<Item = (String, Member)>,
        departments: impl IntoIterator<Item = (String, Option<String>)>,
    ) -> OrgTree {
        OrgTree {
            users: users.into_iter().collect(),
            departments: departments.into_iter().collect(),
        }
    }

    /// A user, active or not.
    pub fn member(&self, user_id: &str) -> Option<&Member> {
        self.users.get(user_id)
    }

    /// Whether `user_id` names an active user.
    pub fn is_active(&self, user_id: &str) -> bool {
        self.member(user_id).is_some_and(|m| m.active)
    }

    /// The department of `user_id`, if they have one.
    pub fn department_of(&self, user_id: &str) -> Option<String> {
        self.member(user_id).and_then(|m| m.department_id.clone())
    }

    /// `me` and everyone reporting to them, directly or not.
    pub fn reporting_to(&self, me: &str) -> Vec<String> {
        let mut out = vec![me.to_string()];
        let mut i = 0;
        while i < out.len() {
            let cur = out[i].clone();
            let mut below: Vec<&String> = self
                .users
                .iter()
                .filter(|(id, m)| {
                    m.manager_id.as_deref() == Some(cur.as_str()) && !out.contains(id)
                })
                .map(|(id, _)| id)
                .collect();
            below.sort();
            out.extend(below.into_iter().cloned());
            i += 1;
        }
        out
    }

    /// `root` and every department below it.
    pub fn department_subtree(&self, root: &str) -> Vec<String> {
        let mut out = vec![root.to_string()];
        let mut i = 0;
        while i < out.len() {
            let cur = out[i].clone();
            let mut below: Vec<&String> = self
                .departments
                .iter()
                .filter(|(id, parent)| parent.as_deref() == Some(cur.as_str()) && !out.contains(id))
                .map(|(id, _)| id)
                .collect();
            below.sort();
            out.extend(below.into_iter().cloned());
            i += 1;
        }
        out
    }

    /// The users in any of `departments`.
    pub fn members_of(&self, departments: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self
            .users
            .iter()
            .filter(|(_, m)| {
                m.department_id
                    .as_ref()
                    .is_some_and(|d| departments.contains(d))
            })
            .map(|(id, _)| id.clone())
            .collect();
        out.sort();
        out
    }
}

fn t(s: &str) -> Alias {
    Alias::new(s)
}

/// The organisation last read, with its version.
#[derive(Debug, Default)]
pub struct Cache(Mutex<Option<(i64, Arc<OrgTree>)>>);

async fn version<C: ConnectionTrait>(c: &C) -> Result<i64, DomainError> {
    let row = one(
        c,
        Query::select()
            .column(t("version"))
            .from(t("org_version"))
            .and_where(Expr::col(t("id")).eq(1)),
    )
    .await?;
    match row {
        Some(r) => get(&r, "version"),
        None => Ok(0),
    }
}

/// The current organisation: the one kept, unless its version moved on.
pub async fn tree(store: &Store) -> Result<Arc<OrgTree>, DomainError> {
    let db = store.db.reader();
    let at = version(db).await?;
    let cache = store.org_cache();
    if let Some((v, tree)) = cache.0.lock().ok().and_then(|c| c.clone()) {
        if v == at {
            return Ok(tree);
        }
    }
    let users = all(
        db,
        Query::select()
            .columns(["id", "department_id", "manager_id", "active"].map(t))
            .from(t("users")),
    )
    .await?
    .iter()
    .map(|r| {
        Ok((
            get(r, "id")?,
            Member {
                department_id: get(r, "department_id")?,
                manager_id: get(r, "manager_id")?,
                active: get(r, "active")?,
            },
        ))
    })
    .collect::<Result<Vec<_>, DomainError>>()?;
    let departments = all(
        db,
        Query::select()
            .columns(["id", "parent_id"].map(t))
            .from(t("departments")),
    )
    .await?
    .iter()
    .map(|r| Ok((get(r, "id")?, get(r, "parent_id")?)))
    .collect::<Result<Vec<_>, DomainError>>()?;
    let tree = Arc::new(OrgTree::new(users, departments));
    // Kept under the version read before the rows: at worst they are newer, and the next
    // request reads them again.
    if let Ok(mut c) = cache.0.lock() {
        *c = Some((at, tree.clone()));
    }
    Ok(tree)
}

/// Raise the organisation's version, inside the transaction that changes users' departments,
/// managers or activity, or the department tree.
pub async fn bump<C: ConnectionTrait>(c: &C) -> Result<(), DomainError> {
    exec(
        c,
        Query::update()
            .table(t("org_version"))
            .value(t("version"), Expr::col(t("version")).add(1))
            .and_where(Expr::col(t("id")).eq(1)),
    )
    .await?;
    Ok(())
}
