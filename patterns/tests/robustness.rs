//! Misbehaving peers and misuse: a Monocoque socket bound on TCP closes only the
//! offending connection, reports why on its monitor, and keeps serving its other
//! peers. Also binding errors and closing with open connections.
//!
//! Garbage clients are raw `std::net::TcpStream`s in non-blocking mode, polled between
//! short sleeps on the same glommio thread as the socket under test (so they never
//! block it). Valid handshake bytes come from `monocoque_zmtp::Session`.

mod common;

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use common::{
    frames, free_tcp_endpoint, fresh_endpoint, run, within, zbind, zpoll_recv, zsock, TRANSPORTS,
};
use monocoque::{
    Dealer, Error, Message, Monitor, MonitorEvent, Options, Pub, Pull, Push, Router, Sub,
};
use monocoque_zmtp::{Event, Greeting, Mechanism, Outgoing, Session, SessionConfig, SocketType};
use rand::{RngCore, SeedableRng};

/// Pause between two non-blocking polls.
const POLL: Duration = Duration::from_millis(1);

// ----- libzmq without blocking the executor ----------------------------------------

/// Watches a libzmq socket's DISCONNECTED events.
struct ZDisconnects(zmq::Socket);

impl ZDisconnects {
    fn watch(ctx: &zmq::Context, s: &zmq::Socket, name: &str) -> ZDisconnects {
        let addr = format!("inproc://monitor-{name}");
        s.monitor(&addr, zmq::SocketEvent::DISCONNECTED as i32)
            .unwrap();
        let m = ctx.socket(zmq::PAIR).unwrap();
        m.set_linger(0).unwrap();
        m.connect(&addr).unwrap();
        ZDisconnects(m)
    }

    async fn next(&self, what: &str) {
        let ev = within(what, zpoll_recv(&self.0)).await;
        let code = u16::from_le_bytes([ev[0][0], ev[0][1]]);
        assert_eq!(code, zmq::SocketEvent::DISCONNECTED.to_raw());
    }
}

// ----- raw TCP clients -----------------------------------------------------------------

/// A hand-driven TCP client.
struct Raw(TcpStream);

impl Raw {
    fn connect(endpoint: &str) -> Raw {
        let addr = endpoint.strip_prefix("tcp://").expect("a tcp endpoint");
        let s = TcpStream::connect(addr).expect("raw connect");
        s.set_nonblocking(true).unwrap();
        s.set_nodelay(true).unwrap();
        Raw(s)
    }

    /// Writes all of `bytes`; false if the server closed the connection first.
    async fn write(&mut self, mut bytes: &[u8]) -> bool {
        within("a raw write", async {
            while !bytes.is_empty() {
                match self.0.write(bytes) {
                    Ok(n) => bytes = &bytes[n..],
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        glommio::timer::sleep(POLL).await
                    }
                    Err(_) => return false,
                }
            }
            true
        })
        .await
    }

    /// Reads whatever is available into `into`; Err(()) once the server closed.
    async fn read_some(&mut self, into: &mut BytesMut) -> Result<(), ()> {
        let mut buf = [0u8; 4096];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => return Err(()),
                Ok(n) => {
                    into.extend_from_slice(&buf[..n]);
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => glommio::timer::sleep(POLL).await,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(()),
            }
        }
    }

    /// Reads (and discards) until the server closes the connection.
    async fn until_closed(&mut self, what: &str) {
        let mut sink = BytesMut::new();
        within(what, async {
            while self.read_some(&mut sink).await.is_ok() {}
        })
        .await;
    }

    /// Connects and completes a NULL handshake as `kind` by hand.
    async fn handshake(endpoint: &str, kind: SocketType) -> (Raw, Session) {
        let mut raw = Raw::connect(endpoint);
        let mut session = Session::new(SessionConfig::new(kind), Instant::now());
        let mut input = BytesMut::new();
        within("a hand-made handshake", async {
            loop {
                // What came in first, then what the session queued in answer (the
                // rest of our greeting follows the server's first bytes).
                let mut ready = false;
                while let Some(ev) = session.handle_input(&mut input).unwrap() {
                    ready |= matches!(ev, Event::Ready(_));
                }
                let mut out = Outgoing::new();
                session.poll_transmit(&mut out);
                let out = out.copy_to_bytes(out.remaining());
                assert!(raw.write(&out).await, "server closed during the handshake");
                if ready {
                    return;
                }
                raw.read_some(&mut input)
                    .await
                    .expect("server closed during the handshake");
            }
        })
        .await;
        (raw, session)
    }
}

