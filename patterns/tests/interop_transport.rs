//! Transport-level options against libzmq 4.3 peers: IMMEDIATE, TCP keepalive,
//! CONNECT_TIMEOUT, TOS, PRIORITY, IPV6 and interface names in bind endpoints.
//!
//! Kernel-level options are read back with `getsockopt` from Monocoque's own
//! descriptors (found in `/proc/self/fd` by their addresses: ephemeral ports tell
//! this test's sockets from those of tests running beside it), while a libzmq peer
//! exchanges messages over the same connection.

mod common;
mod interop_util;

use std::os::fd::AsRawFd;
use std::time::Duration;

use common::{free_tcp_endpoint, join, run, within, within_or_none, zsock, WAIT};
use interop_util::*;
use monocoque::{AnySocket, Endpoint, Error, MonitorEvent, Options, SocketType};
use socket2::{SockAddr, SockRef};

// ----- reading options from the kernel ------------------------------------------------

/// `read` applied to every TCP socket of this process whose local and peer
/// addresses (`None`: not connected, a listener) `pick` accepts.
fn sockets<T>(
    pick: impl Fn(std::net::SocketAddr, Option<std::net::SocketAddr>) -> bool,
    read: impl Fn(SockRef<'_>) -> T,
) -> Vec<T> {
    let mut found = Vec::new();
    each_socket(|sock, local, peer| {
        let Some(local) = local.as_socket() else {
            return;
        };
        if pick(local, peer.as_ref().and_then(SockAddr::as_socket)) {
            found.push(read(sock));
        }
    });
    found
}

/// SO_PRIORITY of `sock` (socket2 0.5 has no call for it).
fn priority(sock: &SockRef<'_>) -> u32 {
    let mut value: libc::c_int = -1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are live locals, writable for the sizes passed; the
    // descriptor is borrowed for the whole call.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PRIORITY,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "getsockopt(SO_PRIORITY)");
    value as u32
}

/// The TOS byte of `sock`: IPV6_TCLASS on an IPv6 socket, IP_TOS on an IPv4 one.
fn tos(sock: &SockRef<'_>) -> u32 {
    let v6 = sock
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .is_some_and(|a| a.is_ipv6());
    if v6 {
        sock.tclass_v6().expect("IPV6_TCLASS")
    } else {
        sock.tos().expect("IP_TOS")
    }
}

/// The keepalive settings of a socket, as the kernel reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeepaliveState {
    on: bool,
    idle: Duration,
    intvl: Duration,
    cnt: u32,
}

fn keepalive(sock: &SockRef<'_>) -> KeepaliveState {
    KeepaliveState {
        on: sock.keepalive().expect("SO_KEEPALIVE"),
        idle: sock.keepalive_time().expect("TCP_KEEPIDLE"),
        intvl: sock.keepalive_interval().expect("TCP_KEEPINTVL"),
        cnt: sock.keepalive_retries().expect("TCP_KEEPCNT"),
    }
}

/// What a TCP socket has when nobody sets anything.
fn system_keepalive() -> KeepaliveState {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    keepalive(&SockRef::from(&s))
}

fn tcp_addr(ep: &Endpoint) -> std::net::SocketAddr {
    ep.socket_addrs().expect("a TCP endpoint")[0]
}

/// Where Monocoque's TCP sockets for `ep` are, by its role: the listener and the
/// accepted connections when it bound `ep`, the connection when it connected to it.
#[derive(Debug)]
struct Found<T> {
    listener: Vec<T>,
    connections: Vec<T>,
}

