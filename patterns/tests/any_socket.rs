//! `AnySocket`: every type, chosen at run time, exchanges a message with a libzmq peer
//! through it; the operations a type lacks fail with `Error::Unsupported` at once; the
//! typed sockets convert to and from it.

mod common;
mod interop_util;

use std::sync::mpsc::channel;
use std::time::Duration;

use common::run;
use interop_util::*;
use monocoque::{
    AnySocket, Dealer, Error, Options, Pair, Pub, Pull, Push, Rep, Req, Router, SocketType, Sub,
    XPub, XSub,
};

fn ping() -> Frames {
    vec![b"ping".to_vec()]
}

fn pong() -> Frames {
    vec![b"pong".to_vec()]
}

/// A subscription to everything, as an XPUB reports it.
fn subscribe_all() -> Frames {
    vec![vec![1]]
}

/// The libzmq peer each type talks to. SUB and XSUB get an XPUB, whose first receive
/// says that their subscription has arrived.
fn peer(kind: SocketType) -> zmq::SocketType {
    match kind {
        SocketType::Pair => zmq::PAIR,
        SocketType::Pub | SocketType::XPub => zmq::SUB,
        SocketType::Sub | SocketType::XSub => zmq::XPUB,
        SocketType::Req => zmq::REP,
        SocketType::Rep => zmq::REQ,
        SocketType::Dealer | SocketType::Router => zmq::DEALER,
        SocketType::Pull => zmq::PUSH,
        SocketType::Push => zmq::PULL,
    }
}

/// One message each way where the type allows it (one way for PUSH, PULL, PUB, SUB,
/// XSUB; an XPUB first receives the subscription).
fn round_trip(case: Case, kind: SocketType) {
    eprintln!("--- {kind}");
    let (got_tx, got_rx) = channel::<()>();
    interop(
        case,
        move |z| {
            let s = z.sock(peer(kind));
            match kind {
                SocketType::Pair | SocketType::Req | SocketType::Dealer => {
                    assert_eq!(zrecv(&s), ping());
                    zsend(&s, &pong());
                }
                SocketType::Rep | SocketType::Router => {
                    zsend(&s, &ping());
                    assert_eq!(zrecv(&s), pong());
                }
                SocketType::Pull => zsend(&s, &ping()),
                SocketType::Push => assert_eq!(zrecv(&s), ping()),
                SocketType::Pub | SocketType::XPub => {
                    s.set_subscribe(b"").unwrap();
                    assert_eq!(zrecv(&s), ping());
                    got_tx.send(()).unwrap();
                }
                SocketType::Sub | SocketType::XSub => {
                    assert_eq!(zrecv(&s), subscribe_all());
                    zsend(&s, &ping());
                }
            }
            s
        },
        move |m| async move {
            let s = AnySocket::new(kind);
            assert_eq!(s.kind(), kind);
            if matches!(kind, SocketType::Sub | SocketType::XSub) {
                s.subscribe(b"").unwrap();
            }
            m.attach(&s, 1).await;
            match kind {
                SocketType::Pair | SocketType::Req | SocketType::Dealer => {
                    msend(&s, ping()).await;
                    assert_eq!(mrecv(&s).await, pong());
                }
                SocketType::Rep => {
                    assert_eq!(mrecv(&s).await, ping());
                    msend(&s, pong()).await;
                }
                SocketType::Router => {
                    let mut f = mrecv(&s).await;
                    assert_eq!(f[1..], ping());
                    f.truncate(1);
                    f.extend(pong());
                    msend(&s, f).await;
                }
                SocketType::Pull | SocketType::Sub | SocketType::XSub => {
                    assert_eq!(mrecv(&s).await, ping())
                }
                SocketType::Push => msend(&s, ping()).await,
                SocketType::Pub | SocketType::XPub => {
                    if kind == SocketType::XPub {
                        assert_eq!(mrecv(&s).await, subscribe_all());
                    }
                    // A PUB cannot tell when the subscription has arrived: publish
                    // until the peer has a message (an XPUB's first one gets there).
                    common::within("the libzmq subscriber to get a message", async {
                        while got_rx.try_recv().is_err() {
                            msend(&s, ping()).await;
                            glommio::timer::sleep(Duration::from_millis(2)).await;
                        }
                    })
                    .await;
                }
            }
            s
        },
    );
}

