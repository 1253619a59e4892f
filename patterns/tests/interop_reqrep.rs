//! Interop of REQ, REP, DEALER and ROUTER with libzmq 4.3: every compatible pairing,
//! Monocoque on either side, binding or connecting, over TCP and IPC.

mod common;
mod interop_util;

use std::future::Future;

use interop_util::*;
use monocoque::{AnySocket, Error, MonitorEvent, Options, SocketType};

/// Number of messages in the corpus every stream test exchanges.
fn n() -> usize {
    corpus().len()
}

/// Envelopes a DEALER puts in front of a REP's request: the bare delimiter, and a
/// multi-hop one as a broker chain would build.
const ENVELOPES: [&[&[u8]]; 2] = [&[b""], &[b"hop1", b"hop2", b""]];

/// Asserts that `fut` (a REQ/REP call out of turn) fails with [`Error::State`].
async fn expect_state<T: std::fmt::Debug>(fut: impl Future<Output = monocoque::Result<T>>) {
    match common::within("an out-of-turn call", fut).await {
        Err(Error::State(_)) => {}
        other => panic!("expected Error::State, got {other:?}"),
    }
}

// ----- one scenario per pairing and direction ------------------------------------------

fn mono_req_zmq_rep(case: Case) {
    interop(
        case,
        |z| {
            let s = z.sock(zmq::REP);
            zmq_echo(&s, n());
            s
        },
        |m| async move {
            let s = AnySocket::new(SocketType::Req);
            m.attach(&s, 1).await;
            mono_lockstep(&s).await;
            s
        },
    );
}

fn zmq_req_mono_rep(case: Case) {
    interop(
        case,
        |z| {
            let s = z.sock(zmq::REQ);
            zmq_lockstep(&s);
            s
        },
        |m| async move {
            let s = AnySocket::new(SocketType::Rep);
            m.attach(&s, 1).await;
            assert_eq!(
                mono_echo(&s, n()).await,
                corpus(),
                "REP must strip the envelope"
            );
            s
        },
    );
}

fn mono_req_zmq_router(case: Case, id: Id) {
    interop(
        case,
        move |z| {
            let s = z.sock(zmq::ROUTER);
            check_router_view(&zmq_echo(&s, n()), &[b""], id);
            s
        },
        move |m| async move {
            let s = AnySocket::with_options(SocketType::Req, id.options());
            m.attach(&s, 1).await;
            mono_lockstep(&s).await;
            s
        },
    );
}

fn zmq_req_mono_router(case: Case, id: Id) {
    interop(
        case,
        move |z| {
            let s = id.zsock(z, zmq::REQ);
            zmq_lockstep(&s);
            s
        },
        move |m| async move {
            let s = AnySocket::new(SocketType::Router);
            m.attach(&s, 1).await;
            // A libzmq REQ through a ROUTER shows [id, "", body...].
            check_router_view(&mono_echo(&s, n()).await, &[b""], id);
            s
        },
    );
}

fn mono_dealer_zmq_rep(case: Case, envelope: &'static [&'static [u8]]) {
    interop(
        case,
        |z| {
            let s = z.sock(zmq::REP);
            assert_eq!(zmq_echo(&s, n()), corpus());
            s
        },
        move |m| async move {
            let s = AnySocket::new(SocketType::Dealer);
            m.attach(&s, 1).await;
            mono_pipelined(&s, envelope).await;
            s
        },
    );
}

fn zmq_dealer_mono_rep(case: Case, envelope: &'static [&'static [u8]]) {
    interop(
        case,
        move |z| {
            let s = z.sock(zmq::DEALER);
            zmq_pipelined(&s, envelope);
            s
        },
        |m| async move {
            let s = AnySocket::new(SocketType::Rep);
            m.attach(&s, 1).await;
            // The envelope (up to and including the delimiter) is not in the request
            // and comes back on the reply.
            assert_eq!(mono_echo(&s, n()).await, corpus());
            s
        },
    );
}

