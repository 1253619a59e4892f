//! The receive direction: the inbound queue, fair-queued over peers, with RCVHWM.

use std::task::{Context, Poll};

use monocoque_runtime::coop;
use monocoque_runtime::{Message, Peer, PeerId, Properties};
use std::rc::Rc;

use super::limits::bounded;
use super::SocketBase;
use crate::error::{Error, Result};
use crate::inbound::Inbound;
use crate::stats::Counters;

impl SocketBase {
    #[inline]
    pub(crate) fn enqueue(&self, peer: &Rc<Peer>, msg: Message) {
        self.inbound.borrow_mut().push(peer, msg);
        self.recv_ready.notify_all();
    }

    /// Queues single-frame messages from `peer`, given as their bodies (which are
    /// left empty), and wakes the reader.
    #[inline]
    pub(crate) fn enqueue_bodies(&self, peer: &Rc<Peer>, bodies: &mut Vec<bytes::Bytes>) {
        self.enqueue_all(peer, bodies.drain(..).map(Message::single));
    }

    /// Queues messages from `peer` and wakes the reader.
    #[inline]
    pub(crate) fn enqueue_all(
        &self,
        peer: &Rc<Peer>,
        msgs: impl ExactSizeIterator<Item = Message>,
    ) {
        self.inbound.borrow_mut().extend(peer, msgs);
        self.recv_ready.notify_all();
    }

    /// Takes the next inbound message with the peer it came from, releasing a reader
    /// paused at RCVHWM.
    #[inline]
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Result<(PeerId, Message)>> {
        self.poll_recv_with(cx, |id, msg| (id, msg))
    }

    /// [`SocketBase::poll_recv`] without the peer: the message is moved once, straight
    /// into the caller's result (the fair-queued sockets' hot path).
    #[inline]
    pub fn poll_recv_message(&self, cx: &mut Context<'_>) -> Poll<Result<Message>> {
        self.poll_recv_with(cx, |_, msg| msg)
    }

    /// [`SocketBase::poll_recv`] with the properties of the connection the message
    /// came from (a separate path: the others never look at properties).
    pub fn poll_recv_with_properties(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(PeerId, Message, Properties)>> {
        self.poll_inbound(cx, |inbound, rcvhwm| {
            let taken = inbound.pop_with_properties(rcvhwm)?;
            Counters::add(&self.counters.received, 1);
            Some(taken)
        })
    }

    #[inline(always)]
    fn poll_recv_with<T>(
        &self,
        cx: &mut Context<'_>,
        take: impl FnOnce(PeerId, Message) -> T,
    ) -> Poll<Result<T>> {
        self.poll_inbound(cx, |inbound, rcvhwm| {
            let (id, msg) = inbound.pop(rcvhwm)?;
            Counters::add(&self.counters.received, 1);
            Some(take(id, msg))
        })
    }

    /// The one receive rule: whatever `take` gets from the queue (given RCVHWM),
    /// else `Closed` once the socket is closed, else wait for the next arrival.
    #[inline(always)]
    fn poll_inbound<T>(
        &self,
        cx: &mut Context<'_>,
        take: impl FnOnce(&mut Inbound, usize) -> Option<T>,
    ) -> Poll<Result<T>> {
        if let Some(done) = self.take_inbound(take) {
            return Poll::Ready(done);
        }
        self.recv_ready.register(cx.waker());
        Poll::Pending
    }

    /// [`SocketBase::poll_inbound`] without the wait: None when it would wait.
    #[inline(always)]
    fn take_inbound<T>(
        &self,
        take: impl FnOnce(&mut Inbound, usize) -> Option<T>,
    ) -> Option<Result<T>> {
        let rcvhwm = self.options.borrow().rcvhwm;
        let taken = take(&mut self.inbound.borrow_mut(), rcvhwm);
        if let Some(t) = taken {
            return Some(Ok(t));
        }
        if self.closed.get() {
            return Some(Err(Error::Closed));
        }
        // About to wait: only a connection on this executor can end the wait.
        self.check_executor().err().map(Err)
    }

    /// The next inbound message with its peer (after a yield if the time slice is
    /// over: a reader that always finds messages must not starve its executor).
    /// `Stream::poll_next` of every receiving socket: the next message with its peer
    /// (after a yield when the time slice is over), or the end of the stream once
    /// the socket is closed and drained. RCVTIMEO does not apply: a stream waits.
    pub fn poll_stream(&self, cx: &mut Context<'_>) -> Poll<Option<Result<(PeerId, Message)>>> {
        if self.poll_pace(cx).is_pending() {
            return Poll::Pending;
        }
        match self.poll_recv(cx) {
            Poll::Ready(Err(Error::Closed)) => Poll::Ready(None),
            Poll::Ready(taken) => Poll::Ready(Some(taken)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Every receive waits for at most RCVTIMEO.
    #[inline]
    pub async fn recv(&self) -> Result<(PeerId, Message)> {
        self.pace().await;
        bounded(self.rcvtimeo(), |cx| self.poll_recv(cx)).await
    }

    /// [`SocketBase::recv`] without the peer (the fair-queued sockets' `recv`).
    #[inline]
    pub async fn recv_message(&self) -> Result<Message> {
        self.pace().await;
        bounded(self.rcvtimeo(), |cx| self.poll_recv_message(cx)).await
    }

    /// [`SocketBase::recv`] with the properties of the message's connection.
    pub async fn recv_with_properties(&self) -> Result<(PeerId, Message, Properties)> {
        self.pace().await;
        bounded(self.rcvtimeo(), |cx| self.poll_recv_with_properties(cx)).await
    }

    #[inline]
    fn rcvtimeo(&self) -> Option<std::time::Duration> {
        self.options.borrow().rcvtimeo
    }

    /// Takes the next inbound message if one is queued; `Ok(None)` if none is, and
    /// the error a `recv` would end with (closed, no executor) otherwise.
    pub fn try_recv(&self) -> Result<Option<(PeerId, Message)>> {
        self.take_inbound(|inbound, rcvhwm| {
            let taken = inbound.pop(rcvhwm)?;
            Counters::add(&self.counters.received, 1);
            Some(taken)
        })
        .transpose()
    }

    /// Waits for at least one inbound message, then moves up to `max` (at least 1)
    /// queued ones onto the end of `out` without further waiting. Returns how many
    /// were moved. Into an empty `out`, a whole queue moves without copying.
    pub async fn recv_batch(&self, out: &mut Vec<Message>, max: usize) -> Result<usize> {
        let n = bounded(self.rcvtimeo(), |cx| {
            self.poll_inbound(cx, |inbound, rcvhwm| {
                Some(inbound.take_into(out, max, rcvhwm)).filter(|&n| n > 0)
            })
        })
        .await?;
        Counters::add(&self.counters.received, n as u64);
        if coop::spend(u32::try_from(n).unwrap_or(u32::MAX)) {
            self.yield_now().await;
        }
        Ok(n)
    }
}
