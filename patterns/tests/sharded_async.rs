//! The sharded handle outside the runtime: its futures under tokio (whose time driver
//! is off, so nothing but the cores' wake-ups can move them), and its blocking calls
//! from a thread that did not create it. No wait here has a timed fallback: a lost
//! wake-up hangs, and the watchdogs turn that into a failure.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{zbind, zsock, WAIT};
use monocoque::{MonitorEvent, Options, ShardedSocket, SocketType};

/// A libzmq ROUTER echo server in its own thread; returns its endpoint.
fn libzmq_echo(ctx: &zmq::Context) -> String {
    let router = zsock(ctx, zmq::ROUTER);
    router.set_rcvtimeo(-1).unwrap();
    let endpoint = zbind(&router, "tcp");
    std::thread::spawn(move || {
        while let Ok(msg) = router.recv_multipart(0) {
            if router.send_multipart(msg, 0).is_err() {
                return;
            }
        }
    });
    endpoint
}

/// A two-core runtime and a sharded DEALER with `connects` connections to a libzmq
/// echo server (whose context comes along, to live as long as the test).
fn echo_dealer(connects: usize) -> (monocoque::Runtime, zmq::Context, ShardedSocket) {
    let rt = common::two_cores();
    let ctx = zmq::Context::new();
    let endpoint = libzmq_echo(&ctx);
    let dealer = ShardedSocket::new(&rt, SocketType::Dealer, Options::default());
    for _ in 0..connects {
        dealer.connect(&endpoint).unwrap();
    }
    (rt, ctx, dealer)
}

/// Runs `f` on a new thread and fails the test if it takes longer than `limit`.
fn watchdog<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .expect("a wait that only a wake-up could end never ended")
}

#[test]
fn dealer_round_trips_under_a_tokio_runtime_with_no_timers() {
    let (rt, _ctx, dealer) = echo_dealer(2);
    let d = dealer.clone();
    let echoed = watchdog(WAIT, move || {
        // current_thread with no time driver: a future that relied on a timer would
        // never be polled again.
        let tokio = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        tokio.block_on(async move {
            let mut echoed = 0;
            for i in 0..500u32 {
                d.send_async(i.to_be_bytes().to_vec()).await.unwrap();
                let reply = d.recv_async().await.unwrap();
                assert_eq!(&reply[0][..], i.to_be_bytes());
                echoed += 1;
            }
            echoed
        })
    });
    assert_eq!(echoed, 500);
    dealer.close();
    rt.shutdown();
}

#[test]
fn tasks_on_a_multi_threaded_tokio_runtime_share_one_handle() {
    let (rt, _ctx, dealer) = echo_dealer(1);
    let d = dealer.clone();
    let total = watchdog(WAIT, move || {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        tokio.block_on(async move {
            // One task sends, another receives: each is woken by the cores alone.
            let sender = {
                let d = d.clone();
                tokio::spawn(async move {
                    for i in 0..2000u32 {
                        d.send_async(i.to_be_bytes().to_vec()).await.unwrap();
                    }
                })
            };
            let receiver = tokio::spawn(async move {
                let mut n = 0u32;
                while n < 2000 {
                    let reply = d.recv_async().await.unwrap();
                    assert_eq!(&reply[0][..], n.to_be_bytes(), "in order");
                    n += 1;
                }
                n
            });
            sender.await.unwrap();
            receiver.await.unwrap()
        })
    });
    assert_eq!(total, 2000);
    dealer.close();
    rt.shutdown();
}

#[test]
fn a_thread_that_did_not_create_the_handle_blocks_and_is_woken() {
    let (rt, _ctx, dealer) = echo_dealer(1);
    let d = dealer.clone();
    let n = watchdog(WAIT, move || {
        for i in 0..500u32 {
            d.send(i.to_be_bytes().to_vec()).unwrap();
            // recv blocks with no deadline: only the doorbell can unpark it.
            let reply = d.recv().unwrap();
            assert_eq!(&reply[0][..], i.to_be_bytes());
        }
        500
    });
    assert_eq!(n, 500);
    dealer.close();
    rt.shutdown();
}

