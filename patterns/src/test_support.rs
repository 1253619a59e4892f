//! Helpers for the crate's unit tests.

use std::rc::Rc;

use monocoque_runtime::{Message, Notify, Peer, PeerId};

/// A detached peer with an unbounded queue.
pub fn peer(id: PeerId) -> Rc<Peer> {
    Rc::new(Peer::new(id, String::new(), 0, Rc::new(Notify::new())))
}

/// A one-frame message holding `n`.
pub fn msg(n: u8) -> Message {
    Message::single(vec![n])
}
