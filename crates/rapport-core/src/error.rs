//! The one error type services return. The web layer maps each variant to a problem+json
//! response with a stable machine `code`.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("not found")]
    NotFound,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("likely duplicate")]
    Duplicate {
        rule: String,
        matches: Vec<serde_json::Value>,
        overridable: bool,
    },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("second factor required")]
    MfaRequired,
    #[error("too many attempts")]
    RateLimited { retry_after_secs: u64 },
    #[error("setup already completed")]
    SetupDone,
    /// Another system Rapport talks to (a mail server) refused or could not be reached.
    #[error("upstream failure: {0}")]
    Upstream(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl DomainError {
    pub fn field(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        DomainError::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        DomainError::Internal(e.to_string())
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
