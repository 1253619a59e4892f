//! Bytes on their way to the wire, and how a connection's messages become those bytes.
//!
//! [`Outgoing`] holds encoded ZMTP frames waiting to be written: small frame bodies
//! are copied next to their headers into one contiguous buffer, so a queued 64-byte
//! message costs 66 bytes of buffer and no queue entry of its own, and a writer hands
//! the whole buffer to one `write`. Bodies of [`ZERO_COPY_MIN`] bytes or more are not
//! copied: the buffer records where each one goes and the writer sends it from the
//! caller's [`Bytes`] with vectored I/O ([`Outgoing::segments`]).
//!
//! [`Encoder`] turns messages into frames in an [`Outgoing`]; a [`Session`] says
//! which encoder its connection uses ([`Session::encoder`]) and writes its own
//! commands (greeting, READY, PING, PONG, SUBSCRIBE…) into the same [`Outgoing`]
//! ([`Session::poll_transmit`]), so one buffer carries everything in wire order.
//!
//! ```
//! use bytes::Bytes;
//! use monocoque_zmtp::encoder::{Encoder, Outgoing, ZERO_COPY_MIN};
//!
//! let mut out = Outgoing::new();
//! let big = Bytes::from(vec![7u8; ZERO_COPY_MIN]);
//! Encoder::NULL.encode_message(&mut out, [Bytes::from_static(b"hi"), big]);
//! let mut segments = Vec::new();
//! out.segments(|s| segments.push(s.len()));
//! assert_eq!(segments, [2 + 2 + 9, ZERO_COPY_MIN]); // headers and "hi", then the body
//! assert_eq!(out.len(), 13 + ZERO_COPY_MIN);
//! ```
//!
//! # Encoding early, and mechanisms that encrypt
//!
//! NULL framing is the same for every connection, so a message can be encoded when
//! it is queued, before the connection that will carry it exists (a `connect` peer
//! queues while it is still connecting); the writer then appends those bytes as they
//! are ([`Outgoing::append`], no copy when its buffer is empty). That is why
//! [`Encoder`] is a value apart from the session: [`Encoder::NULL`] is what
//! [`Session::encoder`] returns for NULL.
//!
//! CURVE encrypts every frame with a per-connection nonce that must grow in wire
//! order, so its frames can only be made by the connection's session when they are
//! written. The queue keeps NULL-encoded frames all the same, and the writer hands
//! them to [`Session::transmit_queued`](crate::Session::transmit_queued), which walks
//! them and boxes each one as a MESSAGE (copying large bodies once into the
//! ciphertext, which encryption costs anyway); for NULL it is an append.
//!
//! [`Session`]: crate::Session
//! [`Session::encoder`]: crate::Session::encoder
//! [`Session::poll_transmit`]: crate::Session::poll_transmit
//! [`Session::encode_message`]: crate::Session::encode_message

use std::collections::VecDeque;

use std::borrow::Borrow;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

use crate::frame::{encode_frame, encode_header, header_len};

/// Frame bodies of this size and larger are written from the caller's buffer, not
/// copied. Smaller ones are copied next to their header, which is cheaper than an
/// I/O vector entry, and keeps a slow peer's queue at most this much per frame.
pub const ZERO_COPY_MIN: usize = 1024;

/// Most pieces [`Outgoing::segments`] yields, i.e. I/O vector entries of one write.
pub const MAX_SEGMENTS: usize = 64;

/// How one connection's messages are framed on the wire, writing into an
/// [`Outgoing`]. Hand-out of [`crate::Session::encoder`]; see the
/// [module documentation](self) for why it is a value of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoder {
    // Private, so that mechanisms with other framings can be added.
    _null: (),
}

impl Encoder {
    /// Plain ZMTP framing, as NULL (and PLAIN) send data frames: the same for every
    /// connection, so it may be used before the connection exists.
    pub const NULL: Encoder = Encoder { _null: () };

    /// Appends one data frame; `more` says that another frame of the same message
    /// follows. No allocation beyond `out`'s growth.
    #[inline]
    pub fn encode_frame(self, out: &mut Outgoing, body: &Bytes, more: bool) {
        out.push_frame(body, more);
    }

    /// Appends a whole message, every frame but the last marked MORE (an empty
    /// iterator appends nothing).
    #[inline]
    pub fn encode_message<I>(self, out: &mut Outgoing, frames: I)
    where
        I: IntoIterator,
        I::Item: Borrow<Bytes>,
    {
        let mut frames = frames.into_iter();
        let Some(mut frame) = frames.next() else {
            return;
        };
        for next in frames {
            out.push_frame(frame.borrow(), true);
            frame = next;
        }
        out.push_frame(frame.borrow(), false);
    }
}

