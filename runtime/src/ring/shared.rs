//! The state both halves of a ring point to, and the cache-line padding that keeps its
//! hot fields apart.

use core::mem::MaybeUninit;
use core::ops::Deref;

use super::sync::{AtomicBool, AtomicUsize, Ordering, UnsafeCell};

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
pub(super) struct CachePadded<T>(T);

impl<T> Deref for CachePadded<T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The value of `Flags::parked` while the consumer is awake. Parks are numbered from 1.
pub(super) const NOT_PARKED: usize = 0;

/// Rarely written, read by the producer on every push: their own line, away from the indices.
pub(super) struct Flags {
    /// The number of the consumer's current park, or `NOT_PARKED`. Written only by the
    /// consumer: raised by `prepare_park`, lowered by `prepare_park` (when it declines) and by
    /// `cancel_park`. Never lowered by the producer, which remembers instead which park it
    /// woke (`Producer::woken`).
    pub(super) parked: AtomicUsize,
    /// Set once, by either half, never cleared.
    pub(super) closed: AtomicBool,
}

/// The state both halves point to.
///
/// Invariants (the `SAFETY` comments here and in the two halves rely on them):
/// 1. only the consumer stores `head`, only the producer stores `tail`; each only increases
///    them (wrapping), by one per item;
/// 2. `tail - head` (wrapping) is at most `slots.len()`, a power of two, and `mask` is
///    `slots.len() - 1`;
/// 3. the slots of indices `head..tail` hold initialised values, all others are
///    uninitialised;
/// 4. a value is written into a slot before the Release store of `tail` that covers it, and
///    moved out of a slot before the Release store of `head` that frees it.
pub(super) struct Shared<T> {
    /// Next index the consumer reads.
    pub(super) head: CachePadded<AtomicUsize>,
    /// Next index the producer writes.
    pub(super) tail: CachePadded<AtomicUsize>,
    pub(super) flags: CachePadded<Flags>,
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
    /// An empty, open ring of `capacity` slots, with no park raised.
    ///
    /// `capacity` must be a power of two (invariant 2).
    pub(super) fn new(capacity: usize) -> Self {
        debug_assert!(capacity.is_power_of_two());
        let slots = (0..capacity)
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect();
        Shared {
            head: CachePadded(AtomicUsize::new(0)),
            tail: CachePadded(AtomicUsize::new(0)),
            flags: CachePadded(Flags {
                parked: AtomicUsize::new(NOT_PARKED),
                closed: AtomicBool::new(false),
            }),
            slots,
            mask: capacity - 1,
        }
    }

    #[inline(always)]
    pub(super) fn capacity(&self) -> usize {
        self.slots.len()
    }

    #[inline(always)]
    pub(super) fn slot(&self, index: usize) -> &UnsafeCell<MaybeUninit<T>> {
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
