//! CURVE (RFC 25/26) between two sessions: the handshake with the server's verdict,
//! messages and commands boxed both ways, and the ways a hostile peer is refused.

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::{drain, wire, Pair};
use monocoque_zmtp::{
    AuthReply, Credentials, CurveKeyPair, Encoder, Event, Outgoing, ProtocolError, Security,
    SessionConfig, SocketType,
};

const SERVER_SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
const CLIENT_SECRET: &str = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";

fn configs(server_key_for_client: &str) -> (SessionConfig, SessionConfig) {
    let server = CurveKeyPair::from_secret(SERVER_SECRET).unwrap();
    let claimed = CurveKeyPair::from_secret(server_key_for_client)
        .unwrap()
        .public();
    let mut c = SessionConfig::new(SocketType::Dealer);
    c.security = Security::CurveClient {
        keys: CurveKeyPair::from_secret(CLIENT_SECRET).unwrap(),
        server_key: claimed,
    };
    let mut s = SessionConfig::new(SocketType::Router);
    s.security = Security::CurveServer { keys: server };
    (c, s)
}

/// A client and server through the handshake, the verdict given.
fn connected() -> Pair {
    let (c, s) = configs(SERVER_SECRET);
    let mut p = Pair::new(c, s);
    let (ra, rb) = p.pump();
    ra.unwrap();
    rb.unwrap();
    let asked: Vec<_> = p.b_events.drain(..).collect();
    let client = CurveKeyPair::from_secret(CLIENT_SECRET).unwrap().public();
    assert_eq!(
        asked,
        [Event::Authenticate(Credentials::Curve {
            public_key: *client.as_bytes()
        })]
    );
    p.b.authenticated(AuthReply::accept("client")).unwrap();
    let (ra, rb) = p.pump();
    ra.unwrap();
    rb.unwrap();
    assert!(
        p.a.is_ready() && p.b.is_ready(),
        "{:?} {:?}",
        p.a_events,
        p.b_events
    );
    assert!(p.a.encrypts() && p.b.encrypts());
    assert_eq!(p.b.peer().unwrap().user_id.as_deref(), Some(&b"client"[..]));
    assert_eq!(p.a.peer().unwrap().socket_type, SocketType::Router);
    p.a_events.clear();
    p.b_events.clear();
    p
}

#[test]
fn the_handshake_has_libzmqs_sizes() {
    let (c, _) = configs(SERVER_SECRET);
    let mut client = monocoque_zmtp::Session::new(c, std::time::Instant::now());
    let mut input = BytesMut::from(&common::greeting(1, b"CURVE", false)[..]);
    drain(&mut client, &mut input).unwrap();
    let sent = common::transmitted(&mut client);
    assert_eq!(&sent[12..17], b"CURVE");
    // HELLO: a command frame of exactly 200 bytes (flags, size, body).
    assert_eq!(&sent[64..66], &[0x04, 200]);
    assert_eq!(sent.len(), 64 + 2 + 200);
    assert_eq!(&sent[66..72], b"\x05HELLO");
    assert_eq!(&sent[72..74], &[1, 0]);
    assert!(sent[74..146].iter().all(|&b| b == 0), "72 bytes of padding");
}

#[test]
fn messages_and_commands_travel_boxed_both_ways() {
    let mut p = connected();
    let mut out = Outgoing::new();
    let big = Bytes::from(vec![7u8; 2_000]);
    p.a.encode_message(&mut out, [Bytes::from_static(b"hello"), big.clone()]);
    let mut bytes = wire(&mut out);
    assert!(!bytes.windows(5).any(|w| w == b"hello"), "sent in clear");
    let events = drain(&mut p.b, &mut bytes).unwrap();
    assert_eq!(
        events,
        [
            Event::Frame {
                more: true,
                body: Bytes::from_static(b"hello")
            },
            Event::Frame {
                more: false,
                body: big
            },
        ]
    );
    // The peer's queue holds NULL-encoded messages: they are boxed on their way out.
    let mut queued = Outgoing::new();
    Encoder::NULL.encode_message(&mut queued, [Bytes::from_static(b"reply")]);
    let mut out = Outgoing::new();
    p.b.transmit_queued(&mut queued, &mut out);
    assert!(queued.is_empty());
    p.b.encode_subscription(&mut out, b"topic", true);
    let mut bytes = wire(&mut out);
    assert_eq!(
        drain(&mut p.a, &mut bytes).unwrap(),
        [
            Event::Frame {
                more: false,
                body: Bytes::from_static(b"reply")
            },
            Event::Subscribe(Bytes::from_static(b"topic")),
        ]
    );
    // PING inside CURVE is answered with a boxed PONG.
    let mut out = Outgoing::new();
    p.a.encode_ping(&mut out, 0, b"ctx");
    let mut bytes = wire(&mut out);
    assert_eq!(
        drain(&mut p.b, &mut bytes).unwrap(),
        [Event::Ping { ttl_deciseconds: 0 }]
    );
    let mut pong = common::transmitted(&mut p.b);
    assert!(!pong.windows(4).any(|w| w == b"PONG"), "PONG in clear");
    assert_eq!(drain(&mut p.a, &mut pong).unwrap(), [Event::Pong]);
}

