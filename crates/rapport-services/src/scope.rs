//! Turning a permission scope into a condition on record owners, applied inside the SQL
//! query so counts, pagination, search and exports only ever see permitted rows.

use crate::{departments, users, Store};
use rapport_core::{Action, DomainError, Object, Principal, Scope};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerFilter {
    /// Every record.
    All,
    /// Records owned by one of these users.
    Owners(Vec<String>),
}

impl OwnerFilter {
    pub fn allows(&self, owner_id: Option<&str>) -> bool {
        match self {
            OwnerFilter::All => true,
            OwnerFilter::Owners(ids) => owner_id.is_some_and(|o| ids.iter().any(|i| i == o)),
        }
    }
}

/// Resolve `actor`'s scope for `action` on `object`. `None` means the action is not granted.
pub async fn owner_filter(
    store: &Store,
    actor: &Principal,
    object: Object,
    action: Action,
) -> Result<Option<OwnerFilter>, DomainError> {
    let scope = actor.scope(object, action);
    // Records without an owner (products) are reached wholly or not at all.
    if !object.is_owned() && scope != Scope::None {
        return Ok(Some(OwnerFilter::All));
    }
    resolve(store, actor, scope).await
}

pub async fn resolve(
    store: &Store,
    actor: &Principal,
    scope: Scope,
) -> Result<Option<OwnerFilter>, DomainError> {
    let me = actor.user_id.clone();
    Ok(Some(match scope {
        Scope::None => return Ok(None),
        Scope::All => OwnerFilter::All,
        Scope::Own => OwnerFilter::Owners(vec![me]),
        Scope::Subordinates => {
            let everyone = users::all_basic(store).await?;
            let mut out = vec![me];
            let mut i = 0;
            while i < out.len() {
                let cur = out[i].clone();
                for (id, _, manager) in &everyone {
                    if manager.as_deref() == Some(cur.as_str()) && !out.contains(id) {
                        out.push(id.clone());
                    }
                }
                i += 1;
            }
            OwnerFilter::Owners(out)
        }
        Scope::Department | Scope::DepartmentTree => {
            let Some(dept) = actor.department_id.clone() else {
                return Ok(Some(OwnerFilter::Owners(vec![me])));
            };
            let depts = if scope == Scope::Department {
                vec![dept]
            } else {
                departments::subtree(&departments::list(&store.db).await?, &dept)
            };
            let mut out: Vec<String> = users::all_basic(store)
                .await?
                .into_iter()
                .filter(|(_, d, _)| d.as_ref().is_some_and(|d| depts.contains(d)))
                .map(|(id, _, _)| id)
                .collect();
            if !out.contains(&me) {
                out.push(me);
            }
            OwnerFilter::Owners(out)
        }
    }))
}
