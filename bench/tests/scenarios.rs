//! Every scenario runs, once per implementation, with tiny counts. These check that the
//! measurements complete and produce their figures; they assert no time.

use std::time::Duration;

use monocoque_bench::alloc_count::CountingAlloc;
use monocoque_bench::harness::RunOptions;
use monocoque_bench::result::{Case, Impl, Scenario, Transport};
use monocoque_bench::scenarios::{self, Effort};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn case(scenario: Scenario, transport: Transport, size: usize, peers: usize, count: u64) -> Case {
    Case {
        scenario,
        transport,
        size,
        peers,
        shards: 1,
        count,
        hold: Duration::from_millis(20),
        rate: None,
    }
}

fn run_all(c: &Case) -> Vec<monocoque_bench::result::Sample> {
    Impl::ALL
        .into_iter()
        .filter(|&i| scenarios::supports(i, c))
        .map(|i| {
            scenarios::run(i, c, RunOptions::default())
                .unwrap_or_else(|e| panic!("{} with {i}: {e}", c.label()))
        })
        .collect()
}

#[test]
fn thr_and_batch() {
    for transport in Transport::ALL {
        for s in run_all(&case(Scenario::Thr, transport, 1024, 1, 2_000)) {
            assert!(s.msgs_per_sec.unwrap() > 0.0);
            assert!(s.mb_per_sec.unwrap() > 0.0);
        }
    }
    for s in run_all(&case(Scenario::ThrBatch, Transport::Tcp, 64, 1, 3_000)) {
        assert!(s.msgs_per_sec.unwrap() > 0.0);
    }
}

#[test]
fn lat() {
    for transport in [Transport::Ipc, Transport::Inproc] {
        for s in run_all(&case(Scenario::Lat, transport, 64, 1, 200)) {
            let (p50, p99, p999) = (s.p50_us.unwrap(), s.p99_us.unwrap(), s.p999_us.unwrap());
            assert!(0.0 < p50 && p50 <= p99 && p99 <= p999);
        }
    }
}

/// inproc is in thr and lat, for Monocoque and libzmq (whose two sides share a
/// context); zmq.rs has no inproc. A large message crosses too, in both scenarios.
#[test]
fn inproc_cases() {
    for scenario in [Scenario::Thr, Scenario::Lat] {
        let cases = scenarios::cases(scenario, Effort::Smoke);
        assert!(cases.iter().any(|c| c.transport == Transport::Inproc));
    }
    let thr = case(Scenario::Thr, Transport::Inproc, 64 << 10, 1, 300);
    let lat = case(Scenario::Lat, Transport::Inproc, 64 << 10, 1, 100);
    assert!(!scenarios::supports(Impl::ZmqRs, &thr));
    assert!(!scenarios::supports(Impl::ZmqRs, &lat));
    for c in [thr, lat] {
        assert!(scenarios::supports(Impl::Monocoque, &c));
        assert!(scenarios::supports(Impl::Libzmq, &c));
        assert_eq!(run_all(&c).len(), 2);
    }
}

#[test]
fn router() {
    for s in run_all(&case(Scenario::Router, Transport::Tcp, 64, 8, 800)) {
        assert!(s.msgs_per_sec.unwrap() > 0.0);
    }
}

#[test]
fn fanout_and_topics() {
    for s in run_all(&case(Scenario::Fanout, Transport::Tcp, 64, 3, 2_000)) {
        let dropped = s.dropped.unwrap();
        assert!((0.0..=1.0).contains(&dropped));
    }
    for s in run_all(&case(Scenario::FanoutTopics, Transport::Tcp, 64, 10, 5_000)) {
        assert!((0.0..=1.0).contains(&s.dropped.unwrap()));
    }
}

