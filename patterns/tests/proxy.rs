//! The proxy with libzmq peers on both sides: a broker (ROUTER/DEALER) steered over a
//! REP control socket, a forwarder (XSUB/XPUB) with a capture socket, PAUSE and
//! RESUME on a streamer (PULL/PUSH), and a proxy between sharded sockets run from a
//! plain thread.

mod common;

use std::time::Duration;

use common::{join, run, within, zsock, WAIT};
use monocoque::proxy::{Proxy, ProxyStats};
use monocoque::{
    Dealer, Options, Pair, Pull, Push, Rep, Router, ShardedSocket, SocketType, XPub, XSub,
};

/// libzmq REQ clients, each sending `n` requests "<client>:<i>" and checking the
/// replies carry them back.
fn libzmq_clients(endpoint: &str, clients: usize, n: usize) -> Vec<std::thread::JoinHandle<()>> {
    (0..clients)
        .map(|c| {
            let endpoint = endpoint.to_string();
            std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let req = zsock(&ctx, zmq::REQ);
                req.connect(&endpoint).unwrap();
                for i in 0..n {
                    let q = format!("{c}:{i}");
                    req.send(q.as_bytes(), 0).unwrap();
                    let a = req.recv_bytes(0).expect("a reply through the broker");
                    assert!(a.ends_with(q.as_bytes()), "reply {a:?} to {q}");
                }
            })
        })
        .collect()
}

/// libzmq REP workers that answer "w<k> <request>" until their socket times out.
fn libzmq_workers(endpoint: &str, workers: usize) -> Vec<std::thread::JoinHandle<usize>> {
    (0..workers)
        .map(|k| {
            let endpoint = endpoint.to_string();
            std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let rep = zsock(&ctx, zmq::REP);
                rep.set_rcvtimeo(1000).unwrap();
                rep.connect(&endpoint).unwrap();
                let mut served = 0;
                while let Ok(q) = rep.recv_bytes(0) {
                    rep.send([format!("w{k} ").as_bytes(), &q].concat(), 0)
                        .unwrap();
                    served += 1;
                }
                served
            })
        })
        .collect()
}

fn stats_frames(frames: &[Vec<u8>]) -> [u64; 8] {
    assert_eq!(frames.len(), 8, "STATISTICS is eight frames");
    std::array::from_fn(|i| u64::from_ne_bytes(frames[i][..].try_into().unwrap()))
}

#[test]
fn broker_between_libzmq_clients_and_workers_steered_over_rep() {
    run(|| async {
        let frontend = Router::new();
        let clients_at = frontend.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let backend = Dealer::new();
        let workers_at = backend.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let control = Rep::new();
        let control_at = control.bind("tcp://127.0.0.1:0").unwrap().to_string();

        let proxy = glommio::spawn_local(async move {
            Proxy::new(&frontend, &backend)
                .control(&control)
                .run()
                .await
        });
        let workers = libzmq_workers(&workers_at, 2);
        let clients = libzmq_clients(&clients_at, 3, 20);
        for c in clients {
            join(c).await;
        }

        // Steer it from libzmq: STATISTICS, then TERMINATE.
        let steer = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let req = zsock(&ctx, zmq::REQ);
            req.connect(&control_at).unwrap();
            req.send("STATISTICS", 0).unwrap();
            let stats = req.recv_multipart(0).unwrap();
            req.send("TERMINATE", 0).unwrap();
            let bye = req.recv_multipart(0).unwrap();
            (stats, bye)
        });
        let (stats, bye) = join(steer).await;
        let [f_in, f_in_bytes, f_out, f_out_bytes, b_in, b_in_bytes, b_out, b_out_bytes] =
            stats_frames(&stats);
        assert_eq!((f_in, b_out, b_in, f_out), (60, 60, 60, 60));
        assert!(f_in_bytes > 0 && b_out_bytes == f_in_bytes, "{stats:?}");
        assert!(b_in_bytes > b_out_bytes && f_out_bytes == b_in_bytes);
        assert_eq!(
            bye,
            [Vec::<u8>::new()],
            "a REP control socket answers TERMINATE"
        );
        let ended: ProxyStats = within("the proxy to return", proxy).await.unwrap();
        assert_eq!(ended.frontend.received, 60);
        let served: usize = {
            let mut total = 0;
            for w in workers {
                total += join(w).await;
            }
            total
        };
        assert_eq!(served, 60);
    });
}

