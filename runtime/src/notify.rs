//! A wake-up list for tasks on one executor waiting for the same condition.

use std::cell::RefCell;
use std::task::Waker;

/// Tasks (on the same executor) waiting for one condition, e.g. "a peer has room" or
/// "a message is queued". Registering the same task twice keeps one entry.
#[derive(Debug, Default)]
pub struct Notify {
    waiters: RefCell<Vec<Waker>>,
}

impl Notify {
    /// An empty list.
    pub fn new() -> Notify {
        Notify::default()
    }

    /// Adds `waker` unless an equivalent one is already waiting.
    pub fn register(&self, waker: &Waker) {
        let mut waiters = self.waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(waker)) {
            waiters.push(waker.clone());
        }
    }

    /// Wakes and forgets every waiter.
    pub fn notify_all(&self) {
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }
}
