//! Two sessions through byte buffers, and a session against hand-made peer bytes.

mod common;

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use common::{command, drain, greeted, greeting, hex, ready, transmitted, wire, Pair};
use monocoque_zmtp::{
    Event, Metadata, Outgoing, ProtocolError, Session, SessionConfig, SocketType,
};

fn frame(more: bool, body: &'static [u8]) -> Event {
    Event::Frame {
        more,
        body: Bytes::from_static(body),
    }
}

/// A session of type `ours` that has received a NULL greeting and a READY from `peer`.
fn ready_session(ours: SocketType, peer: &[u8]) -> Session {
    let mut s = Session::new(SessionConfig::new(ours), Instant::now());
    let mut input = BytesMut::from(&greeting(1, b"NULL", false)[..]);
    input.extend_from_slice(&ready(peer));
    let events = drain(&mut s, &mut input).unwrap();
    assert!(matches!(events[..], [Event::Ready(_)]), "{events:?}");
    s
}

/// Feeds `bytes` after a successful handshake and returns the result of draining.
fn after_ready(ours: SocketType, peer: &[u8], bytes: &[u8]) -> Result<Vec<Event>, ProtocolError> {
    let mut s = ready_session(ours, peer);
    let mut input = BytesMut::from(bytes);
    drain(&mut s, &mut input)
}

/// Feeds a greeting (+ extra bytes) to a fresh session.
fn before_ready(ours: SocketType, bytes: &[u8]) -> Result<Vec<Event>, ProtocolError> {
    let mut s = Session::new(SessionConfig::new(ours), Instant::now());
    let mut input = BytesMut::from(&greeting(1, b"NULL", false)[..]);
    input.extend_from_slice(bytes);
    drain(&mut s, &mut input)
}

#[test]
fn every_pair_handshakes_or_is_refused() {
    let mut compatible = 0;
    for a in SocketType::ALL {
        for b in SocketType::ALL {
            let mut p = Pair::of(a, b);
            let (ra, rb) = p.pump();
            if a.is_compatible(b) {
                compatible += 1;
                ra.unwrap_or_else(|e| panic!("{a} <- {b}: {e}"));
                rb.unwrap_or_else(|e| panic!("{b} <- {a}: {e}"));
                assert!(p.a.is_ready() && p.b.is_ready());
                assert_eq!(p.a.peer().unwrap().socket_type, b);
                assert_eq!(p.b.peer().unwrap().socket_type, a);
                assert!(matches!(&p.a_events[..], [Event::Ready(i)] if i.socket_type == b));
                assert!(matches!(&p.b_events[..], [Event::Ready(i)] if i.socket_type == a));
            } else {
                assert_eq!(
                    ra,
                    Err(ProtocolError::IncompatibleSocketType {
                        ours: a.as_str(),
                        theirs: b.as_str()
                    })
                );
                assert_eq!(
                    rb,
                    Err(ProtocolError::IncompatibleSocketType {
                        ours: b.as_str(),
                        theirs: a.as_str()
                    })
                );
                assert!(!p.a.is_ready() && !p.b.is_ready());
                assert!(p.a.peer().is_none());
            }
        }
    }
    assert_eq!(compatible, 21);
}

#[test]
fn multipart_frames_flow_both_ways() {
    let mut p = Pair::connect(SocketType::Dealer, SocketType::Router);
    let big = vec![0xABu8; 300];
    let mut out = Outgoing::new();
    let msg = [
        Bytes::new(),
        Bytes::from_static(b"hello"),
        Bytes::from(big.clone()),
    ];
    p.a.encode_message(&mut out, &msg);
    let mut wire = wire(&mut out);
    let events = drain(&mut p.b, &mut wire).unwrap();
    assert_eq!(
        events,
        vec![
            frame(true, b""),
            frame(true, b"hello"),
            Event::Frame {
                more: false,
                body: Bytes::from(big.clone())
            }
        ]
    );
    assert!(wire.is_empty());

    p.b.encode_message(&mut out, [Bytes::from_static(b"reply")]);
    let mut wire = common::wire(&mut out);
    assert_eq!(
        drain(&mut p.a, &mut wire).unwrap(),
        vec![frame(false, b"reply")]
    );
}

