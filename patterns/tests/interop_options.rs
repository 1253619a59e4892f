//! SNDBUF, RCVBUF and CONFLATE against libzmq 4.3 peers.
//!
//! Kernel buffer sizes are read back from the connection's own descriptor (found in
//! `/proc/self/fd` by its addresses). CONFLATE is checked without timing: a reader
//! that waits until its libzmq peer has sent everything and disconnected must then
//! find exactly the newest message; a sender whose libzmq peer has stopped reading
//! must still get its newest message through once the peer reads again, after a
//! backlog no larger than the kernel buffers hold.

mod common;
mod interop_util;

use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::{Duration, Instant};

use common::{frames, free_tcp_endpoint, fresh_endpoint, join, run, within, zsock, WAIT};
use futures_lite::future::yield_now;
use interop_util::*;
use monocoque::{AnySocket, Endpoint, Message, MonitorEvent, Options, SocketType, Sub};
use socket2::SockAddr;

// ----- helpers -----------------------------------------------------------------------

/// Waits (bounded) until `s` has no connected peer.
async fn wait_no_peers(s: &AnySocket, what: &str) {
    within(what, async {
        while s.peer_count() > 0 {
            glommio::timer::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
}

fn probe() -> Frames {
    vec![b"probe".to_vec()]
}

/// Numbered message `i`: `"seq"`, then the number, padded to `size` bytes.
fn numbered(i: usize, size: usize) -> Frames {
    let mut body = format!("{i:08}").into_bytes();
    body.resize(size.max(8), b'.');
    vec![b"seq".to_vec(), body]
}

/// The number of a [`numbered`] message, `None` for anything else (probes).
fn number_of(f: &Frames) -> Option<usize> {
    match &f[..] {
        [tag, body] if tag == b"seq" => Some(num(&body[..8])),
        _ => None,
    }
}

// ----- SNDBUF and RCVBUF ---------------------------------------------------------------

const SNDBUF: usize = 20_000;
const RCVBUF: usize = 30_000;

/// SO_SNDBUF and SO_RCVBUF of every socket of this process whose local and peer
/// addresses (`None`: not connected) `pick` accepts.
fn kernel_buffers(pick: impl Fn(&SockAddr, Option<&SockAddr>) -> bool) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    each_socket(|sock, local, peer| {
        if pick(&local, peer.as_ref()) {
            found.push((
                sock.send_buffer_size().expect("SO_SNDBUF"),
                sock.recv_buffer_size().expect("SO_RCVBUF"),
            ));
        }
    });
    found
}

fn tcp_addr(ep: &Endpoint) -> std::net::SocketAddr {
    ep.socket_addrs().expect("a TCP endpoint")[0]
}

fn ipc_path(ep: &Endpoint) -> std::path::PathBuf {
    match ep {
        Endpoint::Ipc(path) => path.clone(),
        other => panic!("not an IPC endpoint: {other}"),
    }
}

/// What a Unix stream socket gets when nobody sets its buffers.
fn unix_default_buffers() -> (usize, usize) {
    let s = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
    (s.send_buffer_size().unwrap(), s.recv_buffer_size().unwrap())
}

/// A DEALER with SNDBUF and RCVBUF set talks to a libzmq DEALER; then the kernel's
/// sizes are read from its connection (and, when it binds, its listener). TCP: Linux
/// reports twice what was set. IPC: untouched, as libzmq leaves Unix sockets alone.
fn kernel_buffers_case(case: Case) {
    interop(
        case,
        |z| {
            let s = z.sock(zmq::DEALER);
            assert_eq!(zrecv(&s), vec![b"hello".to_vec()]);
            s
        },
        move |m| async move {
            let s = AnySocket::with_options(
                SocketType::Dealer,
                Options {
                    sndbuf: Some(SNDBUF),
                    rcvbuf: Some(RCVBUF),
                    ..Options::default()
                },
            );
            m.attach(&s, 1).await;
            wait_peers(&s, 1).await;
            msend(&s, vec![b"hello".to_vec()]).await;
            let ep = s.last_endpoint().expect("an endpoint");
            let set = (2 * SNDBUF, 2 * RCVBUF);
            match (case.transport, case.role) {
                ("tcp", Role::MonoBinds) => {
                    let addr = tcp_addr(&ep);
                    let mine = |l: &SockAddr| l.as_socket() == Some(addr);
                    let accepted = kernel_buffers(|l, p| mine(l) && p.is_some());
                    assert_eq!(accepted, vec![set], "the accepted connection");
                    let listener = kernel_buffers(|l, p| mine(l) && p.is_none());
                    assert_eq!(listener, vec![set], "the listener");
                }
                ("tcp", _) => {
                    let addr = tcp_addr(&ep);
                    let connected =
                        kernel_buffers(|_, p| p.and_then(SockAddr::as_socket) == Some(addr));
                    assert_eq!(connected, vec![set], "the connection");
                }
                ("ipc", role) => {
                    let path = ipc_path(&ep);
                    let at = |a: &SockAddr| a.as_pathname() == Some(path.as_path());
                    let conn = if role == Role::MonoBinds {
                        kernel_buffers(|l, p| at(l) && p.is_some())
                    } else {
                        kernel_buffers(|_, p| p.is_some_and(at))
                    };
                    assert_eq!(
                        conn,
                        vec![unix_default_buffers()],
                        "IPC keeps the system's sizes"
                    );
                }
                other => panic!("unexpected case {other:?}"),
            }
            s
        },
    );
}

#[test]
fn sndbuf_and_rcvbuf_are_set_on_tcp_connections_as_libzmq_does() {
    for case in cases() {
        kernel_buffers_case(case);
    }
}

// ----- CONFLATE, receiving -------------------------------------------------------------

/// Messages the libzmq peer sends after its probes.
const BURST: usize = 10_000;

fn conflating() -> Options {
    Options {
        conflate: true,
        // The end of the peer's connection is the signal that everything has arrived:
        // do not connect again to a peer that is going away.
        reconnect_ivl: None,
        ..Options::default()
    }
}

/// A libzmq `kind` socket sends probes until the Monocoque socket (CONFLATE) has one,
/// then [`BURST`] numbered messages as fast as it can, then closes (LINGER delivers
/// everything first, so the connection ends after the last message). The Monocoque
/// reader does nothing until the connection has ended; then one receive must return
/// the last message, and nothing else is left. Without conflation that receive would
/// return the oldest message waiting (a probe or number 0).
fn newest_only_received<F>(case: Case, kind: zmq::SocketType, make: F)
where
    F: FnOnce() -> AnySocket + Send + 'static,
{
    let (go_tx, go_rx) = channel::<()>();
    interop(
        case,
        move |z| {
            let s = z.socket(kind);
            // Nothing dropped (PUB) or refused (PUSH, DEALER) at the sender.
            s.set_sndhwm(0).unwrap();
            s.set_linger(WAIT.as_millis() as i32).unwrap();
            z.attach(&s);
            let deadline = Instant::now() + WAIT;
            loop {
                zsend(&s, &probe());
                match go_rx.recv_timeout(Duration::from_millis(2)) {
                    Ok(()) => break,
                    Err(RecvTimeoutError::Timeout) => {
                        assert!(Instant::now() < deadline, "no probe reached Monocoque")
                    }
                    Err(e) => panic!("Monocoque side went away: {e}"),
                }
            }
            for i in 0..BURST {
                zsend(&s, &numbered(i, 16));
            }
            drop(s);
        },
        move |m| async move {
            let s = make();
            m.attach(&s, 1).await;
            assert_eq!(mrecv(&s).await, probe());
            go_tx.send(()).unwrap();
            wait_no_peers(&s, "the libzmq peer to send everything and disconnect").await;
            let newest = s.try_recv().unwrap().map(|msg| frames(&msg));
            assert_eq!(
                newest.as_ref().and_then(number_of),
                Some(BURST - 1),
                "the newest message, got {:?}",
                newest.as_deref().map(show)
            );
            check_eq("newest", 0, &newest.unwrap(), &numbered(BURST - 1, 16));
            assert!(
                s.try_recv().unwrap().is_none(),
                "only the newest message is kept"
            );
            s
        },
    );
}

#[test]
fn conflating_sub_keeps_only_the_newest_from_a_libzmq_pub() {
    for case in cases() {
        newest_only_received(case, zmq::PUB, || {
            let s = Sub::with_options(conflating());
            s.subscribe(b"").unwrap();
            s.into()
        });
    }
}

#[test]
fn conflating_pull_keeps_only_the_newest_from_a_libzmq_push() {
    for case in cases() {
        newest_only_received(case, zmq::PUSH, || {
            AnySocket::with_options(SocketType::Pull, conflating())
        });
    }
}

#[test]
fn conflating_dealer_keeps_only_the_newest_from_a_libzmq_dealer() {
    for case in cases() {
        newest_only_received(case, zmq::DEALER, || {
            AnySocket::with_options(SocketType::Dealer, conflating())
        });
    }
}

/// Conflation is per peer, as libzmq's is per pipe: two libzmq PUSH sockets send
/// their bursts and close; then the conflating PULL holds exactly the newest message
/// of each.
#[test]
fn conflating_pull_keeps_the_newest_of_each_peer() {
    let tagged = |tag: &[u8], i: usize| vec![tag.to_vec(), format!("{i:08}").into_bytes()];
    for case in cases() {
        let (go_tx, go_rx) = channel::<()>();
        interop(
            case,
            move |z| {
                let socks: Vec<zmq::Socket> = (0..2)
                    .map(|_| {
                        let s = z.socket(zmq::PUSH);
                        s.set_sndhwm(0).unwrap();
                        s.set_linger(WAIT.as_millis() as i32).unwrap();
                        z.attach(&s);
                        s
                    })
                    .collect();
                let tags: [&[u8]; 2] = [b"A", b"B"];
                let deadline = Instant::now() + WAIT;
                loop {
                    for (s, tag) in socks.iter().zip(tags) {
                        zsend(s, &[b"probe".to_vec(), tag.to_vec()]);
                    }
                    match go_rx.recv_timeout(Duration::from_millis(2)) {
                        Ok(()) => break,
                        Err(RecvTimeoutError::Timeout) => {
                            assert!(Instant::now() < deadline, "probes did not get through")
                        }
                        Err(e) => panic!("Monocoque side went away: {e}"),
                    }
                }
                for i in 0..BURST {
                    for (s, tag) in socks.iter().zip(tags) {
                        zsend(s, &tagged(tag, i));
                    }
                }
                drop(socks);
            },
            move |m| async move {
                let s = AnySocket::with_options(SocketType::Pull, conflating());
                m.attach(&s, 2).await;
                let mut probed = std::collections::BTreeSet::new();
                within("a probe from each peer", async {
                    while probed.len() < 2 {
                        let f = mrecv(&s).await;
                        assert_eq!(f[0], b"probe");
                        probed.insert(f[1].clone());
                    }
                })
                .await;
                go_tx.send(()).unwrap();
                wait_no_peers(&s, "both libzmq peers to send everything and disconnect").await;
                let mut got: Vec<Frames> = std::iter::from_fn(|| s.try_recv().unwrap())
                    .map(|msg| frames(&msg))
                    .collect();
                got.sort();
                assert_eq!(
                    got,
                    vec![tagged(b"A", BURST - 1), tagged(b"B", BURST - 1)],
                    "the newest of each peer, nothing else"
                );
                s
            },
        );
    }
}

/// libzmq does not conflate PAIR (nor ROUTER, REQ, REP, XPUB, XSUB): neither does
/// Monocoque. The reader again waits until the peer has gone, and finds everything.
#[test]
fn pair_ignores_conflate_as_libzmq_does() {
    const N: usize = 100;
    for case in cases() {
        interop(
            case,
            |z| {
                let s = z.socket(zmq::PAIR);
                s.set_linger(WAIT.as_millis() as i32).unwrap();
                z.attach(&s);
                for i in 0..N {
                    zsend(&s, &numbered(i, 16));
                }
                drop(s);
            },
            |m| async move {
                let s = AnySocket::with_options(SocketType::Pair, conflating());
                // The whole exchange may be over before this side looks: wait for
                // the end of the connection, not for a count of peers.
                let monitor = s.monitor();
                m.attach(&s, 1).await;
                within("the libzmq PAIR to send everything and disconnect", async {
                    while !matches!(monitor.recv().await, MonitorEvent::Disconnected { .. }) {}
                })
                .await;
                for i in 0..N {
                    let got = s.try_recv().unwrap().map(|msg| frames(&msg));
                    assert_eq!(got, Some(numbered(i, 16)), "message {i}");
                }
                assert!(s.try_recv().unwrap().is_none());
                s
            },
        );
    }
}

// ----- CONFLATE, sending -----------------------------------------------------------------

/// Messages the stalled test publishes, and their size: far more than the buffers on
/// the way hold, so a backlog within [`backlog_bound`] shows that the rest was
/// conflated away.
const STALLED_N: usize = 10_000;
const STALLED_SIZE: usize = 1024;
/// SNDBUF of the Monocoque sender and RCVBUF of its libzmq peer (TCP only).
const SMALL_BUF: usize = 4096;

/// The most messages the libzmq peer may see before the newest: what the kernel
/// buffers between the two hold (TCP: [`SMALL_BUF`] each side, doubled by Linux;
/// IPC: the system's Unix socket sizes, which neither library changes), plus
/// libzmq's 8 KiB read batch, its one-message pipe (RCVHWM 1), the message our
/// connection is writing, and a wide margin. Without conflation the newest would
/// never arrive at all (PUB drops it at SNDHWM; PUSH and DEALER wait there for good),
/// and the backlog would be at least SNDHWM (1000) messages.
fn backlog_bound(transport: &str) -> usize {
    let kernel = match transport {
        "tcp" => 2 * SMALL_BUF + 2 * SMALL_BUF,
        _ => {
            let (snd, rcv) = unix_default_buffers();
            snd + rcv
        }
    };
    kernel / STALLED_SIZE + 8 + 2 + 100
}

/// A Monocoque `make()` socket (CONFLATE, SNDBUF small) sends probes until its libzmq
/// `kind` peer (RCVBUF small, RCVHWM 1) has one; the peer then stops reading while
/// [`STALLED_N`] numbered messages are sent, each send followed by a yield so the
/// connection writes until the kernel buffers are full. Then the peer reads again:
/// it must see a short backlog, in order, and then the newest message.
fn newest_reaches_a_stalled_peer<F>(case: Case, kind: zmq::SocketType, make: F)
where
    F: FnOnce() -> AnySocket + Send + 'static,
{
    let (ready_tx, ready_rx) = channel::<()>();
    let (done_tx, done_rx) = channel::<()>();
    interop(
        case,
        move |z| {
            let s = z.socket(kind);
            if kind == zmq::SUB {
                s.set_subscribe(b"").unwrap();
            }
            s.set_rcvhwm(1).unwrap();
            s.set_rcvbuf(SMALL_BUF as i32).unwrap();
            z.attach(&s);
            let bound = backlog_bound(z.case.transport);
            assert_eq!(zrecv(&s), probe());
            ready_tx.send(()).unwrap();
            // Stalled: nothing is read until Monocoque has sent everything.
            done_rx
                .recv_timeout(WAIT)
                .expect("the Monocoque side to finish sending");
            let mut seen = Vec::new();
            loop {
                let f = zrecv(&s);
                let Some(n) = number_of(&f) else { continue };
                check_eq("message", n, &f, &numbered(n, STALLED_SIZE));
                seen.push(n);
                if n == STALLED_N - 1 {
                    break;
                }
                assert!(
                    seen.len() <= bound,
                    "a backlog of {} messages (bound {bound}): not conflated",
                    seen.len()
                );
            }
            assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order: {seen:?}");
            eprintln!(
                "{kind:?} peer saw {} messages before the newest (bound {bound})",
                seen.len() - 1
            );
            s
        },
        move |m| async move {
            let s = make();
            m.attach(&s, 1).await;
            within("the libzmq peer to get a probe", async {
                while ready_rx.try_recv().is_err() {
                    s.send(Message::from(probe())).await.unwrap();
                    glommio::timer::sleep(Duration::from_millis(2)).await;
                }
            })
            .await;
            within(
                "sending everything (a conflating sender never waits)",
                async {
                    for i in 0..STALLED_N {
                        s.send(Message::from(numbered(i, STALLED_SIZE)))
                            .await
                            .unwrap();
                        yield_now().await;
                    }
                },
            )
            .await;
            done_tx.send(()).unwrap();
            s
        },
    );
}

fn small_sndbuf_conflating() -> Options {
    Options {
        conflate: true,
        sndbuf: Some(SMALL_BUF),
        ..Options::default()
    }
}

#[test]
fn conflating_pub_sends_the_newest_to_a_stalled_libzmq_sub() {
    for case in cases() {
        newest_reaches_a_stalled_peer(case, zmq::SUB, || {
            AnySocket::with_options(SocketType::Pub, small_sndbuf_conflating())
        });
    }
}

#[test]
fn conflating_push_sends_the_newest_to_a_stalled_libzmq_pull() {
    for case in cases() {
        newest_reaches_a_stalled_peer(case, zmq::PULL, || {
            AnySocket::with_options(SocketType::Push, small_sndbuf_conflating())
        });
    }
}

#[test]
fn conflating_dealer_sends_the_newest_to_a_stalled_libzmq_dealer() {
    for case in cases() {
        newest_reaches_a_stalled_peer(case, zmq::DEALER, || {
            AnySocket::with_options(SocketType::Dealer, small_sndbuf_conflating())
        });
    }
}

/// Deterministic outbound case: a conflating PUSH or DEALER connects to an endpoint
/// nobody listens on yet, so nothing can leave; every send is accepted (SNDHWM is
/// ignored) and each replaces the last. When a libzmq PULL/DEALER binds, the first
/// message it gets is the newest, and the next one is a marker sent after it: nothing
/// else was queued.
#[test]
fn conflating_sender_queues_only_the_newest_for_a_peer_not_there_yet() {
    const N: usize = 5000;
    for transport in common::TRANSPORTS {
        for kind in [zmq::PULL, zmq::DEALER] {
            let endpoint = match transport {
                "tcp" => free_tcp_endpoint(),
                t => fresh_endpoint(t),
            };
            eprintln!("--- {transport} / {kind:?}");
            run(move || async move {
                let opts = Options {
                    conflate: true,
                    sndhwm: 10,
                    ..Options::default()
                };
                let sender_kind = if kind == zmq::PULL {
                    SocketType::Push
                } else {
                    SocketType::Dealer
                };
                let sender = AnySocket::with_options(sender_kind, opts);
                let send = |f: Frames| sender.send(Message::from(f));
                sender.connect(&endpoint).unwrap();
                // SNDHWM is 10 and nothing can leave: without conflation the 11th send
                // would wait for good. (A send may still yield to the executor, so
                // each one is awaited, within the bounded wait.)
                within("every send (SNDHWM ignored)", async {
                    for i in 0..N {
                        send(numbered(i, 16)).await.unwrap();
                    }
                })
                .await;
                let (got_tx, got_rx) = channel();
                let (marker_tx, marker_rx) = channel::<()>();
                let peer = std::thread::spawn(move || {
                    let ctx = zmq::Context::new();
                    let s = zsock(&ctx, kind);
                    s.bind(&endpoint).unwrap();
                    got_tx.send(zrecv(&s)).unwrap();
                    marker_rx.recv_timeout(WAIT).expect("the marker to be sent");
                    assert_eq!(
                        zrecv(&s),
                        vec![b"marker".to_vec()],
                        "nothing else was queued"
                    );
                });
                let first = within("the first message at the peer", poll_channel(&got_rx)).await;
                check_eq("first", 0, &first, &numbered(N - 1, 16));
                within("the marker send", send(vec![b"marker".to_vec()]))
                    .await
                    .unwrap();
                marker_tx.send(()).unwrap();
                join(peer).await;
            });
        }
    }
}
