//! One direction of an inproc connection once its handshake is done: a bounded SPSC
//! [`ring`](crate::ring::channel) of items between two tasks, with wake-ups both ways.
//!
//! The reader parks on the ring (its park handshake) and leaves its waker where the
//! writer finds it; the writer that finds the ring full leaves its waker and raises a
//! [`Signal`], which the reader lowers once it has emptied the ring to half its
//! capacity (so that a writer on another core is woken once per half a ring, not
//! once per item; a reader that empties the ring always passes that mark). Both handshakes are the
//! ones modelled for the ring and the signal: a task never sleeps with work for it
//! in the ring or room for it in the ring and no wake-up on its way. The tasks may run
//! on one executor or on two cores; the wakers' slots are locked only when a side
//! goes to sleep or wakes the other, never per item.
//!
//! Dropping either half closes the lane and wakes the other side: the reader still
//! gets every item pushed before the close, then [`Popped::Drained`].
//!
//! This module is also compiled by `loom-tests/` (tests/lane.rs), which is why it
//! reaches its primitives through `crate::sync`, `crate::ring` and `crate::signal`.

use std::task::Waker;

use crate::ring::{self, Consumer, Producer, PushError, Wake};
use crate::signal::Signal;
use crate::sync::{Arc, Mutex};

/// What both halves share: where each side leaves its waker, and the writer's
/// "waiting for room".
#[derive(Default)]
struct Bells {
    reader: Mutex<Option<Waker>>,
    writer: Mutex<Option<Waker>>,
    room: Signal,
}

fn park(slot: &Mutex<Option<Waker>>, waker: &Waker) {
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    match &*slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

fn ring_bell(slot: &Mutex<Option<Waker>>) {
    let waker = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(w) = waker {
        w.wake();
    }
}

/// A lane holding at most `capacity` items (rounded up to a power of two).
pub fn lane<T>(capacity: usize) -> (LaneTx<T>, LaneRx<T>) {
    let (ring, rx) = ring::channel(capacity);
    let bells = Arc::new(Bells::default());
    (
        LaneTx {
            ring,
            bells: Arc::clone(&bells),
        },
        LaneRx { ring: rx, bells },
    )
}

/// What [`LaneTx::push`] did with an item.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed<T> {
    /// In the lane.
    Done,
    /// The lane is full: the item is handed back, and the writer's waker is woken
    /// once the reader has made room.
    Full(T),
    /// The reader has gone: the item is handed back.
    Closed(T),
}

/// What [`LaneRx::pop`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Popped {
    /// This many items were handed over.
    Items(usize),
    /// Nothing yet: the reader's waker is woken when something arrives.
    Empty,
    /// The writer has gone and everything it pushed was taken.
    Drained,
}

/// The writing half of a lane.
pub struct LaneTx<T> {
    ring: Producer<T>,
    bells: Arc<Bells>,
}

impl<T> LaneTx<T> {
    /// Pushes `item`, waking the reader if it sleeps. On [`Pushed::Full`], `waker`
    /// is woken when there is room.
    pub fn push(&mut self, waker: &Waker, item: T) -> Pushed<T> {
        let item = match self.try_push(item) {
            Err(PushError::Full(item)) => item,
            Err(PushError::Closed(item)) => return Pushed::Closed(item),
            Ok(()) => return Pushed::Done,
        };
        // Announce the wait, then look once more: the reader frees room and then
        // lowers the signal, so one of the two sees the other.
        park(&self.bells.writer, waker);
        self.bells.room.prepare_wait();
        match self.try_push(item) {
            Err(PushError::Full(item)) => Pushed::Full(item),
            Err(PushError::Closed(item)) => Pushed::Closed(item),
            Ok(()) => Pushed::Done,
        }
    }

    /// Items that fit now (a lower bound: the reader may be taking some).
    pub fn room(&self) -> usize {
        self.ring.capacity() - self.ring.len()
    }

    fn try_push(&mut self, item: T) -> Result<(), PushError<T>> {
        if self.ring.try_push(item)? == Wake::Yes {
            ring_bell(&self.bells.reader);
        }
        Ok(())
    }
}

impl<T> Drop for LaneTx<T> {
    fn drop(&mut self) {
        if self.ring.close() == Wake::Yes {
            ring_bell(&self.bells.reader);
        }
    }
}

/// The reading half of a lane.
pub struct LaneRx<T> {
    ring: Consumer<T>,
    bells: Arc<Bells>,
}

impl<T> LaneRx<T> {
    /// Hands up to `max` items (at least 1) to `f`, waking the writer if it waits for
    /// room. On [`Popped::Empty`], `waker` is woken when an item arrives or the writer
    /// goes.
    pub fn pop(&mut self, waker: &Waker, max: usize, mut f: impl FnMut(T)) -> Popped {
        loop {
            let n = self.ring.pop_batch(max.max(1), &mut f);
            if n > 0 {
                if self.ring.len() <= self.ring.capacity() / 2 && self.bells.room.notify() {
                    ring_bell(&self.bells.writer);
                }
                return Popped::Items(n);
            }
            if self.ring.is_drained() {
                return Popped::Drained;
            }
            park(&self.bells.reader, waker);
            if self.ring.prepare_park() {
                return Popped::Empty;
            }
        }
    }
}

impl<T> Drop for LaneRx<T> {
    fn drop(&mut self) {
        self.ring.close();
        // A writer waiting for room must learn that none will come.
        if self.bells.room.notify() {
            ring_bell(&self.bells.writer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn items_pass_in_order_and_a_full_lane_hands_the_item_back() {
        let (mut tx, mut rx) = lane::<u32>(2);
        let w = Waker::noop();
        assert_eq!(tx.push(w, 1), Pushed::Done);
        assert_eq!(tx.push(w, 2), Pushed::Done);
        assert_eq!(tx.push(w, 3), Pushed::Full(3));
        let mut got = Vec::new();
        assert_eq!(rx.pop(w, 8, |v| got.push(v)), Popped::Items(2));
        assert_eq!(got, [1, 2]);
        assert_eq!(rx.pop(w, 8, |v| got.push(v)), Popped::Empty);
        assert_eq!(tx.push(w, 3), Pushed::Done);
        drop(tx);
        assert_eq!(rx.pop(w, 8, |v| got.push(v)), Popped::Items(1));
        assert_eq!(rx.pop(w, 8, |v| got.push(v)), Popped::Drained);
        assert_eq!(got, [1, 2, 3]);
    }

    #[test]
    fn a_writer_learns_that_the_reader_has_gone() {
        let (mut tx, rx) = lane::<u32>(1);
        drop(rx);
        assert_eq!(tx.push(Waker::noop(), 1), Pushed::Closed(1));
    }
}
