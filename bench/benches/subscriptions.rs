//! Subscription matching (`monocoque::SubscriptionSet`) with 10, 1 000 and 100 000
//! subscriptions: a topic that matches and one that does not.
// criterion_group! defines a public function it cannot document.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use monocoque::SubscriptionSet;

/// Prefixes of a market-data feed: `md.<venue>.<symbol>` with a few lengths.
fn prefix(i: usize) -> String {
    format!("md.{}.{:06}", i % 7, i)
}

fn matching(c: &mut Criterion) {
    let mut g = c.benchmark_group("subscription_match");
    for n in [10usize, 1_000, 100_000] {
        let mut set = SubscriptionSet::default();
        for i in 0..n {
            set.add(prefix(i).as_bytes());
        }
        let hit = format!("{}.trade 101.25", prefix(n / 2));
        let miss = "fx.EURUSD.quote 1.0842".to_string();
        g.bench_with_input(BenchmarkId::new("hit", n), &hit, |b, t| {
            b.iter(|| set.matches(std::hint::black_box(t.as_bytes())))
        });
        g.bench_with_input(BenchmarkId::new("miss", n), &miss, |b, t| {
            b.iter(|| set.matches(std::hint::black_box(t.as_bytes())))
        });
    }
    g.finish();
}

criterion_group!(benches, matching);
criterion_main!(benches);
