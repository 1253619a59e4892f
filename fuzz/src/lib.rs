//! The bodies of Monocoque's fuzz targets, one function per target.
//!
//! `fuzz_targets/*.rs` hand libFuzzer's input to these; `zmtp/tests/fuzz_corpus.rs`
//! includes this file and replays every corpus file through the same functions as an
//! ordinary test, so an input that once crashed a target stays fixed. Each function
//! checks properties, not just "no panic": a round trip where one exists, and for the
//! session that the verdict does not depend on how the input is split into reads.

mod curve;

use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use monocoque_zmtp::frame::{self, FrameDecoder};
use monocoque_zmtp::zap::ZapError;
use monocoque_zmtp::{
    z85, AuthReply, AuthStatus, Command, Event, Greeting, Metadata, Outgoing, ProtocolError,
    Security, Session, SessionConfig, SocketType,
};

pub use curve::{curve_client, curve_server, curve_session};

/// Greeting prefix checks and full decoding.
pub fn greeting(data: &[u8]) {
    let early = Greeting::check_prefix(&data[..data.len().min(64)]);
    if data.len() >= 64 {
        let raw: &[u8; 64] = data[..64].try_into().expect("64 bytes");
        if let Ok(g) = Greeting::decode(raw) {
            assert!(early.is_ok(), "prefix rejected a greeting that decodes");
            assert!(g.major >= 3);
            let again = Greeting::decode(&g.encode()).expect("an encoded greeting decodes");
            assert_eq!(again, g);
        }
    }
}

