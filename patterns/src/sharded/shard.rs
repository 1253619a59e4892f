//! One core's part of a sharded socket: a local socket of the same type, the rings
//! to the other cores and the handle, and what it knows of the other cores.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use monocoque_runtime::{CoreContext, CoreService, Endpoint, Listener, RuntimeHandle};
use monocoque_runtime::{Inbox, Message, Notify, Outbox, PeerId};
use monocoque_zmtp::SocketType;

use super::mail::{Directory, Mail, Notice, Shared};
use super::registry;
use super::role::Role;
use crate::base::{ShardObserver, SocketBase};
use crate::options::Options;
use crate::pubsub::AtHwm;
use crate::stats::Counters;
use crate::AnySocket;

/// Retry interval for a core whose ring to another core is full.
pub(super) const RETRY: Duration = Duration::from_micros(50);

/// Where a shard's notices go.
#[derive(Clone, Copy)]
enum Dest {
    Core(usize),
    Handle,
}

/// The rings a shard is built with (made by the handle, which owns the mesh).
pub(super) struct ShardRings {
    /// To each other core (None at this core's own index).
    pub to_cores: Vec<Option<Outbox<Mail>>>,
    /// To the handle.
    pub to_handle: Outbox<Mail>,
    /// From the other cores.
    pub inbox: Inbox<Mail>,
    /// From the handle (what it sends on credit, see [`Shared`]).
    pub from_handle: Inbox<Mail>,
    /// What the handle and the cores share.
    pub shared: Arc<Shared>,
}

/// One core's part of a sharded socket.
pub(crate) struct Shard {
    id: u64,
    pub(super) index: usize,
    pub(super) cores: usize,
    pub(crate) base: Rc<SocketBase>,
    /// What the type does across cores.
    pub(super) role: Role,
    /// The local socket this shard is (`base` is its plumbing).
    pub(super) socket: AnySocket,
    to_cores: RefCell<Vec<Option<Outbox<Mail>>>>,
    to_handle: RefCell<Outbox<Mail>>,
    inbox: RefCell<Inbox<Mail>>,
    from_handle: RefCell<Inbox<Mail>>,
    pub(super) shared: Arc<Shared>,
    /// What the handle asked this core to send, waiting for the serving task.
    outgoing: RefCell<VecDeque<Message>>,
    /// Wakes the serving task when `outgoing` gets a message.
    outgoing_ready: Notify,
    serving: Cell<bool>,
    /// The serving task is handing a message to the socket.
    sending: Cell<bool>,
    /// Woken whenever the serving task (or the holding task) has handed one over.
    sent: Notify,
    /// XPUB_NODROP publishes from other cores that this core's subscribers had no
    /// room for, oldest first, each holding a unit of this core's `Shared::held`.
    held: RefCell<VecDeque<Message>>,
    /// The task publishing `held` is running.
    holding: Cell<bool>,
    /// Reused buffer for what `drain` takes from the rings.
    mail: RefCell<Vec<Mail>>,
    /// Notices that found a ring full, in order; nothing overtakes them.
    backlog: RefCell<VecDeque<(Dest, Mail)>>,
    /// The other cores' unions and routes.
    pub(super) directory: RefCell<Directory>,
    forwarding: Cell<bool>,
}

impl Shard {
    pub(super) fn new(
        id: u64,
        kind: SocketType,
        options: Options,
        ctx: &CoreContext,
        rings: ShardRings,
    ) -> Rc<Shard> {
        let socket = AnySocket::with_options(kind, options);
        let base = Rc::clone(socket.base());
        let role = Role::of(&socket);
        if let Some(router) = role.router() {
            // Generated routing ids must be unique over all cores.
            router.set_id_prefix(ctx.index() as u8);
        }
        let shard = Rc::new(Shard {
            id,
            index: ctx.index(),
            cores: ctx.cores(),
            base,
            role,
            socket,
            to_cores: RefCell::new(rings.to_cores),
            to_handle: RefCell::new(rings.to_handle),
            inbox: RefCell::new(rings.inbox),
            from_handle: RefCell::new(rings.from_handle),
            shared: rings.shared,
            outgoing: RefCell::default(),
            outgoing_ready: Notify::new(),
            serving: Cell::new(false),
            sending: Cell::new(false),
            sent: Notify::new(),
            held: RefCell::default(),
            holding: Cell::new(false),
            mail: RefCell::default(),
            backlog: RefCell::default(),
            directory: RefCell::new(Directory::new(ctx.cores())),
            forwarding: Cell::new(false),
        });
        let observer: Rc<dyn ShardObserver> = Rc::clone(&shard) as Rc<dyn ShardObserver>;
        shard.base.set_observer(Rc::downgrade(&observer));
        shard
    }

