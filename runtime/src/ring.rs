//! A bounded, lock-free, single-producer single-consumer ring: the only thing cores share.
//!
//! [`channel`] makes a ring of at least the requested capacity (rounded up to a power of two)
//! and returns its two halves. The [`Producer`] lives on one core and the [`Consumer`] on
//! another; each is `Send` (when `T` is) but neither is `Clone` nor `Sync`, so there is exactly
//! one pusher and one popper.
//!
//! - [`Producer::try_push`] never waits: a full ring hands the value back in
//!   [`PushError::Full`], and the caller applies its high-water-mark policy (drop for PUB,
//!   EAGAIN or block for ROUTER). A producer must never await space from a task that also
//!   drains rings; that is how cross-core meshes deadlock.
//! - [`Consumer::try_pop`] takes one item; [`Consumer::pop_batch`] takes up to `max` items and
//!   tells the producer about the freed space once per batch.
//! - Either half may [`close`](Producer::close) the ring. Pushing into a closed ring fails with
//!   [`PushError::Closed`] (value handed back); the consumer still drains what was pushed
//!   before, then [`Consumer::is_drained`] says nothing more will come. Dropping a half closes
//!   the ring. Items still in the ring when both halves are gone are dropped exactly once.
//!
//! # Sleeping consumers: the park / doorbell handshake
//!
//! A core with nothing to do sleeps, and a producer on another core must wake it when (and
//! only when) it has given it work. The ring does the bookkeeping; the doorbell itself (an
//! eventfd, a glommio `shared_channel` of capacity 1, a thread's park token…) is the caller's.
//!
//! - Consumer, before sleeping: call [`Consumer::prepare_park`]. It raises the ring's `parked`
//!   flag and then re-checks the ring. `true` means "parked: sleep until the doorbell rings";
//!   `false` means the ring has items (or is closed) and the consumer must not sleep.
//! - Producer: [`Producer::try_push`] returns [`Wake::Yes`] when, after publishing the item,
//!   it finds the flag raised by a park it has not woken yet; the caller must then ring the
//!   doorbell. [`Producer::close`] does the same, so a parked consumer learns that the ring
//!   closed.
//!
//! A flag and a SeqCst fence on each side (see `prepare_park` and `wake_check`) make sure at
//! least one side sees the other: either the consumer's re-check sees the item, or the
//! producer sees the flag. So a consumer never sleeps with an item in the ring and no wake on
//! its way (no lost wake-up), and the producer rings at most once per park, when the ring
//! goes from empty to non-empty after the consumer parked (no doorbell storm).
//!
//! The flag is not a boolean that the producer clears: it holds the number of the consumer's
//! current park (0 when not parked), and the producer remembers, privately, the last park it
//! woke. "Clearing" it is that private note, so only the consumer ever writes the flag: an
//! awake producer never writes to a line the other core reads, and no read-modify-write on
//! the flag can race with the consumer's next park.
//!
//! The doorbell must *latch*: a ring that arrives before the consumer starts waiting must not
//! be lost (eventfd, a capacity-1 channel filled with `try_send`, `Thread::unpark` all do
//! that; a bare condition variable does not). It may wake spuriously; the consumer just loops.
//! Ringing should never block: if a wake is already pending, a second one adds nothing.
//!
//! A consumer fed by several rings parks on all of them and sleeps only if every
//! `prepare_park` returned `true`; otherwise it calls [`Consumer::cancel_park`] on the ones it
//! parked and goes back to work. After waking it may call `cancel_park` on every ring: that is
//! optional and only saves producers a doorbell ring the consumer no longer needs.
//!
//! Dropping a [`Producer`] closes the ring but cannot ring anything: wrap the producer
//! together with its doorbell and, in that wrapper's `Drop`, call [`Producer::close`] and ring
//! on [`Wake::Yes`].
//!
//! ```
//! use monocoque_runtime::ring::{self, PushError, Wake};
//! use std::thread;
//!
//! let (mut tx, mut rx) = ring::channel::<u64>(8);
//!
//! let consumer = thread::spawn(move || {
//!     let mut sum = 0;
//!     loop {
//!         if rx.pop_batch(64, |v| sum += v) > 0 {
//!             continue;
//!         }
//!         if rx.is_drained() {
//!             return sum;
//!         }
//!         if rx.prepare_park() {
//!             // The doorbell: this thread's park token, which latches an early `unpark`.
//!             thread::park();
//!         }
//!     }
//! });
//! let doorbell = consumer.thread().clone();
//!
//! for i in 1..=1000 {
//!     let mut value = i;
//!     loop {
//!         match tx.try_push(value) {
//!             Ok(Wake::Yes) => doorbell.unpark(),
//!             Ok(Wake::No) => {}
//!             Err(PushError::Full(v)) => {
//!                 // High-water mark reached: a PUB would drop here; we retry.
//!                 value = v;
//!                 thread::yield_now();
//!                 continue;
//!             }
//!             Err(PushError::Closed(_)) => unreachable!("the consumer never closes"),
//!         }
//!         break;
//!     }
//! }
//! if tx.close() == Wake::Yes {
//!     doorbell.unpark();
//! }
//! assert_eq!(consumer.join().unwrap(), 500_500);
//! ```
//!
//! # How it works
//!
//! `head` (next index to read, written only by the consumer) and `tail` (next index to write,
//! written only by the producer) are free-running `usize` counters; index `i` lives in slot
//! `i & mask`, and `tail - head` (wrapping) is the number of items, between 0 and capacity.
//! Slots with an index in `head..tail` hold initialised items owned by the consumer side; all
//! others are uninitialised and owned by the producer side. The producer publishes a written
//! slot with a Release store of `tail`, the consumer takes it after an Acquire load of `tail`;
//! symmetrically the consumer frees a slot with a Release store of `head`, and the producer
//! reuses it after an Acquire load of `head`. Each side keeps a private copy of the other's
//! index and reloads it only when that copy says full (producer) or empty (consumer), so in
//! steady state neither touches the other's cache line on every item. `head`, `tail` and the
//! flags each have their own cache line.
//!
//! The handshake costs the producer one SeqCst fence and one load of the (read-mostly) flags
//! line per push: the price of never losing a wake-up without a read-modify-write on the hot
//! path.
//!
//! This file is also compiled by `loom-tests/` against loom's primitives (and against
//! deliberately weakened ones, to show the models catch a missing ordering), which is why it
//! reaches its primitives through `super::sync` and keeps its unit tests behind `cfg(test)`.