#[test]
fn sharded_fanout_capacity_and_topics() {
    let sharded = |scenario, peers, count| Case {
        shards: 2,
        ..case(scenario, Transport::Tcp, 64, peers, count)
    };
    for c in [
        sharded(Scenario::Fanout, 3, 2_000),
        sharded(Scenario::FanoutCapacity, 4, 0),
        sharded(Scenario::FanoutTopics, 10, 5_000),
    ] {
        // libzmq has no shards but runs alongside, so the row has a ratio.
        assert!(scenarios::supports(Impl::Libzmq, &c));
        for s in run_all(&c) {
            assert!((0.0..=1.0).contains(&s.dropped.unwrap()));
            assert!(s.msgs_per_sec.unwrap() >= 0.0);
        }
    }
}

#[test]
fn alloc_counts_both_paths() {
    let c = case(Scenario::Alloc, Transport::Tcp, 64, 1, 2_000);
    let s = scenarios::run(Impl::Monocoque, &c, RunOptions::default()).unwrap();
    assert!(s.allocs_send.is_some() && s.allocs_recv.is_some());
    assert!(!scenarios::supports(Impl::Libzmq, &c));
}

#[test]
fn zmqrs_thr_and_lat() {
    let thr = case(Scenario::Thr, Transport::Tcp, 64, 1, 2_000);
    let batch = case(Scenario::ThrBatch, Transport::Tcp, 64, 1, 2_000);
    let router = case(Scenario::Router, Transport::Tcp, 64, 8, 800);
    assert!(scenarios::supports(Impl::ZmqRs, &thr));
    assert!(!scenarios::supports(Impl::ZmqRs, &batch));
    assert!(!scenarios::supports(Impl::ZmqRs, &router));
    for transport in [Transport::Tcp, Transport::Ipc] {
        let c = case(Scenario::Thr, transport, 1024, 1, 2_000);
        let s = scenarios::run(Impl::ZmqRs, &c, RunOptions::default())
            .unwrap_or_else(|e| panic!("{} with zmq.rs: {e}", c.label()));
        assert!(s.msgs_per_sec.unwrap() > 0.0);
        assert!(s.mb_per_sec.unwrap() > 0.0);

        let c = case(Scenario::Lat, transport, 64, 1, 200);
        let s = scenarios::run(Impl::ZmqRs, &c, RunOptions::default())
            .unwrap_or_else(|e| panic!("{} with zmq.rs: {e}", c.label()));
        let (p50, p99) = (s.p50_us.unwrap(), s.p99_us.unwrap());
        assert!(0.0 < p50 && p50 <= p99);
    }
}

#[test]
fn feed_every_implementation() {
    let cases = scenarios::cases(Scenario::Feed, Effort::Smoke);
    assert!(cases.iter().any(|c| c.shards == 1) && cases.iter().any(|c| c.shards > 1));
    let mut ran = Vec::new();
    for c in &cases {
        assert!(c.rate.is_some_and(|r| r > 0.0));
        for imp in Impl::ALL {
            if !scenarios::supports(imp, c) {
                continue;
            }
            let s = scenarios::run(imp, c, RunOptions::default())
                .unwrap_or_else(|e| panic!("{} with {imp}: {e}", c.label()));
            let delivered = s.delivered.unwrap();
            assert!(
                0.0 < delivered && delivered <= 1.0,
                "{} with {imp}: delivered {delivered}",
                c.label()
            );
            let (p50, p99, p999, max) = (
                s.p50_us.unwrap(),
                s.p99_us.unwrap(),
                s.p999_us.unwrap(),
                s.max_us.unwrap(),
            );
            assert!(0.0 < p50 && p50 <= p99 && p99 <= p999 && p999 <= max);
            assert!(s.msgs_per_sec.unwrap() > 0.0);
            assert!(s.cpu_ns_per_msg.unwrap() > 0.0);
            ran.push((imp, c.shards));
        }
    }
    // Every implementation ran, Monocoque also sharded.
    for imp in Impl::ALL {
        assert!(ran.iter().any(|&(i, _)| i == imp), "{imp} did not run");
    }
    assert!(ran.contains(&(Impl::Monocoque, 2)));
}
