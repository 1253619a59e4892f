//! XPUB_NODROP and XPUB_MANUAL (local and sharded), XPUB_WELCOME_MSG and
//! INVERT_MATCHING against libzmq peers. Everything of one test runs on one glommio thread: the libzmq sockets are
//! used with `DONTWAIT` and polled between short sleeps, so they never block the
//! executor that drives the Monocoque sockets. Subscriptions are known to have
//! arrived when the XPUB (ours or libzmq's) has read them.

mod common;

use std::time::Duration;

use common::{frames, run, within, within_or_none, zpoll_recv, zsock};
use monocoque::{Bytes, Error, Options, ShardedSocket, SocketType, Sub, XPub};
use zmq::SocketExt;

type Frames = Vec<Vec<u8>>;

const POLL: Duration = Duration::from_millis(1);

/// The next message an XPUB passes up, as owned frames.
async fn xrecv(x: &XPub, what: &str) -> Frames {
    frames(&within(what, x.recv()).await.unwrap())
}

fn one(frame: &[u8]) -> Frames {
    vec![frame.to_vec()]
}

/// A message of `size` bytes whose first 8 carry `i`.
fn numbered(i: u64, size: usize) -> Vec<u8> {
    let mut body = vec![0u8; size.max(8)];
    body[..8].copy_from_slice(&i.to_be_bytes());
    body
}

fn number(body: &[u8]) -> u64 {
    u64::from_be_bytes(body[..8].try_into().unwrap())
}

/// XPUB_NODROP towards a libzmq SUB that does not read: once the subscriber's queues
/// are full, `try_send` fails with WouldBlock (libzmq's EAGAIN) and `send` waits up to
/// SNDTIMEO; once the subscriber reads, the waiting send goes out, and it has
/// received every message, none missing.
#[test]
fn xpub_nodrop_waits_for_a_subscriber_at_sndhwm_instead_of_dropping() {
    const SIZE: usize = 16 * 1024;
    run(|| async {
        let ctx = zmq::Context::new();
        let xpub = XPub::with_options(small_nodrop_queues());
        let ep = xpub.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let sub = small_libzmq_sub(&ctx, &ep);
        assert_eq!(xrecv(&xpub, "the subscription").await, one(b"\x01"));

        // Publish, with `send` waiting up to SNDTIMEO each time, until the subscriber's
        // queues (ours, the kernel's, libzmq's) are full: a send then times out.
        xpub.set_options(xpub.options().sndtimeo(Duration::from_millis(50)));
        let mut sent = 0u64;
        within("a send to time out", async {
            loop {
                match xpub.send(numbered(sent, SIZE)).await {
                    Ok(()) => sent += 1,
                    Err(Error::Timeout) => break,
                    Err(e) => panic!("{e}"),
                }
            }
        })
        .await;
        assert!(sent > 8, "only {sent} messages before the first timeout");
        // `try_send` never yields, so the connection cannot make room meanwhile:
        // within SNDHWM tries it fails, and hands the message back.
        let refused = (0..=8)
            .find_map(|_| match xpub.try_send(numbered(sent, SIZE)) {
                Ok(()) => {
                    sent += 1;
                    None
                }
                Err(e) => Some(e),
            })
            .expect("try_send refused at SNDHWM");
        assert!(refused.would_block(), "{refused}");
        assert_eq!(number(&refused.into_message()[0]), sent);
        assert_eq!(xpub.stats().dropped_hwm, 0, "nothing dropped");

        // Without a limit it waits until the subscriber reads, then goes out.
        xpub.set_options(xpub.options().sndtimeo(None));
        let reader = glommio::spawn_local(async move {
            let mut got = Vec::new();
            while got.len() as u64 <= sent {
                got.push(number(&zpoll_recv(&sub).await[0]));
            }
            got
        });
        within("the waiting send", xpub.send(numbered(sent, SIZE)))
            .await
            .unwrap();
        let got = within("the subscriber to read everything", reader).await;
        assert_eq!(
            got,
            (0..=sent).collect::<Vec<_>>(),
            "every message, in order"
        );
        assert_eq!(xpub.stats().dropped_hwm, 0);
        xpub.close().await;
    });
}

/// XPUB_NODROP with small queues on our side (SNDHWM 8, a 16 KiB send buffer), so that
/// a subscriber that does not keep up is soon waited for.
fn small_nodrop_queues() -> Options {
    Options::default()
        .xpub_nodrop(true)
        .sndhwm(8)
        .sndbuf(16 * 1024)
}