fn monocoque_sockets<T>(
    ep: &Endpoint,
    bound: bool,
    read: impl Fn(SockRef<'_>) -> T + Copy,
) -> Found<T> {
    let addr = tcp_addr(ep);
    if bound {
        Found {
            listener: sockets(|l, p| l == addr && p.is_none(), read),
            connections: sockets(|l, p| l == addr && p.is_some(), read),
        }
    } else {
        Found {
            listener: Vec::new(),
            connections: sockets(|_, p| p == Some(addr), read),
        }
    }
}

/// TCP only, both roles.
fn tcp_cases() -> Vec<Case> {
    [Role::MonoBinds, Role::ZmqBinds]
        .into_iter()
        .map(|role| Case {
            transport: "tcp",
            role,
        })
        .collect()
}

/// A DEALER with `options` meets a libzmq DEALER as `case` says, they exchange a
/// message each way, and then `check` reads Monocoque's sockets (the listener too
/// when it bound).
fn with_libzmq_dealer<T: std::fmt::Debug + 'static>(
    case: Case,
    options: Options,
    read: fn(SockRef<'_>) -> T,
    check: impl FnOnce(Found<T>) + Send + 'static,
) {
    interop(
        case,
        |z| {
            let s = z.sock(zmq::DEALER);
            assert_eq!(zrecv(&s), vec![b"hello".to_vec()]);
            zsend(&s, &[b"back".to_vec()]);
            s
        },
        move |m| async move {
            let s = AnySocket::with_options(SocketType::Dealer, options);
            m.attach(&s, 1).await;
            wait_peers(&s, 1).await;
            msend(&s, vec![b"hello".to_vec()]).await;
            assert_eq!(mrecv(&s).await, vec![b"back".to_vec()]);
            let ep = s.last_endpoint().expect("an endpoint");
            let found = monocoque_sockets(&ep, case.role == Role::MonoBinds, read);
            eprintln!("{found:?}");
            check(found);
            s
        },
    );
}

// ----- IMMEDIATE -------------------------------------------------------------------------

const SENT: usize = 100;

/// A libzmq PULL bound on its own thread: sends its endpoint, then collects what
/// arrives until nothing has for a second.
fn libzmq_pull() -> (String, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let pull = zsock(&ctx, zmq::PULL);
        pull.bind("tcp://127.0.0.1:*").unwrap();
        tx.send(pull.get_last_endpoint().unwrap().unwrap()).unwrap();
        let mut got = vec![pull.recv_bytes(0).expect("a first message")];
        pull.set_rcvtimeo(1000).unwrap();
        while let Ok(m) = pull.recv_bytes(0) {
            got.push(m);
        }
        got
    });
    let ep = rx.recv_timeout(WAIT).expect("the libzmq PULL's endpoint");
    (ep, thread)
}

/// A PUSH connects to a libzmq PULL and to a port where nobody listens, waits for
/// the live connection, and sends [`SENT`] messages. Returns how many the PULL
/// received and how many are queued for the dead endpoint.
fn push_to_live_and_dead(immediate: bool) -> (usize, usize) {
    let (live, pull) = libzmq_pull();
    let dead = free_tcp_endpoint();
    run(move || async move {
        let push =
            AnySocket::with_options(SocketType::Push, Options::default().immediate(immediate));
        push.connect(&live).unwrap();
        push.connect(&dead).unwrap();
        wait_peers(&push, 1).await;
        for i in 0..SENT {
            within("a send", push.send(format!("{i}"))).await.unwrap();
        }
        let got = join(pull).await;
        let stuck: usize = push
            .peer_stats()
            .iter()
            .filter(|p| p.remote == dead)
            .map(|p| p.queued)
            .sum();
        // In order: round-robin over the peers (both, or the live one only).
        let step = if immediate { 1 } else { 2 };
        for (k, m) in got.iter().enumerate() {
            assert_eq!(m, format!("{}", k * step).as_bytes(), "message {k}");
        }
        (got.len(), stuck)
    })
}

#[test]
fn immediate_push_queues_only_to_completed_connections() {
    let (received, stuck) = push_to_live_and_dead(true);
    assert_eq!(
        stuck, 0,
        "nothing may wait for the endpoint nobody listens on"
    );
    assert_eq!(received, SENT, "every message reaches the live peer");
}

#[test]
fn without_immediate_round_robin_queues_for_a_dead_endpoint() {
    let (received, stuck) = push_to_live_and_dead(false);
    assert_eq!(
        stuck,
        SENT / 2,
        "every second message waits for the dead endpoint"
    );
    assert_eq!(received, SENT / 2);
}

