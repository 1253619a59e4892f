//! Helpers shared by the integration tests: running Monocoque on a glommio executor
//! in its own thread, and libzmq (the `zmq` crate) peers with bounded waits.
#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Generous bound on any single wait in a test: long enough never to fire on a slow
/// CI machine, short enough that a bug fails the test instead of hanging it.
pub const WAIT: Duration = Duration::from_secs(10);

/// Runs `f` on a fresh glommio executor in its own thread and returns its result.
pub fn run<F, Fut, T>(f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(256 << 10)
        .name("monocoque-test")
        .spawn(f)
        .expect("start glommio executor")
        .join()
        .expect("executor thread")
}

/// Awaits `fut`, panicking with `what` if it takes longer than [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match glommio::timer::timeout(WAIT, async { Ok(fut.await) }).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// The next message of a libzmq socket if one is there (`DONTWAIT`).
pub fn ztry_recv(s: &zmq::Socket) -> Option<Vec<Vec<u8>>> {
    match s.recv_multipart(zmq::DONTWAIT) {
        Ok(m) => Some(m),
        Err(zmq::Error::EAGAIN) => None,
        Err(e) => panic!("libzmq recv failed: {e}"),
    }
}

/// The next message of a libzmq socket, polled every millisecond so that the glommio
/// executor the test runs on is never blocked. Unbounded: callers wrap it in `within`.
pub async fn zpoll_recv(s: &zmq::Socket) -> Vec<Vec<u8>> {
    loop {
        if let Some(m) = ztry_recv(s) {
            return m;
        }
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
}

/// A libzmq socket with bounded send/receive waits and no linger.
pub fn zsock(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).expect("libzmq socket");
    s.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
    s.set_sndtimeo(WAIT.as_millis() as i32).unwrap();
    s.set_linger(0).unwrap();
    s
}

/// Binds a libzmq socket to an ephemeral endpoint of `transport` ("tcp" or "ipc")
/// and returns the endpoint to connect to.
pub fn zbind(s: &zmq::Socket, transport: &str) -> String {
    s.bind(&fresh_endpoint(transport)).expect("libzmq bind");
    s.get_last_endpoint().unwrap().unwrap()
}

/// A new endpoint nobody uses yet: `tcp://127.0.0.1:*`-style for libzmq binds is not
/// portable to Monocoque, so TCP gets port 0 (`bind` returns the real one) and IPC a
/// unique path.
pub fn fresh_endpoint(transport: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    match transport {
        "tcp" => "tcp://127.0.0.1:0".to_string(),
        "ipc" => {
            let n = N.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "monocoque-test-{}-{}.sock",
                std::process::id(),
                n
            ));
            format!("ipc://{}", path.display())
        }
        other => panic!("unknown transport {other}"),
    }
}

/// A new empty directory named `test` (unique among all the tests) under the target
/// directory's scratch space; a failed test leaves it there for a look, until the
/// next run empties it.
pub fn scratch_dir(test: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// A TCP port that was free a moment ago (for connect-before-bind tests).
pub fn free_tcp_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("tcp://127.0.0.1:{}", l.local_addr().unwrap().port())
}

/// Converts a Monocoque message into owned frames for comparisons.
pub fn frames(msg: &monocoque::Message) -> Vec<Vec<u8>> {
    msg.iter().map(|f| f.to_vec()).collect()
}

/// Both transports every interop test runs over.
pub const TRANSPORTS: [&str; 2] = ["tcp", "ipc"];

