//! Configuring a [`Runtime`]: which cores, how much io_uring memory, the checks made
//! before any executor starts.

use std::time::Duration;

use super::{Placement, Runtime};

/// Below this much lockable memory glommio cannot start an executor at all.
const MIN_MEMLOCK: u64 = 512 * 1024;

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
/// # use monocoque_runtime as monocoque; // users name these through `monocoque`
/// use monocoque::Runtime;
/// let rt = Runtime::builder().cores(vec![0, 1]).io_memory(256 << 10).build()?;
/// assert_eq!(rt.cores(), 2);
/// rt.shutdown();
/// # Ok::<(), monocoque::RuntimeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    pub(super) cores: Option<Vec<usize>>,
    pub(super) io_memory: usize,
    pub(super) ring_depth: usize,
    pub(super) mesh_capacity: usize,
    pub(super) spin_before_park: Option<Duration>,
    pub(super) placement: Placement,
    pub(super) pinned: bool,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        RuntimeBuilder {
            cores: None,
            io_memory: 256 << 10,
            ring_depth: 128,
            mesh_capacity: 4096,
            spin_before_park: None,
            placement: Placement::default(),
            pinned: true,
        }
    }
}

impl RuntimeBuilder {
    /// The CPUs to run on, one executor each, pinned (default: every online CPU; see
    /// [`RuntimeBuilder::pinned`]).
    pub fn cores(mut self, cores: Vec<usize>) -> Self {
        self.cores = Some(cores);
        self
    }

    /// Whether each executor is pinned to its CPU (default `true`). With `false` the
    /// runtime still runs one executor per entry of [`RuntimeBuilder::cores`], but the
    /// kernel schedules them where it likes: for a machine whose cores are busy with
    /// other work, or a container whose CPU numbers are not the host's. Pinned is what
    /// thread-per-core is for; unpinned trades its cache locality for not competing
    /// with whatever else owns those CPUs.
    ///
    /// ```no_run
    /// # use monocoque_runtime as monocoque; // users name these through `monocoque`
    /// use monocoque::Runtime;
    /// let rt = Runtime::builder().cores(vec![0, 1]).pinned(false).build()?;
    /// assert_eq!(rt.cores(), 2);
    /// # Ok::<(), monocoque::RuntimeError>(())
    /// ```
    pub fn pinned(mut self, pinned: bool) -> Self {
        self.pinned = pinned;
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

    /// How new connections are spread over the cores (default
    /// [`Placement::LeastLoaded`]; see [`RuntimeHandle::next_core`]).
    ///
    /// ```no_run
    /// # use monocoque_runtime as monocoque; // users name these through `monocoque`
    /// use monocoque::{Placement, Runtime};
    /// let rt = Runtime::builder().placement(Placement::RoundRobin).build()?;
    /// # Ok::<(), monocoque::RuntimeError>(())
    /// ```
    ///
    /// [`RuntimeHandle::next_core`]: super::RuntimeHandle::next_core
    pub fn placement(mut self, placement: Placement) -> Self {
        self.placement = placement;
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
pub(super) fn memlock_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max locked memory"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