#[test]
fn every_type_exchanges_messages_with_libzmq_through_any_socket() {
    for case in cases() {
        for kind in SocketType::ALL {
            round_trip(case, kind);
        }
    }
}

/// Asserts that `got` is the `Unsupported` error for `op` on `kind`.
fn check_unsupported<T: std::fmt::Debug>(got: monocoque::Result<T>, kind: SocketType, op: &str) {
    match got {
        Err(Error::Unsupported { socket, op: what }) if socket == kind && what == op => {
            let text = Error::Unsupported { socket, op: what }.to_string();
            assert_eq!(text, format!("{kind} sockets cannot {op}"));
        }
        other => panic!("{kind} {op}: expected Error::Unsupported, got {other:?}"),
    }
}

/// Every operation a type lacks fails at once, without a peer and without waiting;
/// `try_recv` on the types that have it finds nothing, and SUB/XSUB (un)subscribe.
#[test]
fn operations_a_type_lacks_fail_with_unsupported() {
    use SocketType::*;
    run(|| async {
        for kind in SocketType::ALL {
            let s = AnySocket::new(kind);
            if matches!(kind, Sub | Pull) {
                check_unsupported(s.send("x").await, kind, "send");
            }
            if matches!(kind, Pub | Push) {
                check_unsupported(s.recv().await, kind, "receive");
            }
            match kind {
                Pub | Push => check_unsupported(s.try_recv(), kind, "receive without waiting"),
                // A REQ receives only after a request.
                Req => assert!(matches!(s.try_recv(), Err(Error::State(_)))),
                _ => assert!(s.try_recv().unwrap().is_none(), "{kind}: nothing arrived"),
            }
            if matches!(kind, Sub | XSub) {
                s.subscribe(b"a").unwrap();
                s.unsubscribe(b"a").unwrap();
            } else if kind == XPub {
                // An XPUB subscribes its peers itself, with XPUB_MANUAL only.
                assert!(matches!(s.subscribe(b"a"), Err(Error::State(_))));
            } else {
                check_unsupported(s.subscribe(b"a"), kind, "subscribe");
                check_unsupported(s.unsubscribe(b"a"), kind, "unsubscribe");
            }
            s.close().await;
        }
    });
}

/// REQ and REP keep their strict alternation behind `AnySocket`.
#[test]
fn req_and_rep_alternate_strictly_through_any_socket() {
    run(|| async {
        let req = AnySocket::new(SocketType::Req);
        assert!(matches!(req.recv().await, Err(Error::State(_))));
        let rep = AnySocket::new(SocketType::Rep);
        assert!(matches!(rep.send("early").await, Err(Error::State(_))));
    });
}

/// `From` each typed socket and `TryFrom` back; the wrong type gives the socket back.
#[test]
fn typed_sockets_convert_to_and_from_any_socket() {
    macro_rules! convert {
        ($($t:ident),*) => {$(
            let any = AnySocket::from($t::new());
            assert_eq!(any.kind(), SocketType::$t);
            let _typed: $t = any.try_into().expect(stringify!($t));
        )*};
    }
    run(|| async {
        convert!(Pair, Pub, Sub, Req, Rep, Dealer, Router, Pull, Push, XPub, XSub);
        let router = AnySocket::new(SocketType::Router);
        let back = Dealer::try_from(router).expect_err("a ROUTER is no DEALER");
        assert_eq!(back.kind(), SocketType::Router);
    });
}

/// `with_options` creates the socket with the options given; `set_options` replaces them.
#[test]
fn options_reach_the_typed_socket() {
    run(|| async {
        for kind in SocketType::ALL {
            let s = AnySocket::with_options(
                kind,
                Options {
                    sndhwm: 7,
                    ..Options::default()
                },
            );
            assert_eq!((s.kind(), s.options().sndhwm), (kind, 7));
            s.set_options(Options {
                rcvhwm: 9,
                ..s.options()
            });
            assert_eq!((s.options().sndhwm, s.options().rcvhwm), (7, 9));
            let ep = s.bind("tcp://127.0.0.1:0").unwrap();
            assert_eq!(s.last_endpoint(), Some(ep));
            assert_eq!((s.peer_count(), s.peer_stats().len()), (0, 0));
            assert_eq!(s.stats().sent, 0);
        }
    });
}
