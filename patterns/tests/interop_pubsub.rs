//! PUB/SUB family interop: PUB↔SUB, PUB↔XSUB, XPUB↔SUB and XPUB↔XSUB with Monocoque on
//! either side (and on both), each side binding or connecting, over TCP and IPC.
//!
//! Everything of one scenario runs on one glommio thread: the libzmq sockets are only
//! used with `DONTWAIT` and polled between short sleeps, so they never block the
//! executor that drives the Monocoque sockets.
//!
//! Slow joiner: a subscription takes a moment to reach the publisher, so every check
//! first subscribes a fresh `~syncN` topic and publishes probes on it until each
//! subscriber has one (subscriptions travel in order on a connection, so the earlier
//! ones are in effect too). The same topic then carries a marker: whatever a
//! subscriber receives before the marker is exactly what it got, which is how
//! "never arrives" is checked without waiting for a timeout.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{
    frames, free_tcp_endpoint, fresh_endpoint, run, within, zbind, zpoll_recv, zsock, TRANSPORTS,
};
use monocoque::{AnySocket, Bytes, Message, Monitor, MonitorEvent, Options, SocketType, XPub};

type Frames = Vec<Vec<u8>>;

/// How long one probe round waits for the probe before publishing another.
const PROBE_WAIT: Duration = Duration::from_millis(3);

// ----- libzmq without blocking the executor ----------------------------------------

fn to_message<F: AsRef<[u8]>>(parts: &[F]) -> Message {
    parts
        .iter()
        .map(|f| Bytes::copy_from_slice(f.as_ref()))
        .collect()
}

fn owned<F: AsRef<[u8]>>(parts: &[F]) -> Frames {
    parts.iter().map(|f| f.as_ref().to_vec()).collect()
}

/// `\x01topic` / `\x00topic`.
fn sub_frame(topic: &[u8], subscribe: bool) -> Vec<u8> {
    let mut f = vec![u8::from(subscribe)];
    f.extend_from_slice(topic);
    f
}

