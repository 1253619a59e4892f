//! ZMTP codec: message encode (the session's encoder into an `Outgoing`: small bodies
//! copied, from 1 KiB referenced) and frame decode by frame size, and the NULL
//! handshake of two sessions talking through buffers.
// criterion_group! defines a public function it cannot document.
#![allow(missing_docs)]

use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use monocoque_zmtp::{Event, FrameDecoder, Outgoing, Session, SessionConfig, SocketType};

const SIZES: [usize; 6] = [0, 64, 255, 1024, 8192, 65536];
/// Frames per decode iteration (one receive buffer's worth of small frames).
const FRAMES: usize = 64;

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_message");
    let mut session = Session::new(SessionConfig::new(SocketType::Push), Instant::now());
    for size in SIZES {
        let body = Bytes::from(vec![7u8; size]);
        let mut out = Outgoing::new();
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &body, |b, body| {
            b.iter(|| {
                out.clear();
                session.encode_message(&mut out, [std::hint::black_box(body)]);
                std::hint::black_box(out.len())
            })
        });
    }
    g.finish();
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode_frame");
    let session = &mut Session::new(SessionConfig::new(SocketType::Push), Instant::now());
    for size in SIZES {
        let body = Bytes::from(vec![7u8; size]);
        let mut out = Outgoing::new();
        for _ in 0..FRAMES {
            session.encode_message(&mut out, [&body]);
        }
        let mut wire = BytesMut::new();
        wire.put(&mut out);
        g.throughput(Throughput::Elements(FRAMES as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &wire, |b, wire| {
            let mut decoder = FrameDecoder::new(None);
            b.iter_batched_ref(
                || wire.clone(),
                |buf| {
                    let mut n = 0;
                    while let Some(frame) = decoder.decode(buf).expect("valid frames") {
                        n += frame.body.len();
                    }
                    n
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

/// Pumps bytes between a DEALER and a ROUTER session until both are ready.
fn handshake_once() -> usize {
    let mut client = Session::new(SessionConfig::new(SocketType::Dealer), Instant::now());
    let mut server = Session::new(SessionConfig::new(SocketType::Router), Instant::now());
    let (mut to_server, mut to_client) = (BytesMut::new(), BytesMut::new());
    let mut out = Outgoing::new();
    let (mut client_ready, mut server_ready) = (false, false);
    let mut rounds = 0;
    while !(client_ready && server_ready) {
        client.poll_transmit(&mut out);
        to_server.put(&mut out);
        server.poll_transmit(&mut out);
        to_client.put(&mut out);
        while let Some(ev) = server.handle_input(&mut to_server).expect("handshake") {
            server_ready |= matches!(ev, Event::Ready(_));
        }
        while let Some(ev) = client.handle_input(&mut to_client).expect("handshake") {
            client_ready |= matches!(ev, Event::Ready(_));
        }
        rounds += 1;
    }
    rounds
}

fn handshake(c: &mut Criterion) {
    c.bench_function("null_handshake", |b| b.iter(handshake_once));
}

criterion_group!(benches, encode, decode, handshake);
criterion_main!(benches);