/// A greeting with byte `index` replaced.
fn greeting_with(index: usize, value: u8) -> Vec<u8> {
    let mut g = Greeting::new(Mechanism::Null, false).encode().to_vec();
    g[index] = value;
    g
}

// ----- a server with one well-behaved peer -------------------------------------------

/// A Monocoque ROUTER bound on TCP with a well-behaved libzmq DEALER, to check that it
/// keeps serving while other connections misbehave.
struct Served {
    router: Router,
    monitor: Monitor,
    endpoint: String,
    good: zmq::Socket,
    ctx: zmq::Context,
    round: Cell<usize>,
}

impl Served {
    async fn start(options: Options) -> Served {
        let ctx = zmq::Context::new();
        let router = Router::with_options(options);
        let monitor = router.monitor();
        let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let good = zsock(&ctx, zmq::DEALER);
        good.connect(&endpoint).unwrap();
        let served = Served {
            router,
            monitor,
            endpoint,
            good,
            ctx,
            round: Cell::new(0),
        };
        served.assert_served().await;
        served
    }

    /// The good DEALER's request is received (and nothing else is queued) and the echo
    /// reaches it.
    async fn assert_served(&self) {
        let n = self.round.get();
        self.round.set(n + 1);
        let body = format!("request {n}").into_bytes();
        self.good.send(&body, zmq::DONTWAIT).unwrap();
        let msg = within("the router to serve the good peer", self.router.recv())
            .await
            .unwrap();
        assert_eq!(&frames(&msg)[1..], std::slice::from_ref(&body));
        assert!(
            self.router.try_recv().unwrap().is_none(),
            "unexpected message queued"
        );
        self.router.send(msg).await.unwrap();
        assert_eq!(within("the echo", zpoll_recv(&self.good)).await, vec![body]);
    }

    /// As [`Served::assert_served`], and the good peer is the only one attached.
    async fn assert_only_good_peer_served(&self) {
        self.assert_served().await;
        assert_eq!(
            self.router.peer_count(),
            1,
            "only the good peer is attached"
        );
    }
}

/// How a dropped connection must show on the monitor besides `Disconnected`.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Report {
    /// `HandshakeFailedProtocol` first, with the same reason.
    Protocol,
    /// `HandshakeFailedNoDetail` first, with the same reason.
    NoDetail,
    /// The handshake had succeeded: `Disconnected`, and no `HandshakeFailedNoDetail`.
    /// (A NULL connection's protocol error is then `Disconnected` alone, as in
    /// libzmq; a `HandshakeFailedProtocol` before it, as for a CURVE MESSAGE that does
    /// not open, is accepted here too.)
    AfterHandshake,
}

/// Waits for the monitor to report a connection closed for a reason containing
/// `needle`, preceded by the handshake-failure event `report` asks for. Events of other
/// connections are skipped.
async fn expect_dropped(monitor: &Monitor, report: Report, needle: &str) {
    within(&format!("a connection dropped for {needle:?}"), async {
        let mut failure_seen = false;
        loop {
            match monitor.recv().await {
                MonitorEvent::HandshakeFailedProtocol { reason, .. } if reason.contains(needle) => {
                    assert_ne!(report, Report::NoDetail, "unexpected event for {reason:?}");
                    failure_seen = true;
                }
                MonitorEvent::HandshakeFailedNoDetail { reason, .. } if reason.contains(needle) => {
                    assert_eq!(report, Report::NoDetail, "unexpected event for {reason:?}");
                    failure_seen = true;
                }
                MonitorEvent::Disconnected { reason, .. } if reason.contains(needle) => {
                    assert!(
                        failure_seen || report == Report::AfterHandshake,
                        "{reason:?}: no handshake failure event before Disconnected"
                    );
                    return;
                }
                _ => {}
            }
        }
    })
    .await
}

/// Sends `bytes` from a raw client and checks that the server closes that connection,
/// says why, and still serves its good peer.
async fn reject_raw(served: &Served, bytes: &[u8], needle: &str) {
    let mut raw = Raw::connect(&served.endpoint);
    raw.write(bytes).await;
    raw.until_closed("the server to close the bad connection")
        .await;
    expect_dropped(&served.monitor, Report::Protocol, needle).await;
    served.assert_only_good_peer_served().await;
}

