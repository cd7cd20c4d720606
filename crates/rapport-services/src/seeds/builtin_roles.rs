//! The seven built-in roles the first migration creates (and later migrations extend to new
//! record types): what each may do to each record type and administrative area. Editable
//! afterwards like any role.

use crate::objects::{
    ACCOUNT, CONTACT, CONTRACT, LEAD, OPPORTUNITY, ORDER, PAYMENT, PRODUCT, QUOTE,
};
use rapport_core::permission::{Action, FieldAccess, Grants, Object, Scope};
use std::collections::BTreeMap;

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
    crate::objects::register();
    use Action::*;
    use Scope::*;

    let admin = Grants {
        permissions: Object::all()
            .into_iter()
            .map(|o| (o, all_actions(All)))
            .collect(),
        field_rules: BTreeMap::new(),
    };

    const SOLD: [Object; 8] = [
        ACCOUNT,
        CONTACT,
        LEAD,
        OPPORTUNITY,
        QUOTE,
        CONTRACT,
        ORDER,
        PAYMENT,
    ];
    let mut manager = Grants::default();
    manager.permissions.insert(PRODUCT, actions(&[(Read, All)]));
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
    manager
        .permissions
        .insert(Object::USER, actions(&[(Read, All)]));
    manager
        .permissions
        .insert(Object::DEPARTMENT, actions(&[(Read, All)]));
    manager
        .field_rules
        .entry(ACCOUNT)
        .or_default()
        .insert("credit_limit".into(), FieldAccess::ReadOnly);

    let mut rep = Grants::default();
    rep.permissions.insert(PRODUCT, actions(&[(Read, All)]));
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
    rep.permissions
        .insert(Object::USER, actions(&[(Read, All)]));
    rep.permissions
        .insert(Object::DEPARTMENT, actions(&[(Read, All)]));
    rep.field_rules
        .entry(ACCOUNT)
        .or_default()
        .insert("credit_limit".into(), FieldAccess::ReadOnly);

    let mut marketer = Grants::default();
    marketer
        .permissions
        .insert(ACCOUNT, actions(&[(Read, All), (Export, All)]));
    marketer.permissions.insert(
        CONTACT,
        actions(&[(Read, All), (Update, Own), (Export, All)]),
    );
    marketer.permissions.insert(
        LEAD,
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
        .insert(OPPORTUNITY, actions(&[(Read, All), (Export, All)]));
    marketer
        .permissions
        .insert(Object::USER, actions(&[(Read, All)]));
    marketer
        .permissions
        .insert(PRODUCT, actions(&[(Read, All)]));

    let mut support = Grants::default();
    support.permissions.insert(ACCOUNT, actions(&[(Read, All)]));
    support
        .permissions
        .insert(CONTACT, actions(&[(Read, All), (Update, All)]));
    support
        .permissions
        .insert(Object::USER, actions(&[(Read, All)]));
    support.permissions.insert(PRODUCT, actions(&[(Read, All)]));
    let support_rules = support.field_rules.entry(ACCOUNT).or_default();
    support_rules.insert("annual_revenue".into(), FieldAccess::Hidden);
    support_rules.insert("credit_limit".into(), FieldAccess::Hidden);

    // Finance: approves large contracts, records payments, follows receivables.
    let mut finance = Grants::default();
    for o in [ACCOUNT, OPPORTUNITY, QUOTE, ORDER] {
        finance
            .permissions
            .insert(o, actions(&[(Read, All), (Export, All)]));
    }
    finance.permissions.insert(
        CONTRACT,
        actions(&[(Read, All), (Update, All), (Export, All)]),
    );
    finance.permissions.insert(
        PAYMENT,
        actions(&[
            (Read, All),
            (Create, All),
            (Update, All),
            (Delete, All),
            (Export, All),
        ]),
    );
    finance.permissions.insert(PRODUCT, actions(&[(Read, All)]));
    finance
        .permissions
        .insert(Object::USER, actions(&[(Read, All)]));

    let mut viewer = Grants::default();
    for o in SOLD.into_iter().chain([PRODUCT]) {
        viewer.permissions.insert(o, actions(&[(Read, All)]));
    }
    viewer
        .permissions
        .insert(Object::USER, actions(&[(Read, All)]));

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
        assert_eq!(merged.scope(ACCOUNT, Action::Read), Scope::All);
        assert_eq!(merged.scope(ACCOUNT, Action::Update), Scope::Own);
        assert_eq!(merged.scope(ACCOUNT, Action::Transfer), Scope::None);
    }

    #[test]
    fn field_rule_survives_only_if_every_role_restricts() {
        let merged = Grants::merge([&role("support_agent"), &role("sales_rep")]);
        // support hides credit_limit, rep makes it read-only: read-only wins.
        assert_eq!(
            merged.field_access(ACCOUNT, "credit_limit"),
            Some(FieldAccess::ReadOnly)
        );
        // only support hides annual revenue; the rep may see it.
        assert_eq!(merged.field_access(ACCOUNT, "annual_revenue"), None);
        let alone = Grants::merge([&role("support_agent")]);
        assert!(!alone.can_read_field(ACCOUNT, "annual_revenue"));
    }

    #[test]
    fn no_roles_means_nothing() {
        let merged = Grants::merge([]);
        assert_eq!(merged.scope(CONTACT, Action::Read), Scope::None);
    }
}
