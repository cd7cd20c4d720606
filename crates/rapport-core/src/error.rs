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
    /// The record changed (or went) since the version the write was based on.
    #[error("the record changed since it was read")]
    VersionConflict,
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
    /// The database failed, by kind.
    #[error("{0}")]
    Storage(StorageError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// A database failure, recognised by the kind of constraint or condition the database reports
/// (its error code), never by the wording of its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// A unique key was taken (on PostgreSQL `constraint` is the constraint's name; SQLite
    /// names the key's columns as `table.column`).
    #[error("database: unique key {constraint} taken")]
    Unique { constraint: String },
    /// A foreign key does not hold.
    #[error("database: reference {constraint} broken")]
    ForeignKey { constraint: String },
    /// The database could not be reached in time (pool exhausted, connection lost).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database: {0}")]
    Other(String),
}

impl DomainError {
    pub fn field(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        DomainError::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        DomainError::Internal(e.to_string())
    }

    /// A failure on our side (a bug or the database), not the caller's: worth retrying, never
    /// shown in detail.
    pub fn is_internal(&self) -> bool {
        match self {
            DomainError::Internal(_) => true,
            DomainError::Storage(s) => !matches!(s, StorageError::Unique { .. }),
            _ => false,
        }
    }

    /// Whether a unique key of the database refused the write.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DomainError::Storage(StorageError::Unique { .. }))
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
