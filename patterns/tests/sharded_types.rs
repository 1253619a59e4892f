//! Every socket type sharded over two cores, driven through the handle from plain
//! threads, against libzmq peers: the pattern's semantics hold across cores
//! (round-robin over all peers, fair-queueing from all, REQ and REP in lock-step,
//! ROUTER ids unique over the whole socket, ROUTER_HANDOVER).

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use common::{twin, zbind, zsock, WAIT};
use monocoque::{Error, MonitorEvent, Options, Runtime, ShardedSocket, SocketType};

fn runtime() -> Runtime {
    common::two_cores()
}

/// Waits (bounded) until the socket has `want` handshaken peers per core.
fn wait_for_peers(sock: &ShardedSocket, want: &[usize]) {
    let start = Instant::now();
    loop {
        let peers = sock.peers_per_core().unwrap();
        if peers == want {
            return;
        }
        assert!(start.elapsed() < WAIT, "peers per core stuck at {peers:?}");
        std::thread::yield_now();
    }
}

/// A libzmq socket of `kind` bound on TCP in its own thread, handed to `serve`.
fn libzmq_peer<T: Send + 'static>(
    kind: zmq::SocketType,
    serve: impl FnOnce(zmq::Socket) -> T + Send + 'static,
) -> (String, std::thread::JoinHandle<T>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let s = zsock(&ctx, kind);
        tx.send(zbind(&s, "tcp")).unwrap();
        serve(s)
    });
    (rx.recv().unwrap(), thread)
}

/// Receives exactly `n` messages on a libzmq socket (each must come within WAIT).
fn take(s: &zmq::Socket, n: usize) -> Vec<Vec<Vec<u8>>> {
    (0..n)
        .map(|_| s.recv_multipart(0).expect("a message"))
        .collect()
}

#[test]
fn dealer_round_robins_over_the_peers_of_both_cores() {
    let rt = runtime();
    let dealer = ShardedSocket::new(&rt, SocketType::Dealer, Options::default());
    // Three libzmq ROUTERs: the connects land on cores 0, 1, 0 (or 1, 0, 1), so one
    // core has two of the peers; each peer must still get a third.
    let routers: Vec<_> = (0..3)
        .map(|_| libzmq_peer(zmq::ROUTER, |s| take(&s, 100).len()))
        .collect();
    for (endpoint, _) in &routers {
        dealer.connect(endpoint).unwrap();
    }
    for i in 0..300 {
        dealer.send(format!("job {i}")).unwrap();
    }
    for (_, thread) in routers {
        assert_eq!(thread.join().unwrap(), 100);
    }
    // Sent once each (by the core that held the peer), not once more by the handle.
    assert_eq!(dealer.stats().unwrap().sent, 300);
    dealer.close();
    rt.shutdown();
}

#[test]
fn push_round_robins_over_pullers_on_both_cores() {
    let rt = runtime();
    let push = ShardedSocket::new(&rt, SocketType::Push, Options::default());
    let endpoint = push.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let pullers: Vec<_> = (0..4)
        .map(|_| {
            let endpoint = endpoint.clone();
            std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let pull = zsock(&ctx, zmq::PULL);
                pull.connect(&endpoint).unwrap();
                take(&pull, 50).len()
            })
        })
        .collect();
    // A bound PUSH sends to the peers that are there, as libzmq's does.
    wait_for_peers(&push, &[2, 2]);
    for i in 0..200 {
        push.send(format!("task {i}")).unwrap();
    }
    for t in pullers {
        assert_eq!(t.join().unwrap(), 50);
    }
    push.close();
    rt.shutdown();
}

#[test]
fn pull_fair_queues_pushers_on_both_cores() {
    let rt = runtime();
    let pull = ShardedSocket::new(&rt, SocketType::Pull, Options::default());
    let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let pushers: Vec<_> = (0..2)
        .map(|p| {
            let endpoint = endpoint.clone();
            std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let push = zsock(&ctx, zmq::PUSH);
                push.connect(&endpoint).unwrap();
                push.send(format!("{p} hello").as_bytes(), 0).unwrap();
                std::thread::park_timeout(WAIT);
                for i in 0..200 {
                    push.send(format!("{p} {i}").as_bytes(), 0).unwrap();
                }
                // Stay connected until the test has read everything.
                std::thread::park_timeout(WAIT);
            })
        })
        .collect();
    // One hello from each: both cores now forward to the handle.
    let mut hellos: Vec<_> = (0..2)
        .map(|_| pull.recv_timeout(Some(WAIT)).unwrap().expect("hello")[0].to_vec())
        .collect();
    hellos.sort();
    assert_eq!(hellos, [b"0 hello".to_vec(), b"1 hello".to_vec()]);
    assert_eq!(pull.peers_per_core().unwrap(), [1, 1]);
    for t in &pushers {
        t.thread().unpark();
    }
    // Until both cores have taken all 402, so that both have a backlog when reading
    // starts.
    let start = Instant::now();
    while pull.stats().unwrap().received < 402 {
        assert!(start.elapsed() < WAIT, "{:?}", pull.stats());
        std::thread::yield_now();
    }
    let mut next = [0u32; 2];
    let mut last = None;
    for _ in 0..400 {
        let msg = pull.recv_timeout(Some(WAIT)).unwrap().expect("a message");
        let text = String::from_utf8(msg[0].to_vec()).unwrap();
        let (p, i) = text.split_once(' ').unwrap();
        let (p, i): (usize, u32) = (p.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, next[p], "pusher {p}'s messages in order");
        next[p] += 1;
        // Fair-queued: with both backlogs there, the cores take turns.
        assert_ne!(last, Some(p), "two in a row from pusher {p} at its #{i}");
        last = Some(p);
    }
    // Each message counts once, where it was received, whoever read it.
    assert_eq!(pull.stats().unwrap().received, 402);
    for t in pushers {
        t.thread().unpark();
        t.join().unwrap();
    }
    pull.close();
    rt.shutdown();
}