#[test]
fn identity_and_metadata_reach_the_peer() {
    let mut a = SessionConfig::new(SocketType::Pair);
    a.identity = Bytes::from_static(b"me");
    a.metadata.insert("X-Hello", "world");
    let b = SessionConfig::new(SocketType::Pair);
    let mut p = Pair::new(a, b);
    let (ra, rb) = p.pump();
    ra.unwrap();
    rb.unwrap();
    let peer_of_b = p.b.peer().unwrap();
    assert_eq!(&peer_of_b.identity[..], b"me");
    assert_eq!(&peer_of_b.metadata.get("x-hello").unwrap()[..], b"world");
    let names: Vec<&str> = peer_of_b.metadata.iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["Socket-Type", "Identity", "X-Hello"]);
    // A PAIR with no identity sends no Identity property at all.
    let peer_of_a = p.a.peer().unwrap();
    assert!(peer_of_a.metadata.get("Identity").is_none());
    assert!(peer_of_a.identity.is_empty());
}

#[test]
fn identity_is_always_sent_by_req_dealer_router() {
    for t in SocketType::ALL {
        let mut s = Session::new(SessionConfig::new(t), Instant::now());
        let out = greeted(&mut s, &greeting(1, b"NULL", false));
        let has_identity = out.windows(8).any(|w| w == b"Identity");
        let expected = matches!(t, SocketType::Req | SocketType::Dealer | SocketType::Router);
        assert_eq!(has_identity, expected, "{t}");
    }
}

/// A scripted peer stream covering every event kind.
fn script() -> Vec<u8> {
    let mut v = greeting(1, b"NULL", false);
    v.extend(ready(b"DEALER"));
    v.extend(hex("01 03 61 62 63 00 00")); // "abc" (more), "" (last)
    v.extend(command(b"PING", b"\x00\x0actx"));
    v.extend(command(b"PONG", b""));
    v.extend(command(b"SUBSCRIBE", b"t"));
    v.extend(command(b"CANCEL", b"t"));
    v.extend(command(b"UNKNOWN", b"whatever")); // ignored
    let mut long = vec![0x02u8, 0, 0, 0, 0, 0, 0, 1, 0];
    long.extend(vec![7u8; 256]);
    v.extend(long);
    v
}

fn expected_script_events(events: &[Event]) {
    assert!(matches!(&events[0], Event::Ready(p) if p.socket_type == SocketType::Dealer));
    assert_eq!(
        &events[1..],
        &[
            frame(true, b"abc"),
            frame(false, b""),
            Event::Ping {
                ttl_deciseconds: 10
            },
            Event::Pong,
            Event::Subscribe(Bytes::from_static(b"t")),
            Event::Cancel(Bytes::from_static(b"t")),
            Event::Frame {
                more: false,
                body: Bytes::from(vec![7u8; 256])
            },
        ]
    );
}

#[test]
fn byte_at_a_time_gives_the_same_events() {
    let bytes = script();

    let mut whole = Session::new(SessionConfig::new(SocketType::Router), Instant::now());
    let mut input = BytesMut::from(&bytes[..]);
    let events_whole = drain(&mut whole, &mut input).unwrap();
    assert!(input.is_empty());
    expected_script_events(&events_whole);

    let mut single = Session::new(SessionConfig::new(SocketType::Router), Instant::now());
    let mut input = BytesMut::new();
    let mut events_single = Vec::new();
    for &b in &bytes {
        input.extend_from_slice(&[b]);
        events_single.extend(drain(&mut single, &mut input).unwrap());
    }
    assert!(input.is_empty());
    assert_eq!(events_whole, events_single);

    assert_eq!(transmitted(&mut whole), transmitted(&mut single));
}

