//! The ring (`runtime/src/ring/`) built against a shim whose index atomics ignore the ordering they are asked for
//! and use `Relaxed`: the producer's Release store of `tail` no longer publishes the slot it
//! wrote, and the consumer's Acquire load of `tail` no longer makes that write visible (and
//! likewise for `head` on the way back).
//!
//! loom must report the consumer reading a slot that the producer's write has not
//! happened-before ("Causality violation" on the slot's `UnsafeCell`). Never use this ring.

/// The loom shim, except that `AtomicUsize` (the ring's `head` and `tail`) is always Relaxed.
pub(crate) mod sync {
    pub(crate) use crate::sync::{fence, Arc, AtomicBool, Ordering, UnsafeCell};

    /// loom's `AtomicUsize`, downgrading every ordering to `Relaxed`.
    pub(crate) struct AtomicUsize(crate::sync::AtomicUsize);

    impl AtomicUsize {
        pub(crate) fn new(value: usize) -> Self {
            Self(crate::sync::AtomicUsize::new(value))
        }

        pub(crate) fn load(&self, _asked: Ordering) -> usize {
            self.0.load(Ordering::Relaxed)
        }

        pub(crate) fn store(&self, value: usize, _asked: Ordering) {
            self.0.store(value, Ordering::Relaxed)
        }
    }
}

#[path = "../../runtime/src/ring/mod.rs"]
pub mod ring;
