//! The thread an import's writing runs on (ADR 0027): a runtime of its own, so each
//! statement's answer from the database's writing thread is taken up at once, instead of
//! after the tasks checking and encoding the next batches give way on the shared runtime.
//!
//! It is started on first use and kept for the life of the process: a database connection
//! handed back to its pool is returned by a task on the runtime that held it. If it cannot be
//! started, the writing runs on the caller's runtime.

use std::sync::OnceLock;
use tokio::runtime::{Builder, Handle};

/// The writing thread's runtime.
pub(super) fn writer() -> Option<&'static Handle> {
    static WRITER: OnceLock<Option<Handle>> = OnceLock::new();
    WRITER
        .get_or_init(|| {
            let rt = Builder::new_current_thread().enable_all().build().ok()?;
            let handle = rt.handle().clone();
            std::thread::Builder::new()
                .name("rapport-import-writer".into())
                .spawn(move || rt.block_on(std::future::pending::<()>()))
                .ok()?;
            Some(handle)
        })
        .as_ref()
}
