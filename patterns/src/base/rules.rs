//! The seam between the plumbing every socket shares and what makes each socket type
//! what it is: a socket type brings its state as a [`Rules`] value, which its
//! [`SocketBase`] calls on every connection event. The types' rules live in the files
//! named after their patterns (`pair.rs`, `pipeline.rs`, `pubsub/`, `reqrep/`); the
//! plain types (DEALER, PUSH, PULL) share [`Plain`].

use std::rc::Rc;

use bytes::Bytes;
use monocoque_runtime::{Message, Peer, PeerId};

use super::SocketBase;

/// One socket type's state and its rules for connection events. The defaults are
/// those of a type that queues what it receives as it is.
pub(crate) trait Rules {
    /// Outgoing messages queue for a connect peer before it is connected (libzmq
    /// creates the pipe at connect time), and the peer stays in the send rotation
    /// while it reconnects.
    fn queues_before_connect(&self) -> bool {
        false
    }

    /// Attached peers join the socket's send rotation (`SocketBase::out`).
    fn sends_to_attached(&self) -> bool {
        false
    }

    /// CONNECT_ROUTING_ID: `peer`, about to connect, is to be known locally by
    /// routing id `id` (ROUTER only).
    fn name_peer(&self, _base: &SocketBase, _peer: &Rc<Peer>, _id: Bytes) -> crate::Result<()> {
        Err(crate::Error::InvalidArgument(
            "only a ROUTER names the peers it connects to",
        ))
    }

    /// The handshake with `peer` completed; an error refuses it.
    fn on_attach(&self, _base: &SocketBase, _peer: &Rc<Peer>) -> Result<(), String> {
        Ok(())
    }

    /// A complete message from `peer`.
    fn on_message(&self, base: &SocketBase, peer: &Rc<Peer>, msg: Message) {
        base.enqueue(peer, msg);
    }

    /// Several single-frame messages from `peer`, as their bodies (see
    /// `Handler::on_single_frames`); leaves `bodies` empty. By default each goes
    /// through [`Rules::on_message`]; types that queue what they receive as it is take
    /// the batch at once.
    fn on_single_frames(&self, base: &SocketBase, peer: &Rc<Peer>, bodies: &mut Vec<Bytes>) {
        for body in bodies.drain(..) {
            self.on_message(base, peer, Message::single(body));
        }
    }

    /// A SUBSCRIBE or CANCEL command from `peer`.
    fn on_subscription(&self, _base: &SocketBase, _peer: &Rc<Peer>, _topic: Bytes, _on: bool) {}

    /// A message whose send was cancelled was queued for peer `peer` after all (see
    /// `SocketBase::keep_cancelled`): a REQ now awaits that peer's reply.
    fn late_sent(&self, _peer: PeerId) {}

    /// The connection to `peer` ended (after its attach succeeded).
    fn on_detach(&self, _base: &SocketBase, _peer: &Rc<Peer>) {}

    /// `peer` is gone for good (its connection ended and it will not reconnect, or
    /// its endpoint was disconnected).
    fn on_peer_gone(&self, _base: &SocketBase, _peer: &Rc<Peer>) {}
}

/// The rules of a type with no envelope or routing of its own: it load-balances what
/// it sends and fair-queues what it receives, as received.
pub(crate) struct Plain {
    /// Sends (and so queues for connect peers before they connect).
    pub sends: bool,
}

impl Rules for Plain {
    fn queues_before_connect(&self) -> bool {
        self.sends
    }

    fn sends_to_attached(&self) -> bool {
        self.sends
    }

    fn on_single_frames(&self, base: &SocketBase, peer: &Rc<Peer>, bodies: &mut Vec<Bytes>) {
        base.enqueue_bodies(peer, bodies);
    }
}