    /// Pushes `mail` into core `core`'s ring; never waits.
    #[allow(clippy::result_large_err)]
    pub(super) fn push_to(
        &self,
        core: usize,
        mail: Mail,
    ) -> Result<(), monocoque_runtime::ring::PushError<Mail>> {
        match self.to_cores.borrow_mut()[core].as_mut() {
            Some(out) => out.try_send(mail),
            None => Err(monocoque_runtime::ring::PushError::Closed(mail)),
        }
    }

    /// Hands core `core` an XPUB_NODROP publish whose unit of that core's
    /// `Shared::held` the caller took: like a notice, it is never lost (a full ring
    /// keeps it in the backlog, in order).
    pub(super) fn post_held(self: &Rc<Self>, core: usize, msg: &Message) {
        self.post(Dest::Core(core), Mail::PublishHeld(msg.clone()));
    }

    /// Sends a notice that must not be lost, keeping order with earlier notices.
    fn post(self: &Rc<Self>, dest: Dest, mail: Mail) {
        let mut backlog = self.backlog.borrow_mut();
        if !backlog.is_empty() {
            backlog.push_back((dest, mail));
            return;
        }
        if let Err(mail) = self.try_post(dest, mail) {
            backlog.push_back((dest, mail));
            drop(backlog);
            self.spawn_flusher();
        }
    }

    #[allow(clippy::result_large_err)]
    fn try_post(&self, dest: Dest, mail: Mail) -> Result<(), Mail> {
        let sent = match dest {
            Dest::Core(c) => self.push_to(c, mail),
            Dest::Handle => self.to_handle.borrow_mut().try_send(mail),
        };
        match sent {
            // A stopped core or a dropped handle needs no more notices.
            Err(e) if e.is_full() => Err(e.into_inner()),
            _ => Ok(()),
        }
    }

    fn spawn_flusher(self: &Rc<Self>) {
        let me = Rc::clone(self);
        self.base.lifecycle.spawn(async move {
            loop {
                let front = me.backlog.borrow_mut().pop_front();
                let Some((dest, mail)) = front else { break };
                if let Err(mail) = me.try_post(dest, mail) {
                    me.backlog.borrow_mut().push_front((dest, mail));
                    if me.base.lifecycle.is_closing() {
                        // Every core is closing this socket: notices are moot.
                        me.backlog.borrow_mut().clear();
                        break;
                    }
                    glommio::timer::sleep(RETRY).await;
                }
            }
        });
    }

    /// Tells every other core and the handle.
    fn broadcast(self: &Rc<Self>, notice: Notice) {
        let from = self.index;
        for core in (0..self.cores).filter(|&c| c != from) {
            let notice = notice.clone();
            self.post(Dest::Core(core), Mail::Notice { from, notice });
        }
        self.post(Dest::Handle, Mail::Notice { from, notice });
    }

    /// Accepts on this core and deals connections out to the cores in turn.
    pub(super) fn spawn_acceptor(
        self: &Rc<Self>,
        endpoint: &str,
        bound: &Endpoint,
        listener: Listener,
        rt: RuntimeHandle,
    ) {
        let (id, index) = (self.id, self.index);
        let base = Rc::clone(&self.base);
        let name = bound.to_string();
        self.base.listen(endpoint, bound, listener, move |stream| {
            // The runtime's turn, shared with every other sharded socket's connects
            // and acceptors.
            let target = rt.next_core();
            if target == index {
                base.adopt(&name, stream.into_stream());
            } else {
                let name = name.clone();
                rt.run_on(target, move || {
                    if let Some(shard) = registry::shard(id) {
                        shard.base.adopt(&name, stream.into_stream());
                    }
                });
            }
        });
    }

