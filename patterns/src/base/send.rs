//! The send direction: load balancing over peers with room, sending to one peer
//! with or without waiting at SNDHWM, and the cooperative yields of a sender.

use std::borrow::Cow;
use std::rc::Rc;
use std::task::{Context, Poll};

use monocoque_runtime::coop;
use monocoque_runtime::{limited, LogLimit};
use monocoque_runtime::{Handler, Message, MonitorEvent, Peer, PeerId};

use super::SocketBase;
use crate::error::{Error, Result, TrySendError};
use crate::stats::Counters;

thread_local! {
    /// Budget of the SNDHWM drop lines (each peer reports about once a second; a
    /// thousand slow subscribers must not make that a thousand lines a second).
    static DROPS: LogLimit = const { LogLimit::new() };
}

impl SocketBase {
    /// Round-robin over the `out` peers that have room; waits while none has, up to
    /// SNDTIMEO. With `defer` (the batching API) the chosen peer's connection is not
    /// woken until [`SocketBase::flush`] or its queue fills, so many messages leave in
    /// one write.
    ///
    /// Cancel-safe: if the caller drops the future before it returns, the message is
    /// queued anyway (see [`SocketBase::keep_cancelled`]); it is never lost unseen.
    #[inline]
    pub async fn send_load_balanced(&self, msg: Message, defer: bool) -> Result<PeerId> {
        let mut unsent = Unsent::new(self, None, msg);
        // Yield (when due) before the message is queued, never between queueing it and
        // returning: a REQ records the peer it awaits a reply from after this returns,
        // and a reply that arrived during a yield would find nobody awaiting it.
        self.pace().await;
        // The common case, a peer with room, without building the waiting future.
        let sent = match unsent.offer(|msg| self.try_send_load_balanced(msg, defer)) {
            Ok(Some(id)) => Ok(id),
            Err(e) => Err(e),
            Ok(None) => {
                let limit = self.options.borrow().sndtimeo;
                self.until_room(limit, || {
                    unsent.offer(|msg| self.try_send_load_balanced(msg, defer))
                })
                .await
            }
        };
        unsent.settled();
        sent
    }

    /// One attempt of [`SocketBase::send_load_balanced`], without waiting or yielding:
    /// refused with [`Error::WouldBlock`] when no peer has room.
    pub fn try_send_now(&self, msg: Message) -> std::result::Result<PeerId, TrySendError> {
        self.try_send_load_balanced(msg, false)
    }

    /// Offers `msg` to the `out` peers in round-robin order: the first with room
    /// takes it, moved into its queue (for an inproc peer, the very frames travel on),
    /// and its id is returned. Refused with [`Error::WouldBlock`] when all are full.
    #[inline]
    fn try_send_load_balanced(
        &self,
        msg: Message,
        defer: bool,
    ) -> std::result::Result<PeerId, TrySendError> {
        if let Err(e) = self.check_open() {
            return Err(TrySendError::new(e, msg));
        }
        let out = self.out.borrow();
        let n = out.len();
        let mut idx = self.turn(n);
        for _ in 0..n {
            let peer = &out[idx];
            idx = after(idx, n);
            if peer.has_room() {
                peer.queue(Cow::Owned(msg), !defer);
                Counters::add(&self.counters.sent, 1);
                self.rr.set(idx);
                return Ok(peer.id());
            }
            // Full: deferred messages must get out before we wait on it.
            peer.flush();
        }
        Err(TrySendError::new(Error::WouldBlock, msg))
    }

    /// Wakes every connection that has deferred messages.
    pub fn flush(&self) {
        for peer in self.peers.borrow().values() {
            peer.flush();
        }
    }

    /// Queues `msg` for `peer`, waiting while it is at SNDHWM (`wait`, up to
    /// SNDTIMEO) or dropping. Cancel-safe as [`SocketBase::send_load_balanced`].
    pub async fn send_to(&self, peer: &Rc<Peer>, msg: Message, wait: bool) -> Result<()> {
        let mut unsent = Unsent::new(self, Some(peer), msg);
        self.pace().await;
        let limit = if wait {
            self.options.borrow().sndtimeo
        } else {
            None
        };
        let sent = self
            .until_room(limit, || unsent.offer(|msg| self.offer_to(peer, msg, wait)))
            .await;
        unsent.settled();
        sent
    }

