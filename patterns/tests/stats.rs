//! Socket counters (`stats`, `peer_stats`, local and sharded) and the `MessagesDropped` monitor event,
//! against libzmq peers: every message a PUB drops at SNDHWM is counted, exactly.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{join, run, within, zsock};
use monocoque::{MonitorEvent, Options, Pub, Pull, Push, ShardedSocket, SocketType};

/// A 256-byte message starting with `seq`.
fn body(seq: u64) -> Vec<u8> {
    let mut b = vec![0u8; 256];
    b[..8].copy_from_slice(&seq.to_be_bytes());
    b
}

fn number(body: &[u8]) -> u64 {
    u64::from_be_bytes(body[..8].try_into().unwrap())
}

/// A PUB publishes flat out to a libzmq SUB that has stopped reading; when the SUB
/// reads again it gets exactly what the PUB did not count as dropped.
#[test]
fn pub_counts_every_sndhwm_drop_of_a_stalled_libzmq_sub() {
    // 50 000 × 256 B is more than loopback's socket buffers hold (a few MB).
    const BURST: u64 = 50_000;
    run(|| async {
        let publisher = Pub::with_options(Options {
            sndhwm: 100,
            ..Options::default()
        });
        let monitor = publisher.monitor();
        let endpoint = publisher.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let (seen_tx, seen) = mpsc::channel::<()>();
        let (resume_tx, resume) = mpsc::channel::<()>();
        let sub = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let s = zsock(&ctx, zmq::SUB);
            s.set_rcvhwm(10).unwrap();
            s.set_rcvbuf(4096).unwrap();
            s.set_subscribe(b"").unwrap();
            s.connect(&endpoint).unwrap();
            // The first message proves the subscription arrived: from it on, every
            // message published was either queued for this SUB or counted as dropped.
            let first = s.recv_bytes(0).expect("first message");
            seen_tx.send(()).unwrap();
            resume.recv().unwrap();
            let mut got = vec![number(&first)];
            loop {
                let m = s.recv_bytes(0).expect("message");
                if m == b"end" {
                    break got;
                }
                got.push(number(&m));
            }
        });
        let mut seq = 0u64;
        within("the SUB's first message", async {
            while seen.try_recv().is_err() {
                publisher.send(body(seq)).await.unwrap();
                seq += 1;
                glommio::timer::sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
        // The SUB is not reading now: a burst fills its socket buffers, then its
        // SNDHWM queue, then drops.
        for _ in 0..BURST {
            publisher.send(body(seq)).await.unwrap();
            seq += 1;
        }
        resume_tx.send(()).unwrap();
        within("the SUB's queue to drain", async {
            while publisher.peer_stats().iter().any(|p| p.queued > 0) {
                glommio::timer::sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
        let peers = publisher.peer_stats();
        publisher.send("end").await.unwrap();
        let got = join(sub).await;

        let stats = publisher.stats();
        let first = got[0];
        let published_since_first = seq - first;
        assert!(
            stats.dropped_hwm > 0,
            "the burst overflowed SNDHWM: {stats:?}"
        );
        assert_eq!(
            got.len() as u64 + stats.dropped_hwm,
            published_since_first,
            "received + counted drops = published (from the SUB's first message on)"
        );
        assert!(got.windows(2).all(|w| w[0] < w[1]), "in order");
        assert_eq!(
            stats.sent,
            seq + 1,
            "every publish counted once, with the end"
        );
        assert_eq!(peers.len(), 1);
        assert_eq!(peers[0].dropped_hwm, stats.dropped_hwm);

        // The monitor said the subscriber started dropping, and once the SUB has
        // gone its reports add up to every drop.
        let mut reported = 0;
        within("every drop reported", async {
            while reported < stats.dropped_hwm {
                if let MonitorEvent::MessagesDropped { count, .. } = monitor.recv().await {
                    reported += count;
                }
            }
        })
        .await;
        assert_eq!(reported, stats.dropped_hwm, "no drop reported twice");
        assert_eq!(
            MonitorEvent::MessagesDropped {
                remote: String::new(),
                count: 0
            }
            .code(),
            0x8000_0001
        );
    });
}

/// PUSH and PULL count what they sent and received, and drop nothing.
#[test]
fn push_pull_count_sent_and_received() {
    run(|| async {
        let pull = Pull::new();
        let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let push = Push::new();
        push.connect(&endpoint).unwrap();
        for i in 0..500u32 {
            push.send(i.to_be_bytes().to_vec()).await.unwrap();
        }
        let mut batch = Vec::new();
        let mut got = 0;
        while got < 500 {
            if got < 100 {
                pull.recv().await.unwrap();
                got += 1;
            } else {
                got += pull.recv_batch(&mut batch, 64).await.unwrap();
            }
        }
        assert_eq!(push.stats().sent, 500);
        assert_eq!(pull.stats().received, 500);
        assert_eq!(push.stats().dropped_hwm + pull.stats().dropped_hwm, 0);
    });
}

/// A sharded PUB's `peer_stats` gathers every core's subscribers: two libzmq SUBs
/// that never read, one per core, each with its drops, which add up to the socket's.
#[test]
fn sharded_peer_stats_gather_every_cores_subscribers() {
    let rt = common::two_cores();
    let publisher = ShardedSocket::new(&rt, SocketType::Pub, Options::default().sndhwm(10));
    let endpoint = publisher.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let ctx = zmq::Context::new();
    let subs: Vec<zmq::Socket> = (0..2)
        .map(|_| {
            let s = zsock(&ctx, zmq::SUB);
            s.set_rcvhwm(10).unwrap();
            s.set_rcvbuf(4096).unwrap();
            s.set_subscribe(b"").unwrap();
            s.connect(&endpoint).unwrap();
            s
        })
        .collect();
    // Both subscriptions in: each SUB has received something.
    let deadline = std::time::Instant::now() + common::WAIT;
    for s in &subs {
        while s.recv_bytes(zmq::DONTWAIT).is_err() {
            publisher.send(body(0)).unwrap();
            std::thread::sleep(Duration::from_millis(1));
            assert!(std::time::Instant::now() < deadline, "no subscription");
        }
    }
    assert_eq!(publisher.peers_per_core().unwrap(), [1, 1]);
    for seq in 0..50_000 {
        publisher.send(body(seq)).unwrap();
    }
    // The cores may still be fanning out what the handle handed them: compare once
    // the counters stand still.
    let (peers, dropped) = loop {
        let before = publisher.stats().unwrap().dropped_hwm;
        let peers = publisher.peer_stats().unwrap();
        if publisher.stats().unwrap().dropped_hwm == before {
            break (peers, before);
        }
    };
    assert_eq!(peers.len(), 2, "{peers:?}");
    assert!(peers.iter().all(|p| p.dropped_hwm > 0), "{peers:?}");
    assert_eq!(peers.iter().map(|p| p.dropped_hwm).sum::<u64>(), dropped);
}