// ----- garbage on the port ---------------------------------------------------------------

#[test]
fn random_bytes_close_only_that_connection() {
    run(|| async {
        let served = Served::start(Options::default()).await;
        for seed in 0..8 {
            let mut junk = vec![0u8; 1000];
            rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut junk);
            // Whatever the bytes, they are not a NULL greeting: a protocol error.
            reject_raw(&served, &junk, "protocol error").await;
        }
    });
}

#[test]
fn http_request_is_a_bad_greeting() {
    run(|| async {
        let served = Served::start(Options::default()).await;
        let http = b"GET / HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
        reject_raw(&served, http, "bad greeting signature").await;
    });
}

#[test]
fn greeting_with_major_version_2_is_refused() {
    run(|| async {
        let served = Served::start(Options::default()).await;
        let mut v2 = greeting_with(10, 2);
        v2[11] = 0;
        reject_raw(&served, &v2, "unsupported ZMTP version 2.0").await;
    });
}

#[test]
fn plain_greeting_is_a_mechanism_mismatch() {
    run(|| async {
        let served = Served::start(Options::default()).await;
        let plain = Greeting::new(Mechanism::Plain, false).encode();
        reject_raw(
            &served,
            &plain,
            "security mechanism mismatch: we use NULL, peer uses PLAIN",
        )
        .await;
    });
}

#[test]
fn malformed_frame_after_the_handshake_closes_the_connection() {
    run(|| async {
        let served = Served::start(Options::default()).await;
        let (mut raw, _) = Raw::handshake(&served.endpoint, SocketType::Dealer).await;
        // Flags byte with reserved bits set.
        raw.write(&[0xF0, 0x01, 0x00]).await;
        raw.until_closed("the server to close the bad connection")
            .await;
        expect_dropped(
            &served.monitor,
            Report::AfterHandshake,
            "reserved flag bits",
        )
        .await;
        served.assert_only_good_peer_served().await;
    });
}

// ----- incompatible socket types -------------------------------------------------------

/// A libzmq PUSH connecting to a Monocoque PUB is refused (libzmq does not reconnect
/// after a protocol error); the PUB keeps publishing to its libzmq SUB.
#[test]
fn incompatible_peer_is_refused_by_pub() {
    run(|| async {
        let ctx = zmq::Context::new();
        let publisher = Pub::new();
        let monitor = publisher.monitor();
        let ep = publisher.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let sub = zsock(&ctx, zmq::SUB);
        sub.set_subscribe(b"").unwrap();
        sub.connect(&ep).unwrap();
        // Publish until the subscription has arrived.
        within("the SUB's subscription", async {
            loop {
                publisher.send("probe").await.unwrap();
                glommio::timer::sleep(POLL).await;
                if let Ok(m) = sub.recv_bytes(zmq::DONTWAIT) {
                    assert_eq!(m, b"probe");
                    break;
                }
            }
        })
        .await;

        let push = zsock(&ctx, zmq::PUSH);
        push.connect(&ep).unwrap();
        push.send("to nobody", zmq::DONTWAIT).unwrap();
        expect_dropped(&monitor, Report::Protocol, "we are PUB, peer is PUSH").await;
        assert_eq!(publisher.peer_count(), 1);
        publisher.send("after").await.unwrap();
        let after = within("the SUB to keep receiving", async {
            loop {
                let m = zpoll_recv(&sub).await;
                if m != [b"probe".to_vec()] {
                    return m;
                }
            }
        })
        .await;
        assert_eq!(after, [b"after".to_vec()]);
    });
}

/// A libzmq DEALER (with a message queued) connecting to a Monocoque PULL is refused:
/// none of its messages is delivered, while a libzmq PUSH is served.
#[test]
fn incompatible_peer_delivers_nothing_to_pull() {
    run(|| async {
        let ctx = zmq::Context::new();
        let pull = Pull::new();
        let monitor = pull.monitor();
        let ep = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let dealer = zsock(&ctx, zmq::DEALER);
        dealer.connect(&ep).unwrap();
        dealer.send("from the dealer", zmq::DONTWAIT).unwrap();
        expect_dropped(&monitor, Report::Protocol, "we are PULL, peer is DEALER").await;

        let push = zsock(&ctx, zmq::PUSH);
        push.connect(&ep).unwrap();
        push.send("from the push", zmq::DONTWAIT).unwrap();
        let got = within("the PUSH's message", pull.recv()).await.unwrap();
        assert_eq!(frames(&got), [b"from the push".to_vec()]);
        assert!(pull.try_recv().unwrap().is_none());
        assert_eq!(pull.peer_count(), 1);
    });
}