fn mono_dealer_zmq_router(case: Case, id: Id) {
    interop(
        case,
        move |z| {
            let s = z.sock(zmq::ROUTER);
            check_router_view(&zmq_echo(&s, n()), &[], id);
            s
        },
        move |m| async move {
            let s = AnySocket::with_options(SocketType::Dealer, id.options());
            m.attach(&s, 1).await;
            mono_pipelined(&s, &[]).await;
            s
        },
    );
}

fn zmq_dealer_mono_router(case: Case, id: Id) {
    interop(
        case,
        move |z| {
            let s = id.zsock(z, zmq::DEALER);
            zmq_pipelined(&s, &[]);
            s
        },
        move |m| async move {
            let s = AnySocket::new(SocketType::Router);
            m.attach(&s, 1).await;
            check_router_view(&mono_echo(&s, n()).await, &[], id);
            s
        },
    );
}

fn mono_dealer_zmq_dealer(case: Case) {
    interop(
        case,
        |z| {
            let s = z.sock(zmq::DEALER);
            assert_eq!(zmq_echo(&s, n()), corpus());
            s
        },
        |m| async move {
            let s = AnySocket::new(SocketType::Dealer);
            m.attach(&s, 1).await;
            mono_pipelined(&s, &[]).await;
            s
        },
    );
}

fn zmq_dealer_mono_dealer(case: Case) {
    interop(
        case,
        |z| {
            let s = z.sock(zmq::DEALER);
            zmq_pipelined(&s, &[]);
            s
        },
        |m| async move {
            let s = AnySocket::new(SocketType::Dealer);
            m.attach(&s, 1).await;
            assert_eq!(mono_echo(&s, n()).await, corpus());
            s
        },
    );
}

const MONO_ROUTER: &[u8] = b"mono-router";
const ZMQ_ROUTER: &[u8] = b"zmq-router";

/// Monocoque ROUTER (named) addresses a named libzmq ROUTER once connected.
fn mono_router_zmq_router(case: Case) {
    interop(
        case,
        |z| {
            let s = z.sock_with_id(zmq::ROUTER, ZMQ_ROUTER);
            check_router_view(&zmq_echo(&s, n()), &[], Id::Exact(MONO_ROUTER));
            s
        },
        |m| async move {
            let s = AnySocket::with_options(
                SocketType::Router,
                Options {
                    router_mandatory: true,
                    ..Id::Exact(MONO_ROUTER).options()
                },
            );
            m.attach(&s, 1).await;
            wait_peers(&s, 1).await;
            mono_pipelined(&s, &[ZMQ_ROUTER]).await;
            s
        },
    );
}

/// A named libzmq ROUTER addresses a named Monocoque ROUTER once connected.
fn zmq_router_mono_router(case: Case) {
    interop(
        case,
        |z| {
            let s = z.socket(zmq::ROUTER);
            s.set_identity(ZMQ_ROUTER).unwrap();
            s.set_router_mandatory(true).unwrap();
            z.attach(&s);
            zmq_pipelined(&s, &[MONO_ROUTER]);
            s
        },
        |m| async move {
            let s = AnySocket::with_options(SocketType::Router, Id::Exact(MONO_ROUTER).options());
            m.attach(&s, 1).await;
            check_router_view(&mono_echo(&s, n()).await, &[], Id::Exact(ZMQ_ROUTER));
            s
        },
    );
}

// ----- pairings over every transport and role ------------------------------------------

#[test]
fn req_rep() {
    for case in cases() {
        mono_req_zmq_rep(case);
        zmq_req_mono_rep(case);
    }
}

#[test]
fn req_router() {
    for case in cases() {
        for id in [Id::Generated, Id::Exact(b"a-req")] {
            mono_req_zmq_router(case, id);
            zmq_req_mono_router(case, id);
        }
    }
}

#[test]
fn dealer_rep() {
    for case in cases() {
        for envelope in ENVELOPES {
            mono_dealer_zmq_rep(case, envelope);
            zmq_dealer_mono_rep(case, envelope);
        }
    }
}

#[test]
fn dealer_router() {
    for case in cases() {
        for id in [Id::Generated, Id::Exact(b"a-dealer")] {
            mono_dealer_zmq_router(case, id);
            zmq_dealer_mono_router(case, id);
        }
    }
}