// ----- the two sides, whoever implements them ----------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    Mono,
    Lib,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum PubKind {
    Pub,
    XPub,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum SubKind {
    Sub,
    XSub,
}

enum Publisher {
    Mono(AnySocket),
    Lib(zmq::Socket),
}

impl Publisher {
    fn new(side: Side, kind: PubKind, ctx: &zmq::Context, opts: Options) -> Publisher {
        let mono = |kind| Publisher::Mono(AnySocket::with_options(kind, opts));
        match (side, kind) {
            (Side::Mono, PubKind::Pub) => mono(SocketType::Pub),
            (Side::Mono, PubKind::XPub) => mono(SocketType::XPub),
            (Side::Lib, PubKind::Pub) => Publisher::Lib(zsock(ctx, zmq::PUB)),
            (Side::Lib, PubKind::XPub) => Publisher::Lib(zsock(ctx, zmq::XPUB)),
        }
    }

    fn bind_to(&self, endpoint: &str) -> String {
        match self {
            Publisher::Mono(p) => p.bind(endpoint).unwrap().to_string(),
            Publisher::Lib(s) => {
                s.bind(endpoint).unwrap();
                s.get_last_endpoint().unwrap().unwrap()
            }
        }
    }

    fn bind(&self, transport: &str) -> String {
        match self {
            Publisher::Lib(s) => zbind(s, transport),
            _ => self.bind_to(&fresh_endpoint(transport)),
        }
    }

    fn connect(&self, endpoint: &str) {
        match self {
            Publisher::Mono(p) => p.connect(endpoint).unwrap(),
            Publisher::Lib(s) => s.connect(endpoint).unwrap(),
        }
    }

    async fn send<F: AsRef<[u8]>>(&self, parts: &[F]) {
        match self {
            Publisher::Mono(p) => p.send(to_message(parts)).await.unwrap(),
            Publisher::Lib(s) => s
                .send_multipart(parts.iter().map(AsRef::as_ref), zmq::DONTWAIT)
                .unwrap(),
        }
    }
}

enum Subscriber {
    Mono(AnySocket),
    Lib(zmq::Socket, SubKind),
}

impl Subscriber {
    fn new(side: Side, kind: SubKind, ctx: &zmq::Context) -> Subscriber {
        match (side, kind) {
            (Side::Mono, SubKind::Sub) => Subscriber::Mono(AnySocket::new(SocketType::Sub)),
            (Side::Mono, SubKind::XSub) => Subscriber::Mono(AnySocket::new(SocketType::XSub)),
            (Side::Lib, SubKind::Sub) => Subscriber::Lib(zsock(ctx, zmq::SUB), kind),
            (Side::Lib, SubKind::XSub) => Subscriber::Lib(zsock(ctx, zmq::XSUB), kind),
        }
    }

    fn bind(&self, transport: &str) -> String {
        let ep = fresh_endpoint(transport);
        match self {
            Subscriber::Mono(s) => s.bind(&ep).unwrap().to_string(),
            Subscriber::Lib(s, _) => zbind(s, transport),
        }
    }

    fn connect(&self, endpoint: &str) {
        match self {
            Subscriber::Mono(s) => s.connect(endpoint).unwrap(),
            Subscriber::Lib(s, _) => s.connect(endpoint).unwrap(),
        }
    }

    /// The Monocoque socket's monitor.
    fn monitor(&self) -> Option<Monitor> {
        match self {
            Subscriber::Mono(s) => Some(s.monitor()),
            Subscriber::Lib(..) => None,
        }
    }

    /// Subscribes the way each type does it: `subscribe()` / ZMQ_SUBSCRIBE for SUB,
    /// a `\x01topic` message for XSUB (which [`AnySocket::subscribe`] sends).
    async fn subscribe(&self, topic: &[u8]) {
        self.change(topic, true).await
    }

    async fn unsubscribe(&self, topic: &[u8]) {
        self.change(topic, false).await
    }

    async fn change(&self, topic: &[u8], on: bool) {
        match self {
            Subscriber::Mono(s) if on => s.subscribe(topic).unwrap(),
            Subscriber::Mono(s) => s.unsubscribe(topic).unwrap(),
            Subscriber::Lib(s, SubKind::Sub) if on => s.set_subscribe(topic).unwrap(),
            Subscriber::Lib(s, SubKind::Sub) => s.set_unsubscribe(topic).unwrap(),
            Subscriber::Lib(s, SubKind::XSub) => {
                s.send(sub_frame(topic, on), zmq::DONTWAIT).unwrap()
            }
        }
    }

    /// The next message if one arrives within `wait` (used only by probe loops).
    async fn recv_for(&self, wait: Duration) -> Option<Frames> {
        match self {
            Subscriber::Mono(s) => {
                glommio::timer::timeout(wait, async { Ok(frames(&s.recv().await.unwrap())) })
                    .await
                    .ok()
            }
            Subscriber::Lib(s, _) => {
                glommio::timer::timeout(wait, async { Ok(zpoll_recv(s).await) })
                    .await
                    .ok()
            }
        }
    }

    /// The next message, bounded by [`common::WAIT`].
    async fn recv(&self, what: &str) -> Frames {
        match self {
            Subscriber::Mono(s) => frames(&within(what, s.recv()).await.unwrap()),
            Subscriber::Lib(s, _) => within(what, zpoll_recv(s)).await,
        }
    }

    async fn close(self) {
        match self {
            Subscriber::Mono(s) => within("SUB/XSUB close", s.close()).await,
            Subscriber::Lib(s, _) => drop(s),
        }
    }
}

// ----- probes and markers ------------------------------------------------------------

const MARKER: &[u8] = b"marker";
const PROBE: &[u8] = b"probe";

/// Publishes probes on `topic` until every subscriber has received one, then drains
/// the extra probes with a marker. Returns the topic (each subscriber stays subscribed,
/// so it can carry later markers).
async fn probe(p: &Publisher, subs: &[&Subscriber], topic: &[u8]) {
    let mut waiting: Vec<bool> = vec![true; subs.len()];
    within("a probe to reach every subscriber", async {
        while waiting.iter().any(|&w| w) {
            p.send(&[topic, PROBE]).await;
            for (i, s) in subs.iter().enumerate() {
                if !waiting[i] {
                    continue;
                }
                if let Some(m) = s.recv_for(PROBE_WAIT).await {
                    assert_eq!(
                        m,
                        owned(&[topic, PROBE]),
                        "unexpected message while probing"
                    );
                    waiting[i] = false;
                }
            }
        }
    })
    .await;
    let got = until_marker(p, subs, topic).await;
    assert!(
        got.iter().all(Vec::is_empty),
        "unexpected messages while probing: {got:?}"
    );
}

/// Subscribes every subscriber to a fresh topic and waits until probes on it arrive
/// everywhere: all subscription changes made before are then in effect at `p`.
async fn sync(p: &Publisher, subs: &[&Subscriber]) -> Vec<u8> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let topic = format!("~sync{}", N.fetch_add(1, Ordering::Relaxed)).into_bytes();
    for s in subs {
        s.subscribe(&topic).await;
    }
    probe(p, subs, &topic).await;
    topic
}

