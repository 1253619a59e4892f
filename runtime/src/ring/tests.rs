//! Unit tests of the ring, on std threads (the loom models are in `loom-tests/`).

use super::shared::{CachePadded, Flags};
use super::sync::{AtomicUsize, Ordering};
use super::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicUsize as StdAtomicUsize;
use std::sync::Arc as StdArc;
use std::thread;
use std::time::{Duration, Instant};

/// Long enough never to trigger on a slow machine; only there so a bug cannot hang CI.
const DEADLINE: Duration = Duration::from_secs(120);

fn assert_send<T: Send>() {}

#[test]
fn halves_are_send() {
    assert_send::<Producer<u64>>();
    assert_send::<Consumer<Vec<u8>>>();
}

#[test]
fn capacity_rounds_up_to_a_power_of_two() {
    for (asked, got) in [(1, 1), (2, 2), (3, 4), (5, 8), (1000, 1024), (1024, 1024)] {
        let (tx, rx) = channel::<u8>(asked);
        assert_eq!(tx.capacity(), got);
        assert_eq!(rx.capacity(), got);
    }
}

#[test]
#[should_panic(expected = "capacity of at least 1")]
fn zero_capacity_panics() {
    let _ = channel::<u8>(0);
}

#[test]
fn cache_padding_separates_indices() {
    assert!(core::mem::align_of::<CachePadded<AtomicUsize>>() >= 64);
    let (tx, _rx) = channel::<u8>(1);
    let head = &*tx.shared.head as *const AtomicUsize as usize;
    let tail = &*tx.shared.tail as *const AtomicUsize as usize;
    let flags = &*tx.shared.flags as *const Flags as usize;
    assert!(head.abs_diff(tail) >= 64);
    assert!(head.abs_diff(flags) >= 64);
    assert!(tail.abs_diff(flags) >= 64);
}

