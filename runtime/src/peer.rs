//! A peer of a socket: its outbound queue (bounded by SNDHWM) and what its handshake
//! told us. Shared between the socket (which routes messages into it) and the
//! connection driver (which drains it onto the wire). Everything here lives on one
//! executor, so it uses `Rc` and `RefCell`, never locks.

use std::cell::{Cell, Ref, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::Waker;

use bytes::Bytes;
use monocoque_zmtp::PeerInfo;

use crate::message::Message;
use crate::notify::Notify;

/// Identifies a peer within its socket.
pub type PeerId = u64;

/// One remote peer of a socket (an accepted connection, or a connect endpoint whose
/// queue outlives reconnections).
#[derive(Debug)]
pub struct Peer {
    id: PeerId,
    remote: RefCell<String>,
    info: RefCell<Option<PeerInfo>>,
    routing_id: RefCell<Bytes>,
    out: RefCell<OutQueue>,
    closing: Cell<bool>,
    room: Rc<Notify>,
}

#[derive(Debug)]
struct OutQueue {
    messages: VecDeque<Message>,
    subscriptions: VecDeque<(Bytes, bool)>,
    hwm: usize,
    writer: Option<Waker>,
}

impl Peer {
    /// A peer with an empty queue holding at most `sndhwm` messages (0 = unbounded).
    /// `room` is woken whenever the queue drains below the mark.
    pub fn new(id: PeerId, remote: String, sndhwm: usize, room: Rc<Notify>) -> Peer {
        Peer {
            id,
            remote: RefCell::new(remote),
            info: RefCell::new(None),
            routing_id: RefCell::new(Bytes::new()),
            out: RefCell::new(OutQueue {
                messages: VecDeque::new(),
                subscriptions: VecDeque::new(),
                hwm: sndhwm,
                writer: None,
            }),
            closing: Cell::new(false),
            room,
        }
    }

    /// This peer's id within its socket.
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

    /// What the peer's handshake said; `None` while not connected.
    pub fn info(&self) -> Ref<'_, Option<PeerInfo>> {
        self.info.borrow()
    }

    /// True while a connection to this peer has completed its handshake.
    pub fn is_attached(&self) -> bool {
        self.info.borrow().is_some()
    }

    /// Records (or clears, on disconnect) the handshake result.
    pub fn set_info(&self, info: Option<PeerInfo>) {
        *self.info.borrow_mut() = info;
    }

    /// The routing id a ROUTER uses for this peer.
    pub fn routing_id(&self) -> Bytes {
        self.routing_id.borrow().clone()
    }

    /// Sets the routing id.
    pub fn set_routing_id(&self, id: Bytes) {
        *self.routing_id.borrow_mut() = id;
    }

    /// True when another message fits under SNDHWM.
    pub fn has_room(&self) -> bool {
        let out = self.out.borrow();
        out.hwm == 0 || out.messages.len() < out.hwm
    }

    /// Number of queued messages.
    pub fn queued(&self) -> usize {
        self.out.borrow().messages.len()
    }

    /// Queues `msg` unless the queue is at its high-water mark (then gives it back).
    // Handing the message back by value (no boxing) keeps the full-queue path free of
    // allocations; the size is that of the inline frame vector.
    #[allow(clippy::result_large_err)]
    pub fn try_send(&self, msg: Message) -> Result<(), Message> {
        let mut out = self.out.borrow_mut();
        if out.hwm != 0 && out.messages.len() >= out.hwm {
            return Err(msg);
        }
        out.messages.push_back(msg);
        if let Some(w) = out.writer.take() {
            w.wake();
        }
        Ok(())
    }

    /// Like [`Peer::try_send`] but without waking the connection: the message waits
    /// until [`Peer::flush`] or the next wake-up, so a batch goes out in one write.
    #[allow(clippy::result_large_err)]
    pub fn try_send_deferred(&self, msg: Message) -> Result<(), Message> {
        let mut out = self.out.borrow_mut();
        if out.hwm != 0 && out.messages.len() >= out.hwm {
            return Err(msg);
        }
        out.messages.push_back(msg);
        Ok(())
    }

    /// Wakes the connection if messages are waiting.
    pub fn flush(&self) {
        let mut out = self.out.borrow_mut();
        if !out.messages.is_empty() {
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
        self.out.borrow_mut().messages.clear();
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

    /// Driver side: takes the next message, waking blocked senders when the queue
    /// drops below the mark.
    pub fn pop_message(&self) -> Option<Message> {
        let mut out = self.out.borrow_mut();
        let was_full = out.hwm != 0 && out.messages.len() >= out.hwm;
        let msg = out.messages.pop_front();
        drop(out);
        if msg.is_some() && was_full {
            self.room.notify_all();
        }
        msg
    }

    /// Driver side: true when something is waiting to be written.
    pub fn has_output(&self) -> bool {
        let out = self.out.borrow();
        !out.messages.is_empty() || !out.subscriptions.is_empty()
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
