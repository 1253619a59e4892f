//! ZMTP codec: frame encode and decode by frame size, and the NULL handshake of two
//! sessions talking through buffers.
// criterion_group! defines a public function it cannot document.
#![allow(missing_docs)]

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use monocoque_zmtp::{Event, FrameDecoder, Session, SessionConfig, SocketType};

const SIZES: [usize; 6] = [0, 64, 255, 1024, 8192, 65536];
/// Frames per decode iteration (one receive buffer's worth of small frames).
const FRAMES: usize = 64;

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_frame");
    let mut session = Session::new(SessionConfig::new(SocketType::Push));
    for size in SIZES {
        let body = vec![7u8; size];
        let mut out = BytesMut::with_capacity(2 * (size + 9));
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &body, |b, body| {
            b.iter(|| {
                out.clear();
                session.encode_frame(&mut out, std::hint::black_box(body), false);
                std::hint::black_box(out.len())
            })
        });
    }
    g.finish();
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode_frame");
    let session = &mut Session::new(SessionConfig::new(SocketType::Push));
    for size in SIZES {
        let body = vec![7u8; size];
        let mut wire = BytesMut::new();
        for _ in 0..FRAMES {
            session.encode_frame(&mut wire, &body, false);
        }
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
    let mut client = Session::new(SessionConfig::new(SocketType::Dealer));
    let mut server = Session::new(SessionConfig::new(SocketType::Router));
    let (mut to_server, mut to_client) = (BytesMut::new(), BytesMut::new());
    let (mut client_ready, mut server_ready) = (false, false);
    let mut rounds = 0;
    while !(client_ready && server_ready) {
        client.poll_transmit(&mut to_server);
        server.poll_transmit(&mut to_client);
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
