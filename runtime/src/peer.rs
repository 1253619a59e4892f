//! A peer of a socket: its outbound queue (bounded by SNDHWM) and what its handshake
//! told us. Shared between the socket (which routes messages into it) and the
//! connection driver (which drains it onto the wire). Everything here lives on one
//! executor, so it uses `Rc` and `RefCell`, never locks.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

use bytes::Bytes;
use monocoque_zmtp::{Encoder, Outgoing};

use crate::message::Message;
use crate::notify::Notify;
use crate::properties::Properties;

/// Identifies a peer within its socket.
pub type PeerId = u64;

/// One remote peer of a socket (an accepted connection, or a connect endpoint whose
/// queue outlives reconnections).
#[derive(Debug)]
pub struct Peer {
    id: PeerId,
    remote: RefCell<String>,
    /// The log span of its current (or last) connection, for lines the socket writes
    /// about this peer outside the connection's task (SNDHWM drops).
    span: RefCell<tracing::Span>,
    /// The properties of the connection attached now, or of the last one (messages
    /// received from it may still be waiting to be read).
    properties: RefCell<Option<Properties>>,
    /// The properties `properties` replaced when a new connection attached, until the
    /// socket takes them ([`Peer::take_superseded`]).
    superseded: RefCell<Option<Properties>>,
    /// A connection has completed its handshake and not ended yet.
    attached: Cell<bool>,
    out: RefCell<OutQueue>,
    closing: Cell<bool>,
    room: Rc<Notify>,
    /// Messages from this peer waiting in the socket's receive queue (for RCVHWM).
    inbound: Cell<usize>,
    /// The connection waiting for room in the receive queue.
    inbound_waiter: RefCell<Option<Waker>>,
    /// Messages this peer missed because its queue was at SNDHWM.
    dropped: Cell<u64>,
    /// `dropped` when it was last reported, and when.
    reported: Cell<(u64, Option<Instant>)>,
    /// The peer dropped since its connection last found the queue below SNDHWM.
    dropping: Cell<bool>,
}

/// A peer that keeps dropping is reported at most this often.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(1);
/// While a peer keeps dropping, the clock is read once per this many drops.
const DROP_CLOCK_EVERY: u64 = 256;

/// How full a peer's queue is after a message was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    /// Messages waiting for the connection, this one included.
    pub messages: usize,
    /// The queue's bound (SNDHWM; 0: unbounded).
    pub hwm: usize,
}

/// A peer's queue is at its high-water mark (SNDHWM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

#[derive(Debug)]
struct OutQueue {
    /// Queued messages, counted against SNDHWM.
    queue: Held,
    /// Messages that go out before everything in `queue` (see [`Peer::send_ahead`]);
    /// not counted against SNDHWM.
    ahead: Held,
    /// How many messages `queue` holds.
    messages: usize,
    subscriptions: VecDeque<(Bytes, bool)>,
    hwm: usize,
    /// CONFLATE: a new message replaces the one queued (see [`Peer::set_conflate`]).
    conflate: bool,
    /// Queued messages a newer one replaced (CONFLATE).
    replaced: u64,
    writer: Option<Waker>,
}

/// Messages waiting for a connection, in the form it takes them.
#[derive(Debug)]
enum Held {
    /// Encoded with [`Encoder::NULL`], for a byte stream (the framing of every
    /// connection this peer can have; see [`monocoque_zmtp::encoder`] for how a
    /// mechanism that encrypts changes that).
    Encoded(Outgoing),
    /// The messages themselves, for a connection that carries messages (inproc, see
    /// [`Peer::hold_messages`]).
    Messages(VecDeque<Message>),
}

impl Held {
    /// Queues `msg`: encoded from a borrow (a fan-out's one message for many peers)
    /// or, for a peer holding messages, moved in when owned and cloned when borrowed.
    fn push(&mut self, msg: Cow<'_, Message>) {
        match self {
            Held::Encoded(wire) => Encoder::NULL.encode_message(wire, msg.iter()),
            Held::Messages(queue) => queue.push_back(msg.into_owned()),
        }
    }

