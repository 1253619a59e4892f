//! Logging costs nothing per message: with a `tracing` subscriber installed (a `fmt`
//! subscriber at `warn`, as the `mq` tool installs, so the connections' spans are
//! live and entered on every poll), a PUSH → PULL stream over TCP allocates no more
//! in steady state than without one (where the path allocates next to nothing; see
//! the `alloc` bench). Counted over every thread of this process by `stats_alloc`:
//! this binary holds this one test, so nothing else runs meanwhile.

mod common;

use std::alloc::System;

use bytes::Bytes;
use common::{run, within};
use monocoque::{Pull, Push};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const WARMUP: usize = 5_000;
const COUNT: usize = 50_000;

/// Allocations (and reallocations) over `COUNT` messages after `WARMUP`, with a
/// subscriber as the `mq` tool installs on the executor's thread when `logs`.
fn measure(logs: bool) -> usize {
    run(move || async move {
        let _logs = logs.then(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter(EnvFilter::new("warn"))
                .with_writer(std::io::sink)
                .finish();
            tracing::subscriber::set_default(subscriber)
        });
        let pull = Pull::new();
        let endpoint = pull.bind("tcp://127.0.0.1:0").unwrap().to_string();
        let push = Push::new();
        push.connect(&endpoint).unwrap();
        let payload = Bytes::from(vec![1u8; 64]);
        let sender = glommio::spawn_local(async move {
            for _ in 0..WARMUP + COUNT {
                push.send(payload.clone()).await.unwrap();
            }
            push
        });
        within("the warm-up", async {
            for _ in 0..WARMUP {
                pull.recv().await.unwrap();
            }
        })
        .await;
        let before = GLOBAL.stats();
        within("the measured messages", async {
            for _ in 0..COUNT {
                pull.recv().await.unwrap();
            }
        })
        .await;
        let after = GLOBAL.stats();
        let push = sender.await;
        push.close().await;
        pull.close().await;
        (after.allocations + after.reallocations) - (before.allocations + before.reallocations)
    })
}

#[test]
fn live_spans_add_no_allocation_per_message() {
    // The path's own allocations (receive chunks, queue growth) depend on timing:
    // over 50 000 messages most runs make about 370, some under 300 (when freed
    // receive chunks happen to be reused sooner), with or without a subscriber. The
    // most of three runs each compares the usual case, and a cost per poll or per
    // message would raise every run.
    let most = |logs| (0..3).map(|_| measure(logs)).max().expect("three runs");
    let without = most(false);
    let with = most(true);
    eprintln!("{COUNT} messages: {without} allocations without a subscriber, {with} with");
    // One per thousand messages more would be a per-poll cost.
    assert!(
        with <= without + COUNT / 1000,
        "{with} allocations with live spans, {without} without, for {COUNT} messages"
    );
}
