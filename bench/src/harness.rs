//! Where and how the two sides of a run execute: glommio executors, std threads and
//! current-thread tokio runtimes pinned to the sender and receiver cores, endpoints to
//! bind, deadlines.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::result::{Impl, Transport};
use crate::Result;

/// The sending side (PUSH, REQ, DEALER clients, PUB) runs here.
pub const SENDER_CORE: usize = 0;
/// The receiving side (PULL, REP, ROUTER, SUBs) runs here.
pub const RECEIVER_CORE: usize = 1;

/// A run that has not finished by then has hung: it fails instead of blocking the suite.
pub const RUN_DEADLINE: Duration = Duration::from_secs(120);
/// libzmq receive timeout (RCVTIMEO), for the same purpose.
pub const RECV_TIMEOUT_MS: i32 = 30_000;

/// Options that apply to every run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// glommio `spin_before_park` on Monocoque's executors (`None`: off).
    pub spin: Option<Duration>,
    /// `Options::busy_poll` on Monocoque's sockets (`None`: off).
    pub busy_poll: Option<Duration>,
}

/// The CPU to use for `core`, wrapped onto the machine's CPUs (so a 1-CPU machine
/// still runs, unpinned in effect).
pub fn cpu(core: usize) -> usize {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    core % n
}

/// One side of a run, running on its own pinned thread.
pub struct Side<T: Send + 'static> {
    join: Joiner<T>,
}

enum Joiner<T: Send + 'static> {
    Glommio(glommio::ExecutorJoinHandle<Result<T>>),
    Thread(std::thread::JoinHandle<Result<T>>),
}

impl<T: Send + 'static> Side<T> {
    /// Waits for the side to finish and returns what it produced.
    pub fn join(self) -> Result<T> {
        match self.join {
            Joiner::Glommio(h) => h
                .join()
                .map_err(|e| format!("glommio executor failed: {e}"))?,
            Joiner::Thread(h) => h.join().map_err(|_| "benchmark thread panicked")?,
        }
    }
}

/// Starts a glommio executor pinned to `core` (256 KiB of io_memory, as DESIGN.md
/// advises) and runs `make()`'s future on it, with the run deadline.
pub fn glommio_side<T, G, F>(name: &str, core: usize, opts: RunOptions, make: G) -> Result<Side<T>>
where
    T: Send + 'static,
    G: FnOnce() -> F + Send + 'static,
    F: Future<Output = Result<T>> + 'static,
{
    let mut builder = glommio::LocalExecutorBuilder::new(glommio::Placement::Fixed(cpu(core)))
        .name(name)
        .io_memory(256 << 10);
    if let Some(spin) = opts.spin {
        builder = builder.spin_before_park(spin);
    }
    let handle = builder
        .spawn(move || async move {
            match glommio::timer::timeout(RUN_DEADLINE, async { Ok(make().await) }).await {
                Ok(result) => result,
                Err(_) => Err(format!("no result within {RUN_DEADLINE:?}").into()),
            }
        })
        .map_err(|e| {
            format!("cannot start a glommio executor (is RLIMIT_MEMLOCK at least 512 KiB?): {e}")
        })?;
    Ok(Side {
        join: Joiner::Glommio(handle),
    })
}

/// Starts a std thread pinned to `core` (core_affinity) running `f`.
pub fn thread_side<T, F>(name: &str, core: usize, f: F) -> Result<Side<T>>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let id = cpu(core);
    std_side(name, move || {
        core_affinity::set_for_current(core_affinity::CoreId { id });
        f()
    })
}

/// Starts a std thread pinned to `core` (through [`thread_side`]) that runs `make()`'s
/// future on a current-thread tokio runtime of its own, for zmq.rs. The future, and
/// with it every task zmq.rs spawns, runs on that one thread; it is bounded by the run
/// deadline, and so is the runtime's shutdown, so a hang becomes an error.
pub fn tokio_side<T, G, F>(name: &str, core: usize, make: G) -> Result<Side<T>>
where
    T: Send + 'static,
    G: FnOnce() -> F + Send + 'static,
    F: Future<Output = Result<T>> + 'static,
{
    thread_side(name, core, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let result = rt.block_on(async {
            match tokio::time::timeout(RUN_DEADLINE, make()).await {
                Ok(result) => result,
                Err(_) => Err(format!("no result within {RUN_DEADLINE:?}").into()),
            }
        });
        // Tasks zmq.rs spawned (accept loops, connection writers) are dropped here.
        rt.shutdown_timeout(Duration::from_secs(5));
        result
    })
}

