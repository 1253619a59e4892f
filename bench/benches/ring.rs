//! The SPSC ring between cores (`monocoque_runtime::ring`): push/pop on one thread (the
//! cost of the operations themselves), and a stream across two threads.
// criterion_group! defines a public function it cannot document.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use monocoque_runtime::ring;

const BATCH: usize = 1024;

fn same_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring");
    let (mut tx, mut rx) = ring::channel::<u64>(BATCH);
    g.throughput(Throughput::Elements(1));
    g.bench_function("push_pop", |b| {
        b.iter(|| {
            let _ = tx.try_push(std::hint::black_box(1)).expect("room");
            rx.try_pop()
        })
    });
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("push_1024_pop_batch", |b| {
        b.iter(|| {
            for i in 0..BATCH as u64 {
                let _ = tx.try_push(i).expect("room");
            }
            let mut sum = 0;
            rx.pop_batch(BATCH, |v| sum += v);
            sum
        })
    });
    g.finish();
}

fn cross_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring");
    const N: u64 = 100_000;
    g.throughput(Throughput::Elements(N));
    g.bench_function("two_threads_100k", |b| {
        b.iter(|| {
            let (mut tx, mut rx) = ring::channel::<u64>(BATCH);
            let consumer = std::thread::spawn(move || {
                let mut got = 0;
                while got < N {
                    got += rx.pop_batch(BATCH, |_| {}) as u64;
                    std::hint::spin_loop();
                }
            });
            let mut sent = 0;
            while sent < N {
                if tx.try_push(sent).is_ok() {
                    sent += 1;
                } else {
                    std::hint::spin_loop();
                }
            }
            consumer.join().expect("consumer");
        })
    });
    g.finish();
}

criterion_group!(benches, same_thread, cross_thread);
criterion_main!(benches);