/// Encoded frames waiting to be written, in order.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// Encoded bytes not yet written; large bodies are spliced in at their positions.
    buf: BytesMut,
    /// Bytes of `buf` already written (positions below count from the same origin).
    written: usize,
    /// Large bodies and where they go: after the first `pos - written` bytes of `buf`.
    large: VecDeque<(usize, Bytes)>,
    /// Bytes in `large` not yet written.
    large_len: usize,
}

impl Outgoing {
    /// An empty buffer.
    pub fn new() -> Outgoing {
        Outgoing::default()
    }

    /// True when nothing is waiting to be written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty() && self.large.is_empty()
    }

    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.buf.len() + self.large_len
    }

    /// Appends one data frame (see [`Encoder::encode_frame`]).
    #[inline(always)]
    pub(crate) fn push_frame(&mut self, body: &Bytes, more: bool) {
        if body.len() < ZERO_COPY_MIN {
            encode_frame(&mut self.buf, body, more, false);
        } else {
            self.buf.reserve(header_len(body.len()));
            encode_header(&mut self.buf, body.len(), more, false);
            self.large_len += body.len();
            self.large
                .push_back((self.written + self.buf.len(), body.clone()));
        }
    }

    /// Calls `f(more, body)` for each data frame queued, in order (the frames
    /// [`Encoder::encode_message`] appended; an encrypting session re-frames them).
    pub(crate) fn for_each_frame(&self, mut f: impl FnMut(bool, &[u8])) {
        let mut large = self.large.iter();
        let mut at = 0;
        while at < self.buf.len() {
            let flags = self.buf[at];
            let (len, header) = if flags & crate::frame::flags::LONG != 0 {
                let raw: [u8; 8] = self.buf[at + 1..at + 9].try_into().expect("8 bytes");
                (u64::from_be_bytes(raw) as usize, 9)
            } else {
                (usize::from(self.buf[at + 1]), 2)
            };
            at += header;
            let more = flags & crate::frame::flags::MORE != 0;
            if len >= ZERO_COPY_MIN {
                let (_, body) = large.next().expect("large bodies are referenced");
                f(more, body);
            } else {
                f(more, &self.buf[at..at + len]);
                at += len;
            }
        }
    }

    /// The buffer that commands and handshake bytes are encoded into: whatever is
    /// appended goes out after everything already queued.
    pub(crate) fn tail(&mut self) -> &mut BytesMut {
        if self.buf.is_empty() && self.large.is_empty() {
            self.written = 0;
        }
        &mut self.buf
    }

    /// Moves everything queued in `other` to the end of this buffer (without copying
    /// when this one is empty); `other` is left empty, keeping its capacity.
    pub fn append(&mut self, other: &mut Outgoing) {
        if self.is_empty() {
            std::mem::swap(self, other);
            other.clear();
            return;
        }
        let shift = self.written + self.buf.len();
        self.buf.extend_from_slice(&other.buf);
        for (pos, body) in other.large.drain(..) {
            self.large.push_back((pos - other.written + shift, body));
        }
        self.large_len += other.large_len;
        other.clear();
    }

    /// Drops everything queued, keeping the buffer's capacity.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.written = 0;
        self.large.clear();
        self.large_len = 0;
    }

    /// Calls `f` with the next bytes to write, in order, as up to [`MAX_SEGMENTS`]
    /// contiguous pieces (stops early at an empty piece).
    pub fn segments<'a>(&'a self, mut f: impl FnMut(&'a [u8])) {
        let mut from = 0;
        let mut n = 0;
        for (pos, body) in &self.large {
            let upto = pos - self.written;
            if upto > from {
                f(&self.buf[from..upto]);
                n += 1;
            }
            f(&body[..]);
            n += 1;
            from = upto;
            if n + 2 > MAX_SEGMENTS {
                return;
            }
        }
        if self.buf.len() > from {
            f(&self.buf[from..]);
        }
    }

    /// The first contiguous piece to write (for a plain, non-vectored write).
    pub fn first_segment(&self) -> &[u8] {
        match self.large.front() {
            Some((pos, body)) if *pos == self.written => body,
            Some((pos, _)) => &self.buf[..pos - self.written],
            None => &self.buf,
        }
    }

    /// Marks `n` bytes as written.
    pub fn advance(&mut self, mut n: usize) {
        while n > 0 {
            match self.large.front_mut() {
                Some((pos, body)) if *pos == self.written => {
                    let k = n.min(body.len());
                    body.advance(k);
                    self.large_len -= k;
                    n -= k;
                    if body.is_empty() {
                        self.large.pop_front();
                    }
                }
                next => {
                    let upto = next.map_or(self.buf.len(), |(pos, _)| *pos - self.written);
                    debug_assert!(upto > 0, "advanced past the end");
                    if upto == 0 {
                        return;
                    }
                    let k = n.min(upto);
                    self.buf.advance(k);
                    self.written += k;
                    n -= k;
                }
            }
        }
    }
}

