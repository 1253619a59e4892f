//! The thread-per-core runtime: one pinned glommio executor per chosen core, each with
//! a mailbox ([`Inbox`]) that other cores and plain threads reach through SPSC rings.
//!
//! Each core runs one *pump* task that drains its control ring (jobs: closures to run on
//! the core) and its data rings ([`CrossMsg`]s for the sockets registered on the core),
//! and parks on the core's doorbell when all of them are empty.

use glommio::ExecutorJoinHandle as JoinHandle;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use glommio::{LocalExecutorBuilder, Placement};

use crate::doorbell::{core_doorbell, CoreBell, Doorbell};
use crate::mesh::{link, Inbox, Outbox};
use crate::message::Message;
use crate::ring::PushError;

/// Below this much lockable memory glommio cannot start an executor at all.
const MIN_MEMLOCK: u64 = 512 * 1024;
/// Items a pump takes from one ring before looking at the others.
const DRAIN_BATCH: usize = 64;

/// A message between cores for a sharded socket: which socket, what to do (`op`,
/// defined by the socket type), for which peer, and the message itself.
#[derive(Debug, Clone)]
pub struct CrossMsg {
    /// The sharded socket's id.
    pub socket: u64,
    /// The operation, interpreted by the socket type.
    pub op: u8,
    /// The core the message comes from.
    pub from: u16,
    /// A peer id or other argument of `op`.
    pub arg: u64,
    /// The message.
    pub msg: Message,
}

/// A socket's per-core part, as the pump sees it.
pub trait CrossHandler {
    /// A message from another core (or a plain thread) for this socket.
    fn on_cross(&self, msg: CrossMsg);
    /// The runtime is stopping: close, honouring LINGER.
    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()>>>;
}

type Job = Box<dyn FnOnce() + Send>;

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A requested core does not exist or is offline.
    #[error(
        "core {requested} is not available: this machine has {online} online CPUs (0..{online})"
    )]
    NoSuchCore {
        /// The core asked for.
        requested: usize,
        /// CPUs online.
        online: usize,
    },
    /// No core was requested.
    #[error("a runtime needs at least one core")]
    NoCores,
    /// The same core was requested twice.
    #[error("core {0} requested twice")]
    DuplicateCore(usize),
    /// RLIMIT_MEMLOCK is too low for glommio's io_uring buffers.
    #[error("locked-memory limit is {limit} bytes; glommio needs at least {needed} per core (raise `ulimit -l` or lower io_memory)")]
    MemlockTooLow {
        /// Current limit.
        limit: u64,
        /// What the requested executors need.
        needed: u64,
    },
    /// An executor thread failed to start.
    #[error("cannot start the executor for core {core}: {reason}")]
    Spawn {
        /// The core.
        core: usize,
        /// glommio's or the OS's explanation.
        reason: String,
    },
}

/// Configures a [`Runtime`].
///
/// ```no_run
/// use monocoque_runtime::Runtime;
/// let rt = Runtime::builder().cores(vec![0, 1]).io_memory(256 << 10).build()?;
/// assert_eq!(rt.cores(), 2);
/// rt.shutdown();
/// # Ok::<(), monocoque_runtime::RuntimeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    cores: Option<Vec<usize>>,
    io_memory: usize,
    ring_depth: usize,
    mesh_capacity: usize,
    spin_before_park: Option<Duration>,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        RuntimeBuilder {
            cores: None,
            io_memory: 256 << 10,
            ring_depth: 128,
            mesh_capacity: 4096,
            spin_before_park: None,
        }
    }
}

impl RuntimeBuilder {
    /// The CPUs to run on, one executor each, pinned (default: every online CPU).
    pub fn cores(mut self, cores: Vec<usize>) -> Self {
        self.cores = Some(cores);
        self
    }

    /// Bytes of io_uring fixed buffers per executor (glommio's `io_memory`).
    pub fn io_memory(mut self, bytes: usize) -> Self {
        self.io_memory = bytes;
        self
    }

    /// io_uring submission queue depth per executor.
    pub fn ring_depth(mut self, depth: usize) -> Self {
        self.ring_depth = depth;
        self
    }

    /// Capacity of each cross-core ring, in messages.
    pub fn mesh_capacity(mut self, capacity: usize) -> Self {
        self.mesh_capacity = capacity.max(2);
        self
    }

    /// Spin this long before an idle executor sleeps (lower latency, more CPU).
    pub fn spin_before_park(mut self, spin: Option<Duration>) -> Self {
        self.spin_before_park = spin;
        self
    }

    /// Starts the executors.
    pub fn build(self) -> Result<Runtime, RuntimeError> {
        let online = online_cpus();
        let cores = self.cores.clone().unwrap_or_else(|| (0..online).collect());
        if cores.is_empty() {
            return Err(RuntimeError::NoCores);
        }
        for (i, &c) in cores.iter().enumerate() {
            if c >= online {
                return Err(RuntimeError::NoSuchCore {
                    requested: c,
                    online,
                });
            }
            if cores[..i].contains(&c) {
                return Err(RuntimeError::DuplicateCore(c));
            }
        }
        if let Some(limit) = memlock_limit() {
            let needed = MIN_MEMLOCK.max(3 * self.io_memory as u64);
            if limit < needed {
                return Err(RuntimeError::MemlockTooLow { limit, needed });
            }
        }
        Runtime::start(self, cores)
    }
}

