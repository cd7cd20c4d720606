//! What the acting user may do, resolved once per request into an [`Access`] value: for each
//! object and action, the owners whose records it reaches ([`OwnerFilter`], applied inside
//! the SQL of every read and checked before every write), the field rules, and the
//! organisation (users, managers, departments) the owner sets were resolved from.
//!
//! Every service function that reads or writes business data takes an `&Access`; one that
//! reaches data without a check is private to its module and says so in its name
//! (`..._unchecked`). The organisation is read from a cached tree ([`org`]), not from the
//! users table on every request.

pub mod org;

use crate::Store;
use org::OrgTree;
use rapport_core::{Action, DomainError, Object, Principal, Scope};
use std::collections::HashMap;
use std::sync::Arc;

pub use org::Member;

/// Records of one action on one object: every record, or those of these owners.
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

/// An actor's rights, resolved: the [`Principal`] (who, for the audit trail) with the owner
/// set of every scope its grants use, and the organisation they came from.
#[derive(Debug, Clone)]
pub struct Access {
    principal: Principal,
    /// The owner set of each scope the grants use (not `None`).
    owners: HashMap<Scope, OwnerFilter>,
    /// The organisation, when a scope needed it.
    org: Option<Arc<OrgTree>>,
}

impl std::ops::Deref for Access {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl Access {
    /// Resolve `principal`'s rights. The organisation is read (one row when it is current)
    /// only for scopes that reach other users' records: own and all need none.
    pub async fn resolve(store: &Store, principal: Principal) -> Result<Access, DomainError> {
        let needs_org = scopes_of(&principal).any(|s| {
            matches!(
                s,
                Scope::Subordinates | Scope::Department | Scope::DepartmentTree
            )
        });
        let org = if needs_org {
            Some(org::tree(store).await?)
        } else {
            None
        };
        Ok(Access::build(principal, org))
    }

    /// Resolve against a given organisation (tests, and callers that hold one already).
    pub fn with_org(principal: Principal, org: Arc<OrgTree>) -> Access {
        Access::build(principal, Some(org))
    }

    fn build(principal: Principal, org: Option<Arc<OrgTree>>) -> Access {
        let empty = OrgTree::default();
        let tree = org.as_deref().unwrap_or(&empty);
        let mut owners = HashMap::new();
        for scope in scopes_of(&principal) {
            if scope == Scope::None || owners.contains_key(&scope) {
                continue;
            }
            owners.insert(scope, owner_set(tree, &principal, scope));
        }
        Access {
            principal,
            owners,
            org,
        }
    }

    /// The system's own rights (every record), for work done from the command line and by
    /// the job queue; the organisation is read as for anyone.
    pub async fn system(store: &Store) -> Result<Access, DomainError> {
        Access::resolve(store, Principal::system()).await
    }

    /// Who acts (what the audit trail names).
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The records `action` on `object` reaches, or `None` when it is not granted.
    pub fn owners(&self, object: Object, action: Action) -> Option<OwnerFilter> {
        let scope = self.principal.scope(object, action);
        if scope == Scope::None {
            return None;
        }
        // Records without an owner (products) are reached wholly or not at all.
        if !object.is_owned() {
            return Some(OwnerFilter::All);
        }
        // Every scope the grants use was resolved.
        Some(
            self.owners
                .get(&scope)
                .cloned()
                .unwrap_or_else(|| OwnerFilter::Owners(vec![self.principal.user_id.clone()])),
        )
    }

    /// [`Access::owners`], or the refusal `forbidden` when the action is not granted.
    pub fn require(
        &self,
        object: Object,
        action: Action,
        forbidden: impl FnOnce() -> DomainError,
    ) -> Result<OwnerFilter, DomainError> {
        self.owners(object, action).ok_or_else(forbidden)
    }

    /// Whether the actor may see `field` of `object` records.
    pub fn may_read_field(&self, object: Object, field: &str) -> bool {
        self.principal.grants.can_read_field(object, field)
    }

    /// Whether the actor may change `field` of `object` records.
    pub fn may_write_field(&self, object: Object, field: &str) -> bool {
        self.principal.grants.can_write_field(object, field)
    }

    /// The department of `user_id`: the actor's own, or as the organisation has it.
    pub async fn department_of(
        &self,
        store: &Store,
        user_id: &str,
    ) -> Result<Option<String>, DomainError> {
        if user_id == self.principal.user_id {
            return Ok(self.principal.department_id.clone());
        }
        Ok(self.org(store).await?.department_of(user_id))
    }

