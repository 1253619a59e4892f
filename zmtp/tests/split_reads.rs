//! The session's verdict does not depend on how the bytes arrive: the same input fed at
//! once, split in two at every position, or in random small chunks gives the same
//! events, the same bytes to transmit and the same error (the same message in the
//! log and on the monitor, whatever the reads' boundaries were).

mod common;
// The fuzz targets' bodies, for their `transcript` (the null_handshake target checks
// the same property with libFuzzer's inputs).
#[allow(dead_code, unused_imports)]
#[path = "../../fuzz/src/lib.rs"]
mod targets;

use bytes::BytesMut;
use common::{greeting, ready};
use monocoque_zmtp::{frame, SessionConfig, SocketType};
use proptest::prelude::*;
use targets::transcript;

/// Checks one input: at once, then split at every position, then in `chunks`.
fn same_at_every_split(
    config: &SessionConfig,
    input: &[u8],
    chunks: &[usize],
) -> Result<(), TestCaseError> {
    let whole = transcript(config, input, &[]);
    for cut in 0..=input.len() {
        let split = transcript(config, input, &[cut]);
        prop_assert_eq!(&split, &whole, "split at byte {}", cut);
    }
    let mut cuts = Vec::new();
    let mut at = 0;
    for &c in chunks.iter().cycle().take(input.len()) {
        at += c;
        if at >= input.len() {
            break;
        }
        cuts.push(at);
    }
    let chunked = transcript(config, input, &cuts);
    prop_assert_eq!(&chunked, &whole, "chunks ending at {:?}", cuts);
    Ok(())
}

/// A peer's side of a conversation with a PULL: greeting, READY, then data frames and
/// commands.
fn push_stream(frames: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut bytes = greeting(1, b"NULL", false);
    bytes.extend(ready(b"PUSH"));
    for (flags, body) in frames {
        let mut out = BytesMut::new();
        let command = flags & 4 != 0;
        frame::encode_frame(&mut out, body, flags & 1 != 0 && !command, command);
        bytes.extend_from_slice(&out);
    }
    bytes
}

fn config() -> SessionConfig {
    let mut c = SessionConfig::new(SocketType::Pull);
    c.max_msg_size = Some(200);
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A valid conversation with some bytes overwritten (greeting fields, lengths,
    /// flags, metadata): every error shows up the same however it is read.
    #[test]
    fn corrupted_conversations(
        frames in prop::collection::vec((0u8..8, prop::collection::vec(any::<u8>(), 0..60)), 0..6),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        truncate in any::<prop::sample::Index>(),
        chunks in prop::collection::vec(1usize..12, 1..6),
    ) {
        let mut bytes = push_stream(&frames);
        for (at, value) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        bytes.truncate(truncate.index(bytes.len() + 1));
        same_at_every_split(&config(), &bytes, &chunks)?;
    }

    /// Greetings with any version, mechanism and filler.
    #[test]
    fn any_greeting(
        major in any::<u8>(),
        minor in any::<u8>(),
        mechanism in prop::sample::select(vec![&b"NULL"[..], b"PLAIN", b"CURVE", b"XYZ", b""]),
        tail in prop::collection::vec(any::<u8>(), 0..40),
        chunks in prop::collection::vec(1usize..12, 1..6),
    ) {
        let mut bytes = greeting(minor, mechanism, false);
        bytes[10] = major;
        bytes.extend(tail);
        same_at_every_split(&config(), &bytes, &chunks)?;
    }

    /// Arbitrary bytes from the first byte on.
    #[test]
    fn garbage(
        bytes in prop::collection::vec(any::<u8>(), 0..120),
        chunks in prop::collection::vec(1usize..12, 1..6),
    ) {
        same_at_every_split(&config(), &bytes, &chunks)?;
    }
}

/// The case found by hand: version 1.127 was reported as "1.0" when a read ended after
/// byte 10.
#[test]
fn old_version_reported_the_same_after_a_short_read() {
    let mut bytes = greeting(127, b"NULL", false);
    bytes[10] = 1;
    let whole = transcript(&config(), &bytes, &[]);
    assert_eq!(
        whole.error.as_ref().map(|e| e.to_string()).as_deref(),
        Some("unsupported ZMTP version 1.127 (need 3.x)")
    );
    assert_eq!(transcript(&config(), &bytes, &[11]), whole);
}
