//! What a sharded socket's `close` and a runtime's `shutdown` do with messages that
//! sends had accepted: with the default LINGER (for ever) every one reaches its live
//! peer before they return, as libzmq's `zmq_close` and `zmq_ctx_term` see to; with
//! LINGER 0 they return at once. Over TCP and inproc, from the handle of a sharded
//! socket and from local sockets living on a runtime core.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use monocoque::{Options, Pull, Push, Runtime, ShardedSocket, SocketType};

const N: u32 = 1500;

/// A PULL on a plain glommio thread that reads slowly (2 ms every 10 messages) until
/// nothing comes for 2 s; returns the endpoint it bound and, at the end, the numbers
/// it received.
fn slow_reader(endpoint: &'static str) -> (String, std::thread::JoinHandle<Vec<u32>>) {
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        glommio::LocalExecutor::default().run(async move {
            let pull = Pull::with_options(Options::default().rcvtimeo(Duration::from_secs(2)));
            tx.send(pull.bind(endpoint).unwrap().to_string()).unwrap();
            let mut got = Vec::new();
            while let Ok(m) = pull.recv().await {
                got.push(u32::from_be_bytes(m[0][..4].try_into().unwrap()));
                if got.len() % 10 == 0 {
                    glommio::timer::sleep(Duration::from_millis(2)).await;
                }
            }
            got
        })
    });
    (rx.recv().unwrap(), reader)
}

fn runtime() -> Runtime {
    Runtime::builder()
        .cores(vec![0, 1])
        .pinned(false)
        .build()
        .unwrap()
}

/// Every message, once, in order.
fn in_order(got: &[u32]) -> bool {
    got.iter().copied().eq(0..N)
}

fn numbered(i: u32, size: usize) -> Vec<u8> {
    let mut v = vec![0u8; size.max(4)];
    v[..4].copy_from_slice(&i.to_be_bytes());
    v
}

#[test]
fn a_sharded_sockets_close_delivers_what_its_handle_accepted() {
    for close_first in [true, false] {
        for (endpoint, size) in [
            ("tcp://127.0.0.1:0", 16 << 10),
            ("inproc://sharded-close", 4),
        ] {
            let (ep, reader) = slow_reader(endpoint);
            let rt = runtime();
            let push = ShardedSocket::new(&rt, SocketType::Push, Options::default());
            push.connect(&ep).unwrap();
            for i in 0..N {
                push.send(numbered(i, size)).unwrap();
            }
            if close_first {
                push.close();
            }
            rt.shutdown();
            let got = reader.join().unwrap();
            assert!(
                in_order(&got),
                "{endpoint}, closed before shutdown: {close_first}: {} of {N} arrived",
                got.len()
            );
        }
    }
}

#[test]
fn shutdown_delivers_what_local_sockets_on_the_cores_accepted() {
    for keep in [false, true] {
        for (endpoint, size) in [("tcp://127.0.0.1:0", 16 << 10), ("inproc://local-close", 4)] {
            let (ep, reader) = slow_reader(endpoint);
            let rt = runtime();
            let (done_tx, done) = mpsc::channel();
            rt.handle().spawn_on(1, move || async move {
                let push = Push::new();
                push.connect(&ep).unwrap();
                for i in 0..N {
                    push.send(numbered(i, size)).await.unwrap();
                }
                done_tx.send(()).unwrap();
                if keep {
                    // Still open when the runtime stops.
                    glommio::timer::sleep(Duration::from_secs(3600)).await;
                }
                // Otherwise dropped here, lingering in the background.
            });
            done.recv().unwrap();
            rt.shutdown();
            let got = reader.join().unwrap();
            assert!(
                in_order(&got),
                "{endpoint}, socket kept open: {keep}: {} of {N} arrived",
                got.len()
            );
        }
    }
}

