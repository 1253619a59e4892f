//! Harness for the libzmq interop tests: one Monocoque socket (or a few) on a glommio
//! executor, libzmq sockets on a plain thread, wired together according to a [`Case`]
//! (transport and who binds), plus the message scripts both sides run.
#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::os::fd::{BorrowedFd, RawFd};

use monocoque::{AnySocket, Message, MonitorEvent};
use socket2::{SockAddr, SockRef};

use crate::common::{frames, free_tcp_endpoint, fresh_endpoint, within, zbind, zsock, WAIT};

// ----- cases and wiring --------------------------------------------------------------

/// Who binds, and who connects when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Monocoque binds an ephemeral endpoint; libzmq connects to it.
    MonoBinds,
    /// libzmq binds (one endpoint per libzmq socket); Monocoque connects to each.
    ZmqBinds,
    /// Monocoque connects to an endpoint nobody listens on, and libzmq binds it only
    /// after Monocoque has reported a failed attempt (connect-before-bind).
    MonoConnectsFirst,
    /// libzmq connects first; Monocoque binds the endpoint only after libzmq has
    /// reported a failed attempt.
    ZmqConnectsFirst,
}

/// One transport/role combination of a test.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub transport: &'static str,
    pub role: Role,
}

fn cases_for(roles: &[Role]) -> Vec<Case> {
    crate::common::TRANSPORTS
        .iter()
        .flat_map(|&transport| roles.iter().map(move |&role| Case { transport, role }))
        .collect()
}

/// Both transports × (Monocoque binds, libzmq binds).
pub fn cases() -> Vec<Case> {
    cases_for(&[Role::MonoBinds, Role::ZmqBinds])
}

/// Both transports × Monocoque binding (tests that need several peers on one endpoint).
pub fn mono_binds_cases() -> Vec<Case> {
    cases_for(&[Role::MonoBinds])
}

/// Both transports × (Monocoque connects first, libzmq connects first).
pub fn early_cases() -> Vec<Case> {
    cases_for(&[Role::MonoConnectsFirst, Role::ZmqConnectsFirst])
}

/// The libzmq side of a test: its context, and how its sockets meet Monocoque.
pub struct ZEnd {
    pub ctx: zmq::Context,
    pub case: Case,
    preset: String,
    ep_tx: Sender<String>,
    ep_rx: Receiver<String>,
    mono_ep: RefCell<Option<String>>,
    done_tx: Sender<()>,
    done_rx: Receiver<()>,
}

impl ZEnd {
    /// A libzmq socket with bounded waits, not yet bound or connected.
    pub fn socket(&self, kind: zmq::SocketType) -> zmq::Socket {
        zsock(&self.ctx, kind)
    }

    /// Binds or connects `s` as the case says.
    pub fn attach(&self, s: &zmq::Socket) {
        match self.case.role {
            Role::ZmqBinds => {
                let ep = zbind(s, self.case.transport);
                self.ep_tx.send(ep).unwrap();
            }
            Role::MonoBinds => {
                let ep = self.mono_endpoint();
                s.connect(&ep).expect("libzmq connect");
            }
            Role::MonoConnectsFirst => {
                let ep = self.mono_endpoint();
                assert_eq!(ep, self.preset);
                s.bind(&ep).expect("libzmq bind after Monocoque connected");
            }
            Role::ZmqConnectsFirst => {
                // Watch for a failed attempt so Monocoque binds only after it.
                static N: AtomicUsize = AtomicUsize::new(0);
                let mon_ep = format!(
                    "inproc://connect-first-{}",
                    N.fetch_add(1, Ordering::Relaxed)
                );
                s.monitor(&mon_ep, zmq::SocketEvent::CONNECT_RETRIED as i32)
                    .unwrap();
                let mon = self.socket(zmq::PAIR);
                mon.connect(&mon_ep).unwrap();
                s.connect(&self.preset).expect("libzmq connect");
                zrecv(&mon);
                self.ep_tx.send(self.preset.clone()).unwrap();
            }
        }
    }