#[test]
fn dealer_dealer() {
    for case in cases() {
        mono_dealer_zmq_dealer(case);
        zmq_dealer_mono_dealer(case);
    }
}

#[test]
fn router_router() {
    for case in cases() {
        mono_router_zmq_router(case);
        zmq_router_mono_router(case);
    }
}

#[test]
fn connect_before_bind() {
    for case in early_cases() {
        mono_req_zmq_rep(case);
        zmq_req_mono_rep(case);
        mono_dealer_zmq_router(case, Id::Exact(b"early"));
        zmq_dealer_mono_router(case, Id::Generated);
        mono_dealer_zmq_dealer(case);
        zmq_dealer_mono_dealer(case);
    }
}

// ----- socket-type rules -------------------------------------------------------------

/// A Monocoque ROUTER routes replies to the right one of several libzmq peers, named
/// and unnamed; unnamed peers get distinct generated ids.
#[test]
fn router_routes_to_each_peer() {
    const NAMES: [Id; 4] = [
        Id::Exact(b"alpha"),
        Id::Exact(b"beta"),
        Id::Generated,
        Id::Generated,
    ];
    for case in cases() {
        interop(
            case,
            |z| {
                let socks: Vec<_> = NAMES.iter().map(|id| id.zsock(z, zmq::DEALER)).collect();
                for (i, s) in socks.iter().enumerate() {
                    zsend(s, &[b"hello".to_vec(), format!("{i}").into_bytes()]);
                }
                for (i, s) in socks.iter().enumerate() {
                    assert_eq!(zrecv(s), vec![b"for".to_vec(), format!("{i}").into_bytes()]);
                }
                socks
            },
            |m| async move {
                let r = AnySocket::new(SocketType::Router);
                m.attach(&r, NAMES.len()).await;
                let mut ids = vec![Vec::new(); NAMES.len()];
                for _ in 0..NAMES.len() {
                    let f = mrecv(&r).await;
                    assert_eq!(f.len(), 3, "{}", show(&f));
                    assert_eq!(f[1], b"hello");
                    ids[num(&f[2])] = f[0].clone();
                }
                for (id, want) in ids.iter().zip(NAMES) {
                    want.check(id);
                }
                assert_ne!(ids[2], ids[3], "generated ids must differ");
                // Reply in reverse arrival order; each peer must get its own.
                for (i, id) in ids.iter().enumerate().rev() {
                    msend(
                        &r,
                        vec![id.clone(), b"for".to_vec(), format!("{i}").into_bytes()],
                    )
                    .await;
                }
                r
            },
        );
    }
}

/// ROUTER_MANDATORY reports an unknown routing id; without it the message is dropped.
#[test]
fn router_mandatory() {
    for case in cases() {
        for mandatory in [true, false] {
            interop(
                case,
                |z| {
                    let s = z.sock_with_id(zmq::DEALER, b"known");
                    zsend(&s, &[b"hello".to_vec()]);
                    assert_eq!(zrecv(&s), vec![b"reply".to_vec()]);
                    s
                },
                move |m| async move {
                    let r = AnySocket::with_options(
                        SocketType::Router,
                        Options {
                            router_mandatory: mandatory,
                            ..Options::default()
                        },
                    );
                    m.attach(&r, 1).await;
                    assert_eq!(mrecv(&r).await, vec![b"known".to_vec(), b"hello".to_vec()]);
                    let sent = r.send(vec!["unknown", "lost"]).await;
                    match (mandatory, sent) {
                        (true, Err(Error::HostUnreachable(id))) => assert_eq!(id, b"unknown"),
                        (false, Ok(())) => {}
                        (_, other) => panic!("mandatory={mandatory}: unexpected {other:?}"),
                    }
                    msend(&r, vec![b"known".to_vec(), b"reply".to_vec()]).await;
                    r
                },
            );
        }
    }
}

