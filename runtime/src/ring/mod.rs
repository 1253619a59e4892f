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
//! The code is split by half: `shared.rs` holds the state both halves point to (with the
//! invariants the `SAFETY` comments rely on) and its cache-line padding, `producer.rs` the
//! [`Producer`], `consumer.rs` the [`Consumer`]; the unit tests are in `tests.rs`.
//!
//! This module is also compiled by `loom-tests/` against loom's primitives (and against
//! deliberately weakened ones, to show the models catch a missing ordering), which is why it
//! reaches its primitives through `super::sync` and keeps its unit tests behind `cfg(test)`.

use core::fmt;

// `super::sync`, not `crate::sync`: here the two are the same module, but loom-tests also
// includes this module one level down, next to a weakened `sync`. The submodules reach it as
// `super::sync`, through this import.
use super::sync::{self, Arc};

mod consumer;
mod producer;
mod shared;

pub use consumer::Consumer;
pub use producer::Producer;
use shared::Shared;

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
    let shared = Arc::new(Shared::new(capacity));
    (Producer::new(Arc::clone(&shared)), Consumer::new(shared))
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
mod tests;
