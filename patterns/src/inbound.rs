//! A socket's receive queue: messages in arrival order, with the peer each came from
//! kept per run of consecutive messages (so a batch from one connection costs one
//! entry, and a message in the queue is just the message). Messages from a peer
//! that conflates (CONFLATE) wait apart, one per peer, in [`Latest`].

use std::collections::VecDeque;
use std::rc::Rc;

use monocoque_runtime::{Message, Peer, PeerId, Properties};

use crate::conflate::{sent_with, Latest};

/// Received messages and, alongside, which peer sent each run of them. Every message
/// counts against its peer's RCVHWM ([`Peer::inbound_added`]) until it is taken.
#[derive(Default)]
pub(crate) struct Inbound {
    msgs: VecDeque<Message>,
    /// The next `n` messages of `msgs` came from `peer`.
    runs: VecDeque<Run>,
    /// The newest message of each conflating peer, taken after `msgs` (which holds
    /// what arrived before CONFLATE applied, if anything).
    latest: Latest,
    /// Messages of a batch that conflation discarded on arrival.
    conflated: u64,
    /// Some peer conflates (so the common case tests one flag, not the peer).
    conflating: bool,
    /// The peer of the message taken last (XPUB_MANUAL applies subscriptions to it).
    last_from: Option<PeerId>,
}

/// Consecutive messages from one connection of a peer.
struct Run {
    peer: Rc<Peer>,
    n: usize,
    /// The properties of the connection they came from when the peer has connected
    /// again since ([`Inbound::pin`]); `None`: the peer's current ones.
    pinned: Option<Properties>,
}

impl Run {
    /// The properties of the connection these messages came from.
    fn properties(&self) -> Properties {
        sent_with(self.pinned.clone(), &self.peer)
    }
}

impl Inbound {
    /// Messages CONFLATE discarded for a newer one before `recv` took them.
    pub fn conflated(&self) -> u64 {
        self.conflated + self.latest.replaced()
    }

    /// From now on, peers may conflate ([`Peer::conflates`]).
    pub fn expect_conflation(&mut self) {
        self.conflating = true;
    }

    /// Queues one message from `peer`.
    #[inline]
    pub fn push(&mut self, peer: &Rc<Peer>, msg: Message) {
        if self.conflating && peer.conflates() {
            self.latest.put(peer, msg);
            return;
        }
        self.msgs.push_back(msg);
        self.add_run(peer, 1);
    }

    /// Queues several messages from `peer`, in order.
    #[inline]
    pub fn extend(&mut self, peer: &Rc<Peer>, msgs: impl ExactSizeIterator<Item = Message>) {
        if self.conflating && peer.conflates() {
            let older = msgs.len().saturating_sub(1) as u64;
            if let Some(newest) = msgs.last() {
                self.latest.put(peer, newest);
            }
            self.conflated += older;
            return;
        }
        let n = msgs.len();
        if n == 0 {
            return;
        }
        self.msgs.extend(msgs);
        self.add_run(peer, n);
    }

    fn add_run(&mut self, peer: &Rc<Peer>, n: usize) {
        peer.inbound_added(n);
        match self.runs.back_mut() {
            Some(last) if Rc::ptr_eq(&last.peer, peer) && last.pinned.is_none() => last.n += n,
            _ => self.runs.push_back(Run {
                peer: Rc::clone(peer),
                n,
                pinned: None,
            }),
        }
    }

    /// `peer` has connected again: what its previous connection sent, and is still
    /// queued, keeps that connection's `properties`.
    pub fn pin(&mut self, peer: &Rc<Peer>, properties: &Properties) {
        if peer.inbound_queued() > 0 {
            for run in self.runs.iter_mut() {
                if Rc::ptr_eq(&run.peer, peer) && run.pinned.is_none() {
                    run.pinned = Some(properties.clone());
                }
            }
        }
        self.latest.pin(peer, properties);
    }

    /// Takes the oldest message with the id of its peer, releasing the peer's
    /// connection if it waits at `rcvhwm`.
    #[inline]
    pub fn pop(&mut self, rcvhwm: usize) -> Option<(PeerId, Message)> {
        let Some(msg) = self.msgs.pop_front() else {
            let taken = self.latest.pop();
            if let Some((id, _)) = &taken {
                self.last_from = Some(*id);
            }
            return taken;
        };
        let run = self.runs.front_mut().expect("a run for every message");
        let id = run.peer.id();
        self.last_from = Some(id);
        run.peer.inbound_taken(1, rcvhwm);
        run.n -= 1;
        if run.n == 0 {
            self.runs.pop_front();
        }
        Some((id, msg))
    }