    /// Forwards everything this shard receives to the handle, in order. A REP's
    /// requests are forwarded by its serving task instead, one at a time, each after
    /// the last one's reply; a REQ's replies by the task that sent its request.
    pub(super) fn spawn_forwarder(self: &Rc<Self>) {
        if self.forwarding.replace(true) {
            return;
        }
        match self.base.kind {
            SocketType::Rep => return self.spawn_server(),
            SocketType::Req => return,
            _ => {}
        }
        let me = Rc::clone(self);
        self.base.lifecycle.spawn(async move {
            let lc = Rc::clone(&me.base.lifecycle);
            loop {
                let Some(Ok((peer, msg))) = lc.until_closing(me.base.recv()).await else {
                    break;
                };
                if !me.forward(Some(peer), msg).await {
                    break;
                }
            }
        });
    }

    /// Passes `msg` to the handle; false once the socket is closing.
    async fn forward(self: &Rc<Self>, peer: Option<PeerId>, msg: Message) -> bool {
        let from = self.index;
        self.post(Dest::Handle, Mail::Inbound { from, peer, msg });
        // Back-pressure: do not run ahead of a full ring.
        let lc = &self.base.lifecycle;
        while !self.backlog.borrow().is_empty() {
            if lc.is_aborted() {
                return false;
            }
            glommio::timer::sleep(RETRY).await;
        }
        !lc.is_closing()
    }

    /// Closes the shard, honouring LINGER, after what the handle handed this core
    /// has reached the socket: the mail still in the rings is taken, and the serving
    /// task's queue given up to LINGER to be handed over (it waits for peers or room
    /// as a send does). Then the socket's own close gives its queues what is left of
    /// LINGER: one LINGER bounds the whole close, as it bounds `zmq_close`. Once
    /// closed (by the handle), the runtime's stop finds nothing more to wait for.
    pub(super) async fn close_after_flush(self: &Rc<Self>) {
        if self.base.is_closed() {
            return;
        }
        let started = std::time::Instant::now();
        while CoreService::drain(self.as_ref(), usize::MAX) > 0 {}
        let linger = self.base.options.borrow().linger;
        let _ = crate::base::bounded(linger, |cx| {
            let idle = self.outgoing.borrow().is_empty() && !self.sending.get();
            if idle && self.held.borrow().is_empty() {
                return std::task::Poll::Ready(Ok(()));
            }
            self.sent.register(cx.waker());
            std::task::Poll::Pending
        })
        .await;
        let left = linger.map(|l| l.saturating_sub(started.elapsed()));
        self.base.close_within(left).await;
    }

    /// The next message the handle asked this core to send.
    async fn next_outgoing(&self) -> Message {
        std::future::poll_fn(|cx| match self.outgoing.borrow_mut().pop_front() {
            Some(msg) => std::task::Poll::Ready(msg),
            None => {
                self.outgoing_ready.register(cx.waker());
                std::task::Poll::Pending
            }
        })
        .await
    }

    /// Sends what the handle hands this core, through the core's own socket, giving
    /// the handle its credit back for each message the socket took. REQ forwards each
    /// request's reply; REP forwards a request, then sends the handle's reply.
    fn spawn_server(self: &Rc<Self>) {
        if self.serving.replace(true) {
            return;
        }
        let me = Rc::clone(self);
        self.base.lifecycle.spawn(async move {
            let lc = Rc::clone(&me.base.lifecycle);
            let kind = me.base.kind;
            loop {
                if kind == SocketType::Rep {
                    let Some(Ok(request)) = lc.until_closing(me.socket.recv()).await else {
                        break;
                    };
                    if !me.forward(None, request).await {
                        break;
                    }
                }
                let Some(msg) = lc.until_closing(me.next_outgoing()).await else {
                    break;
                };
                me.sending.set(true);
                let sent = match me.role.publisher() {
                    // An XPUB_NODROP publish from the handle (see receive_from_handle).
                    Some(publisher) => {
                        lc.until_closing(publisher.fan_out_when_room(&me.base, &msg))
                            .await
                    }
                    None => lc.until_closing(me.socket.send(msg)).await,
                };
                me.sending.set(false);
                me.sent.notify_all();
                me.shared.give_back(me.index, 1);
                match sent {
                    None => break,
                    Some(Err(e)) => {
                        tracing::debug!(kind = ?kind, error = %e, "sharded send from the handle failed");
                        continue;
                    }
                    Some(Ok(())) => {}
                }
                if kind == SocketType::Req {
                    let Some(Ok(reply)) = lc.until_closing(me.socket.recv()).await else {
                        break;
                    };
                    if !me.forward(None, reply).await {
                        break;
                    }
                }
            }
        });
    }