    /// The organisation: the one the rights were resolved from, else the current one.
    pub async fn org(&self, store: &Store) -> Result<Arc<OrgTree>, DomainError> {
        match &self.org {
            Some(o) => Ok(o.clone()),
            None => org::tree(store).await,
        }
    }
}

/// The scopes `principal`'s grants use.
fn scopes_of(principal: &Principal) -> impl Iterator<Item = Scope> + '_ {
    principal
        .grants
        .permissions
        .values()
        .flat_map(|actions| actions.values().copied())
}

/// The owners a scope reaches for `principal` in `org`.
fn owner_set(org: &OrgTree, principal: &Principal, scope: Scope) -> OwnerFilter {
    let me = principal.user_id.clone();
    match scope {
        Scope::None => OwnerFilter::Owners(Vec::new()),
        Scope::All => OwnerFilter::All,
        Scope::Own => OwnerFilter::Owners(vec![me]),
        Scope::Subordinates => OwnerFilter::Owners(org.reporting_to(&me)),
        Scope::Department | Scope::DepartmentTree => {
            let Some(dept) = principal.department_id.as_deref() else {
                return OwnerFilter::Owners(vec![me]);
            };
            let depts = if scope == Scope::Department {
                vec![dept.to_string()]
            } else {
                org.department_subtree(dept)
            };
            let mut out = org.members_of(&depts);
            if !out.contains(&me) {
                out.push(me);
            }
            OwnerFilter::Owners(out)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rapport_core::Grants;

    fn member(dept: Option<&str>, manager: Option<&str>) -> Member {
        Member {
            department_id: dept.map(str::to_string),
            manager_id: manager.map(str::to_string),
            active: true,
        }
    }

    /// boss ← mid ← rep (manager chain); east ⊂ sales (departments).
    fn org() -> Arc<OrgTree> {
        Arc::new(OrgTree::new(
            [
                ("boss".to_string(), member(Some("sales"), None)),
                ("mid".to_string(), member(Some("east"), Some("boss"))),
                ("rep".to_string(), member(Some("east"), Some("mid"))),
                ("other".to_string(), member(Some("west"), None)),
            ],
            [
                ("sales".to_string(), None),
                ("east".to_string(), Some("sales".to_string())),
                ("west".to_string(), None),
            ],
        ))
    }

    fn principal(id: &str, dept: &str, scope: Scope) -> Principal {
        let mut grants = Grants::default();
        grants
            .permissions
            .entry(crate::objects::ACCOUNT)
            .or_default()
            .insert(Action::Read, scope);
        Principal {
            user_id: id.into(),
            department_id: Some(dept.into()),
            grants,
            ..Principal::system()
        }
    }

    fn owners(a: &Access) -> Vec<String> {
        match a.owners(crate::objects::ACCOUNT, Action::Read).unwrap() {
            OwnerFilter::Owners(mut o) => {
                o.sort();
                o
            }
            OwnerFilter::All => vec!["*".into()],
        }
    }

    #[test]
    fn scopes_resolve_to_owner_sets_from_the_tree() {
        let org = org();
        let a = Access::with_org(principal("boss", "sales", Scope::Subordinates), org.clone());
        assert_eq!(owners(&a), ["boss", "mid", "rep"]);
        let a = Access::with_org(principal("mid", "east", Scope::Own), org.clone());
        assert_eq!(owners(&a), ["mid"]);
        let a = Access::with_org(principal("boss", "sales", Scope::Department), org.clone());
        assert_eq!(owners(&a), ["boss"]);
        let a = Access::with_org(
            principal("boss", "sales", Scope::DepartmentTree),
            org.clone(),
        );
        assert_eq!(owners(&a), ["boss", "mid", "rep"]);
        let a = Access::with_org(principal("rep", "east", Scope::All), org.clone());
        assert_eq!(owners(&a), ["*"]);
        // Not granted: no owner set at all, and a read-only preview writes nothing.
        assert!(a.owners(crate::objects::ACCOUNT, Action::Update).is_none());
        let mut ro = principal("rep", "east", Scope::All);
        ro.read_only = true;
        ro.grants
            .permissions
            .entry(crate::objects::ACCOUNT)
            .or_default()
            .insert(Action::Update, Scope::All);
        let a = Access::with_org(ro, org);
        assert!(a.owners(crate::objects::ACCOUNT, Action::Update).is_none());
        assert!(a.owners(crate::objects::ACCOUNT, Action::Read).is_some());
    }
}
