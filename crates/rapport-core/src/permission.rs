//! The permission policy: what a role may do to each object type, over which records
//! (the scope), and which fields it may not see or change.
//!
//! A user's roles are merged into one [`Grants`] value: the widest scope per action wins, and a
//! field stays restricted only if every role restricts it (read-only beats hidden).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Object {
    Account,
    Contact,
    Lead,
    Opportunity,
    Product,
    Quote,
    Contract,
    Order,
    Payment,
    User,
    Role,
    Department,
    Audit,
    Settings,
}

impl Object {
    pub const ALL: [Object; 14] = [
        Object::Account,
        Object::Contact,
        Object::Lead,
        Object::Opportunity,
        Object::Product,
        Object::Quote,
        Object::Contract,
        Object::Order,
        Object::Payment,
        Object::User,
        Object::Role,
        Object::Department,
        Object::Audit,
        Object::Settings,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Object::Account => "account",
            Object::Contact => "contact",
            Object::Lead => "lead",
            Object::Opportunity => "opportunity",
            Object::Product => "product",
            Object::Quote => "quote",
            Object::Contract => "contract",
            Object::Order => "order",
            Object::Payment => "payment",
            Object::User => "user",
            Object::Role => "role",
            Object::Department => "department",
            Object::Audit => "audit",
            Object::Settings => "settings",
        }
    }

    /// The plural used in paths (`/api/v1/opportunities`), for record types.
    pub fn plural(self) -> Option<&'static str> {
        Some(match self {
            Object::Account => "accounts",
            Object::Contact => "contacts",
            Object::Lead => "leads",
            Object::Opportunity => "opportunities",
            Object::Product => "products",
            Object::Quote => "quotes",
            Object::Contract => "contracts",
            Object::Order => "orders",
            Object::Payment => "payments",
            _ => return None,
        })
    }

    /// The record type a path's plural names.
    pub fn from_plural(s: &str) -> Option<Object> {
        Object::RECORDS.into_iter().find(|o| o.plural() == Some(s))
    }

    pub fn parse(s: &str) -> Option<Object> {
        Object::ALL.into_iter().find(|o| o.key() == s)
    }

    /// Objects whose records have an owner, so own/team/department scopes apply.
    pub fn is_owned(self) -> bool {
        matches!(
            self,
            Object::Account
                | Object::Contact
                | Object::Lead
                | Object::Opportunity
                | Object::Quote
                | Object::Contract
                | Object::Order
                | Object::Payment
        )
    }

    /// Record types kept by the record engine (lists, forms, custom fields, exports).
    pub const RECORDS: [Object; 9] = [
        Object::Account,
        Object::Contact,
        Object::Lead,
        Object::Opportunity,
        Object::Product,
        Object::Quote,
        Object::Contract,
        Object::Order,
        Object::Payment,
    ];

    /// The documents of a sale, owned like accounts and deals.
    pub const SALES_DOCUMENTS: [Object; 4] = [
        Object::Quote,
        Object::Contract,
        Object::Order,
        Object::Payment,
    ];

    pub fn is_record(self) -> bool {
        Object::RECORDS.contains(&self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
    Export,
    Transfer,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Read,
        Action::Create,
        Action::Update,
        Action::Delete,
        Action::Export,
        Action::Transfer,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Export => "export",
            Action::Transfer => "transfer",
        }
    }
}

/// Which records an action reaches, narrowest first (the order matters: merging takes the max).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    #[default]
    None,
    /// Records the user owns.
    Own,
    /// Records owned by the user or anyone reporting to them, directly or not.
    Subordinates,
    /// Records owned by anyone in the user's department.
    Department,
    /// Records owned by anyone in the user's department or its sub-departments.
    DepartmentTree,
    /// Every record.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldAccess {
    Hidden,
    ReadOnly,
}

/// What one role (or the merge of a user's roles) allows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    #[serde(default)]
    pub permissions: BTreeMap<Object, BTreeMap<Action, Scope>>,
    #[serde(default)]
    pub field_rules: BTreeMap<Object, BTreeMap<String, FieldAccess>>,
}

impl Grants {
    pub fn scope(&self, object: Object, action: Action) -> Scope {
        self.permissions
            .get(&object)
            .and_then(|m| m.get(&action))
            .copied()
            .unwrap_or_default()
    }

    pub fn field_access(&self, object: Object, field: &str) -> Option<FieldAccess> {
        self.field_rules
            .get(&object)
            .and_then(|m| m.get(field))
            .copied()
    }

