//! Every task that runs beside the requests, started through one [`Background`] and stopped by
//! it on a graceful shutdown: the writers that commit in groups (creates, audit entries), the
//! audit read journal's mover, and what the server starts with [`crate::worker::start_server_tasks`]
//! (the WAL checkpointer, the search tokens' generation merger, the job worker). A task is
//! told to stop through its [`Stop`]; it finishes what it holds (queued creates and audit
//! entries are written) and ends. [`Background::stop`] waits for all of them, up to a limit.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What a background task watches to know it should stop.
#[derive(Debug, Clone)]
pub struct Stop(CancellationToken);

impl Stop {
    /// Resolves when the task should stop.
    pub async fn requested(&self) {
        self.0.cancelled().await
    }

    pub fn is_requested(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// The tasks of one server process, by name.
#[derive(Debug, Default)]
pub struct Background {
    stop: CancellationToken,
    tasks: Mutex<Vec<(&'static str, JoinHandle<()>)>>,
}

impl Background {
    /// Start `task` (given the [`Stop`] it must watch) under `name`.
    pub fn spawn<F, Fut>(&self, name: &'static str, task: F)
    where
        F: FnOnce(Stop) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(task(Stop(self.stop.clone())));
        match self.tasks.lock() {
            Ok(mut tasks) => tasks.push((name, handle)),
            Err(_) => tracing::warn!(task = name, "background task list poisoned; not tracked"),
        }
    }

    /// The names of the tasks started and not yet finished.
    pub fn running(&self) -> Vec<&'static str> {
        self.tasks
            .lock()
            .map(|t| {
                t.iter()
                    .filter(|(_, h)| !h.is_finished())
                    .map(|(n, _)| *n)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ask every task to stop and wait for each, at most `grace` in all; a task still running
    /// then is aborted (and named in the log).
    pub async fn stop(&self, grace: Duration) {
        self.stop.cancel();
        let tasks = match self.tasks.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => return,
        };
        let deadline = tokio::time::Instant::now() + grace;
        for (name, mut handle) in tasks {
            match tokio::time::timeout_at(deadline, &mut handle).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(task = name, error = %e, "background task failed"),
                Err(_) => {
                    tracing::warn!(task = name, "background task did not stop in time; aborted");
                    handle.abort();
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn stop_lets_tasks_finish_and_aborts_those_that_do_not() {
        let bg = Background::default();
        let finished = Arc::new(AtomicBool::new(false));
        let f = finished.clone();
        bg.spawn("polite", move |stop| async move {
            stop.requested().await;
            // Finishing its work after the request.
            tokio::time::sleep(Duration::from_millis(20)).await;
            f.store(true, Ordering::SeqCst);
        });
        bg.spawn("stubborn", |_stop| async move {
            std::future::pending::<()>().await;
        });
        assert_eq!(bg.running(), ["polite", "stubborn"]);
        let started = tokio::time::Instant::now();
        bg.stop(Duration::from_millis(300)).await;
        assert!(
            finished.load(Ordering::SeqCst),
            "the polite task finished its work"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(bg.running().is_empty());
        // A task started after the stop sees it at once.
        let late = Arc::new(AtomicBool::new(false));
        let l = late.clone();
        bg.spawn("late", move |stop| async move {
            stop.requested().await;
            l.store(true, Ordering::SeqCst);
        });
        bg.stop(Duration::from_millis(300)).await;
        assert!(late.load(Ordering::SeqCst));
    }
}
