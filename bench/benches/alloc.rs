//! The counting-allocator report: allocations per message in steady state on
//! PUSH → PULL (64 B, TCP), send path and receive path separately. Not a timing
//! benchmark: it prints the counts (`cargo bench -p monocoque-bench --bench alloc`).

use std::time::Duration;

use monocoque_bench::alloc_count::CountingAlloc;
use monocoque_bench::harness::RunOptions;
use monocoque_bench::result::{Case, Impl, Scenario, Transport};
use monocoque_bench::scenarios;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn main() {
    // `cargo test --benches` runs bench targets with `--test`: a short run then.
    let count = if std::env::args().any(|a| a == "--test") {
        2_000
    } else {
        200_000
    };
    for transport in [Transport::Tcp, Transport::Ipc] {
        let case = Case {
            scenario: Scenario::Alloc,
            transport,
            size: 64,
            peers: 1,
            shards: 1,
            count,
            hold: Duration::ZERO,
            rate: None,
        };
        match scenarios::run(Impl::Monocoque, &case, RunOptions::default()) {
            Ok(s) => println!(
                "alloc {:<3} 64 B PUSH->PULL, {count} messages after {count} of warm-up: \
                 {:.4} allocations/message on the send path, {:.4} on the receive path",
                transport.name(),
                s.allocs_send.unwrap_or(f64::NAN),
                s.allocs_recv.unwrap_or(f64::NAN),
            ),
            Err(e) => {
                eprintln!("alloc {}: {e}", transport.name());
                std::process::exit(1);
            }
        }
    }
}