// ----- MAXMSGSIZE ------------------------------------------------------------------------

/// A frame over MAXMSGSIZE closes that connection; its partial message is dropped; the
/// peer reconnects and is served again, and so is every other peer.
#[test]
fn frame_over_maxmsgsize_closes_the_connection() {
    run(|| async {
        const LIMIT: usize = 1000;
        let served = Served::start(Options {
            maxmsgsize: Some(LIMIT as u64),
            ..Options::default()
        })
        .await;
        let big = zsock(&served.ctx, zmq::DEALER);
        big.connect(&served.endpoint).unwrap();

        // A frame of exactly the limit is fine.
        big.send(vec![1u8; LIMIT], zmq::DONTWAIT).unwrap();
        let m = within("a frame at the limit", served.router.recv())
            .await
            .unwrap();
        assert_eq!(m[1].len(), LIMIT);

        // One byte more, in the second frame of a message: connection closed.
        big.send_multipart([&b"head"[..], &[2u8; LIMIT + 1][..]], zmq::DONTWAIT)
            .unwrap();
        expect_dropped(
            &served.monitor,
            Report::AfterHandshake,
            "frame of 1001 bytes exceeds the maximum message size of 1000 bytes",
        )
        .await;
        // (libzmq reconnects in the background: the peer count may be 1 or 2 here.)
        served.assert_served().await;

        // libzmq reconnects; the first frame of the refused message never shows up.
        big.send("after", zmq::DONTWAIT).unwrap();
        let m = within("the reconnected peer's message", served.router.recv())
            .await
            .unwrap();
        assert_eq!(frames(&m)[1..], [b"after".to_vec()]);
    });
}

// ----- peers that stop half-way ----------------------------------------------------------

/// A peer that completes the handshake and closes in the middle of a frame, or after
/// the first frame of a multipart message: only that connection ends, nothing of the
/// unfinished message is delivered.
#[test]
fn peer_vanishing_mid_message() {
    run(|| async {
        let served = Served::start(Options::default()).await;
        for cut_in_frame in [true, false] {
            let (mut raw, session) = Raw::handshake(&served.endpoint, SocketType::Dealer).await;
            let mut out = Outgoing::new();
            let encoder = session.encoder();
            if cut_in_frame {
                encoder.encode_frame(&mut out, &Bytes::from(vec![7u8; 300]), false);
            } else {
                encoder.encode_frame(&mut out, &Bytes::from_static(b"first of two"), true);
            }
            let mut bytes = out.copy_to_bytes(out.remaining());
            if cut_in_frame {
                bytes.truncate(bytes.len() / 2);
            }
            raw.write(&bytes).await;
            drop(raw);
            expect_dropped(
                &served.monitor,
                Report::AfterHandshake,
                "peer closed the connection mid-message",
            )
            .await;
            served.assert_only_good_peer_served().await;
        }
    });
}

/// A peer that sends nothing (or only part of its greeting) is closed after
/// HANDSHAKE_IVL; the already attached peer is not affected by the timer.
#[test]
fn silent_peer_is_closed_after_handshake_ivl() {
    run(|| async {
        let served = Served::start(Options {
            handshake_ivl: Some(Duration::from_millis(200)),
            ..Options::default()
        })
        .await;
        for prefix in [&[][..], &greeting_with(11, 1)[..11]] {
            let mut raw = Raw::connect(&served.endpoint);
            raw.write(prefix).await;
            raw.until_closed("the handshake timeout").await;
            expect_dropped(&served.monitor, Report::NoDetail, "handshake timed out").await;
            served.assert_only_good_peer_served().await;
        }
    });
}

// ----- binding and endpoints -------------------------------------------------------------

fn assert_addr_in_use<T: std::fmt::Debug>(result: monocoque::Result<T>) {
    match result {
        Err(Error::AddrInUse(_)) => {}
        other => panic!("expected AddrInUse, got {other:?}"),
    }
}