/// REQ and REP refuse calls out of turn (and send nothing when they do).
#[test]
fn req_rep_strict_alternation() {
    for case in cases() {
        interop(
            case,
            |z| {
                let s = z.sock(zmq::REP);
                zmq_echo(&s, 2);
                s
            },
            |m| async move {
                let s = AnySocket::new(SocketType::Req);
                expect_state(s.recv()).await;
                m.attach(&s, 1).await;
                s.send("one").await.unwrap();
                expect_state(s.send("two")).await;
                assert_eq!(mrecv(&s).await, vec![b"one".to_vec()]);
                expect_state(s.recv()).await;
                // Had "two" gone out, the REP would answer it here instead.
                s.send("three").await.unwrap();
                assert_eq!(mrecv(&s).await, vec![b"three".to_vec()]);
                s
            },
        );
        interop(
            case,
            |z| {
                let s = z.sock(zmq::REQ);
                zsend(&s, &[b"one".to_vec()]);
                assert_eq!(zrecv(&s), vec![b"one".to_vec()]);
                zsend(&s, &[b"two".to_vec()]);
                assert_eq!(zrecv(&s), vec![b"two".to_vec()]);
                s
            },
            |m| async move {
                let s = AnySocket::new(SocketType::Rep);
                expect_state(s.send("early")).await;
                m.attach(&s, 1).await;
                let one = mrecv(&s).await;
                expect_state(s.recv()).await;
                msend(&s, one).await;
                expect_state(s.send("again")).await;
                let two = mrecv(&s).await;
                msend(&s, two).await;
                s
            },
        );
    }
}

/// A Monocoque REQ spreads requests over three libzmq REPs in strict rotation.
#[test]
fn req_round_robin() {
    const PEERS: usize = 3;
    const ROUNDS: usize = 4;
    for case in cases() {
        interop(
            case,
            |z| {
                let reps: Vec<_> = (0..PEERS).map(|_| z.sock(zmq::REP)).collect();
                let mut answered = 0;
                while answered < PEERS * ROUNDS {
                    let mut items: Vec<_> =
                        reps.iter().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
                    let ready = zmq::poll(&mut items, common::WAIT.as_millis() as i64).unwrap();
                    assert!(ready > 0, "no request after {answered}");
                    for (i, item) in items.iter().enumerate() {
                        if item.is_readable() {
                            let req = zrecv(&reps[i]);
                            zsend(&reps[i], &[format!("{i}").into_bytes(), req[0].clone()]);
                            answered += 1;
                        }
                    }
                }
                reps
            },
            |m| async move {
                let s = AnySocket::new(SocketType::Req);
                m.attach(&s, PEERS).await;
                wait_peers(&s, PEERS).await;
                let mut per_peer = vec![Vec::new(); PEERS];
                for i in 0..PEERS * ROUNDS {
                    msend(&s, vec![format!("{i}").into_bytes()]).await;
                    let reply = mrecv(&s).await;
                    assert_eq!(num(&reply[1]), i, "reply to the wrong request");
                    per_peer[num(&reply[0])].push(i);
                }
                assert_round_robin(&per_peer, ROUNDS);
                s
            },
        );
    }
}

/// A Monocoque DEALER sends round-robin over three libzmq DEALERs and fair-queues
/// what they send back.
#[test]
fn dealer_round_robin_and_fair_queue() {
    const PEERS: usize = 3;
    const PER: usize = 10;
    for case in cases() {
        interop(
            case,
            |z| {
                let socks: Vec<_> = (0..PEERS).map(|_| z.sock(zmq::DEALER)).collect();
                let got = zmq_collect(&socks, PEERS * PER);
                let per_peer: Vec<Vec<usize>> = got
                    .iter()
                    .map(|msgs| msgs.iter().map(|m| num(&m[0])).collect())
                    .collect();
                assert_round_robin(&per_peer, PER);
                for (k, s) in socks.iter().enumerate() {
                    for i in 0..PER {
                        zsend(
                            s,
                            &[format!("{k}").into_bytes(), format!("{i}").into_bytes()],
                        );
                    }
                }
                socks
            },
            |m| async move {
                let s = AnySocket::new(SocketType::Dealer);
                m.attach(&s, PEERS).await;
                wait_peers(&s, PEERS).await;
                for i in 0..PEERS * PER {
                    msend(&s, vec![format!("{i}").into_bytes()]).await;
                }
                let mut next = [0; PEERS];
                for _ in 0..PEERS * PER {
                    let f = mrecv(&s).await;
                    let k = num(&f[0]);
                    assert_eq!(num(&f[1]), next[k], "peer {k}'s messages out of order");
                    next[k] += 1;
                }
                assert_eq!(next, [PER; PEERS]);
                s
            },
        );
        flood_does_not_starve(case, zmq::DEALER, || AnySocket::new(SocketType::Dealer));
    }
}