    /// Mail from another core or the handle.
    fn receive(&self, mail: Mail) {
        match mail {
            Mail::Publish(msg) => {
                if let Some(publisher) = self.role.publisher() {
                    let _ = publisher.fan_out(&self.base, &msg);
                }
            }
            Mail::PublishHeld(msg) => self.publish_held(msg),
            Mail::Deliver(mut msg) => {
                let Some(id) = msg.pop_front() else { return };
                let peer = self.role.router().and_then(|r| r.peer(&id));
                match peer {
                    Some(peer) if peer.has_room() => peer.queue(Cow::Owned(msg), true),
                    Some(peer) => self.base.dropped_at_hwm(&peer),
                    // The peer left while the message crossed.
                    None => Counters::add(&self.base.counters.unroutable, 1),
                }
            }
            Mail::Notice { from, notice } => self.directory.borrow_mut().learn(from, &notice),
            Mail::Evict { from, id } => {
                // The id's new owner is `from`; this core's peer with it goes.
                self.directory.borrow_mut().learn(
                    from,
                    &Notice::Route {
                        id: id.clone(),
                        added: true,
                    },
                );
                if let Some(peer) = self.role.router().and_then(|r| r.peer(&id)) {
                    peer.close();
                }
            }
            Mail::Send(msg) => {
                self.outgoing.borrow_mut().push_back(msg);
                self.outgoing_ready.notify_all();
            }
            // Only the handle reads received messages.
            Mail::Inbound { .. } => {}
        }
    }

    /// An XPUB_NODROP publish from another core: out now if every subscriber it is for
    /// has room and nothing held waits before it, otherwise held (in order) until they
    /// have. Its unit of `Shared::held` goes back once it is out (or dropped by a
    /// closing socket), so that its sender waits only while this core holds a full
    /// share.
    fn publish_held(&self, msg: Message) {
        let Some(publisher) = self.role.publisher() else {
            return self.shared.held[self.index].give_back(1);
        };
        if self.held.borrow().is_empty() {
            let now = publisher.fan_out_with(&self.base, &msg, AtHwm::Refuse);
            if !matches!(now, Ok(None)) {
                return self.shared.held[self.index].give_back(1);
            }
        }
        self.held.borrow_mut().push_back(msg);
        if !self.holding.replace(true) {
            if let Some(me) = registry::shard(self.id) {
                me.spawn_holder();
            }
        }
    }

    /// Publishes what `held` holds as its subscribers make room, oldest first.
    fn spawn_holder(self: &Rc<Self>) {
        let me = Rc::clone(self);
        self.base.lifecycle.spawn(async move {
            let lc = Rc::clone(&me.base.lifecycle);
            let publisher = me.role.publisher().expect("only a publisher holds");
            loop {
                let front = me.held.borrow().front().cloned();
                let Some(msg) = front else {
                    me.holding.set(false);
                    return;
                };
                let out = lc.until_closing(publisher.fan_out_when_room(&me.base, &msg));
                // Anything but out (closing, or the socket closed): drop what is held.
                if !matches!(out.await, Some(Ok(()))) {
                    break;
                }
                me.held.borrow_mut().pop_front();
                me.shared.held[me.index].give_back(1);
                me.sent.notify_all();
            }
            // Closing: what is still held goes with the socket's queues; its credit
            // goes back so that no sender waits for it.
            let dropped = me.held.borrow_mut().drain(..).count();
            me.shared.held[me.index].give_back(dropped);
            me.holding.set(false);
            me.sent.notify_all();
        });
    }

