//! Captures the fuzz seed corpus from real libzmq peers.
//!
//! `cargo run -p monocoque-bench --bin capture_corpus -- fuzz/corpus`
//!
//! Each case puts a libzmq socket (the `zmq` crate's vendored libzmq) on one end of a
//! loopback TCP connection and a hand-driven `monocoque_zmtp::Session` on the other,
//! lets libzmq send its greeting, READY, messages, subscriptions and heartbeats, and
//! records every byte it sent. The recording becomes inputs for each fuzz target
//! (`fuzz/src/lib.rs` says how each target reads its input):
//! `greeting/` (the first 64 bytes), `null_handshake/` (the session's socket type and
//! a read size, then the whole stream), `frame_decoder/` (no limit and a read size,
//! then the stream after the greeting), `command/` (each command body) and `z85/`
//! (libzmq's Z85 of random keys).
//!
//! `cargo run -p monocoque-bench --bin capture_corpus -- fuzz/corpus --curve PYTHON`
//! captures the CURVE targets' seeds instead, from pyzmq's libzmq (the bundled one has
//! no CURVE): PYTHON is an interpreter with pyzmq 27.3.0, such as the one the CURVE
//! tests make in `target/tmp/pyzmq-venv/bin/python` (see `curve.rs` beside this file).

mod curve;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use monocoque_zmtp::{
    AuthReply, Event, FrameDecoder, Outgoing, Session, SessionConfig, SocketType,
};

/// One recording: libzmq's socket type, which end binds, and what it does.
struct Case {
    name: &'static str,
    libzmq: zmq::SocketType,
    ours: SocketType,
    /// libzmq binds and our session connects (otherwise the reverse).
    libzmq_binds: bool,
    heartbeat: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "dealer-to-router",
        libzmq: zmq::DEALER,
        ours: SocketType::Router,
        libzmq_binds: false,
        heartbeat: false,
    },
    Case {
        name: "req-to-rep",
        libzmq: zmq::REQ,
        ours: SocketType::Rep,
        libzmq_binds: false,
        heartbeat: false,
    },
    Case {
        name: "push-to-pull",
        libzmq: zmq::PUSH,
        ours: SocketType::Pull,
        libzmq_binds: false,
        heartbeat: true,
    },
    Case {
        name: "sub-to-pub",
        libzmq: zmq::SUB,
        ours: SocketType::Pub,
        libzmq_binds: false,
        heartbeat: false,
    },
    Case {
        name: "xsub-to-xpub",
        libzmq: zmq::XSUB,
        ours: SocketType::XPub,
        libzmq_binds: false,
        heartbeat: false,
    },
    Case {
        name: "pair-to-pair",
        libzmq: zmq::PAIR,
        ours: SocketType::Pair,
        libzmq_binds: false,
        heartbeat: true,
    },
    Case {
        name: "bound-pub-to-sub",
        libzmq: zmq::PUB,
        ours: SocketType::Sub,
        libzmq_binds: true,
        heartbeat: false,
    },
    Case {
        name: "bound-rep-to-req",
        libzmq: zmq::REP,
        ours: SocketType::Req,
        libzmq_binds: true,
        heartbeat: false,
    },
    Case {
        name: "bound-router-to-dealer",
        libzmq: zmq::ROUTER,
        ours: SocketType::Dealer,
        libzmq_binds: true,
        heartbeat: true,
    },
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(args.first().map_or("fuzz/corpus", String::as_str));
    if let Some(python) = args.iter().position(|a| a == "--curve") {
        let python = args.get(python + 1).expect("--curve PYTHON");
        curve::capture(&out, python);
        return;
    }
    let ctx = zmq::Context::new();
    for case in CASES {
        let stream = record(&ctx, case);
        write_inputs(&out, case, &stream);
        println!("{}: {} bytes from libzmq", case.name, stream.len());
    }
    for i in 0..4u8 {
        let key: [u8; 32] =
            std::array::from_fn(|j| (j as u8).wrapping_mul(37).wrapping_add(i.wrapping_mul(91)));
        let text = zmq::z85_encode(&key).expect("libzmq z85");
        save(
            &out.join("z85"),
            &format!("libzmq-key-{i}"),
            text.as_bytes(),
        );
    }
    save(&out.join("z85"), "rfc32-helloworld", b"HelloWorld");
}

/// Runs one case and returns every byte libzmq sent.
fn record(ctx: &zmq::Context, case: &Case) -> Vec<u8> {
    let z = ctx.socket(case.libzmq).expect("libzmq socket");
    z.set_linger(0).unwrap();
    if case.heartbeat {
        z.set_heartbeat_ivl(20).unwrap();
        z.set_heartbeat_ttl(3000).unwrap();
    }
    if case.libzmq == zmq::DEALER {
        z.set_identity(b"dealer-7").unwrap();
    }
    if case.libzmq == zmq::SUB {
        z.set_subscribe(b"topic.").unwrap();
        z.set_subscribe(b"").unwrap();
    }
    let tcp = if case.libzmq_binds {
        z.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = z.get_last_endpoint().unwrap().unwrap();
        TcpStream::connect(endpoint.trim_start_matches("tcp://")).expect("connect to libzmq")
    } else {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        z.connect(&format!("tcp://{}", listener.local_addr().unwrap()))
            .unwrap();
        listener.accept().expect("libzmq connects").0
    };
    let session = Session::new(SessionConfig::new(case.ours), Instant::now());
    let mut acted = false;
    converse(tcp, session, case.ours, case.name, || {
        acted = acted || act(&z, case);
    })
}