use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ops::Deref;

// `super::sync`, not `crate::sync`: here the two are the same module, but loom-tests also
// includes this file one level down, next to a weakened `sync`.
use super::sync::{fence, Arc, AtomicBool, AtomicUsize, Ordering, UnsafeCell};

/// Creates a ring holding at least `capacity` items (rounded up to a power of two).
///
/// # Panics
///
/// If `capacity` is 0, or rounding it up to a power of two overflows `usize`.
pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    assert!(capacity > 0, "a ring needs a capacity of at least 1");
    let capacity = capacity
        .checked_next_power_of_two()
        .expect("ring capacity overflows usize when rounded up to a power of two");
    let slots = (0..capacity)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let shared = Arc::new(Shared {
        head: CachePadded(AtomicUsize::new(0)),
        tail: CachePadded(AtomicUsize::new(0)),
        flags: CachePadded(Flags {
            parked: AtomicUsize::new(NOT_PARKED),
            closed: AtomicBool::new(false),
        }),
        slots,
        mask: capacity - 1,
    });
    let producer = Producer {
        shared: Arc::clone(&shared),
        tail: 0,
        head_cache: 0,
        woken: Cell::new(NOT_PARKED),
        _not_sync: PhantomData,
    };
    let consumer = Consumer {
        shared,
        head: 0,
        tail_cache: 0,
        park: NOT_PARKED,
        _not_sync: PhantomData,
    };
    (producer, consumer)
}

/// Whether the producer must ring the consumer's doorbell (see the [module docs](self)).
#[must_use = "on Wake::Yes the consumer is parked and must be woken, or it may sleep forever"]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wake {
    /// The consumer is not parked, or this producer already woke it for this park.
    No,
    /// The consumer parked and nobody woke it since: the caller must ring the doorbell.
    Yes,
}

impl Wake {
    /// `true` for [`Wake::Yes`].
    #[inline]
    pub fn is_yes(self) -> bool {
        self == Wake::Yes
    }
}

/// A value that [`Producer::try_push`] could not push, handed back.
#[derive(Clone, PartialEq, Eq)]
pub enum PushError<T> {
    /// The ring holds `capacity` items.
    Full(T),
    /// The ring was closed by either half.
    Closed(T),
}

impl<T> PushError<T> {
    /// The value that was not pushed.
    #[inline]
    pub fn into_inner(self) -> T {
        match self {
            PushError::Full(v) | PushError::Closed(v) => v,
        }
    }

    /// Whether the ring was full.
    #[inline]
    pub fn is_full(&self) -> bool {
        matches!(self, PushError::Full(_))
    }

    /// Whether the ring was closed.
    #[inline]
    pub fn is_closed(&self) -> bool {
        matches!(self, PushError::Closed(_))
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("Full(..)"),
            PushError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("ring is full"),
            PushError::Closed(_) => f.write_str("ring is closed"),
        }
    }
}