    /// A socket of `kind`, attached.
    pub fn sock(&self, kind: zmq::SocketType) -> zmq::Socket {
        let s = self.socket(kind);
        self.attach(&s);
        s
    }

    /// A socket of `kind` with ROUTING_ID `id`, attached.
    pub fn sock_with_id(&self, kind: zmq::SocketType, id: &[u8]) -> zmq::Socket {
        let s = self.socket(kind);
        s.set_identity(id).unwrap();
        self.attach(&s);
        s
    }

    /// The endpoint Monocoque announced (received once, then reused).
    fn mono_endpoint(&self) -> String {
        let mut cached = self.mono_ep.borrow_mut();
        cached
            .get_or_insert_with(|| {
                self.ep_rx
                    .recv_timeout(WAIT)
                    .expect("endpoint from the Monocoque side")
            })
            .clone()
    }

    fn sync(&self) {
        let _ = self.done_tx.send(());
        self.done_rx
            .recv_timeout(WAIT)
            .expect("the Monocoque side to finish");
    }
}

/// The Monocoque side of a test.
pub struct MEnd {
    pub case: Case,
    preset: String,
    ep_tx: Sender<String>,
    ep_rx: Receiver<String>,
    done_tx: Sender<()>,
    done_rx: Receiver<()>,
}

impl MEnd {
    /// Binds or connects `s` as the case says; `peers` is the number of libzmq sockets
    /// that will bind when libzmq binds (one connect each).
    pub async fn attach(&self, s: &AnySocket, peers: usize) {
        match self.case.role {
            Role::MonoBinds => {
                let ep = s.bind(&fresh_endpoint(self.case.transport)).expect("bind");
                self.ep_tx.send(ep.to_string()).unwrap();
            }
            Role::ZmqBinds => {
                for _ in 0..peers {
                    let ep = self.next_endpoint().await;
                    s.connect(&ep).expect("connect");
                }
            }
            Role::MonoConnectsFirst => {
                let monitor = s.monitor();
                s.connect(&self.preset).expect("connect");
                within("a failed connect attempt before libzmq binds", async {
                    while !matches!(monitor.recv().await, MonitorEvent::ConnectRetried { .. }) {}
                })
                .await;
                self.ep_tx.send(self.preset.clone()).unwrap();
            }
            Role::ZmqConnectsFirst => {
                let ep = self.next_endpoint().await;
                s.bind(&ep).expect("bind after libzmq connected");
            }
        }
    }

    async fn next_endpoint(&self) -> String {
        within("endpoint from the libzmq side", poll_channel(&self.ep_rx)).await
    }

    async fn sync(&self) {
        let _ = self.done_tx.send(());
        within("the libzmq side to finish", poll_channel(&self.done_rx)).await;
    }
}

/// Waits for a value on a std channel without blocking the executor.
pub async fn poll_channel<T>(rx: &Receiver<T>) -> T {
    loop {
        match rx.try_recv() {
            Ok(v) => return v,
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                glommio::timer::sleep(Duration::from_millis(1)).await
            }
            Err(e) => panic!("other side of the test went away: {e}"),
        }
    }
}

