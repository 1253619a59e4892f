//! ZMTP frames: flags byte, 1- or 8-byte size, body.

use bytes::{Buf, Bytes, BytesMut};

use crate::ProtocolError;

/// Flag bits of a frame header.
pub mod flags {
    /// More frames of this message follow.
    pub const MORE: u8 = 0x01;
    /// The size field is 8 bytes (big-endian) instead of 1.
    pub const LONG: u8 = 0x02;
    /// The frame is a command, not message data.
    pub const COMMAND: u8 = 0x04;
    /// Bits that must be zero.
    pub const RESERVED: u8 = !(MORE | LONG | COMMAND);
}

/// The bound on command frames when MAXMSGSIZE is smaller or unlimited: 64 KiB.
pub const DEFAULT_MAX_COMMAND_SIZE: u64 = 64 * 1024;

/// Hard cap on any frame, even with unlimited MAXMSGSIZE: 2^47 bytes (128 TiB, the user
/// address space of x86-64). A larger size field can only be garbage.
pub const ABSOLUTE_MAX_FRAME_SIZE: u64 = 1 << 47;

/// One decoded frame. `body` is a zero-copy view into the receive buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// More frames of the same message follow.
    pub more: bool,
    /// This is a command frame.
    pub command: bool,
    /// The frame body.
    pub body: Bytes,
}

/// Splits frames out of a receive buffer.
///
/// Zero-copy: bodies are `BytesMut::split_to(..).freeze()` views of the buffer.
/// The size field is checked against the limit before any body byte is waited for,
/// so an oversized frame is an error as soon as its header is complete.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_size: Option<u64>,
    max_command_size: u64,
    needed: usize,
}

impl FrameDecoder {
    /// `max_size`: MAXMSGSIZE for data frames (None = unlimited). Command frames are
    /// limited separately by `max_command_size` (a fixed sane bound, e.g. 64 KiB... or max_size
    /// if larger) so a peer cannot make us buffer an unbounded command.
    ///
    /// The command bound is `max(64 KiB, max_size + 64)` (64 KiB when unlimited); a
    /// mechanism that wraps messages in commands may raise it with
    /// [`FrameDecoder::set_max_command_size`].
    pub fn new(max_size: Option<u64>) -> FrameDecoder {
        let max_command_size = match max_size {
            Some(m) => DEFAULT_MAX_COMMAND_SIZE.max(m.saturating_add(64)),
            None => DEFAULT_MAX_COMMAND_SIZE,
        };
        FrameDecoder {
            max_size,
            max_command_size,
            needed: 2,
        }
    }

    /// The data-frame limit (MAXMSGSIZE), None when unlimited.
    pub fn max_size(&self) -> Option<u64> {
        self.max_size
    }

    /// The command-frame limit.
    pub fn max_command_size(&self) -> u64 {
        self.max_command_size
    }

    /// Changes the command-frame limit.
    pub fn set_max_command_size(&mut self, limit: u64) {
        self.max_command_size = limit;
    }

    /// After `decode` returned `Ok(None)`: how many more bytes (at least 1) the next frame
    /// needs, as far as its header is known. A hint for sizing reads; for a large frame
    /// this is the rest of its body, so cap it before reserving memory. After a frame was
    /// returned it is 0 until the next call.
    pub fn needed(&self) -> usize {
        self.needed
    }

    /// Takes one complete frame from the front of `buf`, or returns `Ok(None)` leaving
    /// `buf` untouched if more bytes are needed. Errors: MalformedFrame (reserved flag bits,
    /// COMMAND with MORE), MessageTooLarge.
    /// Also returns how many more bytes are needed via `needed()` so the I/O layer can size reads.
    #[inline]
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        let Some(&flag_byte) = buf.first() else {
            self.needed = 2;
            return Ok(None);
        };
        if flag_byte & flags::RESERVED != 0 {
            return Err(ProtocolError::MalformedFrame("reserved flag bits set"));
        }
        let more = flag_byte & flags::MORE != 0;
        let command = flag_byte & flags::COMMAND != 0;
        if more && command {
            return Err(ProtocolError::MalformedFrame(
                "command frame with MORE flag",
            ));
        }
        let long = flag_byte & flags::LONG != 0;
        let header = if long { 9 } else { 2 };
        if buf.len() < header {
            self.needed = header - buf.len();
            return Ok(None);
        }
        let size: u64 = if long {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&buf[1..9]);
            u64::from_be_bytes(raw)
        } else {
            u64::from(buf[1])
        };
        if size >> 63 != 0 {
            return Err(ProtocolError::MalformedFrame(
                "frame size has its top bit set",
            ));
        }
        let limit = if command {
            self.max_command_size
        } else {
            self.max_size.unwrap_or(ABSOLUTE_MAX_FRAME_SIZE)
        }
        .min(ABSOLUTE_MAX_FRAME_SIZE);
        if size > limit {
            return Err(ProtocolError::MessageTooLarge { size, limit });
        }
        // Cannot be addressed on this platform (only reachable on 32-bit targets).
        let body_len = usize::try_from(size).map_err(|_| ProtocolError::MessageTooLarge {
            size,
            limit: usize::MAX as u64,
        })?;
        let total = header
            .checked_add(body_len)
            .ok_or(ProtocolError::MessageTooLarge {
                size,
                limit: (usize::MAX - header) as u64,
            })?;
        if buf.len() < total {
            self.needed = total - buf.len();
            return Ok(None);
        }
        buf.advance(header);
        let body = buf.split_to(body_len).freeze();
        self.needed = 0;
        Ok(Some(Frame {
            more,
            command,
            body,
        }))
    }
}

