//! Cooperative time slices: how a task that always finds work (a publisher looping on
//! `send`, a reader that always finds messages, a connection that always has bytes)
//! gives its executor back, so that the caller never needs a yield of its own.
//!
//! glommio never preempts a task, and while any task is runnable it polls its
//! io_uring rings and timers only when its preempt timer fires (100 ms by default).
//! A plain yield therefore lets other *runnable* tasks run, but not a connection that
//! waits for its socket to become writable, nor a timer. Two kinds of yield follow:
//!
//! - a **plain yield** (requeue at the back): cheap, for "let the connections I just
//!   woke write what built up" (a PUB whose subscriber queue reached its mark);
//! - a **reactor yield** (sleep on a timer that is already due, so the task resumes
//!   only after glommio has gone through its rings and timers): used once the
//!   executor has run for [`SLICE`] without our tasks visiting the reactor.
//!
//! Work is counted per thread with [`spend`], in units of about one message handled
//! (a publish to N subscribers is N + 1). Every [`CHECK_EVERY`] units the clock is
//! read; once the slice ([`SLICE`], longer while the rest of the executor needs more
//! time, up to [`SLICE_MAX`]) has passed since the last reactor yield, the next
//! [`Slice::yield_now`] (or [`Slice::defer`]) goes through the reactor. The cost is
//! a counter per message, a clock read per [`CHECK_EVERY`] units and one reactor pass
//! (an io_uring poll, a few microseconds) per [`SLICE`] of continuous work: well under
//! 1 % of a busy core.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use glommio::timer::Timer;

/// The shortest slice: how long a busy executor runs between two reactor yields of
/// ours when the rest of the executor (the other tasks and the reactor) needs little.
pub const SLICE: Duration = Duration::from_micros(500);
/// The longest slice. A slice lasts as long as the rest of the executor took the last
/// time the slice's owner waited for it, within [`SLICE`] ..= `SLICE_MAX`: a
/// publisher with a thousand connections to feed, each of which makes a `write` when
/// it runs, gets as much time as they do (so each write carries what a whole slice
/// published) instead of a sliver between their rounds; and a timer on the executor
/// is never late by much more than twice this.
pub const SLICE_MAX: Duration = Duration::from_millis(2);
/// Units of work between two clock reads.
pub const CHECK_EVERY: u32 = 1024;
/// How far ahead a reactor yield's timer is set: long enough that it is still pending
/// when it is registered right after, short enough to have expired once the other
/// runnable tasks have run.
const REACTOR_TIMER: Duration = Duration::from_micros(1);

struct State {
    work: Cell<u32>,
    /// The slice is over: the next yield goes through the reactor.
    due: Cell<bool>,
    /// When our tasks last came back from the reactor.
    since: Cell<Option<Instant>>,
    /// When the current reactor yield began (the first task that made one).
    yielded: Cell<Option<Instant>>,
    /// The length of the current slice (see [`SLICE_MAX`]).
    length: Cell<Duration>,
}

thread_local! {
    static STATE: State = const {
        State {
            work: Cell::new(0),
            due: Cell::new(false),
            since: Cell::new(None),
            yielded: Cell::new(None),
            length: Cell::new(SLICE),
        }
    };
}

/// Counts `units` of work done by the current task; true when a yield is due because
/// this thread has run a whole [`SLICE`] without visiting the reactor.
#[inline]
pub fn spend(units: u32) -> bool {
    STATE.with(|s| {
        if s.due.get() {
            return true;
        }
        let work = s.work.get().saturating_add(units);
        if work < CHECK_EVERY {
            s.work.set(work);
            return false;
        }
        s.work.set(0);
        slice_over(s)
    })
}

#[cold]
fn slice_over(s: &State) -> bool {
    let now = Instant::now();
    match s.since.get() {
        Some(since) if now.duration_since(since) < s.length.get() => false,
        Some(_) => {
            s.due.set(true);
            true
        }
        None => {
            s.since.set(Some(now));
            false
        }
    }
}

/// True when the next yield should go through the reactor.
#[inline]
fn reactor_due() -> bool {
    STATE.with(|s| s.due.get())
}

/// A reactor yield begins.
fn yield_started() {
    STATE.with(|s| {
        if s.yielded.get().is_none() {
            s.yielded.set(Some(Instant::now()));
        }
    });
}

