//! Sends and receives with limits: SNDTIMEO and RCVTIMEO, `try_send` and `try_recv`,
//! cancel-safe `send`, and LINGER in `close` — each against a libzmq peer where the
//! behaviour shows on the wire.

mod common;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use common::{frames, free_tcp_endpoint, join, run, within, zsock, WAIT};
use monocoque::{
    AnySocket, Dealer, Error, Message, Options, Pull, Push, Rep, Req, Router, SocketType,
};

const LIMIT: Duration = Duration::from_millis(50);

/// Polls `fut` once and drops it: a caller that gave up (a `select!` that took
/// another branch). True if it had already finished.
fn poll_once_and_drop<F: Future>(fut: F) -> bool {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    matches!(fut.as_mut().poll(&mut cx), Poll::Ready(_))
}

/// Connects a libzmq PULL to `endpoint` and returns the first `n` messages it gets.
fn libzmq_pull(endpoint: String, n: usize) -> std::thread::JoinHandle<Vec<Vec<Vec<u8>>>> {
    std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let pull = zsock(&ctx, zmq::PULL);
        pull.connect(&endpoint).unwrap();
        (0..n)
            .map(|_| pull.recv_multipart(0).expect("libzmq PULL recv"))
            .collect()
    })
}

#[test]
fn sndtimeo_bounds_a_send_that_finds_no_peer() {
    run(|| async {
        let push = Push::with_options(Options::default().sndtimeo(LIMIT));
        push.bind("tcp://127.0.0.1:0").unwrap();
        let start = Instant::now();
        let err = within("send", push.send("nobody")).await.unwrap_err();
        assert!(matches!(err, Error::Timeout), "{err}");
        assert!(
            start.elapsed() >= LIMIT,
            "gave up after {:?}",
            start.elapsed()
        );

        // Zero: fails at once, as libzmq's EAGAIN.
        push.set_options(push.options().sndtimeo(Duration::ZERO));
        let start = Instant::now();
        assert!(matches!(push.send("x").await, Err(Error::Timeout)));
        assert!(start.elapsed() < LIMIT);
    });
}