#[test]
fn ping_queues_exact_pong() {
    let mut s = ready_session(SocketType::Dealer, b"ROUTER");
    transmitted(&mut s); // greeting + READY
    let mut input = BytesMut::from(&hex("04 0a 04 50 49 4e 47 00 0a 63 74 78")[..]); // PING ttl=10 "ctx"
    assert_eq!(
        s.handle_input(&mut input),
        Ok(Some(Event::Ping {
            ttl_deciseconds: 10
        }))
    );
    let mut out = Outgoing::new();
    assert!(s.poll_transmit(&mut out));
    assert_eq!(
        wire(&mut out).to_vec(),
        hex("04 08 04 50 4f 4e 47 63 74 78")
    ); // PONG "ctx"

    // Context over 16 bytes is cut to 16 in the PONG.
    let ctx = b"0123456789abcdefXYZ";
    let mut input = BytesMut::from(&command(b"PING", &[&[0, 0][..], ctx].concat())[..]);
    assert!(matches!(
        s.handle_input(&mut input),
        Ok(Some(Event::Ping { .. }))
    ));
    let out = transmitted(&mut s);
    let mut expected = vec![0x04, 21, 4];
    expected.extend_from_slice(b"PONG");
    expected.extend_from_slice(&ctx[..16]);
    assert_eq!(out.to_vec(), expected);
}

#[test]
fn encode_ping_bytes() {
    let mut s = Session::new(SessionConfig::new(SocketType::Dealer), Instant::now());
    let mut out = Outgoing::new();
    s.encode_ping(&mut out, 10, b"ctx");
    assert_eq!(
        wire(&mut out).to_vec(),
        hex("04 0a 04 50 49 4e 47 00 0a 63 74 78")
    );
    s.encode_ping(&mut out, 0xFFFF, &[1u8; 40]);
    assert_eq!(out.len(), 2 + 5 + 2 + 16);
}

#[test]
fn short_ping_is_malformed() {
    for data in [&b""[..], b"\x00"] {
        assert_eq!(
            after_ready(SocketType::Dealer, b"ROUTER", &command(b"PING", data)),
            Err(ProtocolError::MalformedCommand {
                command: "PING",
                reason: "shorter than its 2-byte TTL"
            })
        );
    }
}

#[test]
fn peer_error_before_and_after_ready() {
    let error = command(b"ERROR", b"\x03400");
    assert_eq!(
        before_ready(SocketType::Dealer, &error),
        Err(ProtocolError::PeerError("400".into()))
    );
    assert_eq!(
        after_ready(SocketType::Dealer, b"ROUTER", &error),
        Err(ProtocolError::PeerError("400".into()))
    );
    // Non-UTF-8 reasons are reported lossily.
    assert_eq!(
        after_ready(
            SocketType::Dealer,
            b"ROUTER",
            &command(b"ERROR", b"\x02\xff!")
        ),
        Err(ProtocolError::PeerError("\u{fffd}!".into()))
    );
    // A reason length running past the frame is malformed.
    assert!(matches!(
        after_ready(SocketType::Dealer, b"ROUTER", &command(b"ERROR", b"\x09ab")),
        Err(ProtocolError::MalformedCommand {
            command: "ERROR",
            ..
        })
    ));
}

#[test]
fn queue_error_bytes() {
    let mut s = Session::new(SessionConfig::new(SocketType::Router), Instant::now());
    transmitted(&mut s);
    s.queue_error("400");
    let mut out = Outgoing::new();
    assert!(s.poll_transmit(&mut out));
    assert_eq!(
        wire(&mut out).to_vec(),
        hex("04 0a 05 45 52 52 4f 52 03 34 30 30")
    );
    // Reasons are cut to 255 bytes.
    s.queue_error(&"x".repeat(300));
    let out = transmitted(&mut s);
    assert_eq!(&out[..2], &[0x06, 0]); // LONG command: 1+5+1+255 = 262 bytes
    assert_eq!(out.len(), 9 + 262);
    assert_eq!(out[9 + 6], 255);
}

