//! The scenarios of BENCH.md: which cases each has, which implementations run them,
//! and the dispatch to the module that measures them.
//!
//! Every module has one function per implementation, run on the same pinned layout
//! (sender side on core 0, receiver side on core 1), and returns a [`Sample`].

pub mod thr;

use std::time::Duration;

use crate::harness::RunOptions;
use crate::result::{Case, Impl, Sample, Scenario, Transport};
use crate::Result;

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
    fn count(self, full: u64) -> u64 {
        match self {
            Effort::Full => full,
            Effort::Quick => (full / 4).max(1),
            Effort::Smoke => (full / 500).max(10),
        }
    }

    fn hold(self) -> Duration {
        match self {
            Effort::Full => Duration::from_secs(2),
            Effort::Quick => Duration::from_millis(400),
            Effort::Smoke => Duration::from_millis(50),
        }
    }
}

/// Shard counts of Monocoque measured in the fan-out scenarios. Only local mode (1)
/// exists now; the sharded runtime will add 2.
pub const FANOUT_SHARDS: &[usize] = &[1];

/// The cases of `scenario`.
pub fn cases(scenario: Scenario, effort: Effort) -> Vec<Case> {
    let base = Case {
        scenario,
        transport: Transport::Tcp,
        size: 64,
        peers: 1,
        shards: 1,
        count: 0,
        hold: effort.hold(),
    };
    let mut out = Vec::new();
    match scenario {
        Scenario::Thr => {
            for transport in [Transport::Tcp, Transport::Ipc] {
                for (size, full) in [
                    (64, 4_000_000),
                    (1024, 2_000_000),
                    (64 << 10, 80_000),
                    (1 << 20, 4_000),
                ] {
                    out.push(Case {
                        transport,
                        size,
                        count: effort.count(full),
                        ..base.clone()
                    });
                }
            }
        }
        Scenario::ThrBatch => {
            for (size, full) in [(64, 8_000_000), (1024, 2_000_000)] {
                out.push(Case {
                    size,
                    count: effort.count(full),
                    ..base.clone()
                });
            }
        }
        _ => {}
    }
    out
}

/// Whether `imp` runs `case`.
pub fn supports(imp: Impl, case: &Case) -> bool {
    match imp {
        Impl::Monocoque => true,
        Impl::Libzmq => case.shards == 1 && case.scenario != Scenario::Alloc,
    }
}

/// The API `imp` uses in `scenario`, for the report.
pub fn api(imp: Impl, scenario: Scenario) -> &'static str {
    match (imp, scenario) {
        (Impl::Monocoque, Scenario::ThrBatch) => "send_batch/recv_batch",
        (Impl::Libzmq, Scenario::ThrBatch) => "default (libzmq has no batching API)",
        _ => "default",
    }
}

/// Runs `case` once with `imp`.
pub fn run(imp: Impl, case: &Case, opts: RunOptions) -> Result<Sample> {
    match case.scenario {
        Scenario::Thr => thr::run(imp, case, thr::Api::Default, opts),
        Scenario::ThrBatch => thr::run(imp, case, thr::Api::Batch, opts),
        other => Err(format!("scenario {other} is not implemented yet").into()),
    }
}