/// Starts an unpinned std thread running `f`: for a thread that only owns and drives
/// pinned executors (a thread pinned to one CPU sees only that CPU in
/// `available_parallelism`, so a `Runtime` built from it could not use the others).
pub fn std_side<T, F>(name: &str, f: F) -> Result<Side<T>>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let handle = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)?;
    Ok(Side {
        join: Joiner::Thread(handle),
    })
}

/// Joins both sides, reporting the first failure.
pub fn join2<A: Send + 'static, B: Send + 'static>(a: Side<A>, b: Side<B>) -> Result<(A, B)> {
    let ra = a.join();
    let rb = b.join();
    Ok((ra?, rb?))
}

/// An address to bind for `imp` on `transport`: an ephemeral TCP port on loopback, a
/// fresh IPC path that is removed when the guard drops, or a fresh inproc name.
pub struct BindAddr {
    /// The endpoint to pass to `bind`.
    pub endpoint: String,
    ipc_path: Option<std::path::PathBuf>,
}

impl BindAddr {
    /// A new address, in the syntax of `imp` (a mixed pair binds on its PUB side);
    /// inproc names are unique within the process.
    pub fn new(imp: Impl, transport: Transport) -> BindAddr {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        match transport {
            Transport::Tcp => BindAddr {
                endpoint: match imp {
                    Impl::Monocoque | Impl::ZmqRs | Impl::MonocoqueToLibzmq => {
                        "tcp://127.0.0.1:0".into()
                    }
                    Impl::Libzmq | Impl::LibzmqToMonocoque => "tcp://127.0.0.1:*".into(),
                },
                ipc_path: None,
            },
            Transport::Ipc => {
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                let path = std::env::temp_dir()
                    .join(format!("monocoque-bench-{}-{n}.ipc", std::process::id()));
                let _ = std::fs::remove_file(&path);
                BindAddr {
                    endpoint: format!("ipc://{}", path.display()),
                    ipc_path: Some(path),
                }
            }
            // A fresh name per run: a name stays bound until its socket has closed.
            Transport::Inproc => BindAddr {
                endpoint: format!(
                    "inproc://monocoque-bench-{}",
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ),
                ipc_path: None,
            },
        }
    }
}