/// The bytes to write, in order: a writer may use [`Buf::chunk`] for plain writes or
/// [`Buf::chunks_vectored`] for vectored ones, and tests copy it out with
/// `BufMut::put`.
impl Buf for Outgoing {
    fn remaining(&self) -> usize {
        self.len()
    }

    fn chunk(&self) -> &[u8] {
        self.first_segment()
    }

    fn advance(&mut self, n: usize) {
        Outgoing::advance(self, n);
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        self.segments(|s| {
            if n < dst.len() && !s.is_empty() {
                dst[n] = IoSlice::new(s);
                n += 1;
            }
        });
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    fn drain(out: &mut Outgoing, chunk: usize) -> Vec<u8> {
        let mut wire = Vec::new();
        while !out.is_empty() {
            let mut next = Vec::new();
            out.segments(|s| next.extend_from_slice(s));
            let n = next.len().min(chunk);
            wire.extend_from_slice(&next[..n]);
            out.advance(n);
        }
        wire
    }

    fn encoded(frames: &[(&[u8], bool)]) -> Vec<u8> {
        let mut buf = BytesMut::new();
        for (body, more) in frames {
            encode_frame(&mut buf, body, *more, false);
        }
        buf.to_vec()
    }

    #[test]
    fn small_and_large_frames_come_out_in_order_whatever_the_write_sizes() {
        let big = vec![9u8; ZERO_COPY_MIN + 5];
        let big2 = vec![3u8; 70_000];
        let frames: [(&[u8], bool); 5] = [
            (b"a", true),
            (&big, true),
            (&big2, false),
            (b"", false),
            (&big, false),
        ];
        for chunk in [1, 7, 1000, 1 << 20] {
            let mut out = Outgoing::new();
            for (body, more) in frames {
                out.push_frame(&Bytes::copy_from_slice(body), more);
            }
            out.tail().extend_from_slice(b"cmd");
            let mut expected = encoded(&frames);
            expected.extend_from_slice(b"cmd");
            assert_eq!(out.len(), expected.len());
            assert_eq!(drain(&mut out, chunk), expected, "chunk {chunk}");
            assert_eq!(out.len(), 0);
        }
    }

    #[test]
    fn append_keeps_positions_and_order() {
        let big = Bytes::from(vec![1u8; ZERO_COPY_MIN]);
        let mut a = Outgoing::new();
        a.push_frame(&Bytes::from_static(b"x"), false);
        a.push_frame(&big, false);
        a.advance(2); // part of the first frame went out
        let mut b = Outgoing::new();
        b.push_frame(&Bytes::from_static(b"yy"), false);
        b.push_frame(&big, true);
        b.push_frame(&Bytes::from_static(b"z"), false);
        a.append(&mut b);
        assert!(b.is_empty());
        let mut expected = encoded(&[(b"x", false), (&big, false)])[2..].to_vec();
        expected.extend(encoded(&[(b"yy", false), (&big, true), (b"z", false)]));
        assert_eq!(drain(&mut a, 100), expected);

        // Appending into an empty buffer moves it whole.
        let mut c = Outgoing::new();
        let mut d = Outgoing::new();
        d.push_frame(&big, false);
        c.append(&mut d);
        assert_eq!(drain(&mut c, 1 << 20), encoded(&[(&big, false)]));
    }

    #[test]
    fn segments_are_bounded() {
        let big = Bytes::from(vec![1u8; ZERO_COPY_MIN]);
        let mut out = Outgoing::new();
        for _ in 0..200 {
            out.push_frame(&Bytes::from_static(b"s"), false);
            out.push_frame(&big, false);
        }
        let mut n = 0;
        out.segments(|_| n += 1);
        assert!(n <= MAX_SEGMENTS, "{n}");
        let mut first = BytesMut::from(&encoded(&[(b"s", false)])[..]);
        encode_header(&mut first, ZERO_COPY_MIN, false, false);
        assert_eq!(out.first_segment(), &first[..]);
    }

    #[test]
    fn encode_message_marks_all_but_the_last_frame_and_reads_back_as_a_buf() {
        let big = Bytes::from(vec![5u8; ZERO_COPY_MIN]);
        let mut out = Outgoing::new();
        Encoder::NULL.encode_message(&mut out, [Bytes::from_static(b"a"), big.clone()]);
        Encoder::NULL.encode_message(&mut out, &[Bytes::from_static(b"b")]);
        Encoder::NULL.encode_message(&mut out, std::iter::empty::<Bytes>());
        let expected = encoded(&[(b"a", true), (&big, false), (b"b", false)]);
        let mut slices = [IoSlice::new(&[]); 8];
        assert_eq!(out.chunks_vectored(&mut slices), 3);
        assert_eq!(out.chunks_vectored(&mut slices[..1]), 1);
        assert_eq!(&*slices[0], &expected[..3 + 9]);
        let mut wire = BytesMut::new();
        wire.put(&mut out);
        assert_eq!(&wire[..], &expected[..]);
        assert!(out.is_empty());
    }
}