/// The reactor was visited: a new slice starts, as long as the yield took (within
/// [`SLICE`] ..= [`SLICE_MAX`]).
fn slice_started() {
    STATE.with(|s| {
        let now = Instant::now();
        if let Some(start) = s.yielded.take() {
            s.length
                .set(now.duration_since(start).clamp(SLICE, SLICE_MAX));
        }
        s.due.set(false);
        s.work.set(0);
        s.since.set(Some(now));
    });
}

/// One task's means of yielding: a reusable timer for reactor yields (so yielding
/// allocates nothing after the first time).
#[derive(Debug, Default)]
pub struct Slice {
    timer: Option<Timer>,
    /// A reactor yield is in progress: the timer is registered.
    waiting: bool,
}

impl Slice {
    /// A slice holder with no timer yet.
    pub const fn new() -> Slice {
        Slice {
            timer: None,
            waiting: false,
        }
    }

    /// Yields once: through the reactor if this thread's slice is over, else a plain
    /// requeue behind the other runnable tasks.
    pub fn yield_now(&mut self) -> impl Future<Output = ()> + '_ {
        YieldNow {
            slice: self,
            deferred: false,
        }
    }

    /// For hand-written futures that want to be polled again soon: arranges the
    /// wake-up (after the reactor when the slice is over, else at once). The caller
    /// then returns Pending.
    pub fn defer(&mut self, cx: &mut Context<'_>) {
        if reactor_due() {
            let timer = match &mut self.timer {
                Some(t) => {
                    t.reset(REACTOR_TIMER);
                    t
                }
                None => self.timer.insert(Timer::new(REACTOR_TIMER)),
            };
            if Pin::new(timer).poll(cx).is_pending() {
                self.waiting = true;
                yield_started();
                return;
            }
            // Already due (this thread was descheduled in between): the reactor is
            // as close as a plain yield.
            slice_started();
        }
        cx.waker().wake_by_ref();
    }

    /// Ready once a deferred wake-up has happened (at once if none is in progress);
    /// Pending (with the wake-up still arranged) if the task was polled early.
    pub fn poll_resumed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.waiting {
            let timer = self.timer.as_mut().expect("a waiting slice has a timer");
            if Pin::new(timer).poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.waiting = false;
            slice_started();
        }
        Poll::Ready(())
    }
}

struct YieldNow<'a> {
    slice: &'a mut Slice,
    deferred: bool,
}

impl Future for YieldNow<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if !this.deferred {
            this.deferred = true;
            this.slice.defer(cx);
            return Poll::Pending;
        }
        this.slice.poll_resumed(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each case runs on a fresh thread: the state is per thread.
    fn on_fresh_thread(f: impl FnOnce() + Send + 'static) {
        std::thread::spawn(f).join().unwrap();
    }

    #[test]
    fn a_yield_is_due_once_a_slice_has_passed_and_stays_due_until_the_reactor() {
        on_fresh_thread(|| {
            // Below CHECK_EVERY units nothing reads the clock.
            assert!(!spend(CHECK_EVERY - 1));
            // The first clock read starts the slice.
            assert!(!spend(1));
            std::thread::sleep(2 * SLICE);
            assert!(
                !spend(CHECK_EVERY - 1),
                "the clock is read every CHECK_EVERY"
            );
            assert!(spend(1), "a whole slice has passed");
            assert!(spend(0), "due until the reactor was visited");
            assert!(reactor_due());
            slice_started();
            assert!(!reactor_due());
            assert!(!spend(CHECK_EVERY - 1));
        });
    }

    #[test]
    fn a_slice_lasts_as_long_as_the_last_yield_took_within_bounds() {
        on_fresh_thread(|| {
            let length = || STATE.with(|s| s.length.get());
            assert_eq!(length(), SLICE);
            // The rest of the executor took 1 ms: so does the next slice.
            yield_started();
            std::thread::sleep(Duration::from_millis(1));
            slice_started();
            assert!(length() >= Duration::from_millis(1) && length() <= SLICE_MAX);
            // It took much longer: capped.
            yield_started();
            std::thread::sleep(3 * SLICE_MAX);
            slice_started();
            assert_eq!(length(), SLICE_MAX);
            // Almost nothing: back to the shortest.
            yield_started();
            slice_started();
            assert_eq!(length(), SLICE);
            // A new slice without a yield in between keeps the length.
            slice_started();
            assert_eq!(length(), SLICE);
        });
    }
}