/// A Monocoque REP behind a libzmq broker (REQ → ROUTER → DEALER → REP): the REP sees
/// only the body, and the ROUTER's [id, ""] envelope comes back on the reply so the
/// broker can route it to the right REQ.
#[test]
fn rep_behind_libzmq_router() {
    for case in cases() {
        interop(
            case,
            |z| {
                let frontend = z.socket(zmq::ROUTER);
                frontend.bind("inproc://frontend").unwrap();
                let backend = z.sock(zmq::DEALER);
                let ctx = z.ctx.clone();
                let client = std::thread::spawn(move || {
                    let c = common::zsock(&ctx, zmq::REQ);
                    c.connect("inproc://frontend").unwrap();
                    zmq_lockstep(&c);
                });
                let mut client_id = None;
                let (mut requests, mut replies) = (0, 0);
                while replies < n() {
                    let mut items = [
                        frontend.as_poll_item(zmq::POLLIN),
                        backend.as_poll_item(zmq::POLLIN),
                    ];
                    let ready = zmq::poll(&mut items, common::WAIT.as_millis() as i64).unwrap();
                    assert!(
                        ready > 0,
                        "broker idle after {requests} requests, {replies} replies"
                    );
                    if items[0].is_readable() {
                        let m = zrecv(&frontend);
                        assert!(m[1].is_empty(), "REQ envelope: {}", show(&m));
                        client_id.get_or_insert_with(|| m[0].clone());
                        check_eq("request", requests, &m[2..], &corpus()[requests]);
                        zsend(&backend, &m);
                        requests += 1;
                    }
                    if items[1].is_readable() {
                        let m = zrecv(&backend);
                        assert_eq!(Some(&m[0]), client_id.as_ref(), "reply envelope lost");
                        assert!(m[1].is_empty(), "reply delimiter lost: {}", show(&m));
                        check_eq("reply", replies, &m[2..], &corpus()[replies]);
                        zsend(&frontend, &m);
                        replies += 1;
                    }
                }
                if let Err(p) = client.join() {
                    std::panic::resume_unwind(p);
                }
                (frontend, backend)
            },
            |m| async move {
                let s = AnySocket::new(SocketType::Rep);
                m.attach(&s, 1).await;
                assert_eq!(mono_echo(&s, n()).await, corpus());
                s
            },
        );
    }
}

/// REQ drops a reply without the empty delimiter; REP drops a request without one.
#[test]
fn req_rep_drop_messages_without_delimiter() {
    for case in cases() {
        interop(
            case,
            |z| {
                let s = z.sock(zmq::ROUTER);
                let req = zrecv(&s);
                assert_eq!(req[1..], [b"".to_vec(), b"q".to_vec()]);
                zsend(&s, &[req[0].clone(), b"no delimiter".to_vec()]);
                zsend(&s, &[req[0].clone(), vec![], b"real".to_vec()]);
                s
            },
            |m| async move {
                let s = AnySocket::new(SocketType::Req);
                m.attach(&s, 1).await;
                msend(&s, one("q")).await;
                assert_eq!(mrecv(&s).await, one("real"));
                s
            },
        );
        interop(
            case,
            |z| {
                let s = z.sock(zmq::DEALER);
                zsend(&s, &one("no delimiter"));
                zsend(&s, &[vec![], b"q".to_vec()]);
                assert_eq!(zrecv(&s), [vec![], b"a".to_vec()]);
                s
            },
            |m| async move {
                let s = AnySocket::new(SocketType::Rep);
                m.attach(&s, 1).await;
                assert_eq!(mrecv(&s).await, one("q"));
                msend(&s, one("a")).await;
                s
            },
        );
    }
}

fn one(s: &str) -> Frames {
    vec![s.as_bytes().to_vec()]
}

