//! Where a runtime puts connections: one choice over its cores for every sharded
//! socket (a load generator's hundred sockets with one connect each spread over the
//! cores), by round-robin or least-loaded placement, and `connect_on` for an
//! application that knows better. The far side is a libzmq ROUTER.

mod common;

use std::time::{Duration, Instant};

use common::{zsock, WAIT};
use monocoque::{Error, Options, Placement, Runtime, ShardedSocket, SocketType};

fn runtime() -> Runtime {
    runtime_with(Placement::default())
}

fn runtime_with(placement: Placement) -> Runtime {
    Runtime::builder()
        .cores(vec![0, 1])
        .placement(placement)
        // A hundred sockets, each with its own mesh: keep the rings small.
        .mesh_capacity(64)
        .build()
        .expect("two-core runtime")
}

/// Waits until the runtime's connections per core are `expected`.
fn wait_connections(rt: &Runtime, expected: [usize; 2]) {
    let start = Instant::now();
    loop {
        let now = rt.handle().connections_per_core();
        if now == expected {
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "connections per core stuck at {now:?}, expected {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A libzmq ROUTER bound on TCP (its I/O thread accepts and handshakes without the
/// application's help) and its endpoint.
fn libzmq_router(ctx: &zmq::Context) -> (zmq::Socket, String) {
    let router = zsock(ctx, zmq::ROUTER);
    let endpoint = common::zbind(&router, "tcp");
    (router, endpoint)
}

/// Connections per core summed over `sockets`, once `total` have handshaken.
fn per_core(sockets: &[ShardedSocket], total: usize) -> Vec<usize> {
    let start = Instant::now();
    loop {
        let mut sum = vec![0; 2];
        for s in sockets {
            for (core, n) in s.peers_per_core().unwrap().into_iter().enumerate() {
                sum[core] += n;
            }
        }
        if sum.iter().sum::<usize>() >= total {
            return sum;
        }
        assert!(start.elapsed() < WAIT, "connections stuck at {sum:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `n` sharded DEALERs on `rt`, each connected once by `connect`.
fn dealers(
    rt: &Runtime,
    n: usize,
    connect: impl Fn(&ShardedSocket) -> monocoque::Result<()>,
) -> Vec<ShardedSocket> {
    (0..n)
        .map(|_| {
            let d = ShardedSocket::new(rt, SocketType::Dealer, Options::default());
            connect(&d).unwrap();
            d
        })
        .collect()
}

/// A hundred connects in a burst, made before any of them runs, under `placement`.
fn a_hundred_sockets_spread(placement: Placement) {
    let rt = runtime_with(placement);
    assert_eq!(rt.handle().placement(), placement);
    let ctx = zmq::Context::new();
    let (_router, endpoint) = libzmq_router(&ctx);
    let dealers = dealers(&rt, 100, |d| d.connect(&endpoint));
    let spread = per_core(&dealers, 100);
    assert!(
        spread[0].abs_diff(spread[1]) <= 1,
        "connections per core: {spread:?}"
    );
    assert_eq!(rt.handle().connections_per_core(), spread);
    rt.shutdown();
}

#[test]
fn a_hundred_sockets_with_one_connect_each_spread_over_the_cores() {
    a_hundred_sockets_spread(Placement::LeastLoaded);
}

#[test]
fn a_hundred_sockets_spread_round_robin_too() {
    a_hundred_sockets_spread(Placement::RoundRobin);
}

#[test]
fn least_loaded_is_the_default() {
    let rt = runtime();
    assert_eq!(rt.handle().placement(), Placement::LeastLoaded);
    assert_eq!(rt.handle().connections_per_core(), [0, 0]);
    rt.shutdown();
}

/// Core 1 carries six connections put there by hand; six plain connects follow.
fn after_six_on_core_one(placement: Placement) -> Vec<usize> {
    let rt = runtime_with(placement);
    let ctx = zmq::Context::new();
    let (_router, endpoint) = libzmq_router(&ctx);
    let mut all = dealers(&rt, 6, |d| d.connect_on(1, &endpoint));
    wait_connections(&rt, [0, 6]);
    all.extend(dealers(&rt, 6, |d| d.connect(&endpoint)));
    let spread = per_core(&all, 12);
    assert_eq!(rt.handle().connections_per_core(), spread);
    rt.shutdown();
    spread
}

#[test]
fn least_loaded_fills_the_core_that_carries_less() {
    assert_eq!(after_six_on_core_one(Placement::LeastLoaded), [6, 6]);
}

#[test]
fn round_robin_takes_turns_whatever_the_cores_carry() {
    assert_eq!(after_six_on_core_one(Placement::RoundRobin), [3, 9]);
}

#[test]
fn least_loaded_refills_a_core_whose_connections_closed() {
    let rt = runtime();
    let ctx = zmq::Context::new();
    let (_router, endpoint) = libzmq_router(&ctx);
    let first = dealers(&rt, 10, |d| d.connect(&endpoint));
    assert_eq!(per_core(&first, 10), [5, 5]);
    // Close the five sockets whose connection is on core 0.
    let (on_core_0, mut kept): (Vec<_>, Vec<_>) = first
        .into_iter()
        .partition(|d| d.peers_per_core().unwrap() == [1, 0]);
    assert_eq!(on_core_0.len(), 5);
    for d in on_core_0 {
        d.close();
    }
    wait_connections(&rt, [0, 5]);
    // Four new connections: all go to the emptied core.
    kept.extend(dealers(&rt, 4, |d| d.connect(&endpoint)));
    assert_eq!(per_core(&kept, 9), [4, 5]);
    assert_eq!(rt.handle().connections_per_core(), [4, 5]);
    rt.shutdown();
}

#[test]
fn connect_on_puts_the_connection_on_that_core() {
    let rt = runtime();
    let ctx = zmq::Context::new();
    let (_router, endpoint) = libzmq_router(&ctx);
    let dealers = dealers(&rt, 4, |d| d.connect_on(1, &endpoint));
    assert_eq!(per_core(&dealers, 4), [0, 4]);
    let err = dealers[0].connect_on(2, &endpoint).unwrap_err();
    assert!(
        matches!(err, Error::NoSuchCore { core: 2, cores: 2 }),
        "{err:?}"
    );
    rt.shutdown();
}
