//! The scenarios of BENCH.md: which cases each has, which implementations run them,
//! and the dispatch to the module that measures them.
//!
//! Every module has one function per implementation, run on the same pinned layout
//! (sender side on core 0, receiver side on core 1), and returns a [`Sample`]. zmq.rs
//! has one in `thr`, `lat` and `feed` only (not over inproc), and the mixed pairs (a Monocoque PUB to
//! libzmq SUBs and the reverse) run in `feed` only (see [`supports`]). The PUB/SUB
//! scenarios (`fanout*`, `feed`) share their machinery in the private `pubsub` module.

pub mod alloc;
mod effort;
pub mod fanout;
pub mod feed;
pub mod lat;
mod pubsub;
pub mod router;
pub mod thr;

pub use effort::Effort;

use crate::harness::RunOptions;
use crate::result::{Case, Impl, Sample, Scenario, Transport};
use crate::Result;

/// Shard counts of Monocoque measured in the fan-out scenarios: local mode (1) and a
/// sharded PUB over both cores (2; see [`fanout::SHARDED_LAYOUT`]).
pub const FANOUT_SHARDS: &[usize] = &[1, 2];

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
        rate: None,
    };
    let mut out = Vec::new();
    match scenario {
        Scenario::Thr => {
            for transport in Transport::ALL {
                for (size, full) in [
                    (64, 4_000_000),
                    (1024, 2_000_000),
                    (64 << 10, 80_000),
                    (1 << 20, 4_000),
                ] {
                    // Over inproc a large message costs what a small one does (nothing
                    // is copied), and 4 000 messages are less than twice what one
                    // connection holds in flight (SNDHWM + RCVHWM + the lane): ten
                    // times the count, so that the run is not mostly the drain of what
                    // was queued before the clock started.
                    let full = match transport {
                        Transport::Inproc if size >= 64 << 10 => full * 10,
                        _ => full,
                    };
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
        Scenario::Lat => {
            for transport in Transport::ALL {
                for (size, full) in [(64, 20_000), (1024, 20_000), (64 << 10, 5_000)] {
                    out.push(Case {
                        transport,
                        size,
                        count: effort.count(full),
                        ..base.clone()
                    });
                }
            }
        }
        Scenario::Router => {
            for (peers, full) in [(1, 40_000), (16, 160_000), (256, 256_000)] {
                out.push(Case {
                    peers,
                    count: effort.count(full),
                    ..base.clone()
                });
            }
        }
        Scenario::Fanout => {
            for &shards in FANOUT_SHARDS {
                for (size, scale) in [(64, 1), (1024, 2)] {
                    for (peers, full) in [(1, 1_000_000), (10, 400_000), (100, 100_000)] {
                        out.push(Case {
                            size,
                            peers,
                            shards,
                            count: effort.count(full / scale),
                            ..base.clone()
                        });
                    }
                }
            }
        }
        Scenario::FanoutCapacity => {
            for &shards in FANOUT_SHARDS {
                for peers in [1, 10, 100] {
                    // Each capacity step connects every subscriber afresh: the quick
                    // table keeps only the 100-subscriber case for shards = 2, so that
                    // it stays under two minutes.
                    if effort == Effort::Quick && shards > 1 && peers < 100 {
                        continue;
                    }
                    out.push(Case {
                        peers,
                        shards,
                        ..base.clone()
                    });
                }
            }
        }
        Scenario::FanoutTopics => {
            for &shards in FANOUT_SHARDS {
                out.push(Case {
                    peers: 100,
                    shards,
                    count: effort.count(2_000_000),
                    ..base.clone()
                });
            }
        }
        Scenario::Feed => {
            for &shards in FANOUT_SHARDS {
                for &size in feed::SIZES {
                    for &peers in feed::SUBS {
                        for &rate in feed::RATES {
                            if !feed::selected(effort, shards, size, peers, rate) {
                                continue;
                            }
                            out.push(Case {
                                size,
                                peers,
                                shards,
                                rate: Some(rate),
                                // At most; each run stops after the hold.
                                count: (rate * base.hold.as_secs_f64()).ceil() as u64,
                                ..base.clone()
                            });
                        }
                    }
                }
            }
        }
        Scenario::Alloc | Scenario::CurveAlloc => out.push(Case {
            count: effort.count(200_000),
            ..base
        }),
        // CURVE over TCP, the transport it is for (a network that is not trusted).
        Scenario::CurveThr => {
            for (size, full) in [(64, 2_000_000), (1024, 1_000_000)] {
                out.push(Case {
                    size,
                    count: effort.count(full),
                    ..base.clone()
                });
            }
        }
        Scenario::CurveLat => out.push(Case {
            count: effort.count(20_000),
            ..base
        }),
    }
    out
}

/// Whether `imp` runs `case`.
pub fn supports(imp: Impl, case: &Case) -> bool {
    match imp {
        Impl::Monocoque => true,
        // zmq.rs: PUSH → PULL with the default API and REQ ↔ REP, TCP and IPC (it has
        // no inproc); feed up to feed::ZMQRS_MAX_SUBS subscribers.
        Impl::ZmqRs => {
            case.shards == 1
                && case.transport != Transport::Inproc
                && match case.scenario {
                    Scenario::Thr | Scenario::Lat => true,
                    Scenario::Feed => case.peers <= feed::ZMQRS_MAX_SUBS,
                    _ => false,
                }
        }
        // The mixed pairs: a local Monocoque PUB to libzmq SUBs and the reverse.
        Impl::MonocoqueToLibzmq | Impl::LibzmqToMonocoque => {
            case.scenario == Scenario::Feed && case.shards == 1
        }
        // libzmq has no shards: it runs in every fan-out case, alternating with each
        // Monocoque shard count, so every row has a ratio from its own alternation.
        Impl::Libzmq => {
            !case.scenario.counts_allocations() && (case.shards == 1 || is_fanout(case))
        }
    }
}

fn is_fanout(case: &Case) -> bool {
    matches!(
        case.scenario,
        Scenario::Fanout | Scenario::FanoutCapacity | Scenario::FanoutTopics | Scenario::Feed
    )
}

/// The API `imp` uses in `case`, for the report.
pub fn api(imp: Impl, case: &Case) -> &'static str {
    let flat_out = matches!(case.scenario, Scenario::Fanout | Scenario::FanoutTopics);
    let paced = matches!(case.scenario, Scenario::FanoutCapacity | Scenario::Feed);
    if imp == Impl::Monocoque && case.shards > 1 && is_fanout(case) {
        return if flat_out {
            "ShardedSocket (PUB) on 2 cores; ShardRef::send from an on_each_core handler on \
             core 0; flat out: send in a loop, no yields of its own"
        } else {
            "ShardedSocket (PUB) on 2 cores; ShardRef::send from an on_each_core handler on \
             core 0; paced: sends what is due, then glommio::timer::sleep(100 µs)"
        };
    }
    match (imp, case.scenario) {
        (Impl::Monocoque | Impl::Libzmq, Scenario::CurveThr | Scenario::CurveLat) => {
            "default; CURVE on both sides (keys made for the run, no authenticator)"
        }
        (Impl::Monocoque, Scenario::ThrBatch) => "send_batch/recv_batch",
        (Impl::Libzmq, Scenario::ThrBatch) => "default (libzmq has no batching API)",
        (Impl::Monocoque | Impl::Libzmq, _) if flat_out => {
            "default; flat out: send in a loop, no yields of its own"
        }
        (Impl::Monocoque, _) if paced => {
            "default; paced: sends what is due, then glommio::timer::sleep(100 µs)"
        }
        (Impl::Libzmq, _) if paced => {
            "default; paced: sends what is due, then std::thread::sleep(100 µs)"
        }
        (Impl::ZmqRs, Scenario::Feed) => {
            "default; paced: sends what is due, then tokio::time::sleep(100 µs) (tokio rounds \
             it up to 1 ms); one tokio task per SUB"
        }
        (Impl::MonocoqueToLibzmq, _) => {
            "Monocoque PUB paced with glommio::timer::sleep(100 µs) → libzmq SUBs polled by \
             one thread"
        }
        (Impl::LibzmqToMonocoque, _) => {
            "libzmq PUB paced with std::thread::sleep(100 µs) → Monocoque SUBs, one task each"
        }
        _ => "default",
    }
}

/// Runs `case` once with `imp`.
pub fn run(imp: Impl, case: &Case, opts: RunOptions) -> Result<Sample> {
    match case.scenario {
        Scenario::Thr | Scenario::CurveThr => thr::run(imp, case, thr::Api::Default, opts),
        Scenario::ThrBatch => thr::run(imp, case, thr::Api::Batch, opts),
        Scenario::Lat | Scenario::CurveLat => lat::run(imp, case, opts),
        Scenario::Router => router::run(imp, case, opts),
        Scenario::Fanout | Scenario::FanoutTopics => fanout::run(imp, case, opts),
        Scenario::FanoutCapacity => fanout::capacity(imp, case, opts),
        Scenario::Feed => feed::run(imp, case, opts),
        Scenario::Alloc | Scenario::CurveAlloc => alloc::run(imp, case, opts),
    }
}