    pub fn can_read_field(&self, object: Object, field: &str) -> bool {
        self.field_access(object, field) != Some(FieldAccess::Hidden)
    }

    pub fn can_write_field(&self, object: Object, field: &str) -> bool {
        self.field_access(object, field).is_none()
    }

    /// Merge several roles: the widest scope wins, a field rule survives only if all roles
    /// restrict the field, and then the most permissive restriction applies.
    pub fn merge<'a>(roles: impl IntoIterator<Item = &'a Grants>) -> Grants {
        let roles: Vec<&Grants> = roles.into_iter().collect();
        let mut out = Grants::default();
        for g in &roles {
            for (obj, actions) in &g.permissions {
                let entry = out.permissions.entry(*obj).or_default();
                for (action, scope) in actions {
                    let cur = entry.entry(*action).or_default();
                    if *scope > *cur {
                        *cur = *scope;
                    }
                }
            }
        }
        if let Some((first, rest)) = roles.split_first() {
            for (obj, rules) in &first.field_rules {
                for (field, access) in rules {
                    let mut merged = Some(*access);
                    for other in rest {
                        merged = match (merged, other.field_access(*obj, field)) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            _ => None,
                        };
                    }
                    if let Some(m) = merged {
                        out.field_rules
                            .entry(*obj)
                            .or_default()
                            .insert(field.clone(), m);
                    }
                }
            }
        }
        out
    }

    /// Check a document coming from an administrator: only known actions and fields.
    pub fn validate_field_names(
        &self,
        known: impl Fn(Object, &str) -> bool,
    ) -> Result<(), crate::FieldError> {
        for (obj, rules) in &self.field_rules {
            for field in rules.keys() {
                if !known(*obj, field) {
                    return Err(crate::FieldError::new(
                        format!("field_rules.{}.{}", obj.key(), field),
                        "unknown_field",
                        format!("{} has no field named {field}", obj.key()),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn all_actions(scope: Scope) -> BTreeMap<Action, Scope> {
    Action::ALL.into_iter().map(|a| (a, scope)).collect()
}

fn actions(list: &[(Action, Scope)]) -> BTreeMap<Action, Scope> {
    list.iter().copied().collect()
}

/// The built-in roles, created by the first migration and editable afterwards.
pub struct BuiltinRole {
    pub key: &'static str,
    pub name_en: &'static str,
    pub name_zh: &'static str,
    pub grants: Grants,
}

pub fn builtin_roles() -> Vec<BuiltinRole> {
    use Action::*;
    use Object::*;
    use Scope::*;

    let admin = Grants {
        permissions: Object::ALL
            .into_iter()
            .map(|o| (o, all_actions(All)))
            .collect(),
        field_rules: BTreeMap::new(),
    };

    const SOLD: [Object; 8] = [
        Account,
        Contact,
        Lead,
        Opportunity,
        Quote,
        Contract,
        Order,
        Payment,
    ];
    let mut manager = Grants::default();
    manager.permissions.insert(Product, actions(&[(Read, All)]));
    for o in SOLD {
        manager.permissions.insert(
            o,
            actions(&[
                (Read, DepartmentTree),
                (Create, DepartmentTree),
                (Update, DepartmentTree),
                (Delete, Subordinates),
                (Export, DepartmentTree),
                (Transfer, DepartmentTree),
            ]),
        );
    }
    manager.permissions.insert(User, actions(&[(Read, All)]));
    manager
        .permissions
        .insert(Object::Department, actions(&[(Read, All)]));
    manager
        .field_rules
        .entry(Account)
        .or_default()
        .insert("credit_limit".into(), FieldAccess::ReadOnly);

    let mut rep = Grants::default();
    rep.permissions.insert(Product, actions(&[(Read, All)]));
    for o in SOLD {
        rep.permissions.insert(
            o,
            actions(&[
                (Read, Own),
                (Create, Own),
                (Update, Own),
                (Delete, Own),
                (Export, Own),
            ]),
        );
    }
    rep.permissions.insert(User, actions(&[(Read, All)]));
    rep.permissions
        .insert(Object::Department, actions(&[(Read, All)]));
    rep.field_rules
        .entry(Account)
        .or_default()
        .insert("credit_limit".into(), FieldAccess::ReadOnly);

    let mut marketer = Grants::default();
    marketer
        .permissions
        .insert(Account, actions(&[(Read, All), (Export, All)]));
    marketer.permissions.insert(
        Contact,
        actions(&[(Read, All), (Update, Own), (Export, All)]),
    );
    marketer.permissions.insert(
        Lead,
        actions(&[
            (Read, All),
            (Create, All),
            (Update, All),
            (Export, All),
            (Transfer, All),
        ]),
    );
    marketer
        .permissions
        .insert(Opportunity, actions(&[(Read, All), (Export, All)]));
    marketer.permissions.insert(User, actions(&[(Read, All)]));
    marketer
        .permissions
        .insert(Product, actions(&[(Read, All)]));

    let mut support = Grants::default();
    support.permissions.insert(Account, actions(&[(Read, All)]));
    support
        .permissions
        .insert(Contact, actions(&[(Read, All), (Update, All)]));
    support.permissions.insert(User, actions(&[(Read, All)]));
    support.permissions.insert(Product, actions(&[(Read, All)]));
    let support_rules = support.field_rules.entry(Account).or_default();
    support_rules.insert("annual_revenue".into(), FieldAccess::Hidden);
    support_rules.insert("credit_limit".into(), FieldAccess::Hidden);

    // Finance: approves large contracts, records payments, follows receivables.
    let mut finance = Grants::default();
    for o in [Account, Opportunity, Quote, Order] {
        finance
            .permissions
            .insert(o, actions(&[(Read, All), (Export, All)]));
    }
    finance.permissions.insert(
        Contract,
        actions(&[(Read, All), (Update, All), (Export, All)]),
    );
    finance.permissions.insert(
        Payment,
        actions(&[
            (Read, All),
            (Create, All),
            (Update, All),
            (Delete, All),
            (Export, All),
        ]),
    );
    finance.permissions.insert(Product, actions(&[(Read, All)]));
    finance.permissions.insert(User, actions(&[(Read, All)]));

    let mut viewer = Grants::default();
    for o in SOLD.into_iter().chain([Product]) {
        viewer.permissions.insert(o, actions(&[(Read, All)]));
    }
    viewer.permissions.insert(User, actions(&[(Read, All)]));

    vec![
        BuiltinRole {
            key: "administrator",
            name_en: "Administrator",
            name_zh: "系统管理员",
            grants: admin,
        },
        BuiltinRole {
            key: "sales_manager",
            name_en: "Sales manager",
            name_zh: "销售经理",
            grants: manager,
        },
        BuiltinRole {
            key: "sales_rep",
            name_en: "Sales rep",
            name_zh: "销售代表",
            grants: rep,
        },
        BuiltinRole {
            key: "marketer",
            name_en: "Marketer",
            name_zh: "市场专员",
            grants: marketer,
        },
        BuiltinRole {
            key: "support_agent",
            name_en: "Support agent",
            name_zh: "客服专员",
            grants: support,
        },
        BuiltinRole {
            key: "finance",
            name_en: "Finance",
            name_zh: "财务",
            grants: finance,
        },
        BuiltinRole {
            key: "viewer",
            name_en: "Viewer",
            name_zh: "只读用户",
            grants: viewer,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(key: &str) -> Grants {
        builtin_roles()
            .into_iter()
            .find(|r| r.key == key)
            .map(|r| r.grants)
            .unwrap_or_default()
    }

    #[test]
    fn merge_takes_widest_scope() {
        let merged = Grants::merge([&role("sales_rep"), &role("viewer")]);
        assert_eq!(merged.scope(Object::Account, Action::Read), Scope::All);
        assert_eq!(merged.scope(Object::Account, Action::Update), Scope::Own);
        assert_eq!(merged.scope(Object::Account, Action::Transfer), Scope::None);
    }

    #[test]
    fn field_rule_survives_only_if_every_role_restricts() {
        let merged = Grants::merge([&role("support_agent"), &role("sales_rep")]);
        // support hides credit_limit, rep makes it read-only: read-only wins.
        assert_eq!(
            merged.field_access(Object::Account, "credit_limit"),
            Some(FieldAccess::ReadOnly)
        );
        // only support hides annual revenue; the rep may see it.
        assert_eq!(merged.field_access(Object::Account, "annual_revenue"), None);
        let alone = Grants::merge([&role("support_agent")]);
        assert!(!alone.can_read_field(Object::Account, "annual_revenue"));
    }

    #[test]
    fn no_roles_means_nothing() {
        let merged = Grants::merge([]);
        assert_eq!(merged.scope(Object::Contact, Action::Read), Scope::None);
    }
}
