//! How much work a run of the table does ([`Effort`]), shared by the case lists and the
//! scenarios that scale their counts or holds by it.

use std::time::Duration;

/// How much work each case does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// The full comparison.
    Full,
    /// A run of the whole table in under two minutes: smaller counts and holds.
    Quick,
    /// Tiny counts, for tests that only check that everything runs.
    Smoke,
}

impl Effort {
    /// Scales a full-run count.
    pub(super) fn count(self, full: u64) -> u64 {
        match self {
            Effort::Full => full,
            Effort::Quick => (full / 20).max(1),
            Effort::Smoke => (full / 500).max(10),
        }
    }

    /// How long a paced case holds its rate.
    pub(super) fn hold(self) -> Duration {
        match self {
            Effort::Full => Duration::from_secs(2),
            Effort::Quick => Duration::from_millis(200),
            Effort::Smoke => Duration::from_millis(50),
        }
    }
}
