//! Byte-exact vectors captured from libzmq 4.3.4 (the `zmq` crate): a libzmq socket
//! connected to a raw TCP listener that sent a NULL 3.1 greeting and a READY; everything
//! libzmq sent back was recorded (HEARTBEAT_IVL was set, hence the trailing PING).

mod common;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::{drain, greeting, hex, transmitted, wire};
use monocoque_zmtp::{
    Command, Event, Greeting, HeartbeatOptions, Mechanism, Metadata, Outgoing, Session,
    SessionConfig, SocketType, GREETING_LEN,
};

const GREETING_NULL: &str = "ff 00 00 00 00 00 00 00 01 7f 03 01 4e 55 4c 4c \
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00";

/// READY of a DEALER with no routing id: Identity is present and empty.
const READY_DEALER: &str = "04 29 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 \
    00 00 00 06 44 45 41 4c 45 52 08 49 64 65 6e 74 69 74 79 00 00 00 00";
/// READY of a DEALER with routing id "abc".
const READY_DEALER_ABC: &str = "04 2c 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 \
    00 00 00 06 44 45 41 4c 45 52 08 49 64 65 6e 74 69 74 79 00 00 00 03 61 62 63";
const READY_REQ: &str = "04 26 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 \
    00 00 00 03 52 45 51 08 49 64 65 6e 74 69 74 79 00 00 00 00";
const READY_ROUTER: &str = "04 29 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 \
    00 00 00 06 52 4f 55 54 45 52 08 49 64 65 6e 74 69 74 79 00 00 00 00";
const READY_SUB: &str =
    "04 19 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 00 00 00 03 53 55 42";
const READY_PUB: &str =
    "04 19 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 00 00 00 03 50 55 42";
const READY_PUSH: &str =
    "04 1a 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 00 00 00 04 50 55 53 48";
const READY_PAIR: &str =
    "04 1a 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 00 00 00 04 50 41 49 52";
const READY_XSUB: &str =
    "04 1a 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 00 00 00 04 58 53 55 42";
/// libzmq's heartbeat: TTL 0, empty context.
const PING_LIBZMQ: &str = "04 07 04 50 49 4e 47 00 00";
/// A libzmq SUB subscribing to "ab" on a 3.1 peer.
const SUBSCRIBE_AB: &str = "04 0c 09 53 55 42 53 43 52 49 42 45 61 62";
/// The same SUB talking to a peer whose greeting said minor 0 (ZMTP 3.0).
const SUBSCRIBE_AB_30: &str = "00 03 01 61 62";

/// What our session sends after it has seen a peer's greeting.
/// Everything `config`'s session sends to a libzmq peer whose greeting arrives in
/// libzmq's steps (signature, major version, the rest).
fn our_bytes(config: SessionConfig, peer_minor: u8) -> Vec<u8> {
    let mut s = Session::new(config, Instant::now());
    let theirs = greeting(peer_minor, b"NULL", false);
    let mut input = BytesMut::new();
    let mut out = Outgoing::new();
    for step in [&theirs[..10], &theirs[10..11], &theirs[11..]] {
        input.extend_from_slice(step);
        assert_eq!(s.handle_input(&mut input), Ok(None));
        assert!(s.poll_transmit(&mut out), "each step is answered");
    }
    assert!(!s.poll_transmit(&mut out), "nothing more queued");
    wire(&mut out).to_vec()
}

fn config(t: SocketType, identity: &'static [u8]) -> SessionConfig {
    let mut c = SessionConfig::new(t);
    c.identity = Bytes::from_static(identity);
    c
}