/// With LINGER 0, close and shutdown drop what is queued and return at once, even
/// with a message for a peer that never comes.
#[test]
fn linger_zero_lets_shutdown_return_at_once() {
    let rt = runtime();
    let push = ShardedSocket::new(
        &rt,
        SocketType::Push,
        Options::default().linger(Some(Duration::ZERO)),
    );
    push.connect(&common::free_tcp_endpoint()).unwrap();
    push.send("for nobody").unwrap();
    let (done_tx, done) = mpsc::channel();
    rt.handle().spawn_on(0, move || async move {
        let push = Push::with_options(Options::default().linger(Some(Duration::ZERO)));
        push.connect(&common::free_tcp_endpoint()).unwrap();
        push.send("for nobody either").await.unwrap();
        done_tx.send(()).unwrap();
        // Still open when the runtime stops.
        glommio::timer::sleep(Duration::from_secs(3600)).await;
        drop(push);
    });
    let started = Instant::now();
    done.recv().unwrap();
    push.close();
    rt.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

const LINGER: Duration = Duration::from_millis(600);

/// A libzmq PULL that takes one message and then reads no more, so that what is sent
/// to it fills the kernel's buffers and then the sender's queues.
fn stalled_pull(ctx: &zmq::Context) -> (zmq::Socket, String) {
    let pull = common::zsock(ctx, zmq::PULL);
    pull.set_rcvhwm(1).unwrap();
    let endpoint = common::zbind(&pull, "tcp");
    (pull, endpoint)
}

/// Offers 10 kB messages until `try_send` has refused them for 100 ms in a row: every
/// queue on the way (the kernel's, the core socket's, the core's serving queue) is
/// full then. Returns how many were taken.
fn fill(mut try_send: impl FnMut() -> bool) -> usize {
    let started = Instant::now();
    let mut accepted = 0;
    let mut refused_since = None;
    while started.elapsed() < common::WAIT {
        if try_send() {
            accepted += 1;
            refused_since = None;
        } else if accepted > 0 {
            let since = *refused_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_millis(100) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert!(accepted > 1, "the PUSH took {accepted} messages");
    accepted
}

fn lingering_push(rt: &Runtime, endpoint: &str) -> ShardedSocket {
    let push = ShardedSocket::new(
        rt,
        SocketType::Push,
        Options::default().linger(Some(LINGER)),
    );
    push.connect(endpoint).unwrap();
    fill(|| push.try_send(vec![0u8; 10_000]).is_ok());
    push
}

fn assert_one_linger(took: Duration, what: &str) {
    assert!(
        took >= LINGER && took < LINGER * 3 / 2,
        "{what} took {took:?} with LINGER {LINGER:?}"
    );
}

/// LINGER bounds the whole of a sharded socket's close, as it bounds `zmq_close`: the
/// handle's queue on a core and the core socket's queues share one LINGER, they do not
/// each get their own.
#[test]
fn a_sharded_close_waits_one_linger_not_two() {
    let ctx = zmq::Context::new();
    let (_pull, endpoint) = stalled_pull(&ctx);
    let rt = runtime();
    let push = lingering_push(&rt, &endpoint);
    let started = Instant::now();
    push.close();
    assert_one_linger(started.elapsed(), "close");
    // The socket has had its LINGER: the runtime's stop does not wait for it again.
    let started = Instant::now();
    rt.shutdown();
    let took = started.elapsed();
    assert!(took < LINGER / 2, "shutdown after close took {took:?}");
}

/// A runtime's shutdown lingers for all its sockets at once, as `zmq_ctx_term` does:
/// a sharded socket and a local socket on a core, both with messages their stalled
/// peers do not take, cost one LINGER together.
#[test]
fn shutdown_lingers_for_all_sockets_at_once() {
    let ctx = zmq::Context::new();
    let (_pull, endpoint) = stalled_pull(&ctx);
    let (_local_pull, local_endpoint) = stalled_pull(&ctx);
    let rt = Runtime::builder()
        .cores(vec![0])
        .pinned(false)
        .build()
        .unwrap();
    let _push = lingering_push(&rt, &endpoint);
    let (filled_tx, filled) = mpsc::channel();
    rt.handle().spawn_on(0, move || async move {
        let options = Options::default()
            .linger(Some(LINGER))
            .sndhwm(1)
            .sndtimeo(Duration::from_millis(300));
        let push = Push::with_options(options);
        push.connect(&local_endpoint).unwrap();
        let mut accepted = 0;
        while accepted < 64 && push.send(vec![0u8; 1 << 20]).await.is_ok() {
            accepted += 1;
        }
        filled_tx.send(accepted).unwrap();
        // Still open when the runtime stops.
        glommio::timer::sleep(Duration::from_secs(3600)).await;
        drop(push);
    });
    let accepted = filled.recv().unwrap();
    assert!(accepted > 1, "the local PUSH took {accepted} messages");
    let started = Instant::now();
    rt.shutdown();
    assert_one_linger(started.elapsed(), "shutdown");
}
