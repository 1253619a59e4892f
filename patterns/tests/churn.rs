//! Connection churn against bound sockets: however many connections have come and gone,
//! the socket keeps no memory for them. Live heap allocations (blocks and bytes, over
//! every thread of the process, counted by `stats_alloc`) go back to what they were
//! before the churn. A glommio task is one heap block, so a task kept alive by a stale
//! waker (what the socket's stop list used to do) shows as one block per connection.
//!
//! The baseline is taken after a warm-up round of the same cycles, so that tables and
//! free lists that size themselves to the number of *concurrent* connections have
//! reached their size; what is measured is the cost of connections that have *ended*.
//!
//! Sizes: 20 000 cycles of each kind; `MONOCOQUE_SOAK=1` runs 100 000.

mod common;

use std::alloc::System;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use common::run;
use monocoque::{Options, Pub, Pull, Router, Runtime, ShardedSocket};
use monocoque_zmtp::{Outgoing, SocketType};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The tests of this file measure the whole process: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Blocks and bytes that may differ from the baseline without a leak: allocator and
/// executor bookkeeping that moves a little from one moment to the next. A leak of one
/// block per connection over the churn is 100 times this.
const SLACK_BLOCKS: i64 = 200;
const SLACK_BYTES: i64 = 256 << 10;

fn cycles() -> usize {
    if std::env::var_os("MONOCOQUE_SOAK").is_some() {
        100_000
    } else {
        20_000
    }
}

/// Live heap blocks and bytes right now.
fn live() -> (i64, i64) {
    let s = GLOBAL.stats();
    let blocks = s.allocations as i64 - s.deallocations as i64;
    let bytes = s.bytes_allocated as i64 - s.bytes_deallocated as i64;
    (blocks, bytes)
}

/// What one client connection does before it goes away.
#[derive(Clone, Copy, Debug)]
enum Cycle {
    /// A full NULL handshake as this socket type, one message (or a subscription for
    /// a SUB), then a clean close.
    Handshake(SocketType),
    /// Connect and close without sending a byte (the client's side closes first).
    Vanish,
    /// Connect, send half a greeting, and reset the connection (SO_LINGER 0).
    ResetMidGreeting,
}

fn client(endpoint: &str, cycle: Cycle) {
    let addr = endpoint.strip_prefix("tcp://").unwrap();
    let mut stream = TcpStream::connect(addr).expect("connect");
    // The vanishing clients wait for a sign that the server has taken the connection
    // (its greeting, which it sends at once), so that they do not outrun its accept
    // queue (BACKLOG) and sit out the kernel's one-second SYN retry.
    let mut first = [0u8; 1];
    match cycle {
        Cycle::Vanish => {
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
        }
        Cycle::ResetMidGreeting => {
            let greeting = monocoque_zmtp::Greeting::new(monocoque_zmtp::Mechanism::Null, false);
            let _ = stream.write_all(&greeting.encode()[..32]);
            let _ = stream.read(&mut first);
            socket2::SockRef::from(&stream)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
        }
        Cycle::Handshake(kind) => handshake(&mut stream, kind),
    }
}

fn handshake(stream: &mut TcpStream, kind: SocketType) {
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (mut session, _) = common::null_handshake(stream, kind);
    let mut out = Outgoing::new();
    session.poll_transmit(&mut out);
    match kind {
        SocketType::Sub => session.encode_subscription(&mut out, b"", true),
        _ => session.encode_message(&mut out, [Bytes::from_static(b"hello")]),
    }
    stream
        .write_all(&out.copy_to_bytes(out.remaining()))
        .expect("message write");
}

/// Runs `n` cycles one after another from a plain thread.
fn churn(endpoint: &str, cycle: Cycle, n: usize) -> std::thread::JoinHandle<()> {
    let endpoint = endpoint.to_string();
    std::thread::spawn(move || {
        for _ in 0..n {
            client(&endpoint, cycle);
        }
    })
}

/// Waits (without blocking the executor) for a client thread to finish, calling
/// `drain` meanwhile so that received messages do not pile up in the socket's queue
/// (a queue that grew keeps its capacity, which would look like a leak).
async fn join(clients: std::thread::JoinHandle<()>, mut drain: impl FnMut()) {
    while !clients.is_finished() {
        drain();
        glommio::timer::sleep(Duration::from_millis(2)).await;
    }
    clients.join().expect("client thread");
}

/// Polls `settled` (reading what the socket received, say) until live memory is back
/// within the slack of `baseline`, for at most 10 s; returns the last reading.
async fn back_to(baseline: (i64, i64), mut settled: impl FnMut()) -> (i64, i64) {
    let start = Instant::now();
    loop {
        settled();
        let now = live();
        if (now.0 - baseline.0 <= SLACK_BLOCKS && now.1 - baseline.1 <= SLACK_BYTES)
            || start.elapsed() > Duration::from_secs(10)
        {
            return now;
        }
        glommio::timer::sleep(Duration::from_millis(20)).await;
    }
}

