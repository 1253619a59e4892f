//! The [`Runtime`] (its executor threads) and the `Send` [`RuntimeHandle`] that plain
//! threads and sockets use to reach its cores.

use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use glommio::ExecutorJoinHandle as JoinHandle;
use glommio::LocalExecutorBuilder;

use super::builder::memlock_limit;
use super::load::{Loads, Placement};
use super::pump::{pump, Job, CONTEXT};
use super::{CoreContext, CoreTasks, RuntimeBuilder, RuntimeError};
use crate::doorbell::{core_doorbell, CoreBell, Doorbell};
use crate::mesh::{link, Outbox};

/// Jobs waiting for one core (closures to run there; rare, so one ring per core).
const CONTROL_CAPACITY: usize = 1024;

struct CoreRemote {
    control: Mutex<Outbox<Job>>,
    bell: Arc<Doorbell>,
}

struct Shared {
    cores: Vec<CoreRemote>,
    mesh_capacity: usize,
    /// Set when the runtime starts stopping.
    stopped: AtomicBool,
    /// Connections per core and the placement policy (see
    /// [`RuntimeHandle::next_core`]).
    loads: Arc<Loads>,
}

/// One pinned glommio executor per chosen core. Dropping it (or [`Runtime::shutdown`])
/// closes every socket on every core, honouring LINGER, and joins the threads.
///
/// Sockets get onto its cores as `monocoque::ShardedSocket::new(&rt, ..)` (a shard on
/// every core) or inside tasks it runs there, which may create local sockets of their
/// own.
///
/// ```
/// # use monocoque_runtime as monocoque; // users name these through `monocoque`
/// use monocoque::Runtime;
///
/// let rt = Runtime::builder().cores(vec![0]).build()?;
/// assert_eq!(rt.cores(), 1);
/// // A task on every core (here one); the plain thread waits for their values.
/// let names = rt
///     .on_each_core(|core| async move { format!("core {core}") })
///     .join()?;
/// assert_eq!(names, ["core 0"]);
/// // The handle is `Send`: other threads reach the cores through it.
/// let handle = rt.handle();
/// std::thread::spawn(move || handle.spawn_on(0, || async { /* runs on core 0 */ }))
///     .join()
///     .unwrap();
/// rt.shutdown(); // or drop it
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Runtime {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// A cloneable, `Send` reference to a running [`Runtime`], for sockets and handles.
#[derive(Clone)]
pub struct RuntimeHandle {
    shared: Arc<Shared>,
}

impl Runtime {
    /// A builder with the defaults: every online core, 256 KiB of io_memory each.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    pub(super) fn start(config: RuntimeBuilder, cpus: Vec<usize>) -> Result<Runtime, RuntimeError> {
        let n = cpus.len();
        let mut remotes = Vec::with_capacity(n);
        let mut receivers = Vec::with_capacity(n);
        for &core in &cpus {
            let (bell, bell_rx) = core_doorbell().map_err(|e| RuntimeError::Spawn {
                core,
                reason: e.to_string(),
            })?;
            let bell = Arc::new(bell);
            let (tx, control) = link::<Job>(CONTROL_CAPACITY, Arc::clone(&bell));
            remotes.push(CoreRemote {
                control: Mutex::new(tx),
                bell,
            });
            receivers.push((bell_rx, control));
        }
        let shared = Arc::new(Shared {
            cores: remotes,
            mesh_capacity: config.mesh_capacity,
            stopped: AtomicBool::new(false),
            loads: Loads::new(config.placement, n),
        });
        let mut threads = Vec::with_capacity(n);
        for (index, (&cpu, (bell_rx, control))) in cpus.iter().zip(receivers).enumerate() {
            let handle = RuntimeHandle {
                shared: Arc::clone(&shared),
            };
            let placement = if config.pinned {
                glommio::Placement::Fixed(cpu)
            } else {
                glommio::Placement::Unbound
            };
            let mut builder = LocalExecutorBuilder::new(placement)
                .name(&format!("monocoque-core-{index}"))
                .io_memory(config.io_memory)
                .ring_depth(config.ring_depth);
            if let Some(spin) = config.spin_before_park {
                builder = builder.spin_before_park(spin);
            }
            let spawned = builder.spawn(move || async move {
                let ctx = Rc::new(CoreContext::new(index, n, handle));
                CONTEXT.with(|c| *c.borrow_mut() = Some(Rc::clone(&ctx)));
                let bell = CoreBell::new(bell_rx).expect("doorbell socket");
                pump(&ctx, control, bell).await;
                ctx.shutdown_services().await;
                CONTEXT.with(|c| c.borrow_mut().take());
            });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    drop(Runtime { shared, threads });
                    return Err(RuntimeError::Spawn {
                        core: cpu,
                        reason: format!("{e} (locked-memory limit: {:?} bytes)", memlock_limit()),
                    });
                }
            }
        }
        Ok(Runtime { shared, threads })
    }

    /// Number of cores (executors).
    pub fn cores(&self) -> usize {
        self.shared.cores.len()
    }

    /// A `Send` handle to this runtime.
    pub fn handle(&self) -> RuntimeHandle {
        RuntimeHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Runs `f(core_index)` on every core, each call creating a future that runs as a
    /// task there; [`CoreTasks::join`] collects what they return (see
    /// [`RuntimeHandle::on_each_core`]).
    pub fn on_each_core<F, Fut, T>(&self, f: F) -> CoreTasks<T>
    where
        F: Fn(usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        self.handle().on_each_core(f)
    }

    /// Stops every core: sockets close (LINGER honoured), executors end, threads join.
    ///
    /// Every socket on a core closes: the shards of sharded sockets (after what their
    /// handles had handed them), and local sockets that live on a core, whether still
    /// open or dropped and lingering. Each waits up to its LINGER for what it accepted
    /// to reach its peers, all of them at once; with the default LINGER (for ever), as
    /// with libzmq's `zmq_ctx_term`, a message for a peer that never comes keeps
    /// `shutdown` waiting: set `Options::linger` to bound it.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        for core in 0..self.shared.cores.len() {
            self.handle().run_on(core, || {
                if let Some(ctx) = CoreContext::current() {
                    ctx.request_stop();
                }
            });
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop();
    }
}