/// Waits for a libzmq thread without blocking the executor: Monocoque's sockets live
/// on this executor and must keep running while the libzmq side finishes.
pub async fn join<T>(handle: std::thread::JoinHandle<T>) -> T {
    within("libzmq thread", async {
        while !handle.is_finished() {
            glommio::timer::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    handle.join().expect("libzmq thread panicked")
}

/// A libzmq PUSH in its own thread that connects to `endpoint` and sends `count`
/// messages of `size` bytes (at least 4), each starting with its big-endian number;
/// default LINGER, so the thread ends once everything is delivered.
pub fn libzmq_push_numbered(
    endpoint: String,
    count: u32,
    size: usize,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let push = ctx.socket(zmq::PUSH).unwrap();
        push.connect(&endpoint).unwrap();
        for i in 0..count {
            let mut body = vec![0u8; size.max(4)];
            body[..4].copy_from_slice(&i.to_be_bytes());
            push.send(body, 0).unwrap();
        }
    })
}

/// Completes a NULL handshake as `kind` by hand over `stream` (a blocking socket with
/// a read timeout). Returns the session and whatever bytes followed the peer's READY.
/// The loop is the one every sans-IO driver needs: hand the session what came in,
/// send what it queued in answer (the rest of our greeting follows the peer's first
/// bytes), and only then wait for more.
pub fn null_handshake(
    stream: &mut std::net::TcpStream,
    kind: monocoque_zmtp::SocketType,
) -> (monocoque_zmtp::Session, bytes::BytesMut) {
    use bytes::Buf;
    use std::io::{Read, Write};
    let config = monocoque_zmtp::SessionConfig::new(kind);
    let mut session = monocoque_zmtp::Session::new(config, std::time::Instant::now());
    let mut input = bytes::BytesMut::new();
    let mut out = monocoque_zmtp::Outgoing::new();
    let mut buf = [0u8; 1024];
    loop {
        let mut ready = false;
        while let Some(ev) = session.handle_input(&mut input).expect("peer's handshake") {
            ready |= matches!(ev, monocoque_zmtp::Event::Ready(_));
        }
        session.poll_transmit(&mut out);
        stream
            .write_all(&out.copy_to_bytes(out.remaining()))
            .expect("handshake write");
        if ready {
            return (session, input);
        }
        let n = stream.read(&mut buf).expect("handshake read");
        assert!(n > 0, "peer closed during the handshake");
        input.extend_from_slice(&buf[..n]);
    }
}

/// The next handshake outcome on a Monocoque `monitor` (other events skipped).
pub async fn handshake_outcome(monitor: &monocoque::Monitor) -> monocoque::MonitorEvent {
    use monocoque::MonitorEvent;
    within("a handshake outcome", async {
        loop {
            let event = monitor.recv().await;
            if matches!(
                event,
                MonitorEvent::HandshakeSucceeded { .. }
                    | MonitorEvent::HandshakeFailedAuth { .. }
                    | MonitorEvent::HandshakeFailedProtocol { .. }
                    | MonitorEvent::HandshakeFailedNoDetail { .. }
            ) {
                return event;
            }
        }
    })
    .await
}

/// Starts a libzmq socket monitor on `s`; returns the PAIR that receives its events
/// (`name` tells the monitors of one context apart).
pub fn zmonitor(ctx: &zmq::Context, s: &zmq::Socket, name: &str) -> zmq::Socket {
    let endpoint = format!("inproc://monitor-{name}");
    s.monitor(&endpoint, zmq::SocketEvent::ALL as i32).unwrap();
    let pair = zsock(ctx, zmq::PAIR);
    pair.connect(&endpoint).unwrap();
    pair
}

/// The first handshake event libzmq reports on `monitor`: (event, value).
pub fn zhandshake_outcome(monitor: &zmq::Socket) -> (u16, u32) {
    loop {
        let frames = monitor.recv_multipart(0).expect("libzmq monitor event");
        let event = u16::from_le_bytes([frames[0][0], frames[0][1]]);
        let value = u32::from_le_bytes(frames[0][2..6].try_into().unwrap());
        if matches!(event, 0x800 | 0x1000 | 0x2000 | 0x4000) {
            return (event, value);
        }
    }
}

/// A libzmq REQ client, set up by `configure` (security options), that connects to
/// `endpoint` and reports its first handshake outcome (libzmq's event and value);
/// with `expect_reply` it then sends "ping" and returns the reply.
pub fn libzmq_client(
    endpoint: String,
    configure: impl FnOnce(&zmq::Socket) + Send + 'static,
    expect_reply: bool,
) -> std::thread::JoinHandle<(u16, u32, Option<Vec<u8>>)> {
    std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let req = zsock(&ctx, zmq::REQ);
        configure(&req);
        let monitor = zmonitor(&ctx, &req, "client");
        req.connect(&endpoint).unwrap();
        let outcome = zhandshake_outcome(&monitor);
        let reply = expect_reply.then(|| {
            req.send("ping", 0).unwrap();
            req.recv_bytes(0).expect("reply")
        });
        (outcome.0, outcome.1, reply)
    })
}

