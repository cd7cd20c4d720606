//! What only SQLite needs, kept out of sight of the rest: the connections that read pages
//! ([`page_readers`]) on threads of their own ([`threads`]), the background WAL checkpointer
//! ([`checkpointer`]), and the audit read journal ([`audit_journal`]).

pub mod audit_journal;
pub mod checkpointer;
pub(crate) mod page_readers;
#[cfg(test)]
mod scrub_tests;
pub(crate) mod threads;