/// Runs one interop case: `zmq_side` on a thread with libzmq sockets, `mono_side` on
/// a glommio executor. Each side's return value is kept alive (sockets, typically)
/// until both sides have finished, so nothing queued is lost to an early close.
pub fn interop<Z, ZK, M, MF, MK>(case: Case, zmq_side: Z, mono_side: M)
where
    Z: FnOnce(&ZEnd) -> ZK + Send + 'static,
    M: FnOnce(Rc<MEnd>) -> MF + Send + 'static,
    MF: std::future::Future<Output = MK> + 'static,
{
    eprintln!("--- case: {} / {:?}", case.transport, case.role);
    let preset = match case.transport {
        "tcp" => free_tcp_endpoint(),
        t => fresh_endpoint(t),
    };
    let (to_mono_tx, to_mono_rx) = channel();
    let (to_zmq_tx, to_zmq_rx) = channel();
    let (zdone_tx, zdone_rx) = channel();
    let (mdone_tx, mdone_rx) = channel();
    let zpreset = preset.clone();
    let zmq_thread = std::thread::spawn(move || {
        let end = ZEnd {
            ctx: zmq::Context::new(),
            case,
            preset: zpreset,
            ep_tx: to_mono_tx,
            ep_rx: to_zmq_rx,
            mono_ep: RefCell::new(None),
            done_tx: zdone_tx,
            done_rx: mdone_rx,
        };
        let keep = zmq_side(&end);
        end.sync();
        drop(keep);
    });
    let mono = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        crate::common::run(move || async move {
            let end = Rc::new(MEnd {
                case,
                preset,
                ep_tx: to_zmq_tx,
                ep_rx: to_mono_rx,
                done_tx: mdone_tx,
                done_rx: zdone_rx,
            });
            let keep = mono_side(Rc::clone(&end)).await;
            end.sync().await;
            drop(keep);
        })
    }));
    let zmq = zmq_thread.join();
    if let Err(p) = mono {
        std::panic::resume_unwind(p);
    }
    if let Err(p) = zmq {
        std::panic::resume_unwind(p);
    }
}

// ----- messages ----------------------------------------------------------------------

pub type Frames = Vec<Vec<u8>>;

/// `n` bytes of a pattern that makes truncation or reordering visible.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// The messages every stream test sends, in order: 100 numbered ones, then edge cases
/// (empty frames, a frame just over the 255-byte short-frame limit, one of 100 KiB,
/// many frames of different sizes).
pub fn corpus() -> Vec<Frames> {
    let mut v: Vec<Frames> = (0..100)
        .map(|i| vec![b"seq".to_vec(), format!("{i}").into_bytes()])
        .collect();
    v.push(vec![vec![]]);
    v.push(vec![vec![], b"between empties".to_vec(), vec![]]);
    v.push(vec![pattern(255)]);
    v.push(vec![pattern(256)]);
    v.push(vec![b"head".to_vec(), pattern(300), vec![]]);
    v.push(vec![b"big".to_vec(), pattern(100 * 1024), b"tail".to_vec()]);
    v.push((0..20).map(|i| pattern(i * 37)).collect());
    v.push(vec![b"last".to_vec()]);
    v
}

pub fn with_prefix(prefix: &[&[u8]], body: &[Vec<u8>]) -> Frames {
    prefix
        .iter()
        .map(|p| p.to_vec())
        .chain(body.iter().cloned())
        .collect()
}

fn to_msg(f: &[Vec<u8>]) -> Message {
    Message::from(f.to_vec())
}