#[test]
fn handshake_violations() {
    assert_eq!(
        before_ready(SocketType::Dealer, &hex("00 01 61")),
        Err(ProtocolError::MessageBeforeReady)
    );
    assert_eq!(
        before_ready(SocketType::Dealer, &command(b"PING", b"\x00\x00")),
        Err(ProtocolError::UnexpectedCommand("PING".into()))
    );
    assert_eq!(
        before_ready(SocketType::Dealer, &command(b"READY", b"")),
        Err(ProtocolError::MissingSocketType)
    );
    assert_eq!(
        before_ready(SocketType::Dealer, &ready(b"router")),
        Err(ProtocolError::UnknownSocketType("router".into()))
    );
    assert_eq!(
        before_ready(SocketType::Dealer, &ready(b"PUB")),
        Err(ProtocolError::IncompatibleSocketType {
            ours: "DEALER",
            theirs: "PUB"
        })
    );
    assert_eq!(
        after_ready(SocketType::Dealer, b"ROUTER", &ready(b"ROUTER")),
        Err(ProtocolError::UnexpectedCommand("READY".into()))
    );
    assert!(matches!(
        before_ready(
            SocketType::Dealer,
            &command(b"READY", b"\x0bSocket-Type\x00\x00")
        ),
        Err(ProtocolError::MalformedCommand {
            command: "READY",
            ..
        })
    ));
    assert!(matches!(
        before_ready(SocketType::Dealer, &hex("04 00")),
        Err(ProtocolError::MalformedCommand { .. })
    ));
    assert!(matches!(
        before_ready(SocketType::Dealer, &hex("04 02 05 52")),
        Err(ProtocolError::MalformedCommand { .. })
    ));
    // Command frames may not carry MORE; reserved flag bits are rejected.
    assert!(matches!(
        after_ready(SocketType::Dealer, b"ROUTER", &hex("05 01 00")),
        Err(ProtocolError::MalformedFrame(_))
    ));
    assert!(matches!(
        after_ready(SocketType::Dealer, b"ROUTER", &hex("08")),
        Err(ProtocolError::MalformedFrame(_))
    ));
}

#[test]
fn errors_are_sticky() {
    let mut s = Session::new(SessionConfig::new(SocketType::Dealer), Instant::now());
    let mut input = BytesMut::from(&b"GET"[..]);
    assert_eq!(s.handle_input(&mut input), Err(ProtocolError::BadSignature));
    let mut input = BytesMut::from(&greeting(1, b"NULL", false)[..]);
    assert_eq!(s.handle_input(&mut input), Err(ProtocolError::BadSignature));
    assert!(!s.is_ready());
}

#[test]
fn unknown_commands_are_ignored_after_ready() {
    assert_eq!(
        after_ready(
            SocketType::Pull,
            b"PUSH",
            &[command(b"X-FOO", b"bar"), hex("00 01 7a")].concat()
        ),
        Ok(vec![frame(false, b"z")])
    );
}

#[test]
fn garbage_greeting_rejected_within_ten_bytes() {
    // An HTTP client: the first byte already decides.
    let mut s = Session::new(SessionConfig::new(SocketType::Rep), Instant::now());
    let mut input = BytesMut::new();
    input.extend_from_slice(b"G");
    assert_eq!(s.handle_input(&mut input), Err(ProtocolError::BadSignature));

    // 0xFF then a byte 9 without its low bit: rejected on the 10th byte, not before.
    let bytes = hex("ff 00 00 00 00 00 00 00 01 7e");
    let mut s = Session::new(SessionConfig::new(SocketType::Rep), Instant::now());
    let mut input = BytesMut::new();
    for (i, &b) in bytes.iter().enumerate() {
        input.extend_from_slice(&[b]);
        let r = s.handle_input(&mut input);
        if i < 9 {
            assert_eq!(r, Ok(None), "byte {i}");
        } else {
            assert_eq!(r, Err(ProtocolError::BadSignature));
        }
    }

    // Fed whole, an HTTP request line fails at once.
    let mut s = Session::new(SessionConfig::new(SocketType::Rep), Instant::now());
    let mut input = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
    assert_eq!(s.handle_input(&mut input), Err(ProtocolError::BadSignature));
}

#[test]
fn old_versions_rejected_once_both_version_bytes_are_in() {
    for major in [1u8, 2] {
        let mut g = greeting(5, b"NULL", false);
        g[10] = major;
        let mut s = Session::new(SessionConfig::new(SocketType::Rep), Instant::now());
        // The major alone is not judged, so that the error names the whole version
        // however the reads split the greeting.
        let mut input = BytesMut::from(&g[..11]);
        assert_eq!(s.handle_input(&mut input), Ok(None));
        input.extend_from_slice(&g[11..12]);
        assert_eq!(
            s.handle_input(&mut input),
            Err(ProtocolError::UnsupportedVersion { major, minor: 5 })
        );
    }
    // A 3.0 peer and a hypothetical 4.x peer are accepted.
    for (major, minor) in [(3u8, 0u8), (3, 7), (4, 0)] {
        let mut g = greeting(minor, b"NULL", false);
        g[10] = major;
        let mut s = Session::new(SessionConfig::new(SocketType::Rep), Instant::now());
        let mut input = BytesMut::from(&g[..]);
        input.extend_from_slice(&ready(b"REQ"));
        let events = drain(&mut s, &mut input).unwrap();
        assert!(matches!(&events[..], [Event::Ready(p)] if p.minor == minor));
    }
}