/// The reference: libzmq's own PUSH does the same with and without IMMEDIATE.
#[test]
fn libzmq_push_behaves_the_same_with_and_without_immediate() {
    for (immediate, want) in [(false, 5), (true, 10)] {
        let ctx = zmq::Context::new();
        let pull = zsock(&ctx, zmq::PULL);
        pull.bind("tcp://127.0.0.1:*").unwrap();
        let live = pull.get_last_endpoint().unwrap().unwrap();
        let push = zsock(&ctx, zmq::PUSH);
        push.set_immediate(immediate).unwrap();
        push.connect(&free_tcp_endpoint()).unwrap();
        push.connect(&live).unwrap();
        for i in 0..10 {
            push.send(format!("{i}").as_bytes(), 0).unwrap();
        }
        pull.set_rcvtimeo(1000).unwrap();
        let mut got = 0;
        while pull.recv_bytes(0).is_ok() {
            got += 1;
        }
        assert_eq!(got, want, "libzmq with IMMEDIATE = {immediate}");
    }
}

/// With IMMEDIATE and no completed connection, a send waits: up to SNDTIMEO, then
/// Error::Timeout; try_send fails at once. Without it the message is queued.
#[test]
fn immediate_send_without_a_connection_times_out() {
    let dead = free_tcp_endpoint();
    run(move || async move {
        let opts = Options::default()
            .immediate(true)
            .sndtimeo(Duration::from_millis(50));
        for kind in [SocketType::Push, SocketType::Dealer, SocketType::Req] {
            let s = AnySocket::with_options(kind, opts.clone());
            s.connect(&dead).unwrap();
            let sent = within("a send", s.send("x")).await;
            assert!(matches!(sent, Err(Error::Timeout)), "{kind:?}: {sent:?}");
            let tried = s.try_send("x");
            assert!(
                tried.as_ref().is_err_and(|e| e.would_block()),
                "{kind:?}: {:?}",
                tried.map_err(|e| e.error().to_string())
            );
            let plain = AnySocket::with_options(kind, opts.clone().immediate(false));
            plain.connect(&dead).unwrap();
            within("a send", plain.send("x"))
                .await
                .unwrap_or_else(|e| panic!("{kind:?} without IMMEDIATE: {e}"));
        }
    })
}

/// A REQ with IMMEDIATE waits for its libzmq REP to connect, then works as usual.
#[test]
fn immediate_req_sends_once_a_libzmq_rep_is_there() {
    for case in tcp_cases() {
        interop(
            case,
            |z| {
                let rep = z.sock(zmq::REP);
                assert_eq!(zrecv(&rep), vec![b"ping".to_vec()]);
                zsend(&rep, &[b"pong".to_vec()]);
                rep
            },
            move |m| async move {
                let req =
                    AnySocket::with_options(SocketType::Req, Options::default().immediate(true));
                m.attach(&req, 1).await;
                msend(&req, vec![b"ping".to_vec()]).await;
                assert_eq!(mrecv(&req).await, vec![b"pong".to_vec()]);
                req
            },
        );
    }
}