    fn clear(&mut self) {
        match self {
            Held::Encoded(wire) => wire.clear(),
            Held::Messages(queue) => queue.clear(),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Held::Encoded(wire) => wire.is_empty(),
            Held::Messages(queue) => queue.is_empty(),
        }
    }

    /// The encoded bytes (a peer that holds messages is served by lanes instead,
    /// which take them with [`Peer::take_held`]).
    fn wire(&mut self) -> &mut Outgoing {
        match self {
            Held::Encoded(wire) => wire,
            Held::Messages(_) => unreachable!("a peer holding messages has no wire bytes"),
        }
    }

    /// The messages (a peer that holds encoded bytes is never served by lanes).
    fn messages(&mut self) -> &mut VecDeque<Message> {
        match self {
            Held::Messages(queue) => queue,
            Held::Encoded(_) => unreachable!("lanes serve only peers holding messages"),
        }
    }
}

impl OutQueue {
    /// At SNDHWM (never when unbounded).
    #[inline]
    fn is_full(&self) -> bool {
        self.hwm != 0 && self.messages >= self.hwm
    }

    fn push(&mut self, msg: &Message) -> Result<(), Full> {
        if self.is_full() {
            return Err(Full);
        }
        self.push_over_hwm(Cow::Borrowed(msg));
        Ok(())
    }

    /// Queues `msg` even at SNDHWM.
    fn push_over_hwm(&mut self, msg: Cow<'_, Message>) {
        if self.conflate && self.messages != 0 {
            self.queue.clear();
            self.messages = 0;
            self.replaced += 1;
        }
        self.queue.push(msg);
        self.messages += 1;
    }
}

impl Peer {
    /// A peer with an empty queue holding at most `sndhwm` messages (0 = unbounded).
    /// `room` is woken whenever the queue drains below the mark.
    pub fn new(id: PeerId, remote: String, sndhwm: usize, room: Rc<Notify>) -> Peer {
        Peer {
            id,
            remote: RefCell::new(remote),
            span: RefCell::new(tracing::Span::none()),
            properties: RefCell::new(None),
            superseded: RefCell::new(None),
            attached: Cell::new(false),
            out: RefCell::new(OutQueue {
                queue: Held::Encoded(Outgoing::new()),
                ahead: Held::Encoded(Outgoing::new()),
                messages: 0,
                subscriptions: VecDeque::new(),
                hwm: sndhwm,
                conflate: false,
                replaced: 0,
                writer: None,
            }),
            closing: Cell::new(false),
            room,
            inbound: Cell::new(0),
            inbound_waiter: RefCell::new(None),
            dropped: Cell::new(0),
            reported: Cell::new((0, None)),
            dropping: Cell::new(false),
        }
    }

    /// Counts a message this peer missed at SNDHWM. Returns how many it missed since
    /// the last report when a report is due: when it starts dropping (its first drop
    /// since its connection last found the queue below SNDHWM), then every 256 drops
    /// while it keeps dropping; never twice within a second.
    #[inline]
    pub fn note_dropped(&self) -> Option<u64> {
        let dropped = self.dropped.get() + 1;
        self.dropped.set(dropped);
        let starts = !self.dropping.replace(true);
        let (at, when) = self.reported.get();
        if !starts && !(dropped - at).is_multiple_of(DROP_CLOCK_EVERY) {
            return None;
        }
        if when.is_some_and(|w| w.elapsed() < DROP_REPORT_EVERY) {
            return None;
        }
        self.reported.set((dropped, Some(Instant::now())));
        Some(dropped - at)
    }