/// REQ_RELAXED + REQ_CORRELATE both ways: a second request may go out before the
/// first reply, which is then discarded by its request id; a REP echoes the id.
#[test]
fn req_relaxed_correlate() {
    let relaxed = || Options {
        req_relaxed: true,
        req_correlate: true,
        ..Options::default()
    };
    for case in cases() {
        // Monocoque REQ → libzmq ROUTER: [id, request id (4 bytes), "", body].
        interop(
            case,
            |z| {
                let s = z.sock(zmq::ROUTER);
                let mut last = None;
                for body in ["a", "b", "c"] {
                    let m = zrecv(&s);
                    assert_eq!(m.len(), 4, "{}", show(&m));
                    assert_eq!(m[1].len(), 4, "request id: {}", show(&m));
                    let rid = u32::from_be_bytes(m[1][..].try_into().unwrap());
                    if let Some(prev) = last {
                        assert_eq!(rid, u32::wrapping_add(prev, 1), "request ids count up");
                    }
                    last = Some(rid);
                    assert_eq!(m[2..], [vec![], body.as_bytes().to_vec()]);
                    zsend(&s, &m);
                }
                s
            },
            move |m| async move {
                let s = AnySocket::with_options(SocketType::Req, relaxed());
                m.attach(&s, 1).await;
                msend(&s, one("a")).await;
                msend(&s, one("b")).await;
                assert_eq!(mrecv(&s).await, one("b"), "stale reply not discarded");
                msend(&s, one("c")).await;
                assert_eq!(mrecv(&s).await, one("c"));
                s
            },
        );
        // Monocoque REQ → libzmq REP (which echoes the request id back).
        interop(
            case,
            |z| {
                let s = z.sock(zmq::REP);
                assert_eq!(zmq_echo(&s, 2), [one("a"), one("b")]);
                s
            },
            move |m| async move {
                let s = AnySocket::with_options(SocketType::Req, relaxed());
                m.attach(&s, 1).await;
                msend(&s, one("a")).await;
                msend(&s, one("b")).await;
                assert_eq!(mrecv(&s).await, one("b"), "stale reply not discarded");
                s
            },
        );
        // libzmq REQ (relaxed, correlating) → Monocoque REP, which must return the
        // request id with the delimiter.
        interop(
            case,
            |z| {
                let s = z.socket(zmq::REQ);
                s.set_req_relaxed(true).unwrap();
                s.set_req_correlate(true).unwrap();
                z.attach(&s);
                zsend(&s, &one("a"));
                zsend(&s, &one("b"));
                assert_eq!(zrecv(&s), one("b"));
                s
            },
            |m| async move {
                let s = AnySocket::new(SocketType::Rep);
                m.attach(&s, 1).await;
                assert_eq!(mono_echo(&s, 2).await, [one("a"), one("b")]);
                s
            },
        );
    }
}

/// A second libzmq peer announcing a routing id already in use is refused by a
/// Monocoque ROUTER: the first keeps the id, the second's messages never arrive.
#[test]
fn router_refuses_duplicate_routing_id() {
    for case in mono_binds_cases() {
        interop(
            case,
            |z| {
                let first = z.sock_with_id(zmq::DEALER, b"dup");
                zsend(&first, &one("first-1"));
                assert_eq!(zrecv(&first), one("ack-1"));
                let second = z.sock_with_id(zmq::DEALER, b"dup");
                zsend(&second, &one("intruder"));
                zsend(&first, &one("second connected"));
                assert_eq!(zrecv(&first), one("refused"));
                zsend(&first, &one("first-2"));
                assert_eq!(zrecv(&first), one("ack-2"));
                assert!(
                    matches!(
                        second.recv_multipart(zmq::DONTWAIT),
                        Err(zmq::Error::EAGAIN)
                    ),
                    "the refused duplicate got a message"
                );
                (first, second)
            },
            |m| async move {
                let r = AnySocket::new(SocketType::Router);
                let monitor = r.monitor();
                m.attach(&r, 1).await;
                let from_dup = |s: &str| vec![b"dup".to_vec(), s.as_bytes().to_vec()];
                assert_eq!(mrecv(&r).await, from_dup("first-1"));
                msend(&r, from_dup("ack-1")).await;
                assert_eq!(mrecv(&r).await, from_dup("second connected"));
                common::within("the duplicate to be refused", async {
                    while !matches!(
                        monitor.recv().await,
                        MonitorEvent::HandshakeFailedProtocol { .. }
                    ) {}
                })
                .await;
                msend(&r, from_dup("refused")).await;
                assert_eq!(mrecv(&r).await, from_dup("first-2"));
                msend(&r, from_dup("ack-2")).await;
                r
            },
        );
    }
}

