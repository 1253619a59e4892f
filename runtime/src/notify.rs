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
        let mut waiters = {
            let mut slot = self.waiters.borrow_mut();
            if slot.is_empty() {
                // Nobody waits: leave the (empty) vector in place with its capacity.
                return;
            }
            std::mem::take(&mut *slot)
        };
        for w in waiters.drain(..) {
            w.wake();
        }
        let mut slot = self.waiters.borrow_mut();
        if slot.is_empty() {
            *slot = waiters;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waking_keeps_the_list_capacity_even_when_nobody_waits() {
        let notify = Notify::new();
        let waker = Waker::noop();
        for _ in 0..3 {
            notify.register(waker);
            notify.notify_all();
            // More notifications with nobody waiting (a socket notifies on every
            // message) must not drop the capacity either.
            notify.notify_all();
            notify.notify_all();
            assert!(notify.waiters.borrow().capacity() >= 1);
            assert!(notify.waiters.borrow().is_empty());
        }
    }
}
