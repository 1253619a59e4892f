//! Boxes as CurveZMQ puts them on the wire, and MESSAGE, the box every frame travels
//! in once the handshake is done.

use bytes::{BufMut, Bytes, BytesMut};
use crypto_box::aead::consts::U24;
use crypto_box::aead::generic_array::GenericArray;
use crypto_box::aead::AeadInPlace;
use crypto_box::Nonce;

use super::secretbox::{MessageKey, SessionKey};
use crate::frame::{encode_header, header_len};
use crate::ProtocolError;

/// Bytes a box adds to what it holds (Poly1305's tag).
pub(crate) const TAG: usize = 16;

fn nonce(prefix: &[u8], tail: &[u8]) -> Nonce {
    debug_assert_eq!(prefix.len() + tail.len(), 24);
    let mut n = Nonce::default();
    n[..prefix.len()].copy_from_slice(prefix);
    n[prefix.len()..].copy_from_slice(tail);
    n
}

/// `plaintext` boxed under `key` (a `crypto_box`, or the cookie's secretbox) with the
/// nonce `prefix ‖ tail`: tag, then ciphertext.
pub(crate) fn seal<K: AeadInPlace<NonceSize = U24>>(
    key: &K,
    prefix: &[u8],
    tail: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let mut out = vec![0u8; TAG + plaintext.len()];
    out[TAG..].copy_from_slice(plaintext);
    let tag = key
        .encrypt_in_place_detached(&nonce(prefix, tail), b"", &mut out[TAG..])
        .expect("a box takes any length");
    out[..TAG].copy_from_slice(&tag);
    out
}

/// Opens a box made by [`seal`]; None when it does not open (wrong key, nonce, or
/// altered bytes).
pub(crate) fn open<K: AeadInPlace<NonceSize = U24>>(
    key: &K,
    prefix: &[u8],
    tail: &[u8],
    boxed: &[u8],
) -> Option<Vec<u8>> {
    if boxed.len() < TAG {
        return None;
    }
    let mut plain = boxed[TAG..].to_vec();
    let tag = GenericArray::from_slice(&boxed[..TAG]);
    key.decrypt_in_place_detached(&nonce(prefix, tail), b"", &mut plain, tag)
        .ok()?;
    Some(plain)
}

/// The name that starts a MESSAGE command's body.
const MESSAGE: &[u8] = b"\x07MESSAGE";
/// Flags inside a MESSAGE box.
pub(crate) const INNER_MORE: u8 = 0x01;
pub(crate) const INNER_COMMAND: u8 = 0x02;

/// Boxes our frames into MESSAGE commands, with short nonces counting up.
pub(crate) struct MessageSealer {
    key: MessageKey,
    next: u64,
}

impl MessageSealer {
    /// `prefix`: `CurveZMQMESSAGEC` from a client, `CurveZMQMESSAGES` from a server;
    /// `next`: the first short nonce to use.
    pub fn new(key: &SessionKey, prefix: &[u8; 16], next: u64) -> MessageSealer {
        MessageSealer {
            key: key.for_prefix(prefix),
            next,
        }
    }

    /// Appends one frame (`flags`: [`INNER_MORE`], [`INNER_COMMAND`]) as a MESSAGE,
    /// boxed in place in `out`: no allocation beyond `out`'s growth.
    pub fn seal(&mut self, out: &mut BytesMut, flags: u8, payload: &[u8]) {
        let short = self.next.to_be_bytes();
        self.next += 1;
        let body_len = MESSAGE.len() + 8 + TAG + 1 + payload.len();
        out.reserve(header_len(body_len) + body_len);
        // libzmq sends MESSAGE as a data frame (flags 0x00), and takes either.
        encode_header(out, body_len, false, false);
        out.extend_from_slice(MESSAGE);
        out.extend_from_slice(&short);
        let tag_at = out.len();
        out.put_bytes(0, TAG);
        let plain_at = out.len();
        out.put_u8(flags);
        out.extend_from_slice(payload);
        let tag = self.key.seal(&short, &mut out[plain_at..]);
        out[tag_at..plain_at].copy_from_slice(&tag);
    }
}

/// Opened messages are written into blocks of this size, one after the other, so that
/// a stream of small messages costs one allocation per block, not one per message.
const PLAIN_BLOCK: usize = 64 * 1024;

/// Opens the peer's MESSAGE commands, requiring its short nonces to increase.
pub(crate) struct MessageOpener {
    key: MessageKey,
    last: u64,
    /// Room for the next opened messages (see [`PLAIN_BLOCK`]).
    plain: BytesMut,
}

impl MessageOpener {
    /// `last`: the peer's last short nonce so far (its handshake used some).
    pub fn new(key: &SessionKey, prefix: &[u8; 16], last: u64) -> MessageOpener {
        MessageOpener {
            key: key.for_prefix(prefix),
            last,
            plain: BytesMut::new(),
        }
    }

    /// The inner flags and payload of a MESSAGE command's `body`.
    pub fn open(&mut self, body: &[u8]) -> Result<(u8, Bytes), ProtocolError> {
        if body.len() < MESSAGE.len() + 8 + TAG + 1 || !body.starts_with(MESSAGE) {
            return Err(ProtocolError::MalformedCommand {
                command: "MESSAGE",
                reason: "not a MESSAGE, or too short",
            });
        }
        let short: [u8; 8] = body[8..16].try_into().expect("8 bytes");
        let n = u64::from_be_bytes(short);
        if n <= self.last {
            return Err(ProtocolError::InvalidSequence);
        }
        let boxed = &body[16 + TAG..];
        if self.plain.capacity() - self.plain.len() < boxed.len() {
            // A fresh block (earlier messages keep the old one alive as long as they
            // are held; it is freed with the last of them).
            self.plain = BytesMut::with_capacity(PLAIN_BLOCK.max(boxed.len()));
        }
        self.plain.extend_from_slice(boxed);
        let mut plain = self.plain.split();
        self.key
            .open(&short, &mut plain, &body[16..16 + TAG])
            .map_err(|_| ProtocolError::Cryptographic("MESSAGE box does not open"))?;
        self.last = n;
        let flags = plain[0];
        Ok((flags, plain.freeze().slice(1..)))
    }
}
