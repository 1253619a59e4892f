//! The popping half of a ring, and its side of the park handshake.

use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;

use super::shared::{Shared, NOT_PARKED};
use super::sync::{fence, Arc, Ordering};

/// The popping half of a ring. `Send` when `T` is; not `Clone`, not `Sync`.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// Our copy of `shared.head`: we are its only writer. Equal to it whenever no method of
    /// ours is running.
    head: usize,
    /// The producer's `tail` as we last loaded it. `tail` only grows, so this copy can only
    /// underestimate the items available: trusting it is always safe.
    tail_cache: usize,
    /// The number of our latest park (the value `prepare_park` last raised the flag to).
    park: usize,
    _not_sync: PhantomData<Cell<()>>,
}

impl<T> Consumer<T> {
    /// The consumer of a new, empty ring.
    pub(super) fn new(shared: Arc<Shared<T>>) -> Self {
        Consumer {
            shared,
            head: 0,
            tail_cache: 0,
            park: NOT_PARKED,
            _not_sync: PhantomData,
        }
    }

    /// Pops the oldest item, or `None` if the ring is empty (see [`is_drained`](Self::is_drained)
    /// to tell "empty for now" from "empty for good").
    pub fn try_pop(&mut self) -> Option<T> {
        let head = self.head;
        if head == self.tail_cache && self.refresh_tail() == 0 {
            return None;
        }
        // SAFETY: `head < tail_cache <= tail`, so slot `head` is initialised (invariant 3),
        // its write happened before the producer's Release store of `tail` that our Acquire
        // load saw, and the producer will not touch it again until we publish `head + 1`.
        let value = self
            .shared
            .slot(head)
            .with(|p| unsafe { (*p).assume_init_read() });
        self.head = head.wrapping_add(1);
        // Release: our move out of the slot happens before the producer, after its Acquire
        // load of `head`, writes into it again.
        self.shared.head.store(self.head, Ordering::Release);
        Some(value)
    }

    /// Pops up to `max` items, oldest first, handing each to `f`, and returns how many.
    ///
    /// The freed space is published to the producer once, at the end of the batch. If `f`
    /// panics, the items it already received are gone from the ring, the others stay.
    pub fn pop_batch<F: FnMut(T)>(&mut self, max: usize, mut f: F) -> usize {
        let mut available = self.tail_cache.wrapping_sub(self.head);
        if available < max {
            available = self.refresh_tail();
        }
        let n = available.min(max);
        if n == 0 {
            return 0;
        }
        // Publishes `head` when the batch ends, also if `f` unwinds.
        let batch = PublishHead(self);
        for _ in 0..n {
            let head = batch.0.head;
            // SAFETY: as in `try_pop`: `head` is below `tail_cache`, so its slot is initialised
            // and published to us, and the producer will not reuse it before we publish a
            // `head` past it. `head` is advanced before `f` runs, so an unwinding `f` cannot
            // make us read this slot twice.
            let value = batch
                .0
                .shared
                .slot(head)
                .with(|p| unsafe { (*p).assume_init_read() });
            batch.0.head = head.wrapping_add(1);
            f(value);
        }
        n
    }

    /// Whether the ring is closed and empty: nothing will ever be popped again.
    ///
    /// After the producer closed, this is exact: every item pushed before the close is popped
    /// before this returns `true`. After a consumer-side close, a push that raced with it may
    /// still land; it is dropped with the ring.
    pub fn is_drained(&mut self) -> bool {
        // Acquire, paired with the Release store in `close`: if we see `closed`, the reload of
        // `tail` below sees every push that came before it.
        self.shared.flags.closed.load(Ordering::Acquire) && self.refresh_tail() == 0
    }

    /// The consumer's half of the park handshake: announces that this consumer is about to
    /// sleep, then re-checks the ring.
    ///
    /// Returns `true` if the consumer is now parked: it may sleep until its doorbell rings
    /// (the producer's next push or close returns [`Wake::Yes`](super::Wake::Yes)). Returns
    /// `false`, without leaving the flag raised, if the ring has items or is closed: do not
    /// sleep, pop.
    pub fn prepare_park(&mut self) -> bool {
        if self.tail_cache != self.head {
            return false;
        }
        // Numbered so the producer can tell this park from the ones it already woke. Skipping
        // 0 on wrap-around keeps `NOT_PARKED` free; a wrapped number could only be mistaken
        // for an old one after 2^64 parks (2^32 on 32-bit targets) without a single wake.
        self.park = match self.park.wrapping_add(1) {
            NOT_PARKED => 1,
            n => n,
        };
        // Relaxed: the fence below orders it (see `Producer::wake_check`).
        self.shared.flags.parked.store(self.park, Ordering::Relaxed);
        // SeqCst fence, paired with the producer's: after it, either our loads below see its
        // push (or close), or its load of `parked` sees our store and it will wake us.
        fence(Ordering::SeqCst);
        if self.refresh_tail() != 0 || self.shared.flags.closed.load(Ordering::Acquire) {
            self.shared
                .flags
                .parked
                .store(NOT_PARKED, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Lowers the `parked` flag if it is still raised: the consumer is awake (it woke for
    /// another reason, or another ring had work) and needs no doorbell from this ring.
    ///
    /// Optional: a flag left raised costs at most one spurious doorbell ring.
    pub fn cancel_park(&self) {
        let parked = &self.shared.flags.parked;
        // Relaxed: the flag guards no data. We are its only writer, so the load returns our
        // own latest store; loading first spares the line the producer reads on every push.
        if parked.load(Ordering::Relaxed) != NOT_PARKED {
            parked.store(NOT_PARKED, Ordering::Relaxed);
        }
    }

    /// Closes the ring: later pushes fail. Items already in the ring can still be popped.
    pub fn close(&self) {
        // Release for symmetry with the producer; nothing is published through it here.
        self.shared.flags.closed.store(true, Ordering::Release);
    }

    /// Whether either half closed the ring. Items may remain: see [`is_drained`](Self::is_drained).
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.shared.flags.closed.load(Ordering::Acquire)
    }

    /// The number of items the ring holds (a snapshot: the producer may be pushing).
    #[inline]
    pub fn len(&self) -> usize {
        // Relaxed: a snapshot of a counter, no slot is touched.
        self.shared
            .tail
            .load(Ordering::Relaxed)
            .wrapping_sub(self.head)
    }

    /// Whether the ring is empty (a snapshot: the producer may be pushing).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many items the ring holds at most (a power of two).
    #[inline]
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// Reloads the producer's `tail` and returns how many items are available.
    #[inline]
    fn refresh_tail(&mut self) -> usize {
        // Acquire, paired with the producer's Release store of `tail`: its writes into every
        // slot below `tail` happen before we read them.
        self.tail_cache = self.shared.tail.load(Ordering::Acquire);
        self.tail_cache.wrapping_sub(self.head)
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Publishes the consumer's `head` when dropped: the end of a [`Consumer::pop_batch`].
struct PublishHead<'a, T>(&'a mut Consumer<T>);

impl<T> Drop for PublishHead<'_, T> {
    fn drop(&mut self) {
        // Release: our moves out of every slot below `head` happen before the producer, after
        // its Acquire load of `head`, writes into them again.
        self.0.shared.head.store(self.0.head, Ordering::Release);
    }
}
