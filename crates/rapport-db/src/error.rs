//! Database errors, typed by kind.

use rapport_core::{DomainError, StorageError};
use sea_orm::DbErr;

/// A database error as a typed [`StorageError`]: by the kind the driver reports (the
/// database's error code), never by the wording of the message.
pub fn db_err(e: DbErr) -> DomainError {
    DomainError::Storage(storage_error(&e))
}

fn storage_error(e: &DbErr) -> StorageError {
    use sea_orm::sqlx::error::{Error as SqlxError, ErrorKind};
    use sea_orm::RuntimeErr;
    let sqlx = match e {
        DbErr::Exec(RuntimeErr::SqlxError(s))
        | DbErr::Query(RuntimeErr::SqlxError(s))
        | DbErr::Conn(RuntimeErr::SqlxError(s)) => Some(s),
        _ => None,
    };
    match sqlx {
        Some(SqlxError::Database(d)) => {
            // PostgreSQL names the constraint; SQLite only names its columns, in the message
            // after the kind it reports by code ("UNIQUE constraint failed: users.email").
            let constraint = || {
                d.constraint()
                    .map(str::to_string)
                    .or_else(|| d.message().rsplit(": ").next().map(str::to_string))
                    .unwrap_or_default()
            };
            match d.kind() {
                ErrorKind::UniqueViolation => StorageError::Unique {
                    constraint: constraint(),
                },
                ErrorKind::ForeignKeyViolation => StorageError::ForeignKey {
                    constraint: constraint(),
                },
                // The server going away under a failover: its connection broke (class 08),
                // it is shutting down or starting (57P01-57P03), or it is a standby now
                // (25006, read-only). Another try, on the new primary, may succeed.
                _ if d.code().is_some_and(|c| {
                    c.starts_with("08") || c.starts_with("57P") || c == "25006"
                }) =>
                {
                    StorageError::Unavailable(e.to_string())
                }
                _ => StorageError::Other(e.to_string()),
            }
        }
        Some(SqlxError::PoolTimedOut | SqlxError::PoolClosed | SqlxError::Io(_)) => {
            StorageError::Unavailable(e.to_string())
        }
        _ if matches!(e, DbErr::ConnectionAcquire(_)) => StorageError::Unavailable(e.to_string()),
        _ => StorageError::Other(e.to_string()),
    }
}
