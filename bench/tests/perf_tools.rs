//! The libzmq-compatible perf tools, run as processes, against libzmq peers (the `zmq`
//! crate) on the other side. Small counts; nothing here asserts a time.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const COUNT: u64 = 2_000;
const SIZE: usize = 64;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(tool: &str, endpoint: &str, size: usize, count: u64) -> Child {
    Command::new(tool)
        .args([endpoint, &size.to_string(), &count.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("tool starts")
}

/// Waits (bounded) for the tool to exit; returns its stdout.
fn finish(mut child: Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            assert!(status.success(), "tool failed ({status}): {out}");
            return out;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tool did not finish");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn zmq_socket(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).unwrap();
    s.set_rcvtimeo(30_000).unwrap();
    s.set_linger(5_000).unwrap();
    s
}

/// Checks one `label: value unit` line and returns the value.
fn field(out: &str, label: &str, unit: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(label) && l.ends_with(unit))
        .unwrap_or_else(|| panic!("no {label:?} … {unit:?} line in {out:?}"));
    line[label.len()..line.len() - unit.len()]
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn local_thr_against_libzmq_push() {
    let endpoint = format!("tcp://127.0.0.1:{}", free_port());
    let tool = spawn(env!("CARGO_BIN_EXE_local_thr"), &endpoint, SIZE, COUNT);
    let ctx = zmq::Context::new();
    let push = zmq_socket(&ctx, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    for _ in 0..COUNT {
        push.send(zmq::Message::with_size(SIZE), 0).unwrap();
    }
    let out = finish(tool);
    assert_eq!(field(&out, "message size:", "[B]"), SIZE as f64);
    assert_eq!(field(&out, "message count:", ""), COUNT as f64);
    assert!(field(&out, "mean throughput:", "[msg/s]") > 0.0);
    assert!(field(&out, "mean throughput:", "[Mb/s]") > 0.0);
}

#[test]
fn remote_thr_against_libzmq_pull() {
    let ctx = zmq::Context::new();
    let pull = zmq_socket(&ctx, zmq::PULL);
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = pull.get_last_endpoint().unwrap().unwrap();
    let tool = spawn(env!("CARGO_BIN_EXE_remote_thr"), &endpoint, SIZE, COUNT);
    let mut msg = zmq::Message::new();
    for _ in 0..COUNT {
        pull.recv(&mut msg, 0).unwrap();
        assert_eq!(msg.len(), SIZE);
    }
    assert_eq!(finish(tool), "");
}

#[test]
fn local_lat_against_libzmq_req() {
    let endpoint = format!("tcp://127.0.0.1:{}", free_port());
    let tool = spawn(env!("CARGO_BIN_EXE_local_lat"), &endpoint, SIZE, COUNT);
    let ctx = zmq::Context::new();
    let req = zmq_socket(&ctx, zmq::REQ);
    req.connect(&endpoint).unwrap();
    let mut reply = zmq::Message::new();
    for _ in 0..COUNT {
        req.send(zmq::Message::with_size(SIZE), 0).unwrap();
        req.recv(&mut reply, 0).unwrap();
        assert_eq!(reply.len(), SIZE);
    }
    assert_eq!(finish(tool), "");
}

#[test]
fn remote_lat_against_libzmq_rep() {
    let ctx = zmq::Context::new();
    let rep = zmq_socket(&ctx, zmq::REP);
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = rep.get_last_endpoint().unwrap().unwrap();
    let tool = spawn(env!("CARGO_BIN_EXE_remote_lat"), &endpoint, SIZE, COUNT);
    for _ in 0..COUNT {
        let mut msg = zmq::Message::new();
        rep.recv(&mut msg, 0).unwrap();
        rep.send(msg, 0).unwrap();
    }
    let out = finish(tool);
    assert_eq!(field(&out, "message size:", "[B]"), SIZE as f64);
    assert_eq!(field(&out, "roundtrip count:", ""), COUNT as f64);
    assert!(field(&out, "average latency:", "[us]") > 0.0);
}

#[test]
fn tools_print_libzmq_usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_local_thr"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "usage: local_thr <bind-to> <message-size> <message-count>\n"
    );
}
