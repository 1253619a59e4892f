//! The session's output side: messages encoded (and, under CURVE, boxed) the way
//! this connection sends them, and the commands it sends of its own accord.

use std::borrow::Borrow;

use bytes::{Bytes, BytesMut};

use super::Session;
use crate::command::MAX_PING_CONTEXT;
use crate::curve::{Boxes, INNER_COMMAND, INNER_MORE};
use crate::encoder::{Encoder, Outgoing};
use crate::{Command, Greeting};

impl Session {
    /// How this connection frames messages. NULL framing does not depend on the
    /// connection, so messages may be encoded with it before the session exists (a
    /// peer's queue does that, see [`crate::encoder`]).
    #[inline]
    pub fn encoder(&self) -> Encoder {
        Encoder::NULL
    }

    /// Appends a message for the peer (every frame but the last marked MORE), encoded
    /// as this connection frames it; large bodies are referenced, not copied. It takes
    /// `&mut self` because an encrypting mechanism will count a nonce per frame.
    #[inline]
    pub fn encode_message<I>(&mut self, out: &mut Outgoing, frames: I)
    where
        I: IntoIterator,
        I::Item: Borrow<Bytes>,
    {
        match &mut self.curve {
            None => self.encoder().encode_message(out, frames),
            Some(boxes) => {
                let mut frames = frames.into_iter().peekable();
                while let Some(frame) = frames.next() {
                    let more = if frames.peek().is_some() {
                        INNER_MORE
                    } else {
                        0
                    };
                    boxes.sealer.seal(out.tail(), more, frame.borrow());
                }
            }
        }
    }

    /// True when this connection encrypts every frame (CURVE, once ready): messages
    /// encoded beforehand with [`Encoder::NULL`] must then pass through
    /// [`Session::transmit_queued`].
    pub fn encrypts(&self) -> bool {
        self.curve.is_some()
    }

    /// Moves messages queued with [`Encoder::NULL`] (a peer's queue) to `out` as this
    /// connection sends them: as they are (without copying when `out` is empty), or
    /// each frame boxed in a MESSAGE under CURVE. `queued` is left empty.
    pub fn transmit_queued(&mut self, queued: &mut Outgoing, out: &mut Outgoing) {
        match &mut self.curve {
            None => out.append(queued),
            Some(boxes) => {
                queued.for_each_frame(|more, body| {
                    let flags = if more { INNER_MORE } else { 0 };
                    boxes.sealer.seal(out.tail(), flags, body)
                });
                queued.clear();
            }
        }
    }

    /// Appends a subscription (subscribe=true) or cancellation for the peer, in 3.1 command
    /// form, or as a `\x01topic`/`\x00topic` data frame when the peer is ZMTP 3.0.
    ///
    /// Before the peer's greeting has arrived its version is unknown and the 3.1 command
    /// form is used; call this only after [`Event::Ready`](crate::Event::Ready) to be sure of the encoding.
    pub fn encode_subscription(&mut self, out: &mut Outgoing, topic: &[u8], subscribe: bool) {
        let out = out.tail();
        let zmtp30 = self.peer_greeting.as_ref().is_some_and(Greeting::is_zmtp30);
        if let Some(boxes) = &mut self.curve {
            // Inside CURVE: a 3.0 peer gets the data-frame form, others the command.
            let mut body = Vec::with_capacity(10 + topic.len());
            if zmtp30 {
                body.push(u8::from(subscribe));
                body.extend_from_slice(topic);
                boxes.sealer.seal(out, 0, &body);
            } else {
                let name: &[u8] = if subscribe { b"SUBSCRIBE" } else { b"CANCEL" };
                body.push(name.len() as u8);
                body.extend_from_slice(name);
                body.extend_from_slice(topic);
                boxes.sealer.seal(out, INNER_COMMAND, &body);
            }
            return;
        }
        if zmtp30 {
            let len = 1 + topic.len();
            out.reserve(crate::frame::header_len(len) + len);
            crate::frame::encode_header(out, len, false, false);
            out.extend_from_slice(&[u8::from(subscribe)]);
            out.extend_from_slice(topic);
        } else {
            let name: &[u8] = if subscribe { b"SUBSCRIBE" } else { b"CANCEL" };
            let len = 1 + name.len() + topic.len();
            out.reserve(crate::frame::header_len(len) + len);
            crate::frame::encode_header(out, len, false, true);
            out.extend_from_slice(&[name.len() as u8]);
            out.extend_from_slice(name);
            out.extend_from_slice(topic);
        }
    }

    /// Appends a PING with the given TTL and context (context cut to 16 bytes).
    ///
    /// [`Session::handle_timeout`] queues our heartbeat PINGs itself; this is for
    /// callers that speak for themselves (test peers, tools).
    pub fn encode_ping(&mut self, out: &mut Outgoing, ttl_deciseconds: u16, context: &[u8]) {
        let context = &context[..context.len().min(MAX_PING_CONTEXT)];
        let ping = Command::Ping {
            ttl_deciseconds,
            context: Bytes::copy_from_slice(context),
        };
        encode_command(&mut self.curve, &ping, out.tail());
    }

    /// Queues an ERROR command with `reason` (≤255 bytes) for poll_transmit.
    ///
    /// A longer reason is cut to 255 bytes.
    pub fn queue_error(&mut self, reason: &str) {
        Command::Error(Bytes::copy_from_slice(reason.as_bytes())).encode(&mut self.tx);
    }
}

/// Appends `command` for the peer: in clear, or boxed in a MESSAGE under CURVE.
pub(super) fn encode_command(curve: &mut Option<Boxes>, command: &Command, out: &mut BytesMut) {
    match curve {
        None => command.encode(out),
        Some(boxes) => {
            let mut plain = BytesMut::with_capacity(command.body_len() + 9);
            command.encode(&mut plain);
            let body = &plain[plain.len() - command.body_len()..];
            boxes.sealer.seal(out, INNER_COMMAND, body);
        }
    }
}
