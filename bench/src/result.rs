//! The shared vocabulary: implementations, scenarios, cases, one run's sample and the
//! summary of a case's repetitions.

use std::fmt;
use std::time::Duration;

use crate::numbers::{fmt_num, fmt_size};

/// An implementation under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Impl {
    /// This project, on glommio.
    Monocoque,
    /// zmq.rs, the pure-Rust `zeromq` crate, on tokio (`thr`, `lat` and `feed` only).
    ZmqRs,
    /// A mixed pair (`feed` only): a Monocoque PUB publishing to libzmq SUBs.
    MonocoqueToLibzmq,
    /// A mixed pair (`feed` only): a libzmq PUB publishing to Monocoque SUBs.
    LibzmqToMonocoque,
    /// libzmq 4.3 through the `zmq` crate (the reference).
    Libzmq,
}

impl Impl {
    /// Every implementation, the reference last so its rows close each group.
    pub const ALL: [Impl; 5] = [
        Impl::Monocoque,
        Impl::ZmqRs,
        Impl::MonocoqueToLibzmq,
        Impl::LibzmqToMonocoque,
        Impl::Libzmq,
    ];

    /// The name used in tables and JSON (a mixed pair names its PUB side first).
    pub fn name(self) -> &'static str {
        match self {
            Impl::Monocoque => "monocoque",
            Impl::ZmqRs => "zmq.rs",
            Impl::MonocoqueToLibzmq => "monocoque-to-libzmq",
            Impl::LibzmqToMonocoque => "libzmq-to-monocoque",
            Impl::Libzmq => "libzmq",
        }
    }

    /// The implementations of the sending (PUB) and the receiving (SUB) side: the
    /// same one twice except for the mixed pairs.
    pub fn sides(self) -> (Impl, Impl) {
        match self {
            Impl::MonocoqueToLibzmq => (Impl::Monocoque, Impl::Libzmq),
            Impl::LibzmqToMonocoque => (Impl::Libzmq, Impl::Monocoque),
            imp => (imp, imp),
        }
    }

    /// True when either side is Monocoque (so Monocoque's options apply to the run).
    pub fn uses_monocoque(self) -> bool {
        let (a, b) = self.sides();
        a == Impl::Monocoque || b == Impl::Monocoque
    }

    /// Parses a name as printed by [`Impl::name`].
    pub fn parse(s: &str) -> Option<Impl> {
        Impl::ALL.into_iter().find(|i| i.name() == s)
    }

    /// How this implementation's two sides are laid out on the two cores, with
    /// Monocoque's `spin_before_park` and `busy_poll` settings (`None`: off).
    pub fn layout(self, spin: Option<Duration>, busy_poll: Option<Duration>) -> String {
        let on_off = |d: Option<Duration>| match d {
            Some(d) => format!("on ({} µs)", d.as_micros()),
            None => "off".to_string(),
        };
        match self {
            Impl::Monocoque => format!(
                "sender side: one glommio executor pinned to core 0; receiver side: one glommio \
                 executor pinned to core 1; no other threads; spin_before_park {}; busy_poll {}",
                on_off(spin),
                on_off(busy_poll)
            ),
            Impl::ZmqRs => {
                "sender side: one current-thread tokio runtime on a std thread pinned to \
                 core 0 (zmq.rs spawns its connection tasks onto it); receiver side: the same \
                 on core 1; no other threads while measuring (tokio's blocking pool starts one, \
                 on the same core, only when an IPC socket file is removed on close); each \
                 send is a fresh ZmqMessage whose one frame is a clone of a shared payload \
                 Bytes (no payload copy); every side bounded by the run deadline \
                 (tokio::time::timeout)"
                    .to_string()
            }
            Impl::MonocoqueToLibzmq => format!(
                "PUB side as Monocoque's sender side (one glommio executor pinned to core 0; \
                 spin_before_park {}; busy_poll {}); SUB side as libzmq's receiver side (app \
                 thread pinned to core 1 plus its context's I/O and reaper threads)",
                on_off(spin),
                on_off(busy_poll)
            ),
            Impl::LibzmqToMonocoque => format!(
                "PUB side as libzmq's sender side (app thread pinned to core 0 plus its \
                 context's I/O and reaper threads); SUB side as Monocoque's receiver side (one \
                 glommio executor pinned to core 1; spin_before_park {}; busy_poll {})",
                on_off(spin),
                on_off(busy_poll)
            ),
            Impl::Libzmq => {
                "sender side: app thread pinned to core 0 plus its context's I/O and reaper \
                 threads (started from the app thread, so they inherit core 0); receiver side: \
                 the same on core 1; one context per side, one I/O thread each (inproc: one \
                 context shared by the two app threads, as libzmq's inproc requires; its I/O \
                 thread, started with the receiver's first socket on core 1, carries no inproc \
                 traffic)"
                    .to_string()
            }
        }
    }
}