#[test]
fn forwarder_passes_subscriptions_back_and_copies_to_capture() {
    run(|| async {
        let ctx = zmq::Context::new();
        let zpub = zsock(&ctx, zmq::PUB);
        zpub.bind("tcp://127.0.0.1:*").unwrap();
        let publisher_at = zpub.get_last_endpoint().unwrap().unwrap();
        let zcapture = zsock(&ctx, zmq::PULL);
        zcapture.bind("tcp://127.0.0.1:*").unwrap();
        let capture_at = zcapture.get_last_endpoint().unwrap().unwrap();

        let frontend = XSub::new();
        frontend.connect(&publisher_at).unwrap();
        let backend = XPub::new();
        let subscribers_at = backend.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let capture = Push::new();
        capture.connect(&capture_at).unwrap();
        let control = Pair::new();
        let control_at = control.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let proxy = glommio::spawn_local(async move {
            Proxy::new(&frontend, &backend)
                .capture(&capture)
                .control(&control)
                .run()
                .await
        });

        let sub = zsock(&ctx, zmq::SUB);
        sub.set_subscribe(b"a").unwrap();
        sub.connect(&subscribers_at).unwrap();
        // The subscription travels SUB -> XPUB -> proxy -> XSUB -> PUB; publish until
        // it has arrived, then a numbered run.
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            loop {
                let m = sub.recv_bytes(0).expect("the forwarder delivers");
                if m == b"a-end" {
                    break;
                }
                if m != b"a-warm" {
                    got.push(m);
                }
            }
            got
        });
        let publisher = std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + WAIT;
            while !reader.is_finished() && std::time::Instant::now() < deadline {
                zpub.send("a-warm", 0).unwrap();
                zpub.send("b-never", 0).unwrap();
                std::thread::sleep(Duration::from_millis(20));
                for i in 0..10 {
                    zpub.send(format!("a{i}").as_bytes(), 0).unwrap();
                }
                zpub.send("a-end", 0).unwrap();
            }
            reader.join().unwrap()
        });
        let got = join(publisher).await;
        assert!(
            got.iter().all(|m| m.starts_with(b"a")),
            "a message outside the subscription"
        );
        assert!(got.len() >= 10, "{got:?}");

        // The capture saw the subscription going up and the messages coming down.
        let captured = std::thread::spawn(move || {
            zcapture.set_rcvtimeo(200).unwrap();
            let mut all = Vec::new();
            while let Ok(m) = zcapture.recv_bytes(0) {
                all.push(m);
            }
            all
        });
        let zcontrol = zsock(&ctx, zmq::PAIR);
        zcontrol.connect(&control_at).unwrap();
        zcontrol.send("TERMINATE", 0).unwrap();
        let stats = within("the proxy to return", proxy).await.unwrap();
        let captured = join(captured).await;
        assert!(
            captured.contains(&b"\x01a".to_vec()),
            "no subscription in the capture"
        );
        assert!(captured.contains(&b"a0".to_vec()));
        assert_eq!(
            captured.len() as u64,
            stats.frontend.received + stats.backend.received,
            "one copy of each message moved"
        );
    });
}

#[test]
fn pause_holds_messages_and_resume_releases_them() {
    run(|| async {
        let frontend = Pull::new();
        let pushers_at = frontend.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let backend = Push::new();
        let pullers_at = backend.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let control = Pair::new();
        let control_at = control.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let proxy = glommio::spawn_local(async move {
            Proxy::new(&frontend, &backend)
                .control(&control)
                .run()
                .await
        });
        let ctx = zmq::Context::new();
        let zcontrol = zsock(&ctx, zmq::PAIR);
        zcontrol.connect(&control_at).unwrap();
        let zpull = zsock(&ctx, zmq::PULL);
        zpull.connect(&pullers_at).unwrap();
        let zpush = zsock(&ctx, zmq::PUSH);
        zpush.connect(&pushers_at).unwrap();

        zpush.send("one", 0).unwrap();
        let (zpull, first) = join(std::thread::spawn(move || {
            let m = zpull.recv_bytes(0).unwrap();
            (zpull, m)
        }))
        .await;
        assert_eq!(first, b"one");

        zcontrol.send("PAUSE", 0).unwrap();
        // STATISTICS is answered while paused (and proves PAUSE was taken first).
        zcontrol.send("STATISTICS", 0).unwrap();
        let (zcontrol, stats) = join(std::thread::spawn(move || {
            let s = zcontrol.recv_multipart(0).unwrap();
            (zcontrol, s)
        }))
        .await;
        assert_eq!(stats_frames(&stats)[0], 1);
        zpush.send("two", 0).unwrap();
        let (zpull, held) = join(std::thread::spawn(move || {
            zpull.set_rcvtimeo(300).unwrap();
            let r = zpull.recv_bytes(0);
            (zpull, r)
        }))
        .await;
        assert!(held.is_err(), "a paused proxy moved {held:?}");
        zcontrol.send("RESUME", 0).unwrap();
        let (_, after) = join(std::thread::spawn(move || {
            zpull.set_rcvtimeo(WAIT.as_millis() as i32).unwrap();
            let r = zpull.recv_bytes(0).unwrap();
            (zpull, r)
        }))
        .await;
        assert_eq!(after, b"two");
        zcontrol.send("TERMINATE", 0).unwrap();
        assert_eq!(within("the proxy", proxy).await.unwrap().backend.sent, 2);
    });
}

/// A broker between sharded sockets, run from a plain thread (no glommio there):
/// the proxy drives the handles' futures.
#[test]
fn broker_between_sharded_sockets_from_a_plain_thread() {
    let runtime = common::two_cores();
    let frontend = ShardedSocket::new(&runtime, SocketType::Router, Options::default());
    let clients_at = frontend.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let backend = ShardedSocket::new(&runtime, SocketType::Dealer, Options::default());
    let workers_at = backend.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let control = ShardedSocket::new(&runtime, SocketType::Pair, Options::default());
    let control_at = control.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let proxy = std::thread::spawn(move || {
        futures_lite::future::block_on(Proxy::new(&frontend, &backend).control(&control).run())
    });
    let workers = libzmq_workers(&workers_at, 2);
    for c in libzmq_clients(&clients_at, 4, 10) {
        c.join().unwrap();
    }
    let ctx = zmq::Context::new();
    let zcontrol = zsock(&ctx, zmq::PAIR);
    zcontrol.connect(&control_at).unwrap();
    zcontrol.send("TERMINATE", 0).unwrap();
    let stats = proxy.join().unwrap().unwrap();
    assert_eq!(stats.frontend.received, 40);
    assert_eq!(stats.frontend.sent, 40);
    let served: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(served, 40);
}