#[test]
fn binding_a_bound_tcp_port_fails_with_addr_in_use() {
    run(|| async {
        // Held by libzmq.
        let ctx = zmq::Context::new();
        let z = zsock(&ctx, zmq::PUB);
        let ep = zbind(&z, "tcp");
        let p = Pub::new();
        let monitor = p.monitor();
        assert_addr_in_use(p.bind(&ep));
        assert!(matches!(
            monitor.try_recv(),
            Some(MonitorEvent::BindFailed { .. })
        ));

        // Held by Monocoque: another Monocoque socket and libzmq are both refused.
        let first = Pub::new();
        let ep = first.bind("tcp://127.0.0.1:0").unwrap().to_string();
        assert_addr_in_use(Router::new().bind(&ep));
        assert_addr_in_use(Pub::new().bind(&ep));
        assert_eq!(
            zsock(&ctx, zmq::PUB).bind(&ep).unwrap_err(),
            zmq::Error::EADDRINUSE
        );
        // Closing releases the port.
        within("close", first.close()).await;
        let second = Pub::new();
        second.bind(&ep).unwrap();
    });
}

#[test]
fn bad_endpoints_are_endpoint_errors() {
    run(|| async {
        let bad = [
            "",
            "127.0.0.1:5555",
            "udp://127.0.0.1:5555",
            "tcp://127.0.0.1",
            "tcp://:5555",
            "tcp://127.0.0.1:99999",
            "tcp://127.0.0.1:port",
            "ipc://",
        ];
        let (dealer, sub) = (Dealer::new(), Sub::new());
        for ep in bad {
            for (op, result) in [
                ("bind", dealer.bind(ep).map(|_| ())),
                ("connect", dealer.connect(ep)),
                ("bind", sub.bind(ep).map(|_| ())),
                ("connect", sub.connect(ep)),
            ] {
                assert!(
                    matches!(result, Err(Error::Endpoint(_))),
                    "{op} {ep:?}: {result:?}"
                );
            }
        }
    });
}

// ----- closing -------------------------------------------------------------------------

/// Closing sockets with open connections (accepted and connected) finishes promptly,
/// and the libzmq peers see the connections go.
#[test]
fn close_with_open_connections_is_prompt() {
    for transport in TRANSPORTS {
        run(move || async move {
            let ctx = zmq::Context::new();
            // Monocoque binds, libzmq connects.
            let router = Router::new();
            let monitor = router.monitor();
            let ep = router.bind(&fresh_endpoint(transport)).unwrap().to_string();
            let zdealer = zsock(&ctx, zmq::DEALER);
            let zdealer_events = ZDisconnects::watch(&ctx, &zdealer, &format!("d-{transport}"));
            zdealer.connect(&ep).unwrap();
            zdealer.send("hello", zmq::DONTWAIT).unwrap();
            within("router recv", router.recv()).await.unwrap();

            // libzmq binds, Monocoque connects.
            let zrouter = zsock(&ctx, zmq::ROUTER);
            let zrouter_events = ZDisconnects::watch(&ctx, &zrouter, &format!("r-{transport}"));
            let zep = zbind(&zrouter, transport);
            let dealer = Dealer::new();
            dealer.connect(&zep).unwrap();
            dealer.send("hello").await.unwrap();
            within("libzmq router recv", zpoll_recv(&zrouter)).await;

            within("ROUTER close", router.close()).await;
            within("DEALER close", dealer.close()).await;
            zdealer_events
                .next("libzmq DEALER to see the disconnect")
                .await;
            zrouter_events
                .next("libzmq ROUTER to see the disconnect")
                .await;
            let mut closed = false;
            while let Some(ev) = monitor.try_recv() {
                closed |= matches!(ev, MonitorEvent::Closed { .. });
            }
            assert!(closed, "no Closed event for the listener");
        });
    }
}

/// With LINGER zero, closing does not wait for messages that cannot be delivered.
#[test]
fn close_with_zero_linger_drops_undeliverable_messages() {
    run(|| async {
        let push = Push::with_options(Options {
            linger: Some(Duration::ZERO),
            ..Options::default()
        });
        push.connect(&free_tcp_endpoint()).unwrap();
        push.send(Message::single("never delivered")).await.unwrap();
        within("close", push.close()).await;
    });
}