impl Drop for BindAddr {
    fn drop(&mut self) {
        if let Some(p) = &self.ipc_path {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Time from the first message received to the last, as `local_thr` takes it.
pub struct Stopwatch(Instant);

impl Stopwatch {
    /// Starts now.
    pub fn start() -> Stopwatch {
        Stopwatch(Instant::now())
    }
    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    /// Seconds since the start.
    pub fn stop(self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

/// CPU time (user + system) used so far by every thread of this process, from
/// `getrusage(RUSAGE_SELF)`: both sides of a run and any threads a library starts.
pub fn process_cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given, which is plain data.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return Duration::ZERO;
        }
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// File descriptors this process may open (the soft RLIMIT_NOFILE), if known.
pub fn open_files_limit() -> Option<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// Fails unless a received message has the expected size.
pub fn check_size(got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(format!("message of incorrect size received: {got} B, expected {want} B").into())
    }
}

/// The receiving side's endpoint reaches the sending side through this channel.
pub fn endpoint_channel() -> (mpsc::Sender<String>, EndpointRx) {
    let (tx, rx) = mpsc::channel();
    (tx, EndpointRx(rx))
}

/// Receives the endpoint the other side bound.
pub struct EndpointRx(mpsc::Receiver<String>);

impl EndpointRx {
    /// Waits (bounded) for the endpoint.
    pub fn get(&self) -> Result<String> {
        self.0
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| "the receiving side never bound".into())
    }
}

/// libzmq helpers shared by the scenario modules.
pub mod zmq_util {
    use crate::result::Transport;
    use crate::Result;

    /// The contexts of a two-sided libzmq run: one per side over TCP and IPC, one
    /// shared by both over inproc (libzmq's inproc connects sockets of one context
    /// only). Each side's thread creates its sockets from its own; the receiving side
    /// creates the first socket, so a shared context's I/O and reaper threads start on
    /// the receiver's core.
    pub fn contexts(transport: Transport) -> (zmq::Context, zmq::Context) {
        let receiver = zmq::Context::new();
        let sender = match transport {
            Transport::Inproc => receiver.clone(),
            Transport::Tcp | Transport::Ipc => zmq::Context::new(),
        };
        (receiver, sender)
    }

    /// A socket with the bench's receive timeout and a finite linger.
    pub fn socket(ctx: &zmq::Context, kind: zmq::SocketType) -> Result<zmq::Socket> {
        let s = ctx.socket(kind)?;
        s.set_rcvtimeo(super::RECV_TIMEOUT_MS)?;
        s.set_linger(5_000)?;
        Ok(s)
    }

    /// Binds and returns the endpoint actually bound (`tcp://127.0.0.1:*` → the port).
    pub fn bind(s: &zmq::Socket, endpoint: &str) -> Result<String> {
        s.bind(endpoint)?;
        s.get_last_endpoint()?
            .map_err(|_| "last endpoint is not UTF-8".into())
    }

    /// Maps EAGAIN after RCVTIMEO to a clear error.
    pub fn timed_out(e: zmq::Error) -> crate::Error {
        if e == zmq::Error::EAGAIN {
            "libzmq receive timed out".into()
        } else {
            e.into()
        }
    }
}

/// CURVE for the `curve-*` scenarios: keys made for each run, the binding side the
/// server, no authenticator (so every client key is accepted, on both libzmq and
/// Monocoque), the same for every implementation.
pub mod curve {
    use crate::result::Case;
    use crate::Result;
    use monocoque::{CurveKeyPair, Security};

    /// The key pairs of one run.
    #[derive(Clone)]
    pub struct Keys {
        server: CurveKeyPair,
        client: CurveKeyPair,
    }

    impl Keys {
        /// Fresh keys if `case` uses CURVE.
        pub fn for_case(case: &Case) -> Option<Keys> {
            case.scenario.curve().then(|| Keys {
                server: CurveKeyPair::generate(),
                client: CurveKeyPair::generate(),
            })
        }
    }

    /// The security of a Monocoque socket on the binding side.
    pub fn server(keys: Option<&Keys>) -> Security {
        keys.map_or(Security::Null, |k| Security::CurveServer {
            keys: k.server.clone(),
        })
    }

    /// The security of a Monocoque socket on the connecting side.
    pub fn client(keys: Option<&Keys>) -> Security {
        keys.map_or(Security::Null, |k| Security::CurveClient {
            keys: k.client.clone(),
            server_key: k.server.public(),
        })
    }

    /// Makes a libzmq socket the CURVE server (ZMQ_CURVE_SERVER, ZMQ_CURVE_SECRETKEY).
    pub fn zmq_server(socket: &zmq::Socket, keys: Option<&Keys>) -> Result<()> {
        if let Some(k) = keys {
            socket.set_curve_server(true)?;
            socket.set_curve_secretkey(k.server.secret_z85().as_bytes())?;
        }
        Ok(())
    }

    /// Makes a libzmq socket a CURVE client of the run's server.
    pub fn zmq_client(socket: &zmq::Socket, keys: Option<&Keys>) -> Result<()> {
        if let Some(k) = keys {
            socket.set_curve_serverkey(k.server.public().to_z85().as_bytes())?;
            socket.set_curve_publickey(k.client.public().to_z85().as_bytes())?;
            socket.set_curve_secretkey(k.client.secret_z85().as_bytes())?;
        }
        Ok(())
    }
}

/// zmq.rs helpers shared by the scenario modules.
pub mod zmqrs_util {
    use bytes::Bytes;

    /// Payload bytes of a message, over all its frames.
    pub fn byte_len(msg: &zeromq::ZmqMessage) -> usize {
        msg.iter().map(Bytes::len).sum()
    }

    /// A zmq.rs error as a bench error, saying where it came from.
    pub fn err(what: &'static str) -> impl FnOnce(zeromq::ZmqError) -> crate::Error {
        move |e| format!("zmq.rs {what}: {e}").into()
    }
}

/// Monocoque helpers shared by the scenario modules.
pub mod mono_util {
    use std::time::Duration;

    /// Options for benchmark sockets: libzmq's defaults, with a finite linger so a
    /// broken run cannot hang on close, and busy polling if the run asks for it.
    pub fn options(run: super::RunOptions) -> monocoque::Options {
        monocoque::Options {
            linger: Some(Duration::from_secs(5)),
            busy_poll: run.busy_poll,
            ..monocoque::Options::default()
        }
    }

    /// [`options`] with `security` (see [`super::curve`]).
    pub fn secured(run: super::RunOptions, security: monocoque::Security) -> monocoque::Options {
        monocoque::Options {
            security,
            ..options(run)
        }
    }
}
