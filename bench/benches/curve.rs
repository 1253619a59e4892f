//! CURVE's cost per message, sans-IO: boxing queued messages into MESSAGE commands
//! (`Session::transmit_queued`) and opening them (`Session::handle_input`), between
//! two sessions that completed a real handshake in memory.
// criterion_group! defines a public function it cannot document.
#![allow(missing_docs)]

use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use monocoque_zmtp::{
    AuthReply, CurveKeyPair, Encoder, Event, Outgoing, Security, Session, SessionConfig, SocketType,
};

const SIZES: [usize; 3] = [64, 1024, 8192];
/// Messages per iteration.
const BATCH: usize = 64;

/// Moves what `from` queued into `wire`.
fn send(from: &mut Session, wire: &mut BytesMut) {
    let mut out = Outgoing::new();
    from.poll_transmit(&mut out);
    wire.put(&mut out);
}

/// A CURVE client and server after the handshake (the server's verdict: 200).
fn connected() -> (Session, Session) {
    let server_keys = CurveKeyPair::generate();
    let mut c = SessionConfig::new(SocketType::Push);
    c.security = Security::CurveClient {
        keys: CurveKeyPair::generate(),
        server_key: server_keys.public(),
    };
    let mut s = SessionConfig::new(SocketType::Pull);
    s.security = Security::CurveServer { keys: server_keys };
    let now = Instant::now();
    let (mut client, mut server) = (Session::new(c, now), Session::new(s, now));
    let (mut to_server, mut to_client) = (BytesMut::new(), BytesMut::new());
    for _ in 0..16 {
        send(&mut client, &mut to_server);
        while let Some(ev) = server
            .handle_input(&mut to_server)
            .expect("client's handshake")
        {
            if let Event::Authenticate(_) = ev {
                server
                    .authenticated(AuthReply::accept("bench"))
                    .expect("verdict");
            }
        }
        send(&mut server, &mut to_client);
        while client
            .handle_input(&mut to_client)
            .expect("server's handshake")
            .is_some()
        {}
        if client.is_ready() && server.is_ready() {
            // The server's READY may still be on its way.
            return (client, server);
        }
    }
    panic!("the CURVE handshake did not complete");
}

/// `BATCH` messages of `body`, queued as a socket queues them (NULL-encoded).
fn queued(body: &Bytes) -> Outgoing {
    let mut q = Outgoing::new();
    for _ in 0..BATCH {
        Encoder::NULL.encode_message(&mut q, [body]);
    }
    q
}

fn seal(c: &mut Criterion) {
    let mut g = c.benchmark_group("curve_seal");
    let (mut client, _server) = connected();
    for size in SIZES {
        let body = Bytes::from(vec![7u8; size]);
        g.throughput(Throughput::Elements(BATCH as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &body, |b, body| {
            let mut out = Outgoing::new();
            b.iter_batched_ref(
                || queued(body),
                |q| {
                    out.clear();
                    client.transmit_queued(q, &mut out);
                    out.len()
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn open(c: &mut Criterion) {
    let mut g = c.benchmark_group("curve_open");
    let (mut client, mut server) = connected();
    for size in SIZES {
        let body = Bytes::from(vec![7u8; size]);
        g.throughput(Throughput::Elements(BATCH as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &body, |b, body| {
            // Fresh boxes for each batch: the opener refuses a nonce it has seen.
            b.iter_batched_ref(
                || {
                    let mut out = Outgoing::new();
                    client.transmit_queued(&mut queued(body), &mut out);
                    let mut wire = BytesMut::new();
                    wire.put(&mut out);
                    wire
                },
                |wire| {
                    let mut n = 0;
                    while let Some(ev) = server.handle_input(wire).expect("valid boxes") {
                        if let Event::Frame { body, .. } = ev {
                            n += body.len();
                        }
                    }
                    assert_eq!(n, BATCH * body.len());
                    n
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, seal, open);
criterion_main!(benches);