    /// Drops not reported yet, to be reported now: when the peer has stopped dropping
    /// (its connection found the queue below SNDHWM) and a second has passed since the
    /// last report, or unconditionally with `final_report` (the connection ended).
    /// With these, the counts reported for a peer add up to its `dropped()` once it has
    /// disconnected.
    pub fn settle_drops(&self, final_report: bool) -> Option<u64> {
        let dropped = self.dropped.get();
        let (at, when) = self.reported.get();
        if dropped == at {
            return None;
        }
        if !final_report
            && (self.dropping.get() || when.is_some_and(|w| w.elapsed() < DROP_REPORT_EVERY))
        {
            return None;
        }
        self.reported.set((dropped, Some(Instant::now())));
        Some(dropped - at)
    }

    /// Queued messages that a newer one replaced before the connection took them
    /// (CONFLATE).
    pub fn conflated(&self) -> u64 {
        self.out.borrow().replaced
    }

    /// Messages this peer missed because its queue was at SNDHWM.
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Messages queued for this peer and not yet taken by its connection.
    pub fn queued(&self) -> usize {
        self.out.borrow().messages
    }

    /// This peer's id within its socket.
    #[inline]
    pub fn id(&self) -> PeerId {
        self.id
    }

    /// The remote address, for logs.
    pub fn remote(&self) -> String {
        self.remote.borrow().clone()
    }

    /// Records the remote address of the current connection.
    pub fn set_remote(&self, remote: String) {
        *self.remote.borrow_mut() = remote;
    }

    /// Records the log span of the connection that now serves this peer.
    pub fn set_span(&self, span: tracing::Span) {
        *self.span.borrow_mut() = span;
    }

    /// Runs `f` (which writes a log line about this peer) inside the span of its
    /// current or last connection; `f` is told whether there is one that the log
    /// subscriber records (without it, the line should name the socket and peer itself).
    pub fn in_span<R>(&self, f: impl FnOnce(bool) -> R) -> R {
        let span = self.span.borrow();
        if span.is_disabled() {
            f(false)
        } else {
            span.in_scope(|| f(true))
        }
    }

    /// The properties of the connection attached now, or else of the last one that
    /// was (`None` before the first handshake).
    pub fn properties(&self) -> Option<Properties> {
        self.properties.borrow().clone()
    }

    /// True while a connection to this peer has completed its handshake.
    #[inline]
    pub fn is_attached(&self) -> bool {
        self.attached.get()
    }

    /// A connection completed its handshake with these properties. Those of the
    /// peer's previous connection, if it had one, wait for [`Peer::take_superseded`].
    pub fn attach(&self, properties: Properties) {
        let previous = self.properties.borrow_mut().replace(properties);
        *self.superseded.borrow_mut() = previous;
        self.attached.set(true);
    }

    /// The properties of the connection before the one attached last, once: what the
    /// socket still holds from it must keep them.
    pub fn take_superseded(&self) -> Option<Properties> {
        self.superseded.borrow_mut().take()
    }

    /// The attached connection ended (its properties stay, for what it sent).
    pub fn detach(&self) {
        self.attached.set(false);
    }

    /// CONFLATE: from now on the queue holds at most one message, the newest (a
    /// message queued replaces the one waiting, SNDHWM no longer applies); what the
    /// connection has already taken is not affected. The socket also keeps only the
    /// newest message received from this peer ([`Peer::conflates`]).
    pub fn set_conflate(&self) {
        let mut out = self.out.borrow_mut();
        out.conflate = true;
        out.hwm = 0;
    }

    /// True once [`Peer::set_conflate`] was called.
    #[inline]
    pub fn conflates(&self) -> bool {
        self.out.borrow().conflate
    }

    /// Queues `msg` (encoding it for the wire, or cloning it for a peer that holds
    /// messages) unless the queue is at its high-water mark, and wakes the
    /// connection. Says how full the queue is now. For a message offered to many
    /// peers (fan-out); a message for one peer moves in with [`Peer::queue`].
    #[inline]
    pub fn try_send(&self, msg: &Message) -> Result<Queued, Full> {
        let mut out = self.out.borrow_mut();
        out.push(msg)?;
        if let Some(w) = out.writer.take() {
            w.wake();
        }
        Ok(Queued {
            messages: out.messages,
            hwm: out.hwm,
        })
    }

