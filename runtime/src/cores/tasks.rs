//! What [`RuntimeHandle::on_each_core`] hands back: one task per core, each ending
//! with a value the caller can wait for.

use std::future::Future;
use std::sync::mpsc;

use super::RuntimeHandle;

/// The tasks an `on_each_core` started, one per core. [`CoreTasks::join`] waits for
/// all of them and returns their values in core order; dropping it leaves the tasks
/// running, unobserved.
///
/// ```no_run
/// # use monocoque_runtime as monocoque; // users name these through `monocoque`
/// use monocoque::Runtime;
/// let rt = Runtime::builder().cores(vec![0, 1]).build()?;
/// // Each core counts something of its own; the plain thread gets every count.
/// let counts = rt.on_each_core(|core| async move { core * 10 }).join()?;
/// assert_eq!(counts, [0, 10]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CoreTasks<T> {
    results: Vec<mpsc::Receiver<T>>,
}

/// A core's task ended without a value: the runtime stopped (or, for a sharded
/// socket's handlers, the socket closed) before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the task on core {core} ended without a value (its runtime or socket closed first)")]
pub struct CoreTaskLost {
    /// The core (index into the runtime's cores).
    pub core: usize,
}

impl<T: Send + 'static> CoreTasks<T> {
    /// Starts `f(core)` on every core of `rt`. `f` may have nothing to run on a core
    /// (`None`): [`CoreTasks::join`] then reports that core as [`CoreTaskLost`].
    pub(crate) fn start<F, Fut>(rt: &RuntimeHandle, f: F) -> CoreTasks<T>
    where
        F: Fn(usize) -> Option<Fut> + Send + Sync + 'static,
        Fut: Future<Output = T> + 'static,
    {
        let f = std::sync::Arc::new(f);
        let results = (0..rt.cores())
            .map(|core| {
                let (tx, rx) = mpsc::sync_channel(1);
                let f = std::sync::Arc::clone(&f);
                rt.spawn_on(core, move || async move {
                    if let Some(fut) = f(core) {
                        // The receiver may be gone (the caller dropped the tasks).
                        let _ = tx.send(fut.await);
                    }
                });
                rx
            })
            .collect();
        CoreTasks { results }
    }

    /// Waits for every core's task, blocking this thread, and returns their values in
    /// core order. Call it from a plain thread: on a runtime core it would block the
    /// executor that may be running one of the tasks.
    pub fn join(self) -> Result<Vec<T>, CoreTaskLost> {
        self.results
            .into_iter()
            .enumerate()
            .map(|(core, rx)| rx.recv().map_err(|_| CoreTaskLost { core }))
            .collect()
    }
}