/// A PUSH whose libzmq PULL stopped reading fills its queue to SNDHWM; then the
/// PULL goes away. With IMMEDIATE the queue goes with the connection (libzmq
/// terminates the pipe), without it the messages wait for the next connection.
#[test]
fn immediate_drops_the_queue_of_a_lost_connection() {
    for immediate in [true, false] {
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let (quit_tx, quit_rx) = std::sync::mpsc::channel::<()>();
        let pull_thread = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let pull = zsock(&ctx, zmq::PULL);
            pull.set_rcvhwm(1).unwrap();
            pull.set_rcvbuf(4096).unwrap();
            pull.bind("tcp://127.0.0.1:*").unwrap();
            tx.send(pull.get_last_endpoint().unwrap().unwrap()).unwrap();
            // Read nothing until told to go.
            quit_rx.recv_timeout(WAIT).expect("the word to go");
        });
        run(move || async move {
            let ep = rx.recv_timeout(WAIT).unwrap();
            let push = AnySocket::with_options(
                SocketType::Push,
                Options::default()
                    .immediate(immediate)
                    .sndhwm(50)
                    .sndbuf(4096)
                    .reconnect_ivl(Duration::from_secs(60)),
            );
            let monitor = push.monitor();
            push.connect(&ep).unwrap();
            wait_peers(&push, 1).await;
            let body = vec![7u8; 4096];
            within("the queue to reach SNDHWM", async {
                loop {
                    match push.try_send(body.clone()) {
                        Ok(()) => {}
                        Err(e) if e.would_block() => {
                            // Full, unless the connection is still taking bytes.
                            glommio::timer::sleep(Duration::from_millis(20)).await;
                            if push.try_send(body.clone()).is_err() {
                                break;
                            }
                        }
                        Err(e) => panic!("{}", e.error()),
                    }
                }
            })
            .await;
            assert_eq!(push.peer_stats()[0].queued, 50);
            quit_tx.send(()).unwrap();
            within("the disconnection", async {
                while !matches!(monitor.recv().await, MonitorEvent::Disconnected { .. }) {}
            })
            .await;
            join(pull_thread).await;
            let queued = push.peer_stats()[0].queued;
            if immediate {
                assert_eq!(
                    queued, 0,
                    "IMMEDIATE drops what was queued for the lost peer"
                );
            } else {
                assert_eq!(
                    queued, 50,
                    "without IMMEDIATE the queue waits for a reconnect"
                );
            }
            let mut opts = push.options();
            opts.linger = Some(Duration::ZERO);
            push.set_options(opts);
        });
    }
}

// ----- TCP keepalive ------------------------------------------------------------------

#[test]
fn tcp_keepalive_options_reach_the_kernel_on_every_tcp_socket() {
    let set = KeepaliveState {
        on: true,
        idle: Duration::from_secs(31),
        intvl: Duration::from_secs(7),
        cnt: 4,
    };
    for case in tcp_cases() {
        let options = Options::default()
            .tcp_keepalive(true)
            .tcp_keepalive_idle(set.idle)
            .tcp_keepalive_intvl(set.intvl)
            .tcp_keepalive_cnt(set.cnt);
        with_libzmq_dealer(
            case,
            options,
            |s| keepalive(&s),
            move |found| {
                assert_eq!(found.connections, vec![set], "the connection");
                if case.role == Role::MonoBinds {
                    assert_eq!(found.listener, vec![set], "the listener");
                }
            },
        );
    }
}

/// As libzmq: TCP_KEEPALIVE = 0 turns probes off and leaves the other three as the
/// system has them; unset (-1) touches nothing.
#[test]
fn tcp_keepalive_off_or_unset_leaves_the_timers_alone() {
    let system = system_keepalive();
    for (keepalive_opt, on) in [(Some(false), false), (None, system.on)] {
        let options = Options::default()
            .tcp_keepalive(keepalive_opt)
            .tcp_keepalive_idle(Duration::from_secs(31))
            .tcp_keepalive_cnt(4);
        let want = KeepaliveState { on, ..system };
        with_libzmq_dealer(
            Case {
                transport: "tcp",
                role: Role::ZmqBinds,
            },
            options,
            |s| keepalive(&s),
            move |found| assert_eq!(found.connections, vec![want], "{keepalive_opt:?}"),
        );
    }
}

// ----- TOS and PRIORITY ---------------------------------------------------------------

#[test]
fn tos_and_priority_reach_the_kernel_on_every_tcp_socket() {
    // 0xb8: DSCP EF (46) with ECN bits clear.
    const TOS: u32 = 0xb8;
    const PRIORITY: u32 = 5;
    for case in tcp_cases() {
        let options = Options::default().tos(TOS).priority(PRIORITY);
        with_libzmq_dealer(
            case,
            options,
            |s| (tos(&s), priority(&s)),
            move |found| {
                assert_eq!(found.connections, vec![(TOS, PRIORITY)], "the connection");
                if case.role == Role::MonoBinds {
                    assert_eq!(found.listener, vec![(TOS, PRIORITY)], "the listener");
                }
            },
        );
    }
}