    /// The peer of the message taken last, by any of the ways to take one.
    pub fn last_from(&self) -> Option<PeerId> {
        self.last_from
    }

    /// [`Inbound::pop`], with the properties of the connection the message came from.
    pub fn pop_with_properties(&mut self, rcvhwm: usize) -> Option<(PeerId, Message, Properties)> {
        let properties = match self.runs.front() {
            Some(run) if !self.msgs.is_empty() => run.properties(),
            _ => return self.latest.pop_with_properties(),
        };
        let (id, msg) = self.pop(rcvhwm)?;
        Some((id, msg, properties))
    }

    /// Moves up to `max` of the oldest messages onto the end of `out`; returns how
    /// many. When `out` is empty, everything fits and `out` could hold it, the queue's
    /// storage is handed over whole (the messages are not moved one by one) and
    /// `out`'s becomes the queue's (so a caller passing a fresh `Vec` does not leave
    /// the queue to grow again from nothing).
    pub fn take_into(&mut self, out: &mut Vec<Message>, max: usize, rcvhwm: usize) -> usize {
        let n = self.take_queued(out, max, rcvhwm);
        if self.latest.len() == 0 {
            return n;
        }
        let mut taken = n;
        while taken < max {
            let Some((id, msg)) = self.latest.pop() else {
                break;
            };
            self.last_from = Some(id);
            out.push(msg);
            taken += 1;
        }
        taken
    }

