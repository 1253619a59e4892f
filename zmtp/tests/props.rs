//! Property tests: no input panics the decoder or the session, nothing is buffered beyond
//! the limits, and every encoder round-trips through its decoder.

mod common;

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use common::{greeting, ready};
use monocoque_zmtp::frame::{self, ABSOLUTE_MAX_FRAME_SIZE};
use monocoque_zmtp::{
    z85, Command, FrameDecoder, Metadata, ProtocolError, Session, SessionConfig, SocketType,
};
use proptest::prelude::*;

/// Feeds `input` to `s` in the given chunk sizes, draining after each chunk. Checks the
/// session never grows the buffer and never buffers a frame larger than its limits.
fn feed(s: &mut Session, input: &[u8], chunks: &[usize], limit: u64) -> Result<(), ProtocolError> {
    let mut buf = BytesMut::new();
    let mut rest = input;
    let mut chunk_iter = chunks.iter().cycle();
    while !rest.is_empty() {
        let n = (*chunk_iter.next().unwrap()).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            let before = buf.len();
            let r = s.handle_input(&mut buf);
            assert!(buf.len() <= before, "session grew the input buffer");
            match r {
                Ok(Some(_)) => continue,
                Ok(None) => {
                    // Whatever it waits for fits the limit (+ a 9-byte header).
                    let pending = buf.len() as u64 + s.needed() as u64;
                    assert!(pending <= limit + 9, "waiting for {pending} bytes");
                    break;
                }
                Err(e) => {
                    // Errors are sticky.
                    assert_eq!(s.handle_input(&mut buf), Err(e.clone()));
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

fn max_cfg(t: SocketType, max: Option<u64>) -> SessionConfig {
    let mut c = SessionConfig::new(t);
    c.max_msg_size = max;
    c
}

/// A prefix that completes the handshake for a PULL session.
fn handshake() -> Vec<u8> {
    let mut v = greeting(1, b"NULL", false);
    v.extend(ready(b"PUSH"));
    v
}

fn arb_chunks() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..80, 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn session_survives_arbitrary_bytes_from_start(
        input in prop::collection::vec(any::<u8>(), 0..512),
        chunks in arb_chunks(),
    ) {
        let mut s = Session::new(max_cfg(SocketType::Pull, Some(1000)), Instant::now());
        let _ = feed(&mut s, &input, &chunks, 64 * 1024);
    }

    #[test]
    fn session_survives_arbitrary_bytes_after_greeting(
        input in prop::collection::vec(any::<u8>(), 0..512),
        chunks in arb_chunks(),
    ) {
        let mut s = Session::new(max_cfg(SocketType::Pull, Some(1000)), Instant::now());
        let bytes = [greeting(1, b"NULL", false), input].concat();
        let _ = feed(&mut s, &bytes, &chunks, 64 * 1024);
    }

    #[test]
    fn session_survives_arbitrary_bytes_after_ready(
        input in prop::collection::vec(any::<u8>(), 0..512),
        chunks in arb_chunks(),
        max in prop::option::of(0u64..300_000),
    ) {
        let mut s = Session::new(max_cfg(SocketType::Pull, max), Instant::now());
        let bytes = [handshake(), input].concat();
        // Largest frame it may wait for: data frames up to MAXMSGSIZE (or the absolute
        // cap), commands up to max(64 KiB, MAXMSGSIZE + 64).
        let data_limit = max.unwrap_or(ABSOLUTE_MAX_FRAME_SIZE);
        let command_limit = (64 * 1024u64).max(max.map_or(0, |m| m + 64));
        let limit = data_limit.max(command_limit);
        let _ = feed(&mut s, &bytes, &chunks, limit);
    }

    /// Structured garbage: frames with valid-looking headers and random bodies.
    #[test]
    fn session_survives_random_frames(
        frames in prop::collection::vec((0u8..8, prop::collection::vec(any::<u8>(), 0..300)), 0..12),
        chunks in arb_chunks(),
    ) {
        let mut bytes = handshake();
        for (flags, body) in &frames {
            let mut out = BytesMut::new();
            frame::encode_frame(&mut out, body, flags & 1 != 0 && flags & 4 == 0, flags & 4 != 0);
            bytes.extend_from_slice(&out);
        }
        let mut s = Session::new(max_cfg(SocketType::Pull, Some(1000)), Instant::now());
        let _ = feed(&mut s, &bytes, &chunks, 64 * 1024);
    }

    #[test]
    fn decoder_never_panics_and_respects_limits(
        input in prop::collection::vec(any::<u8>(), 0..1024),
        max in prop::option::of(0u64..2048),
    ) {
        let mut d = FrameDecoder::new(max);
        let mut buf = BytesMut::from(&input[..]);
        loop {
            let snapshot = buf.clone();
            match d.decode(&mut buf) {
                Ok(Some(f)) => {
                    let limit = if f.command { d.max_command_size() } else { max.unwrap_or(u64::MAX) };
                    prop_assert!(f.body.len() as u64 <= limit);
                    prop_assert!(!(f.more && f.command));
                    prop_assert!(buf.len() < snapshot.len());
                }
                Ok(None) => {
                    prop_assert_eq!(&buf, &snapshot, "incomplete input must stay untouched");
                    prop_assert!(d.needed() >= 1);
                    break;
                }
                Err(_) => break,
            }
        }
    }

    /// A header alone decides oversize: an error before any body byte arrives.
    #[test]
    fn oversize_detected_from_header(
        size in any::<u64>(),
        flags in 0u8..8,
        max in 0u64..100_000,
    ) {
        let command = flags & 4 != 0;
        let mut header = BytesMut::new();
        header.extend_from_slice(&[flags | 2]);
        header.extend_from_slice(&size.to_be_bytes());
        let mut d = FrameDecoder::new(Some(max));
        let limit = if command { d.max_command_size() } else { max };
        let r = d.decode(&mut header);
        if command && flags & 1 != 0 {
            prop_assert!(matches!(r, Err(ProtocolError::MalformedFrame(_))));
        } else if size >> 63 != 0 {
            prop_assert!(matches!(r, Err(ProtocolError::MalformedFrame(_))));
        } else if size > limit {
            prop_assert_eq!(r, Err(ProtocolError::MessageTooLarge { size, limit }));
        } else if size == 0 {
            prop_assert!(matches!(r, Ok(Some(_))));
        } else {
            prop_assert_eq!(r, Ok(None));
            prop_assert_eq!(d.needed() as u64, size);
            prop_assert_eq!(header.len(), 9);
        }
    }

    #[test]
    fn frame_roundtrip(
        frames in prop::collection::vec((any::<bool>(), any::<bool>(), prop::collection::vec(any::<u8>(), 0..600)), 1..6),
        split in prop::collection::vec(1usize..100, 1..5),
    ) {
        let mut wire = BytesMut::new();
        let mut expected = Vec::new();
        for (more, command, body) in frames {
            let more = more && !command;
            frame::encode_frame(&mut wire, &body, more, command);
            expected.push(frame::Frame { more, command, body: Bytes::from(body) });
        }
        let wire = wire.to_vec();
        let mut d = FrameDecoder::new(None);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut rest = &wire[..];
        let mut sizes = split.iter().cycle();
        while !rest.is_empty() {
            let n = (*sizes.next().unwrap()).min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            while let Some(f) = d.decode(&mut buf).unwrap() {
                got.push(f);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn metadata_roundtrip(props in prop::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,40}", prop::collection::vec(any::<u8>(), 0..100)), 0..6)) {
        let mut m = Metadata::new();
        for (name, value) in &props {
            m.insert(name, value.clone());
        }
        let mut out = BytesMut::new();
        m.encode(&mut out);
        prop_assert_eq!(out.len(), m.encoded_len());
        let decoded = Metadata::decode(out.freeze()).unwrap();
        prop_assert_eq!(&decoded, &m);
        for (name, _) in &props {
            let first = props.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).unwrap();
            prop_assert_eq!(&decoded.get(&name.to_ascii_uppercase()).unwrap()[..], &first.1[..]);
        }
    }

    #[test]
    fn metadata_decode_never_panics(data in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Metadata::decode(Bytes::from(data));
    }

    #[test]
    fn command_roundtrip(cmd in arb_command()) {
        let mut out = BytesMut::new();
        cmd.encode(&mut out);
        // COMMAND, plus LONG exactly when the body exceeds 255 bytes.
        let long = cmd.body_len() > 255;
        prop_assert_eq!(out[0], if long { 0x06 } else { 0x04 });
        prop_assert_eq!(out.len(), frame::header_len(cmd.body_len()) + cmd.body_len());
        let mut d = FrameDecoder::new(None);
        let f = d.decode(&mut out).unwrap().unwrap();
        prop_assert!(out.is_empty());
        prop_assert!(f.command && !f.more);
        prop_assert_eq!(f.body.len(), cmd.body_len());
        prop_assert_eq!(Command::decode(f.body).unwrap(), cmd);
    }

    #[test]
    fn command_decode_never_panics(data in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Command::decode(Bytes::from(data));
    }

    #[test]
    fn z85_roundtrip(words in prop::collection::vec(any::<[u8; 4]>(), 0..20)) {
        let data: Vec<u8> = words.concat();
        let text = z85::encode(&data).unwrap();
        prop_assert_eq!(text.len(), data.len() / 4 * 5);
        prop_assert_eq!(z85::decode(&text).unwrap(), data);
    }

    #[test]
    fn z85_decode_never_panics(text in ".{0,40}") {
        if let Ok(bytes) = z85::decode(&text) {
            prop_assert_eq!(z85::encode(&bytes).unwrap(), text);
        }
    }
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn arb_command() -> impl Strategy<Value = Command> {
    let meta = prop::collection::vec(
        (
            "[A-Za-z][A-Za-z0-9-]{0,20}",
            prop::collection::vec(any::<u8>(), 0..400),
        ),
        0..4,
    )
    .prop_map(|props| {
        let mut m = Metadata::new();
        for (n, v) in props {
            m.insert(&n, v);
        }
        m
    });
    prop_oneof![
        meta.prop_map(Command::Ready),
        arb_bytes(256).prop_map(Command::Error),
        arb_bytes(400).prop_map(Command::Subscribe),
        arb_bytes(400).prop_map(Command::Cancel),
        (any::<u16>(), arb_bytes(17)).prop_map(|(ttl_deciseconds, context)| Command::Ping {
            ttl_deciseconds,
            context
        }),
        arb_bytes(17).prop_map(|context| Command::Pong { context }),
        ("[A-Z]{1,12}", arb_bytes(300))
            .prop_filter("not a known name", |(n, _)| ![
                "READY",
                "ERROR",
                "SUBSCRIBE",
                "CANCEL",
                "PING",
                "PONG"
            ]
            .contains(&n.as_str()))
            .prop_map(|(n, data)| Command::Other {
                name: Bytes::from(n),
                data
            }),
    ]
    .prop_filter(
        "ERROR reasons are at most 255 bytes",
        |c| !matches!(c, Command::Error(r) if r.len() > 255),
    )
}
