//! `inproc://`: sockets of one executor, and of two cores of a runtime, connected
//! within the process; bind before or after connect; the same semantics and
//! high-water marks as over TCP; frames passed, not copied; a CURVE handshake; what
//! was queued delivered after the sender closed.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{run, within, WAIT};
use monocoque::{
    CurveKeyPair, Dealer, Error, Message, MonitorEvent, Options, Pub, Pull, Push, Rep, Req, Router,
    Security, ShardedSocket, SocketType, Sub, XPub, XSub,
};

/// Where each frame's bytes live, to tell a frame passed on from one copied.
fn addresses(msg: &Message) -> Vec<usize> {
    msg.iter().map(|f| f.as_ptr() as usize).collect()
}

#[test]
fn push_pull_req_rep_and_pub_sub_on_one_executor() {
    run(|| async {
        let pull = Pull::new();
        let bound = pull.bind("inproc://pipeline").unwrap();
        assert_eq!(bound.to_string(), "inproc://pipeline");
        let push = Push::new();
        push.connect("inproc://pipeline").unwrap();
        for i in 0..1000u32 {
            push.send(i.to_be_bytes().to_vec()).await.unwrap();
        }
        for i in 0..1000u32 {
            let m = within("a message", pull.recv()).await.unwrap();
            assert_eq!(&m[0][..], &i.to_be_bytes());
        }

        let rep = Rep::new();
        rep.bind("inproc://service").unwrap();
        let req = Req::new();
        req.connect("inproc://service").unwrap();
        let server = glommio::spawn_local(async move {
            for _ in 0..3 {
                let q = rep.recv().await.unwrap();
                rep.send([b"re:".as_slice(), &q[0]].concat()).await.unwrap();
            }
        });
        for i in 0..3u8 {
            req.send(vec![i]).await.unwrap();
            let a = within("a reply", req.recv()).await.unwrap();
            assert_eq!(&a[0][..], &[b'r', b'e', b':', i]);
        }
        server.await;

        let publisher = Pub::new();
        publisher.bind("inproc://feed").unwrap();
        let sub = Sub::new();
        sub.connect("inproc://feed").unwrap();
        sub.subscribe(b"a").unwrap();
        let got = within("a subscribed message", async {
            loop {
                publisher.send("b-never").await.unwrap();
                publisher.send("a-yes").await.unwrap();
                if let Some(m) = sub.try_recv().unwrap() {
                    break m;
                }
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        assert_eq!(&got[0][..], b"a-yes");
    });
}

/// Connect before bind (libzmq 4.x): what a DEALER queued goes out once the ROUTER
/// binds; a name binds once, and is free again after unbind.
#[test]
fn connect_before_bind_and_names_bind_once() {
    run(|| async {
        let dealer = Dealer::with_options(Options::default().routing_id("early"));
        dealer.connect("inproc://later").unwrap();
        for i in 0..3u8 {
            dealer.send(vec![i]).await.unwrap();
        }
        glommio::timer::sleep(Duration::from_millis(20)).await;
        let router = Router::new();
        router.bind("inproc://later").unwrap();
        for i in 0..3u8 {
            let m = within("a queued message", router.recv()).await.unwrap();
            assert_eq!(&m[0][..], b"early");
            assert_eq!(&m[1][..], &[i]);
        }
        let other = Router::new();
        assert!(matches!(
            other.bind("inproc://later"),
            Err(Error::AddrInUse(_))
        ));
        router.unbind("inproc://later").await.unwrap();
        other.bind("inproc://later").unwrap();
        assert!(matches!(other.bind("inproc://"), Err(Error::Endpoint(_))));
    });
}

/// SNDHWM and RCVHWM hold over inproc: a PUSH whose PULL does not read refuses
/// once everything between them is full, and every accepted one arrives in order;
/// with small marks and with libzmq's default ones.
#[test]
fn high_water_marks_bound_an_inproc_connection() {
    run(|| async {
        for (hwm, name) in [(10, "inproc://hwm-10"), (1000, "inproc://hwm-1000")] {
            let pull = Pull::with_options(Options::default().rcvhwm(hwm));
            pull.bind(name).unwrap();
            let push = Push::with_options(Options::default().sndhwm(hwm));
            push.connect(name).unwrap();
            let body = vec![1u8; 4096];
            let mut accepted = 0u32;
            // Send until three rounds in a row, 10 ms apart, take nothing.
            let mut idle_rounds = 0;
            while idle_rounds < 3 {
                let before = accepted;
                loop {
                    let mut m = body.clone();
                    m[..4].copy_from_slice(&accepted.to_be_bytes());
                    match push.try_send(m) {
                        Ok(()) => accepted += 1,
                        Err(e) => {
                            assert!(e.would_block(), "{e}");
                            break;
                        }
                    }
                    assert!(accepted < 100_000, "no high-water mark");
                }
                idle_rounds = if accepted == before {
                    idle_rounds + 1
                } else {
                    0
                };
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
            // SNDHWM, the lane (512 messages) and RCVHWM, and one held by each
            // connection: the PUSH's, refused by the full lane, and the PULL's,
            // waiting for room in the socket.
            assert_eq!(accepted as usize, hwm + 512 + hwm + 2, "{name}");
            for i in 0..accepted {
                let m = within("an accepted message", pull.recv()).await.unwrap();
                assert_eq!(&m[0][..4], &i.to_be_bytes());
            }
        }
    });
}

/// Across cores: a sharded PULL bound on one core, a sharded PUSH connecting from
/// the other; and the closing of one end seen by the other.
#[test]
fn inproc_between_cores_of_a_runtime() {
    let rt = common::two_cores();
    let pull = ShardedSocket::new(&rt, SocketType::Pull, Options::default());
    pull.bind("inproc://cores").unwrap();
    let push = ShardedSocket::new(&rt, SocketType::Push, Options::default());
    push.connect_on(1, "inproc://cores").unwrap();
    for i in 0..500u32 {
        push.send(i.to_be_bytes().to_vec()).unwrap();
    }
    for i in 0..500u32 {
        let m = pull.recv_timeout(Some(WAIT)).unwrap().expect("a message");
        assert_eq!(&m[0][..], &i.to_be_bytes());
    }
    let monitor = push.monitor().unwrap();
    pull.close();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let event = monitor.recv_timeout(deadline - std::time::Instant::now());
        match event.map(|e| e.event) {
            Some(monocoque::MonitorEvent::Disconnected { .. }) => break,
            Some(_) => continue,
            None => panic!("the PUSH never saw its PULL go"),
        }
    }
}

/// No copies: the frames a PULL, a ROUTER and a SUB receive are the buffers the
/// senders sent, small and large, on one executor.
#[test]
fn frames_pass_between_sockets_without_a_copy() {
    run(|| async {
        let pull = Pull::new();
        pull.bind("inproc://zero-copy").unwrap();
        let push = Push::new();
        push.connect("inproc://zero-copy").unwrap();
        for size in [8, 1000, 100_000] {
            let body = Bytes::from(vec![3u8; size]);
            let sent = Message::single(body.clone());
            push.send(sent.clone()).await.unwrap();
            let got = within("a message", pull.recv()).await.unwrap();
            assert_eq!(got, sent);
            assert_eq!(addresses(&got), addresses(&sent), "{size} bytes copied");
        }

        let router = Router::new();
        router.bind("inproc://zero-copy-router").unwrap();
        let dealer = Dealer::with_options(Options::default().routing_id("d"));
        dealer.connect("inproc://zero-copy-router").unwrap();
        let sent = Message::from((Bytes::from_static(b"head"), Bytes::from(vec![9u8; 5000])));
        dealer.send(sent.clone()).await.unwrap();
        let got = within("a request", router.recv()).await.unwrap();
        assert_eq!(&got[0][..], b"d");
        assert_eq!(addresses(&got)[1..], addresses(&sent)[..]);

        let publisher = Pub::new();
        publisher.bind("inproc://zero-copy-feed").unwrap();
        let sub = Sub::new();
        sub.connect("inproc://zero-copy-feed").unwrap();
        sub.subscribe(b"t").unwrap();
        let sent = Message::single(Bytes::from(b"t-1".to_vec()));
        let got = within("a published message", async {
            loop {
                publisher.send(sent.clone()).await.unwrap();
                if let Some(m) = sub.try_recv().unwrap() {
                    break m;
                }
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        assert_eq!(addresses(&got), addresses(&sent));
    });
}

/// Across cores too: the frame a PULL on core 0 receives from a PUSH on core 1 is
/// the buffer that was sent.
#[test]
fn frames_cross_cores_without_a_copy() {
    let rt = common::two_cores();
    let pull = ShardedSocket::new(&rt, SocketType::Pull, Options::default());
    pull.bind("inproc://zero-copy-cores").unwrap();
    let push = ShardedSocket::new(&rt, SocketType::Push, Options::default());
    push.connect_on(1, "inproc://zero-copy-cores").unwrap();
    let sent = Message::single(Bytes::from(vec![5u8; 64 << 10]));
    push.send(sent.clone()).unwrap();
    let got = pull.recv_timeout(Some(WAIT)).unwrap().expect("a message");
    assert_eq!(addresses(&got), addresses(&sent));
}

/// Subscriptions travel the lane as commands: an XPUB sees its XSUB's subscribe and
/// cancel, and a SUB gets only its topic.
#[test]
fn subscriptions_reach_an_xpub_over_inproc() {
    run(|| async {
        let xpub = XPub::new();
        xpub.bind("inproc://subs").unwrap();
        let xsub = XSub::new();
        xsub.connect("inproc://subs").unwrap();
        xsub.send(b"\x01news".to_vec()).await.unwrap();
        let m = within("a subscription", xpub.recv()).await.unwrap();
        assert_eq!(&m[0][..], b"\x01news");
        xpub.send("news: up").await.unwrap();
        xpub.send("other").await.unwrap();
        xpub.send("news: down").await.unwrap();
        assert_eq!(
            &within("news", xsub.recv()).await.unwrap()[0][..],
            b"news: up"
        );
        assert_eq!(
            &within("news", xsub.recv()).await.unwrap()[0][..],
            b"news: down"
        );
        xsub.send(b"\x00news".to_vec()).await.unwrap();
        let m = within("a cancel", xpub.recv()).await.unwrap();
        assert_eq!(&m[0][..], b"\x00news");
    });
}

/// A CURVE handshake runs over inproc as over TCP (a client with the wrong server
/// key is refused); messages then pass in the clear, within the process.
#[test]
fn a_curve_handshake_guards_an_inproc_endpoint() {
    run(|| async {
        let server_keys = CurveKeyPair::generate();
        let rep = Rep::with_options(Options {
            security: Security::CurveServer {
                keys: server_keys.clone(),
            },
            ..Options::default()
        });
        rep.bind("inproc://curve").unwrap();
        let client = |server_key| Options {
            security: Security::CurveClient {
                keys: CurveKeyPair::generate(),
                server_key,
            },
            ..Options::default()
        };
        let req = Req::with_options(client(server_keys.public()));
        req.connect("inproc://curve").unwrap();
        req.send("hello").await.unwrap();
        let q = within("a request", rep.recv()).await.unwrap();
        assert_eq!(&q[0][..], b"hello");
        rep.send("world").await.unwrap();
        assert_eq!(
            &within("a reply", req.recv()).await.unwrap()[0][..],
            b"world"
        );

        let wrong = Req::with_options(client(CurveKeyPair::generate().public()));
        let monitor = wrong.monitor();
        wrong.connect("inproc://curve").unwrap();
        wrong.send("let me in").await.unwrap();
        within("a failed handshake", async {
            loop {
                match monitor.recv().await {
                    MonitorEvent::HandshakeSucceeded { .. } => {
                        panic!("a client with the wrong server key shook hands")
                    }
                    MonitorEvent::HandshakeFailedProtocol { .. }
                    | MonitorEvent::HandshakeFailedNoDetail { .. } => break,
                    _ => {}
                }
            }
        })
        .await;
        assert!(
            within_none(rep.recv()).await.is_none(),
            "a refused client got through"
        );
    });
}

async fn within_none<T>(fut: impl std::future::Future<Output = T>) -> Option<T> {
    common::within_or_none(Duration::from_millis(200), fut).await
}

/// What a PUSH queued, and what is in the lane, reaches its PULL after the PUSH has
/// closed (LINGER's default), in order.
#[test]
fn messages_in_flight_arrive_after_the_sender_closes() {
    run(|| async {
        let pull = Pull::with_options(Options::default().rcvhwm(10));
        pull.bind("inproc://linger").unwrap();
        let push = Push::new();
        push.connect("inproc://linger").unwrap();
        for i in 0..500u32 {
            push.send(i.to_be_bytes().to_vec()).await.unwrap();
        }
        let closing = glommio::spawn_local(async move { push.close().await });
        for i in 0..500u32 {
            let m = within("a message sent before close", pull.recv())
                .await
                .unwrap();
            assert_eq!(&m[0][..], &i.to_be_bytes());
        }
        within("close", closing).await;
    });
}

/// A ZAP handler of our own served at `inproc://zeromq.zap.01` (where libzmq looks for
/// one), asked by a PLAIN server over inproc about a libzmq client over TCP: it sees
/// the RFC 27 request and its answer decides.
#[test]
fn a_zap_handler_is_reached_over_inproc() {
    let (user_id, request) = run(|| async {
        let handler = Rep::new();
        handler.bind("inproc://zeromq.zap.01").unwrap();
        let answering = glommio::spawn_local(async move {
            let request = handler.recv().await.unwrap();
            let frames = common::frames(&request);
            let reply: [&[u8]; 6] = [b"1.0", &frames[1], b"200", b"OK", b"alice", b""];
            handler.send(&reply[..]).await.unwrap();
            frames
        });
        let rep = Rep::with_options(Options {
            security: Security::PlainServer,
            authenticator: Some(monocoque::ZapHandler::connect("inproc://zeromq.zap.01")),
            ..Options::default()
        });
        let endpoint = rep.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let client = common::libzmq_client(
            endpoint,
            |s| {
                s.set_plain_username(Some("alice")).unwrap();
                s.set_plain_password(Some("secret")).unwrap();
            },
            true,
        );
        let (request, properties) = within("a request", rep.recv_with_properties())
            .await
            .unwrap();
        assert_eq!(&request[0][..], b"ping");
        rep.send("pong").await.unwrap();
        let (_, _, reply) = common::join(client).await;
        assert_eq!(reply.as_deref(), Some(&b"pong"[..]));
        let user_id = properties
            .get("User-Id")
            .map(|v| String::from_utf8_lossy(v).into_owned());
        (user_id, within("the ZAP request", answering).await)
    });
    assert_eq!(user_id.as_deref(), Some("alice"));
    assert_eq!(request[0], b"1.0");
    assert_eq!(request[5], b"PLAIN");
    assert_eq!(request[6..], [b"alice".to_vec(), b"secret".to_vec()]);
}
