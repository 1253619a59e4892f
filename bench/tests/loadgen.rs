//! The load generator runs end to end: `loadgen serve` (libzmq's ROUTER echo and
//! Monocoque's sharded one) in a child process, `loadgen run` for a second with ten
//! clients in a closed loop against it, and its JSON says what it measured. Nothing
//! here asserts a speed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const LOADGEN: &str = env!("CARGO_BIN_EXE_loadgen");

/// A `loadgen serve` child, killed when dropped.
struct Server {
    child: Child,
    endpoint: String,
}

impl Server {
    fn start(imp: &str) -> Server {
        let mut child = Command::new(LOADGEN)
            .args(["serve", "tcp://127.0.0.1:0", "--impl", imp, "--quiet"])
            .args(["--duration", "30"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start loadgen serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the server's endpoint");
        let endpoint = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from serve: {line:?}"))
            .to_string();
        Server { child, endpoint }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `loadgen run` with `args` and returns its exit code and JSON report.
fn run(endpoint: &str, args: &[&str]) -> (i32, Value) {
    let out = Command::new(LOADGEN)
        .args(["run", endpoint, "--quiet", "--json", "-"])
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("run loadgen");
    let text = String::from_utf8(out.stdout).expect("UTF-8 JSON");
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("loadgen printed no JSON ({e}): {text:?}"));
    (out.status.code().unwrap_or(-1), json)
}

/// A closed-loop run of ten DEALERs for a second: requests answered, latency recorded,
/// no errors, every field there.
fn closed_loop(server: &str, clients: &str) {
    let server = Server::start(server);
    let (code, r) = run(
        &server.endpoint,
        &["--impl", clients, "-c", "10", "-k", "2", "-d", "1"],
    );
    assert_eq!(code, 0, "exit status, report: {r:#}");
    assert_eq!(r["impl"], clients);
    assert_eq!(r["socket"], "dealer");
    assert_eq!(r["mode"], "closed");
    assert_eq!(r["in_flight"], 2);
    assert_eq!(r["clients"], 10);
    assert_eq!(r["connected"], 10);
    assert_eq!(r["errors"], 0, "{r:#}");
    assert_eq!(r["error_kinds"]["unanswered"], 0);
    let requests = r["requests"].as_u64().unwrap();
    assert!(requests > 0, "{r:#}");
    assert!(r["sent"].as_u64().unwrap() >= requests);
    assert!(r["requests_per_sec"].as_f64().unwrap() > 0.0);
    let lat = &r["latency_us"];
    assert!(lat["count"].as_u64().unwrap() >= requests);
    for p in ["min", "p50", "p90", "p99", "p999", "max"] {
        assert!(lat[p].as_f64().unwrap() > 0.0, "latency {p}: {lat}");
    }
    assert!(lat["p50"].as_f64() <= lat["p99"].as_f64());
    assert!(lat["p99"].as_f64() <= lat["max"].as_f64());
    assert!(!r["percentiles_us"].as_array().unwrap().is_empty());
    let cores = r["per_core"].as_array().unwrap();
    assert_eq!(cores.len(), r["cores"].as_array().unwrap().len());
    let per_core: u64 = cores.iter().map(|c| c["requests"].as_u64().unwrap()).sum();
    assert_eq!(per_core, requests);
    assert!(r["cpu_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn monocoque_clients_against_libzmq_router() {
    closed_loop("libzmq", "monocoque");
}

#[test]
fn monocoque_clients_against_sharded_monocoque_router() {
    closed_loop("monocoque", "monocoque");
}

#[test]
fn libzmq_clients_against_sharded_monocoque_router() {
    closed_loop("monocoque", "libzmq");
}

/// Open loop: REQ clients on schedule, latency from when each request was due.
#[test]
fn open_loop_req_against_sharded_monocoque_router() {
    let server = Server::start("monocoque");
    let (code, r) = run(
        &server.endpoint,
        &["--socket", "req", "-c", "10", "--rate", "2000", "-d", "1"],
    );
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["mode"], "open");
    assert_eq!(r["rate"], 2000.0);
    assert_eq!(r["errors"], 0, "{r:#}");
    // About 2000 due in the second; a loaded machine may fall a little behind.
    let requests = r["requests"].as_u64().unwrap();
    assert!(
        requests > 1000 && requests <= 2000,
        "{requests} requests: {r:#}"
    );
    assert!(r["latency_us"]["p99"].as_f64().unwrap() > 0.0);
}

/// Nobody listens: every client counts as not connected, the run ends with exit
/// status 1 and a report, not a panic.
#[test]
fn refused_connections_are_counted() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // closed again at once
    for imp in ["monocoque", "libzmq"] {
        let (code, r) = run(
            &format!("tcp://127.0.0.1:{port}"),
            &[
                "--impl",
                imp,
                "-c",
                "4",
                "-d",
                "1",
                "--connect-timeout",
                "0.3",
            ],
        );
        assert_eq!(code, 1, "{imp}: {r:#}");
        assert_eq!(r["connected"], 0);
        assert_eq!(r["error_kinds"]["not_connected"], 4);
        assert_eq!(r["requests"], 0);
        assert!(r["latency_us"].is_null());
    }
}

/// A bad endpoint is a clear error (exit status 2), not a panic.
#[test]
fn bad_endpoint_is_an_error() {
    let out = Command::new(LOADGEN)
        .args(["run", "tcp://nowhere", "-c", "1", "-d", "1", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect to tcp://nowhere"), "{err}");
}