/// CPUs online on the machine (not only those this thread may run on: the runtime
/// may be built from a thread pinned to one core). Reads `/sys/devices/system/cpu/online`
/// ("0-3,6"), falling back to what this thread may use.
fn online_cpus() -> usize {
    let parsed = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|list| {
            list.trim()
                .split(',')
                .map(|part| match part.split_once('-') {
                    Some((_, hi)) => hi.parse::<usize>().ok(),
                    None => part.parse::<usize>().ok(),
                })
                .try_fold(0, |max, hi| hi.map(|h| max.max(h + 1)))
        });
    parsed.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// RLIMIT_MEMLOCK's soft limit, from /proc (None if unlimited or unknown).
fn memlock_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max locked memory"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

struct CoreRemote {
    control: Mutex<Outbox<Job>>,
    bell: Arc<Doorbell>,
}

struct Shared {
    cores: Vec<CoreRemote>,
    mesh_capacity: usize,
    /// Set when the runtime starts stopping.
    stopped: std::sync::atomic::AtomicBool,
}

/// One pinned glommio executor per chosen core. Dropping it (or [`Runtime::shutdown`])
/// closes every socket on every core, honouring LINGER, and joins the threads.
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

    fn start(config: RuntimeBuilder, cpus: Vec<usize>) -> Result<Runtime, RuntimeError> {
        let n = cpus.len();
        let mut bells = Vec::with_capacity(n);
        let mut bell_rx = Vec::with_capacity(n);
        for &core in &cpus {
            let (bell, rx) = core_doorbell().map_err(|e| RuntimeError::Spawn {
                core,
                reason: e.to_string(),
            })?;
            bells.push(Arc::new(bell));
            bell_rx.push(rx);
        }
        // Control rings (one per core, shared under a mutex: jobs are rare) and the
        // full mesh of data rings between cores.
        let mut remotes = Vec::with_capacity(n);
        let mut control_rx = Vec::with_capacity(n);
        for bell in &bells {
            let (tx, rx) = link::<Job>(1024, Arc::clone(bell));
            remotes.push(CoreRemote {
                control: Mutex::new(tx),
                bell: Arc::clone(bell),
            });
            control_rx.push(rx);
        }
        let mut outboxes: Vec<Vec<Option<Outbox<CrossMsg>>>> =
            (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
        let mut inboxes: Vec<Inbox<CrossMsg>> = (0..n).map(|_| Inbox::default()).collect();
        for (from, row) in outboxes.iter_mut().enumerate() {
            for (to, slot) in row.iter_mut().enumerate() {
                if from != to {
                    let (tx, rx) = link(config.mesh_capacity, Arc::clone(&bells[to]));
                    *slot = Some(tx);
                    inboxes[to].add(rx);
                }
            }
        }
        let shared = Arc::new(Shared {
            cores: remotes,
            mesh_capacity: config.mesh_capacity,
            stopped: std::sync::atomic::AtomicBool::new(false),
        });
        let mut threads = Vec::with_capacity(n);
        let parts = cpus
            .iter()
            .zip(bell_rx)
            .zip(control_rx)
            .zip(outboxes)
            .zip(inboxes)
            .enumerate();
        for (index, ((((&cpu, bell_rx), control), outboxes), inbox)) in parts {
            let handle = RuntimeHandle {
                shared: Arc::clone(&shared),
            };
            let mut builder = LocalExecutorBuilder::new(Placement::Fixed(cpu))
                .name(&format!("monocoque-core-{index}"))
                .io_memory(config.io_memory)
                .ring_depth(config.ring_depth);
            if let Some(spin) = config.spin_before_park {
                builder = builder.spin_before_park(spin);
            }
            let spawned = builder.spawn(move || async move {
                let ctx = Rc::new(CoreContext {
                    index,
                    cores: n,
                    runtime: handle,
                    outboxes: RefCell::new(outboxes),
                    inbox: RefCell::new(inbox),
                    handlers: RefCell::new(Vec::new()),
                    stop: Cell::new(false),
                });
                CONTEXT.with(|c| *c.borrow_mut() = Some(Rc::clone(&ctx)));
                let bell = CoreBell::new(bell_rx).expect("doorbell socket");
                pump(&ctx, control, bell).await;
                let handlers: Vec<_> = ctx.handlers.borrow_mut().drain(..).collect();
                for (_, h) in handlers {
                    h.shutdown().await;
                }
                CONTEXT.with(|c| c.borrow_mut().take());
            });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    let rt = Runtime { shared, threads };
                    drop(rt);
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

    /// Runs `f` on every core, each call creating a future that runs as a task there.
    pub fn on_each_core<F, Fut>(&self, f: F)
    where
        F: Fn(usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.handle().on_each_core(f)
    }

    /// Stops every core: sockets close (LINGER honoured), executors end, threads join.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared
            .stopped
            .store(true, std::sync::atomic::Ordering::Release);
        for core in 0..self.shared.cores.len() {
            self.handle().run_on(core, || {
                if let Some(ctx) = CoreContext::current() {
                    ctx.stop.set(true);
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
        self.shared
            .stopped
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Capacity of each cross-core ring.
    pub fn mesh_capacity(&self) -> usize {
        self.shared.mesh_capacity
    }

    /// Runs `job` on core `core` (index into the runtime's cores). Returns false if the
    /// core has stopped.
    pub fn run_on(&self, core: usize, job: impl FnOnce() + Send + 'static) -> bool {
        let mut job: Job = Box::new(job);
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

    /// Runs `f(core_index)` as a task on every core.
    pub fn on_each_core<F, Fut>(&self, f: F)
    where
        F: Fn(usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let f = Arc::new(f);
        for core in 0..self.cores() {
            let f = Arc::clone(&f);
            self.spawn_on(core, move || f(core));
        }
    }

    /// A ring from a plain thread into core `core`'s data inbox (the consumer side is
    /// installed on that core). Returns None if the core has stopped.
    pub fn outbox_to(&self, core: usize) -> Option<Outbox<CrossMsg>> {
        let (tx, rx) = link(
            self.shared.mesh_capacity,
            Arc::clone(&self.shared.cores[core].bell),
        );
        let installed = self.run_on(core, move || {
            if let Some(ctx) = CoreContext::current() {
                ctx.inbox.borrow_mut().add(rx);
            }
        });
        installed.then_some(tx)
    }
}

/// What a core knows about itself, available to code running on it.
pub struct CoreContext {
    index: usize,
    cores: usize,
    runtime: RuntimeHandle,
    outboxes: RefCell<Vec<Option<Outbox<CrossMsg>>>>,
    inbox: RefCell<Inbox<CrossMsg>>,
    handlers: RefCell<Vec<(u64, Rc<dyn CrossHandler>)>>,
    stop: Cell<bool>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Rc<CoreContext>>> = const { RefCell::new(None) };
}

impl CoreContext {
    /// The context of the core this code runs on (None outside a runtime core).
    pub fn current() -> Option<Rc<CoreContext>> {
        CONTEXT.with(|c| c.borrow().clone())
    }

    /// This core's index in the runtime (0-based).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Number of cores in the runtime.
    pub fn cores(&self) -> usize {
        self.cores
    }

    /// The runtime.
    pub fn runtime(&self) -> &RuntimeHandle {
        &self.runtime
    }

    /// Pushes `msg` into core `to`'s ring. Never waits: a full ring (or one whose core
    /// has stopped) hands it back, by value so the hot path never boxes.
    #[allow(clippy::result_large_err)]
    pub fn send_to(&self, to: usize, msg: CrossMsg) -> Result<(), PushError<CrossMsg>> {
        match self.outboxes.borrow_mut()[to].as_mut() {
            Some(out) => out.try_send(msg),
            None => Err(PushError::Closed(msg)),
        }
    }

    /// Makes `handler` receive the [`CrossMsg`]s addressed to `socket` on this core.
    pub fn register(&self, socket: u64, handler: Rc<dyn CrossHandler>) {
        self.handlers.borrow_mut().push((socket, handler));
    }

    /// Adds a ring to this core's data inbox.
    pub fn add_inbox(&self, ring: crate::ring::Consumer<CrossMsg>) {
        self.inbox.borrow_mut().add(ring);
    }

    fn dispatch(&self, msg: CrossMsg) {
        let handler = self
            .handlers
            .borrow()
            .iter()
            .find(|(id, _)| *id == msg.socket)
            .map(|(_, h)| Rc::clone(h));
        if let Some(h) = handler {
            h.on_cross(msg);
        }
    }
}

async fn pump(ctx: &Rc<CoreContext>, mut control: crate::ring::Consumer<Job>, mut bell: CoreBell) {
    let mut jobs = Vec::new();
    let mut mail = Vec::with_capacity(DRAIN_BATCH);
    let mut slice = crate::coop::Slice::new();
    loop {
        control.pop_batch(64, |job| jobs.push(job));
        let had_jobs = !jobs.is_empty();
        for job in jobs.drain(..) {
            job();
        }
        if ctx.stop.get() {
            control.close();
            return;
        }
        let n = ctx.inbox.borrow_mut().drain(DRAIN_BATCH, |m| mail.push(m));
        for m in mail.drain(..) {
            ctx.dispatch(m);
        }
        if n > 0 || had_jobs {
            // Let the connections this batch woke write before taking more (a PUB
            // fan-out batch must not outrun its subscribers' queues), and, once the
            // time slice is over, the reactor run: a plain thread publishing flat out
            // keeps the rings full, and must not starve this core's other tasks.
            crate::coop::spend(n as u32);
            slice.yield_now().await;
            continue;
        }
        if !control.prepare_park() {
            continue;
        }
        if !ctx.inbox.borrow_mut().prepare_park() {
            control.cancel_park();
            continue;
        }
        bell.wait().await;
        control.cancel_park();
        ctx.inbox.borrow().cancel_park();
    }
}