    /// True unless the queue is at SNDHWM.
    #[inline]
    pub fn has_room(&self) -> bool {
        !self.out.borrow().is_full()
    }

    /// Queues `msg` whatever SNDHWM says (owned, it moves in; borrowed, as a fan-out's
    /// one message for many peers, it is encoded from the borrow, or cloned for a peer
    /// that holds messages): the caller saw
    /// [`Peer::has_room`], or holds a message it has accepted and must not lose (a
    /// send whose caller stopped waiting for room; the queue then holds more than
    /// SNDHWM until the connection drains it). With `wake` the connection is woken;
    /// without, the message waits for [`Peer::flush`] or the next wake-up, so that a
    /// batch goes out in one write.
    #[inline]
    pub fn queue(&self, msg: Cow<'_, Message>, wake: bool) {
        let mut out = self.out.borrow_mut();
        out.push_over_hwm(msg);
        if wake {
            if let Some(w) = out.writer.take() {
                w.wake();
            }
        }
    }

    /// Queues `msg` ahead of every message already queued, outside SNDHWM, and wakes
    /// the connection: for what a socket sends on its own when a connection starts
    /// (PROBE_ROUTER's empty message, XPUB_WELCOME_MSG), which must reach the peer
    /// before anything the application queued while it was not connected.
    pub fn send_ahead(&self, msg: &Message) {
        let mut out = self.out.borrow_mut();
        out.ahead.push(Cow::Borrowed(msg));
        if let Some(w) = out.writer.take() {
            w.wake();
        }
    }

    /// Wakes the connection if messages are waiting.
    pub fn flush(&self) {
        let mut out = self.out.borrow_mut();
        if out.messages != 0 {
            if let Some(w) = out.writer.take() {
                w.wake();
            }
        }
    }

    /// Queues a subscription (or cancellation) for the peer. Not bounded by SNDHWM:
    /// the number of distinct subscriptions bounds it.
    pub fn send_subscription(&self, topic: Bytes, subscribe: bool) {
        let mut out = self.out.borrow_mut();
        out.subscriptions.push_back((topic, subscribe));
        if let Some(w) = out.writer.take() {
            w.wake();
        }
    }

    /// Drops every queued subscription command (before resending them on reconnect).
    pub fn clear_subscriptions(&self) {
        self.out.borrow_mut().subscriptions.clear();
    }

    /// Drops every queued message.
    pub fn clear_messages(&self) {
        let mut out = self.out.borrow_mut();
        out.queue.clear();
        out.ahead.clear();
        out.messages = 0;
        drop(out);
        self.room.notify_all();
    }

    /// Asks the connection driver to flush what is queued and close.
    pub fn close(&self) {
        self.closing.set(true);
        if let Some(w) = self.out.borrow_mut().writer.take() {
            w.wake();
        }
    }

    /// True once [`Peer::close`] was called.
    pub fn is_closing(&self) -> bool {
        self.closing.get()
    }

    /// Driver side: takes the next subscription command.
    pub fn pop_subscription(&self) -> Option<(Bytes, bool)> {
        self.out.borrow_mut().subscriptions.pop_front()
    }

    /// Driver side: moves every queued message to the end of `wire`, waking blocked
    /// senders if the queue was at its mark.
    pub fn take_messages(&self, wire: &mut Outgoing) {
        let mut out = self.out.borrow_mut();
        if !out.ahead.is_empty() {
            wire.append(out.ahead.wire());
        }
        if out.messages == 0 {
            return;
        }
        wire.append(out.queue.wire());
        self.taken(out, usize::MAX);
    }