#[test]
fn a_replayed_or_altered_message_closes_the_connection() {
    let mut p = connected();
    let mut out = Outgoing::new();
    p.a.encode_message(&mut out, [Bytes::from_static(b"once")]);
    let sent = wire(&mut out);
    let mut first = sent.clone();
    assert_eq!(drain(&mut p.b, &mut first).unwrap().len(), 1);
    let mut replay = sent.clone();
    assert_eq!(
        drain(&mut p.b, &mut replay),
        Err(ProtocolError::InvalidSequence)
    );

    let mut p = connected();
    let mut altered = BytesMut::new();
    let mut out = Outgoing::new();
    p.a.encode_message(&mut out, [Bytes::from_static(b"data")]);
    altered.put(&mut out);
    let last = altered.len() - 1;
    altered[last] ^= 1;
    assert!(matches!(
        drain(&mut p.b, &mut altered),
        Err(ProtocolError::Cryptographic(_))
    ));
}

#[test]
fn a_client_with_the_wrong_server_key_is_refused_at_hello() {
    let (c, s) = configs(CLIENT_SECRET);
    let mut p = Pair::new(c, s);
    let (_, rb) = p.pump();
    assert!(matches!(rb, Err(ProtocolError::Cryptographic(_))), "{rb:?}");
    assert!(p.b_events.is_empty(), "the authenticator is never asked");
}

#[test]
fn malformed_hellos_are_refused() {
    let (_, s) = configs(SERVER_SECRET);
    for (hello, what) in [
        (vec![0u8; 199], "short"),
        (
            [b"\x05HELLO".as_slice(), &[2, 0], &[0u8; 192]].concat(),
            "version 2",
        ),
        (
            [b"\x05HELLP".as_slice(), &[1, 0], &[0u8; 192]].concat(),
            "wrong name",
        ),
    ] {
        let mut server = monocoque_zmtp::Session::new(s.clone(), std::time::Instant::now());
        let mut input = BytesMut::from(&common::greeting(1, b"CURVE", false)[..]);
        input.put_u8(0x04);
        input.put_u8(hello.len() as u8);
        input.extend_from_slice(&hello);
        let got = drain(&mut server, &mut input);
        assert!(
            matches!(
                got,
                Err(ProtocolError::MalformedCommand { .. } | ProtocolError::UnexpectedCommand(_))
            ),
            "{what}: {got:?}"
        );
    }
}

/// A client's INITIATE, just made for `server` (which has answered its HELLO): the
/// server session, and the INITIATE frame's bytes, not yet delivered.
fn server_awaiting_initiate() -> (monocoque_zmtp::Session, Vec<u8>) {
    let (c, s) = configs(SERVER_SECRET);
    let now = std::time::Instant::now();
    let mut client = monocoque_zmtp::Session::new(c, now);
    let mut server = monocoque_zmtp::Session::new(s, now);
    // Greetings (in their two steps) and HELLO to the server, WELCOME back, until
    // the client's next bytes are its INITIATE.
    let (mut to_server, mut to_client) = (BytesMut::new(), BytesMut::new());
    let mut initiate = Vec::new();
    for _ in 0..4 {
        let sent = common::transmitted(&mut client);
        if sent.windows(9).any(|w| w == b"\x08INITIATE") {
            initiate = sent.to_vec();
            break;
        }
        to_server.extend_from_slice(&sent);
        drain(&mut server, &mut to_server).unwrap();
        to_client.extend_from_slice(&common::transmitted(&mut server));
        drain(&mut client, &mut to_client).unwrap();
    }
    assert_eq!(initiate[0] & 0x04, 0x04, "INITIATE is a command frame");
    (server, initiate)
}

