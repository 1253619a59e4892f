//! loom models of the SPSC ring (`runtime/src/ring/`) and its park/doorbell handshake.
//!
//! Every model runs the real ring, compiled against loom by this crate. The models shared
//! with the deliberately weakened builds are macros taking the ring module to check, so the
//! weakened runs execute exactly the code that the passing runs do.
//!
//! Bookkeeping that is only read after `join` (drop counts, doorbell rings) uses `std`
//! atomics: it is not part of the protocol under test, and loom need not explore it.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use loom::thread;
use monocoque_loom_tests::ring::{self, PushError, Wake};

/// Runs `f` under loom with a preemption bound of 3 (unless `LOOM_MAX_PREEMPTIONS` is set).
fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

/// Set in the environment of the child process that runs a model expected to fail.
const TEETH_CHILD: &str = "MONOCOQUE_LOOM_TEETH_CHILD";

/// A model that must fail, for the test named `test`. In the test process, re-runs that same
/// test in a child process (loom may abort rather than unwind: a violation found inside an
/// `UnsafeCell` access panics again while unwinding), then checks that the child failed and
/// that its output contains `expected`. In the child, runs `model`.
fn expect_model_failure(test: &str, expected: &str, model: impl FnOnce()) {
    if std::env::var_os(TEETH_CHILD).is_some() {
        model();
        return;
    }
    let output = Command::new(std::env::current_exe().expect("test binary path"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(TEETH_CHILD, "1")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run the test binary again");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success(),
        "loom found no bug in a deliberately broken ring ({test})\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains(expected) || stdout.contains(expected),
        "{test} failed, but not with {expected:?}:\n{stdout}\n{stderr}"
    );
}

/// Pushes `value`, yielding to the other thread while the ring is full.
macro_rules! push_retry {
    ($tx:expr, $value:expr) => {{
        let mut value = $value;
        loop {
            match $tx.try_push(value) {
                Ok(wake) => break wake,
                Err(e) if e.is_full() => {
                    value = e.into_inner();
                    thread::yield_now();
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
    }};
}

/// One heap-owning item handed from a producer thread to a consumer thread. A ring that
/// publishes the slot without Release/Acquire lets the consumer read it before the write.
macro_rules! handoff {
    ($($ring:ident)::+) => {{
        use $($ring)::+ as r;
        model(|| {
            let (mut tx, mut rx) = r::channel::<String>(1);
            let producer = thread::spawn(move || {
                // Nobody parks in this model, so there is nothing to wake.
                assert!(!tx.try_push(String::from("hello")).unwrap().is_yes());
                tx
            });
            let value = loop {
                match rx.try_pop() {
                    Some(v) => break v,
                    None => thread::yield_now(),
                }
            };
            assert_eq!(value, "hello");
            drop(producer.join().unwrap());
        });
    }};
}

/// The one-shot park handshake. The producer pushes two items and counts the doorbell rings
/// it is asked for; the consumer pops what it sees, then parks if `prepare_park` lets it and
/// stops there ("asleep"). A sleeping consumer with items in the ring and no ring of the
/// doorbell is a lost wake-up; more than one ring for one park is a storm.
macro_rules! park_once {
    ($($ring:ident)::+) => {{
        use $($ring)::+ as r;
        model(|| {
            let (mut tx, mut rx) = r::channel::<u32>(2);
            let rings = Arc::new(AtomicUsize::new(0));
            let producer = {
                let rings = rings.clone();
                thread::spawn(move || {
                    for i in 0..2 {
                        if tx.try_push(i).unwrap().is_yes() {
                            rings.fetch_add(1, Relaxed);
                        }
                    }
                    // Returned, not dropped: dropping closes the ring, and a consumer that
                    // sees the close does not park, which would hide a lost wake-up.
                    tx
                })
            };
            while rx.try_pop().is_some() {}
            let asleep = rx.prepare_park();
            let tx = producer.join().unwrap();
            let rings = rings.load(Relaxed);
            assert!(rings <= 1, "doorbell storm: {rings} rings for one park");
            if asleep && !rx.is_empty() {
                assert_eq!(
                    rings,
                    1,
                    "lost wake-up: consumer asleep on {} items, doorbell never rung",
                    rx.len()
                );
            }
            drop(tx);
        });
    }};
}

#[test]
fn handoff_publishes_the_slot() {
    handoff!(monocoque_loom_tests::ring);
}

#[test]
fn push_pop_wraps_around_capacity_2() {
    model(|| {
        let (mut tx, mut rx) = ring::channel::<u32>(2);
        let producer = thread::spawn(move || {
            for i in 0..3 {
                let _ = push_retry!(tx, i);
            }
        });
        for expect in 0..3 {
            let v = loop {
                match rx.try_pop() {
                    Some(v) => break v,
                    None => thread::yield_now(),
                }
            };
            assert_eq!(v, expect);
        }
        producer.join().unwrap();
        assert_eq!(rx.try_pop(), None);
        assert!(rx.is_drained());
    });
}

#[test]
fn full_and_empty_edges() {
    model(|| {
        let (mut tx, mut rx) = ring::channel::<u32>(2);
        let producer = thread::spawn(move || {
            // 0 and 1 always fit; 2 fits only if the consumer popped and we saw it.
            let results: Vec<_> = (0..3).map(|i| tx.try_push(i)).collect();
            assert!(tx.len() <= 2);
            (tx, results)
        });
        // Empty edge: may run before anything is published.
        let first = rx.try_pop();
        if let Some(v) = first {
            assert_eq!(v, 0);
        }
        let (tx, results) = producer.join().unwrap();
        assert!(results[0].is_ok() && results[1].is_ok());
        let pushed = match &results[2] {
            Ok(_) => {
                assert!(first.is_some(), "pushed a third item into a full ring");
                3
            }
            Err(PushError::Full(v)) => {
                assert_eq!(*v, 2, "a full ring hands back the value it refused");
                2
            }
            Err(e) => panic!("unexpected {e:?}"),
        };
        assert!(rx.len() <= rx.capacity());
        let mut rest = Vec::new();
        while let Some(v) = rx.try_pop() {
            rest.push(v);
        }
        let start = u32::from(first.is_some());
        assert_eq!(rest, (start..pushed).collect::<Vec<_>>());
        drop(tx);
    });
}

/// An item that counts its drops in a shared table, by id.
struct Tracked {
    id: usize,
    drops: Arc<Vec<AtomicUsize>>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops[self.id].fetch_add(1, Relaxed);
    }
}

#[test]
fn close_with_items_in_flight_drops_each_item_once() {
    const N: usize = 3;
    model(|| {
        let drops: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
        let (mut tx, mut rx) = ring::channel::<Tracked>(2);
        let producer = {
            let drops = drops.clone();
            thread::spawn(move || {
                let mut accepted = Vec::new();
                for id in 0..N {
                    let item = Tracked {
                        id,
                        drops: drops.clone(),
                    };
                    match tx.try_push(item) {
                        Ok(_) => accepted.push(id),
                        // Refused (full, or closed by the consumer): dropped right here.
                        Err(e) => drop(e.into_inner()),
                    }
                }
                // Dropping the producer closes the ring too.
                accepted
            })
        };
        let mut popped = Vec::new();
        if let Some(item) = rx.try_pop() {
            popped.push(item.id);
        }
        rx.close();
        if let Some(item) = rx.try_pop() {
            popped.push(item.id);
        }
        // The consumer goes away with items possibly still in the ring.
        drop(rx);
        let accepted = producer.join().unwrap();
        assert!(popped.windows(2).all(|w| w[0] < w[1]));
        assert!(popped.iter().all(|id| accepted.contains(id)));
        for (id, d) in drops.iter().enumerate() {
            assert_eq!(
                d.load(Relaxed),
                1,
                "item {id} dropped {} times",
                d.load(Relaxed)
            );
        }
    });
}

#[test]
fn drained_only_after_every_item_arrived() {
    model(|| {
        let (mut tx, mut rx) = ring::channel::<u32>(2);
        let producer = thread::spawn(move || {
            // Nobody parks in this model, so there is nothing to wake.
            assert_eq!(tx.try_push(0), Ok(Wake::No));
            assert_eq!(tx.try_push(1), Ok(Wake::No));
            assert_eq!(tx.close(), Wake::No);
        });
        let mut got = Vec::new();
        loop {
            if let Some(v) = rx.try_pop() {
                got.push(v);
            } else if rx.is_drained() {
                break;
            } else {
                thread::yield_now();
            }
        }
        assert_eq!(
            got,
            [0, 1],
            "is_drained before every pushed item was popped"
        );
        producer.join().unwrap();
    });
}

#[test]
fn pop_batch_frees_slots_for_reuse() {
    model(|| {
        // Capacity 2 and three items: the third reuses a slot that a batch freed.
        let (mut tx, mut rx) = ring::channel::<u32>(2);
        let producer = thread::spawn(move || {
            for i in 0..3 {
                let _ = push_retry!(tx, i);
            }
        });
        let mut got = Vec::new();
        while got.len() < 3 {
            if rx.pop_batch(2, |v| got.push(v)) == 0 {
                thread::yield_now();
            }
        }
        assert_eq!(got, [0, 1, 2]);
        producer.join().unwrap();
        assert!(rx.is_drained());
    });
}

#[test]
fn park_no_lost_wakeup_no_storm() {
    park_once!(monocoque_loom_tests::ring);
}

#[test]
fn close_wakes_a_parked_consumer() {
    model(|| {
        let (mut tx, mut rx) = ring::channel::<u32>(2);
        let rings = Arc::new(AtomicUsize::new(0));
        let producer = {
            let rings = rings.clone();
            thread::spawn(move || {
                if tx.try_push(7).unwrap().is_yes() {
                    rings.fetch_add(1, Relaxed);
                }
                if tx.close().is_yes() {
                    rings.fetch_add(1, Relaxed);
                }
                tx
            })
        };
        let mut got = Vec::new();
        while let Some(v) = rx.try_pop() {
            got.push(v);
        }
        let asleep = !rx.is_drained() && rx.prepare_park();
        let tx = producer.join().unwrap();
        let rings = rings.load(Relaxed);
        assert!(rings <= 1, "doorbell storm: {rings} rings for one park");
        if asleep {
            assert_eq!(
                rings, 1,
                "consumer asleep on a ring that closed, never woken"
            );
        }
        drop(tx);
    });
}

/// The full protocol with a real (loom) doorbell: the consumer thread sleeps on its park
/// token, the producer unparks it on `Wake::Yes`. A lost wake-up leaves the consumer blocked
/// forever after the producer is done, which loom reports as a deadlock.
macro_rules! park_token {
    ($($ring:ident)::+) => {{
        use $($ring)::+ as r;
        model(|| {
            let (mut tx, mut rx) = r::channel::<u32>(2);
            let consumer = thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    if rx.pop_batch(usize::MAX, |v| got.push(v)) > 0 {
                        continue;
                    }
                    if rx.is_drained() {
                        return got;
                    }
                    if rx.prepare_park() {
                        thread::park();
                    }
                }
            });
            let doorbell = consumer.thread().clone();
            for i in 0..2 {
                if push_retry!(tx, i).is_yes() {
                    doorbell.unpark();
                }
            }
            if tx.close().is_yes() {
                doorbell.unpark();
            }
            assert_eq!(consumer.join().unwrap(), [0, 1]);
        });
    }};
}

#[test]
fn park_token_doorbell_delivers_everything() {
    park_token!(monocoque_loom_tests::ring);
}

/// Teeth: with Relaxed index stores and loads, loom must see the consumer read the slot
/// concurrently with the producer's write.
#[test]
fn teeth_relaxed_indices_are_caught() {
    expect_model_failure(
        "teeth_relaxed_indices_are_caught",
        "Causality violation",
        || handoff!(monocoque_loom_tests::weak_publish::ring),
    );
}

/// Teeth: without the SeqCst fences the park handshake loses wake-ups, and the same model
/// that passes above must find one.
#[test]
fn teeth_unfenced_park_is_caught() {
    expect_model_failure("teeth_unfenced_park_is_caught", "lost wake-up", || {
        park_once!(monocoque_loom_tests::weak_park::ring)
    });
}

/// Teeth: the same fence-less ring with a real doorbell deadlocks.
#[test]
fn teeth_unfenced_park_deadlocks() {
    expect_model_failure("teeth_unfenced_park_deadlocks", "deadlock", || {
        park_token!(monocoque_loom_tests::weak_park::ring)
    });
}