#[test]
fn a_blocked_send_is_woken_when_a_peer_appears() {
    let rt = common::two_cores();
    let push = ShardedSocket::new(&rt, SocketType::Push, Options::default());
    let endpoint = push.bind("tcp://127.0.0.1:0").unwrap().to_string();
    // No peer anywhere: the send waits, as libzmq's does, until a PULL connects.
    let p = push.clone();
    let sender = std::thread::spawn(move || p.send("first"));
    let ctx = zmq::Context::new();
    let pull = zsock(&ctx, zmq::PULL);
    pull.connect(&endpoint).unwrap();
    assert_eq!(
        pull.recv_bytes(0).expect("the waiting send's message"),
        b"first"
    );
    watchdog(WAIT, move || sender.join().unwrap()).unwrap();
    push.close();
    rt.shutdown();
}

#[test]
fn the_sharded_monitor_is_a_future_too() {
    let rt = common::two_cores();
    let router = ShardedSocket::new(&rt, SocketType::Router, Options::default());
    let monitor = router.monitor().unwrap();
    let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let ctx = zmq::Context::new();
    let dealers: Vec<_> = (0..2)
        .map(|_| {
            let d = zsock(&ctx, zmq::DEALER);
            d.connect(&endpoint).unwrap();
            d
        })
        .collect();
    let cores = watchdog(WAIT, move || {
        let tokio = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        tokio.block_on(async move {
            let mut cores = Vec::new();
            while cores.len() < 2 {
                let e = monitor.recv_async().await.expect("events");
                if let MonitorEvent::HandshakeSucceeded { .. } = e.event {
                    cores.push(e.core);
                }
            }
            cores.sort();
            cores
        })
    });
    assert_eq!(cores, [0, 1]);
    drop(dealers);
    router.close();
    rt.shutdown();
}

#[test]
fn a_waiting_send_fails_when_the_runtime_stops() {
    let rt = common::two_cores();
    let dealer = ShardedSocket::new(&rt, SocketType::Dealer, Options::default());
    // No peer: the send waits.
    let d = dealer.clone();
    let sender = std::thread::spawn(move || d.send("never"));
    // Shutting down wakes it with an error rather than leaving it waiting.
    rt.shutdown();
    let result = watchdog(WAIT, move || sender.join().unwrap());
    assert!(
        matches!(result, Err(monocoque::Error::Closed)),
        "{result:?}"
    );
}

#[test]
fn two_threads_receiving_from_one_handle_are_both_served() {
    let rt = common::two_cores();
    let pull = ShardedSocket::new(&rt, SocketType::Pull, Options::default());
    let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
    // Two readers wait on the same handle; whichever takes a message, the other must
    // still be woken for the next one.
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let p = pull.clone();
            std::thread::spawn(move || {
                let mut got = 0;
                while got < 100 {
                    p.recv().unwrap();
                    got += 1;
                }
                got
            })
        })
        .collect();
    let ctx = zmq::Context::new();
    let push = zsock(&ctx, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    for i in 0..200u32 {
        push.send(i.to_be_bytes().as_slice(), 0).unwrap();
        if i % 10 == 0 {
            // Let both readers get back to waiting now and then.
            std::thread::yield_now();
        }
    }
    let counts = watchdog(WAIT, move || {
        readers
            .into_iter()
            .map(|r| r.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(counts, [100, 100]);
    pull.close();
    rt.shutdown();
}

#[test]
fn the_handles_futures_also_run_on_a_runtime_core() {
    let (rt, _ctx, dealer) = echo_dealer(2);
    // A task on core 0 drives the handle (whose connections are on both cores); the
    // blocking forms refuse there, the futures work.
    let d = dealer.clone();
    let tasks = rt.on_each_core(move |core| {
        let d = d.clone();
        async move {
            if core != 0 {
                return Ok(0);
            }
            assert!(matches!(d.send("x"), Err(monocoque::Error::State(_))));
            for i in 0..100u32 {
                d.send_async(i.to_be_bytes().to_vec()).await?;
                let reply = d.recv_async().await?;
                assert_eq!(&reply[0][..], i.to_be_bytes());
            }
            Ok::<u32, monocoque::Error>(100)
        }
    });
    let results = watchdog(WAIT, move || tasks.join().unwrap());
    assert_eq!(results[0].as_ref().unwrap(), &100);
    dealer.close();
    rt.shutdown();
}
