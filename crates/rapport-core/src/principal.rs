//! The acting user, passed explicitly to every service call.

use crate::permission::{Action, Grants, Object, Scope};

#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub email: String,
    pub department_id: Option<String>,
    pub grants: Grants,
    /// The session the request came through, if any.
    pub session_id: Option<String>,
    /// The API token the request came through, if any.
    pub token_id: Option<String>,
    /// A read-only API token, or an administrator's "view as" preview.
    pub read_only: bool,
    /// Set when an administrator previews what this user sees.
    pub viewed_by: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Principal {
    pub fn scope(&self, object: Object, action: Action) -> Scope {
        if self.read_only && action != Action::Read {
            return Scope::None;
        }
        self.grants.scope(object, action)
    }

    pub fn is_admin(&self) -> bool {
        self.grants.scope(Object::SETTINGS, Action::Update) == Scope::All
    }

    /// The identity written to the audit trail for work done from the command line.
    pub fn system() -> Principal {
        Principal {
            user_id: "system".into(),
            email: "system".into(),
            department_id: None,
            grants: Grants {
                permissions: Object::all()
                    .into_iter()
                    .map(|o| {
                        (
                            o,
                            Action::ALL.into_iter().map(|a| (a, Scope::All)).collect(),
                        )
                    })
                    .collect(),
                field_rules: Default::default(),
            },
            session_id: None,
            token_id: None,
            read_only: false,
            viewed_by: None,
            ip: None,
            user_agent: None,
        }
    }
}