/// Short printable summary of a message for assertion failures.
pub fn show(f: &[Vec<u8>]) -> String {
    let parts: Vec<String> = f
        .iter()
        .map(|x| {
            if x.len() > 24 {
                format!("<{} bytes>", x.len())
            } else {
                format!("{:?}", String::from_utf8_lossy(x))
            }
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

pub fn check_eq(what: &str, i: usize, got: &[Vec<u8>], want: &[Vec<u8>]) {
    assert!(
        got == want,
        "{what}: message {i} differs: got {} want {}",
        show(got),
        show(want)
    );
}

/// The routing id a ROUTER should see for a peer.
#[derive(Clone, Copy, Debug)]
pub enum Id {
    /// The peer sets none: the ROUTER generates 5 bytes, the first zero.
    Generated,
    /// The peer sets ROUTING_ID to this.
    Exact(&'static [u8]),
}

impl Id {
    /// Monocoque options announcing this id.
    pub fn options(self) -> monocoque::Options {
        match self {
            Id::Generated => monocoque::Options::default(),
            Id::Exact(id) => monocoque::Options {
                routing_id: monocoque::Bytes::from_static(id),
                ..monocoque::Options::default()
            },
        }
    }

    /// An attached libzmq socket announcing this id.
    pub fn zsock(self, z: &ZEnd, kind: zmq::SocketType) -> zmq::Socket {
        match self {
            Id::Generated => z.sock(kind),
            Id::Exact(id) => z.sock_with_id(kind, id),
        }
    }

    /// Asserts that a ROUTER saw `id` for this peer.
    pub fn check(self, id: &[u8]) {
        match self {
            Id::Generated => assert!(
                id.len() == 5 && id[0] == 0,
                "generated routing id should be 0x00 + 4 bytes, got {id:02x?}"
            ),
            Id::Exact(want) => assert_eq!(id, want, "routing id"),
        }
    }
}

/// Checks what a ROUTER echo server received from one peer: every message starts
/// with the same routing id (which `id` accepts), then `envelope`, then the corpus.
pub fn check_router_view(seen: &[Frames], envelope: &[&[u8]], id: Id) {
    let first = &seen[0][0];
    id.check(first);
    let corpus = corpus();
    assert_eq!(seen.len(), corpus.len());
    for (i, (m, want)) in seen.iter().zip(&corpus).enumerate() {
        assert_eq!(&m[0], first, "routing id changed at message {i}");
        check_eq("routed", i, &m[1..], &with_prefix(envelope, want));
    }
}

// ----- Monocoque scripts ---------------------------------------------------------------

/// Receives one message within the bounded wait.
pub async fn mrecv(s: &AnySocket) -> Frames {
    let msg = within("a Monocoque recv", s.recv()).await.expect("recv");
    frames(&msg)
}

/// Sends one message.
pub async fn msend(s: &AnySocket, f: Frames) {
    within("a Monocoque send", s.send(Message::from(f)))
        .await
        .expect("send");
}

/// Waits until `s` has `n` peers with a completed handshake.
pub async fn wait_peers(s: &AnySocket, n: usize) {
    within("peers to connect", async {
        while s.peer_count() < n {
            glommio::timer::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
}

/// Sends the corpus (each message after `prefix`), then expects every echo in order.
pub async fn mono_pipelined(s: &AnySocket, prefix: &[&[u8]]) {
    let corpus = corpus();
    for m in &corpus {
        msend(s, with_prefix(prefix, m)).await;
    }
    for (i, m) in corpus.iter().enumerate() {
        check_eq("echo", i, &mrecv(s).await, &with_prefix(prefix, m));
    }
}

/// Sends each corpus message and waits for its echo before the next (REQ).
pub async fn mono_lockstep(s: &AnySocket) {
    for (i, m) in corpus().iter().enumerate() {
        within("a Monocoque send", s.send(to_msg(m)))
            .await
            .expect("send");
        check_eq("echo", i, &mrecv(s).await, m);
    }
}

/// Echoes `n` messages unchanged and returns what it received.
pub async fn mono_echo(s: &AnySocket, n: usize) -> Vec<Frames> {
    let mut seen = Vec::with_capacity(n);
    for _ in 0..n {
        let m = mrecv(s).await;
        msend(s, m.clone()).await;
        seen.push(m);
    }
    seen
}

/// Sends the corpus (one way).
pub async fn mono_send_corpus(s: &AnySocket) {
    for m in corpus() {
        msend(s, m).await;
    }
}

/// Expects the corpus, in order.
pub async fn mono_expect_corpus(s: &AnySocket) {
    for (i, m) in corpus().iter().enumerate() {
        check_eq("stream", i, &mrecv(s).await, m);
    }
}

// ----- libzmq scripts ----------------------------------------------------------------

/// Receives one message within libzmq's receive timeout.
pub fn zrecv(s: &zmq::Socket) -> Frames {
    s.recv_multipart(0).expect("libzmq recv (timed out?)")
}

/// Sends one message.
pub fn zsend(s: &zmq::Socket, f: &[Vec<u8>]) {
    s.send_multipart(f.iter().map(|x| &x[..]), 0)
        .expect("libzmq send");
}

/// ROUTER send that retries while the peer is not yet routable (needs ROUTER_MANDATORY).
pub fn zsend_when_routable(s: &zmq::Socket, f: &[Vec<u8>]) {
    let deadline = Instant::now() + WAIT;
    loop {
        match s.send_multipart(f.iter().map(|x| &x[..]), 0) {
            Ok(()) => return,
            Err(zmq::Error::EHOSTUNREACH) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) => panic!("libzmq ROUTER send: {e}"),
        }
    }
}

/// Sends the corpus (each message after `prefix`), then expects every echo in order.
/// A `prefix` starting with a routing id is sent with [`zsend_when_routable`].
pub fn zmq_pipelined(s: &zmq::Socket, prefix: &[&[u8]]) {
    let corpus = corpus();
    for m in &corpus {
        if s.get_socket_type().unwrap() == zmq::ROUTER {
            zsend_when_routable(s, &with_prefix(prefix, m));
        } else {
            zsend(s, &with_prefix(prefix, m));
        }
    }
    for (i, m) in corpus.iter().enumerate() {
        check_eq("echo", i, &zrecv(s), &with_prefix(prefix, m));
    }
}

/// Sends each corpus message and waits for its echo before the next (REQ).
pub fn zmq_lockstep(s: &zmq::Socket) {
    for (i, m) in corpus().iter().enumerate() {
        zsend(s, m);
        check_eq("echo", i, &zrecv(s), m);
    }
}

/// Echoes `n` messages unchanged and returns what it received.
pub fn zmq_echo(s: &zmq::Socket, n: usize) -> Vec<Frames> {
    (0..n)
        .map(|_| {
            let m = zrecv(s);
            zsend(s, &m);
            m
        })
        .collect()
}

/// Sends the corpus (one way).
pub fn zmq_send_corpus(s: &zmq::Socket) {
    for m in corpus() {
        zsend(s, &m);
    }
}

/// Expects the corpus, in order.
pub fn zmq_expect_corpus(s: &zmq::Socket) {
    for (i, m) in corpus().iter().enumerate() {
        check_eq("stream", i, &zrecv(s), m);
    }
}

/// Receives `total` messages from any of `socks`; returns them per socket, in order.
pub fn zmq_collect(socks: &[zmq::Socket], total: usize) -> Vec<Vec<Frames>> {
    let mut got = vec![Vec::new(); socks.len()];
    let mut n = 0;
    while n < total {
        let mut items: Vec<_> = socks.iter().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
        let ready = zmq::poll(&mut items, WAIT.as_millis() as i64).unwrap();
        assert!(ready > 0, "timed out after {n} of {total} messages");
        for (i, item) in items.iter().enumerate() {
            if item.is_readable() {
                got[i].push(zrecv(&socks[i]));
                n += 1;
            }
        }
    }
    got
}

/// Checks a strict round-robin: message numbers `0..k*per` were spread over `k` peers
/// so that each peer got every k-th number, in order, starting at distinct offsets.
pub fn assert_round_robin(per_peer: &[Vec<usize>], per: usize) {
    let k = per_peer.len();
    let mut starts: Vec<usize> = per_peer
        .iter()
        .map(|v| v.first().copied().unwrap_or(usize::MAX))
        .collect();
    for (p, v) in per_peer.iter().enumerate() {
        assert_eq!(v.len(), per, "peer {p} got {v:?}");
        for w in v.windows(2) {
            assert_eq!(
                w[1],
                w[0] + k,
                "peer {p} did not get every {k}th message: {v:?}"
            );
        }
    }
    starts.sort();
    assert_eq!(
        starts,
        (0..k).collect::<Vec<_>>(),
        "round-robin offsets: {per_peer:?}"
    );
}

/// Parses the decimal number in `frame`.
pub fn num(frame: &[u8]) -> usize {
    std::str::from_utf8(frame).unwrap().parse().unwrap()
}

/// A libzmq socket sending numbered messages as fast as it can on its own thread,
/// until dropped.
pub struct Flood {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<zmq::Socket>>,
}

impl Flood {
    /// Starts flooding `s` with `"flood <n>"` messages.
    pub fn start(s: zmq::Socket) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let (stop2, sent2) = (Arc::clone(&stop), Arc::clone(&sent));
        let thread = std::thread::spawn(move || {
            let mut n = 0usize;
            while !stop2.load(Ordering::Relaxed) {
                // Single-frame messages: libzmq 4.3.4 can abort (session_base.cpp
                // clean_pipes) when a connection drops while its session holds part
                // of a multipart message, which a flood cut off mid-stream risks.
                match s.send(format!("flood {n}").as_bytes(), zmq::DONTWAIT) {
                    Ok(()) => {
                        n += 1;
                        sent2.store(n, Ordering::Relaxed);
                    }
                    Err(zmq::Error::EAGAIN) => std::thread::sleep(Duration::from_millis(1)),
                    Err(e) => panic!("flood send: {e}"),
                }
            }
            s
        });
        Flood {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    /// Waits (bounded) until at least `n` messages have been handed to libzmq.
    pub fn wait_sent(&self, n: usize) {
        let deadline = Instant::now() + WAIT;
        while self.sent.load(Ordering::Relaxed) < n {
            assert!(Instant::now() < deadline, "flood did not get going");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let joined = t.join();
            if !std::thread::panicking() {
                joined.expect("flood thread");
            }
        }
    }
}

/// Fair queuing under load: one libzmq `kind` socket floods the Monocoque socket
/// without pause while a second one sends a single message; that message must get
/// through while the flood is still going (no peer starves another). The flood's own
/// messages must arrive in order.
pub fn flood_does_not_starve<F>(case: Case, kind: zmq::SocketType, make: F)
where
    F: FnOnce() -> AnySocket + Send + 'static,
{
    interop(
        case,
        move |z| {
            let flood = Flood::start(z.sock(kind));
            let quiet = z.sock(kind);
            flood.wait_sent(500);
            zsend(&quiet, &[b"quiet".to_vec()]);
            (flood, quiet)
        },
        move |m| async move {
            let s = make();
            m.attach(&s, 2).await;
            let mut next_flood = 0;
            within("the quiet peer's message amid the flood", async {
                loop {
                    let f = mrecv(&s).await;
                    if f == vec![b"quiet".to_vec()] {
                        break;
                    }
                    assert_eq!(f, vec![format!("flood {next_flood}").into_bytes()]);
                    next_flood += 1;
                }
            })
            .await;
            s
        },
    );
}

// ----- the kernel's view of this process's sockets ---------------------------------

/// Calls `f` with every socket of this process that has a local address, with that
/// address and its peer's (`None`: not connected, a listener), to read what the kernel
/// holds for it (buffer sizes, keepalive, TOS...).
pub fn each_socket(mut f: impl FnMut(SockRef<'_>, SockAddr, Option<SockAddr>)) {
    for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd") {
        let Ok(entry) = entry else { continue };
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<RawFd>() else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if !is_socket {
            continue;
        }
        // SAFETY: `fd` was open a moment ago (listed in /proc/self/fd), and it is only
        // queried (getsockname, getpeername, getsockopt), never read, written or closed.
        // Other tests of this binary may close and reuse descriptors meanwhile; then
        // these calls fail (EBADF, ENOTSOCK) or describe another socket, which the
        // callers' address match rejects: no memory is touched but the kernel's answers.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let sock = SockRef::from(&fd);
        let Ok(local) = sock.local_addr() else {
            continue;
        };
        let peer = sock.peer_addr().ok();
        f(sock, local, peer);
    }
}
