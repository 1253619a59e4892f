//! How a thread outside the runtime waits for something cores change: room in a ring
//! (a [`Credit`]), a peer to send to. The cores never learn who waits or how.
//!
//! A [`Signal`] is the handshake, the same shape as the ring's park (see
//! [`crate::ring`]): the waiter raises the flag, then looks at what it waits for; a core
//! changes what it changes, then lowers the flag, and wakes the waiter if the flag was
//! raised. A SeqCst fence on each side makes sure at least one of them sees the other,
//! so no wake-up is lost, and a core that nobody waits for pays one fence and one load.
//!
//! ```
//! use monocoque_runtime::{Credit, Signal};
//!
//! let credit = Credit::new(1);
//! let signal = Signal::default();
//! assert!(credit.try_take());
//! // The waiter: nothing left, so it announces that it waits, and looks again.
//! assert!(!credit.try_take());
//! signal.prepare_wait();
//! assert!(!credit.try_take()); // still nothing: sleep until woken
//! // A core hands the unit back, and learns that someone must be woken.
//! credit.give_back(1);
//! assert!(signal.notify());
//! assert!(!signal.notify()); // once per wait
//! assert!(credit.try_take());
//! ```

use crate::sync::{fence, AtomicBool, AtomicUsize, Ordering};

/// "Someone waits for a change": raised by the waiter, lowered by whoever wakes it.
#[derive(Debug, Default)]
pub struct Signal {
    waiting: AtomicBool,
}

impl Signal {
    /// The waiter, before it looks (one last time) at what it waits for: after this,
    /// any [`Signal::notify`] that follows a change it has not seen returns `true`.
    pub fn prepare_wait(&self) {
        // Relaxed: the fence orders it against the waiter's next look.
        self.waiting.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Called after a change (with its own stores done): `true` when a waiter raised
    /// the flag, which is lowered; the caller must then wake it.
    pub fn notify(&self) -> bool {
        fence(Ordering::SeqCst);
        // Cheap when nobody waits: a load, no write to the shared line.
        self.waiting.load(Ordering::Relaxed) && self.waiting.swap(false, Ordering::Relaxed)
    }
}

/// How many more items one producer may hand a consumer: taken before each push,
/// given back when the consumer is done with an item. It bounds what can be in flight
/// (in a ring and in the consumer's own queue) with nothing to allocate, and a
/// [`Signal`] tells the producer when there is room again.
#[derive(Debug)]
pub struct Credit {
    available: AtomicUsize,
}

impl Credit {
    /// `units` items may be in flight.
    pub fn new(units: usize) -> Credit {
        Credit {
            available: AtomicUsize::new(units),
        }
    }

    /// Takes one unit; `false` when none is left.
    pub fn try_take(&self) -> bool {
        let mut n = self.available.load(Ordering::Relaxed);
        while n > 0 {
            match self.available.compare_exchange_weak(
                n,
                n - 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => n = now,
            }
        }
        false
    }

    /// Hands `units` back (follow with [`Signal::notify`]).
    pub fn give_back(&self, units: usize) {
        self.available.fetch_add(units, Ordering::Release);
    }

    /// Units left now.
    pub fn available(&self) -> usize {
        self.available.load(Ordering::Relaxed)
    }
}
