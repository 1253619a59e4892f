//! Multipart messages: a small vector of zero-copy [`Bytes`] frames.

use bytes::Bytes;
use smallvec::SmallVec;

/// A multipart message. Frames are [`Bytes`], so cloning a message (for PUB fan-out,
/// say) never copies a payload; up to three frames are stored inline (a message is
/// then 104 bytes, which the compiler moves with inline vector copies instead of a
/// `memmove` call: with four inline frames, 136 bytes, moving messages between queues
/// took about a third of the CPU at 64 B and PUSH→PULL ran 35% slower). Messages of
/// four or more frames keep their frame list on the heap.
///
/// ```
/// # use monocoque_runtime as monocoque; // users name these through `monocoque`
/// use monocoque::Message;
/// let msg = Message::from(vec!["topic", "payload"]);
/// assert_eq!(msg.len(), 2);
/// assert_eq!(&msg[1][..], b"payload");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    frames: SmallVec<[Bytes; 3]>,
}

impl Message {
    /// An empty message (no frames).
    #[inline]
    pub fn new() -> Message {
        Message::default()
    }

    /// A single-frame message.
    #[inline]
    pub fn single(frame: impl IntoFrame) -> Message {
        let mut msg = Message::new();
        msg.push(frame);
        msg
    }

    /// Appends a frame.
    #[inline]
    pub fn push(&mut self, frame: impl IntoFrame) {
        self.frames.push(frame.into_frame());
    }

    /// Inserts a frame at the front (an envelope or routing id).
    pub fn push_front(&mut self, frame: impl IntoFrame) {
        self.frames.insert(0, frame.into_frame());
    }

    /// Removes and returns the first frame.
    pub fn pop_front(&mut self) -> Option<Bytes> {
        if self.frames.is_empty() {
            None
        } else {
            Some(self.frames.remove(0))
        }
    }

    /// Removes the first `n` frames.
    pub fn drain_front(&mut self, n: usize) {
        self.frames.drain(..n.min(self.frames.len()));
    }

    /// Number of frames.
    #[inline]
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when the message has no frames.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Total payload bytes over all frames.
    #[inline]
    pub fn byte_len(&self) -> usize {
        self.frames.iter().map(Bytes::len).sum()
    }

    /// The frames in order.
    #[inline]
    pub fn frames(&self) -> &[Bytes] {
        &self.frames
    }

    /// Iterates over the frames.
    #[inline]
    pub fn iter(&self) -> std::slice::Iter<'_, Bytes> {
        self.frames.iter()
    }

    /// Removes all frames, keeping the inline storage.
    pub fn clear(&mut self) {
        self.frames.clear();
    }

    /// Consumes the message into its frames.
    pub fn into_frames(self) -> SmallVec<[Bytes; 3]> {
        self.frames
    }
}

impl std::ops::Index<usize> for Message {
    type Output = Bytes;
    fn index(&self, index: usize) -> &Bytes {
        &self.frames[index]
    }
}

impl<'a> IntoIterator for &'a Message {
    type Item = &'a Bytes;
    type IntoIter = std::slice::Iter<'a, Bytes>;
    fn into_iter(self) -> Self::IntoIter {
        self.frames.iter()
    }
}

impl IntoIterator for Message {
    type Item = Bytes;
    type IntoIter = smallvec::IntoIter<[Bytes; 3]>;
    fn into_iter(self) -> Self::IntoIter {
        self.frames.into_iter()
    }
}

impl<F: IntoFrame> FromIterator<F> for Message {
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Message {
        Message {
            frames: iter.into_iter().map(IntoFrame::into_frame).collect(),
        }
    }
}

/// Anything that can be one frame of a message.
///
/// Owned buffers become frames without copying: [`Bytes`] (and `&Bytes`, a reference
/// count), `Vec<u8>`, `String`, `Box<[u8]>`, [`BytesMut`](bytes::BytesMut). Borrowed
/// data is copied into a new buffer, one allocation and one `memcpy` a frame (tens of
/// nanoseconds for small frames): `&[u8]`, `&str`, `&[u8; N]` (`b"..."` literals),
/// `&Vec<u8>`, `&String`, and byte arrays. To send a literal without the copy, use
/// [`Bytes::from_static`].
///
/// ```
/// # mod monocoque { // users name these through `monocoque`
/// #     pub use bytes::Bytes;
/// #     pub use monocoque_runtime::Message;
/// # }
/// use monocoque::Message;
///
/// fn reply(topic: &str, body: &[u8]) -> Message {
///     // Borrowed frames of different types in one message (both copied).
///     Message::from((topic, body))
/// }
/// let id = monocoque::Bytes::from_static(b"\x00\x01");
/// let msg = Message::from((&id, "", String::from("payload"), b"raw"));
/// assert_eq!(msg.len(), 4);
/// assert_eq!(reply("t", b"x").len(), 2);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a frame of a message",
    label = "not a frame",
    note = "a frame is Bytes, Vec<u8>, String, Box<[u8]>, BytesMut or &Bytes (moved or shared), or &[u8], &str, b\"..\", &Vec<u8>, &String, [u8; N] (copied)",
    note = "a multipart message is a Vec, array, slice, &Vec or tuple (up to six) of frames"
)]
pub trait IntoFrame {
    /// The frame.
    fn into_frame(self) -> Bytes;
}

