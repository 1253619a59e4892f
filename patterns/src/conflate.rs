//! CONFLATE: which socket types honour it, and the receive side's queue of the newest
//! message from each conflating peer.
//!
//! libzmq 4.3 (`get_effective_conflate_option` in `src/options.hpp`) honours CONFLATE
//! for DEALER, PULL, PUSH, PUB and SUB only. Where it does, each connection's pipe pair
//! is made of two conflating pipes (`socket_base.cpp` `connect_internal`,
//! `session_base.cpp` `engine_ready`: `conflates[2] = {conflate, conflate}`, HWMs −1),
//! so both directions keep one message per peer. Monocoque does the same: a conflating
//! peer's outbound queue holds one message ([`Peer::set_conflate`]), and what it
//! receives waits in [`Latest`], one message per peer, instead of the socket's ordinary
//! receive queue. The default path pays one flag test per message (or batch) received.
//!
//! Where Monocoque differs, it is where libzmq's conflating pipe (`ypipe_conflate_t`,
//! a double buffer of one `msg_t`) loses data by construction: it keeps one *frame*,
//! so of a multipart message only the last frame survives (libzmq's docs: multipart
//! is not supported with CONFLATE); Monocoque keeps the whole message. And the
//! delimiter that ends a pipe replaces the message waiting in it, so a peer's newest
//! message is lost if it disconnects before the message is read; Monocoque still
//! delivers it, as both libraries do for pipes that do not conflate. Subscriptions are
//! commands here, not pipe messages, so they are never conflated (in libzmq a PUB's
//! or SUB's conflating pipe carries them too). SUB filters before it conflates
//! (libzmq filters when the application reads, after the pipe), so the message kept
//! is the newest that matches.

use std::collections::hash_map::Entry;
use std::collections::VecDeque;
use std::rc::Rc;

use ahash::AHashMap;
use monocoque_runtime::{Message, Peer, PeerId, Properties};
use monocoque_zmtp::SocketType;

/// Whether a socket of type `kind` conflates with CONFLATE set (libzmq 4.3's rule).
pub(crate) fn honoured_by(kind: SocketType) -> bool {
    matches!(
        kind,
        SocketType::Dealer
            | SocketType::Pull
            | SocketType::Push
            | SocketType::Pub
            | SocketType::Sub
    )
}

/// The properties of the connection a message from `peer` came from: `pinned` if
/// the peer has connected again since, else the peer's own.
pub(crate) fn sent_with(pinned: Option<Properties>, peer: &Peer) -> Properties {
    pinned
        .or_else(|| peer.properties())
        .expect("only a peer that completed a handshake sends messages")
}

/// The newest message received from each conflating peer that has one waiting, in
/// the order the peers' slots filled (a newer message takes its predecessor's place).
/// Not counted against RCVHWM: a conflating peer is never paused.
#[derive(Default)]
pub(crate) struct Latest {
    /// Peers with a message waiting, oldest slot first.
    order: VecDeque<PeerId>,
    slots: AHashMap<PeerId, Slot>,
    replaced: u64,
}

/// The message waiting from one peer.
struct Slot {
    peer: Rc<Peer>,
    msg: Message,
    /// The properties of the connection it came from, once the peer has connected
    /// again (see `Inbound::pin`).
    pinned: Option<Properties>,
}

impl Latest {
    /// Keeps `msg` as the message waiting from `peer`, dropping the one it replaces.
    pub fn put(&mut self, peer: &Rc<Peer>, msg: Message) {
        match self.slots.entry(peer.id()) {
            Entry::Occupied(mut slot) => {
                let slot = slot.get_mut();
                slot.msg = msg;
                slot.pinned = None;
                self.replaced += 1;
            }
            Entry::Vacant(slot) => {
                slot.insert(Slot {
                    peer: Rc::clone(peer),
                    msg,
                    pinned: None,
                });
                self.order.push_back(peer.id());
            }
        }
    }

    /// `peer` has connected again: the message waiting from its previous connection
    /// keeps that connection's `properties`.
    pub fn pin(&mut self, peer: &Rc<Peer>, properties: &Properties) {
        if let Some(slot) = self.slots.get_mut(&peer.id()) {
            slot.pinned.get_or_insert_with(|| properties.clone());
        }
    }

    /// Messages that a newer one from the same peer replaced before `recv` took them.
    pub fn replaced(&self) -> u64 {
        self.replaced
    }

    /// Takes the message of the oldest slot.
    pub fn pop(&mut self) -> Option<(PeerId, Message)> {
        self.pop_slot().map(|(id, slot)| (id, slot.msg))
    }

    /// [`Latest::pop`], with the properties of the connection the message came from.
    pub fn pop_with_properties(&mut self) -> Option<(PeerId, Message, Properties)> {
        let (id, slot) = self.pop_slot()?;
        Some((id, slot.msg, sent_with(slot.pinned, &slot.peer)))
    }

    fn pop_slot(&mut self) -> Option<(PeerId, Slot)> {
        let id = self.order.pop_front()?;
        let slot = self
            .slots
            .remove(&id)
            .expect("a slot for every queued peer");
        Some((id, slot))
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{msg, peer};

    #[test]
    fn keeps_the_newest_per_peer_in_slot_order() {
        let (a, b) = (peer(1), peer(2));
        let mut q = Latest::default();
        q.put(&a, msg(0));
        q.put(&b, msg(1));
        q.put(&a, msg(2));
        q.put(&a, msg(3));
        assert_eq!(q.len(), 2);
        let got: Vec<(PeerId, u8)> = std::iter::from_fn(|| q.pop())
            .map(|(id, m)| (id, m[0][0]))
            .collect();
        assert_eq!(got, vec![(1, 3), (2, 1)]);
        assert_eq!(q.len(), 0);
        q.put(&b, msg(4));
        assert_eq!(q.pop().map(|(id, m)| (id, m[0][0])), Some((2, 4)));
        assert!(q.pop().is_none());
    }
}
