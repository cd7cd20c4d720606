//! What only SQLite needs, kept out of sight of the rest: the connections that read pages
//! ([`page_readers`]) on threads of their own ([`threads`]), the background WAL checkpointer
//! ([`checkpointer`]), the audit read journal ([`audit_journal`]), and the WAL read and
//! applied for continuous backups ([`wal`], [`shipper`]).

pub mod audit_journal;
pub mod checkpointer;
pub(crate) mod page_readers;
#[cfg(test)]
mod scrub_tests;
pub mod shipper;
pub(crate) mod threads;
pub mod wal;