impl RuntimeHandle {
    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.shared.cores.len()
    }

    /// True once the runtime was shut down (or dropped): its sockets are closed.
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::Acquire)
    }

    /// The core for the next connection, by the runtime's [`Placement`]
    /// ([`RuntimeBuilder::placement`]). There is one choice for the whole runtime,
    /// shared by every sharded socket on it (their connects and their acceptors), so a
    /// hundred sockets with one connection each spread as evenly as one socket with a
    /// hundred.
    ///
    /// Under [`Placement::LeastLoaded`] the choice counts on that core, as a
    /// connection on its way, until the next job this thread sends there
    /// ([`RuntimeHandle::run_on`]: the connect, or the accepted connection handed
    /// over) has run, and the connection task it starts counts instead. That is what
    /// spreads a burst of connects made before any of them runs. A choice not followed
    /// by a job to that core counts nothing.
    ///
    /// ```no_run
    /// # use monocoque_runtime as monocoque; // users name these through `monocoque`
    /// let rt = monocoque::Runtime::builder().cores(vec![0, 1]).build()?;
    /// let handle = rt.handle();
    /// let core = handle.next_core();
    /// assert!(core < handle.cores());
    /// // Start the connection there (a sharded socket's `connect_on(core, ..)` does).
    /// handle.spawn_on(core, || async { /* connect */ });
    /// # Ok::<(), monocoque::RuntimeError>(())
    /// ```
    pub fn next_core(&self) -> usize {
        self.shared.loads.choose()
    }

    /// The placement policy ([`RuntimeBuilder::placement`]).
    pub fn placement(&self) -> Placement {
        self.shared.loads.policy()
    }

    /// How many connections each core owns now, in core order: every connect made on
    /// the core (connected, or still trying to, until it gives up or its socket
    /// closes) and every accepted connection served there (until it ends), of sharded
    /// sockets and of local sockets living on the core alike. This is the load that
    /// [`Placement::LeastLoaded`] balances. It counts connections, not handshakes: a
    /// sharded socket's `peers_per_core` says how many completed theirs.
    ///
    /// ```no_run
    /// # use monocoque_runtime as monocoque; // users name these through `monocoque`
    /// let rt = monocoque::Runtime::builder().cores(vec![0, 1]).build()?;
    /// assert_eq!(rt.handle().connections_per_core(), [0, 0]);
    /// # Ok::<(), monocoque::RuntimeError>(())
    /// ```
    pub fn connections_per_core(&self) -> Vec<usize> {
        self.shared.loads.connections()
    }

    pub(crate) fn loads(&self) -> &Arc<Loads> {
        &self.shared.loads
    }

    /// Capacity of each cross-core ring ([`RuntimeBuilder::mesh_capacity`]).
    pub fn mesh_capacity(&self) -> usize {
        self.shared.mesh_capacity
    }

    /// A ring of [`RuntimeHandle::mesh_capacity`] into core `core`, whose producer
    /// rings that core's doorbell; the consumer end is for a [`CoreService`] of that
    /// core to drain.
    ///
    /// [`CoreService`]: super::CoreService
    pub fn ring_to<T>(&self, core: usize) -> (Outbox<T>, crate::ring::Consumer<T>) {
        link(
            self.shared.mesh_capacity,
            Arc::clone(&self.shared.cores[core].bell),
        )
    }

    /// Runs `job` on core `core` (index into the runtime's cores). Returns false if the
    /// core has stopped.
    pub fn run_on(&self, core: usize, job: impl FnOnce() + Send + 'static) -> bool {
        // A placement ([`RuntimeHandle::next_core`]) counts until its job ran.
        let mut job: Job = self.shared.loads.wrap(core, job);
        loop {
            let pushed = self.shared.cores[core]
                .control
                .lock()
                .expect("control ring lock")
                .try_send(job);
            match pushed {
                Ok(()) => return true,
                Err(e) if e.is_closed() => return false,
                Err(e) => {
                    job = e.into_inner();
                    std::thread::yield_now();
                }
            }
        }
    }

    /// Spawns the future made by `f` as a task on core `core`.
    pub fn spawn_on<F, Fut>(&self, core: usize, f: F) -> bool
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.run_on(core, move || {
            glommio::spawn_local(f()).detach();
        })
    }

    /// Runs `f(core_index)` as a task on every core. The returned [`CoreTasks`] waits
    /// for their values ([`CoreTasks::join`], from a plain thread); dropped, the tasks
    /// run on unobserved.
    pub fn on_each_core<F, Fut, T>(&self, f: F) -> CoreTasks<T>
    where
        F: Fn(usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        CoreTasks::start(self, move |core| Some(f(core)))
    }

    /// [`RuntimeHandle::on_each_core`] for a job that may have nothing to run on some
    /// core (`f` returns `None` there; [`CoreTasks::join`] reports that core as
    /// [`CoreTaskLost`](super::CoreTaskLost)): a sharded socket's handlers, for
    /// instance, when the socket has closed.
    pub fn on_each_core_where<F, Fut, T>(&self, f: F) -> CoreTasks<T>
    where
        F: Fn(usize) -> Option<Fut> + Send + Sync + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        CoreTasks::start(self, f)
    }
}