impl fmt::Display for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The scenarios of BENCH.md that exist so far (`curve` does not: Monocoque has no
/// CURVE yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// PUSH → PULL, default API.
    Thr,
    /// PUSH → PULL with the explicit batching API.
    ThrBatch,
    /// REQ ↔ REP round trips.
    Lat,
    /// N DEALER ↔ one ROUTER echo.
    Router,
    /// One PUB → N SUB, flat out.
    Fanout,
    /// One PUB → N SUB, paced: highest rate without drops.
    FanoutCapacity,
    /// One PUB → 100 SUB, each subscribed to 1 of 1000 topics.
    FanoutTopics,
    /// One PUB paced at fixed rates → N SUB: delivered share and publish-to-receive
    /// latency of every delivery.
    Feed,
    /// Allocations per message on PUSH → PULL.
    Alloc,
    /// `thr` with CURVE on both sides.
    CurveThr,
    /// `lat` with CURVE on both sides.
    CurveLat,
    /// `alloc` with CURVE on both sides.
    CurveAlloc,
}

impl Scenario {
    /// Every scenario, in table order.
    pub const ALL: [Scenario; 12] = [
        Scenario::Thr,
        Scenario::ThrBatch,
        Scenario::Lat,
        Scenario::Router,
        Scenario::Fanout,
        Scenario::FanoutCapacity,
        Scenario::FanoutTopics,
        Scenario::Feed,
        Scenario::Alloc,
        Scenario::CurveThr,
        Scenario::CurveLat,
        Scenario::CurveAlloc,
    ];

    /// The scenarios `--scenarios curve` selects (BENCH.md's `curve` row).
    pub const CURVE: [Scenario; 3] = [Scenario::CurveThr, Scenario::CurveLat, Scenario::CurveAlloc];