#[test]
fn rcvtimeo_bounds_a_recv_then_a_message_still_arrives() {
    run(|| async {
        let pull = Pull::with_options(Options::default().rcvtimeo(LIMIT));
        let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let start = Instant::now();
        assert!(matches!(pull.recv().await, Err(Error::Timeout)));
        assert!(start.elapsed() >= LIMIT);
        assert!(pull.try_recv().unwrap().is_none());

        let pusher = common::libzmq_push_numbered(endpoint, 1, 8);
        // RCVTIMEO bounds each wait, so keep trying until the message is there.
        let msg = within("the message", async {
            loop {
                match pull.recv().await {
                    Ok(msg) => break msg,
                    Err(Error::Timeout) => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        })
        .await;
        assert_eq!(&msg[0][..4], &0u32.to_be_bytes());
        join(pusher).await;
    });
}

#[test]
fn rcvtimeo_applies_to_every_receiving_type() {
    run(|| async {
        let opts = Options::default().rcvtimeo(Duration::from_millis(10));
        for kind in [
            SocketType::Pair,
            SocketType::Sub,
            SocketType::Dealer,
            SocketType::Router,
            SocketType::Pull,
            SocketType::XPub,
            SocketType::XSub,
            SocketType::Rep,
        ] {
            let s = AnySocket::with_options(kind, opts.clone());
            s.bind("tcp://127.0.0.1:0").unwrap();
            let err = within("recv", s.recv()).await.unwrap_err();
            assert!(matches!(err, Error::Timeout), "{kind:?}: {err}");
        }
    });
}

/// `try_send` hands the message back when nobody can take it, and every message it
/// accepted reaches the libzmq peer: none is lost between the two.
#[test]
fn try_send_hands_back_what_it_cannot_queue_and_loses_nothing_it_took() {
    run(|| async {
        let push = Push::with_options(Options::default().sndhwm(4));
        let endpoint = push.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let err = push.try_send(vec!["first", "frames"]).unwrap_err();
        assert!(err.would_block(), "{err}");
        assert!(matches!(err.error(), Error::WouldBlock));
        assert_eq!(
            frames(&err.into_message()),
            [b"first".to_vec(), b"frames".to_vec()]
        );

        // A libzmq PULL that reads only after we stopped: fill to WouldBlock.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let reader = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let pull = zsock(&ctx, zmq::PULL);
            pull.set_rcvhwm(1).unwrap();
            pull.connect(&endpoint).unwrap();
            rx.recv_timeout(WAIT).expect("go");
            let mut got = Vec::new();
            while let Ok(m) = pull.recv_bytes(0) {
                if m == b"end" {
                    break;
                }
                got.push(m);
            }
            got
        });
        within("the PULL to connect", async {
            while push.peer_count() == 0 {
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        let body = vec![7u8; 256 << 10];
        let mut accepted = 0usize;
        let mut refused = 0usize;
        let deadline = Instant::now() + WAIT;
        // Kernel buffers take some; past them the peer's queue fills to SNDHWM.
        while refused < 3 && Instant::now() < deadline {
            let mut msg = body.clone();
            msg[..8].copy_from_slice(&(accepted as u64).to_be_bytes());
            match push.try_send(msg) {
                Ok(()) => accepted += 1,
                Err(e) => {
                    assert!(e.would_block(), "{e}");
                    assert_eq!(e.into_message()[0].len(), body.len());
                    refused += 1;
                    // Let the connection write what it can.
                    glommio::timer::sleep(Duration::from_millis(5)).await;
                }
            }
        }
        assert_eq!(refused, 3, "try_send never refused");
        tx.send(()).unwrap();
        push.send("end").await.unwrap();
        let got = join(reader).await;
        assert_eq!(
            got.len(),
            accepted,
            "accepted {accepted}, delivered {}",
            got.len()
        );
        for (i, m) in got.iter().enumerate() {
            assert_eq!(
                &m[..8],
                &(i as u64).to_be_bytes(),
                "message {i} out of order"
            );
        }
    });
}

/// A send future dropped while it waits leaves its message queued: a connect PUSH
/// at SNDHWM, a PUSH nobody has connected to, and a REQ whose reply still comes back.
#[test]
fn a_cancelled_send_still_delivers_its_message() {
    run(|| async {
        // Connect side, peer not there yet, SNDHWM 1: the second send waits.
        let endpoint = free_tcp_endpoint();
        let push = Push::with_options(Options::default().sndhwm(1));
        push.connect(&endpoint).unwrap();
        push.send("one").await.unwrap();
        assert!(
            !poll_once_and_drop(push.send("two")),
            "the send did not wait"
        );
        assert!(push.try_send("three").unwrap_err().would_block());
        let ctx = zmq::Context::new();
        let pull = zsock(&ctx, zmq::PULL);
        pull.bind(&endpoint).unwrap();
        let reader = std::thread::spawn(move || {
            (0..2)
                .map(|_| pull.recv_bytes(0).unwrap())
                .collect::<Vec<_>>()
        });
        assert_eq!(join(reader).await, [b"one".to_vec(), b"two".to_vec()]);

        // Bind side, nobody connected: the message waits for the first peer.
        let push = Push::new();
        let endpoint = push.bind("tcp://127.0.0.1:0").unwrap().to_string();
        assert!(!poll_once_and_drop(push.send("for the first peer")));
        let got = join(libzmq_pull(endpoint, 1)).await;
        assert_eq!(got, [[b"for the first peer".to_vec()]]);

        // REQ: the cancelled request goes out, and its reply is the one awaited.
        let req = Req::new();
        let endpoint = req.bind("tcp://127.0.0.1:0").unwrap().to_string();
        assert!(!poll_once_and_drop(req.send("question")));
        let replier = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let rep = zsock(&ctx, zmq::REP);
            rep.connect(&endpoint).unwrap();
            let q = rep.recv_bytes(0).unwrap();
            rep.send([b"answer to ".as_slice(), &q].concat(), 0)
                .unwrap();
            // Keep the socket until the reply is out.
            std::thread::sleep(Duration::from_millis(200));
        });
        let reply = within("the reply", req.recv()).await.unwrap();
        assert_eq!(&reply[0][..], b"answer to question");
        join(replier).await;
    });
}

/// After a timed-out `recv`, a REQ with REQ_RELAXED and REQ_CORRELATE asks again and
/// gets the answer to the new request, not the late one (libzmq ROUTER server).
#[test]
fn req_relaxed_recovers_after_a_timed_out_recv() {
    run(|| async {
        let ctx = zmq::Context::new();
        let router = zsock(&ctx, zmq::ROUTER);
        router.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = router.get_last_endpoint().unwrap().unwrap();
        let req = Req::with_options(
            Options::default()
                .rcvtimeo(LIMIT)
                .req_relaxed(true)
                .req_correlate(true),
        );
        req.connect(&endpoint).unwrap();
        req.send("first").await.unwrap();
        let server = std::thread::spawn(move || {
            let first = router.recv_multipart(0).unwrap();
            let second = router.recv_multipart(0).unwrap();
            // Answer the first (late) and then the second.
            for (request, answer) in [(first, "late"), (second, "fresh")] {
                let mut reply = request[..request.len() - 1].to_vec();
                reply.push(answer.as_bytes().to_vec());
                router.send_multipart(reply, 0).unwrap();
            }
        });
        assert!(matches!(req.recv().await, Err(Error::Timeout)));
        // Without REQ_RELAXED this is a State error; with it, a new request.
        req.send("second").await.unwrap();
        let reply = loop {
            match within("the reply", req.recv()).await {
                Err(Error::Timeout) => continue,
                other => break other.unwrap(),
            }
        };
        assert_eq!(&reply[0][..], b"fresh");
        join(server).await;

        let strict = Req::with_options(Options::default().rcvtimeo(LIMIT));
        strict.connect(&free_tcp_endpoint()).unwrap();
        strict.send("q").await.unwrap();
        assert!(matches!(strict.recv().await, Err(Error::Timeout)));
        assert!(matches!(strict.send("again").await, Err(Error::State(_))));
    });
}

/// `try_recv` on REQ and REP follows their turns; `try_send` on REP and ROUTER.
#[test]
fn try_recv_and_try_send_on_every_turn_taking_type() {
    run(|| async {
        let rep = Rep::new();
        let endpoint = rep.bind("tcp://127.0.0.1:0").unwrap().to_string();
        assert!(rep.try_recv().unwrap().is_none());
        assert!(matches!(
            rep.try_send("early").unwrap_err().error(),
            Error::State(_)
        ));
        let req = Req::new();
        assert!(matches!(req.try_recv(), Err(Error::State(_))));
        req.connect(&endpoint).unwrap();
        req.send("ping").await.unwrap();
        let request = within("request", async {
            loop {
                if let Some(m) = rep.try_recv().unwrap() {
                    break m;
                }
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        assert_eq!(&request[0][..], b"ping");
        rep.try_send("pong").unwrap();
        let reply = within("reply", async {
            loop {
                if let Some(m) = req.try_recv().unwrap() {
                    break m;
                }
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        assert_eq!(&reply[0][..], b"pong");
        // The turn came back to send: a second try_recv is out of turn.
        assert!(matches!(req.try_recv(), Err(Error::State(_))));

        let router = Router::with_options(Options::default().router_mandatory(true));
        let err = router.try_send(vec!["nobody", "x"]).unwrap_err();
        assert!(matches!(err.error(), Error::HostUnreachable(_)));
        assert_eq!(frames(&err.into_message())[0], b"nobody");

        // Through AnySocket: the typed socket's answer, or Unsupported.
        let any = AnySocket::from(Dealer::new());
        any.bind("tcp://127.0.0.1:0").unwrap();
        assert!(any.try_send("x").unwrap_err().would_block());
        let any_pull = AnySocket::new(SocketType::Pull);
        assert!(matches!(
            any_pull.try_send("x").unwrap_err().error(),
            Error::Unsupported { .. }
        ));
    });
}

/// LINGER in `close`: zero drops at once, a limit waits that long for a peer that
/// never comes, and the default delivers everything to a libzmq peer before `close`
/// returns.
#[test]
fn close_applies_linger() {
    run(|| async {
        let push = Push::with_options(Options::default().linger(Duration::from_millis(200)));
        push.connect(&free_tcp_endpoint()).unwrap();
        push.send("never delivered").await.unwrap();
        let start = Instant::now();
        within("close", push.close()).await;
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < WAIT,
            "close took {took:?}"
        );

        let push = Push::with_options(Options::default().linger(Duration::ZERO));
        push.connect(&free_tcp_endpoint()).unwrap();
        push.send("dropped").await.unwrap();
        let start = Instant::now();
        push.close().await;
        assert!(start.elapsed() < Duration::from_millis(100));

        let endpoint = free_tcp_endpoint();
        let push = Push::new();
        push.connect(&endpoint).unwrap();
        for i in 0..100u32 {
            push.send(i.to_be_bytes().to_vec()).await.unwrap();
        }
        let reader = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let pull = zsock(&ctx, zmq::PULL);
            std::thread::sleep(Duration::from_millis(100));
            pull.bind(&endpoint).unwrap();
            (0..100u32)
                .map(|i| pull.recv_bytes(0).unwrap() == i.to_be_bytes())
                .filter(|&in_order| in_order)
                .count()
        });
        within("close with the default LINGER", push.close()).await;
        assert_eq!(join(reader).await, 100);
    });
}

/// The sharded handle's blocking calls honour SNDTIMEO and RCVTIMEO; `try_recv`
/// never waits.
#[test]
fn sharded_handle_blocking_calls_have_limits_and_try_recv_does_not_wait() {
    use monocoque::ShardedSocket;
    let rt = common::two_cores();
    let pull = ShardedSocket::new(&rt, SocketType::Pull, Options::default().rcvtimeo(LIMIT));
    let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let start = Instant::now();
    assert!(matches!(pull.recv(), Err(Error::Timeout)));
    assert!(start.elapsed() >= LIMIT && start.elapsed() < WAIT);
    assert!(pull.try_recv().unwrap().is_none());
    let ctx = zmq::Context::new();
    let zpush = zsock(&ctx, zmq::PUSH);
    zpush.connect(&endpoint).unwrap();
    zpush.send("tick", 0).unwrap();
    let deadline = Instant::now() + WAIT;
    let got = loop {
        if let Some(m) = pull.try_recv().unwrap() {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "try_recv never found the message"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    assert_eq!(&got[0][..], b"tick");

    // On the cores, ShardRef::try_recv finds nothing without waiting.
    let nothing: Vec<_> = pull
        .on_each_core(|shard| async move { shard.try_recv().map(|m| m.is_none()) })
        .join()
        .unwrap();
    assert!(nothing.into_iter().all(|n| n.unwrap()));

    let push = ShardedSocket::new(&rt, SocketType::Push, Options::default().sndtimeo(LIMIT));
    push.bind("tcp://127.0.0.1:0").unwrap();
    let start = Instant::now();
    assert!(matches!(push.send("nobody"), Err(Error::Timeout)));
    assert!(start.elapsed() >= LIMIT && start.elapsed() < WAIT);
}

/// The sharded handle's `send_async` is cancel-safe too: a dropped future's message
/// is sent by a core once a peer appears.
#[test]
fn a_cancelled_sharded_send_async_still_delivers() {
    use monocoque::ShardedSocket;
    let rt = common::two_cores();
    let push = ShardedSocket::new(&rt, SocketType::Push, Options::default());
    let endpoint = push.bind("tcp://127.0.0.1:0").unwrap().to_string();
    assert!(!poll_once_and_drop(push.send_async("kept")));
    let got = libzmq_pull(endpoint, 1).join().unwrap();
    assert_eq!(got, [[b"kept".to_vec()]]);
}

/// The sharded handle's `try_send` gives the message back when no peer can take it,
/// and hands it on once one can.
#[test]
fn sharded_try_send_hands_back_or_hands_on() {
    use monocoque::ShardedSocket;
    let rt = common::two_cores();
    let push = ShardedSocket::new(&rt, SocketType::Push, Options::default());
    let endpoint = push.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let err = push.try_send(vec!["not", "yet"]).unwrap_err();
    assert!(err.would_block(), "{err}");
    assert_eq!(
        frames(&err.into_message()),
        [b"not".to_vec(), b"yet".to_vec()]
    );
    let reader = libzmq_pull(endpoint, 1);
    let deadline = Instant::now() + WAIT;
    while push.peers_per_core().unwrap().iter().sum::<usize>() == 0 {
        assert!(Instant::now() < deadline, "the PULL never connected");
        std::thread::sleep(Duration::from_millis(1));
    }
    // The shards' count reaches the handle's turns a moment later.
    let mut msg = Some(Message::from("now"));
    while let Some(m) = msg.take() {
        if let Err(e) = push.try_send(m) {
            assert!(e.would_block(), "{e}");
            assert!(Instant::now() < deadline, "try_send never found the peer");
            msg = Some(e.into_message());
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(reader.join().unwrap(), [[b"now".to_vec()]]);

    let xsub = ShardedSocket::new(&rt, SocketType::XSub, Options::default());
    xsub.try_send(&b"\x01topic"[..]).unwrap();
}

/// `ShardRef::try_send` on the cores: a PUSH with no peer refuses and hands the
/// message back, a PUB publishes, a ROUTER_MANDATORY refuses an unknown id.
#[test]
fn shard_ref_try_send_on_each_core() {
    use monocoque::ShardedSocket;
    let rt = common::two_cores();
    let push = ShardedSocket::new(&rt, SocketType::Push, Options::default());
    push.bind("tcp://127.0.0.1:0").unwrap();
    let refused: Vec<bool> = push
        .on_each_core(|shard| async move {
            let e = shard.try_send("x").unwrap_err();
            e.would_block() && &e.into_message()[0][..] == b"x"
        })
        .join()
        .unwrap();
    assert_eq!(refused, [true, true]);
    let publisher = ShardedSocket::new(&rt, SocketType::Pub, Options::default());
    let published: Vec<bool> = publisher
        .on_each_core(|shard| async move { shard.try_send("tick").is_ok() })
        .join()
        .unwrap();
    assert_eq!(published, [true, true]);
    let router = ShardedSocket::new(
        &rt,
        SocketType::Router,
        Options::default().router_mandatory(true),
    );
    let unroutable: Vec<bool> = router
        .on_each_core(|shard| async move {
            matches!(
                shard.try_send(vec!["nobody", "x"]).unwrap_err().error(),
                Error::HostUnreachable(_)
            )
        })
        .join()
        .unwrap();
    assert_eq!(unroutable, [true, true]);
}

/// A refused `try_send` hands the message back as it was given: REQ without the
/// envelope it adds (and ready to try again), ROUTER with the routing id in front.
#[test]
fn a_refused_try_send_hands_back_the_message_as_given() {
    run(|| async {
        for correlate in [false, true] {
            let req = Req::with_options(
                Options::default()
                    .req_correlate(correlate)
                    .req_relaxed(correlate),
            );
            req.bind("tcp://127.0.0.1:0").unwrap();
            for _ in 0..2 {
                let err = req.try_send(vec!["a", "b"]).unwrap_err();
                assert!(err.would_block(), "{:?}", err.error());
                assert_eq!(frames(&err.into_message()), [b"a".to_vec(), b"b".to_vec()]);
            }
        }

        let router = Router::with_options(Options::default().router_mandatory(true).sndhwm(1));
        let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let dealer = Dealer::with_options(Options::default().routing_id("d"));
        dealer.connect(&endpoint).unwrap();
        dealer.send("hello").await.unwrap();
        within("the dealer's hello", router.recv()).await.unwrap();
        // No await in between: the connection cannot take the first off the queue.
        router.try_send(vec!["d", "first"]).unwrap();
        let err = router.try_send(vec!["d", "second"]).unwrap_err();
        assert!(err.would_block(), "{:?}", err.error());
        assert_eq!(
            frames(&err.into_message()),
            [b"d".to_vec(), b"second".to_vec()]
        );
        assert_eq!(
            &within("first", dealer.recv()).await.unwrap()[0][..],
            b"first"
        );
    });
}
