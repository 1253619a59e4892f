//! A market-data fan-out server: a sharded PUB on a thread-per-core `Runtime`
//! publishes ticks of five symbols to 50 subscribers (40 Monocoque SUBs on a glommio
//! executor of their own, 10 libzmq SUBs on threads), each subscribed to one symbol.
//! The subscribers' connections are spread over the runtime's cores; each tick is
//! handed to every core once and shared by all the subscribers there.
//!
//! It reports what every subscriber got and, from the socket's stats, what was
//! dropped: at each subscriber's SNDHWM (the per-core peer stats) and at the rings
//! between cores. The feed is paced so that neither can fill: every count is whole.
//!
//! Run it with `cargo run -p monocoque --example market_data`.

use std::error::Error;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use monocoque::{Options, Runtime, ShardedSocket, SocketType, Sub};

const SYMBOLS: [&str; 5] = ["ACME", "GLOBEX", "INITECH", "HOOLI", "UMBRELLA"];
const MONOCOQUE_SUBS: usize = 40;
const SUBS: usize = 50;
const TICKS: u64 = 200;

/// How far the subscribers are: got a first message, got "end"; and when to leave.
#[derive(Default)]
struct Progress {
    ready: AtomicUsize,
    finished: AtomicUsize,
    leave: AtomicBool,
}

fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let rt = Runtime::builder().build()?;
    let feed = ShardedSocket::new(&rt, SocketType::Pub, Options::default());
    let endpoint = feed.bind("tcp://127.0.0.1:0")?.to_string();
    println!("feed on {endpoint}, {} cores", rt.cores());
    let progress = Arc::new(Progress::default());

    // Subscriber i follows SYMBOLS[i % 5].
    let (at, p) = (endpoint.clone(), progress.clone());
    let mut subscribers = vec![thread::spawn(move || {
        glommio::LocalExecutor::default().run(async move {
            let tasks: Vec<_> = (0..MONOCOQUE_SUBS)
                .map(|i| {
                    let (at, p) = (at.clone(), p.clone());
                    glommio::spawn_local(async move {
                        let sub = Sub::new();
                        sub.connect(&at)?;
                        sub.subscribe(SYMBOLS[i % 5].as_bytes())?;
                        let mut n = None;
                        while !take(&sub.recv().await?[1], &mut n, &p) {}
                        while !p.leave.load(SeqCst) {
                            glommio::timer::sleep(Duration::from_millis(5)).await;
                        }
                        Ok::<u64, monocoque::Error>(n.unwrap_or(0))
                    })
                })
                .collect();
            let counts = futures_util::future::try_join_all(tasks).await?;
            Ok::<_, Box<dyn Error + Send + Sync>>(counts)
        })
    })];
    for i in MONOCOQUE_SUBS..SUBS {
        let (at, p) = (endpoint.clone(), progress.clone());
        subscribers.push(thread::spawn(move || {
            let sub = zmq::Context::new().socket(zmq::SUB)?;
            sub.set_subscribe(SYMBOLS[i % 5].as_bytes())?;
            sub.connect(&at)?;
            let mut n = None;
            while !take(&sub.recv_multipart(0)?[1], &mut n, &p) {}
            while !p.leave.load(SeqCst) {
                thread::sleep(Duration::from_millis(5));
            }
            Ok::<_, Box<dyn Error + Send + Sync>>(vec![n.unwrap_or(0)])
        }));
    }

    // A PUB cannot tell when a subscription has arrived: say hello until all have.
    while progress.ready.load(SeqCst) < SUBS {
        for s in SYMBOLS {
            feed.send((s, "hello"))?;
        }
        thread::sleep(Duration::from_millis(10));
    }
    for seq in 0..TICKS {
        for s in SYMBOLS {
            feed.send((s, seq.to_string()))?;
        }
        if seq % 20 == 0 {
            thread::sleep(Duration::from_millis(1)); // a paced feed
        }
    }
    for s in SYMBOLS {
        feed.send((s, "end"))?;
    }
    while progress.finished.load(SeqCst) < SUBS {
        thread::sleep(Duration::from_millis(5));
    }

    // Every subscriber is still connected: their peers' stats are still there.
    let stats = feed.stats()?;
    println!(
        "published {}, dropped at SNDHWM {}, at the rings {}",
        stats.sent, stats.dropped_hwm, stats.dropped_ring
    );
    let per_core = feed
        .on_each_core(|shard| async move { shard.peer_stats() })
        .join()?;
    for (core, peers) in per_core.iter().enumerate() {
        let dropped: u64 = peers.iter().map(|p| p.dropped_hwm).sum();
        println!(
            "core {core}: {} subscribers, {dropped} ticks dropped",
            peers.len()
        );
    }
    progress.leave.store(true, SeqCst);
    let mut counts = Vec::new();
    for s in subscribers {
        counts.extend(s.join().expect("subscriber thread")?);
    }
    for (i, n) in counts.iter().enumerate() {
        let kind = ["monocoque", "libzmq"][usize::from(i >= MONOCOQUE_SUBS)];
        println!(
            "subscriber {i:2} ({kind:9} {:8}): {n} ticks in order",
            SYMBOLS[i % 5]
        );
    }
    rt.shutdown();
    Ok(())
}

/// Counts one message into `n` (`None` until the first hello); true at "end".
fn take(body: &[u8], n: &mut Option<u64>, progress: &Progress) -> bool {
    match body {
        b"hello" if n.is_none() => {
            *n = Some(0);
            progress.ready.fetch_add(1, SeqCst);
        }
        b"hello" => {}
        b"end" => {
            progress.finished.fetch_add(1, SeqCst);
            return true;
        }
        seq => {
            let count = n
                .as_mut()
                .expect("ticks start once every subscriber is ready");
            assert_eq!(
                seq,
                count.to_string().as_bytes(),
                "a tick missing or out of order"
            );
            *count += 1;
        }
    }
    false
}