#[test]
fn unset_tos_and_priority_leave_the_system_defaults() {
    with_libzmq_dealer(
        Case {
            transport: "tcp",
            role: Role::MonoBinds,
        },
        Options::default(),
        |s| (tos(&s), priority(&s)),
        |found| {
            assert_eq!(found.connections, vec![(0, 0)]);
            assert_eq!(found.listener, vec![(0, 0)]);
        },
    );
}

/// Values the system would refuse are refused by bind and connect, naming the
/// option; nothing is left running.
#[test]
fn bad_transport_options_are_clear_errors() {
    run(|| async {
        let cases: [(Options, &str); 6] = [
            (Options::default().tos(256), "TOS"),
            (
                Options::default()
                    .tcp_keepalive(true)
                    .tcp_keepalive_idle(Duration::from_millis(1500)),
                "TCP_KEEPALIVE_IDLE",
            ),
            (
                Options::default().tcp_keepalive_intvl(Duration::ZERO),
                "TCP_KEEPALIVE_INTVL",
            ),
            (Options::default().tcp_keepalive_cnt(0), "TCP_KEEPALIVE_CNT"),
            (
                Options::default().tcp_keepalive_cnt(128),
                "TCP_KEEPALIVE_CNT",
            ),
            (
                Options::default().connect_timeout(Duration::ZERO),
                "CONNECT_TIMEOUT",
            ),
        ];
        for (options, name) in cases {
            let s = AnySocket::with_options(SocketType::Dealer, options);
            for result in [
                s.bind("tcp://127.0.0.1:0").map(drop),
                s.connect("tcp://127.0.0.1:5555"),
            ] {
                match result {
                    Err(Error::InvalidOption(e)) => {
                        assert_eq!(e.option, name);
                        let text = Error::InvalidOption(e).to_string();
                        assert!(text.contains(name), "{text}");
                        eprintln!("{text}");
                    }
                    other => panic!("{name}: {other:?}"),
                }
            }
            assert_eq!(s.peer_count(), 0);
            assert!(s.peer_stats().is_empty(), "no peer was made");
        }
        // IPC endpoints do not use the TCP options.
        let s = AnySocket::with_options(SocketType::Dealer, Options::default().tos(256));
        s.connect("ipc:///tmp/monocoque-no-such.sock").unwrap();
    })
}

// ----- CONNECT_TIMEOUT ------------------------------------------------------------------

/// A TCP listener on loopback that never accepts, with its accept queue full, so that
/// Linux drops every further SYN and a connect to it hangs. Returns the listener, the
/// connections that fill it, and its endpoint.
fn black_hole() -> (socket2::Socket, Vec<std::net::TcpStream>, String) {
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    // Backlog 0: Linux keeps one connection waiting for accept, and drops SYNs while
    // the queue is full.
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut fill = Vec::new();
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => fill.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return (listener, fill, format!("tcp://{addr}"));
            }
            Err(e) => panic!("filling the accept queue: {e}"),
        }
    }
    panic!(
        "8 connects to a listener with backlog 0 that never accepts all completed: this \
         kernel does not drop SYNs when the accept queue is full, so the CONNECT_TIMEOUT \
         test has no connect that hangs"
    );
}

/// The next ConnectRetried or Connected event (others skipped), within `wait`.
async fn next_attempt_outcome(
    monitor: &monocoque::Monitor,
    wait: Duration,
) -> Option<MonitorEvent> {
    within_or_none(wait, async {
        loop {
            let e = monitor.recv().await;
            if matches!(
                e,
                MonitorEvent::ConnectRetried { .. } | MonitorEvent::Connected { .. }
            ) {
                return e;
            }
        }
    })
    .await
}