#[test]
fn greeting_matches_libzmq() {
    let expected = hex(GREETING_NULL);
    assert_eq!(expected.len(), GREETING_LEN);
    assert_eq!(
        Greeting::new(Mechanism::Null, false).encode().to_vec(),
        expected
    );

    // As libzmq: Session::new queues the signature, the major version follows the
    // peer's signature, the rest its major version.
    let mut s = Session::new(SessionConfig::new(SocketType::Dealer), Instant::now());
    let mut out = Outgoing::new();
    assert!(s.poll_transmit(&mut out));
    assert_eq!(wire(&mut out).to_vec(), expected[..10]);
    assert!(!s.poll_transmit(&mut out));
    let mut input = BytesMut::from(&expected[..10]);
    assert_eq!(s.handle_input(&mut input), Ok(None));
    assert!(s.poll_transmit(&mut out));
    assert_eq!(wire(&mut out).to_vec(), expected[10..11]);
    input.extend_from_slice(&expected[10..11]);
    assert_eq!(s.handle_input(&mut input), Ok(None));
    assert!(s.poll_transmit(&mut out));
    assert_eq!(wire(&mut out).to_vec(), expected[11..]);

    let g = Greeting::decode(expected[..].try_into().unwrap()).unwrap();
    assert_eq!((g.major, g.minor, g.as_server), (3, 1, false));
    assert_eq!(g.mechanism(), Some(Mechanism::Null));
    assert_eq!(g.mechanism_name(), "NULL");
    assert!(!g.is_zmtp30());
}

#[test]
fn libzmq_greeting_with_routing_id_padding_is_accepted() {
    // libzmq writes routing_id_len + 1 into the padding (here 4 for "abc").
    let mut g = hex(GREETING_NULL);
    g[8] = 4;
    let g = Greeting::decode(g[..].try_into().unwrap()).unwrap();
    assert_eq!(g.mechanism(), Some(Mechanism::Null));
}

#[test]
fn ready_lengths_are_what_we_think() {
    // 1+5 (name) + 1+11+4+6 (Socket-Type DEALER) + 1+8+4+0 (Identity) = 41 = 0x29.
    assert_eq!(hex(READY_DEALER).len(), 2 + 0x29);
    assert_eq!(hex(READY_DEALER_ABC).len(), 2 + 0x2c);
    assert_eq!(hex(READY_REQ).len(), 2 + 0x26);
    assert_eq!(hex(READY_SUB).len(), 2 + 0x19);
    assert_eq!(hex(READY_PUSH).len(), 2 + 0x1a);
}

#[test]
fn our_ready_matches_libzmq() {
    let cases: [(SocketType, &[u8], &str); 9] = [
        (SocketType::Dealer, b"", READY_DEALER),
        (SocketType::Dealer, b"abc", READY_DEALER_ABC),
        (SocketType::Req, b"", READY_REQ),
        (SocketType::Router, b"", READY_ROUTER),
        (SocketType::Sub, b"", READY_SUB),
        (SocketType::Pub, b"", READY_PUB),
        (SocketType::Push, b"", READY_PUSH),
        (SocketType::Pair, b"", READY_PAIR),
        (SocketType::XSub, b"", READY_XSUB),
    ];
    for (t, id, vector) in cases {
        let mut c = SessionConfig::new(t);
        c.identity = Bytes::copy_from_slice(id);
        let mut expected = hex(GREETING_NULL);
        expected.extend(hex(vector));
        assert_eq!(our_bytes(c, 1), expected, "{t} id={id:?}");
    }
}

#[test]
fn our_ready_command_encoder_matches_libzmq() {
    let mut m = Metadata::new();
    m.insert("Socket-Type", "DEALER");
    m.insert("Identity", "");
    let mut out = BytesMut::new();
    Command::Ready(m.clone()).encode(&mut out);
    assert_eq!(out.to_vec(), hex(READY_DEALER));
    let decoded = Command::decode(Bytes::from(hex(READY_DEALER)).slice(2..)).unwrap();
    assert_eq!(decoded, Command::Ready(m));
}

/// Feeds a whole captured libzmq stream into a session of type `ours`.
fn accept_stream(ours: SocketType, ready: &str, extra: &[&str]) -> (Session, Vec<Event>) {
    let mut s = Session::new(SessionConfig::new(ours), Instant::now());
    let mut input = BytesMut::from(&hex(GREETING_NULL)[..]);
    input.extend_from_slice(&hex(ready));
    for e in extra {
        input.extend_from_slice(&hex(e));
    }
    let events = drain(&mut s, &mut input).unwrap();
    assert!(input.is_empty());
    (s, events)
}