/// Frames moved in without a copy.
macro_rules! owned_frames {
    ($($t:ty),*) => {$(
        impl IntoFrame for $t {
            #[inline]
            fn into_frame(self) -> Bytes {
                Bytes::from(self)
            }
        }
    )*};
}

owned_frames!(Bytes, Vec<u8>, String, Box<[u8]>);

impl IntoFrame for bytes::BytesMut {
    #[inline]
    fn into_frame(self) -> Bytes {
        self.freeze()
    }
}

impl IntoFrame for &Bytes {
    #[inline]
    fn into_frame(self) -> Bytes {
        self.clone()
    }
}

/// Borrowed frames, copied.
macro_rules! copied_frames {
    ($($t:ty),*) => {$(
        impl IntoFrame for $t {
            #[inline]
            fn into_frame(self) -> Bytes {
                Bytes::copy_from_slice(self.as_ref())
            }
        }
    )*};
}

copied_frames!(&[u8], &str, &Vec<u8>, &String);

impl<const N: usize> IntoFrame for &[u8; N] {
    #[inline]
    fn into_frame(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl<const N: usize> IntoFrame for [u8; N] {
    #[inline]
    fn into_frame(self) -> Bytes {
        Bytes::copy_from_slice(&self)
    }
}

/// A single-frame message from anything that can be a frame.
impl<F: IntoFrame> From<F> for Message {
    #[inline]
    fn from(frame: F) -> Message {
        Message::single(frame)
    }
}

/// Multipart messages from vectors of frames: `vec!["a", "b"]`, `vec![vec![1u8], vec![2]]`.
impl<F: IntoFrame> From<Vec<F>> for Message {
    fn from(frames: Vec<F>) -> Message {
        frames.into_iter().collect()
    }
}

/// Multipart messages from arrays of frames: `["topic", "payload"]`.
impl<F: IntoFrame, const N: usize> From<[F; N]> for Message {
    fn from(frames: [F; N]) -> Message {
        frames.into_iter().collect()
    }
}

/// Multipart messages from slices of frames (each frame cloned: a copy of borrowed
/// data, a reference count for `Bytes`).
impl<F: IntoFrame + Clone> From<&[F]> for Message {
    fn from(frames: &[F]) -> Message {
        frames.iter().cloned().collect()
    }
}

/// Multipart messages from borrowed vectors of frames (each frame cloned).
impl<F: IntoFrame + Clone> From<&Vec<F>> for Message {
    fn from(frames: &Vec<F>) -> Message {
        frames.iter().cloned().collect()
    }
}

/// Multipart messages from tuples of frames of different types:
/// `(routing_id, "", body)`.
macro_rules! tuple_messages {
    ($(($($f:ident),+)),*) => {$(
        impl<$($f: IntoFrame),+> From<($($f,)+)> for Message {
            #[allow(non_snake_case)]
            fn from(($($f,)+): ($($f,)+)) -> Message {
                let mut msg = Message::new();
                $(msg.push($f);)+
                msg
            }
        }
    )*};
}

tuple_messages!(
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E),
    (A, B, C, D, E, G)
);

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(msg: &Message) -> Vec<&[u8]> {
        msg.iter().map(|f| &f[..]).collect()
    }

    #[test]
    fn borrowed_data_of_any_lifetime_makes_frames() {
        let owned = String::from("borrowed");
        let topic: &str = &owned;
        let body: &[u8] = owned.as_bytes();
        let msg = Message::from((topic, body, &owned, b"lit"));
        assert_eq!(
            frames(&msg),
            [&b"borrowed"[..], b"borrowed", b"borrowed", b"lit"]
        );
        // Copied: the message outlives what it was made from.
        drop(owned);
        assert_eq!(msg.byte_len(), 27);
    }

    #[test]
    fn owned_buffers_move_in_without_a_copy() {
        let v = vec![1u8, 2, 3];
        let at = v.as_ptr();
        let msg = Message::from(v);
        assert_eq!(msg[0].as_ptr(), at);
        let b = Bytes::from_static(b"static");
        let msg = Message::from((&b, b.clone()));
        assert_eq!(msg[0].as_ptr(), b.as_ptr());
        assert_eq!(msg[1].as_ptr(), b.as_ptr());
    }

    #[test]
    fn vectors_arrays_slices_and_tuples_are_multipart() {
        assert_eq!(Message::from(vec!["a", "b"]).len(), 2);
        assert_eq!(Message::from(vec![vec![1u8], vec![2]]).len(), 2);
        assert_eq!(Message::from(["a", "b", "c"]).len(), 3);
        let parts = [Bytes::from("x"), Bytes::from("y")];
        assert_eq!(Message::from(&parts[..]).len(), 2);
        let strings = vec![String::from("a"), String::from("b")];
        assert_eq!(Message::from(&strings).len(), 2);
        // A borrowed byte vector is still one frame.
        assert_eq!(Message::from(&vec![1u8, 2]).len(), 1);
        let six = Message::from(("1", b"2", String::from("3"), vec![4u8], [5u8], &[6u8][..]));
        assert_eq!(frames(&six), [b"1", b"2", b"3", &[4u8][..], &[5], &[6]]);
        // A single byte vector is one frame, not one frame a byte.
        assert_eq!(Message::from(vec![1u8, 2, 3]).len(), 1);
        assert_eq!(Message::from(b"abc").len(), 1);
    }
}
