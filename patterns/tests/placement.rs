//! Where a runtime puts connections: one turn over its cores for every sharded socket
//! (a load generator's hundred sockets with one connect each spread over the cores),
//! and `connect_on` for an application that knows better. The far side is a libzmq
//! ROUTER.

mod common;

use std::time::{Duration, Instant};

use common::{zsock, WAIT};
use monocoque::{Error, Options, Runtime, ShardedSocket, SocketType};

fn runtime() -> Runtime {
    Runtime::builder()
        .cores(vec![0, 1])
        // A hundred sockets, each with its own mesh: keep the rings small.
        .mesh_capacity(64)
        .build()
        .expect("two-core runtime")
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

#[test]
fn a_hundred_sockets_with_one_connect_each_spread_over_the_cores() {
    let rt = runtime();
    let ctx = zmq::Context::new();
    let (_router, endpoint) = libzmq_router(&ctx);
    let dealers = dealers(&rt, 100, |d| d.connect(&endpoint));
    let spread = per_core(&dealers, 100);
    assert!(
        spread[0].abs_diff(spread[1]) <= 1,
        "connections per core: {spread:?}"
    );
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