#[test]
fn libzmq_dealer_stream_is_understood() {
    let (mut s, events) = accept_stream(SocketType::Router, READY_DEALER_ABC, &[PING_LIBZMQ]);
    let Event::Ready(peer) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(peer.socket_type, SocketType::Dealer);
    assert_eq!(&peer.identity[..], b"abc");
    assert_eq!(peer.minor, 1);
    assert_eq!(
        peer.metadata.get("socket-type").map(|v| &v[..]),
        Some(&b"DEALER"[..])
    );
    assert_eq!(events[1], Event::Ping { ttl_deciseconds: 0 });
    assert_eq!(events.len(), 2);
    assert!(s.is_ready());
    assert_eq!(s.peer(), Some(peer));

    let out = transmitted(&mut s);
    let mut expected = hex(GREETING_NULL);
    expected.extend(hex(READY_ROUTER));
    expected.extend(hex("04 05 04 50 4f 4e 47")); // PONG, empty context
    assert_eq!(out.to_vec(), expected);
}

#[test]
fn libzmq_empty_identity_reads_as_empty() {
    let (_, events) = accept_stream(SocketType::Rep, READY_REQ, &[]);
    let Event::Ready(peer) = &events[0] else {
        panic!()
    };
    assert_eq!(peer.socket_type, SocketType::Req);
    assert!(peer.identity.is_empty());
}

#[test]
fn libzmq_sub_subscription_is_understood() {
    let (_, events) = accept_stream(SocketType::Pub, READY_SUB, &[SUBSCRIBE_AB, PING_LIBZMQ]);
    assert!(matches!(events[0], Event::Ready(_)));
    assert_eq!(events[1], Event::Subscribe(Bytes::from_static(b"ab")));
    assert_eq!(events[2], Event::Ping { ttl_deciseconds: 0 });
}

#[test]
fn libzmq_sub_30_subscription_arrives_as_data_frame() {
    let (_, events) = accept_stream(SocketType::XPub, READY_SUB, &[SUBSCRIBE_AB_30]);
    assert_eq!(
        events[1],
        Event::Frame {
            more: false,
            body: Bytes::from_static(b"\x01ab")
        }
    );
}

#[test]
fn our_subscriptions_match_libzmq() {
    for (minor, vector) in [(1u8, SUBSCRIBE_AB), (0, SUBSCRIBE_AB_30)] {
        let mut s = Session::new(config(SocketType::Sub, b""), Instant::now());
        let mut input = BytesMut::from(&greeting(minor, b"NULL", false)[..]);
        input.extend_from_slice(&hex(READY_PUB));
        let events = drain(&mut s, &mut input).unwrap();
        let Event::Ready(peer) = &events[0] else {
            panic!()
        };
        assert_eq!(peer.minor, minor);
        let mut out = Outgoing::new();
        s.encode_subscription(&mut out, b"ab", true);
        assert_eq!(wire(&mut out).to_vec(), hex(vector), "minor {minor}");
    }
}

#[test]
fn our_ping_matches_libzmq() {
    let mut s = Session::new(SessionConfig::new(SocketType::Dealer), Instant::now());
    let mut out = Outgoing::new();
    s.encode_ping(&mut out, 0, b"");
    assert_eq!(wire(&mut out).to_vec(), hex(PING_LIBZMQ));

    // And the heartbeat's own PING (HEARTBEAT_IVL set, no TTL), as libzmq sent it.
    let t0 = Instant::now();
    let mut c = SessionConfig::new(SocketType::Dealer);
    c.heartbeat = HeartbeatOptions {
        ivl: Some(Duration::from_millis(100)),
        ..HeartbeatOptions::default()
    };
    let mut s = Session::new(c, t0);
    let mut input = BytesMut::from(&greeting(1, b"NULL", false)[..]);
    input.extend_from_slice(&hex(READY_ROUTER));
    drain(&mut s, &mut input).unwrap();
    transmitted(&mut s);
    let due = s.poll_timeout().unwrap();
    s.handle_timeout(due).unwrap();
    assert_eq!(transmitted(&mut s).to_vec(), hex(PING_LIBZMQ));
}
