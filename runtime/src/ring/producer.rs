//! The pushing half of a ring, and its side of the park handshake.

use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;

use super::shared::{Shared, NOT_PARKED};
use super::sync::{fence, Arc, Ordering};
use super::{PushError, Wake};

/// The pushing half of a ring. `Send` when `T` is; not `Clone`, not `Sync`.
pub struct Producer<T> {
    /// `pub(super)` for the unit tests, which look at the layout.
    pub(super) shared: Arc<Shared<T>>,
    /// Our copy of `shared.tail`: we are its only writer.
    tail: usize,
    /// The consumer's `head` as we last loaded it. `head` only grows, so this copy can only
    /// underestimate the free space: trusting it is always safe.
    head_cache: usize,
    /// The number of the last park we returned `Wake::Yes` for: we never ring twice for one.
    /// A `Cell` so that `close(&self)` can record it.
    woken: Cell<usize>,
    _not_sync: PhantomData<Cell<()>>,
}

impl<T> Producer<T> {
    /// The producer of a new, empty ring.
    pub(super) fn new(shared: Arc<Shared<T>>) -> Self {
        Producer {
            shared,
            tail: 0,
            head_cache: 0,
            woken: Cell::new(NOT_PARKED),
            _not_sync: PhantomData,
        }
    }

    /// Pushes `value`, or hands it back if the ring is full or closed.
    ///
    /// On success, returns whether the consumer parked and must be woken: on [`Wake::Yes`],
    /// ring its doorbell (see the [module docs](super)).
    pub fn try_push(&mut self, value: T) -> Result<Wake, PushError<T>> {
        // Relaxed: `closed` guards no data. A push that races with a consumer-side close may
        // still land; its value is then dropped with the ring, never leaked.
        if self.shared.flags.closed.load(Ordering::Relaxed) {
            return Err(PushError::Closed(value));
        }
        let tail = self.tail;
        let capacity = self.shared.capacity();
        if tail.wrapping_sub(self.head_cache) == capacity {
            // Acquire, paired with the consumer's Release store of `head`: the consumer's move
            // out of every slot below `head` happens before we write into it again.
            self.head_cache = self.shared.head.load(Ordering::Acquire);
            if tail.wrapping_sub(self.head_cache) == capacity {
                return Err(PushError::Full(value));
            }
        }
        // SAFETY: `tail - head_cache < capacity` and `head_cache <= head`, so index `tail` is
        // outside `head..tail`: its slot is uninitialised and the consumer will not read it
        // until we publish it below (invariant 3). If the slot held an earlier item, the
        // consumer moved that out before its Release store of `head`, which our Acquire load
        // of `head` (now or when `head_cache` was loaded) synchronised with.
        self.shared
            .slot(tail)
            .with_mut(|p| unsafe { (*p).write(value) });
        self.tail = tail.wrapping_add(1);
        // Release: the slot write above happens before anything a consumer does after its
        // Acquire load of `tail` sees this value.
        self.shared.tail.store(self.tail, Ordering::Release);
        Ok(self.wake_check())
    }

    /// Closes the ring: later pushes fail, the consumer drains what is left and then
    /// [`Consumer::is_drained`](super::Consumer::is_drained) returns `true`.
    ///
    /// Returns [`Wake::Yes`] if the consumer parked: ring its doorbell so it sees the close.
    pub fn close(&self) -> Wake {
        // Release: a consumer that sees `closed` (Acquire) also sees every push before it.
        self.shared.flags.closed.store(true, Ordering::Release);
        self.wake_check()
    }

    /// Whether either half closed the ring.
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.shared.flags.closed.load(Ordering::Acquire)
    }

    /// The number of items the ring holds (a snapshot: the consumer may be popping).
    #[inline]
    pub fn len(&self) -> usize {
        // Relaxed: a snapshot of a counter, no slot is touched.
        self.tail
            .wrapping_sub(self.shared.head.load(Ordering::Relaxed))
    }

    /// Whether the ring is empty (a snapshot: the consumer may be popping).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many items the ring holds at most (a power of two).
    #[inline]
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// The producer's half of the park handshake, after publishing a push or the close.
    #[inline]
    fn wake_check(&self) -> Wake {
        // SeqCst fence, paired with the one in `Consumer::prepare_park`: the producer does
        // "store tail (or closed); fence; load parked", the consumer "store parked; fence;
        // load tail (and closed)". The two fences are totally ordered, so at least one side
        // sees the other's store: either the consumer's re-check sees the item, or we see the
        // flag. Acquire/Release alone would allow both to read stale values (store buffering)
        // and the consumer would sleep on a non-empty ring.
        fence(Ordering::SeqCst);
        // Relaxed: ordering comes from the fences; `parked` guards no data (the consumer reads
        // the items through `tail`). If the consumer's latest park raised the flag and fenced
        // before our fence, we read that park's number (or a later value); if it fenced after
        // ours, its re-check sees what we published and it does not sleep. Either way an older
        // number we read, or one we already woke, needs no ring.
        let park = self.shared.flags.parked.load(Ordering::Relaxed);
        if park != NOT_PARKED && park != self.woken.get() {
            self.woken.set(park);
            Wake::Yes
        } else {
            Wake::No
        }
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // Close, as `close()` does, but without the wake check: there is nobody to ring the
        // doorbell. A wrapper that owns one calls `close()` first (see the module docs).
        self.shared.flags.closed.store(true, Ordering::Release);
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}