    /// [`Inbound::take_into`] from the ordinary queue only.
    fn take_queued(&mut self, out: &mut Vec<Message>, max: usize, rcvhwm: usize) -> usize {
        let n = max.min(self.msgs.len());
        if n > 0 && n == self.msgs.len() && out.is_empty() && out.capacity() >= n {
            let spare = VecDeque::from(std::mem::take(out));
            *out = Vec::from(std::mem::replace(&mut self.msgs, spare));
            for run in self.runs.drain(..) {
                run.peer.inbound_taken(run.n, rcvhwm);
                self.last_from = Some(run.peer.id());
            }
            return n;
        }
        out.extend(self.msgs.drain(..n));
        let mut left = n;
        while left > 0 {
            let run = self.runs.front_mut().expect("a run for every message");
            let taken = left.min(run.n);
            run.peer.inbound_taken(taken, rcvhwm);
            self.last_from = Some(run.peer.id());
            run.n -= taken;
            left -= taken;
            if run.n == 0 {
                self.runs.pop_front();
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{msg, peer, properties, user};

    #[test]
    fn pops_in_order_with_each_peer_and_releases_rcvhwm() {
        let (a, b) = (peer(1), peer(2));
        let mut q = Inbound::default();
        q.push(&a, msg(0));
        q.extend(&a, [msg(1), msg(2)].into_iter());
        q.push(&b, msg(3));
        q.push(&a, msg(4));
        assert_eq!((a.inbound_queued(), b.inbound_queued()), (4, 1));
        let order: Vec<(PeerId, u8)> = std::iter::from_fn(|| q.pop(0))
            .map(|(id, m)| (id, m[0][0]))
            .collect();
        assert_eq!(order, vec![(1, 0), (1, 1), (1, 2), (2, 3), (1, 4)]);
        assert_eq!(q.last_from(), Some(1), "the peer of the message taken last");
        assert_eq!((a.inbound_queued(), b.inbound_queued()), (0, 0));
        assert!(q.runs.is_empty());
    }

    #[test]
    fn take_into_hands_over_storage_or_part_of_the_queue() {
        let (a, b) = (peer(1), peer(2));
        let mut q = Inbound::default();
        q.extend(&a, (0..3).map(msg));
        q.extend(&b, std::iter::empty());
        q.extend(&b, (3..5).map(msg));
        assert_eq!(q.runs.len(), 2, "an empty batch adds no run");
        let mut out = vec![msg(99)];
        // Not empty: a partial, counted take across the two runs.
        assert_eq!(q.take_into(&mut out, 4, 0), 4);
        assert_eq!(q.last_from(), Some(2), "the batch ended with b's first");
        assert_eq!((a.inbound_queued(), b.inbound_queued()), (0, 1));
        let got: Vec<u8> = out.drain(..).map(|m| m[0][0]).collect();
        assert_eq!(got, vec![99, 0, 1, 2, 3]);
        // Empty and everything fits: the whole queue at once.
        q.push(&a, msg(5));
        assert_eq!(q.take_into(&mut out, 10, 0), 2);
        let got: Vec<u8> = out.iter().map(|m| m[0][0]).collect();
        assert_eq!(got, vec![4, 5]);
        assert_eq!((a.inbound_queued(), b.inbound_queued()), (0, 0));
        assert!(q.msgs.is_empty());
        assert!(q.runs.is_empty());
        // The queue works on with the storage it was given.
        q.push(&b, msg(6));
        assert_eq!(q.pop(0).map(|(id, m)| (id, m[0][0])), Some((2, 6)));
        // A fresh Vec is filled, not swapped: the queue keeps its storage.
        q.extend(&a, (7..9).map(msg));
        let kept = q.msgs.capacity();
        let mut fresh = Vec::new();
        assert_eq!(q.take_into(&mut fresh, 10, 0), 2);
        assert_eq!(
            fresh.iter().map(|m| m[0][0]).collect::<Vec<_>>(),
            vec![7, 8]
        );
        assert_eq!(q.msgs.capacity(), kept);
        assert_eq!(a.inbound_queued(), 0);
    }

    #[test]
    fn messages_keep_the_properties_of_the_connection_they_came_from() {
        let (a, b) = (peer(1), peer(2));
        a.attach(properties("a-first"));
        b.attach(properties("b"));
        let mut q = Inbound::default();
        q.extend(&a, (0..2).map(msg));
        q.push(&b, msg(2));
        q.push(&a, msg(3));
        // `a` reconnects, as a connect peer does, and sends more.
        a.detach();
        a.attach(properties("a-second"));
        q.pin(&a, &a.take_superseded().expect("the first connection's"));
        assert!(a.take_superseded().is_none(), "taken once");
        q.push(&a, msg(4));
        q.extend(&a, (5..7).map(msg));
        let got: Vec<(u8, String)> = std::iter::from_fn(|| q.pop_with_properties(0))
            .map(|(_, m, p)| (m[0][0], user(&p).to_owned()))
            .collect();
        let expected = [
            (0, "a-first"),
            (1, "a-first"),
            (2, "b"),
            (3, "a-first"),
            (4, "a-second"),
            (5, "a-second"),
            (6, "a-second"),
        ]
        .map(|(n, u)| (n, u.to_owned()));
        assert_eq!(got, expected);
        assert_eq!(a.inbound_queued(), 0, "RCVHWM released as by pop");
        // Conflated messages too.
        let c = peer(3);
        c.set_conflate();
        c.attach(properties("c-first"));
        q.expect_conflation();
        q.push(&c, msg(7));
        c.attach(properties("c-second"));
        q.pin(&c, &c.take_superseded().unwrap());
        let (_, m, p) = q.pop_with_properties(0).unwrap();
        assert_eq!((m[0][0], user(&p)), (7, "c-first"));
        q.push(&c, msg(8));
        let (_, m, p) = q.pop_with_properties(0).unwrap();
        assert_eq!((m[0][0], user(&p)), (8, "c-second"));
        assert!(q.pop_with_properties(0).is_none());
    }

    #[test]
    fn a_conflating_peer_keeps_only_its_newest_message_uncounted() {
        let (a, c) = (peer(1), peer(2));
        c.set_conflate();
        let mut q = Inbound::default();
        q.expect_conflation();
        q.push(&a, msg(0));
        q.push(&c, msg(1));
        q.extend(&c, (2..5).map(msg));
        q.extend(&c, std::iter::empty());
        q.push(&a, msg(5));
        assert_eq!((a.inbound_queued(), c.inbound_queued()), (2, 0));
        // msg(1) was replaced, and msg(2), msg(3) were older than msg(4) in one batch.
        assert_eq!(q.conflated(), 3);
        // The ordinary queue first, then the newest from the conflating peer.
        let order: Vec<(PeerId, u8)> = std::iter::from_fn(|| q.pop(0))
            .map(|(id, m)| (id, m[0][0]))
            .collect();
        assert_eq!(order, vec![(1, 0), (1, 5), (2, 4)]);
        // Batches take from both, up to `max`.
        q.push(&a, msg(6));
        q.push(&c, msg(7));
        q.push(&c, msg(8));
        let mut out = Vec::new();
        assert_eq!(q.take_into(&mut out, 1, 0), 1);
        assert_eq!(q.take_into(&mut out, 10, 0), 1);
        assert_eq!(q.take_into(&mut out, 10, 0), 0);
        let got: Vec<u8> = out.iter().map(|m| m[0][0]).collect();
        assert_eq!(got, vec![6, 8]);
    }
}