/// Waits for a libzmq monitor event of kind `event` on `mon` (a PAIR connected to
/// the monitor endpoint).
fn zmq_wait_event(mon: &zmq::Socket, event: zmq::SocketEvent) {
    loop {
        let m = zrecv(mon);
        if u16::from_le_bytes([m[0][0], m[0][1]]) == event as u16 {
            return;
        }
    }
}

/// The peer restarts (closes and binds the same endpoint again); the connecting side
/// reconnects by itself and messages flow again. Both directions, both transports.
#[test]
fn reconnect_after_peer_restart() {
    for case in cases() {
        match case.role {
            // libzmq ROUTER restarts; Monocoque DEALER reconnects.
            Role::ZmqBinds => interop(
                case,
                |z| {
                    let r1 = z.sock(zmq::ROUTER);
                    assert_eq!(zrecv(&r1), [b"d".to_vec(), b"before".to_vec()]);
                    let ep = r1.get_last_endpoint().unwrap().unwrap();
                    drop(r1);
                    let r2 = z.socket(zmq::ROUTER);
                    // The old listener closes in libzmq's I/O thread: retry briefly.
                    let deadline = std::time::Instant::now() + common::WAIT;
                    while let Err(e) = r2.bind(&ep) {
                        assert!(std::time::Instant::now() < deadline, "rebind: {e}");
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    assert_eq!(zrecv(&r2), [b"d".to_vec(), b"after".to_vec()]);
                    zsend(&r2, &[b"d".to_vec(), b"welcome back".to_vec()]);
                    r2
                },
                |m| async move {
                    let s = AnySocket::with_options(SocketType::Dealer, Id::Exact(b"d").options());
                    let monitor = s.monitor();
                    m.attach(&s, 1).await;
                    msend(&s, one("before")).await;
                    common::within("the disconnect", async {
                        while !matches!(monitor.recv().await, MonitorEvent::Disconnected { .. }) {}
                    })
                    .await;
                    msend(&s, one("after")).await;
                    assert_eq!(mrecv(&s).await, one("welcome back"));
                    s
                },
            ),
            // Monocoque ROUTER restarts; libzmq DEALER reconnects.
            _ => interop(
                case,
                |z| {
                    let s = z.socket(zmq::DEALER);
                    s.set_identity(b"d").unwrap();
                    s.monitor(
                        "inproc://dealer-monitor",
                        zmq::SocketEvent::DISCONNECTED as i32,
                    )
                    .unwrap();
                    let mon = z.socket(zmq::PAIR);
                    mon.connect("inproc://dealer-monitor").unwrap();
                    z.attach(&s);
                    zsend(&s, &one("before"));
                    zmq_wait_event(&mon, zmq::SocketEvent::DISCONNECTED);
                    zsend(&s, &one("after"));
                    assert_eq!(zrecv(&s), one("welcome back"));
                    (s, mon)
                },
                |m| async move {
                    let r1 = AnySocket::new(SocketType::Router);
                    m.attach(&r1, 1).await;
                    assert_eq!(mrecv(&r1).await, [b"d".to_vec(), b"before".to_vec()]);
                    let ep = r1.last_endpoint().unwrap().to_string();
                    common::within("the ROUTER to close", r1.close()).await;
                    let r2 = AnySocket::new(SocketType::Router);
                    // Once `close` has returned, the endpoint is free again.
                    r2.bind(&ep).expect("bind the same endpoint again");
                    assert_eq!(mrecv(&r2).await, [b"d".to_vec(), b"after".to_vec()]);
                    msend(&r2, vec![b"d".to_vec(), b"welcome back".to_vec()]).await;
                    r2
                },
            ),
        }
    }
}