#[test]
fn fifo_full_and_empty_edges_with_wrap_around() {
    let (mut tx, mut rx) = channel::<u32>(4);
    assert!(rx.try_pop().is_none());
    let mut next_in = 0;
    let mut next_out = 0;
    // Many rounds, so the indices wrap the slot array many times.
    for round in 0..50 {
        let burst = round % 5 + 1;
        for _ in 0..burst {
            match tx.try_push(next_in) {
                Ok(wake) => {
                    assert_eq!(wake, Wake::No);
                    next_in += 1;
                }
                Err(PushError::Full(v)) => {
                    assert_eq!(v, next_in, "a full ring hands the value back");
                    assert_eq!(tx.len(), 4);
                    assert_eq!(rx.len(), 4);
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        while let Some(v) = rx.try_pop() {
            assert_eq!(v, next_out);
            next_out += 1;
        }
        assert!(rx.is_empty());
        assert!(tx.is_empty());
    }
    assert_eq!(next_in, next_out);
    assert!(next_in > 50);
}

#[test]
fn pop_batch_respects_max_and_order() {
    let (mut tx, mut rx) = channel::<u32>(8);
    for i in 0..6 {
        assert!(tx.try_push(i).is_ok());
    }
    let mut got = Vec::new();
    assert_eq!(rx.pop_batch(4, |v| got.push(v)), 4);
    assert_eq!(got, [0, 1, 2, 3]);
    assert_eq!(tx.len(), 2, "the batch published the new head");
    assert_eq!(rx.pop_batch(4, |v| got.push(v)), 2);
    assert_eq!(rx.pop_batch(4, |v| got.push(v)), 0);
    assert_eq!(rx.pop_batch(0, |v| got.push(v)), 0);
    assert_eq!(got, [0, 1, 2, 3, 4, 5]);
}

#[test]
fn million_u64_in_order_across_threads() {
    const N: u64 = 1_000_000;
    let (mut tx, mut rx) = channel::<u64>(16);
    let producer = thread::spawn(move || {
        let start = Instant::now();
        let mut full = 0u64;
        for i in 0..N {
            let mut v = i;
            loop {
                match tx.try_push(v) {
                    Ok(_) => break,
                    Err(PushError::Full(back)) => {
                        v = back;
                        full += 1;
                        assert!(start.elapsed() < DEADLINE, "consumer stalled");
                        thread::yield_now();
                    }
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
        }
        full
    });
    let start = Instant::now();
    let mut expect = 0u64;
    let mut single = true;
    while expect < N {
        // Alternate between both ways of popping.
        let got = if single {
            rx.try_pop().map(|v| {
                assert_eq!(v, expect);
                expect += 1;
            })
        } else {
            let n = rx.pop_batch(7, |v| {
                assert_eq!(v, expect);
                expect += 1;
            });
            (n > 0).then_some(())
        };
        single = !single;
        if got.is_none() {
            assert!(start.elapsed() < DEADLINE, "producer stalled at {expect}");
            thread::yield_now();
        }
    }
    producer.join().unwrap();
    assert!(rx.try_pop().is_none());
    assert!(rx.is_drained(), "the producer's drop closed the ring");
}

#[test]
fn park_and_doorbell_across_threads() {
    // The doctest's protocol, with a bounded wait so a lost wake-up fails instead of
    // hanging: `park_timeout` returning after the full timeout with items in the ring
    // means nobody rang.
    const N: u64 = 20_000;
    const PARK: Duration = Duration::from_secs(30);
    let (mut tx, mut rx) = channel::<u64>(4);
    let consumer = thread::spawn(move || {
        let mut expect = 0;
        let mut prepares = 0u64;
        loop {
            rx.pop_batch(usize::MAX, |v| {
                assert_eq!(v, expect);
                expect += 1;
            });
            if rx.is_drained() {
                return (expect, prepares);
            }
            prepares += 1;
            if rx.prepare_park() {
                let start = Instant::now();
                thread::park_timeout(PARK);
                if start.elapsed() >= PARK {
                    assert!(rx.is_empty() && !rx.is_closed(), "lost wake-up");
                }
            }
        }
    });
    let doorbell = consumer.thread().clone();
    let mut wakes = 0u64;
    for i in 0..N {
        let mut v = i;
        loop {
            match tx.try_push(v) {
                Ok(wake) => {
                    if wake.is_yes() {
                        wakes += 1;
                        doorbell.unpark();
                    }
                    break;
                }
                Err(PushError::Full(back)) => {
                    v = back;
                    thread::yield_now();
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        if i % 64 == 0 {
            // Give the consumer a chance to empty the ring and park.
            thread::sleep(Duration::from_micros(50));
        }
    }
    if tx.close().is_yes() {
        wakes += 1;
        doorbell.unpark();
    }
    let (received, prepares) = consumer.join().unwrap();
    assert_eq!(received, N);
    // At most one ring per raise of the flag: no doorbell storm.
    assert!(wakes <= prepares, "{wakes} wakes for {prepares} parks");
}

#[test]
fn prepare_park_refuses_when_items_or_closed() {
    let (mut tx, mut rx) = channel::<u8>(2);
    assert!(rx.prepare_park());
    assert_eq!(tx.try_push(1), Ok(Wake::Yes));
    assert_eq!(tx.try_push(2), Ok(Wake::No), "one wake per park");
    assert!(!rx.prepare_park(), "the ring has items");
    assert_eq!(rx.try_pop(), Some(1));
    assert_eq!(rx.try_pop(), Some(2));
    assert!(rx.prepare_park());
    rx.cancel_park();
    assert_eq!(tx.try_push(3), Ok(Wake::No), "cancelled park needs no wake");
    assert_eq!(rx.try_pop(), Some(3));
    assert!(rx.prepare_park());
    assert_eq!(tx.close(), Wake::Yes, "close wakes a parked consumer");
    assert!(!rx.prepare_park(), "a closed ring is never slept on");
    assert!(rx.is_drained());
}

#[test]
fn close_from_producer_drains_then_reports() {
    let (mut tx, mut rx) = channel::<u8>(4);
    assert!(tx.try_push(1).is_ok());
    assert!(tx.try_push(2).is_ok());
    assert_eq!(tx.close(), Wake::No);
    assert!(tx.is_closed() && rx.is_closed());
    assert!(matches!(tx.try_push(3), Err(PushError::Closed(3))));
    assert!(!rx.is_drained());
    assert_eq!(rx.try_pop(), Some(1));
    assert_eq!(rx.try_pop(), Some(2));
    assert_eq!(rx.try_pop(), None);
    assert!(rx.is_drained());
}

#[test]
fn close_from_consumer_rejects_pushes() {
    let (mut tx, mut rx) = channel::<u8>(4);
    assert!(tx.try_push(1).is_ok());
    rx.close();
    assert!(tx.is_closed());
    let err = tx.try_push(2).unwrap_err();
    assert!(err.is_closed());
    assert_eq!(err.into_inner(), 2);
    assert_eq!(rx.try_pop(), Some(1));
    assert!(rx.is_drained());
}

#[test]
fn dropping_a_half_closes() {
    let (mut tx, rx) = channel::<u8>(4);
    drop(rx);
    assert!(matches!(tx.try_push(1), Err(PushError::Closed(1))));

    let (tx, mut rx) = channel::<u8>(4);
    drop(tx);
    assert!(rx.is_drained());
}

/// Counts drops per item id.
struct Tracked {
    id: usize,
    drops: StdArc<Vec<StdAtomicUsize>>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops[self.id].fetch_add(1, Ordering::Relaxed);
    }
}

fn counters(n: usize) -> StdArc<Vec<StdAtomicUsize>> {
    StdArc::new((0..n).map(|_| StdAtomicUsize::new(0)).collect())
}

fn assert_each_dropped_once(drops: &[StdAtomicUsize]) {
    for (id, d) in drops.iter().enumerate() {
        assert_eq!(d.load(Ordering::Relaxed), 1, "item {id}");
    }
}

#[test]
fn leftovers_are_dropped_exactly_once() {
    for consumer_first in [false, true] {
        const N: usize = 13;
        let drops = counters(N);
        let (mut tx, mut rx) = channel::<Tracked>(8);
        let mut next = 0;
        let mut push = |tx: &mut Producer<Tracked>, n: usize| {
            for _ in 0..n {
                let item = Tracked {
                    id: next,
                    drops: drops.clone(),
                };
                next += 1;
                // A refused item comes back and is dropped here, counted once.
                let _ = tx.try_push(item);
            }
        };
        // Move the indices past the end of the slot array, so leftovers wrap.
        push(&mut tx, 6);
        for _ in 0..5 {
            drop(rx.try_pop().unwrap());
        }
        push(&mut tx, 7); // 8 fit, so all land; the ring now wraps
        assert_eq!(rx.len(), 8);
        assert_eq!(rx.pop_batch(2, drop), 2);
        if consumer_first {
            drop(rx);
            drop(tx);
        } else {
            drop(tx);
            drop(rx);
        }
        assert_each_dropped_once(&drops);
    }
}

#[test]
fn full_ring_hands_back_without_dropping() {
    let drops = counters(3);
    let (mut tx, rx) = channel::<Tracked>(2);
    for id in 0..2 {
        assert!(tx
            .try_push(Tracked {
                id,
                drops: drops.clone()
            })
            .is_ok());
    }
    let back = tx
        .try_push(Tracked {
            id: 2,
            drops: drops.clone(),
        })
        .unwrap_err();
    assert!(back.is_full());
    assert_eq!(drops[2].load(Ordering::Relaxed), 0);
    drop(back);
    drop((tx, rx));
    assert_each_dropped_once(&drops);
}

#[test]
fn panicking_batch_closure_drops_each_item_once() {
    let drops = counters(6);
    let (mut tx, mut rx) = channel::<Tracked>(8);
    for id in 0..6 {
        assert!(tx
            .try_push(Tracked {
                id,
                drops: drops.clone()
            })
            .is_ok());
    }
    let mut seen = 0;
    let result = catch_unwind(AssertUnwindSafe(|| {
        rx.pop_batch(6, |item| {
            seen += 1;
            if item.id == 2 {
                panic!("handler failed");
            }
        })
    }));
    assert!(result.is_err());
    assert_eq!(seen, 3);
    assert_eq!(tx.len(), 3, "the head was published while unwinding");
    assert_eq!(rx.try_pop().map(|t| t.id), Some(3));
    drop((tx, rx));
    assert_each_dropped_once(&drops);
}

#[test]
fn zero_sized_items() {
    let (mut tx, mut rx) = channel::<()>(2);
    assert!(tx.try_push(()).is_ok());
    assert!(tx.try_push(()).is_ok());
    assert!(tx.try_push(()).unwrap_err().is_full());
    assert_eq!(rx.pop_batch(8, |()| {}), 2);
    assert_eq!(rx.try_pop(), None);
}
