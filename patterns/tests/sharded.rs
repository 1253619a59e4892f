//! The thread-per-core mode on this machine's cores, with libzmq peers: sharded PUB
//! fan-out, ROUTER routing across cores, XPUB subscriptions from every core, handlers
//! on every core, and shutdown.

mod common;

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{zsock, WAIT};
use monocoque::{Options, Runtime, ShardedSocket, SocketType};

fn runtime() -> Runtime {
    Runtime::builder()
        .cores(vec![0, 1])
        .mesh_capacity(1 << 16)
        .build()
        .expect("two-core runtime")
}

/// Waits (bounded) until every core has `per_core` handshaken peers.
fn wait_for_peers(sock: &ShardedSocket, per_core: usize) {
    let start = Instant::now();
    loop {
        let peers = sock.peers_per_core().unwrap();
        if peers.iter().all(|&n| n >= per_core) {
            return;
        }
        assert!(start.elapsed() < WAIT, "peers per core stuck at {peers:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A libzmq SUB in its own thread: reports when the first warm-up message arrived,
/// then collects numbered messages until "end" (or stalls after warm-up if `stall`).
fn libzmq_sub(
    endpoint: String,
    topic: &'static [u8],
    rcvhwm: i32,
    ready: mpsc::Sender<()>,
    resume: Option<mpsc::Receiver<()>>,
) -> std::thread::JoinHandle<Vec<u32>> {
    std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let sub = zsock(&ctx, zmq::SUB);
        sub.set_rcvhwm(rcvhwm).unwrap();
        sub.set_subscribe(topic).unwrap();
        sub.connect(&endpoint).unwrap();
        loop {
            let m = sub.recv_multipart(0).expect("warm-up arrives");
            if m[1] == b"warm" {
                break;
            }
        }
        ready.send(()).unwrap();
        if let Some(resume) = resume {
            resume.recv().unwrap();
        }
        let mut got = Vec::new();
        loop {
            let m = sub.recv_multipart(0).expect("message arrives");
            match &m[1][..] {
                b"warm" => continue,
                b"end" => break got,
                n => got.push(u32::from_be_bytes(n.try_into().unwrap())),
            }
        }
    })
}

/// Publishes warm-up messages until `n` subscribers said they are receiving.
fn warm_up(publish: impl Fn(Vec<Vec<u8>>), ready: &mpsc::Receiver<()>, n: usize) {
    let start = Instant::now();
    let mut seen = 0;
    while seen < n {
        publish(vec![b"t".to_vec(), b"warm".to_vec()]);
        while ready.try_recv().is_ok() {
            seen += 1;
        }
        assert!(
            start.elapsed() < WAIT,
            "only {seen} of {n} subscribers warmed up"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A sharded PUB bound on TCP with `n` libzmq SUBs to topic "t" (RCVHWM `rcvhwm`),
/// dealt over both cores, every one of them receiving the warm-up already.
fn warm_pub_with_subs(
    rt: &Runtime,
    n: usize,
    rcvhwm: i32,
) -> (ShardedSocket, Vec<std::thread::JoinHandle<Vec<u32>>>) {
    let publisher = ShardedSocket::new(rt, SocketType::Pub, Options::default());
    let endpoint = publisher.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let (ready_tx, ready) = mpsc::channel();
    let subs: Vec<_> = (0..n)
        .map(|_| libzmq_sub(endpoint.clone(), b"t", rcvhwm, ready_tx.clone(), None))
        .collect();
    wait_for_peers(&publisher, n / 2);
    warm_up(|m| publisher.send(m).unwrap(), &ready, n);
    (publisher, subs)
}

/// Publishes the end marker until every subscriber has seen one; their numbers.
fn finish(
    publisher: &ShardedSocket,
    subs: Vec<std::thread::JoinHandle<Vec<u32>>>,
) -> Vec<Vec<u32>> {
    let start = Instant::now();
    while !subs.iter().all(|s| s.is_finished()) {
        publisher.send(end()).unwrap();
        assert!(start.elapsed() < WAIT, "subscribers never saw the end");
        std::thread::sleep(Duration::from_millis(5));
    }
    subs.into_iter().map(|s| s.join().unwrap()).collect()
}

fn numbered(i: u32) -> Vec<Vec<u8>> {
    vec![b"t".to_vec(), i.to_be_bytes().to_vec()]
}

fn end() -> Vec<Vec<u8>> {
    vec![b"t".to_vec(), b"end".to_vec()]
}

#[test]
fn pub_reaches_libzmq_subs_on_both_cores_in_order() {
    let rt = runtime();
    let (publisher, subs) = warm_pub_with_subs(&rt, 4, 1000);
    for i in 0..2000 {
        publisher.send(numbered(i)).unwrap();
        if i % 500 == 499 {
            // Stay under the subscribers' SNDHWM: this test is about order and reach.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    publisher.send(end()).unwrap();
    for sub in subs {
        assert_eq!(sub.join().unwrap(), (0..2000).collect::<Vec<u32>>());
    }
    assert_eq!(publisher.stats().unwrap().dropped_ring, 0);
    rt.shutdown();
}

#[test]
fn stalled_subscriber_drops_while_others_get_everything() {
    const N: u32 = 20_000;
    let rt = runtime();
    let publisher = ShardedSocket::new(&rt, SocketType::Pub, Options::default());
    let endpoint = publisher.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let (ready_tx, ready) = mpsc::channel();
    let (resume_tx, resume_rx) = mpsc::channel();
    // The stalled one connects first, so the fast ones land on both cores.
    let stalled = libzmq_sub(
        endpoint.clone(),
        b"t",
        100,
        ready_tx.clone(),
        Some(resume_rx),
    );
    let fast: Vec<_> = (0..3)
        .map(|_| libzmq_sub(endpoint.clone(), b"t", 0, ready_tx.clone(), None))
        .collect();
    wait_for_peers(&publisher, 2);
    warm_up(|m| publisher.send(m).unwrap(), &ready, 4);
    let payload = vec![7u8; 1024];
    for i in 0..N {
        let mut msg = numbered(i);
        msg.push(payload.clone());
        publisher.send(msg).unwrap();
        if i % 200 == 199 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    publisher.send(end()).unwrap();
    for sub in fast {
        assert_eq!(sub.join().unwrap(), (0..N).collect::<Vec<u32>>());
    }
    resume_tx.send(()).unwrap();
    // The stalled subscriber is served again after resuming.
    let got = finish(&publisher, vec![stalled]).remove(0);
    assert!(
        got.len() < N as usize,
        "the stalled subscriber lost nothing?"
    );
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "what it got is in order"
    );
    assert_eq!(
        publisher.stats().unwrap().dropped_ring,
        0,
        "no ring overflowed"
    );
    rt.shutdown();
}

#[test]
fn publishing_from_one_core_reaches_subscribers_on_every_core() {
    let rt = runtime();
    let publisher = ShardedSocket::new(&rt, SocketType::Pub, Options::default());
    let endpoint = publisher.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let (ready_tx, ready) = mpsc::channel();
    let subs: Vec<_> = (0..4)
        .map(|_| libzmq_sub(endpoint.clone(), b"t", 1000, ready_tx.clone(), None))
        .collect();
    wait_for_peers(&publisher, 2);
    // Only core 0 publishes; core 1's subscribers are reached through the ring.
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = std::sync::Mutex::new(Some(go_rx));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    publisher.on_each_core(move |shard| {
        let go = if shard.core_index() == 0 {
            go_rx.lock().unwrap().take()
        } else {
            None
        };
        let done = done_tx.clone();
        async move {
            let Some(go) = go else { return };
            loop {
                shard.send(vec!["t", "warm"]).await.unwrap();
                glommio::timer::sleep(Duration::from_millis(5)).await;
                if go.try_recv().is_ok() {
                    break;
                }
            }
            for i in 0..1000u32 {
                shard.send(numbered(i)).await.unwrap();
                if i % 100 == 99 {
                    // A publisher on a core shares it with its connections: it must
                    // let them write, or its subscribers' queues overflow (SNDHWM).
                    glommio::timer::sleep(Duration::from_millis(1)).await;
                }
            }
            shard.send(end()).await.unwrap();
            done.send(()).unwrap();
        }
    });
    let start = Instant::now();
    let mut seen = 0;
    while seen < 4 {
        if ready.recv_timeout(Duration::from_millis(10)).is_ok() {
            seen += 1;
        }
        assert!(
            start.elapsed() < WAIT,
            "warm-up did not reach every subscriber"
        );
    }
    go_tx.send(()).unwrap();
    done_rx.recv_timeout(WAIT).expect("publisher finished");
    for sub in subs {
        assert_eq!(sub.join().unwrap(), (0..1000).collect::<Vec<u32>>());
    }
    rt.shutdown();
}

fn libzmq_dealer(
    endpoint: String,
    identity: Option<String>,
) -> std::thread::JoinHandle<Vec<Vec<u8>>> {
    std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let d = zsock(&ctx, zmq::DEALER);
        if let Some(id) = &identity {
            d.set_identity(id.as_bytes()).unwrap();
        }
        d.connect(&endpoint).unwrap();
        d.send_multipart(
            [
                "hello".as_bytes(),
                identity.as_deref().unwrap_or("anon").as_bytes(),
            ],
            0,
        )
        .unwrap();
        d.recv_multipart(0).expect("reply arrives")
    })
}

#[test]
fn router_replies_reach_dealers_owned_by_either_core() {
    let rt = runtime();
    let router = ShardedSocket::new(&rt, SocketType::Router, Options::default());
    let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let mut dealers: Vec<_> = (0..4)
        .map(|i| libzmq_dealer(endpoint.clone(), Some(format!("dealer-{i}"))))
        .collect();
    dealers.push(libzmq_dealer(endpoint.clone(), None));
    dealers.push(libzmq_dealer(endpoint.clone(), None));
    wait_for_peers(&router, 3);
    let mut ids = BTreeSet::new();
    for _ in 0..6 {
        let msg = router.recv_timeout(Some(WAIT)).unwrap().expect("request");
        assert_eq!(&msg[1][..], b"hello");
        if &msg[2][..] == b"anon" {
            assert_eq!(msg[0].len(), 5, "generated ids are 5 bytes");
            assert_eq!(msg[0][0], 0);
        } else {
            assert_eq!(msg[0], msg[2], "the DEALER's identity is its routing id");
        }
        ids.insert(msg[0].to_vec());
        let mut reply = vec![msg[0].to_vec(), b"reply".to_vec()];
        reply.push(msg[2].to_vec());
        router.send(reply).unwrap();
    }
    assert_eq!(ids.len(), 6, "routing ids are unique over the cores");
    for d in dealers {
        let reply = d.join().unwrap();
        assert_eq!(reply[0], b"reply");
    }
    rt.shutdown();
}

#[test]
fn router_mandatory_reports_unknown_ids() {
    let rt = runtime();
    let router = ShardedSocket::new(
        &rt,
        SocketType::Router,
        Options {
            router_mandatory: true,
            ..Options::default()
        },
    );
    router.bind("tcp://127.0.0.1:0").unwrap();
    let err = router.send(vec!["nobody", "x"]).unwrap_err();
    assert!(matches!(err, monocoque::Error::HostUnreachable(_)), "{err}");
    rt.shutdown();
}

#[test]
fn router_handlers_on_each_core_serve_their_own_peers() {
    let rt = runtime();
    let router = ShardedSocket::new(&rt, SocketType::Router, Options::default());
    let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let (served_tx, served) = mpsc::channel();
    router.on_each_core(move |shard| {
        let served = served_tx.clone();
        async move {
            while let Ok(mut msg) = shard.recv().await {
                let mut body = msg.frames()[2].to_vec();
                body.extend_from_slice(format!(" via core {}", shard.core_index()).as_bytes());
                let id = msg.pop_front().unwrap();
                shard
                    .send(vec![id.to_vec(), b"echo".to_vec(), body])
                    .await
                    .unwrap();
                let _ = served.send(shard.core_index());
            }
        }
    });
    let dealers: Vec<_> = (0..4)
        .map(|i| libzmq_dealer(endpoint.clone(), Some(format!("d{i}"))))
        .collect();
    let mut cores = BTreeSet::new();
    for d in dealers {
        let reply = d.join().unwrap();
        assert_eq!(reply[0], b"echo");
        cores.insert(served.recv_timeout(WAIT).unwrap());
    }
    assert_eq!(cores.len(), 2, "both cores served peers");
    rt.shutdown();
}

/// `on_each_core` hands back what each core's handler returned (no hand-made channel):
/// four libzmq DEALERs dealt two to a core, each core answers two requests and says
/// which core it is and how many it served.
#[test]
fn router_handlers_return_their_results() {
    // Round-robin placement deals the four connections two to a core whatever their
    // timing: with the default, least-loaded, a dealer that has its reply and leaves
    // early (a loaded machine) frees its core, which then gets a third connection
    // while the other core's handler waits for its second.
    let rt = Runtime::builder()
        .cores(vec![0, 1])
        .placement(monocoque::Placement::RoundRobin)
        .build()
        .expect("two-core runtime");
    let router = ShardedSocket::new(&rt, SocketType::Router, Options::default());
    let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let tasks = router.on_each_core(|shard| async move {
        let mut served = 0;
        for _ in 0..2 {
            let mut msg = shard.recv().await?;
            let id = msg.pop_front().unwrap();
            shard.send(vec![id.to_vec(), b"echo".to_vec()]).await?;
            served += 1;
        }
        Ok::<_, monocoque::Error>((shard.core_index(), served))
    });
    let dealers: Vec<_> = (0..4)
        .map(|i| libzmq_dealer(endpoint.clone(), Some(format!("d{i}"))))
        .collect();
    for d in dealers {
        assert_eq!(d.join().unwrap()[0], b"echo");
    }
    let results: Vec<_> = tasks
        .join()
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(results, [(0, 2), (1, 2)]);
    // A closed socket has no shard left to run a handler on.
    router.close();
    let lost = router.on_each_core(|_| async {}).join().unwrap_err();
    assert_eq!(lost, monocoque::CoreTaskLost { core: 0 });
    // And the runtime's own: a value from every core.
    assert_eq!(
        rt.on_each_core(|core| async move { core * 10 })
            .join()
            .unwrap(),
        [0, 10]
    );
    rt.shutdown();
}

/// The sharded monitor: accepts and disconnects of libzmq DEALERs dealt to both cores
/// come through one stream, each tagged with its core; the stream ends with the socket.
#[test]
fn the_sharded_monitor_reports_from_every_core() {
    use monocoque::{CoreEvent, MonitorEvent};
    let rt = runtime();
    let router = ShardedSocket::new(&rt, SocketType::Router, Options::default());
    let monitor = router.monitor().unwrap();
    let endpoint = router.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let ctx = zmq::Context::new();
    let dealers: Vec<_> = (0..4)
        .map(|_| {
            let d = zsock(&ctx, zmq::DEALER);
            d.connect(&endpoint).unwrap();
            d
        })
        .collect();
    wait_for_peers(&router, 2);
    drop(dealers);
    let (mut accepted, mut gone) = (BTreeSet::new(), Vec::new());
    while gone.len() < 4 {
        let CoreEvent { core, event } = monitor
            .recv_timeout(WAIT)
            .expect("an event from a core within the wait");
        match event {
            MonitorEvent::Accepted { .. } => {
                accepted.insert(core);
            }
            MonitorEvent::Disconnected { .. } => gone.push(core),
            _ => {}
        }
    }
    assert_eq!(accepted, BTreeSet::from([0, 1]), "accepts from both cores");
    gone.sort();
    assert_eq!(gone, [0, 0, 1, 1], "disconnects from both cores");
    assert_eq!(monitor.dropped(), 0);
    router.close();
    let end = Instant::now();
    while monitor.recv_timeout(WAIT).is_some() {
        assert!(
            end.elapsed() < WAIT,
            "the stream did not end with the socket"
        );
    }
    rt.shutdown();
}

#[test]
fn xpub_sees_subscriptions_from_both_cores_once() {
    let rt = runtime();
    let xpub = ShardedSocket::new(&rt, SocketType::XPub, Options::default());
    let endpoint = xpub.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let stop_rx = std::sync::Arc::new(std::sync::Mutex::new(stop_rx));
    let subs: Vec<_> = [&b"a"[..], b"b", b"a", b"c"]
        .into_iter()
        .map(|topic| {
            let endpoint = endpoint.clone();
            let stop = std::sync::Arc::clone(&stop_rx);
            std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let sub = zsock(&ctx, zmq::SUB);
                sub.set_subscribe(topic).unwrap();
                sub.connect(&endpoint).unwrap();
                let _ = stop.lock().unwrap().recv();
            })
        })
        .collect();
    wait_for_peers(&xpub, 2);
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let msg = xpub
            .recv_timeout(Some(WAIT))
            .unwrap()
            .expect("subscription");
        seen.push(msg[0].to_vec());
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![b"\x01a".to_vec(), b"\x01b".to_vec(), b"\x01c".to_vec()]
    );
    assert_eq!(
        xpub.recv_timeout(Some(Duration::from_millis(200))).unwrap(),
        None,
        "the second subscriber to 'a' is not passed up again"
    );
    drop(stop_tx);
    for s in subs {
        s.join().unwrap();
    }
    rt.shutdown();
}

#[test]
fn runtime_rejects_impossible_configurations() {
    let err = Runtime::builder()
        .cores(vec![0, 9999])
        .build()
        .err()
        .unwrap();
    assert!(err.to_string().contains("9999"), "{err}");
    let err = Runtime::builder().cores(vec![0, 0]).build().err().unwrap();
    assert!(err.to_string().contains("twice"), "{err}");
    let err = Runtime::builder().cores(vec![]).build().err().unwrap();
    assert!(err.to_string().contains("at least one"), "{err}");
}

/// A thread pinned to one CPU sees only that CPU in `available_parallelism`; the
/// runtime still knows the machine's cores.
#[test]
fn runtime_builds_from_a_pinned_thread() {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Fixed(0))
        .io_memory(256 << 10)
        .spawn(|| async {
            let rt = Runtime::builder()
                .cores(vec![0, 1])
                .build()
                .expect("both cores are usable from a thread pinned to core 0");
            assert_eq!(rt.cores(), 2);
            rt.shutdown();
        })
        .unwrap()
        .join()
        .unwrap();
}

