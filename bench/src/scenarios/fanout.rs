//! `fanout`, `fanout-capacity` and `fanout-topics`: one PUB → N SUB, on the shared
//! PUB/SUB machinery of `super::pubsub` (layout, markers, publisher and subscriber
//! sides). Every message carries a sequence number after its optional 4-byte topic, so
//! each subscriber counts what it got and the drops are exact. Deliveries/s = messages
//! received over all subscribers / (last receipt − first receipt).
//!
//! The flat-out publishers (`fanout`, `fanout-topics`) are plain `send` loops for every
//! implementation, with no yields of their own: a Monocoque PUB that starves its
//! connections that way shows it here.

use std::time::{Duration, Instant};

use super::pubsub::{self, Deliveries, Published, Spec};
use crate::harness::RunOptions;
use crate::result::{Case, Impl, Sample, Scenario};
use crate::Result;

pub use super::pubsub::{PUBLISHING_CORE, SHARDED_LAYOUT, TOPICS};

fn spec_of(case: &Case) -> Spec {
    let topics = case.scenario == Scenario::FanoutTopics;
    let spec = Spec {
        subs: case.peers.max(1),
        size: 0,
        count: case.count,
        topics,
        rate: None,
        limit: None,
    };
    Spec {
        size: case.size.max(spec.payload_at()),
        ..spec
    }
}

/// What one subscriber saw.
#[derive(Debug, Clone, Copy, Default)]
struct Tracker {
    received: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

/// Per-subscriber counts and first/last receipt times.
struct Trackers(Vec<Tracker>);

impl Deliveries for Trackers {
    type Output = Vec<Tracker>;

    fn deliver(&mut self, sub: usize, _seq: u64, _body: &[u8]) -> Result<()> {
        let now = Instant::now();
        let t = &mut self.0[sub];
        t.first.get_or_insert(now);
        t.last = Some(now);
        t.received += 1;
        Ok(())
    }

    fn finish(self) -> Vec<Tracker> {
        self.0
    }
}

/// The outcome of one run: per-subscriber trackers and what the publisher did.
struct Outcome {
    trackers: Vec<Tracker>,
    published: Published,
}

impl Outcome {
    fn sample(&self, spec: &Spec) -> Sample {
        let received: u64 = self.trackers.iter().map(|t| t.received).sum();
        let expected: u64 = (0..spec.subs).map(|j| spec.expected(j)).sum();
        let first = self.trackers.iter().filter_map(|t| t.first).min();
        let last = self.trackers.iter().filter_map(|t| t.last).max();
        let secs = match (first, last) {
            (Some(f), Some(l)) => (l - f).as_secs_f64(),
            _ => 0.0,
        };
        let mut s = Sample::throughput(received, spec.size, secs);
        s.dropped = Some(if expected == 0 {
            0.0
        } else {
            1.0 - received as f64 / expected as f64
        });
        s.cpu_ns_per_msg =
            (received > 0).then(|| self.published.cpu.as_nanos() as f64 / received as f64);
        s
    }

    /// True when nothing was dropped and the publisher kept (95% of) the pace.
    fn kept_up(&self, spec: &Spec) -> bool {
        let dropped = self.sample(spec).dropped.unwrap_or(1.0);
        let achieved = spec.count as f64 / self.published.secs.max(1e-9);
        dropped == 0.0 && !matches!(spec.rate, Some(r) if achieved < 0.95 * r)
    }
}

/// Runs `fanout` or `fanout-topics` once (publisher flat out).
pub fn run(imp: Impl, case: &Case, opts: RunOptions) -> Result<Sample> {
    let spec = spec_of(case);
    Ok(run_spec(imp, case, spec, opts)?.sample(&spec))
}

fn run_spec(imp: Impl, case: &Case, spec: Spec, opts: RunOptions) -> Result<Outcome> {
    if !matches!(imp, Impl::Monocoque | Impl::Libzmq) {
        return Err(format!("{imp} is not run in the fan-out scenarios").into());
    }
    let trackers = Trackers(vec![Tracker::default(); spec.subs]);
    let (published, trackers) = pubsub::run(
        imp,
        case.transport,
        spec,
        case.shards,
        opts,
        |_body: &mut [u8], _seq: u64| {},
        trackers,
    )?;
    Ok(Outcome {
        trackers,
        published,
    })
}

/// First publish rate tried by `fanout-capacity`.
const CAPACITY_START: f64 = 10_000.0;
/// Highest rate tried.
const CAPACITY_MAX: f64 = 20_000_000.0;

/// How the capacity search steps: full runs (holds of a second or more) double the
/// rate and then bisect 3 times; quick runs (shorter holds) multiply it by 8 and bisect
/// once, so that a fast implementation still takes few steps (each connects every
/// subscriber afresh).
fn capacity_steps(hold: Duration) -> (f64, usize) {
    if hold >= Duration::from_secs(1) {
        (2.0, 3)
    } else {
        (8.0, 1)
    }
}

/// `fanout-capacity`: steps the publish rate up (multiplying, then bisecting between
/// the last rate that held and the first that did not); each step is a fresh run holding
/// the rate for `case.hold`. Reports the highest rate at which no subscriber dropped
/// anything and the publisher kept pace.
pub fn capacity(imp: Impl, case: &Case, opts: RunOptions) -> Result<Sample> {
    let base = spec_of(case);
    let step = |rate: f64| -> Result<bool> {
        let spec = Spec {
            rate: Some(rate),
            count: ((rate * case.hold.as_secs_f64()) as u64).max(10),
            ..base
        };
        Ok(run_spec(imp, case, spec, opts)?.kept_up(&spec))
    };
    let (factor, bisect) = capacity_steps(case.hold);
    let mut good: Option<f64> = None;
    let mut bad: Option<f64> = None;
    let mut rate = CAPACITY_START;
    while rate <= CAPACITY_MAX {
        if step(rate)? {
            good = Some(rate);
            rate *= factor;
        } else {
            bad = Some(rate);
            break;
        }
    }
    if let (Some(mut lo), Some(mut hi)) = (good, bad) {
        for _ in 0..bisect {
            let mid = (lo * hi).sqrt();
            if step(mid)? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        good = Some(lo);
    }
    let rate = good.unwrap_or(0.0);
    Ok(Sample {
        msgs_per_sec: Some(rate),
        mb_per_sec: Some(rate * base.size as f64 / 1e6),
        dropped: Some(0.0),
        ..Sample::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_spread_and_counted() {
        let spec = Spec {
            subs: 100,
            size: 64,
            count: 2_005,
            topics: true,
            rate: None,
            limit: None,
        };
        assert_eq!(spec.topic_of(0), 0);
        assert_eq!(spec.topic_of(1), 10);
        assert_eq!(spec.topic_of(99), 990);
        assert_eq!(spec.expected(0), 3);
        assert_eq!(spec.expected(1), 2);
        let total: u64 = (0..1000u64).filter(|s| s % 1000 == 10).count() as u64;
        assert_eq!(total, 1);
        let mut body = vec![0u8; 64];
        spec.fill(&mut body, Some(42), 7);
        assert_eq!(&body[..4], b"T042");
        assert_eq!(spec.seq(&body).unwrap(), 7);
    }
}
