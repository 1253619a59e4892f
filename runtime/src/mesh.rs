//! Mailboxes between cores (and plain threads), built from SPSC [`ring`]s and
//! [`Doorbell`]s: an [`Outbox`] is one producer's ring into a consumer; an [`Inbox`] is
//! every ring a consumer reads.

use std::sync::Arc;

use crate::doorbell::Doorbell;
use crate::ring::{self, Consumer, Producer, PushError};

/// One producer's way into a consumer: a ring plus the consumer's doorbell.
pub struct Outbox<T> {
    producer: Producer<T>,
    bell: Arc<Doorbell>,
}

impl<T> Outbox<T> {
    /// Pushes `value`, ringing the doorbell if the consumer parked. Never waits: a full
    /// (or closed) ring hands the value back.
    pub fn try_send(&mut self, value: T) -> Result<(), PushError<T>> {
        if self.producer.try_push(value)?.is_yes() {
            self.bell.ring();
        }
        Ok(())
    }

    /// Items waiting in the ring.
    pub fn len(&self) -> usize {
        self.producer.len()
    }

    /// True when the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.producer.is_empty()
    }

    /// Closes the ring; the consumer drains what is left.
    pub fn close(&self) {
        if self.producer.close().is_yes() {
            self.bell.ring();
        }
    }
}

impl<T> Drop for Outbox<T> {
    fn drop(&mut self) {
        self.close();
    }
}

/// A new ring of `capacity` into the consumer woken by `bell`.
pub fn link<T>(capacity: usize, bell: Arc<Doorbell>) -> (Outbox<T>, Consumer<T>) {
    let (producer, consumer) = ring::channel(capacity);
    (Outbox { producer, bell }, consumer)
}

/// Every ring one consumer reads.
pub struct Inbox<T> {
    rings: Vec<Consumer<T>>,
}

impl<T> Default for Inbox<T> {
    fn default() -> Self {
        Inbox { rings: Vec::new() }
    }
}

impl<T> Inbox<T> {
    /// Adds a ring.
    pub fn add(&mut self, ring: Consumer<T>) {
        self.rings.push(ring);
    }

    /// Pops up to `max` items from each ring, in ring order, into `f`; drops rings that
    /// are closed and empty. Returns how many items were taken.
    pub fn drain(&mut self, max: usize, mut f: impl FnMut(T)) -> usize {
        let mut n = 0;
        for ring in &mut self.rings {
            n += ring.pop_batch(max, &mut f);
        }
        self.rings.retain_mut(|r| !r.is_drained());
        n
    }

    /// Announces that the consumer is about to sleep. Returns false (and cancels) if some
    /// ring already has items, in which case it must drain again instead of sleeping.
    pub fn prepare_park(&mut self) -> bool {
        for i in 0..self.rings.len() {
            if !self.rings[i].prepare_park() {
                for ring in &self.rings[..i] {
                    ring.cancel_park();
                }
                return false;
            }
        }
        true
    }

    /// Withdraws a successful [`Inbox::prepare_park`] (woken for another reason).
    pub fn cancel_park(&self) {
        for ring in &self.rings {
            ring.cancel_park();
        }
    }

    /// Number of rings.
    pub fn rings(&self) -> usize {
        self.rings.len()
    }
}
