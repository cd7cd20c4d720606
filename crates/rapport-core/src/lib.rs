//! Rapport's domain: identifiers, errors, the permission policy, object metadata and
//! validation rules. Nothing here performs I/O; the store and the web layer call into it.

pub mod activity;
pub mod clock;
pub mod custom;
pub mod error;
pub mod fields;
pub mod ids;
pub mod input;
pub mod lines;
pub mod names;
pub mod permission;
pub mod principal;
pub mod search_terms;
pub mod validate;

pub use clock::{Clock, SystemClock};
pub use error::{DomainError, FieldError, StorageError};
pub use permission::{Action, FieldAccess, Grants, Object, Scope};
pub use principal::Principal;