/// Bytes of header for a body of `len` bytes (2 or 9).
#[inline]
pub fn header_len(len: usize) -> usize {
    if len <= 255 {
        2
    } else {
        9
    }
}

/// Appends a frame header.
#[inline]
pub fn encode_header(out: &mut BytesMut, len: usize, more: bool, command: bool) {
    debug_assert!(!(more && command), "command frames cannot carry MORE");
    let mut f = 0u8;
    if more {
        f |= flags::MORE;
    }
    if command {
        f |= flags::COMMAND;
    }
    if len <= 255 {
        out.extend_from_slice(&[f, len as u8]);
    } else {
        let mut header = [f | flags::LONG, 0, 0, 0, 0, 0, 0, 0, 0];
        header[1..].copy_from_slice(&(len as u64).to_be_bytes());
        out.extend_from_slice(&header);
    }
}

/// Appends a whole frame (header + body copy).
#[inline]
pub fn encode_frame(out: &mut BytesMut, body: &[u8], more: bool, command: bool) {
    out.reserve(header_len(body.len()) + body.len());
    encode_header(out, body.len(), more, command);
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_headers() {
        let mut out = BytesMut::new();
        encode_frame(&mut out, b"abc", true, false);
        assert_eq!(&out[..], b"\x01\x03abc");
        out.clear();
        let body = vec![7u8; 256];
        encode_frame(&mut out, &body, false, true);
        assert_eq!(&out[..9], &[0x06, 0, 0, 0, 0, 0, 0, 1, 0]);
        assert_eq!(out.len(), 9 + 256);
        assert_eq!(header_len(255), 2);
        assert_eq!(header_len(256), 9);
    }

    #[test]
    fn incomplete_leaves_buffer_untouched() {
        let mut d = FrameDecoder::new(None);
        let mut buf = BytesMut::from(&b"\x00\x05ab"[..]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert_eq!(&buf[..], b"\x00\x05ab");
        assert_eq!(d.needed(), 3);
        let mut buf = BytesMut::from(&b"\x02\x00\x00"[..]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert_eq!(d.needed(), 6);
        assert_eq!(buf.len(), 3);
    }

    #[test]
    fn rejects_bad_flags_and_sizes() {
        let mut d = FrameDecoder::new(Some(10));
        for f in [0x08u8, 0x10, 0x80, 0xFF] {
            let mut buf = BytesMut::from(&[f][..]);
            assert!(matches!(
                d.decode(&mut buf),
                Err(ProtocolError::MalformedFrame(_))
            ));
        }
        let mut buf = BytesMut::from(&[0x05u8, 0][..]);
        assert!(matches!(
            d.decode(&mut buf),
            Err(ProtocolError::MalformedFrame(_))
        ));
        let mut buf = BytesMut::from(&[0x00u8, 11][..]);
        assert_eq!(
            d.decode(&mut buf),
            Err(ProtocolError::MessageTooLarge {
                size: 11,
                limit: 10
            })
        );
        let mut buf = BytesMut::from(&[0x02u8, 0x80, 0, 0, 0, 0, 0, 0, 0][..]);
        assert!(matches!(
            d.decode(&mut buf),
            Err(ProtocolError::MalformedFrame(_))
        ));
        let mut d = FrameDecoder::new(None);
        let mut buf = BytesMut::from(&[0x06u8, 0, 0, 0, 0, 0, 1, 0, 1][..]);
        assert_eq!(
            d.decode(&mut buf),
            Err(ProtocolError::MessageTooLarge {
                size: 65537,
                limit: DEFAULT_MAX_COMMAND_SIZE
            })
        );
    }
}