#[test]
fn mechanism_must_match_exactly() {
    for (mech, name) in [
        (&b"PLAIN"[..], "PLAIN"),
        (b"CURVE", "CURVE"),
        (b"NULLX", "NULLX"),
        (b"", ""),
    ] {
        let mut s = Session::new(SessionConfig::new(SocketType::Rep), Instant::now());
        let mut input = BytesMut::from(&greeting(1, mech, false)[..]);
        assert_eq!(
            s.handle_input(&mut input),
            Err(ProtocolError::MechanismMismatch {
                ours: "NULL".into(),
                theirs: name.into()
            })
        );
    }
    // Trailing garbage after "NULL\0" inside the 20-byte field is a mismatch too.
    let mut g = greeting(1, b"NULL", false);
    g[31] = b'!';
    let mut s = Session::new(SessionConfig::new(SocketType::Rep), Instant::now());
    let mut input = BytesMut::from(&g[..]);
    assert!(matches!(
        s.handle_input(&mut input),
        Err(ProtocolError::MechanismMismatch { .. })
    ));
}

#[test]
fn as_server_peer_is_not_rejected_and_padding_is_ignored() {
    let mut g = greeting(1, b"NULL", true);
    g[1..9].copy_from_slice(&[9, 8, 7, 6, 5, 4, 3, 2]);
    g[9] = 0x01; // only the low bit matters
    g[40] = 0xEE; // filler is not checked
    let mut s = Session::new(SessionConfig::new(SocketType::Rep), Instant::now());
    let mut input = BytesMut::from(&g[..]);
    input.extend_from_slice(&ready(b"REQ"));
    assert!(matches!(
        &drain(&mut s, &mut input).unwrap()[..],
        [Event::Ready(_)]
    ));
}

#[test]
fn greeting_is_sent_before_any_input_and_ready_after_peer_greeting() {
    let mut s = Session::new(SessionConfig::new(SocketType::Push), Instant::now());
    let mut out = Outgoing::new();
    assert!(s.poll_transmit(&mut out));
    assert_eq!(wire(&mut out).len(), 10, "the signature first");
    // Partial greeting (past the peer's major version): the rest of ours, no more.
    let g = greeting(1, b"NULL", false);
    let mut input = BytesMut::from(&g[..40]);
    assert_eq!(s.handle_input(&mut input), Ok(None));
    assert_eq!(input.len(), 40, "incomplete greeting stays in the buffer");
    assert!(s.poll_transmit(&mut out));
    assert_eq!(wire(&mut out).len(), 54);
    assert!(!s.poll_transmit(&mut out));
    input.extend_from_slice(&g[40..]);
    assert_eq!(s.handle_input(&mut input), Ok(None));
    assert!(input.is_empty());
    let mut out = Outgoing::new();
    assert!(s.poll_transmit(&mut out));
    assert_eq!(
        &wire(&mut out)[..],
        &hex("04 1a 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 00 00 00 04 50 55 53 48")
            [..]
    );
    assert!(!s.is_ready(), "peer READY not yet received");
    assert_eq!(s.peer_greeting().unwrap().minor, 1);
}

#[test]
fn poll_transmit_appends_to_existing_output() {
    let mut s = Session::new(SessionConfig::new(SocketType::Push), Instant::now());
    let mut out = Outgoing::new();
    let big = Bytes::from(vec![1u8; 4096]);
    s.encode_message(&mut out, [Bytes::from_static(b"prefix"), big]);
    assert!(s.poll_transmit(&mut out));
    let out = wire(&mut out);
    assert_eq!(&out[..8], b"\x01\x06prefix");
    assert_eq!(
        out.len(),
        8 + 9 + 4096 + 10,
        "our signature, the first step"
    );
    assert_eq!(&out[8 + 9 + 4096..][..2], &[0xFF, 0]);
}