/// The frame decoder over input cut into reads. The first two bytes choose the
/// MAXMSGSIZE and the read size.
pub fn frame_decoder(data: &[u8]) {
    let [limit, step, rest @ ..] = data else {
        return;
    };
    let max = (*limit != 0).then(|| u64::from(*limit) * 16);
    let step = usize::from(*step).max(1);
    let mut decoder = FrameDecoder::new(max);
    let mut buf = BytesMut::new();
    for chunk in rest.chunks(step) {
        buf.extend_from_slice(chunk);
        loop {
            let before = buf.len();
            match decoder.decode(&mut buf) {
                Ok(Some(f)) => {
                    let limit = if f.command {
                        decoder.max_command_size()
                    } else {
                        max.unwrap_or(frame::ABSOLUTE_MAX_FRAME_SIZE)
                    };
                    assert!(f.body.len() as u64 <= limit, "frame over its limit");
                    assert!(buf.len() < before, "a frame consumed no input");
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// Everything a session did with one input, for comparing two ways of feeding it.
#[derive(Debug, PartialEq)]
pub struct Transcript {
    /// The events, as `Debug` text.
    pub events: Vec<String>,
    /// The error that ended it, if one did.
    pub error: Option<ProtocolError>,
    /// Every byte the session asked to send.
    pub transmitted: Vec<u8>,
}

/// Feeds `input` to a new session of `config` in pieces that end at `cuts` (ascending
/// positions), draining the session after each piece as a connection driver does.
pub fn transcript(config: &SessionConfig, input: &[u8], cuts: &[usize]) -> Transcript {
    transcript_with_verdict(config, input, cuts, &AuthReply::accept("user"))
}

/// [`transcript`] for a server that authenticates: each
/// [`Event::Authenticate`] is answered with `verdict`.
pub fn transcript_with_verdict(
    config: &SessionConfig,
    input: &[u8],
    cuts: &[usize],
    verdict: &AuthReply,
) -> Transcript {
    let mut s = Session::new(config.clone(), Instant::now());
    let mut buf = BytesMut::new();
    let mut out = Outgoing::new();
    let mut transmitted = BytesMut::new();
    let mut events = Vec::new();
    let mut error = None;
    let mut start = 0;
    for end in cuts.iter().copied().chain([input.len()]) {
        let end = end.clamp(start, input.len());
        buf.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            let before = buf.len();
            match s.handle_input(&mut buf) {
                Ok(Some(ev)) => {
                    let asked = matches!(ev, Event::Authenticate(_));
                    events.push(format!("{ev:?}"));
                    if asked {
                        if let Err(e) = s.authenticated(verdict.clone()) {
                            error = Some(e);
                            break;
                        }
                    }
                }
                Ok(None) => {
                    assert!(buf.len() <= before, "the session grew its input");
                    break;
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        s.poll_transmit(&mut out);
        transmitted.put(&mut out);
        if error.is_some() {
            break;
        }
    }
    Transcript {
        events,
        error,
        transmitted: transmitted.to_vec(),
    }
}

/// A NULL handshake and what follows, through the public `Session` API, as the
/// socket type the first byte picks (an index into `SocketType::ALL`); the input fed at once and in reads of the size
/// the second byte picks must give the same transcript.
pub fn null_handshake(data: &[u8]) {
    let [kind, step, input @ ..] = data else {
        return;
    };
    let kinds = SocketType::ALL;
    let mut config = SessionConfig::new(kinds[usize::from(*kind) % kinds.len()]);
    config.max_msg_size = Some(4096);
    let step = usize::from(*step).max(1);
    let cuts: Vec<usize> = (step..input.len()).step_by(step).collect();
    let whole = transcript(&config, input, &[]);
    let split = transcript(&config, input, &cuts);
    assert_eq!(split, whole, "the verdict depends on the read boundaries");
}

/// Command and metadata parsing; what decodes re-encodes to something that decodes
/// to the same value.
pub fn command(data: &[u8]) {
    if let Ok(cmd) = Command::decode(Bytes::copy_from_slice(data)) {
        let mut out = BytesMut::new();
        cmd.encode(&mut out);
        let mut decoder = FrameDecoder::new(None);
        let frame = decoder
            .decode(&mut out)
            .expect("an encoded command is a valid frame")
            .expect("a whole frame");
        assert!(frame.command);
        assert_eq!(Command::decode(frame.body).expect("re-decodes"), cmd);
    }
    if let Ok(meta) = Metadata::decode(Bytes::copy_from_slice(data)) {
        let mut out = BytesMut::new();
        meta.encode(&mut out);
        assert_eq!(out.len(), meta.encoded_len());
        assert_eq!(Metadata::decode(out.freeze()).expect("re-decodes"), meta);
    }
}

/// Z85 both ways: decoding is exact (what decodes encodes back to the same text), and
/// any input of a multiple of 4 bytes round-trips.
pub fn z85(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(bytes) = z85::decode(text) {
            assert_eq!(z85::encode(&bytes).expect("whole groups"), text);
        }
    }
    let whole = &data[..data.len() / 4 * 4];
    let text = z85::encode(whole).expect("a multiple of 4");
    assert_eq!(z85::decode(&text).expect("own output decodes"), whole);
}

/// A PLAIN handshake through the public `Session` API. The first byte picks the role
/// (even: a ROUTER server, odd: a DEALER client with fixed credentials) and, for a
/// server, the authenticator's verdict; the second the read size. Fed at once and in
/// reads, the transcript must be the same; a server never reaches READY without the
/// verdict being a success.
pub fn plain_handshake(data: &[u8]) {
    let [pick, step, input @ ..] = data else {
        return;
    };
    let server = pick % 2 == 0;
    let mut config = SessionConfig::new(if server {
        SocketType::Router
    } else {
        SocketType::Dealer
    });
    config.max_msg_size = Some(4096);
    config.security = if server {
        Security::PlainServer
    } else {
        Security::PlainClient {
            username: Bytes::from_static(b"admin"),
            password: Bytes::from_static(b"secret"),
        }
    };
    let statuses = [
        AuthStatus::Success,
        AuthStatus::TemporaryError,
        AuthStatus::Failure,
        AuthStatus::InternalError,
    ];
    let status = statuses[usize::from(pick / 2) % statuses.len()];
    let verdict = match status {
        AuthStatus::Success => AuthReply::accept("admin"),
        other => AuthReply::refuse(other, "no"),
    };
    let step = usize::from(*step).max(1);
    let cuts: Vec<usize> = (step..input.len()).step_by(step).collect();
    let whole = transcript_with_verdict(&config, input, &[], &verdict);
    let split = transcript_with_verdict(&config, input, &cuts, &verdict);
    assert_eq!(split, whole, "the verdict depends on the read boundaries");
    let ready = whole.events.iter().any(|e| e.starts_with("Ready("));
    if server && ready {
        assert_eq!(status, AuthStatus::Success, "a refused client got in");
        assert!(
            whole.events.iter().any(|e| e.starts_with("Authenticate(")),
            "a client got in without being authenticated"
        );
    }
}

/// ZAP reply parsing: the input is cut into frames (each a length byte, then that
/// many bytes); a reply that parses re-encodes to frames that parse to the same
/// reply, and nothing else parses.
pub fn zap_reply(data: &[u8]) {
    let mut frames = Vec::new();
    let mut rest = data;
    while let [len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        frames.push(Bytes::copy_from_slice(&tail[..len]));
        rest = &tail[len..];
    }
    let id = frames.get(2).cloned().unwrap_or_default();
    match AuthReply::from_frames(&frames, &id) {
        Ok(reply) => {
            let again = AuthReply::from_frames(&reply.to_frames(&id), &id);
            assert_eq!(again.as_ref(), Ok(&reply));
            assert_eq!(frames.len(), 7);
        }
        Err(ZapError::FrameCount(n)) => assert_ne!(n, 7),
        Err(_) => assert_eq!(frames.len(), 7),
    }
}
