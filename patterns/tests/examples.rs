//! The examples run as users run them (`cargo run -p monocoque --example NAME`) and do
//! what they say.

use std::process::Command;
use std::time::{Duration, Instant};

/// Builds and runs example `name` with cargo (the same profile and target directory
/// as this test), failing after `limit`; returns its standard output.
fn run_example(name: &str, limit: Duration) -> String {
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args(["run", "-q", "-p", "monocoque", "--example", name]);
    if !cfg!(debug_assertions) {
        cargo.arg("--release");
    }
    let mut child = cargo
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run cargo");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
            assert!(status.success(), "example {name} failed: {status}\n{out}");
            return out;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("example {name} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_tokio_service_answers_and_publishes() {
    // Generous: the first run may have to build the example.
    let out = run_example("tokio_service", Duration::from_secs(600));
    assert!(
        out.contains(r#"client got: ["ACME 101.25", "ACME 101.25", "ACME 101.25", "ACME 101.25", "ACME 101.25"]"#),
        "{out}"
    );
    let prices = out
        .lines()
        .find_map(|l| l.strip_prefix("subscriber got: "))
        .unwrap_or_else(|| panic!("no prices in {out}"));
    // Five consecutive ticks of a price that rises by 0.25 each time.
    let prices: Vec<f64> = prices
        .trim_matches(['[', ']'])
        .split(", ")
        .map(|p| p.trim_matches('"').parse().unwrap())
        .collect();
    assert_eq!(prices.len(), 5, "{out}");
    for pair in prices.windows(2) {
        assert!((pair[1] - pair[0] - 0.25).abs() < 1e-9, "{prices:?}");
    }
}
