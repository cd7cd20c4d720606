//! Threads of our own for blocking database work (ADR 0018): each owns one state (a SQLite
//! connection) for the life of the process, and jobs are handed to an idle one.
//!
//! Tokio's blocking pool starts a thread whenever none is idle at the moment of a call and
//! keeps it for ten seconds; under load the page readers and the read journal ran on some
//! thirty threads. Each thread that allocates gets its own allocator heap, holding partly used
//! pages of every size class, so the server's memory grew with the number of threads that had
//! ever read a page. A fixed set of threads keeps that set fixed, and each stays warm.

use rapport_core::DomainError;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;
use tokio::sync::{oneshot, Semaphore};

type Job<S> = Box<dyn FnOnce(&mut S) + Send>;

/// A fixed set of threads, each with its own `S`.
pub struct Threads<S> {
    senders: Vec<Sender<Job<S>>>,
    idle: Mutex<Vec<usize>>,
    permits: Semaphore,
}

impl<S> std::fmt::Debug for Threads<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Threads")
            .field("threads", &self.senders.len())
            .field("available", &self.permits.available_permits())
            .finish()
    }
}

fn closed() -> DomainError {
    DomainError::Internal("database: a worker thread has stopped".into())
}

impl<S: Send + 'static> Threads<S> {
    /// One thread per state, named `name-N`. A thread ends when the `Threads` is dropped.
    pub fn start(name: &str, states: Vec<S>) -> Result<Threads<S>, DomainError> {
        let mut senders = Vec::with_capacity(states.len());
        for (i, mut state) in states.into_iter().enumerate() {
            let (tx, rx) = channel::<Job<S>>();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        job(&mut state);
                    }
                })
                .map_err(|e| DomainError::Internal(format!("starting {name}: {e}")))?;
            senders.push(tx);
        }
        Ok(Threads {
            idle: Mutex::new((0..senders.len()).rev().collect()),
            permits: Semaphore::new(senders.len()),
            senders,
        })
    }

    /// Run `f` on an idle thread and wait for its answer. A panic in `f` is an error, and the
    /// thread goes on with the next job.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut S) -> Result<T, DomainError> + Send + 'static,
    ) -> Result<T, DomainError> {
        let _permit = self.permits.acquire().await.map_err(|_| closed())?;
        let slot = Slot::take(&self.idle)?;
        let (tx, rx) = oneshot::channel();
        let job: Job<S> = Box::new(move |state: &mut S| {
            let answer = catch_unwind(AssertUnwindSafe(|| f(state))).unwrap_or_else(|_| {
                Err(DomainError::Internal(
                    "database: a worker thread's job panicked".into(),
                ))
            });
            let _ = tx.send(answer);
        });
        self.senders[slot.index].send(job).map_err(|_| closed())?;
        // Cancelled here (the request went away), the slot goes back at once: a job given to
        // that thread next waits in its queue behind this one.
        rx.await.map_err(|_| closed())?
    }
}

/// An idle thread's index, given back when dropped.
struct Slot<'a> {
    idle: &'a Mutex<Vec<usize>>,
    index: usize,
}

impl<'a> Slot<'a> {
    fn take(idle: &'a Mutex<Vec<usize>>) -> Result<Slot<'a>, DomainError> {
        // The permit guarantees one is idle.
        let index = idle
            .lock()
            .map_err(|_| closed())?
            .pop()
            .ok_or_else(closed)?;
        Ok(Slot { idle, index })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(self.index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_threads_state_and_a_panic_is_an_error() {
        let w = Threads::start("test-worker", vec![0u32, 100]).unwrap();
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(
                w.run(|n: &mut u32| {
                    *n += 1;
                    Ok(*n)
                })
                .await
                .unwrap(),
            );
        }
        // Run one at a time, every job goes to the same idle thread; its state persists.
        assert_eq!(seen, vec![1, 2, 3, 4, 5, 6]);
        let err = w
            .run(|_: &mut u32| -> Result<(), DomainError> { panic!("boom") })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
        // The thread survived its job's panic.
        assert_eq!(w.run(|n: &mut u32| Ok(*n)).await.unwrap(), 6);
        let names = w
            .run(|_: &mut u32| Ok(std::thread::current().name().map(str::to_owned)))
            .await
            .unwrap();
        assert_eq!(names.as_deref(), Some("test-worker-0"));
    }

    #[tokio::test]
    async fn concurrent_jobs_use_every_thread_and_never_two_at_once_on_one() {
        let w = std::sync::Arc::new(Threads::start("test-pair", vec![(), ()]).unwrap());
        let busy = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (w, busy) = (w.clone(), busy.clone());
            tasks.push(tokio::spawn(async move {
                w.run(move |_: &mut ()| {
                    let me = std::thread::current().name().map(str::to_owned);
                    assert!(busy.lock().unwrap().insert(me.clone()), "two jobs at once");
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    busy.lock().unwrap().remove(&me);
                    Ok(me)
                })
                .await
            }));
        }
        let mut names = std::collections::HashSet::new();
        for t in tasks {
            names.insert(t.await.unwrap().unwrap());
        }
        assert_eq!(names.len(), 2, "{names:?}");
    }
}