fn assert_back(what: &str, n: usize, baseline: (i64, i64), after: (i64, i64)) {
    let (blocks, bytes) = (after.0 - baseline.0, after.1 - baseline.1);
    eprintln!("{what}: {n} cycles left {blocks:+} blocks, {bytes:+} bytes live");
    assert!(
        blocks <= SLACK_BLOCKS && bytes <= SLACK_BYTES,
        "{what}: {n} ended connections left {blocks} heap blocks and {bytes} bytes \
         (baseline {baseline:?}, after {after:?})"
    );
}

/// Waits until the socket has forgotten every ended connection's peer, then a moment
/// more for the connections' tasks to end.
async fn gone(what: &str, drain: &mut impl FnMut(), peers: &impl Fn() -> usize) {
    let start = Instant::now();
    while peers() > 0 {
        drain();
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what}: the peers of ended connections stay"
        );
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
    glommio::timer::sleep(Duration::from_millis(50)).await;
    drain();
}

/// Binds a socket with `bind`, warms it up, churns, and checks what is left. `drain`
/// reads whatever the clients' messages put in the socket's queue.
async fn churn_against(
    what: &str,
    endpoint: &str,
    cycle: Cycle,
    mut drain: impl FnMut(),
    peers: impl Fn() -> usize,
) {
    let n = cycles();
    join(churn(endpoint, cycle, 1000), &mut drain).await;
    gone(what, &mut drain, &peers).await;
    let baseline = live();
    let start = Instant::now();
    join(churn(endpoint, cycle, n), &mut drain).await;
    eprintln!("{what}: {n} cycles in {:.2?}", start.elapsed());
    gone(what, &mut drain, &peers).await;
    let after = back_to(baseline, &mut drain).await;
    assert_back(what, n, baseline, after);
}

#[test]
fn router_keeps_nothing_for_ended_handshakes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    run(|| async {
        let router = Router::new();
        let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let drain = || while router.try_recv().unwrap().is_some() {};
        churn_against(
            "ROUTER, DEALER handshakes",
            &endpoint,
            Cycle::Handshake(SocketType::Dealer),
            drain,
            || router.peer_stats().len(),
        )
        .await;
    });
}

#[test]
fn pull_keeps_nothing_for_vanished_clients() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    run(|| async {
        let pull = Pull::new();
        let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
        for cycle in [Cycle::Vanish, Cycle::ResetMidGreeting] {
            churn_against(
                &format!("PULL, {cycle:?}"),
                &endpoint,
                cycle,
                || while pull.try_recv().unwrap().is_some() {},
                || pull.peer_stats().len(),
            )
            .await;
        }
    });
}

#[test]
fn pull_and_pub_keep_nothing_for_ended_handshakes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    run(|| async {
        let pull = Pull::new();
        let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
        churn_against(
            "PULL, PUSH handshakes",
            &endpoint,
            Cycle::Handshake(SocketType::Push),
            || while pull.try_recv().unwrap().is_some() {},
            || pull.peer_stats().len(),
        )
        .await;
        let publisher = Pub::with_options(Options::default());
        let endpoint = publisher.bind("tcp://127.0.0.1:0").unwrap().to_string();
        churn_against(
            "PUB, SUB handshakes with a subscription",
            &endpoint,
            Cycle::Handshake(SocketType::Sub),
            || {},
            || publisher.peer_stats().len(),
        )
        .await;
    });
}

#[test]
fn sharded_router_keeps_nothing_for_ended_connections() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = Runtime::builder()
        .cores(vec![0, 1])
        .build()
        .expect("two-core runtime");
    let router = ShardedSocket::new(&rt, monocoque::SocketType::Router, Options::default());
    let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let n = cycles();
    let settle = |baseline: Option<(i64, i64)>| {
        let start = Instant::now();
        loop {
            while router.recv_timeout(Some(Duration::ZERO)).unwrap().is_some() {}
            let idle = router.peers_per_core().unwrap().iter().all(|&p| p == 0);
            let now = live();
            let back =
                baseline.is_none_or(|b| now.0 - b.0 <= SLACK_BLOCKS && now.1 - b.1 <= SLACK_BYTES);
            if (idle && back) || start.elapsed() > Duration::from_secs(10) {
                return now;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // Takes what the clients send while they run (see `join`).
    let join = |clients: std::thread::JoinHandle<()>| {
        while !clients.is_finished() {
            while router
                .recv_timeout(Some(Duration::from_millis(2)))
                .unwrap()
                .is_some()
            {}
        }
        clients.join().unwrap();
    };
    for cycle in [Cycle::Handshake(SocketType::Dealer), Cycle::Vanish] {
        join(churn(&endpoint, cycle, 1000));
        settle(None);
        std::thread::sleep(Duration::from_millis(50));
        let baseline = settle(None);
        let start = Instant::now();
        join(churn(&endpoint, cycle, n));
        eprintln!(
            "sharded ROUTER, {cycle:?}: {n} cycles in {:.2?}",
            start.elapsed()
        );
        let after = settle(Some(baseline));
        assert_back(&format!("sharded ROUTER, {cycle:?}"), n, baseline, after);
    }
    router.close();
}
