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

#[test]
fn req_rep_answers_a_libzmq_client() {
    let out = run_example("req_rep", Duration::from_secs(600));
    for (request, reply) in [
        ("hello", "HELLO"),
        ("how are you", "HOW ARE YOU"),
        ("goodbye", "GOODBYE"),
    ] {
        assert!(out.contains(&format!("server got: {request}\n")), "{out}");
        assert!(out.contains(&format!("client got: {reply}\n")), "{out}");
    }
    assert!(out.contains("served 3 requests, 3 replies"), "{out}");
}

#[test]
fn the_pipeline_spreads_jobs_over_monocoque_and_libzmq_workers() {
    let out = run_example("pipeline", Duration::from_secs(600));
    // The sum of the squares of 1..=12: every job done once.
    assert!(
        out.contains("sink: 12 results, sum of squares 650"),
        "{out}"
    );
    let mut total = 0;
    for worker in ["libzmq", "monocoque-1", "monocoque-2"] {
        let jobs: usize = out
            .lines()
            .find_map(|l| l.strip_prefix(&format!("worker {worker} did ")))
            .and_then(|rest| rest.strip_suffix(" jobs"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("worker {worker} did nothing:\n{out}"));
        // Round-robin over three connected workers: four each.
        assert_eq!(jobs, 4, "{out}");
        total += jobs;
    }
    assert_eq!(total, 12);
}

#[test]
fn each_subscriber_gets_only_its_topics() {
    let out = run_example("pubsub_topics", Duration::from_secs(600));
    for line in [
        r#"monocoque SUB ["weather."] got {"weather.paris", "weather.tokyo"}"#,
        r#"monocoque SUB ["traffic.", "sports.football"] got {"sports.football", "traffic.a1"}"#,
        r#"libzmq SUB ["sports.", "weather.tokyo"] got {"sports.football", "sports.tennis", "weather.tokyo"}"#,
    ] {
        assert!(out.lines().any(|l| l == line), "no line {line}:\n{out}");
    }
}

#[test]
fn pair_plays_ping_pong_with_libzmq_and_refuses_a_second_peer() {
    let out = run_example("pair", Duration::from_secs(600));
    for round in 1..=3 {
        assert!(out.contains(&format!("got pong {round}\n")), "{out}");
    }
    assert!(
        out.contains("second PAIR refused: ") && out.contains("already has a peer"),
        "{out}"
    );
    assert!(out.contains("stats: sent 4, received 3"), "{out}");
}

#[test]
fn market_data_reaches_fifty_subscribers_without_drops() {
    let out = run_example("market_data", Duration::from_secs(600));
    let subscribers: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("subscriber "))
        .collect();
    assert_eq!(subscribers.len(), 50, "{out}");
    assert!(
        subscribers
            .iter()
            .all(|l| l.ends_with(": 200 ticks in order")),
        "{out}"
    );
    assert_eq!(
        subscribers.iter().filter(|l| l.contains("libzmq")).count(),
        10
    );
    assert!(out.contains("dropped at SNDHWM 0, at the rings 0"), "{out}");
    let per_core: Vec<(usize, u64)> = out
        .lines()
        .filter_map(|l| l.strip_prefix("core "))
        .map(|l| {
            let words: Vec<&str> = l.split(' ').collect();
            (words[1].parse().unwrap(), words[3].parse().unwrap())
        })
        .collect();
    assert!(!per_core.is_empty(), "{out}");
    assert_eq!(per_core.iter().map(|c| c.0).sum::<usize>(), 50, "{out}");
    assert!(per_core.iter().all(|c| c.1 == 0), "{out}");
}

#[test]
fn a_glommio_app_computes_and_ticks_while_its_router_serves() {
    let out = run_example("glommio_app", Duration::from_secs(600));
    assert!(
        out.contains("computation: 78498 primes below 1000000"),
        "{out}"
    );
    assert!(out.contains("router: answered 200 requests"), "{out}");
    let ticks: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("timer: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no timer line:\n{out}"));
    // The timer kept running while the others did (how often depends on the machine).
    assert!(ticks > 1, "{out}");
}