#[test]
fn connect_timeout_abandons_a_hanging_connect_and_retries() {
    let (listener, fill, ep) = black_hole();
    let accept = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let go = accept.clone();
    let acceptor = std::thread::spawn(move || {
        while !go.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(5));
        }
        // Take the queue's connection and the one Monocoque makes next.
        let first = listener.accept().expect("accept the filler");
        let second = listener.accept().expect("accept Monocoque's connection");
        (first, second)
    });
    run(move || async move {
        // Without CONNECT_TIMEOUT the attempt is the kernel's: it keeps resending
        // its SYN for about two minutes, and nothing is reported meanwhile.
        let patient = AnySocket::new(SocketType::Dealer);
        let monitor = patient.monitor();
        patient.connect(&ep).unwrap();
        let outcome = next_attempt_outcome(&monitor, Duration::from_millis(1500)).await;
        assert_eq!(
            outcome, None,
            "a connect without CONNECT_TIMEOUT gave up early"
        );
        within("closing with a connect under way", patient.close()).await;

        let dealer = AnySocket::with_options(
            SocketType::Dealer,
            Options::default()
                .connect_timeout(Duration::from_millis(200))
                .reconnect_ivl(Duration::from_millis(50)),
        );
        let monitor = dealer.monitor();
        dealer.connect(&ep).unwrap();
        for attempt in 0..2 {
            match next_attempt_outcome(&monitor, WAIT).await {
                Some(MonitorEvent::ConnectRetried { retry_ms, .. }) => assert_eq!(retry_ms, 50),
                other => panic!("attempt {attempt}: {other:?}"),
            }
        }
        // Once the listener accepts again, the next attempt connects.
        accept.store(true, std::sync::atomic::Ordering::Relaxed);
        within("the connection once the listener accepts", async {
            while !matches!(
                next_attempt_outcome(&monitor, WAIT).await,
                Some(MonitorEvent::Connected { .. })
            ) {}
        })
        .await;
        let accepted = join(acceptor).await;
        drop((accepted, fill));
    });
}

/// CONNECT_TIMEOUT does not get in the way of a connection that completes: a
/// libzmq peer is reached as usual.
#[test]
fn connect_timeout_lets_normal_connects_through() {
    with_libzmq_dealer(
        Case {
            transport: "tcp",
            role: Role::ZmqBinds,
        },
        Options::default().connect_timeout(Duration::from_millis(500)),
        |_| (),
        |found| assert_eq!(found.connections.len(), 1),
    );
}

// ----- IPv6 and interface names -------------------------------------------------------

/// Whether this machine can use IPv6 on loopback; says so loudly when not.
fn ipv6_loopback() -> bool {
    match std::net::TcpListener::bind("[::1]:0") {
        Ok(_) => true,
        Err(e) => {
            eprintln!(
                "SKIPPED: this machine has no IPv6 loopback ([::1] cannot be bound: {e}); \
                 the IPv6 test did not run"
            );
            false
        }
    }
}

