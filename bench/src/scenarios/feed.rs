//! `feed`: a market-data feed. One PUB paced at a fixed rate publishes to N SUBs, all
//! subscribed to everything, for a fixed time ([`Case::hold`]); every message carries
//! its sequence number and its send time, in nanoseconds since an `Instant` both sides
//! share (they run in one process). Every delivery of every message is recorded in one
//! HDR histogram per run: the figures are the delivered share (deliveries received /
//! (messages published × N)), the publish-to-receive latency p50 / p99 / p99.9 / max,
//! the publish rate achieved, and the CPU time of the whole process per delivery.
//!
//! It runs on the PUB/SUB machinery of `super::pubsub` (layout, markers, publisher
//! and subscriber sides), for Monocoque (local, and sharded over both cores), libzmq,
//! zmq.rs, and the mixed pairs Monocoque PUB → libzmq SUBs and libzmq PUB → Monocoque
//! SUBs. The publisher sends what is due by the clock, then sleeps `PACE_TICK` on its
//! runtime's timer (glommio's, `std::thread::sleep`, tokio's — which rounds up to whole
//! milliseconds, so zmq.rs publishes in bursts of a millisecond's worth). A publisher
//! that cannot keep the pace sends as fast as it can; its achieved rate is reported.
//! The send time is taken when the message is built, just before `send`.

use std::time::Instant;

use hdrhistogram::Histogram;

use super::effort::Effort;
use super::pubsub::{self, Deliveries, Spec, PACE_TICK};
use crate::harness::{open_files_limit, RunOptions};
use crate::result::{Case, Impl, Sample};
use crate::Result;

/// Publish rates, messages/s.
pub const RATES: &[f64] = &[10_000.0, 100_000.0, 400_000.0, 1_000_000.0];
/// Subscriber counts.
pub const SUBS: &[usize] = &[10, 100, 1000];
/// Message sizes, bytes.
pub const SIZES: &[usize] = &[64, 1024];
/// zmq.rs runs with at most this many subscribers. With 1000, its warm-up alone took
/// 16 s here, and at 1 M msg/s a run passed the 120 s run deadline: on its one thread
/// the PUB's fan-out task drains its whole queue (up to 100 000 messages × 1000
/// subscribers) before the publishing task runs again, so the stream overran its hold
/// by minutes.
pub const ZMQRS_MAX_SUBS: usize = 100;
/// Bytes at the start of every message: sequence number and send time.
pub const HEADER: usize = 16;
/// File descriptors a run needs per subscriber, at most (both ends of its connection
/// in this process, and a libzmq socket's mailbox).
const FDS_PER_SUB: u64 = 3;
/// File descriptors a run needs besides its subscribers' (listeners, executors, I/O
/// threads, stdio).
const FDS_BASE: u64 = 64;

/// Whether the feed case (`shards`, `size`, `subs`, `rate`) is run at `effort`. The
/// full table runs every combination. `--quick` runs a subset so that the whole quick
/// table stays under two minutes: 64 B; 10 subscribers at 10 k and 100 k msg/s (below
/// and about at libzmq's fan-out capacity to 10 subscribers); 100 subscribers at 10 k
/// msg/s, also with shards = 2 (beyond every implementation's capacity, 100 subscribers
/// at 100 k msg/s build seconds of queue, and each such run takes seconds to drain).
/// Smoke (tests): 64 B, 10 subscribers, 10 k msg/s.
pub fn selected(effort: Effort, shards: usize, size: usize, subs: usize, rate: f64) -> bool {
    match effort {
        Effort::Full => true,
        Effort::Quick => {
            size == 64
                && match subs {
                    10 => shards == 1 && (rate == 10_000.0 || rate == 100_000.0),
                    100 => rate == 10_000.0,
                    _ => false,
                }
        }
        Effort::Smoke => size == 64 && subs == 10 && rate == 10_000.0,
    }
}

/// Latencies of every delivery, in one histogram for the subscriber side.
struct Latencies {
    base: Instant,
    hist: Histogram<u64>,
    received: u64,
}

impl Deliveries for Latencies {
    type Output = (u64, Histogram<u64>);