/// Drives `session` over `tcp` for 400 ms and returns every byte the peer sent. Once
/// the handshake is done our side sends what its type sends first (a REQ or DEALER a
/// request, a SUB its subscription to everything), and `act` runs on every turn; an
/// authenticator's question is answered with a yes.
fn converse(
    mut tcp: TcpStream,
    mut session: Session,
    ours: SocketType,
    name: &str,
    mut act: impl FnMut(),
) -> Vec<u8> {
    tcp.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut out = Outgoing::new();
    let mut recorded = Vec::new();
    let mut input = BytesMut::new();
    let mut requested = false;
    let deadline = Instant::now() + Duration::from_millis(400);
    while Instant::now() < deadline {
        session.poll_transmit(&mut out);
        if session.is_ready() && !requested {
            // What our side sends once the handshake is done.
            requested = true;
            match ours {
                SocketType::Sub => session.encode_subscription(&mut out, b"", true),
                SocketType::Req => {
                    let request = [Bytes::new(), Bytes::from_static(b"request")];
                    session.encode_message(&mut out, request);
                }
                SocketType::Dealer => {
                    session.encode_message(&mut out, [Bytes::from_static(b"request")])
                }
                _ => {}
            }
        }
        if !out.is_empty() {
            tcp.write_all(&out.copy_to_bytes(out.remaining()))
                .expect("write to the peer");
        }
        if session.is_ready() {
            act();
        }
        let mut buf = [0u8; 4096];
        match tcp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                recorded.extend_from_slice(&buf[..n]);
                input.extend_from_slice(&buf[..n]);
                while let Ok(Some(event)) = session.handle_input(&mut input) {
                    if let Event::Authenticate(_) = event {
                        let _ = session.authenticated(AuthReply::accept(""));
                    }
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            // A peer that refused us may reset the connection.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("{name}: read: {e}"),
        }
    }
    recorded
}

/// What the libzmq side sends, once: a spread of message shapes, as its type allows.
/// Returns false while it still waits for something to answer.
fn act(z: &zmq::Socket, case: &Case) -> bool {
    let long = vec![0xA5u8; 300];
    let shapes: [&[&[u8]]; 4] = [&[b"hello"], &[b"a", b"", b"b"], &[&long], &[b""]];
    match case.libzmq {
        zmq::DEALER | zmq::PUSH | zmq::PAIR | zmq::PUB => {
            for shape in shapes {
                let _ = z.send_multipart(shape.iter().copied(), zmq::DONTWAIT);
            }
        }
        zmq::REQ => {
            let _ = z.send_multipart([&b"request"[..], b"second part"], zmq::DONTWAIT);
        }
        zmq::XSUB => {
            let _ = z.send(&b"\x01prices."[..], zmq::DONTWAIT);
            let _ = z.send(&b"\x00prices."[..], zmq::DONTWAIT);
            let _ = z.send(&b"plain upstream message"[..], zmq::DONTWAIT);
        }
        zmq::REP | zmq::ROUTER => {
            let Ok(mut request) = z.recv_multipart(zmq::DONTWAIT) else {
                return false;
            };
            request.push(b"reply".to_vec());
            let _ = z.send_multipart(request, zmq::DONTWAIT);
        }
        _ => {}
    }
    true
}

/// Writes the recording as inputs of every target that reads such bytes.
fn write_inputs(out: &Path, case: &Case, stream: &[u8]) {
    let kind = SocketType::ALL
        .iter()
        .position(|&k| k == case.ours)
        .expect("known type") as u8;
    let name = format!("libzmq-{}", case.name);
    if stream.len() >= 64 {
        save(&out.join("greeting"), &name, &stream[..64]);
        for step in [1u8, 7, 64] {
            let mut v = vec![0, step];
            v.extend_from_slice(&stream[64..]);
            save(
                &out.join("frame_decoder"),
                &format!("{name}-step{step}"),
                &v,
            );
        }
        let mut decoder = FrameDecoder::new(None);
        let mut rest = BytesMut::from(&stream[64..]);
        let mut n = 0;
        let mut seen = std::collections::HashSet::new();
        while let Ok(Some(frame)) = decoder.decode(&mut rest) {
            // Heartbeats repeat the same PING: keep each distinct command once.
            if frame.command && seen.insert(frame.body.clone()) {
                save(&out.join("command"), &format!("{name}-{n}"), &frame.body);
                n += 1;
            }
        }
    }
    for step in [1u8, 10, 255] {
        let mut v = vec![kind, step];
        v.extend_from_slice(stream);
        save(
            &out.join("null_handshake"),
            &format!("{name}-step{step}"),
            &v,
        );
    }
}

fn save(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("corpus directory");
    std::fs::write(dir.join(name), bytes).expect("corpus file");
}