/// A libzmq SUB to everything at `ep`, with small queues (RCVHWM 4, a 16 KiB receive
/// buffer).
fn small_libzmq_sub(ctx: &zmq::Context, ep: &str) -> zmq::Socket {
    let sub = zsock(ctx, zmq::SUB);
    sub.set_rcvhwm(4).unwrap();
    sub.set_rcvbuf(16 * 1024).unwrap();
    sub.set_subscribe(b"").unwrap();
    sub.connect(ep).unwrap();
    sub
}

/// XPUB_NODROP on a sharded XPUB publishing from its handle, towards a libzmq SUB
/// that does not read: once the subscriber's core cannot take more, the handle's
/// `try_send` fails with WouldBlock and `send` times out (SNDTIMEO); nothing is
/// dropped, and the subscriber receives every accepted message in order.
#[test]
fn sharded_xpub_nodrop_makes_the_handle_wait_instead_of_dropping() {
    const SIZE: usize = 16 * 1024;
    let rt = common::two_cores();
    let xpub = ShardedSocket::new(
        &rt,
        SocketType::XPub,
        small_nodrop_queues().sndtimeo(Duration::from_millis(50)),
    );
    let ep = xpub.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let ctx = zmq::Context::new();
    let sub = small_libzmq_sub(&ctx, &ep);
    sub.set_rcvtimeo(10_000).unwrap();
    let subscription = xpub.recv_timeout(Some(common::WAIT)).unwrap();
    assert_eq!(
        frames(&subscription.expect("the subscription")),
        one(b"\x01")
    );

    let mut sent = 0u64;
    let started = std::time::Instant::now();
    loop {
        match xpub.send(numbered(sent, SIZE)) {
            Ok(()) => sent += 1,
            Err(Error::Timeout) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(sent < 100_000, "no wait: the handle never ran out of room");
        assert!(started.elapsed() < common::WAIT, "no timeout after {sent}");
    }
    let refused = xpub
        .try_send(numbered(sent, SIZE))
        .expect_err("a full core");
    assert!(refused.would_block(), "{refused}");
    assert_eq!(number(&refused.into_message()[0]), sent);

    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + common::WAIT;
    while (got.len() as u64) < sent {
        match sub.recv_multipart(0) {
            Ok(m) => got.push(number(&m[0])),
            Err(e) => panic!("libzmq recv: {e}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {sent}",
            got.len()
        );
    }
    assert_eq!(
        got,
        (0..sent).collect::<Vec<_>>(),
        "every message, in order"
    );
    let stats = xpub.stats().unwrap();
    assert_eq!(stats.dropped_hwm, 0, "nothing dropped");
    assert_eq!(stats.dropped_ring, 0, "nothing dropped");
    assert_eq!(stats.sent, sent);
}

/// XPUB_NODROP on a sharded XPUB publishing from a core's `ShardRef`, towards slow
/// libzmq SUBs on both cores: the other core's subscriber misses nothing either. The
/// publishing core waits (send) or is refused (try_send) while the other core holds
/// its share (a mesh of 8, so it does often), and both subscribers receive every
/// message in order.
#[test]
fn sharded_xpub_nodrop_from_a_core_drops_nothing_on_the_other_cores() {
    const SIZE: usize = 16 * 1024;
    const N: u64 = 2000;
    let rt = monocoque::Runtime::builder()
        .cores(vec![0, 1])
        .mesh_capacity(8)
        .build()
        .unwrap();
    let xpub = ShardedSocket::new(&rt, SocketType::XPub, small_nodrop_queues());
    let ep = xpub.bind("tcp://127.0.0.1:0").unwrap().to_string();
    // Two subscribers, each reporting the first warm-up message it sees (its
    // subscription has reached its core), then collecting the numbered ones.
    let (warm_tx, warm) = std::sync::mpsc::channel();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let ep = ep.clone();
            let warm_tx = warm_tx.clone();
            std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let sub = small_libzmq_sub(&ctx, &ep);
                let mut warmed = false;
                let mut got = Vec::new();
                while (got.len() as u64) < N {
                    let Ok(m) = sub.recv_multipart(0) else { break };
                    if m[0] == b"w" {
                        if !std::mem::replace(&mut warmed, true) {
                            warm_tx.send(()).unwrap();
                        }
                        continue;
                    }
                    got.push(number(&m[1]));
                    if got.len() % 100 == 0 {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
                got
            })
        })
        .collect();
    let started = std::time::Instant::now();
    let mut warmed = 0;
    while warmed < 2 {
        xpub.send(vec![b"w".to_vec()]).unwrap();
        while warm.recv_timeout(Duration::from_millis(5)).is_ok() {
            warmed += 1;
        }
        assert!(
            started.elapsed() < common::WAIT,
            "{warmed} subscribers warmed"
        );
    }
    // The acceptor deals the two connections to the two cores in turn.
    assert_eq!(xpub.peers_per_core().unwrap(), [1, 1]);
    let refused = xpub
        .on_each_core(|shard| async move {
            if shard.core_index() != 0 {
                return 0;
            }
            let msg = |i| vec![b"n".to_vec(), numbered(i, SIZE)];
            for i in 0..N / 2 {
                shard.send(msg(i)).await.unwrap();
            }
            let mut refused = 0u64;
            for i in N / 2..N {
                let mut m = monocoque::Message::from(msg(i));
                loop {
                    match shard.try_send(m) {
                        Ok(()) => break,
                        Err(e) if e.would_block() => {
                            refused += 1;
                            m = e.into_message();
                            glommio::timer::sleep(Duration::from_micros(200)).await;
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            refused
        })
        .join()
        .unwrap();
    for reader in readers {
        let got = reader.join().unwrap();
        assert_eq!(
            got.len() as u64,
            N,
            "every message reached both subscribers"
        );
        assert_eq!(got, (0..N).collect::<Vec<_>>(), "in order");
    }
    assert!(refused[0] > 0, "try_send never found the other core full");
    let stats = xpub.stats().unwrap();
    assert_eq!(stats.dropped_hwm, 0, "nothing dropped: {stats:?}");
    assert_eq!(stats.dropped_ring, 0, "nothing dropped: {stats:?}");
    xpub.close();
    rt.shutdown();
}

/// XPUB_MANUAL with two libzmq SUBs that both subscribe to everything (""): nothing
/// is applied by the socket; the application grants each its own topic with
/// `XPub::subscribe` right after reading its request, and changes them later. Every
/// request is passed up, a repeated one too, and a subscriber that leaves is
/// passed up as a cancel of what it had asked for.
#[test]
fn xpub_manual_applies_subscriptions_to_the_last_requester() {
    run(|| async {
        let ctx = zmq::Context::new();
        let xpub = XPub::with_options(Options::default().xpub_manual(true));
        let ep = xpub.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let first = zsock(&ctx, zmq::SUB);
        first.set_subscribe(b"").unwrap();
        first.connect(&ep).unwrap();
        assert_eq!(xrecv(&xpub, "the first's request").await, one(b"\x01"));
        xpub.subscribe(b"A").unwrap();
        let second = zsock(&ctx, zmq::SUB);
        second.set_subscribe(b"").unwrap();
        second.connect(&ep).unwrap();
        assert_eq!(xrecv(&xpub, "the second's request").await, one(b"\x01"));
        xpub.subscribe(b"B").unwrap();

        // "" was asked for and not applied: each gets its own topic only. Messages
        // of one connection arrive in order, so what comes before a subscriber's own
        // message is all it got.
        for topic in ["C1", "B1", "A1"] {
            xpub.send(topic).await.unwrap();
        }
        assert_eq!(within("A1", zpoll_recv(&first)).await, one(b"A1"));
        assert_eq!(within("B1", zpoll_recv(&second)).await, one(b"B1"));

        // A repeated request is passed up too (a libzmq SUB sends one per call).
        first.set_subscribe(b"").unwrap();
        assert_eq!(xrecv(&xpub, "the repeated request").await, one(b"\x01"));
        xpub.unsubscribe(b"A").unwrap();
        xpub.subscribe(b"C").unwrap();
        for topic in ["A2", "B2", "C2"] {
            xpub.send(topic).await.unwrap();
        }
        assert_eq!(within("C2", zpoll_recv(&first)).await, one(b"C2"));
        assert_eq!(within("B2", zpoll_recv(&second)).await, one(b"B2"));

        // The second leaves: its request comes back as a cancel.
        drop(second);
        assert_eq!(xrecv(&xpub, "the leaver's cancel").await, one(b"\x00"));
        xpub.close().await;
    });
}

/// XPUB_MANUAL on a sharded XPUB, through the handle: two libzmq SUBs (served by
/// different cores) each ask for everything; the handle reads each request and grants
/// its subscriber its own topic; each then gets only that topic.
#[test]
fn sharded_xpub_manual_applies_subscriptions_on_the_requesters_core() {
    let rt = common::two_cores();
    let xpub = ShardedSocket::new(&rt, SocketType::XPub, Options::default().xpub_manual(true));
    let ep = xpub.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let ctx = zmq::Context::new();
    let request = || {
        let m = xpub.recv_timeout(Some(common::WAIT)).unwrap();
        frames(&m.expect("a subscription request"))
    };
    let subscriber = || {
        let sub = zsock(&ctx, zmq::SUB);
        sub.set_rcvtimeo(10_000).unwrap();
        sub.set_subscribe(b"").unwrap();
        sub.connect(&ep).unwrap();
        sub
    };
    let first = subscriber();
    assert_eq!(request(), one(b"\x01"));
    xpub.subscribe(b"A").unwrap();
    let second = subscriber();
    assert_eq!(request(), one(b"\x01"));
    xpub.subscribe(b"B").unwrap();
    assert_eq!(
        xpub.peers_per_core().unwrap(),
        [1, 1],
        "one subscriber per core"
    );

    for topic in ["C1", "B1", "A1"] {
        xpub.send(topic).unwrap();
    }
    assert_eq!(first.recv_multipart(0).unwrap(), one(b"A1"));
    assert_eq!(second.recv_multipart(0).unwrap(), one(b"B1"));

    // A repeated request is passed up too, and changes go to its subscriber.
    first.set_subscribe(b"").unwrap();
    assert_eq!(request(), one(b"\x01"));
    xpub.unsubscribe(b"A").unwrap();
    xpub.subscribe(b"C").unwrap();
    for topic in ["A2", "B2", "C2"] {
        xpub.send(topic).unwrap();
    }
    assert_eq!(first.recv_multipart(0).unwrap(), one(b"C2"));
    assert_eq!(second.recv_multipart(0).unwrap(), one(b"B2"));

    // Without XPUB_MANUAL the handle does not subscribe anyone.
    let plain = ShardedSocket::new(&rt, SocketType::XPub, Options::default());
    assert!(matches!(plain.subscribe(b"A"), Err(Error::State(_))));
}

#[test]
fn xpub_subscribe_needs_xpub_manual() {
    run(|| async {
        let xpub = XPub::new();
        let err = xpub.subscribe(b"A").unwrap_err();
        assert!(matches!(err, Error::State(_)), "{err}");
        // With it, but nothing received yet: nothing to apply it to.
        let manual = XPub::with_options(Options::default().xpub_manual(true));
        manual.subscribe(b"A").unwrap();
    });
}

/// XPUB_WELCOME_MSG: a libzmq SUB subscribed to the welcome message receives it as
/// soon as it connects, before anything published.
#[test]
fn xpub_welcome_msg_greets_each_new_libzmq_subscriber() {
    run(|| async {
        let ctx = zmq::Context::new();
        let xpub =
            XPub::with_options(Options::default().xpub_welcome_msg(Bytes::from_static(b"WELCOME")));
        let ep = xpub.bind("tcp://127.0.0.1:0").unwrap().to_string();
        for n in 0..2 {
            let sub = zsock(&ctx, zmq::SUB);
            sub.set_subscribe(b"WELCOME").unwrap();
            sub.set_subscribe(b"news").unwrap();
            sub.connect(&ep).unwrap();
            let msg = within("the welcome message", zpoll_recv(&sub)).await;
            assert_eq!(msg, one(b"WELCOME"), "subscriber {n}");
            // The first one's subscriptions arrive; the welcome went out whatever they
            // are. (The second's are repeats, passed up only if the first has gone by
            // then, and the first's leaving passes up cancels only if it goes first:
            // what the XPUB reads then depends on timing.)
            if n == 0 {
                let mut requests = vec![
                    xrecv(&xpub, "a subscription").await,
                    xrecv(&xpub, "a subscription").await,
                ];
                requests.sort();
                assert_eq!(requests, [one(b"\x01WELCOME"), one(b"\x01news")]);
            }
            // The subscriber's subscriptions may still be on their way (the second's
            // are not passed up, being repeats): publish until the news arrives.
            let news = within("the news", async {
                loop {
                    xpub.send("news: hello").await.unwrap();
                    if let Some(m) = common::within_or_none(POLL * 10, zpoll_recv(&sub)).await {
                        break m;
                    }
                }
            })
            .await;
            assert_eq!(news, one(b"news: hello"));
        }
        xpub.close().await;
    });
}

/// The other way: a Monocoque SUB gets a libzmq XPUB's welcome message.
#[test]
fn sub_receives_a_libzmq_welcome_message() {
    run(|| async {
        let ctx = zmq::Context::new();
        let xpub = zsock(&ctx, zmq::XPUB);
        xpub.set_xpub_welcome_msg(Some("WELCOME")).unwrap();
        xpub.bind("tcp://127.0.0.1:*").unwrap();
        let ep = xpub.get_last_endpoint().unwrap().unwrap();
        let sub = Sub::new();
        sub.subscribe(b"WELCOME").unwrap();
        sub.connect(&ep).unwrap();
        // libzmq attaches the new subscriber (and writes its welcome message) when
        // the application next uses the XPUB.
        let request = within("the subscription", zpoll_recv(&xpub)).await;
        assert_eq!(request, one(b"\x01WELCOME"));
        let msg = within("the welcome message", sub.recv()).await.unwrap();
        assert_eq!(frames(&msg), one(b"WELCOME"));
        sub.close().await;
    });
}

/// INVERT_MATCHING on a Monocoque XPUB and a libzmq SUB, both inverted: the SUB
/// subscribed to "A" gets everything but "A…". A libzmq SUB that does not invert gets
/// nothing: the XPUB sends it what it did not subscribe to, and it drops that.
#[test]
fn invert_matching_from_monocoque_to_libzmq() {
    run(|| async {
        let ctx = zmq::Context::new();
        // XPUB_VERBOSE: both subscriptions are passed up, so both are known to be in
        // effect (a SUB whose subscription has not arrived gets everything).
        let xpub = XPub::with_options(Options::default().invert_matching(true).xpub_verbose(true));
        let ep = xpub.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let mut inverted = zsock(&ctx, zmq::SUB);
        inverted.set_invert_matching(true).unwrap();
        inverted.set_subscribe(b"A").unwrap();
        inverted.connect(&ep).unwrap();
        let plain = zsock(&ctx, zmq::SUB);
        plain.set_subscribe(b"A").unwrap();
        plain.connect(&ep).unwrap();
        for _ in 0..2 {
            assert_eq!(xrecv(&xpub, "a subscription").await, one(b"\x01A"));
        }
        for topic in ["A1", "B1", "A2", "C1"] {
            xpub.send(topic).await.unwrap();
        }
        assert_eq!(within("B1", zpoll_recv(&inverted)).await, one(b"B1"));
        assert_eq!(within("C1", zpoll_recv(&inverted)).await, one(b"C1"));
        let nothing = within_or_none(Duration::from_millis(200), zpoll_recv(&plain)).await;
        assert_eq!(nothing, None, "a SUB that does not invert keeps nothing");
        xpub.close().await;
    });
}

/// INVERT_MATCHING on a libzmq XPUB and a Monocoque SUB, both inverted.
#[test]
fn invert_matching_from_libzmq_to_monocoque() {
    run(|| async {
        let ctx = zmq::Context::new();
        let mut xpub = zsock(&ctx, zmq::XPUB);
        xpub.set_invert_matching(true).unwrap();
        xpub.bind("tcp://127.0.0.1:*").unwrap();
        let ep = xpub.get_last_endpoint().unwrap().unwrap();
        let sub = Sub::with_options(Options::default().invert_matching(true));
        sub.subscribe(b"A").unwrap();
        sub.connect(&ep).unwrap();
        assert_eq!(
            within("the subscription", zpoll_recv(&xpub)).await,
            one(b"\x01A")
        );
        for topic in ["A1", "B1", "A2", "C1"] {
            xpub.send(topic, zmq::DONTWAIT).unwrap();
        }
        for expected in ["B1", "C1"] {
            let msg = within(expected, sub.recv()).await.unwrap();
            assert_eq!(frames(&msg), one(expected.as_bytes()));
        }
        sub.close().await;
    });
}
