//! One core's part of a sharded socket: a local socket of the same type, the rings
//! to the other cores and the handle, and what it knows of the other cores.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use monocoque_runtime::{spawn_listener, CoreContext, CoreService, Listener, RuntimeHandle};
use monocoque_runtime::{Inbox, Outbox};
use monocoque_zmtp::SocketType;

use super::mail::{Directory, Mail, Notice};
use super::registry;
use super::role::Role;
use crate::base::{ShardObserver, SocketBase};
use crate::options::Options;
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
    /// From the other cores and the handle.
    pub inbox: Inbox<Mail>,
}

/// One core's part of a sharded socket.
pub(crate) struct Shard {
    id: u64,
    pub(super) index: usize,
    pub(super) cores: usize,
    pub(crate) base: Rc<SocketBase>,
    /// What the type does across cores.
    pub(super) role: Role,
    /// The local socket this shard is (kept for its state; `base` is its plumbing).
    _socket: AnySocket,
    to_cores: RefCell<Vec<Option<Outbox<Mail>>>>,
    to_handle: RefCell<Outbox<Mail>>,
    inbox: RefCell<Inbox<Mail>>,
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
            _socket: socket,
            to_cores: RefCell::new(rings.to_cores),
            to_handle: RefCell::new(rings.to_handle),
            inbox: RefCell::new(rings.inbox),
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
    pub(super) fn spawn_acceptor(self: &Rc<Self>, listener: Listener, rt: RuntimeHandle) {
        let (id, index) = (self.id, self.index);
        let base = Rc::clone(&self.base);
        spawn_listener(
            &self.base.lifecycle,
            listener,
            self.base.clone(),
            move |stream| {
                // The runtime's turn, shared with every other sharded socket's
                // connects and acceptors.
                let target = rt.next_core();
                if target == index {
                    base.adopt(stream.into_stream());
                } else {
                    rt.run_on(target, move || {
                        if let Some(shard) = registry::shard(id) {
                            shard.base.adopt(stream.into_stream());
                        }
                    });
                }
            },
        );
    }

    /// Forwards everything this shard receives to the handle, in order.
    pub(super) fn spawn_forwarder(self: &Rc<Self>) {
        if self.forwarding.replace(true) {
            return;
        }
        let me = Rc::clone(self);
        self.base.lifecycle.spawn(async move {
            let lc = Rc::clone(&me.base.lifecycle);
            loop {
                let Some(Ok((_, msg))) = lc.until_closing(me.base.recv()).await else {
                    break;
                };
                me.post(Dest::Handle, Mail::Inbound(msg));
                // Back-pressure: do not run ahead of a full ring.
                while !me.backlog.borrow().is_empty() && !lc.is_aborted() {
                    glommio::timer::sleep(RETRY).await;
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
            Mail::Deliver(mut msg) => {
                let Some(id) = msg.pop_front() else { return };
                let peer = self.role.router().and_then(|r| r.peer(&id));
                match peer {
                    Some(peer) if peer.try_send(&msg).is_err() => self.base.dropped_at_hwm(&peer),
                    Some(_) => {}
                    // The peer left while the message crossed.
                    None => Counters::add(&self.base.counters.unroutable, 1),
                }
            }
            Mail::Notice { from, notice } => self.directory.borrow_mut().learn(from, &notice),
            // Only the handle reads received messages.
            Mail::Inbound(_) => {}
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
}

impl CoreService for Shard {
    fn drain(&self, max: usize) -> usize {
        let mut mail = std::mem::take(&mut *self.mail.borrow_mut());
        let n = self.inbox.borrow_mut().drain(max, |m| mail.push(m));
        for m in mail.drain(..) {
            self.receive(m);
        }
        *self.mail.borrow_mut() = mail;
        n
    }

    fn prepare_park(&self) -> bool {
        self.inbox.borrow_mut().prepare_park()
    }

    fn cancel_park(&self) {
        self.inbox.borrow().cancel_park();
    }

    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()>>> {
        let base = Rc::clone(&self.base);
        let id = self.id;
        Box::pin(async move {
            base.close().await;
            registry::forget(id);
        })
    }
}