    fn deliver(&mut self, _sub: usize, _seq: u64, body: &[u8]) -> Result<()> {
        let now = self.base.elapsed().as_nanos() as u64;
        let sent = body
            .get(8..HEADER)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or("feed message too short")?;
        self.hist.saturating_record(now.saturating_sub(sent).max(1));
        self.received += 1;
        Ok(())
    }

    fn finish(self) -> (u64, Histogram<u64>) {
        (self.received, self.hist)
    }
}

/// Fails unless the process may open enough file descriptors for `subs` subscribers.
fn check_fds(subs: usize) -> Result<()> {
    let need = FDS_BASE + FDS_PER_SUB * subs as u64;
    match open_files_limit() {
        Some(limit) if limit < need => Err(format!(
            "{subs} subscribers need up to {need} file descriptors, RLIMIT_NOFILE is {limit} \
             (raise it with ulimit -n)"
        )
        .into()),
        _ => Ok(()),
    }
}

/// Runs one feed case once with `imp`.
pub fn run(imp: Impl, case: &Case, opts: RunOptions) -> Result<Sample> {
    let rate = case.rate.ok_or("a feed case needs a rate")?;
    let subs = case.peers.max(1);
    check_fds(subs)?;
    let spec = Spec {
        subs,
        size: case.size.max(HEADER),
        count: case.count.max(1),
        topics: false,
        rate: Some(rate),
        limit: Some(case.hold),
    };
    debug_assert_eq!(spec.payload_at(), 8);
    let base = Instant::now();
    let stamp = move |body: &mut [u8], _seq: u64| {
        let now = base.elapsed().as_nanos() as u64;
        body[8..HEADER].copy_from_slice(&now.to_le_bytes());
    };
    let latencies = Latencies {
        base,
        hist: super::lat::histogram(),
        received: 0,
    };
    let (published, (received, hist)) = pubsub::run(
        imp,
        case.transport,
        spec,
        case.shards,
        opts,
        stamp,
        latencies,
    )?;
    let expected = published.count * subs as u64;
    let mut s = if received > 0 {
        super::lat::latency_sample(&hist)
    } else {
        Sample::default()
    };
    s.max_us = (received > 0).then(|| hist.max() as f64 / 1e3);
    s.msgs_per_sec = Some(published.count as f64 / published.secs.max(1e-9));
    s.delivered = Some(if expected == 0 {
        0.0
    } else {
        received as f64 / expected as f64
    });
    s.cpu_ns_per_msg = (received > 0).then(|| published.cpu.as_nanos() as f64 / received as f64);
    Ok(s)
}

/// What the feed's columns mean and how it runs, for the notes under the table.
pub fn notes() -> String {
    format!(
        "feed: one PUB paced at the rate shown → N SUBs for {} s ({} s and a subset of the \
         cases with --quick, see feed::selected), each message stamped with its send time. published msg/s: the \
         rate the publisher achieved (below the target when it cannot keep the pace). \
         delivered: deliveries received / (messages published × N). p50 … max: \
         publish-to-receive latency over every delivery. CPU ns/delivery: CPU time of the \
         whole process (both sides and every library thread, getrusage) from the first \
         message to the last end marker, per delivery. × libzmq: p99 / libzmq's p99 (lower \
         is better). Pacing: send what is due, then sleep {} µs on the publisher's timer \
         (tokio's rounds it up to 1 ms, so zmq.rs publishes a millisecond's worth at a \
         time). 1000 subscribers need about {} file descriptors (RLIMIT_NOFILE here: {}). zmq.rs runs \
         with up to {} subscribers (with 1000 its runs passed the 120 s run deadline). A run \
         whose subscribers have not all seen an end marker {} s after the stream reports what \
         was delivered by then.",
        Effort::Full.hold().as_secs_f64(),
        Effort::Quick.hold().as_secs_f64(),
        PACE_TICK.as_micros(),
        FDS_BASE + FDS_PER_SUB * 1000,
        open_files_limit().map_or_else(|| "unknown".to_string(), |l| l.to_string()),
        ZMQRS_MAX_SUBS,
        pubsub::END_DEADLINE.as_secs(),
    )
}