    /// Mail from the handle: served like the other cores' mail, with the handle's
    /// credit given back at once, except for messages to send (given back when the
    /// socket has taken them).
    fn receive_from_handle(self: &Rc<Self>, mail: Mail) -> usize {
        match mail {
            Mail::Send(msg) => {
                self.spawn_server();
                self.receive(Mail::Send(msg));
                0
            }
            Mail::Publish(msg) if self.base.options.borrow().xpub_nodrop => {
                // XPUB_NODROP: published now if every subscriber it is for has room
                // (and nothing from the handle waits before it); otherwise the server
                // publishes it when they do, and only then gives the credit back, so
                // the handle waits once this core's share of its credit is used up.
                // The handle counted it (`sent`), once for all cores.
                if self.outgoing.borrow().is_empty() {
                    if let Some(publisher) = self.role.publisher() {
                        let now = publisher.fan_out_with(&self.base, &msg, AtHwm::Refuse);
                        if !matches!(now, Ok(None)) {
                            return 1;
                        }
                    }
                }
                self.spawn_server();
                self.receive(Mail::Send(msg));
                0
            }
            other => {
                self.receive(other);
                1
            }
        }
    }
}

impl ShardObserver for Shard {
    fn union_changed(&self, topic: &Bytes, added: bool) {
        if let Some(me) = registry::shard(self.id) {
            me.broadcast(Notice::Union {
                topic: topic.clone(),
                added,
            });
        }
    }

    fn route_changed(&self, id: &Bytes, added: bool) {
        if let Some(me) = registry::shard(self.id) {
            me.broadcast(Notice::Route {
                id: id.clone(),
                added,
            });
        }
    }

    fn route_elsewhere(&self, id: &Bytes) -> Option<usize> {
        self.directory
            .borrow()
            .owner(id)
            .filter(|&core| core != self.index)
    }

    fn hand_over(&self, owner: usize, id: &Bytes) {
        if let Some(me) = registry::shard(self.id) {
            let from = self.index;
            me.post(
                Dest::Core(owner),
                Mail::Evict {
                    from,
                    id: id.clone(),
                },
            );
        }
    }

    fn targets_changed(&self, targets: usize) {
        self.shared.set_targets(self.index, targets);
    }
}

impl CoreService for Shard {
    fn drain(&self, max: usize) -> usize {
        let mut mail = std::mem::take(&mut *self.mail.borrow_mut());
        let n = self.inbox.borrow_mut().drain(max, |m| mail.push(m));
        for m in mail.drain(..) {
            self.receive(m);
        }
        let from_handle = self.from_handle.borrow_mut().drain(max, |m| mail.push(m));
        if from_handle > 0 {
            // The shard is registered while it serves (the pump holds it too).
            if let Some(me) = registry::shard(self.id) {
                let done: usize = mail.drain(..).map(|m| me.receive_from_handle(m)).sum();
                if done > 0 {
                    self.shared.give_back(self.index, done);
                }
            }
            mail.clear();
        }
        *self.mail.borrow_mut() = mail;
        n + from_handle
    }

    fn prepare_park(&self) -> bool {
        if !self.inbox.borrow_mut().prepare_park() {
            return false;
        }
        if !self.from_handle.borrow_mut().prepare_park() {
            self.inbox.borrow().cancel_park();
            return false;
        }
        true
    }

    fn cancel_park(&self) {
        self.inbox.borrow().cancel_park();
        self.from_handle.borrow().cancel_park();
    }

    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()>>> {
        let base = Rc::clone(&self.base);
        let id = self.id;
        let shared = Arc::clone(&self.shared);
        let me = registry::shard(id);
        Box::pin(async move {
            match me {
                Some(me) => me.close_after_flush().await,
                None => base.close().await,
            }
            registry::forget(id);
            // A handle waiting for this core's credit or peers learns that the
            // runtime stopped.
            shared.wakers.wake_all();
        })
    }
}