#[test]
fn req_keeps_lock_step_and_round_robins_over_reps_on_both_cores() {
    let rt = runtime();
    let req = ShardedSocket::new(&rt, SocketType::Req, Options::default());
    let reps: Vec<_> = (0..2)
        .map(|r| {
            libzmq_peer(zmq::REP, move |s| {
                for _ in 0..10 {
                    let request = s.recv_bytes(0).expect("a request");
                    let mut reply = format!("rep{r}:").into_bytes();
                    reply.extend_from_slice(&request);
                    s.send(reply, 0).unwrap();
                }
            })
        })
        .collect();
    for (endpoint, _) in &reps {
        req.connect(endpoint).unwrap();
    }
    assert!(matches!(req.recv(), Err(Error::State(_))), "no request yet");
    let mut per_rep = BTreeMap::new();
    for i in 0..20 {
        req.send(format!("q{i}")).unwrap();
        assert!(
            matches!(req.send("again"), Err(Error::State(_))),
            "a second request before the reply"
        );
        let reply = req.recv_timeout(Some(WAIT)).unwrap().expect("a reply");
        let text = String::from_utf8(reply[0].to_vec()).unwrap();
        let (rep, echoed) = text.split_once(':').unwrap();
        assert_eq!(echoed, format!("q{i}"), "the reply to this request");
        *per_rep.entry(rep.to_string()).or_insert(0) += 1;
    }
    assert_eq!(per_rep.values().copied().collect::<Vec<_>>(), [10, 10]);
    let stats = req.stats().unwrap();
    assert_eq!((stats.sent, stats.received), (20, 20));
    for (_, t) in reps {
        t.join().unwrap();
    }
    req.close();
    rt.shutdown();
}

#[test]
fn rep_answers_req_clients_on_both_cores_in_lock_step() {
    let rt = runtime();
    let rep = ShardedSocket::new(&rt, SocketType::Rep, Options::default());
    let endpoint = rep.bind("tcp://127.0.0.1:0").unwrap().to_string();
    assert!(
        matches!(rep.send("x"), Err(Error::State(_))),
        "nothing to answer"
    );
    let clients: Vec<_> = (0..2)
        .map(|c| {
            let endpoint = endpoint.clone();
            std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let req = zsock(&ctx, zmq::REQ);
                req.connect(&endpoint).unwrap();
                for i in 0..10 {
                    req.send(format!("c{c}-{i}").as_bytes(), 0).unwrap();
                    let reply = req.recv_bytes(0).expect("a reply");
                    assert_eq!(reply, format!("re:c{c}-{i}").into_bytes());
                }
            })
        })
        .collect();
    wait_for_peers(&rep, &[1, 1]);
    for n in 0..20 {
        let request = rep.recv_timeout(Some(WAIT)).unwrap().expect("a request");
        if n == 0 {
            assert!(
                matches!(rep.recv_timeout(Some(WAIT)), Err(Error::State(_))),
                "a second request before the reply"
            );
        }
        let mut reply = b"re:".to_vec();
        reply.extend_from_slice(&request[0]);
        rep.send(reply).unwrap();
    }
    for c in clients {
        c.join().unwrap();
    }
    rep.close();
    rt.shutdown();
}

#[test]
fn sub_gets_its_topic_from_publishers_on_both_cores() {
    let rt = runtime();
    let sub = ShardedSocket::new(&rt, SocketType::Sub, Options::default());
    let endpoint = sub.bind("tcp://127.0.0.1:0").unwrap().to_string();
    sub.subscribe(b"a").unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pubs: Vec<_> = (0..2)
        .map(|p| {
            let (endpoint, stop) = (endpoint.clone(), stop.clone());
            std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let publisher = zsock(&ctx, zmq::PUB);
                publisher.connect(&endpoint).unwrap();
                // Until the subscriber has seen enough: subscriptions take a moment
                // to reach a connecting PUB.
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    publisher.send(format!("b from {p}").as_bytes(), 0).unwrap();
                    publisher.send(format!("a from {p}").as_bytes(), 0).unwrap();
                    std::thread::yield_now();
                }
            })
        })
        .collect();
    let mut seen = [false; 2];
    let start = Instant::now();
    while seen != [true, true] {
        assert!(start.elapsed() < WAIT, "only {seen:?} heard");
        let msg = sub.recv_timeout(Some(WAIT)).unwrap().expect("a message");
        let text = String::from_utf8(msg[0].to_vec()).unwrap();
        assert!(text.starts_with("a from "), "filtered: {text}");
        seen[text[7..].parse::<usize>().unwrap()] = true;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for p in pubs {
        p.join().unwrap();
    }
    sub.close();
    rt.shutdown();
}

