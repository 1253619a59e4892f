//! Allocations per message under CURVE, counted on the test's own thread by the bench's
//! counting global allocator: boxing a message on its way out allocates nothing once
//! the write buffer has grown; opening one on the way in allocates at most once per
//! 64 KiB of messages.
//!
//! Counted per thread, not per process: the test harness's main thread allocates a few
//! times while it waits for the test (its channel), at a moment that depends on
//! scheduling; a process-wide count saw 2 or 4 of those in one run out of four.

mod common;

use bytes::{Bytes, BytesMut};
use common::Pair;
use monocoque_zmtp::{
    AuthReply, CurveKeyPair, Encoder, Event, Outgoing, Security, SessionConfig, SocketType,
};

// The bench's per-thread counting allocator (its `alloc` scenario's), included by path.
#[path = "../../bench/src/alloc_count.rs"]
mod alloc_count;
use alloc_count::{installed, thread_allocations as allocations, CountingAlloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const MESSAGES: u64 = 20_000;

#[test]
fn curve_messages_allocate_nothing_out_and_almost_nothing_in() {
    assert!(installed(), "the counting allocator counts this thread");
    let server_keys = CurveKeyPair::generate();
    let mut c = SessionConfig::new(SocketType::Push);
    c.security = Security::CurveClient {
        keys: CurveKeyPair::generate(),
        server_key: server_keys.public(),
    };
    let mut s = SessionConfig::new(SocketType::Pull);
    s.security = Security::CurveServer { keys: server_keys };
    let mut p = Pair::new(c, s);
    let (ra, rb) = p.pump();
    ra.unwrap();
    rb.unwrap();
    p.b.authenticated(AuthReply::accept("")).unwrap();
    let (ra, rb) = p.pump();
    ra.unwrap();
    rb.unwrap();
    assert!(p.a.encrypts() && p.b.encrypts());

    let payload = Bytes::from(vec![5u8; 64]);
    let mut queued = Outgoing::new();
    let mut out = Outgoing::new();
    let mut wire = BytesMut::with_capacity(64 * 1024 * 1024);
    // Warm up: the buffers reach their working size.
    for _ in 0..100 {
        Encoder::NULL.encode_message(&mut queued, [payload.clone()]);
        p.a.transmit_queued(&mut queued, &mut out);
    }
    out.clear();

    // Out: each message queued (NULL), then boxed on its way to the write buffer.
    let before = allocations();
    for _ in 0..MESSAGES {
        Encoder::NULL.encode_message(&mut queued, [payload.clone()]);
        p.a.transmit_queued(&mut queued, &mut out);
        out.segments(|s| wire.extend_from_slice(s));
        out.clear();
    }
    let sent = allocations() - before;
    assert_eq!(sent, 0, "allocations boxing {MESSAGES} messages");

    // In: every MESSAGE opened.
    let before = allocations();
    let mut n = 0;
    while let Some(event) = p.b.handle_input(&mut wire).unwrap() {
        if let Event::Frame { body, .. } = event {
            assert_eq!(body.len(), 64);
            n += 1;
        }
    }
    let received = allocations() - before;
    assert_eq!(n, MESSAGES);
    assert!(
        received as f64 / MESSAGES as f64 <= 0.01,
        "{received} allocations opening {MESSAGES} messages"
    );
}