    /// Driver side, for a peer that [holds messages](Peer::hold_messages): moves the
    /// messages sent ahead and up to `max` queued ones to the end of `into`, waking
    /// blocked senders if the queue was at its mark and no longer is.
    pub fn take_held(&self, into: &mut VecDeque<Message>, max: usize) {
        let mut out = self.out.borrow_mut();
        into.append(out.ahead.messages());
        let queue = out.queue.messages();
        let n = max.min(queue.len());
        if n == 0 {
            return;
        }
        if n == queue.len() && into.is_empty() {
            std::mem::swap(into, queue);
        } else {
            into.extend(queue.drain(..n));
        }
        self.taken(out, n);
    }

    /// `n` messages (at most all) have left the queue: wakes blocked senders if it was
    /// at its mark and no longer is, and notes that the peer stopped dropping if it
    /// was not.
    fn taken(&self, mut out: std::cell::RefMut<'_, OutQueue>, n: usize) {
        let was_full = out.is_full();
        out.messages -= n.min(out.messages);
        let now_full = out.is_full();
        drop(out);
        if !was_full {
            self.dropping.set(false);
        } else if !now_full {
            self.room.notify_all();
        }
    }

    /// From now on, queue messages as they are rather than encoded: for a peer whose
    /// connections carry messages, not bytes (inproc). Called when the peer is made,
    /// before anything is queued (what is queued already is dropped).
    pub fn hold_messages(&self) {
        let mut out = self.out.borrow_mut();
        debug_assert_eq!(out.messages, 0, "hold_messages on a peer with a queue");
        out.queue = Held::Messages(VecDeque::new());
        out.ahead = Held::Messages(VecDeque::new());
        out.messages = 0;
    }

    /// True once [`Peer::hold_messages`] was called.
    pub fn holds_messages(&self) -> bool {
        matches!(self.out.borrow().queue, Held::Messages(_))
    }

    /// Driver side: true when something is waiting to be written.
    pub fn has_output(&self) -> bool {
        let out = self.out.borrow();
        out.messages != 0 || !out.ahead.is_empty() || !out.subscriptions.is_empty()
    }

    /// Messages from this peer waiting in the socket's receive queue.
    #[inline]
    pub fn inbound_queued(&self) -> usize {
        self.inbound.get()
    }

    /// How many more messages from this peer fit in the receive queue under `rcvhwm`
    /// (0 = no limit: `usize::MAX`).
    #[inline]
    pub fn inbound_room(&self, rcvhwm: usize) -> usize {
        match rcvhwm {
            0 => usize::MAX,
            hwm => hwm.saturating_sub(self.inbound.get()),
        }
    }

    /// Socket side: `n` messages from this peer entered the receive queue.
    #[inline]
    pub fn inbound_added(&self, n: usize) {
        self.inbound.set(self.inbound.get() + n);
    }

    /// Socket side: `n` messages from this peer left the receive queue; wakes the
    /// connection if it waits for room and the queue is now below `rcvhwm`.
    #[inline]
    pub fn inbound_taken(&self, n: usize, rcvhwm: usize) {
        self.inbound.set(self.inbound.get().saturating_sub(n));
        if self.inbound_room(rcvhwm) > 0 {
            if let Some(w) = self.inbound_waiter.borrow_mut().take() {
                w.wake();
            }
        }
    }

    /// Driver side: wake `waker` when the receive queue has room for this peer again.
    pub fn wait_inbound_room(&self, waker: &Waker) {
        *self.inbound_waiter.borrow_mut() = Some(waker.clone());
    }

    /// Forgets the connection waiting for receive room (it is gone).
    pub fn forget_inbound_waiter(&self) {
        self.inbound_waiter.borrow_mut().take();
    }

    /// Driver side: wake `waker` when something is queued or close is requested.
    pub fn register_writer(&self, waker: &Waker) {
        let mut out = self.out.borrow_mut();
        match &out.writer {
            Some(w) if w.will_wake(waker) => {}
            _ => out.writer = Some(waker.clone()),
        }
    }
}