#[test]
fn max_msg_size_rejected_from_header_alone() {
    let mut c = SessionConfig::new(SocketType::Pull);
    c.max_msg_size = Some(100);
    let mut s = Session::new(c, Instant::now());
    let mut input = BytesMut::from(&greeting(1, b"NULL", false)[..]);
    input.extend_from_slice(&ready(b"PUSH"));
    drain(&mut s, &mut input).unwrap();

    // Exactly the limit is fine (header only: waits for the body).
    let mut input = BytesMut::from(&hex("00 64")[..]);
    assert_eq!(s.handle_input(&mut input), Ok(None));
    assert_eq!(s.needed(), 100);
    input.extend_from_slice(&[0u8; 100]);
    assert!(matches!(
        s.handle_input(&mut input),
        Ok(Some(Event::Frame { .. }))
    ));

    // One more byte: rejected with only the 2-byte header present.
    let mut input = BytesMut::from(&hex("00 65")[..]);
    assert_eq!(
        s.handle_input(&mut input),
        Err(ProtocolError::MessageTooLarge {
            size: 101,
            limit: 100
        })
    );

    // LONG header alone (9 bytes), size 2^40.
    let mut c = SessionConfig::new(SocketType::Pull);
    c.max_msg_size = Some(1 << 20);
    let mut s = Session::new(c, Instant::now());
    let mut input = BytesMut::from(&greeting(1, b"NULL", false)[..]);
    input.extend_from_slice(&ready(b"PUSH"));
    input.extend_from_slice(&hex("03 00 00 01 00 00 00 00 00"));
    assert_eq!(
        drain(&mut s, &mut input),
        Err(ProtocolError::MessageTooLarge {
            size: 1 << 40,
            limit: 1 << 20
        })
    );
}

#[test]
fn absurd_sizes_never_wait() {
    // Unlimited MAXMSGSIZE still refuses sizes with the top bit set or beyond 2^47.
    for header in ["02 80 00 00 00 00 00 00 00", "02 ff ff ff ff ff ff ff ff"] {
        assert!(matches!(
            after_ready(SocketType::Pull, b"PUSH", &hex(header)),
            Err(ProtocolError::MalformedFrame(_))
        ));
    }
    assert!(matches!(
        after_ready(
            SocketType::Pull,
            b"PUSH",
            &hex("02 00 01 00 00 00 00 00 00")
        ),
        Err(ProtocolError::MessageTooLarge { .. })
    ));
    // Commands are bounded at 64 KiB even with unlimited MAXMSGSIZE.
    assert_eq!(
        after_ready(
            SocketType::Pull,
            b"PUSH",
            &hex("06 00 00 00 00 00 01 00 01")
        ),
        Err(ProtocolError::MessageTooLarge {
            size: 65537,
            limit: 65536
        })
    );
}

#[test]
fn long_commands_use_flags_06() {
    let mut c = SessionConfig::new(SocketType::Dealer);
    c.metadata.insert("X-Big", vec![b'v'; 300]);
    let mut s = Session::new(c, Instant::now());
    let out = greeted(&mut s, &greeting(1, b"NULL", false));
    let ready = &out[64..];
    assert_eq!(ready[0], 0x06);
    let len = u64::from_be_bytes(ready[1..9].try_into().unwrap()) as usize;
    assert_eq!(ready.len(), 9 + len);
    assert_eq!(&ready[9..15], b"\x05READY");

    // And a peer's long READY is accepted.
    let mut peer = Session::new(SessionConfig::new(SocketType::Router), Instant::now());
    let mut input = BytesMut::from(&greeting(1, b"NULL", false)[..]);
    input.extend_from_slice(ready);
    let events = drain(&mut peer, &mut input).unwrap();
    let [Event::Ready(info)] = &events[..] else {
        panic!()
    };
    assert_eq!(info.metadata.get("x-big").unwrap().len(), 300);
}