    /// One attempt of [`SocketBase::send_to`]: done when the message was queued (moved
    /// in), dropped at SNDHWM without `wait`, or the peer has gone; refused with
    /// [`Error::WouldBlock`] to wait for room.
    pub fn offer_to(
        &self,
        peer: &Peer,
        msg: Message,
        wait: bool,
    ) -> std::result::Result<(), TrySendError> {
        if let Err(e) = self.check_open() {
            return Err(TrySendError::new(e, msg));
        }
        if peer.has_room() {
            peer.queue(Cow::Owned(msg), true);
            Counters::add(&self.counters.sent, 1);
        } else if !wait {
            Counters::add(&self.counters.sent, 1);
            self.dropped_at_hwm(peer);
        } else if self.peers.borrow().contains_key(&peer.id()) {
            return Err(TrySendError::new(Error::WouldBlock, msg));
        }
        // (Otherwise the peer left while we waited for room: libzmq drops it too.)
        Ok(())
    }

    /// Takes a message whose send was cancelled before it could be queued: it goes to
    /// `peer` (a send to one peer) or to the next peer of the round-robin, past SNDHWM;
    /// with no peer at all (a bound socket nobody has connected to yet), it waits in
    /// the socket for the first peer to attach (at most SNDHWM such messages; past
    /// that they are counted as dropped and reported, as a PUB's drops are).
    pub fn keep_cancelled(&self, peer: Option<&Rc<Peer>>, msg: Message) {
        if self.closed.get() {
            return;
        }
        let target = match peer {
            Some(peer) => Some(Rc::clone(peer)),
            None => {
                let out = self.out.borrow();
                let n = out.len();
                (n > 0).then(|| {
                    let idx = self.turn(n);
                    self.rr.set(after(idx, n));
                    Rc::clone(&out[idx])
                })
            }
        };
        match target {
            Some(peer) => {
                if !self.peers.borrow().contains_key(&peer.id()) {
                    return;
                }
                self.send_late(&peer, msg);
            }
            None => {
                let mut waiting = self.cancelled.borrow_mut();
                let hwm = self.options.borrow().sndhwm;
                if hwm != 0 && waiting.len() >= hwm {
                    Counters::add(&self.counters.dropped_hwm, 1);
                    tracing::warn!(
                        socket = self.kind.as_str(),
                        "a cancelled send found no peer and SNDHWM messages already wait: dropped"
                    );
                } else {
                    waiting.push_back(msg);
                }
            }
        }
    }

    /// Hands the messages of cancelled sends that found no peer to `peer`, which
    /// just attached.
    pub(crate) fn release_cancelled(&self, peer: &Rc<Peer>) {
        let waiting = std::mem::take(&mut *self.cancelled.borrow_mut());
        for msg in waiting {
            self.send_late(peer, msg);
        }
    }

    /// Queues a message whose send was cancelled for `peer`, past SNDHWM.
    fn send_late(&self, peer: &Peer, msg: Message) {
        peer.queue(Cow::Owned(msg), true);
        Counters::add(&self.counters.sent, 1);
        self.rules.late_sent(peer.id());
    }

    /// Where the round-robin over `n` peers stands.
    #[inline]
    fn turn(&self, n: usize) -> usize {
        let idx = self.rr.get();
        if idx < n {
            idx
        } else {
            0
        }
    }