/// Monocoque binds `[::1]`, a libzmq DEALER with ZMQ_IPV6 connects to it, and the
/// reverse; messages go both ways, and TOS lands in IPV6_TCLASS.
#[test]
fn ipv6_endpoints_with_libzmq_both_ways() {
    if !ipv6_loopback() {
        return;
    }
    for mono_binds in [true, false] {
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let (back_tx, back_rx) = std::sync::mpsc::channel::<String>();
        let zmq_thread = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let s = zsock(&ctx, zmq::DEALER);
            s.set_ipv6(true).unwrap();
            if mono_binds {
                s.connect(&rx.recv_timeout(WAIT).unwrap()).unwrap();
            } else {
                s.bind("tcp://[::1]:*").unwrap();
                back_tx
                    .send(s.get_last_endpoint().unwrap().unwrap())
                    .unwrap();
            }
            assert_eq!(s.recv_bytes(0).unwrap(), b"over v6");
            s.send("back over v6", 0).unwrap();
            s.recv_bytes(0).unwrap() // the end
        });
        run(move || async move {
            let s = AnySocket::with_options(SocketType::Dealer, Options::default().tos(0x20));
            let ep = if mono_binds {
                let ep = s.bind("tcp://[::1]:0").unwrap();
                let text = ep.to_string();
                assert!(text.starts_with("tcp://[::1]:"), "{text}");
                tx.send(text).unwrap();
                ep
            } else {
                let text = within("libzmq's endpoint", poll_channel(&back_rx)).await;
                assert!(text.starts_with("tcp://[::1]:"), "{text}");
                s.connect(&text).unwrap();
                text.parse().unwrap()
            };
            wait_peers(&s, 1).await;
            msend(&s, vec![b"over v6".to_vec()]).await;
            assert_eq!(mrecv(&s).await, vec![b"back over v6".to_vec()]);
            let found = monocoque_sockets(&ep, mono_binds, |s| {
                let local = s.local_addr().unwrap().as_socket().unwrap();
                (local.is_ipv6(), tos(&s))
            });
            assert_eq!(
                found.connections,
                vec![(true, 0x20)],
                "mono_binds {mono_binds}"
            );
            msend(&s, vec![b"end".to_vec()]).await;
            join(zmq_thread).await;
        });
    }
}

/// With IPV6, `*` binds the dual-stack `::`: a libzmq peer reaches it over IPv4 and
/// another over IPv6. Without it, `*` is `0.0.0.0`.
#[test]
fn ipv6_option_makes_star_dual_stack() {
    if !ipv6_loopback() {
        return;
    }
    run(|| async {
        let v4_only = AnySocket::new(SocketType::Pull);
        let ep = v4_only.bind("tcp://*:0").unwrap();
        assert!(ep.to_string().starts_with("tcp://0.0.0.0:"), "{ep}");

        let pull = AnySocket::with_options(SocketType::Pull, Options::default().ipv6(true));
        let ep = pull.bind("tcp://*:0").unwrap();
        assert!(ep.to_string().starts_with("tcp://[::]:"), "{ep}");
        let port = tcp_addr(&ep).port();
        let pushers = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let mut socks = Vec::new();
            for host in ["127.0.0.1", "[::1]"] {
                let push = zsock(&ctx, zmq::PUSH);
                push.set_ipv6(true).unwrap();
                push.set_linger(-1).unwrap();
                push.connect(&format!("tcp://{host}:{port}")).unwrap();
                push.send(format!("from {host}").as_bytes(), 0).unwrap();
                socks.push(push);
            }
            drop(socks);
        });
        let mut got = vec![mrecv(&pull).await, mrecv(&pull).await];
        got.sort();
        assert_eq!(
            got,
            vec![
                vec![b"from 127.0.0.1".to_vec()],
                vec![b"from [::1]".to_vec()]
            ]
        );
        join(pushers).await;
    })
}

/// An interface name binds the interface's address (libzmq's `tcp://lo:5555`), and
/// a libzmq peer connects to that address; a name that is neither an interface nor
/// a host is a clear error.
#[test]
fn interface_names_bind_their_address() {
    run(|| async {
        let pull = AnySocket::new(SocketType::Pull);
        let ep = pull.bind("tcp://lo:0").unwrap();
        let text = ep.to_string();
        assert!(text.starts_with("tcp://127.0.0.1:"), "{text}");
        let push = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let push = zsock(&ctx, zmq::PUSH);
            push.set_linger(-1).unwrap();
            push.connect(&text).unwrap();
            push.send("via lo", 0).unwrap();
        });
        assert_eq!(mrecv(&pull).await, vec![b"via lo".to_vec()]);
        join(push).await;

        let bad = AnySocket::new(SocketType::Pull);
        match bad.bind("tcp://no-such-if0:0") {
            Err(e @ Error::Endpoint(_)) => {
                let text = e.to_string();
                assert!(
                    text.contains("no-such-if0") && text.contains("interface"),
                    "{text}"
                );
                eprintln!("{text}");
            }
            other => panic!("{other:?}"),
        }
    })
}
