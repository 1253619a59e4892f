//! When a PUB → SUB run does what: the [`Pacer`] that says how many messages are due,
//! the [`Rendezvous`] by which the two sides agree on start and end, and the deadlines
//! that keep a run from hanging.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::spec::{Phase, Spec};
use crate::Result;

/// Paced publishers send what is due, then sleep this long on their runtime's timer.
pub const PACE_TICK: Duration = Duration::from_micros(100);
/// A run fails when its subscribers have not all seen a warm-up marker by then (did
/// they connect?).
const WARMUP_DEADLINE: Duration = Duration::from_secs(30);
/// The publisher stops sending end markers after this long and the run reports what
/// was delivered (a subscriber whose connection stopped must not hang the bench).
pub const END_DEADLINE: Duration = Duration::from_secs(10);
/// A publisher waits at most this long for its subscribers to close before it closes
/// (closing first made subscribers reconnect and linger on close).
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// How often a subscriber side looks whether the publisher gave up.
pub(crate) const WATCH_TICK: Duration = Duration::from_millis(20);
/// A publisher behind its pace looks at the clock at least this often (messages), so
/// that it still stops at the time limit.
pub(crate) const CLOCK_EVERY: u64 = 256;

/// Decides how many messages are due: all at once when flat out, else by the clock.
pub(crate) struct Pacer {
    pub(crate) start: Instant,
    spec: Spec,
}

/// What a publisher does next.
pub(crate) enum Step {
    /// Send up to (excluding) this sequence number.
    Send(u64),
    /// Caught up with the pace: sleep [`PACE_TICK`].
    Wait,
    /// The stream is over (all sent, or the time limit passed).
    Done,
}

impl Pacer {
    pub(crate) fn new(spec: Spec) -> Pacer {
        Pacer {
            start: Instant::now(),
            spec,
        }
    }

    /// The next step once messages `0..seq` are sent.
    pub(crate) fn next(&self, seq: u64) -> Step {
        let count = self.spec.count;
        if seq >= count {
            return Step::Done;
        }
        let elapsed = self.start.elapsed();
        if self.spec.limit.is_some_and(|limit| elapsed >= limit) {
            return Step::Done;
        }
        let due = match self.spec.rate {
            None => count,
            Some(r) => ((elapsed.as_secs_f64() * r) as u64 + 1).min(count),
        };
        if seq < due {
            Step::Send(due.min(seq + CLOCK_EVERY))
        } else {
            Step::Wait
        }
    }
}

/// Counters the two sides share to agree on start and end (not on the measured path).
#[derive(Default)]
pub struct Rendezvous {
    ready: AtomicUsize,
    done: AtomicUsize,
    over: AtomicBool,
    subs_closed: AtomicBool,
}

impl Rendezvous {
    /// Where a marker phase stands after `start`: `Some(true)` once every subscriber
    /// has seen a marker, `Some(false)` when the end phase gives up, `None` to go on;
    /// an error when the warm-up times out.
    pub(crate) fn check(&self, phase: Phase, subs: usize, start: Instant) -> Result<Option<bool>> {
        let counter = match phase {
            Phase::Warmup => &self.ready,
            Phase::End => &self.done,
        };
        if counter.load(Ordering::SeqCst) >= subs {
            return Ok(Some(true));
        }
        match phase {
            Phase::Warmup if self.is_over() => Err("the subscriber side stopped".into()),
            Phase::Warmup if start.elapsed() > WARMUP_DEADLINE => Err(format!(
                "only {} of {subs} subscribers saw a warm-up marker within {WARMUP_DEADLINE:?} \
                 (did they connect?)",
                counter.load(Ordering::SeqCst)
            )
            .into()),
            Phase::End if self.is_over() || start.elapsed() > END_DEADLINE => Ok(Some(false)),
            _ => Ok(None),
        }
    }

    /// A subscriber saw its first warm-up marker.
    pub(crate) fn saw_warmup(&self) {
        self.ready.fetch_add(1, Ordering::SeqCst);
    }

    /// A subscriber saw its first end marker.
    pub(crate) fn saw_end(&self) {
        self.done.fetch_add(1, Ordering::SeqCst);
    }

    /// One side has finished (or failed): the other stops waiting for it.
    pub(crate) fn set_over(&self) {
        self.over.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_over(&self) -> bool {
        self.over.load(Ordering::SeqCst)
    }

    /// True while a publisher that finished at `since` should wait for its
    /// subscribers to close their sockets.
    pub(crate) fn closing(&self, since: Instant) -> bool {
        !self.subs_closed.load(Ordering::SeqCst) && since.elapsed() < CLOSE_WAIT
    }
}

/// Sets [`Rendezvous::set_over`] when dropped: however a side ends, the other stops
/// waiting for it.
pub(crate) struct OverOnDrop(pub(crate) Arc<Rendezvous>);

impl Drop for OverOnDrop {
    fn drop(&mut self) {
        self.0.set_over();
    }
}

/// A subscriber side's first local: dropped last, once its sockets are closed, it
/// tells the publisher it may close too (and, like [`OverOnDrop`], that this side is
/// over).
pub(crate) struct SubsClosedOnDrop(pub(crate) Arc<Rendezvous>);

impl Drop for SubsClosedOnDrop {
    fn drop(&mut self) {
        self.0.subs_closed.store(true, Ordering::SeqCst);
        self.0.set_over();
    }
}