#[test]
fn subscriptions_use_commands_with_31_and_before_greeting() {
    // Before the peer's greeting the version is unknown: 3.1 form.
    let mut s = Session::new(SessionConfig::new(SocketType::Sub), Instant::now());
    let mut out = Outgoing::new();
    s.encode_subscription(&mut out, b"ab", true);
    assert_eq!(wire(&mut out).to_vec(), command(b"SUBSCRIBE", b"ab"));
    s.encode_subscription(&mut out, b"ab", false);
    assert_eq!(wire(&mut out).to_vec(), command(b"CANCEL", b"ab"));

    // ZMTP 3.0 peer: data frames.
    let mut s = Session::new(SessionConfig::new(SocketType::XSub), Instant::now());
    let mut input = BytesMut::from(&greeting(0, b"NULL", false)[..]);
    input.extend_from_slice(&ready(b"XPUB"));
    drain(&mut s, &mut input).unwrap();
    assert!(s.peer_greeting().unwrap().is_zmtp30());
    let mut out = Outgoing::new();
    s.encode_subscription(&mut out, b"ab", true);
    s.encode_subscription(&mut out, b"", false);
    assert_eq!(wire(&mut out).to_vec(), hex("00 03 01 61 62 00 01 00"));
}

#[test]
fn subscriptions_between_sessions() {
    let mut p = Pair::connect(SocketType::Sub, SocketType::Pub);
    let mut out = Outgoing::new();
    p.a.encode_subscription(&mut out, b"news", true);
    p.a.encode_subscription(&mut out, b"news", false);
    let mut wire = wire(&mut out);
    assert_eq!(
        drain(&mut p.b, &mut wire).unwrap(),
        vec![
            Event::Subscribe(Bytes::from_static(b"news")),
            Event::Cancel(Bytes::from_static(b"news"))
        ]
    );
}

#[test]
fn ping_pong_between_sessions() {
    let mut p = Pair::connect(SocketType::Push, SocketType::Pull);
    let mut out = Outgoing::new();
    p.a.encode_ping(&mut out, 30, b"hb");
    assert_eq!(
        drain(&mut p.b, &mut wire(&mut out)).unwrap(),
        vec![Event::Ping {
            ttl_deciseconds: 30
        }]
    );
    assert!(p.b.poll_transmit(&mut out));
    assert_eq!(
        drain(&mut p.a, &mut wire(&mut out)).unwrap(),
        vec![Event::Pong]
    );
}

#[test]
fn bodies_are_zero_copy_views() {
    let mut s = ready_session(SocketType::Pull, b"PUSH");
    let mut input = BytesMut::with_capacity(1024);
    input.extend_from_slice(&hex("01 03 61 62 63 00 02 64 65"));
    let base = input.as_ptr() as usize;
    let Some(Event::Frame { body, .. }) = s.handle_input(&mut input).unwrap() else {
        panic!()
    };
    assert_eq!(body.as_ptr() as usize, base + 2);
    let Some(Event::Frame { body, .. }) = s.handle_input(&mut input).unwrap() else {
        panic!()
    };
    assert_eq!(body.as_ptr() as usize, base + 7);
}

#[test]
fn metadata_lookup_is_case_insensitive_but_spelling_kept() {
    let mut m = Metadata::new();
    m.insert("X-Custom", "1");
    assert_eq!(&m.get("x-custom").unwrap()[..], b"1");
    assert_eq!(m.iter().next().unwrap().0, "X-Custom");
}

#[test]
fn the_accepting_side_sends_its_mechanism_after_the_peers() {
    let mut c = SessionConfig::new(SocketType::Pull);
    c.accepted = true;
    let mut s = Session::new(c, Instant::now());
    let g = greeting(1, b"NULL", false);
    let mut input = BytesMut::new();
    let mut sent = Vec::new();
    for byte in &g {
        input.extend_from_slice(&[*byte]);
        drain(&mut s, &mut input).unwrap();
        sent.push(transmitted(&mut s).len());
    }
    // Signature at once (not counted here), major version after the peer's
    // signature, the rest after the peer's 12th byte (its minor version), and
    // READY (NULL) only after the peer's READY has begun.
    assert_eq!(sent[9], 1);
    assert_eq!(sent[10], 0, "nothing after the peer's major version");
    assert_eq!(sent[11], 53);
    assert!(sent[12..].iter().all(|&n| n == 0));
    input.extend_from_slice(&ready(b"PUSH")[..1]);
    drain(&mut s, &mut input).unwrap();
    assert_eq!(&transmitted(&mut s)[2..8], b"\x05READY");
}
