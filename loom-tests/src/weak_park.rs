//! The ring (`runtime/src/ring/`) built against a shim whose `fence` does nothing: the park handshake keeps its
//! flag and its re-check but loses the SeqCst fences between "store tail; load parked"
//! (producer) and "store parked; load tail" (consumer). Both sides may then read the other's
//! old value (store buffering): the producer sees no parked consumer, the consumer sees an
//! empty ring and sleeps with an item in it, and no doorbell rings.
//!
//! loom must find that lost wake-up. Never use this ring.

/// The loom shim, except that `fence` is a no-op.
pub(crate) mod sync {
    pub(crate) use crate::sync::{Arc, AtomicBool, AtomicUsize, Ordering, UnsafeCell};

    /// Does nothing: the weakening under test.
    pub(crate) fn fence(_asked: Ordering) {}
}

#[path = "../../runtime/src/ring/mod.rs"]
pub mod ring;