/// Publishes a marker on `topic` (to which every subscriber is subscribed) and returns,
/// per subscriber, the messages that arrived before it, probes on `topic` excluded.
async fn until_marker(p: &Publisher, subs: &[&Subscriber], topic: &[u8]) -> Vec<Vec<Frames>> {
    p.send(&[topic, MARKER]).await;
    let mut all = Vec::new();
    for s in subs {
        let mut got = Vec::new();
        loop {
            let m = s.recv("the marker").await;
            if m.first().map(Vec::as_slice) == Some(topic) {
                if m.get(1).map(Vec::as_slice) == Some(MARKER) {
                    break;
                }
                continue;
            }
            got.push(m);
        }
        all.push(got);
    }
    all
}

/// A message from string parts.
fn msg(parts: &[&str]) -> Frames {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// Publishes `sent`; what `s` receives of it before the marker must be exactly
/// `expected`.
async fn expect(p: &Publisher, s: &Subscriber, mark: &[u8], sent: &[Frames], expected: &[Frames]) {
    for m in sent {
        p.send(m).await;
    }
    let got = until_marker(p, &[s], mark).await.remove(0);
    assert_eq!(got, expected);
}

/// Connects the pair, `p` binding or `s` binding.
fn link(p: &Publisher, s: &Subscriber, transport: &str, pub_binds: bool) {
    if pub_binds {
        s.connect(&p.bind(transport));
    } else {
        p.connect(&s.bind(transport));
    }
}

/// A message of topic `A` numbered `i`: topic, number, an empty frame, and a body
/// whose size cycles through short, long (8-byte size) and large frames.
fn numbered(topic: &[u8], i: usize) -> Frames {
    let size = match i % 4 {
        0 => 0,
        1 => 200,
        2 => 300 + i,
        _ => 70_000 + i,
    };
    vec![
        topic.to_vec(),
        i.to_string().into_bytes(),
        Vec::new(),
        (0..size).map(|b| (b ^ i) as u8).collect(),
    ]
}

// ----- the main scenario over the matrix --------------------------------------------

/// Delivery, order, multipart, prefix filtering, counted subscriptions, cancel, the
/// empty subscription, between one publisher and one subscriber.
async fn exercise(p: &Publisher, s: &Subscriber) {
    let subs = [s];
    s.subscribe(b"A").await;
    let mark = sync(p, &subs).await;

    // Intact and in order, multipart preserved.
    let sent: Vec<Frames> = (0..200).map(|i| numbered(b"A", i)).collect();
    for m in &sent {
        p.send(m).await;
    }
    assert_eq!(until_marker(p, &subs, &mark).await[0], sent);

    // Prefix filter: only topics starting with A.
    let sent = [
        msg(&["B", "no"]),
        msg(&["AB", "yes"]),
        msg(&["", "no"]),
        msg(&["a", "no"]),
    ];
    expect(p, s, &mark, &sent, &[msg(&["AB", "yes"])]).await;

    // Counted: subscribe twice, cancel once → still subscribed.
    s.subscribe(b"C").await;
    s.subscribe(b"C").await;
    s.unsubscribe(b"C").await;
    let mark = sync(p, &subs).await;
    expect(p, s, &mark, &[msg(&["C", "1"])], &[msg(&["C", "1"])]).await;

    // Cancel: nothing of A or C arrives any more.
    s.unsubscribe(b"C").await;
    s.unsubscribe(b"A").await;
    let mark = sync(p, &subs).await;
    expect(p, s, &mark, &[msg(&["C", "2"]), msg(&["A", "2"])], &[]).await;

    // The empty subscription gets everything, until cancelled.
    s.subscribe(b"").await;
    let mark = sync(p, &subs).await;
    let all = [msg(&["Z"]), msg(&["", "empty topic"]), msg(&["A", "3"])];
    expect(p, s, &mark, &all, &all).await;
    s.unsubscribe(b"").await;
    let mark = sync(p, &subs).await;
    // The probes of `sync` match "" too, so they cannot show that this cancel was
    // processed; publish until a round passes without Z (bounded: a cancel that never
    // takes effect fails here).
    within(
        "the cancel of the empty subscription to take effect",
        async {
            loop {
                p.send(&msg(&["Z"])).await;
                let got = until_marker(p, &subs, &mark).await.remove(0);
                if got.is_empty() {
                    break;
                }
                assert_eq!(got, [msg(&["Z"])]);
            }
        },
    )
    .await;
    expect(p, s, &mark, &[msg(&["Z"]), msg(&["A", "4"])], &[]).await;
}

/// Runs [`exercise`] for one pairing over every combination of implementations (at
/// least one Monocoque side), transports and binding side.
fn matrix(pub_kind: PubKind, sub_kind: SubKind) {
    for (pub_side, sub_side) in [
        (Side::Mono, Side::Lib),
        (Side::Lib, Side::Mono),
        (Side::Mono, Side::Mono),
    ] {
        for transport in TRANSPORTS {
            for pub_binds in [true, false] {
                eprintln!(
                    "scenario: {pub_side:?} {pub_kind:?} / {sub_side:?} {sub_kind:?} over \
                     {transport}, {} binds",
                    if pub_binds { "publisher" } else { "subscriber" }
                );
                run(move || async move {
                    let ctx = zmq::Context::new();
                    let p = Publisher::new(pub_side, pub_kind, &ctx, Options::default());
                    let s = Subscriber::new(sub_side, sub_kind, &ctx);
                    link(&p, &s, transport, pub_binds);
                    exercise(&p, &s).await;
                    s.close().await;
                });
            }
        }
    }
}

#[test]
fn pub_to_sub() {
    matrix(PubKind::Pub, SubKind::Sub);
}

#[test]
fn pub_to_xsub() {
    matrix(PubKind::Pub, SubKind::XSub);
}

#[test]
fn xpub_to_sub() {
    matrix(PubKind::XPub, SubKind::Sub);
}

#[test]
fn xpub_to_xsub() {
    matrix(PubKind::XPub, SubKind::XSub);
}

// ----- XPUB subscription messages ----------------------------------------------------

async fn xrecv(x: &XPub, what: &str) -> Frames {
    frames(&within(what, x.recv()).await.unwrap())
}

/// Reads `n` subscription messages from `x`, sorted (their order across topics of one
/// departing subscriber is not specified).
async fn xrecv_sorted(x: &XPub, n: usize, what: &str) -> Vec<Frames> {
    let mut got = Vec::new();
    for _ in 0..n {
        got.push(xrecv(x, what).await);
    }
    got.sort();
    got
}

fn one(frame: Vec<u8>) -> Frames {
    vec![frame]
}

/// A Monocoque XPUB passes up `\x01topic` / `\x00topic` from libzmq SUB and XSUB peers,
/// once per topic: a second subscriber of a topic, or a cancel while another subscriber
/// remains, is not passed up. A departing subscriber's topics are cancelled.
#[test]
fn xpub_passes_up_deduplicated_subscriptions() {
    for transport in TRANSPORTS {
        run(move || async move {
            let ctx = zmq::Context::new();
            let x = XPub::new();
            let ep = x.bind(&fresh_endpoint(transport)).unwrap().to_string();
            let s1 = Subscriber::new(Side::Lib, SubKind::Sub, &ctx);
            let s2 = Subscriber::new(Side::Lib, SubKind::XSub, &ctx);
            s1.connect(&ep);
            s2.connect(&ep);

            s1.subscribe(b"A").await;
            assert_eq!(xrecv(&x, "\\x01A").await, one(sub_frame(b"A", true)));
            // s2's A is a duplicate; its B (same connection, later) is new.
            s2.subscribe(b"A").await;
            s2.subscribe(b"B").await;
            assert_eq!(xrecv(&x, "\\x01B").await, one(sub_frame(b"B", true)));
            // s1 cancels A while s2 keeps it: not passed up; s1's C comes next.
            s1.unsubscribe(b"A").await;
            s1.subscribe(b"C").await;
            assert_eq!(xrecv(&x, "\\x01C").await, one(sub_frame(b"C", true)));
            // s2 leaves: A and B have no subscriber any more.
            s2.close().await;
            assert_eq!(
                xrecv_sorted(&x, 2, "cancels of a departed subscriber").await,
                vec![one(sub_frame(b"A", false)), one(sub_frame(b"B", false))]
            );
            s1.unsubscribe(b"C").await;
            assert_eq!(xrecv(&x, "\\x00C").await, one(sub_frame(b"C", false)));
            assert!(x.peer_count() == 1);
        });
    }
}

/// With `xpub_verbose`, every subscription is passed up, duplicates included; a cancel
/// is still passed up only when the topic's last subscriber goes (libzmq's
/// XPUB_VERBOSE, not XPUB_VERBOSER).
#[test]
fn xpub_verbose_passes_up_every_subscription() {
    for transport in TRANSPORTS {
        run(move || async move {
            let ctx = zmq::Context::new();
            let x = XPub::with_options(Options {
                xpub_verbose: true,
                ..Options::default()
            });
            let ep = x.bind(&fresh_endpoint(transport)).unwrap().to_string();
            let s1 = Subscriber::new(Side::Lib, SubKind::Sub, &ctx);
            let s2 = Subscriber::new(Side::Lib, SubKind::Sub, &ctx);
            s1.connect(&ep);
            s2.connect(&ep);
            s1.subscribe(b"A").await;
            assert_eq!(xrecv(&x, "first \\x01A").await, one(sub_frame(b"A", true)));
            s2.subscribe(b"A").await;
            assert_eq!(xrecv(&x, "second \\x01A").await, one(sub_frame(b"A", true)));
            s1.unsubscribe(b"A").await;
            s1.subscribe(b"D").await;
            assert_eq!(xrecv(&x, "\\x01D").await, one(sub_frame(b"D", true)));
            s2.unsubscribe(b"A").await;
            assert_eq!(xrecv(&x, "\\x00A").await, one(sub_frame(b"A", false)));
        });
    }
}

/// A libzmq XPUB sees the subscriptions of a Monocoque SUB or XSUB: new topics, cancels,
/// and the cancels libzmq generates when the subscriber closes.
#[test]
fn libzmq_xpub_sees_monocoque_subscriptions() {
    for transport in TRANSPORTS {
        for kind in [SubKind::Sub, SubKind::XSub] {
            run(move || async move {
                let ctx = zmq::Context::new();
                let x = zsock(&ctx, zmq::XPUB);
                let ep = zbind(&x, transport);
                let s = Subscriber::new(Side::Mono, kind, &ctx);
                s.connect(&ep);
                s.subscribe(b"A").await;
                assert_eq!(
                    within("\\x01A", zpoll_recv(&x)).await,
                    one(sub_frame(b"A", true))
                );
                s.subscribe(b"B").await;
                assert_eq!(
                    within("\\x01B", zpoll_recv(&x)).await,
                    one(sub_frame(b"B", true))
                );
                s.unsubscribe(b"A").await;
                assert_eq!(
                    within("\\x00A", zpoll_recv(&x)).await,
                    one(sub_frame(b"A", false))
                );
                s.close().await;
                assert_eq!(
                    within("\\x00B", zpoll_recv(&x)).await,
                    one(sub_frame(b"B", false))
                );
            });
        }
    }
}

// ----- reconnection ------------------------------------------------------------------

/// Binds a fresh libzmq PUB on `endpoint`, retrying while the previous one's port or
/// path is still being released by libzmq's background threads.
async fn rebind_libzmq_pub(ctx: &zmq::Context, endpoint: &str) -> Publisher {
    let p = zsock(ctx, zmq::PUB);
    within("the endpoint to be free again", async {
        while let Err(e) = p.bind(endpoint) {
            assert_eq!(e, zmq::Error::EADDRINUSE, "rebinding {endpoint}");
            glommio::timer::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    Publisher::Lib(p)
}

/// The publisher goes away and a new one binds the same endpoint: the Monocoque
/// subscriber reconnects and resends its subscriptions by itself.
#[test]
fn subscriber_resubscribes_after_publisher_restart() {
    for transport in TRANSPORTS {
        for kind in [SubKind::Sub, SubKind::XSub] {
            run(move || async move {
                let ctx = zmq::Context::new();
                let first = Publisher::new(Side::Lib, PubKind::Pub, &ctx, Options::default());
                let ep = first.bind(transport);
                let s = Subscriber::new(Side::Mono, kind, &ctx);
                s.connect(&ep);
                s.subscribe(b"A").await;
                probe(&first, &[&s], b"A").await;
                drop(first);

                let second = rebind_libzmq_pub(&ctx, &ep).await;
                // No new subscribe call: the probes arrive only if the SUB resent "A".
                probe(&second, &[&s], b"A").await;
                let sent: Vec<Frames> = (0..20).map(|i| numbered(b"A", i)).collect();
                for m in &sent {
                    second.send(m).await;
                }
                for m in &sent {
                    assert_eq!(&s.recv("messages after the restart").await, m);
                }
                s.close().await;
            });
        }
    }
}

/// The connecting side starts first (it retries until the binder appears), with
/// Monocoque on either side.
#[test]
fn connect_before_bind() {
    for transport in TRANSPORTS {
        for (kinds, mono_pub) in [
            ((PubKind::Pub, SubKind::Sub), true),
            ((PubKind::Pub, SubKind::Sub), false),
            ((PubKind::XPub, SubKind::XSub), true),
            ((PubKind::XPub, SubKind::XSub), false),
        ] {
            eprintln!("scenario: {kinds:?} over {transport}, Monocoque publisher: {mono_pub}");
            run(move || async move {
                let ctx = zmq::Context::new();
                let (pub_side, sub_side) = if mono_pub {
                    (Side::Mono, Side::Lib)
                } else {
                    (Side::Lib, Side::Mono)
                };
                let ep = match transport {
                    "tcp" => free_tcp_endpoint(),
                    _ => fresh_endpoint(transport),
                };
                let s = Subscriber::new(sub_side, kinds.1, &ctx);
                let monitor = s.monitor();
                s.connect(&ep);
                s.subscribe(b"A").await;
                // Let the connecting side fail at least once before binding.
                match monitor {
                    Some(m) => {
                        within("a failed connect attempt", async {
                            while !matches!(m.recv().await, MonitorEvent::ConnectRetried { .. }) {}
                        })
                        .await
                    }
                    None => glommio::timer::sleep(Duration::from_millis(150)).await,
                }
                let p = Publisher::new(pub_side, kinds.0, &ctx, Options::default());
                p.bind_to(&ep);
                probe(&p, &[&s], b"A").await;
                let sent: Vec<Frames> = (0..20).map(|i| numbered(b"A", i)).collect();
                for m in &sent {
                    p.send(m).await;
                }
                for m in &sent {
                    assert_eq!(&s.recv("messages after connecting").await, m);
                }
                s.close().await;
            });
        }
    }
}

// ----- fan-out -----------------------------------------------------------------------

/// One Monocoque PUB, four subscribers of mixed implementations and types with
/// different subscriptions: each gets exactly the matching messages, in order.
#[test]
fn pub_delivers_to_each_matching_subscriber() {
    for transport in TRANSPORTS {
        run(move || async move {
            let ctx = zmq::Context::new();
            let p = Publisher::new(Side::Mono, PubKind::Pub, &ctx, Options::default());
            let ep = p.bind(transport);
            let subs = [
                (
                    Subscriber::new(Side::Mono, SubKind::Sub, &ctx),
                    vec![&b"A"[..]],
                ),
                (Subscriber::new(Side::Mono, SubKind::XSub, &ctx), vec![b"B"]),
                (Subscriber::new(Side::Lib, SubKind::Sub, &ctx), vec![b""]),
                (
                    Subscriber::new(Side::Lib, SubKind::XSub, &ctx),
                    vec![b"A", b"C"],
                ),
            ];
            for (s, topics) in &subs {
                s.connect(&ep);
                for t in topics {
                    s.subscribe(t).await;
                }
            }
            let refs: Vec<&Subscriber> = subs.iter().map(|(s, _)| s).collect();
            let mark = sync(&p, &refs).await;

            let sent: Vec<Frames> = ["A", "B", "C", "D", "AB", "BA", "CA"]
                .iter()
                .enumerate()
                .map(|(i, t)| numbered(t.as_bytes(), i))
                .collect();
            for m in &sent {
                p.send(m).await;
            }
            let got = until_marker(&p, &refs, &mark).await;
            for ((_, topics), got) in subs.iter().zip(got) {
                let expected: Vec<Frames> = sent
                    .iter()
                    .filter(|m| topics.iter().any(|t| m[0].starts_with(t)))
                    .cloned()
                    .collect();
                assert_eq!(got, expected, "subscriber of {topics:?}");
            }
            for (s, _) in subs {
                s.close().await;
            }
        });
    }
}

/// SNDHWM: a libzmq SUB that stops reading (small RCVHWM) fills its connection and
/// then misses messages, but the Monocoque PUB's `send` never waits for it and a
/// second subscriber keeps receiving every message.
#[test]
fn pub_drops_for_a_stalled_subscriber_only() {
    const SNDHWM: usize = 16;
    const BATCH: usize = SNDHWM / 2;
    const COUNT: usize = 3000;
    const BODY: usize = 24 * 1024; // COUNT × BODY ≫ what the kernel buffers hold
    run(|| async {
        let ctx = zmq::Context::new();
        let p = Publisher::new(
            Side::Mono,
            PubKind::Pub,
            &ctx,
            Options {
                sndhwm: SNDHWM,
                ..Options::default()
            },
        );
        let ep = p.bind("tcp");
        let slow = zsock(&ctx, zmq::SUB);
        slow.set_rcvhwm(10).unwrap();
        let slow = Subscriber::Lib(slow, SubKind::Sub);
        let fast = Subscriber::new(Side::Lib, SubKind::Sub, &ctx);
        for s in [&slow, &fast] {
            s.connect(&ep);
            s.subscribe(b"").await;
        }
        sync(&p, &[&slow, &fast]).await;

        let body = vec![7u8; BODY];
        let message = |i: usize| vec![b"D".to_vec(), i.to_string().into_bytes(), body.clone()];
        // Batches smaller than SNDHWM, each read by `fast` before the next is published:
        // `fast` can never be at its mark; `slow` soon is.
        within("publishing past a stalled subscriber", async {
            for start in (0..COUNT).step_by(BATCH) {
                let batch: Vec<Frames> = (start..start + BATCH).map(message).collect();
                for m in &batch {
                    p.send(m).await;
                }
                for m in &batch {
                    assert_eq!(&fast.recv("the fast subscriber's messages").await, m);
                }
            }
        })
        .await;

        // `slow` now reads: what it gets is in order and has gaps. Tail messages are
        // published until one arrives, so reading ends without waiting for a timeout.
        let mut seen = Vec::new();
        within("the stalled subscriber to catch up", async {
            loop {
                match slow.recv_for(PROBE_WAIT).await {
                    Some(m) if m[0] == b"T" => break,
                    Some(m) => seen.push(String::from_utf8(m[1].clone()).unwrap()),
                    None => p.send(&[&b"T"[..]]).await,
                }
            }
        })
        .await;
        let seen: Vec<usize> = seen.iter().map(|s| s.parse().unwrap()).collect();
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "out of order");
        assert!(
            seen.len() < COUNT,
            "the stalled subscriber got all {COUNT} messages: SNDHWM not applied"
        );
        slow.close().await;
        fast.close().await;
    });
}