impl<T> std::error::Error for PushError<T> {}

/// Aligns (and so pads) its contents to a cache line, so that two of them never share one.
///
/// 128 bytes where the hardware prefetches or uses lines in pairs of 64 (x86_64) or has
/// 128-byte lines (some aarch64, powerpc64); 64 elsewhere.
#[cfg_attr(
    any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "powerpc64"
    ),
    repr(align(128))
)]
#[cfg_attr(
    not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "powerpc64"
    )),
    repr(align(64))
)]
struct CachePadded<T>(T);

impl<T> Deref for CachePadded<T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The value of `Flags::parked` while the consumer is awake. Parks are numbered from 1.
const NOT_PARKED: usize = 0;

/// Rarely written, read by the producer on every push: their own line, away from the indices.
struct Flags {
    /// The number of the consumer's current park, or `NOT_PARKED`. Written only by the
    /// consumer: raised by `prepare_park`, lowered by `prepare_park` (when it declines) and by
    /// `cancel_park`. Never lowered by the producer, which remembers instead which park it
    /// woke (`Producer::woken`).
    parked: AtomicUsize,
    /// Set once, by either half, never cleared.
    closed: AtomicBool,
}

/// The state both halves point to.
///
/// Invariants (the `SAFETY` comments below rely on them):
/// 1. only the consumer stores `head`, only the producer stores `tail`; each only increases
///    them (wrapping), by one per item;
/// 2. `tail - head` (wrapping) is at most `slots.len()`, a power of two, and `mask` is
///    `slots.len() - 1`;
/// 3. the slots of indices `head..tail` hold initialised values, all others are
///    uninitialised;
/// 4. a value is written into a slot before the Release store of `tail` that covers it, and
///    moved out of a slot before the Release store of `head` that frees it.
struct Shared<T> {
    /// Next index the consumer reads.
    head: CachePadded<AtomicUsize>,
    /// Next index the producer writes.
    tail: CachePadded<AtomicUsize>,
    flags: CachePadded<Flags>,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    mask: usize,
}

// SAFETY: the ring moves each `T` from the producer's thread to the consumer's and never gives
// out a `&T` to two threads at once, so sending and sharing `Shared<T>` needs only `T: Send`.
// Slot accesses are kept apart by invariants 1-4 and the Acquire/Release pairs on the indices.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: see the `Send` impl above.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    #[inline(always)]
    fn capacity(&self) -> usize {
        self.slots.len()
    }

    #[inline(always)]
    fn slot(&self, index: usize) -> &UnsafeCell<MaybeUninit<T>> {
        &self.slots[index & self.mask]
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Both halves are gone: the last `Arc` drop acquired everything they did, so Relaxed
        // loads see the final indices.
        let mut head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed);
        while head != tail {
            // SAFETY: `head..tail` holds initialised values (invariant 3) and nothing else can
            // touch them: we have `&mut self`. Each index is dropped once, as `head` advances.
            self.slot(head)
                .with_mut(|p| unsafe { (*p).assume_init_drop() });
            head = head.wrapping_add(1);
        }
    }
}

/// The pushing half of a ring. `Send` when `T` is; not `Clone`, not `Sync`.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
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
    /// Pushes `value`, or hands it back if the ring is full or closed.
    ///
    /// On success, returns whether the consumer parked and must be woken: on [`Wake::Yes`],
    /// ring its doorbell (see the [module docs](self)).
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
    /// [`Consumer::is_drained`] returns `true`.
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
    /// (the producer's next push or close returns [`Wake::Yes`]). Returns `false`, without
    /// leaving the flag raised, if the ring has items or is closed: do not sleep, pop.
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

/// `Producer` and `Consumer` must not be `Sync`:
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<monocoque_runtime::ring::Producer<u8>>();
/// ```
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<monocoque_runtime::ring::Consumer<u8>>();
/// ```
///
/// nor `Clone`:
///
/// ```compile_fail
/// let (tx, _rx) = monocoque_runtime::ring::channel::<u8>(1);
/// let _ = tx.clone();
/// ```
///
/// ```compile_fail
/// let (_tx, rx) = monocoque_runtime::ring::channel::<u8>(1);
/// let _ = rx.clone();
/// ```
///
/// and are `Send` only when the items are:
///
/// ```compile_fail
/// fn send<T: Send>() {}
/// send::<monocoque_runtime::ring::Producer<std::rc::Rc<u8>>>();
/// ```
#[allow(dead_code)]
enum MarkerTraitChecks {}

#[cfg(test)]
mod tests {
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
}
