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

#[test]
fn the_broker_serves_libzmq_clients_with_libzmq_workers() {
    let out = run_example("broker", Duration::from_secs(600));
    let answers = out.lines().filter(|l| l.starts_with("worker ")).count();
    assert_eq!(answers, 12, "{out}");
    for c in 0..3 {
        for i in 0..4 {
            let asked = format!("answered 'client {c} request {i}'");
            assert!(
                out.contains(&asked),
                "no answer to client {c} request {i}:\n{out}"
            );
        }
    }
    assert!(out.contains("STATISTICS: [12, "), "{out}");
    assert!(
        out.contains("proxy done: 12 requests in, 12 replies out"),
        "{out}"
    );
}

#[test]
fn the_forwarder_passes_subscriptions_up_and_weather_down() {
    let out = run_example("forwarder", Duration::from_secs(600));
    let weather: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("weather subscriber got: "))
        .collect();
    assert!(weather.len() >= 3, "{out}");
    assert!(
        weather.iter().all(|m| m.starts_with("weather.paris ")),
        "{out}"
    );
    assert!(
        out.contains(" 1 subscriptions up") || out.contains("subscriptions up"),
        "{out}"
    );
    let captured = out
        .lines()
        .find_map(|l| l.strip_prefix("the capture saw "))
        .unwrap_or_else(|| panic!("no capture line in {out}"));
    let subscriptions: usize = captured
        .split(", ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(subscriptions >= 1, "the capture saw no subscription: {out}");
}