    /// Counts a delivery `peer` missed at SNDHWM, and reports it (monitor and log)
    /// when the peer starts dropping, then about once a second while it goes on.
    #[cold]
    pub fn dropped_at_hwm(&self, peer: &Peer) {
        Counters::add(&self.counters.dropped_hwm, 1);
        if let Some(count) = peer.note_dropped() {
            let remote = peer.remote();
            // Written inside the peer's connection span (socket, endpoint, peer), or
            // naming them itself when there is none.
            limited(&DROPS, |suppressed| {
                peer.in_span(|in_span| {
                    if in_span {
                        tracing::warn!(count, suppressed, "peer at SNDHWM: messages dropped")
                    } else {
                        tracing::warn!(
                            socket = self.kind.as_str(),
                            peer = %remote,
                            count,
                            suppressed,
                            "peer at SNDHWM: messages dropped"
                        )
                    }
                })
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

    /// The poll form of [`SocketBase::pace`], for `Stream` and `Sink`: counts one
    /// message and, when the time slice is over (or a send asked for it with
    /// `yield_soon`), arranges to be polled again after a yield (Pending until then).
    pub fn poll_pace(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut slice = self.slice.take().unwrap_or_default();
        let paced = if slice.poll_resumed(cx).is_pending() {
            Poll::Pending
        } else if coop::spend(1) || self.yield_soon.take() {
            slice.defer(cx);
            Poll::Pending
        } else {
            Poll::Ready(())
        };
        self.slice.set(Some(slice));
        paced
    }

    /// `Sink::poll_ready` of a load-balancing sender: ready when a peer has room (or
    /// the socket is closed, which `start_send` then reports).
    pub fn poll_room(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.check_open()?;
        let out = self.out.borrow();
        if out.iter().any(|p| p.has_room()) {
            return Poll::Ready(Ok(()));
        }
        // Full of buffered messages: they must get out before there is room.
        for peer in out.iter() {
            peer.flush();
        }
        self.send_room.register(cx.waker());
        Poll::Pending
    }

    /// `Sink::start_send` of a load-balancing sender: the next peer with room, or
    /// (should none have room after all) past SNDHWM as a cancelled send's message
    /// is; the connection is woken by the sink's flush. The peer it went to, unless
    /// it was kept that way.
    pub fn start_send_load_balanced(&self, msg: Message) -> Result<Option<PeerId>> {
        match self.try_send_load_balanced(msg, true) {
            Ok(id) => Ok(Some(id)),
            Err(refused) => {
                self.keep_cancelled(None, refused.wanting_room()?);
                Ok(None)
            }
        }
    }

    /// Counts one message sent or received and yields if the time slice is over.
    #[inline]
    pub async fn pace(&self) {
        if coop::spend(1) {
            self.yield_now().await;
        }
    }
}

/// A message a send future still holds: if the future is dropped before the send
/// settles, the socket keeps the message ([`SocketBase::keep_cancelled`]).
struct Unsent<'a> {
    base: &'a SocketBase,
    peer: Option<&'a Rc<Peer>>,
    msg: Option<Message>,
}

impl<'a> Unsent<'a> {
    fn new(base: &'a SocketBase, peer: Option<&'a Rc<Peer>>, msg: Message) -> Self {
        Unsent {
            base,
            peer,
            msg: Some(msg),
        }
    }

    /// Hands the message to `send` (one attempt): Some once it took it, None when it
    /// was refused for want of room (the message is held again, for the next
    /// attempt), the error of any other refusal (which settles the send).
    fn offer<T>(
        &mut self,
        send: impl FnOnce(Message) -> std::result::Result<T, TrySendError>,
    ) -> Result<Option<T>> {
        let msg = self.msg.take().expect("message held until settled");
        match send(msg) {
            Ok(done) => Ok(Some(done)),
            Err(refused) => {
                self.msg = Some(refused.wanting_room()?);
                Ok(None)
            }
        }
    }

    /// The send returned (queued, or failed with an error the caller sees).
    fn settled(&mut self) {
        self.msg = None;
    }
}

impl Drop for Unsent<'_> {
    fn drop(&mut self) {
        if let Some(msg) = self.msg.take() {
            self.base.keep_cancelled(self.peer, msg);
        }
    }
}

/// The round-robin position after `idx` among `n` peers.
#[inline]
fn after(idx: usize, n: usize) -> usize {
    if idx + 1 == n {
        0
    } else {
        idx + 1
    }
}
