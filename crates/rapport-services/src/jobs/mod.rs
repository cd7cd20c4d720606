//! Durable background work: the queue ([`queue`]: jobs as rows, enqueued with the change that
//! causes them) and the worker every server process runs ([`worker`]: claims due jobs under a
//! lease and runs each in one transaction with marking it done; ADR 0006).

mod queue;
pub mod worker;

pub use queue::*;