/// A runtime on cores 0 and 1.
pub fn two_cores() -> monocoque::Runtime {
    monocoque::Runtime::builder()
        .cores(vec![0, 1])
        .build()
        .expect("two-core runtime")
}

/// `n` libzmq DEALERs, a thread each, with identities `client-0`, `client-1`, …, each
/// set up by `configure(i, &socket)`: each connects to `endpoint`, sends "hello" and
/// returns the reply (`None` when none came within its RCVTIMEO).
pub fn hello_dealers(
    endpoint: &str,
    n: usize,
    configure: impl Fn(usize, &zmq::Socket) + Clone + Send + 'static,
) -> Vec<std::thread::JoinHandle<Option<Vec<u8>>>> {
    (0..n)
        .map(|i| {
            let (endpoint, configure) = (endpoint.to_owned(), configure.clone());
            std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let dealer = zsock(&ctx, zmq::DEALER);
                dealer
                    .set_identity(format!("client-{i}").as_bytes())
                    .unwrap();
                configure(i, &dealer);
                dealer.connect(&endpoint).unwrap();
                dealer.send("hello", 0).unwrap();
                dealer.recv_bytes(0).ok()
            })
        })
        .collect()
}

/// Answers `n` "hello"s on a sharded ROUTER with "welcome".
pub fn welcome(router: &monocoque::ShardedSocket, n: usize) {
    for _ in 0..n {
        let msg = router.recv_timeout(Some(WAIT)).unwrap().expect("a request");
        assert_eq!(&msg[1][..], b"hello");
        router
            .send(vec![msg[0].to_vec(), b"welcome".to_vec()])
            .unwrap();
    }
}

/// Asserts that `address` is the one libzmq gives a peer of `transport` in this
/// process: the IP for TCP, `localhost:UID:GID:PID` for IPC (the pid is checked).
pub fn assert_local_address(address: &str, transport: &str) {
    if transport == "tcp" {
        assert_eq!(address, "127.0.0.1");
    } else {
        assert!(
            address.starts_with("localhost:")
                && address.ends_with(&format!(":{}", std::process::id())),
            "{address}"
        );
    }
}

/// What `fut` gives within `wait`, or None: for checking that nothing arrives.
pub async fn within_or_none<T>(wait: Duration, fut: impl Future<Output = T>) -> Option<T> {
    glommio::timer::timeout(wait, async { Ok(fut.await) })
        .await
        .ok()
}

/// A libzmq DEALER with routing id "twin" in its own thread: says `name` once
/// connected to `endpoint`, then returns what it receives until 2 s pass with nothing
/// (for the duplicate-routing-id tests).
pub fn twin(endpoint: &str, name: &'static str) -> std::thread::JoinHandle<Vec<Vec<u8>>> {
    let endpoint = endpoint.to_owned();
    std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let dealer = zsock(&ctx, zmq::DEALER);
        dealer.set_identity(b"twin").unwrap();
        dealer.set_rcvtimeo(2000).unwrap();
        dealer.connect(&endpoint).unwrap();
        dealer.send(name, 0).unwrap();
        let mut got = Vec::new();
        while let Ok(m) = dealer.recv_bytes(0) {
            got.push(m);
        }
        got
    })
}
