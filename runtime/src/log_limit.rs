//! Rate limits for log lines that outside input can cause: a port scanner or a
//! misconfigured peer must not fill the disk with one line per connection.
//!
//! Each kind of line has its own budget per thread (a [`LogLimit`] in a
//! `thread_local!`, written through [`limited`]): the first [`BURST`] lines of an [`INTERVAL`] are written, later ones
//! are counted, and the next line written says how many were left out. Monitor events
//! are never limited: a program that needs every event reads the monitor.

use std::cell::Cell;
use std::thread::LocalKey;
use std::time::{Duration, Instant};

/// Lines written per interval before the rest are only counted.
pub const BURST: u32 = 10;
/// How long a budget lasts.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// The budget of one kind of log line on one thread (or of one task's lines, such
/// as a connector's failed attempts).
#[derive(Debug)]
pub struct LogLimit {
    burst: u32,
    window: Cell<Option<Instant>>,
    written: Cell<u32>,
    suppressed: Cell<u64>,
}

impl LogLimit {
    /// A full budget of [`BURST`] lines per [`INTERVAL`].
    pub const fn new() -> LogLimit {
        LogLimit::with_burst(BURST)
    }

    /// A full budget of `burst` lines per [`INTERVAL`].
    pub const fn with_burst(burst: u32) -> LogLimit {
        LogLimit {
            burst,
            window: Cell::new(None),
            written: Cell::new(0),
            suppressed: Cell::new(0),
        }
    }

    /// How many lines were left out since the last one written, now counted as
    /// reported (for a closing summary line: a task that stops says what it left out).
    pub fn take_suppressed(&self) -> u64 {
        self.suppressed.replace(0)
    }

    /// Takes back a line [`LogLimit::allow`] let through but that was not written
    /// after all (another budget refused it), with the `suppressed` count `allow`
    /// returned: they are counted again, for the next line written.
    pub fn take_back(&self, suppressed: u64) {
        self.suppressed.set(self.suppressed.get() + suppressed + 1);
    }

    /// Whether to write a line now: `Some(n)` to write it, saying that `n` lines were
    /// left out since the last one written; `None` to leave it out (it is counted).
    pub fn allow(&self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> Option<u64> {
        let fresh = self
            .window
            .get()
            .is_none_or(|start| now.duration_since(start) >= INTERVAL);
        if fresh {
            self.window.set(Some(now));
            self.written.set(0);
        }
        if self.written.get() >= self.burst {
            self.suppressed.set(self.suppressed.get() + 1);
            return None;
        }
        self.written.set(self.written.get() + 1);
        Some(self.suppressed.replace(0))
    }
}

impl Default for LogLimit {
    fn default() -> LogLimit {
        LogLimit::new()
    }
}

/// Calls `write` (which writes the line) if `limit`'s budget on this thread allows,
/// passing how many lines were left out since the last one written; the line should
/// carry it as a `suppressed` field.
pub fn limited(limit: &'static LocalKey<LogLimit>, write: impl FnOnce(u64)) {
    if let Some(suppressed) = limit.with(LogLimit::allow) {
        write(suppressed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_counts_then_a_fresh_budget() {
        let limit = LogLimit::new();
        let t0 = Instant::now();
        for _ in 0..BURST {
            assert_eq!(limit.allow_at(t0), Some(0));
        }
        for _ in 0..25 {
            assert_eq!(limit.allow_at(t0 + Duration::from_secs(1)), None);
        }
        // The next interval: the first line written reports the 25 left out.
        let t1 = t0 + INTERVAL;
        assert_eq!(limit.allow_at(t1), Some(25));
        assert_eq!(limit.allow_at(t1), Some(0));
    }

    #[test]
    fn a_smaller_burst_and_a_closing_summary() {
        let limit = LogLimit::with_burst(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limit.allow_at(t0), Some(0));
        }
        for _ in 0..7 {
            assert_eq!(limit.allow_at(t0), None);
        }
        assert_eq!(limit.take_suppressed(), 7);
        assert_eq!(limit.take_suppressed(), 0);
        assert_eq!(limit.allow_at(t0 + INTERVAL), Some(0));
    }
}