#[test]
fn bad_initiates_are_refused_before_the_authenticator_is_asked() {
    // The untouched INITIATE gets to the verdict.
    let (mut server, initiate) = server_awaiting_initiate();
    let mut input = BytesMut::from(&initiate[..]);
    assert!(matches!(
        drain(&mut server, &mut input).unwrap()[..],
        [Event::Authenticate(Credentials::Curve { .. })]
    ));
    type Mutation = fn(&mut Vec<u8>);
    let cases: [(&str, Mutation, &str); 4] = [
        ("too short", |b| b.truncate(200), "malformed"),
        (
            "wrong name",
            |b| b[1..9].copy_from_slice(b"INITIATX"),
            "unexpected",
        ),
        ("altered cookie", |b| b[9 + 40] ^= 0x01, "cookie"),
        ("altered box", |b| *b.last_mut().unwrap() ^= 0x01, "box"),
    ];
    for (what, mutate, expect) in cases {
        // Each case alters the INITIATE made for its own server.
        let (mut server, initiate) = server_awaiting_initiate();
        let header = if initiate[0] & 0x02 != 0 { 9 } else { 2 };
        let mut body = initiate[header..].to_vec();
        mutate(&mut body);
        let mut input = BytesMut::new();
        input.put_u8(0x06);
        input.put_u64(body.len() as u64);
        input.extend_from_slice(&body);
        let got = drain(&mut server, &mut input);
        let ok = match (expect, &got) {
            ("malformed", Err(ProtocolError::MalformedCommand { command, .. })) => {
                *command == "INITIATE"
            }
            ("unexpected", Err(ProtocolError::UnexpectedCommand(_))) => true,
            ("cookie", Err(ProtocolError::Cryptographic(why))) => why.contains("cookie"),
            ("box", Err(ProtocolError::Cryptographic(why))) => why.contains("INITIATE box"),
            _ => false,
        };
        assert!(ok, "{what}: {got:?}");
    }
}

#[test]
fn all_zero_keys_are_refused() {
    // A client told the server's key is all zeros never sends HELLO.
    let mut c = SessionConfig::new(SocketType::Dealer);
    c.security = Security::CurveClient {
        keys: CurveKeyPair::generate(),
        server_key: monocoque_zmtp::CurvePublicKey::new([0u8; 32]).unwrap(),
    };
    let mut client = monocoque_zmtp::Session::new(c, std::time::Instant::now());
    let mut input = BytesMut::from(&common::greeting(1, b"CURVE", false)[..]);
    assert!(matches!(
        drain(&mut client, &mut input),
        Err(ProtocolError::Cryptographic(why)) if why.contains("low order")
    ));
    // A HELLO whose short-term key is all zeros (whose box anyone could make) is
    // refused before the box is even opened.
    let (_, s) = configs(SERVER_SECRET);
    let mut server = monocoque_zmtp::Session::new(s, std::time::Instant::now());
    let mut hello = b"\x05HELLO\x01\x00".to_vec();
    hello.extend_from_slice(&[0u8; 72 + 32 + 8 + 80]);
    let mut input = BytesMut::from(&common::greeting(1, b"CURVE", false)[..]);
    input.put_u8(0x04);
    input.put_u8(hello.len() as u8);
    input.extend_from_slice(&hello);
    assert!(matches!(
        drain(&mut server, &mut input),
        Err(ProtocolError::Cryptographic(why)) if why.contains("low order")
    ));
}

#[test]
fn a_zmtp_1_0_peer_never_gets_a_message_through() {
    // ZMTP 1.0 starts with a length and flags (an identity frame), then messages.
    let (_, s) = configs(SERVER_SECRET);
    let mut server = monocoque_zmtp::Session::new(s, std::time::Instant::now());
    let mut input = BytesMut::from(&b"\x01\x00\x06\x00hello!\x06\x00hello!"[..]);
    let got = drain(&mut server, &mut input);
    assert_eq!(got, Err(ProtocolError::BadSignature));
}
