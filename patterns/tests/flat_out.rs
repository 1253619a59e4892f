//! A publisher that loops on `send` with no yield of its own must not starve its
//! connections or the other tasks of its executor (DESIGN.md, "Cooperative scheduling
//! is the library's job"): for two seconds of flat-out publishing, every subscriber
//! that keeps up sees new messages in every 100 ms window, a 10 ms timer on the
//! publisher's executor keeps ticking, and a subscriber that has stopped reading
//! changes neither. Checked in local mode, from a `ShardRef` on the publisher's core
//! and from the `ShardedSocket` handle on a plain thread, against libzmq SUBs and
//! Monocoque SUBs.
//!
//! These tests measure progress, not speed: the thresholds (a new message per 100 ms,
//! 150 of 200 timer ticks) are far below what any working build delivers.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{run, within, WAIT};
use monocoque::{Options, Pub, Runtime, ShardedSocket, SocketType, Sub};

/// How long the publisher loops flat out.
const RUN: Duration = Duration::from_secs(2);
/// Every fast subscriber's newest message must advance within each such window.
const WINDOW: Duration = Duration::from_millis(100);
/// The timer on the publisher's executor.
const TICK: Duration = Duration::from_millis(10);
/// Ticks it must reach during [`RUN`] (200 if perfectly on time).
const MIN_TICKS: u32 = 150;
/// The library's time slice, after which loops yield through the reactor.
const SLICE: Duration = Duration::from_micros(500);
/// Subscribers that read everything they get.
const FAST_SUBS: usize = 3;

/// The tests of this file measure timing on a shared 2-core machine: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Copy, Debug)]
enum Subs {
    Libzmq,
    Monocoque,
}

/// What the subscribers share with the test: each fast one's newest sequence number
/// (plus one; 0 = nothing yet), and the flag that ends them.
#[derive(Clone)]
struct Board {
    newest: Arc<Vec<AtomicU64>>,
    stop: Arc<AtomicBool>,
}

