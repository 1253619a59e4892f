//! The session's deadlines through its public API, on a made-up clock: HANDSHAKE_IVL,
//! heartbeat PINGs, HEARTBEAT_TIMEOUT and the peer's TTL.

mod common;

use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::{command, drain, greeting, hex, ready, transmitted};
use monocoque_zmtp::{Event, HeartbeatOptions, Session, SessionConfig, SocketType, Timeout};

const MS: Duration = Duration::from_millis(1);

fn config(handshake_ms: Option<u32>, heartbeat: HeartbeatOptions) -> SessionConfig {
    let mut c = SessionConfig::new(SocketType::Dealer);
    c.handshake_ivl = handshake_ms.map(|ms| ms * MS);
    c.heartbeat = heartbeat;
    c
}

/// A DEALER session started at `t0` whose handshake with a ROUTER completes with
/// input read at `at`; what it sent so far is discarded.
fn ready_at(config: SessionConfig, t0: Instant, at: Instant) -> Session {
    let mut s = Session::new(config, t0);
    let mut input = BytesMut::from(&greeting(1, b"NULL", false)[..]);
    input.extend_from_slice(&ready(b"ROUTER"));
    s.on_input(at);
    let events = drain(&mut s, &mut input).unwrap();
    assert!(matches!(events[..], [Event::Ready(_)]), "{events:?}");
    transmitted(&mut s);
    s
}

fn feed(s: &mut Session, at: Instant, bytes: &[u8]) -> Vec<Event> {
    s.on_input(at);
    drain(s, &mut BytesMut::from(bytes)).unwrap()
}

#[test]
fn handshake_must_complete_within_handshake_ivl() {
    let t0 = Instant::now();
    let mut s = Session::new(config(Some(200), HeartbeatOptions::default()), t0);
    assert_eq!(s.poll_timeout(), Some(t0 + 200 * MS));
    // Early calls do nothing; bytes arriving do not extend it.
    assert_eq!(s.handle_timeout(t0 + 100 * MS), Ok(()));
    feed(&mut s, t0 + 150 * MS, &greeting(1, b"NULL", false));
    assert_eq!(s.poll_timeout(), Some(t0 + 200 * MS));
    assert_eq!(s.handle_timeout(t0 + 200 * MS), Err(Timeout::Handshake));
    assert_eq!(Timeout::Handshake.to_string(), "handshake timed out");

    // Completed in time: no deadline left without heartbeats.
    let s = ready_at(
        config(Some(200), HeartbeatOptions::default()),
        t0,
        t0 + 150 * MS,
    );
    assert_eq!(s.poll_timeout(), None);
    // Without HANDSHAKE_IVL there is none to begin with.
    let s = Session::new(SessionConfig::new(SocketType::Dealer), t0);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn ping_every_interval_with_our_ttl() {
    let t0 = Instant::now();
    let heartbeat = HeartbeatOptions {
        ivl: Some(50 * MS),
        timeout: Some(500 * MS),
        ttl: Some(Duration::from_secs(2)),
    };
    let mut s = ready_at(config(Some(1000), heartbeat), t0, t0 + 10 * MS);
    // The heartbeat starts with the handshake; the handshake deadline is gone.
    assert_eq!(s.poll_timeout(), Some(t0 + 60 * MS));
    s.handle_timeout(t0 + 59 * MS).unwrap();
    assert!(transmitted(&mut s).is_empty());
    s.handle_timeout(t0 + 60 * MS).unwrap();
    // PING, TTL 20 deciseconds, no context.
    assert_eq!(
        transmitted(&mut s).to_vec(),
        hex("04 07 04 50 49 4e 47 00 14")
    );
    assert_eq!(s.poll_timeout(), Some(t0 + 110 * MS));
    // The peer answers: the next PING is still an interval later.
    assert_eq!(
        feed(&mut s, t0 + 70 * MS, &command(b"PONG", b"")),
        [Event::Pong]
    );
    s.handle_timeout(t0 + 110 * MS).unwrap();
    assert_eq!(transmitted(&mut s).len(), 9);
    assert_eq!(s.poll_timeout(), Some(t0 + 160 * MS));
}

#[test]
fn closed_when_nothing_arrives_within_the_timeout_after_a_ping() {
    let t0 = Instant::now();
    let heartbeat = HeartbeatOptions {
        ivl: Some(50 * MS),
        timeout: None, // = the interval
        ttl: None,
    };
    let mut s = ready_at(config(None, heartbeat), t0, t0);
    s.handle_timeout(t0 + 50 * MS).unwrap();
    assert_eq!(
        transmitted(&mut s).to_vec(),
        hex("04 07 04 50 49 4e 47 00 00")
    );
    assert_eq!(s.poll_timeout(), Some(t0 + 100 * MS));
    assert_eq!(s.handle_timeout(t0 + 100 * MS), Err(Timeout::Heartbeat));

    // Any byte after the PING keeps the connection: here a data frame.
    let mut s = ready_at(config(None, heartbeat), t0, t0);
    s.handle_timeout(t0 + 50 * MS).unwrap();
    feed(&mut s, t0 + 99 * MS, &hex("00 01 7a"));
    s.handle_timeout(t0 + 100 * MS).unwrap();
    assert_eq!(transmitted(&mut s).len(), 2 * 9);
    assert_eq!(s.handle_timeout(t0 + 150 * MS), Err(Timeout::Heartbeat));
    assert_eq!(
        Timeout::Heartbeat.to_string(),
        "heartbeat timed out: no traffic after PING"
    );
}

#[test]
fn the_peers_ttl_closes_a_silent_peer() {
    let t0 = Instant::now();
    let mut s = ready_at(config(None, HeartbeatOptions::default()), t0, t0);
    assert_eq!(s.poll_timeout(), None);
    // The peer's PING asks for 300 ms; the session answers it and keeps the TTL.
    assert_eq!(
        feed(&mut s, t0 + 10 * MS, &command(b"PING", b"\x00\x03")),
        [Event::Ping { ttl_deciseconds: 3 }]
    );
    assert_eq!(transmitted(&mut s).to_vec(), command(b"PONG", b""));
    assert_eq!(s.poll_timeout(), Some(t0 + 310 * MS));
    // Traffic meanwhile: checked again when the rest of the TTL is over.
    feed(&mut s, t0 + 200 * MS, &hex("00 00"));
    s.handle_timeout(t0 + 310 * MS).unwrap();
    assert_eq!(s.poll_timeout(), Some(t0 + 500 * MS));
    assert_eq!(s.handle_timeout(t0 + 500 * MS), Err(Timeout::PeerTtl));
    assert_eq!(Timeout::PeerTtl.to_string(), "peer's heartbeat TTL expired");
}
