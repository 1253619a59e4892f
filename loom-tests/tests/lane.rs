//! loom models of `runtime/src/inproc/lane.rs`, one direction of an inproc connection:
//! a writer that fills the lane and a reader that empties it, each a task that sleeps
//! when it cannot go on, always wake each other (no lost wake-up either way), every
//! item arrives once and in order, and either side going away wakes the other.
//!
//! The tasks are futures run by loom's `block_on`, whose waker is loom's: a task that
//! sleeps and is never woken is reported as a deadlock.
//!
//! Teeth, checked by hand when this was written: without `room.prepare_wait()` in
//! `LaneTx::push`, `a_full_lane_wakes_its_writer` fails (the writer sleeps on a
//! lane with room); without the `ring_bell` in `LaneTx::try_push`, the first two fail
//! (the reader sleeps with an item in the lane).

use std::future::poll_fn;
use std::task::Poll;

use loom::future::block_on;
use loom::thread;
use monocoque_loom_tests::lane::{lane, LaneRx, LaneTx, Popped, Pushed};

fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

/// Pushes `0..n`, sleeping while the lane is full; stops early if the reader goes.
/// Returns how many went in.
fn write(tx: &mut LaneTx<u32>, n: u32) -> u32 {
    block_on(async {
        for i in 0..n {
            let mut item = Some(i);
            let closed = poll_fn(|cx| match tx.push(cx.waker(), item.take().expect("item")) {
                Pushed::Done => Poll::Ready(false),
                Pushed::Full(v) => {
                    item = Some(v);
                    Poll::Pending
                }
                Pushed::Closed(_) => Poll::Ready(true),
            })
            .await;
            if closed {
                return i;
            }
        }
        n
    })
}

/// Takes everything until the writer has gone, sleeping while the lane is empty.
fn read_all(rx: &mut LaneRx<u32>, max: usize) -> Vec<u32> {
    let mut got = Vec::new();
    block_on(poll_fn(|cx| loop {
        match rx.pop(cx.waker(), max, |v| got.push(v)) {
            Popped::Items(_) => continue,
            Popped::Empty => return Poll::Pending,
            Popped::Drained => return Poll::Ready(()),
        }
    }));
    got
}

#[test]
fn items_arrive_in_order_and_the_reader_learns_the_end() {
    model(|| {
        let (mut tx, mut rx) = lane::<u32>(2);
        let writer = thread::spawn(move || {
            assert_eq!(write(&mut tx, 2), 2);
        });
        assert_eq!(read_all(&mut rx, 1), [0, 1]);
        writer.join().unwrap();
    });
}

#[test]
fn a_full_lane_wakes_its_writer() {
    model(|| {
        let (mut tx, mut rx) = lane::<u32>(1);
        let writer = thread::spawn(move || {
            assert_eq!(write(&mut tx, 2), 2);
        });
        assert_eq!(read_all(&mut rx, 4), [0, 1]);
        writer.join().unwrap();
    });
}

#[test]
fn a_writer_waiting_for_room_learns_that_the_reader_went() {
    model(|| {
        let (mut tx, rx) = lane::<u32>(1);
        let writer = thread::spawn(move || write(&mut tx, 2));
        drop(rx);
        let sent = writer.join().unwrap();
        assert!(sent <= 1, "{sent} pushed into a lane of one with no reader");
    });
}

/// A lane of two: the reader wakes the writer only once the lane is half empty, and
/// the writer, asleep on a full lane, is still always woken.
#[test]
fn the_half_empty_mark_still_wakes_the_writer() {
    model(|| {
        let (mut tx, mut rx) = lane::<u32>(2);
        let writer = thread::spawn(move || {
            assert_eq!(write(&mut tx, 3), 3);
        });
        assert_eq!(read_all(&mut rx, 1), [0, 1, 2]);
        writer.join().unwrap();
    });
}