    /// The name used in tables, JSON and `--scenarios`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Thr => "thr",
            Scenario::ThrBatch => "thr-batch",
            Scenario::Lat => "lat",
            Scenario::Router => "router",
            Scenario::Fanout => "fanout",
            Scenario::FanoutCapacity => "fanout-capacity",
            Scenario::FanoutTopics => "fanout-topics",
            Scenario::Feed => "feed",
            Scenario::Alloc => "alloc",
            Scenario::CurveThr => "curve-thr",
            Scenario::CurveLat => "curve-lat",
            Scenario::CurveAlloc => "curve-alloc",
        }
    }

    /// Whether the sockets of this scenario use CURVE.
    pub fn curve(self) -> bool {
        Scenario::CURVE.contains(&self)
    }

    /// Whether this scenario counts allocations (its own table).
    pub fn counts_allocations(self) -> bool {
        matches!(self, Scenario::Alloc | Scenario::CurveAlloc)
    }

    /// Parses a name as printed by [`Scenario::name`].
    pub fn parse(s: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|x| x.name() == s)
    }

    /// The figure that ranks implementations in this scenario.
    pub fn primary(self) -> Metric {
        match self {
            Scenario::Lat | Scenario::CurveLat => Metric::P50Us,
            Scenario::Feed => Metric::P99Us,
            Scenario::Alloc | Scenario::CurveAlloc => Metric::AllocsRecv,
            _ => Metric::MsgsPerSec,
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// TCP over loopback.
    Tcp,
    /// Unix domain sockets.
    Ipc,
    /// `inproc://name`, within the process. libzmq connects only sockets of one
    /// context over it, so its two sides share one context; zmq.rs has no inproc.
    Inproc,
}

impl Transport {
    /// Every transport, in table order.
    pub const ALL: [Transport; 3] = [Transport::Tcp, Transport::Ipc, Transport::Inproc];

    /// The name used in tables, JSON and `--transports`.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Ipc => "ipc",
            Transport::Inproc => "inproc",
        }
    }

    /// Parses a name as printed by [`Transport::name`].
    pub fn parse(s: &str) -> Option<Transport> {
        Transport::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// One point of a scenario: what every implementation runs the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The scenario.
    pub scenario: Scenario,
    /// The transport.
    pub transport: Transport,
    /// Message size in bytes.
    pub size: usize,
    /// Peers on the far side (DEALER clients, SUB subscribers); 1 for pairs.
    pub peers: usize,
    /// Shards (cores) of the Monocoque side; 1 = local mode. Only implementations
    /// that shard are run with more than 1.
    pub shards: usize,
    /// Messages (or round trips) per run.
    pub count: u64,
    /// Paced scenarios: how long each rate step is held.
    pub hold: std::time::Duration,
    /// Scenarios paced at a fixed rate (`feed`): messages published per second.
    pub rate: Option<f64>,
}

impl Case {
    /// A short label for progress lines.
    pub fn label(&self) -> String {
        let mut label = format!(
            "{} {} {} peers={} shards={}",
            self.scenario.name(),
            self.transport.name(),
            fmt_size(self.size),
            self.peers,
            self.shards
        );
        if let Some(rate) = self.rate {
            label.push_str(&format!(" rate={}/s", fmt_num(rate)));
        }
        label
    }
}

/// The figures one run produced; absent where they do not apply.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// Messages (or round trips, or deliveries) per second.
    pub msgs_per_sec: Option<f64>,
    /// Payload megabytes (10^6 B) per second.
    pub mb_per_sec: Option<f64>,
    /// Latency percentiles, µs.
    pub p50_us: Option<f64>,
    /// 99th percentile, µs.
    pub p99_us: Option<f64>,
    /// 99.9th percentile, µs.
    pub p999_us: Option<f64>,
    /// Largest latency, µs.
    pub max_us: Option<f64>,
    /// Fraction of messages lost (0..1), for PUB/SUB.
    pub dropped: Option<f64>,
    /// Share of the expected deliveries that arrived (0..1), for `feed`: deliveries
    /// received / (messages published × subscribers).
    pub delivered: Option<f64>,
    /// CPU time (user + system, every thread of the process: both sides and any
    /// library threads) per message or delivery, ns.
    pub cpu_ns_per_msg: Option<f64>,
    /// Allocations per message on the sending side.
    pub allocs_send: Option<f64>,
    /// Allocations per message on the receiving side.
    pub allocs_recv: Option<f64>,
}