impl Board {
    fn new() -> Board {
        Board {
            newest: Arc::new((0..FAST_SUBS).map(|_| AtomicU64::new(0)).collect()),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    fn snapshot(&self) -> Vec<u64> {
        self.newest
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect()
    }

    fn all_receiving(&self) -> bool {
        self.snapshot().iter().all(|&n| n > 0)
    }

    fn record(&self, sub: usize, body: &[u8]) {
        let seq = u64::from_be_bytes(body[..8].try_into().expect("8-byte sequence number"));
        self.newest[sub].fetch_max(seq + 1, Ordering::Relaxed);
    }

    /// Samples every fast subscriber each [`WINDOW`] until `stop`; the samples.
    fn sample(&self, stop: Arc<AtomicBool>) -> JoinHandle<Vec<Vec<u64>>> {
        let board = self.clone();
        std::thread::spawn(move || {
            let mut samples = vec![board.snapshot()];
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(WINDOW);
                samples.push(board.snapshot());
            }
            samples
        })
    }
}

/// Starts `FAST_SUBS` subscribers that read everything and one that never reads, all
/// subscribed to everything and connected to `endpoint`.
fn start_subscribers(kind: Subs, endpoint: &str, board: &Board) -> Vec<JoinHandle<()>> {
    match kind {
        Subs::Libzmq => {
            let mut threads: Vec<_> = (0..FAST_SUBS)
                .map(|i| libzmq_sub(endpoint.to_string(), board.clone(), Some(i)))
                .collect();
            threads.push(libzmq_sub(endpoint.to_string(), board.clone(), None));
            threads
        }
        Subs::Monocoque => vec![monocoque_subs(endpoint.to_string(), board.clone())],
    }
}

/// A libzmq SUB in its own thread: `Some(i)` reads and records as fast subscriber i,
/// `None` never reads (with small queues, so it stalls quickly).
fn libzmq_sub(endpoint: String, board: Board, fast: Option<usize>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let s = ctx.socket(zmq::SUB).unwrap();
        s.set_linger(0).unwrap();
        s.set_rcvtimeo(20).unwrap();
        if fast.is_none() {
            s.set_rcvhwm(10).unwrap();
            s.set_rcvbuf(4096).unwrap();
        }
        s.set_subscribe(b"").unwrap();
        s.connect(&endpoint).unwrap();
        while !board.stop.load(Ordering::SeqCst) {
            match fast {
                Some(i) => {
                    if let Ok(m) = s.recv_bytes(0) {
                        board.record(i, &m);
                    }
                }
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    })
}

/// Monocoque SUBs on one executor of their own, one task each: the fast ones record
/// what they receive, the last one never calls `recv`.
fn monocoque_subs(endpoint: String, board: Board) -> JoinHandle<()> {
    std::thread::spawn(move || {
        run(move || async move {
            let stalled = Sub::with_options(Options {
                rcvhwm: 10,
                ..Options::default()
            });
            stalled.connect(&endpoint).unwrap();
            stalled.subscribe(b"").unwrap();
            let readers: Vec<_> = (0..FAST_SUBS)
                .map(|i| {
                    let sub = Sub::new();
                    sub.connect(&endpoint).unwrap();
                    sub.subscribe(b"").unwrap();
                    let board = board.clone();
                    glommio::spawn_local(async move {
                        while !board.stop.load(Ordering::SeqCst) {
                            let next = glommio::timer::timeout(Duration::from_millis(20), async {
                                Ok(sub.recv().await)
                            })
                            .await;
                            if let Ok(Ok(m)) = next {
                                board.record(i, &m[0]);
                            }
                        }
                    })
                })
                .collect();
            for r in readers {
                r.await;
            }
            drop(stalled);
        })
    })
}

/// The body of message `seq`.
fn numbered(seq: u64) -> Vec<u8> {
    seq.to_be_bytes().to_vec()
}

/// Checks what the sampler saw while the publisher ran.
fn check_progress(samples: &[Vec<u64>]) {
    assert!(
        samples.len() >= (RUN.as_millis() / WINDOW.as_millis()) as usize / 2,
        "only {} samples",
        samples.len()
    );
    for (w, pair) in samples.windows(2).enumerate() {
        for (sub, (before, after)) in pair[0].iter().zip(&pair[1]).enumerate() {
            assert!(
                after > before,
                "subscriber {sub} received nothing new in window {w} \
                 (newest {before} -> {after}); all samples: {samples:?}"
            );
        }
    }
}

fn check_ticks(ticks: u32, what: &str) {
    assert!(
        ticks >= MIN_TICKS,
        "a {TICK:?} timer on {what} ticked {ticks} times in {RUN:?} (at least {MIN_TICKS} expected)"
    );
}

/// Counts ticks of a [`TICK`] timer on the current executor until `stop`.
fn spawn_ticker(ticks: Arc<AtomicU32>, stop: Arc<AtomicBool>) {
    glommio::spawn_local(async move {
        while !stop.load(Ordering::SeqCst) {
            glommio::timer::sleep(TICK).await;
            ticks.fetch_add(1, Ordering::Relaxed);
        }
    })
    .detach();
}

/// Slow joiner: publishes with pauses until every fast subscriber has received
/// something (their subscriptions have arrived). `send` is one publish.
async fn until_all_receive<F, Fut>(board: &Board, mut send: F) -> u64
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut seq = 0;
    within("every subscriber's first message", async {
        while !board.all_receiving() {
            send(seq).await;
            seq += 1;
            glommio::timer::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    seq
}

/// Local mode: a `Pub` on the test's executor, looping on `send` as the README shows.
fn local(kind: Subs) {
    let _serial = serial();
    let board = Board::new();
    let b = board.clone();
    let (ticks, samples, subs) = run(move || async move {
        let publisher = Pub::new();
        let endpoint = publisher.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let subs = start_subscribers(kind, &endpoint, &b);
        let mut seq = until_all_receive(&b, |n| {
            let p = &publisher;
            async move { p.send(numbered(n)).await.unwrap() }
        })
        .await;

        let ticks = Arc::new(AtomicU32::new(0));
        let done = Arc::new(AtomicBool::new(false));
        spawn_ticker(Arc::clone(&ticks), Arc::clone(&done));
        let sampler = b.sample(Arc::clone(&done));
        let start = Instant::now();
        while start.elapsed() < RUN {
            publisher.send(numbered(seq)).await.unwrap();
            seq += 1;
        }
        done.store(true, Ordering::SeqCst);
        let ticks = ticks.load(Ordering::Relaxed);
        b.stop.store(true, Ordering::SeqCst);
        (ticks, sampler.join().unwrap(), subs)
    });
    for s in subs {
        s.join().unwrap();
    }
    check_ticks(ticks, "the publisher's executor");
    check_progress(&samples);
}

#[test]
fn local_pub_flat_out_libzmq_subs() {
    local(Subs::Libzmq);
}

#[test]
fn local_pub_flat_out_monocoque_subs() {
    local(Subs::Monocoque);
}

/// A sharded PUB over both cores; `from_core` publishes from a handler on core 0
/// through its `ShardRef`, otherwise the test thread publishes through the handle.
fn sharded(kind: Subs, from_core: bool) {
    let _serial = serial();
    let rt = Runtime::builder().cores(vec![0, 1]).build().unwrap();
    let feed = ShardedSocket::new(&rt, SocketType::Pub, Options::default());
    let endpoint = feed.bind("tcp://127.0.0.1:0").unwrap().to_string();
    let board = Board::new();
    let subs = start_subscribers(kind, &endpoint, &board);

    // A ticker on every core.
    let ticks: Arc<Vec<AtomicU32>> = Arc::new((0..2).map(|_| AtomicU32::new(0)).collect());
    let running = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    {
        let (ticks, running, done) = (Arc::clone(&ticks), Arc::clone(&running), done.clone());
        rt.on_each_core(move |core| {
            let (ticks, running, done) = (Arc::clone(&ticks), running.clone(), done.clone());
            async move {
                while !done.load(Ordering::SeqCst) {
                    glommio::timer::sleep(TICK).await;
                    if running.load(Ordering::SeqCst) {
                        ticks[core].fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }

    let samples = if from_core {
        let (tx, rx) = std::sync::mpsc::channel();
        let tx = Mutex::new(tx);
        let b = board.clone();
        let (running, done) = (Arc::clone(&running), Arc::clone(&done));
        feed.on_each_core(move |shard| {
            let tx = tx.lock().unwrap().clone();
            let b = b.clone();
            let (running, done) = (running.clone(), done.clone());
            async move {
                if shard.core_index() != 0 {
                    return;
                }
                let seq = Rc::new(Cell::new(0));
                let s = Rc::clone(&seq);
                seq.set(
                    until_all_receive(&b, |n| {
                        let shard = &shard;
                        async move { shard.send(numbered(n)).await.unwrap() }
                    })
                    .await,
                );
                let sampler = b.sample(Arc::clone(&done));
                running.store(true, Ordering::SeqCst);
                let start = Instant::now();
                while start.elapsed() < RUN {
                    shard.send(numbered(s.get())).await.unwrap();
                    s.set(s.get() + 1);
                }
                running.store(false, Ordering::SeqCst);
                done.store(true, Ordering::SeqCst);
                let _ = tx.send(sampler.join().unwrap());
            }
        });
        rx.recv_timeout(RUN + 3 * WAIT)
            .expect("the publishing handler finished")
    } else {
        // Slow joiner from the plain thread.
        let mut seq = 0;
        let deadline = Instant::now() + WAIT;
        while !board.all_receiving() {
            assert!(Instant::now() < deadline, "subscribers never received");
            feed.send(numbered(seq)).unwrap();
            seq += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
        let sampler = board.sample(Arc::clone(&done));
        running.store(true, Ordering::SeqCst);
        let start = Instant::now();
        while start.elapsed() < RUN {
            feed.send(numbered(seq)).unwrap();
            seq += 1;
        }
        running.store(false, Ordering::SeqCst);
        done.store(true, Ordering::SeqCst);
        sampler.join().unwrap()
    };
    board.stop.store(true, Ordering::SeqCst);
    for s in subs {
        s.join().unwrap();
    }
    rt.shutdown();
    // The publisher's executors: core 0 for a handler's `ShardRef`, every core's pump
    // for the handle.
    let publishing = if from_core { 1 } else { ticks.len() };
    for (core, t) in ticks.iter().enumerate().take(publishing) {
        check_ticks(t.load(Ordering::Relaxed), &format!("core {core}"));
    }
    check_progress(&samples);
}

#[test]
fn shard_ref_flat_out_libzmq_subs() {
    sharded(Subs::Libzmq, true);
}

#[test]
fn shard_ref_flat_out_monocoque_subs() {
    sharded(Subs::Monocoque, true);
}

#[test]
fn handle_flat_out_libzmq_subs() {
    sharded(Subs::Libzmq, false);
}

/// A REQ in lock-step with a libzmq REP for long enough that its sends and receives
/// yield through the reactor many times: no yield may fall between queueing a request
/// and recording which peer's reply it awaits (a reply arriving then was dropped).
#[test]
fn req_lockstep_across_time_slices() {
    const ROUND_TRIPS: usize = 5000;
    let _serial = serial();
    let ctx = zmq::Context::new();
    let rep = common::zsock(&ctx, zmq::REP);
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = rep.get_last_endpoint().unwrap().unwrap();
    let echo = std::thread::spawn(move || {
        for _ in 0..ROUND_TRIPS {
            let m = rep.recv_bytes(0).expect("request");
            rep.send(m, 0).unwrap();
        }
    });
    run(move || async move {
        let req = monocoque::Req::new();
        req.connect(&endpoint).unwrap();
        let start = Instant::now();
        for i in 0..ROUND_TRIPS as u64 {
            req.send(numbered(i)).await.unwrap();
            let reply = within("the reply", req.recv()).await.unwrap();
            assert_eq!(reply[0], numbered(i));
        }
        assert!(
            start.elapsed() > 4 * SLICE,
            "the run spans several time slices"
        );
    });
    echo.join().unwrap();
}
