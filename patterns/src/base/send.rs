//! The send direction: load balancing over peers with room, sending to one peer
//! with or without waiting at SNDHWM, and the cooperative yields of a sender.

use std::rc::Rc;
use std::task::Poll;

use monocoque_runtime::coop;
use monocoque_runtime::{limited, LogLimit};
use monocoque_runtime::{Handler, Message, MonitorEvent, Peer, PeerId};

use super::SocketBase;
use crate::error::Result;
use crate::stats::Counters;

thread_local! {
    /// Budget of the SNDHWM drop lines (each peer reports about once a second; a
    /// thousand slow subscribers must not make that a thousand lines a second).
    static DROPS: LogLimit = const { LogLimit::new() };
}

impl SocketBase {
    /// Round-robin over the `out` peers that have room; waits while none has. With
    /// `defer` (the batching API) the chosen peer's connection is not woken until
    /// [`SocketBase::flush`] or its queue fills, so many messages leave in one write.
    #[inline]
    pub async fn send_load_balanced(&self, msg: &Message, defer: bool) -> Result<PeerId> {
        // Yield (when due) before the message is queued, never between queueing it and
        // returning: a REQ records the peer it awaits a reply from after this returns,
        // and a reply that arrived during a yield would find nobody awaiting it.
        self.pace().await;
        // The common case, a peer with room, without building the waiting future.
        if let Some(id) = self.try_send_load_balanced(msg, defer)? {
            return Ok(id);
        }
        std::future::poll_fn(|cx| match self.try_send_load_balanced(msg, defer) {
            Ok(None) => {
                self.send_room.register(cx.waker());
                Poll::Pending
            }
            Ok(Some(id)) => Poll::Ready(Ok(id)),
            Err(e) => Poll::Ready(Err(e)),
        })
        .await
    }

    /// Offers `msg` to the `out` peers in round-robin order; the id of the peer that
    /// took it, or None when all are full.
    #[inline]
    fn try_send_load_balanced(&self, msg: &Message, defer: bool) -> Result<Option<PeerId>> {
        self.check_open()?;
        let out = self.out.borrow();
        let n = out.len();
        let mut idx = if self.rr.get() < n { self.rr.get() } else { 0 };
        for _ in 0..n {
            let peer = &out[idx];
            let sent = if defer {
                peer.try_send_deferred(msg)
            } else {
                peer.try_send(msg).map(drop)
            };
            idx = if idx + 1 == n { 0 } else { idx + 1 };
            if sent.is_ok() {
                Counters::add(&self.counters.sent, 1);
                self.rr.set(idx);
                return Ok(Some(peer.id()));
            }
            // Full: deferred messages must get out before we wait on it.
            peer.flush();
        }
        Ok(None)
    }

    /// Wakes every connection that has deferred messages.
    pub fn flush(&self) {
        for peer in self.peers.borrow().values() {
            peer.flush();
        }
    }

    /// Queues `msg` for `peer`, waiting while it is at SNDHWM (`wait`) or dropping.
    pub async fn send_to(&self, peer: &Rc<Peer>, msg: &Message, wait: bool) -> Result<()> {
        self.pace().await;
        std::future::poll_fn(|cx| {
            self.check_open()?;
            if peer.try_send(msg).is_ok() {
                Counters::add(&self.counters.sent, 1);
                return Poll::Ready(Ok(()));
            }
            if !wait {
                Counters::add(&self.counters.sent, 1);
                self.dropped_at_hwm(peer);
                return Poll::Ready(Ok(()));
            }
            if !self.peers.borrow().contains_key(&peer.id()) {
                // The peer left while we waited for room (libzmq drops it too).
                return Poll::Ready(Ok(()));
            }
            self.send_room.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Counts a delivery `peer` missed at SNDHWM, and reports it (monitor and log)
    /// when the peer starts dropping, then about once a second while it goes on.
    #[cold]
    pub fn dropped_at_hwm(&self, peer: &Peer) {
        Counters::add(&self.counters.dropped_hwm, 1);
        if let Some(count) = peer.note_dropped() {
            let remote = peer.remote();
            limited(&DROPS, |suppressed| {
                tracing::warn!(
                    socket = ?self.kind,
                    %remote,
                    count,
                    suppressed,
                    "peer at SNDHWM: messages dropped"
                )
            });
            self.on_monitor(MonitorEvent::MessagesDropped { remote, count });
        }
    }

    /// Yields to the executor (see [`coop`]): a plain requeue, or a pass through the
    /// reactor once this thread's time slice is over.
    pub async fn yield_now(&self) {
        if self.check_executor().is_err() {
            // Nothing to yield to (and the send or receive fails on its own).
            return;
        }
        let mut slice = self.slice.take().unwrap_or_default();
        slice.yield_now().await;
        self.slice.set(Some(slice));
    }

    /// Counts one message sent or received and yields if the time slice is over.
    #[inline]
    pub async fn pace(&self) {
        if coop::spend(1) {
            self.yield_now().await;
        }
    }
}
