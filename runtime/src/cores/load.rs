//! Where a runtime puts new connections ([`Placement`]) and what it counts to choose:
//! the connections each core owns, and the placements already chosen whose connection
//! is not running yet (so that a burst of connects spreads before any of them runs).
//!
//! Costs: one atomic add when a connection task starts and one when it ends; a scan of
//! one counter per core when a connection is placed; nothing per message.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::pump::CONTEXT;

/// How a [`Runtime`](super::Runtime) chooses the core of each new connection (a sharded
/// socket's `connect`, and each connection its acceptor takes), through
/// [`RuntimeHandle::next_core`](super::RuntimeHandle::next_core). One choice for the
/// whole runtime, shared by every sharded socket on it.
///
/// ```no_run
/// # use monocoque_runtime as monocoque; // users name these through `monocoque`
/// use monocoque::{Placement, Runtime};
/// let rt = Runtime::builder()
///     .cores(vec![0, 1])
///     .placement(Placement::RoundRobin)
///     .build()?;
/// assert_eq!(rt.handle().placement(), Placement::RoundRobin);
/// # Ok::<(), monocoque::RuntimeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Placement {
    /// In turn over the cores, whatever they already carry. Predictable (the n-th
    /// connection of the runtime goes to core n mod cores), and even as long as
    /// connections last as long as one another.
    RoundRobin,
    /// The default: the core that owns the fewest connections
    /// ([`RuntimeHandle::connections_per_core`](super::RuntimeHandle::connections_per_core)),
    /// counting those placed there that have not started yet; ties go in turn. While
    /// no connection ends this places exactly as [`Placement::RoundRobin`] does; when
    /// connections come and go (a load generator's churn, sockets closed on one core),
    /// or when some were put on a core by hand (`connect_on`, local sockets on a
    /// core), new ones fill the emptier cores.
    #[default]
    LeastLoaded,
}

/// One core's counters, on a cache line of their own (each core writes its own).
#[repr(align(64))]
#[derive(Default)]
struct CoreLoad {
    /// What least-loaded placement compares: connection tasks running on the core
    /// plus placements on their way to it (whose job has not run there yet). A
    /// placement's job that starts a connection hands its unit to the connection, so
    /// that the load never counts one connection twice, nor none, in between.
    load: AtomicUsize,
    /// Of `load`, the placements on their way.
    placing: AtomicUsize,
}

/// The runtime-wide placement state.
pub(crate) struct Loads {
    policy: Placement,
    cores: Box<[CoreLoad]>,
    /// The turn: round-robin's counter, and least-loaded's tie-breaker.
    turn: AtomicUsize,
}

thread_local! {
    /// The last placement this thread chose and has not yet sent to its core:
    /// (the runtime's [`Loads`], the core). The job the thread sends that core next
    /// ([`Loads::placing`]) carries it, counted until it has run.
    static CHOSEN: RefCell<Option<(Arc<Loads>, usize)>> = const { RefCell::new(None) };
    /// The placement whose job is running on this core now, for the connection task
    /// the job starts to take over ([`ConnectionCount::start`]).
    static RUNNING: RefCell<Option<Placing>> = const { RefCell::new(None) };
}

impl Loads {
    pub(crate) fn new(policy: Placement, cores: usize) -> Arc<Loads> {
        Arc::new(Loads {
            policy,
            cores: (0..cores).map(|_| CoreLoad::default()).collect(),
            turn: AtomicUsize::new(0),
        })
    }

    pub(crate) fn policy(&self) -> Placement {
        self.policy
    }

    fn load(&self, core: usize) -> usize {
        self.cores[core].load.load(Ordering::Relaxed)
    }

    /// The core for the next connection.
    pub(crate) fn choose(self: &Arc<Self>) -> usize {
        let n = self.cores.len();
        let start = self.turn.fetch_add(1, Ordering::Relaxed) % n;
        if self.policy == Placement::RoundRobin {
            return start;
        }
        let mut best = start;
        let mut best_load = self.load(start);
        for i in 1..n {
            let core = (start + i) % n;
            let load = self.load(core);
            if load < best_load {
                best = core;
                best_load = load;
            }
        }
        CHOSEN.with(|c| *c.borrow_mut() = Some((Arc::clone(self), best)));
        best
    }

    /// Called when this thread sends `job` to `core`: if it is the core this thread
    /// chose last, the job is the placement (a connect, an accepted connection handed
    /// over), and counts on that core from now until it has run; the connection task
    /// it starts there takes the count over. A job dropped unrun (the core stopped)
    /// ends the count.
    pub(crate) fn wrap(
        self: &Arc<Self>,
        core: usize,
        job: impl FnOnce() + Send + 'static,
    ) -> super::pump::Job {
        let chosen = CHOSEN.with(|c| c.borrow_mut().take());
        let Some((loads, _)) = chosen.filter(|(l, c)| Arc::ptr_eq(l, self) && *c == core) else {
            return Box::new(job);
        };
        let counts = &loads.cores[core];
        counts.placing.fetch_add(1, Ordering::Relaxed);
        counts.load.fetch_add(1, Ordering::Relaxed);
        let placing = Placing { loads, core };
        Box::new(move || {
            RUNNING.with(|r| *r.borrow_mut() = Some(placing));
            job();
            // Not taken over: the job started no connection.
            drop(RUNNING.with(|r| r.borrow_mut().take()));
        })
    }

    /// Connection tasks per core.
    pub(crate) fn connections(&self) -> Vec<usize> {
        self.cores
            .iter()
            .map(|c| {
                let placing = c.placing.load(Ordering::Relaxed);
                c.load.load(Ordering::Relaxed).saturating_sub(placing)
            })
            .collect()
    }
}

/// A placement counted on its core while its job waits to run there.
pub(crate) struct Placing {
    loads: Arc<Loads>,
    core: usize,
}

impl Placing {
    /// The connection the job started takes the unit of load over.
    fn hand_over(self) {
        self.loads.cores[self.core]
            .placing
            .fetch_sub(1, Ordering::Relaxed);
        std::mem::forget(self);
    }
}

impl Drop for Placing {
    fn drop(&mut self) {
        let counts = &self.loads.cores[self.core];
        counts.load.fetch_sub(1, Ordering::Relaxed);
        counts.placing.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One connection task counted on its core; the count ends when this is dropped
/// (with the task).
pub(crate) struct ConnectionCount {
    loads: Arc<Loads>,
    core: usize,
}

impl ConnectionCount {
    /// Counts a connection task starting on the current runtime core, taking over
    /// the unit of the placement whose job is starting it, if any; None (nothing
    /// counted) on any other thread or executor.
    pub(crate) fn start() -> Option<ConnectionCount> {
        let (loads, core) = CONTEXT.with(|c| {
            let c = c.borrow();
            let ctx = c.as_ref()?;
            Some((Arc::clone(ctx.runtime().loads()), ctx.index()))
        })?;
        match RUNNING.with(|r| r.borrow_mut().take()) {
            Some(placing) if Arc::ptr_eq(&placing.loads, &loads) && placing.core == core => {
                placing.hand_over();
            }
            other => {
                // Another runtime's job (cannot happen), or none: count afresh.
                RUNNING.with(|r| *r.borrow_mut() = other);
                loads.cores[core].load.fetch_add(1, Ordering::Relaxed);
            }
        }
        Some(ConnectionCount { loads, core })
    }
}

impl Drop for ConnectionCount {
    fn drop(&mut self) {
        self.loads.cores[self.core]
            .load
            .fetch_sub(1, Ordering::Relaxed);
    }
}
