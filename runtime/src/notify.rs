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

    /// Adds `waker` without looking for an equivalent one: for callers that already
    /// register each task once.
    pub fn add(&self, waker: &Waker) {
        self.waiters.borrow_mut().push(waker.clone());
    }

    /// Wakes and forgets every waiter.
    pub fn notify_all(&self) {
        // Take the list out (a woken task may register again while we iterate), then
        // put the emptied vector back so its capacity is reused: waking allocates
        // nothing in steady state.
        let mut waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        if waiters.is_empty() {
            return;
        }
        for w in waiters.drain(..) {
            w.wake();
        }
        let mut slot = self.waiters.borrow_mut();
        if slot.is_empty() {
            *slot = waiters;
        }
    }
}