/// A figure of a [`Sample`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// [`Sample::msgs_per_sec`].
    MsgsPerSec,
    /// [`Sample::mb_per_sec`].
    MbPerSec,
    /// [`Sample::p50_us`].
    P50Us,
    /// [`Sample::p99_us`].
    P99Us,
    /// [`Sample::p999_us`].
    P999Us,
    /// [`Sample::max_us`].
    MaxUs,
    /// [`Sample::dropped`].
    Dropped,
    /// [`Sample::delivered`].
    Delivered,
    /// [`Sample::cpu_ns_per_msg`].
    CpuNsPerMsg,
    /// [`Sample::allocs_send`].
    AllocsSend,
    /// [`Sample::allocs_recv`].
    AllocsRecv,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 11] = [
        Metric::MsgsPerSec,
        Metric::MbPerSec,
        Metric::P50Us,
        Metric::P99Us,
        Metric::P999Us,
        Metric::MaxUs,
        Metric::Dropped,
        Metric::Delivered,
        Metric::CpuNsPerMsg,
        Metric::AllocsSend,
        Metric::AllocsRecv,
    ];

    /// The figure in `s`.
    pub fn get(self, s: &Sample) -> Option<f64> {
        match self {
            Metric::MsgsPerSec => s.msgs_per_sec,
            Metric::MbPerSec => s.mb_per_sec,
            Metric::P50Us => s.p50_us,
            Metric::P99Us => s.p99_us,
            Metric::P999Us => s.p999_us,
            Metric::MaxUs => s.max_us,
            Metric::Dropped => s.dropped,
            Metric::Delivered => s.delivered,
            Metric::CpuNsPerMsg => s.cpu_ns_per_msg,
            Metric::AllocsSend => s.allocs_send,
            Metric::AllocsRecv => s.allocs_recv,
        }
    }

    /// Sets the figure in `s`.
    pub fn set(self, s: &mut Sample, v: Option<f64>) {
        let slot = match self {
            Metric::MsgsPerSec => &mut s.msgs_per_sec,
            Metric::MbPerSec => &mut s.mb_per_sec,
            Metric::P50Us => &mut s.p50_us,
            Metric::P99Us => &mut s.p99_us,
            Metric::P999Us => &mut s.p999_us,
            Metric::MaxUs => &mut s.max_us,
            Metric::Dropped => &mut s.dropped,
            Metric::Delivered => &mut s.delivered,
            Metric::CpuNsPerMsg => &mut s.cpu_ns_per_msg,
            Metric::AllocsSend => &mut s.allocs_send,
            Metric::AllocsRecv => &mut s.allocs_recv,
        };
        *slot = v;
    }

    /// True when a larger value is better.
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            Metric::MsgsPerSec | Metric::MbPerSec | Metric::Delivered
        )
    }
}

impl Sample {
    /// A throughput sample: `count` messages of `size` bytes in `secs`.
    pub fn throughput(count: u64, size: usize, secs: f64) -> Sample {
        let secs = secs.max(1e-9);
        Sample {
            msgs_per_sec: Some(count as f64 / secs),
            mb_per_sec: Some(count as f64 * size as f64 / secs / 1e6),
            ..Sample::default()
        }
    }
}

/// A case's result for one implementation over its repetitions.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The case.
    pub case: Case,
    /// The implementation.
    pub imp: Impl,
    /// The median of each figure over the repetitions that succeeded.
    pub median: Sample,
    /// Smallest and largest value of the scenario's primary figure.
    pub spread: Option<(f64, f64)>,
    /// Repetitions that succeeded.
    pub reps: usize,
    /// Errors of the repetitions that failed.
    pub errors: Vec<String>,
    /// glommio's spin_before_park, for Monocoque (`Some(None)`: off).
    pub spin: Option<Option<std::time::Duration>>,
    /// Busy polling on Monocoque's sockets (`Some(None)`: off).
    pub busy_poll: Option<Option<std::time::Duration>>,
    /// Which API was used (`default`, `batch`).
    pub api: &'static str,
    /// Median / libzmq's median of the primary figure, filled in by the runner.
    pub ratio_vs_libzmq: Option<f64>,
}

impl Summary {
    /// The primary figure's median.
    pub fn primary(&self) -> Option<f64> {
        self.case.scenario.primary().get(&self.median)
    }

    /// The spread as a percentage of the median: (max − min) / median.
    pub fn spread_pct(&self) -> Option<f64> {
        let (lo, hi) = self.spread?;
        let m = self.primary()?;
        (m != 0.0).then(|| (hi - lo) / m * 100.0)
    }
}

/// The median of `values` (which must not be empty); the mean of the middle two for
/// an even count.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::parse(s.name()), Some(s));
        }
        for i in Impl::ALL {
            assert_eq!(Impl::parse(i.name()), Some(i));
        }
        for t in Transport::ALL {
            assert_eq!(Transport::parse(t.name()), Some(t));
        }
    }
}