/// The CPUs the calling thread may run on, as the kernel reports them ("0-1", "1").
fn allowed_cpus() -> String {
    std::fs::read_to_string("/proc/thread-self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn executors_are_pinned_unless_asked_not_to_be() {
    let everywhere = allowed_cpus();
    for pinned in [true, false] {
        let rt = Runtime::builder()
            .cores(vec![0, 1])
            .pinned(pinned)
            .build()
            .unwrap();
        let cpus = rt
            .on_each_core(|_| async { allowed_cpus() })
            .join()
            .unwrap();
        if pinned {
            assert_eq!(cpus, ["0", "1"]);
        } else {
            assert_eq!(cpus, [everywhere.clone(), everywhere.clone()]);
        }
        rt.shutdown();
    }
}

#[test]
fn publishes_a_full_ring_missed_are_counted() {
    let rt = Runtime::builder()
        .cores(vec![0, 1])
        .mesh_capacity(2)
        .build()
        .unwrap();
    // Two subscribers: the acceptor deals the second one to core 1.
    let (publisher, subs) = warm_pub_with_subs(&rt, 2, 100_000);
    let (done_tx, done) = mpsc::channel();
    publisher.on_each_core(move |shard| {
        let done = done_tx.clone();
        async move {
            if shard.core_index() == 0 {
                // A burst with no yield: core 1's ring (2 slots) cannot keep up.
                for i in 0..1000u32 {
                    shard.send(numbered(i)).await.unwrap();
                }
                done.send(shard.stats().dropped_ring).unwrap();
            }
        }
    });
    let on_core_0 = done.recv_timeout(WAIT).unwrap();
    let stats = publisher.stats().unwrap();
    assert!(
        on_core_0 > 0,
        "core 0's ShardRef counts the burst's ring drops"
    );
    assert!(
        stats.dropped_ring >= on_core_0,
        "the handle's total includes core 0's: {stats:?}, core 0: {on_core_0}"
    );
    assert!(stats.sent >= 1000, "every publish counted once: {stats:?}");
    finish(&publisher, subs);
    rt.shutdown();
}

/// A closed sharded socket, or one whose runtime is gone, fails at once with
/// `Error::Closed` from every call instead of accepting messages or blocking.
#[test]
fn closed_sharded_socket_fails_at_once() {
    use monocoque::Error;
    let closed = |r: monocoque::Result<()>| matches!(r, Err(Error::Closed));

    let rt = runtime();
    let feed = ShardedSocket::new(&rt, SocketType::Pub, Options::default());
    feed.bind("tcp://127.0.0.1:0").unwrap();
    let router = ShardedSocket::new(&rt, SocketType::Router, Options::default());
    router.bind("tcp://127.0.0.1:0").unwrap();
    feed.close();
    router.close();
    let start = Instant::now();
    assert!(closed(feed.send(vec!["t", "x"])));
    assert!(closed(router.send(vec!["id", "x"])));
    assert!(matches!(router.recv(), Err(Error::Closed)));
    assert!(matches!(
        router.recv_timeout(Some(Duration::from_secs(5))),
        Err(Error::Closed)
    ));
    assert!(matches!(feed.bind("tcp://127.0.0.1:0"), Err(Error::Closed)));
    assert!(closed(feed.connect("tcp://127.0.0.1:1")));
    assert!(start.elapsed() < Duration::from_secs(1), "answered at once");

    // A live socket of a runtime that has stopped.
    let sub = ShardedSocket::new(&rt, SocketType::Sub, Options::default());
    let router = ShardedSocket::new(&rt, SocketType::Router, Options::default());
    router.bind("tcp://127.0.0.1:0").unwrap();
    let feed = ShardedSocket::new(&rt, SocketType::Pub, Options::default());
    drop(rt);
    let start = Instant::now();
    assert!(closed(feed.send(vec!["t", "x"])));
    assert!(closed(router.send(vec!["id", "x"])));
    assert!(matches!(router.recv(), Err(Error::Closed)));
    assert!(matches!(sub.recv_timeout(None), Err(Error::Closed)));
    assert!(closed(sub.subscribe(b"t")));
    assert!(start.elapsed() < Duration::from_secs(1), "answered at once");
}