#[test]
fn xsub_subscribes_upstream_on_both_cores() {
    let rt = runtime();
    let xsub = ShardedSocket::new(&rt, SocketType::XSub, Options::default());
    let xpubs: Vec<_> = (0..2)
        .map(|p| {
            libzmq_peer(zmq::XPUB, move |s| {
                let subscription = s.recv_bytes(0).expect("a subscription");
                s.send(format!("news from {p}").as_bytes(), 0).unwrap();
                subscription
            })
        })
        .collect();
    for (endpoint, _) in &xpubs {
        xsub.connect(endpoint).unwrap();
    }
    xsub.send(b"\x01news".to_vec()).unwrap();
    let mut heard: Vec<String> = (0..2)
        .map(|_| {
            let msg = xsub.recv_timeout(Some(WAIT)).unwrap().expect("news");
            String::from_utf8(msg[0].to_vec()).unwrap()
        })
        .collect();
    heard.sort();
    assert_eq!(heard, ["news from 0", "news from 1"]);
    for (_, t) in xpubs {
        assert_eq!(t.join().unwrap(), b"\x01news");
    }
    xsub.close();
    rt.shutdown();
}

#[test]
fn pair_talks_to_a_libzmq_pair() {
    let rt = runtime();
    let pair = ShardedSocket::new(&rt, SocketType::Pair, Options::default());
    let (endpoint, peer) = libzmq_peer(zmq::PAIR, |s| {
        let ping = s.recv_bytes(0).expect("ping");
        s.send("pong", 0).unwrap();
        ping
    });
    pair.connect(&endpoint).unwrap();
    pair.send("ping").unwrap();
    let pong = pair.recv_timeout(Some(WAIT)).unwrap().expect("pong");
    assert_eq!(&pong[0][..], b"pong");
    assert_eq!(peer.join().unwrap(), b"ping");
    pair.close();
    rt.shutdown();
}

/// Two libzmq DEALERs announce the same routing id to a sharded ROUTER; the second
/// lands on the other core. Returns what each DEALER received after the ROUTER sent
/// "for twin" to the id, and the cores the two connections were accepted on.
fn duplicate_twins(handover: bool) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<usize>) {
    let rt = runtime();
    let options = Options {
        router_handover: handover,
        ..Options::default()
    };
    let router = ShardedSocket::new(&rt, SocketType::Router, options);
    let monitor = router.monitor().unwrap();
    let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let first = twin(&endpoint, "first");
    let hello = router
        .recv_timeout(Some(WAIT))
        .unwrap()
        .expect("first says hello");
    assert_eq!(
        (&hello[0][..], &hello[1][..]),
        (&b"twin"[..], &b"first"[..])
    );
    let second = twin(&endpoint, "second");
    let mut cores = Vec::new();
    let mut settled = false;
    let start = Instant::now();
    while !settled {
        assert!(
            start.elapsed() < WAIT,
            "the second connection never settled"
        );
        let Some(e) = monitor.recv_timeout(WAIT) else {
            panic!("no monitor event")
        };
        match e.event {
            MonitorEvent::Accepted { .. } => cores.push(e.core),
            // Refused (no handover), or taken over (handover).
            MonitorEvent::HandshakeSucceeded { .. } if handover && cores.len() == 2 => {
                settled = true
            }
            MonitorEvent::Disconnected { .. } if !handover && cores.len() == 2 => settled = true,
            _ => {}
        }
    }
    if handover {
        // The new owner's hello arrives; after it, the id routes to the second.
        let hello = router
            .recv_timeout(Some(WAIT))
            .unwrap()
            .expect("second's hello");
        assert_eq!(&hello[1][..], b"second");
    }
    router.send(vec![&b"twin"[..], b"for twin"]).unwrap();
    let (first, second) = (first.join().unwrap(), second.join().unwrap());
    router.close();
    rt.shutdown();
    (first, second, cores)
}

#[test]
fn a_routing_id_taken_on_the_other_core_is_refused() {
    let (first, second, cores) = duplicate_twins(false);
    assert_ne!(cores[0], cores[1], "the twins are on different cores");
    assert_eq!(first, [b"for twin".to_vec()], "the id stays with the first");
    assert!(second.is_empty(), "the second was refused: {second:?}");
}

#[test]
fn router_handover_moves_the_id_to_the_newer_peer_on_the_other_core() {
    let (first, second, cores) = duplicate_twins(true);
    assert_ne!(cores[0], cores[1], "the twins are on different cores");
    assert!(first.is_empty(), "the first lost the id: {first:?}");
    assert_eq!(second, [b"for twin".to_vec()]);
}
