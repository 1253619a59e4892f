//! Sharded sockets: one socket spread over every core of a [`Runtime`].
//!
//! Each core holds a *shard*: an ordinary local socket of the same type that serves the
//! connections that core owns. A bound sharded socket accepts on the first core and
//! hands each new connection to the next core in turn; a connecting one places its
//! connections on the cores in turn. A connection stays on its core for its whole life.
//!
//! Cores talk only through the runtime's SPSC rings, with these operations:
//! - `PUBLISH`: fan a message out to this core's matching subscribers (PUB, XPUB);
//! - `DELIVER`: route a message (first frame: routing id) to a peer of this core (ROUTER);
//! - `UNION`: a core's subscription union gained or lost a topic, so publishers can skip
//!   cores with no matching subscriber;
//! - `ROUTE`: a routing id appeared on or left a core;
//! - `INBOUND`: a message received on a core, for the socket-wide reader.
//!
//! Use a sharded socket either through handlers that run on every core
//! ([`ShardedSocket::on_each_core`], each serving its own core's peers with no
//! cross-core traffic), or through the `Send` handle itself ([`ShardedSocket::send`] and
//! [`ShardedSocket::recv`] from any thread), not both for receiving.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ahash::AHashMap;
use bytes::Bytes;
use monocoque_runtime::doorbell::Doorbell;
use monocoque_runtime::log_limit::{limited, LogLimit};
use monocoque_runtime::mesh::{link, Inbox, Outbox};
use monocoque_runtime::ring::PushError;
use monocoque_runtime::{
    CoreContext, CrossHandler, CrossMsg, Endpoint, Message, Runtime, RuntimeHandle,
};
use monocoque_zmtp::SocketType;

use crate::core::{Core, CoreObserver};
use crate::error::{Error, Result};
use crate::options::Options;
use crate::stats::{Counters, PeerStats, Stats};
use crate::subscriptions::SubscriptionSet;

thread_local! {
    static ACCEPT_FAILED: LogLimit = const { LogLimit::new() };
}

const OP_PUBLISH: u8 = 1;
const OP_DELIVER: u8 = 2;
const OP_UNION: u8 = 3;
const OP_ROUTE: u8 = 4;
const OP_INBOUND: u8 = 5;

/// How long a blocked plain thread sleeps before looking at its rings again even
/// without a doorbell (a safety net when the handle moves between threads).
const PARK_LIMIT: Duration = Duration::from_millis(5);
/// Retry interval for a core whose ring to another core is full.
const RETRY: Duration = Duration::from_micros(50);

static NEXT_SOCKET: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static SHARDS: RefCell<AHashMap<u64, Rc<Shard>>> = RefCell::new(AHashMap::default());
}

fn shard(id: u64) -> Option<Rc<Shard>> {
    SHARDS.with(|s| s.borrow().get(&id).cloned())
}

/// A socket spread over every core of a [`Runtime`]: a `Send + Sync` handle.
///
/// ```no_run
/// use monocoque::{Options, ShardedSocket, SocketType};
/// use monocoque_runtime::Runtime;
///
/// let rt = Runtime::builder().build()?;
/// let publisher = ShardedSocket::new(&rt, SocketType::Pub, Options::default());
/// publisher.bind("tcp://127.0.0.1:5556")?;
/// publisher.send(vec!["prices.ACME", "101.5"])?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ShardedSocket {
    inner: Arc<Inner>,
}

struct Inner {
    id: u64,
    kind: SocketType,
    options: Options,
    rt: RuntimeHandle,
    next_core: AtomicUsize,
    forwarding: std::sync::atomic::AtomicBool,
    /// Set by [`ShardedSocket::close`].
    closed: std::sync::atomic::AtomicBool,
    external: Mutex<External>,
}

/// The handle's own end of the mesh.
struct External {
    to_cores: Vec<Option<Outbox<CrossMsg>>>,
    inbox: Inbox<CrossMsg>,
    /// Each core's subscription union (PUB, XPUB).
    unions: Vec<SubscriptionSet>,
    /// Routing id → owning core (ROUTER).
    routes: AHashMap<Bytes, usize>,
    /// XPUB: how many cores have each topic, to pass a topic up once.
    topics: AHashMap<Bytes, usize>,
    pending: VecDeque<Message>,
    /// Reused buffer for what `absorb` takes from the rings.
    mail: Vec<CrossMsg>,
    /// What the handle itself sent, received and dropped.
    stats: Stats,
}

impl ShardedSocket {
    /// Creates a socket of `kind` with a shard on every core of `rt`.
    pub fn new(rt: &Runtime, kind: SocketType, options: Options) -> ShardedSocket {
        let handle = rt.handle();
        let id = NEXT_SOCKET.fetch_add(1, Ordering::Relaxed);
        let cores = handle.cores();
        let bell = Arc::new(Doorbell::Thread(std::thread::current()));
        let mut inbox = Inbox::default();
        let mut to_cores = Vec::with_capacity(cores);
        for core in 0..cores {
            let (to_me, from_core) = link(handle.mesh_capacity(), Arc::clone(&bell));
            inbox.add(from_core);
            let opts = options.clone();
            handle.run_on(core, move || {
                let ctx = CoreContext::current().expect("runs on a runtime core");
                let shard = Shard::new(id, kind, opts, &ctx, to_me);
                ctx.register(id, Rc::clone(&shard) as Rc<dyn CrossHandler>);
                SHARDS.with(|s| s.borrow_mut().insert(id, shard));
            });
            to_cores.push(handle.outbox_to(core));
        }
        ShardedSocket {
            inner: Arc::new(Inner {
                id,
                kind,
                options,
                rt: handle,
                next_core: AtomicUsize::new(0),
                forwarding: std::sync::atomic::AtomicBool::new(false),
                closed: std::sync::atomic::AtomicBool::new(false),
                external: Mutex::new(External {
                    to_cores,
                    inbox,
                    unions: (0..cores).map(|_| SubscriptionSet::default()).collect(),
                    routes: AHashMap::default(),
                    topics: AHashMap::default(),
                    pending: VecDeque::new(),
                    mail: Vec::new(),
                    stats: Stats::default(),
                }),
            }),
        }
    }

    /// The socket type.
    pub fn kind(&self) -> SocketType {
        self.inner.kind
    }

    /// Runs `job` with this socket's shard on `core` and waits for its answer.
    /// Must be called from a plain thread, not from one of the runtime's cores.
    fn ask<T: Send + 'static>(
        &self,
        core: usize,
        job: impl FnOnce(&Rc<Shard>) -> T + Send + 'static,
    ) -> Result<T> {
        if CoreContext::current().is_some() {
            // Blocking on a core for an answer from a core could wait for itself.
            return Err(Error::State(
                "call this ShardedSocket method from a plain thread, not from a runtime core",
            ));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let id = self.inner.id;
        let sent = self.inner.rt.run_on(core, move || {
            if let Some(shard) = shard(id) {
                let _ = tx.send(job(&shard));
            }
        });
        if !sent {
            return Err(Error::Closed);
        }
        rx.recv().map_err(|_| Error::Closed)
    }

    /// Binds `endpoint` on the first core, which accepts and hands each new connection
    /// to the next core in turn. Returns the endpoint bound. Call from a plain thread.
    pub fn bind(&self, endpoint: &str) -> Result<Endpoint> {
        self.check_open()?;
        let endpoint = endpoint.to_string();
        let id = self.inner.id;
        let rt = self.inner.rt.clone();
        self.ask(0, move |shard| {
            let (listener, bound) = shard.core.open_listener(&endpoint)?;
            shard.spawn_acceptor(listener, id, rt);
            Ok(bound)
        })?
    }

    /// Connects to `endpoint` from the next core in turn (N connects spread N
    /// connections over the cores). Returns at once; the connection is made and kept in
    /// the background.
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        self.check_open()?;
        let ep: Endpoint = endpoint.parse()?;
        if let Endpoint::Tcp { .. } = ep {
            ep.socket_addrs()?;
        }
        let core = self.inner.next_core.fetch_add(1, Ordering::Relaxed) % self.inner.rt.cores();
        let endpoint = endpoint.to_string();
        let id = self.inner.id;
        self.inner.rt.run_on(core, move || {
            if let Some(shard) = shard(id) {
                if let Err(e) = shard.core.connect(&endpoint) {
                    tracing::warn!(%endpoint, error = %e, "sharded connect failed");
                }
            }
        });
        Ok(())
    }

    /// SUB/XSUB: subscribes every core's shard to `prefix`.
    pub fn subscribe(&self, prefix: &[u8]) -> Result<()> {
        self.change_subscription(prefix, true)
    }

    /// SUB/XSUB: removes one subscription to `prefix` on every core.
    pub fn unsubscribe(&self, prefix: &[u8]) -> Result<()> {
        self.change_subscription(prefix, false)
    }

    fn change_subscription(&self, prefix: &[u8], subscribe: bool) -> Result<()> {
        self.check_open()?;
        for core in 0..self.inner.rt.cores() {
            let prefix = prefix.to_vec();
            self.ask(core, move |shard| {
                shard.core.change_subscription(&prefix, subscribe)
            })??;
        }
        Ok(())
    }

    /// Peers whose handshake completed, per core. Call from a plain thread.
    pub fn peers_per_core(&self) -> Result<Vec<usize>> {
        (0..self.inner.rt.cores())
            .map(|core| self.ask(core, |shard| shard.core.attached_peers()))
            .collect()
    }

    /// Runs `f` on every core with that core's shard; the returned future runs as a
    /// task there, serving the peers of that core.
    pub fn on_each_core<F, Fut>(&self, f: F)
    where
        F: Fn(ShardRef) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let id = self.inner.id;
        self.inner.rt.on_each_core(move |_| {
            let shard = shard(id).map(|shard| ShardRef { shard });
            let fut = shard.map(&f);
            async move {
                if let Some(fut) = fut {
                    fut.await
                }
            }
        });
    }

    /// The whole socket's counters: every core's shard plus this handle's own sends
    /// and receives (a message published from one core or the handle counts once in
    /// `sent`; each core whose ring was full counts once in `dropped_ring`). Asks
    /// every core, so call it from a plain thread: from a runtime core it fails with
    /// [`Error::State`] (use [`ShardRef::stats`] there for that core's share).
    pub fn stats(&self) -> Result<Stats> {
        let cores = (0..self.inner.rt.cores())
            .map(|core| self.ask(core, |shard| shard.core.stats()))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.external().stats + cores.into_iter().sum())
    }

    /// Fails with [`Error::Closed`] once [`ShardedSocket::close`] was called or the
    /// runtime has stopped.
    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) || self.inner.rt.is_stopped() {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    fn external(&self) -> std::sync::MutexGuard<'_, External> {
        self.inner.external.lock().expect("sharded socket lock")
    }

    /// Sends from outside the runtime. PUB/XPUB: publishes to every core that has a
    /// matching subscriber (the payload is shared, never copied); a core whose ring is
    /// full misses the message. ROUTER: delivers to the core that owns the routing id
    /// (first frame); unknown ids are dropped, or [`Error::HostUnreachable`] with
    /// ROUTER_MANDATORY. Other types are sharded for `on_each_core` handlers only.
    pub fn send(&self, msg: impl Into<Message>) -> Result<()> {
        self.check_open()?;
        let msg = crate::socket::non_empty(msg.into())?;
        let mut ext = self.external();
        ext.absorb(self.inner.kind, self.inner.options.xpub_verbose);
        match self.inner.kind {
            SocketType::Pub | SocketType::XPub => {
                let topic = msg[0].clone();
                for core in 0..ext.to_cores.len() {
                    if !ext.unions[core].matches(&topic) {
                        continue;
                    }
                    let cross = cross(self.inner.id, OP_PUBLISH, 0, msg.clone());
                    let pushed = match ext.to_cores[core].as_mut() {
                        Some(out) => out.try_send(cross),
                        None => Err(PushError::Closed(cross)),
                    };
                    match pushed {
                        Ok(()) => {}
                        Err(e) if e.is_closed() => return Err(Error::Closed),
                        Err(_) => ext.stats.dropped_ring += 1,
                    }
                }
                ext.stats.sent += 1;
                Ok(())
            }
            SocketType::Router => {
                let Some(&core) = ext.routes.get(&msg[0]) else {
                    return if self.inner.options.router_mandatory {
                        Err(Error::HostUnreachable(msg[0].to_vec()))
                    } else {
                        ext.stats.unroutable += 1;
                        Ok(())
                    };
                };
                let mut cross = cross(self.inner.id, OP_DELIVER, 0, msg);
                loop {
                    let Some(out) = ext.to_cores[core].as_mut() else {
                        return Err(Error::Closed);
                    };
                    match out.try_send(cross) {
                        Ok(()) => {
                            ext.stats.sent += 1;
                            return Ok(());
                        }
                        Err(e) if e.is_closed() => return Err(Error::Closed),
                        Err(e) if self.inner.options.router_mandatory => {
                            cross = e.into_inner();
                            std::thread::yield_now();
                        }
                        Err(_) => {
                            ext.stats.sent += 1;
                            ext.stats.dropped_ring += 1;
                            return Ok(());
                        }
                    }
                }
            }
            _ => Err(Error::State(
                "this sharded socket type sends from on_each_core handlers",
            )),
        }
    }

    /// Receives the next message from any core (fair-queued), waiting up to `timeout`
    /// (`None`: forever). ROUTER messages start with the routing id; XPUB gets each
    /// topic's subscription once over all cores (every one with XPUB_VERBOSE).
    pub fn recv_timeout(&self, timeout: Option<Duration>) -> Result<Option<Message>> {
        if CoreContext::current().is_some() {
            // Parking a core's thread would stall the very core that must forward.
            return Err(Error::State(
                "receive through ShardRef on a runtime core; ShardedSocket::recv is for plain threads",
            ));
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        self.start_forwarding();
        loop {
            // Closed meanwhile (a parked reader notices within PARK_LIMIT).
            self.check_open()?;
            {
                let mut ext = self.external();
                ext.absorb(self.inner.kind, self.inner.options.xpub_verbose);
                if let Some(msg) = ext.pending.pop_front() {
                    ext.stats.received += 1;
                    return Ok(Some(msg));
                }
                // Every core is gone: their rings closed and are drained.
                if ext.inbox.rings() == 0 {
                    return Err(Error::Closed);
                }
                if !ext.inbox.prepare_park() {
                    continue;
                }
            }
            let wait = match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        self.external().inbox.cancel_park();
                        return Ok(None);
                    }
                    (d - now).min(PARK_LIMIT)
                }
                None => PARK_LIMIT,
            };
            std::thread::park_timeout(wait);
            self.external().inbox.cancel_park();
        }
    }

    /// Receives the next message from any core, waiting as long as it takes.
    pub fn recv(&self) -> Result<Message> {
        self.recv_timeout(None).map(|m| m.expect("no deadline"))
    }

    /// Makes every core forward what its shard receives to this handle (once).
    fn start_forwarding(&self) {
        if self.inner.forwarding.swap(true, Ordering::Relaxed) {
            return;
        }
        let id = self.inner.id;
        for core in 0..self.inner.rt.cores() {
            self.inner.rt.run_on(core, move || {
                if let Some(shard) = shard(id) {
                    shard.spawn_forwarder();
                }
            });
        }
    }

    /// Closes the shard on every core (LINGER honoured) and waits for it. Afterwards
    /// every method of this socket (and of its clones) fails with [`Error::Closed`].
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let id = self.inner.id;
        for core in 0..self.inner.rt.cores() {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let sent = self.inner.rt.run_on(core, move || {
                if let Some(shard) = shard(id) {
                    glommio::spawn_local(async move {
                        shard.core.close().await;
                        let _ = tx.send(());
                    })
                    .detach();
                }
            });
            if sent {
                let _ = rx.recv();
            }
        }
    }
}

impl External {
    /// Applies routing and union updates from the cores; queues inbound messages.
    fn absorb(&mut self, kind: SocketType, verbose: bool) {
        let mut mail = std::mem::take(&mut self.mail);
        self.inbox.drain(1024, |m| mail.push(m));
        for m in mail.drain(..) {
            let from = m.from as usize;
            match m.op {
                OP_UNION => {
                    if m.arg == 1 {
                        self.unions[from].add(&m.msg[0]);
                    } else {
                        self.unions[from].remove(&m.msg[0]);
                    }
                }
                OP_ROUTE => {
                    if m.arg == 1 {
                        self.routes.insert(m.msg[0].clone(), from);
                    } else if self.routes.get(&m.msg[0]) == Some(&from) {
                        self.routes.remove(&m.msg[0]);
                    }
                }
                OP_INBOUND => {
                    if kind == SocketType::XPub && !verbose && !self.first_or_last(&m.msg) {
                        continue;
                    }
                    self.pending.push_back(m.msg);
                }
                _ => {}
            }
        }
        self.mail = mail;
    }

    /// XPUB: whether a core's `\x01topic`/`\x00topic` is the first subscription or the
    /// last cancellation of that topic over all cores.
    fn first_or_last(&mut self, msg: &Message) -> bool {
        let frame = &msg[0];
        if msg.len() != 1 || frame.is_empty() || frame[0] > 1 {
            return true;
        }
        let topic = frame.slice(1..);
        if frame[0] == 1 {
            let n = self.topics.entry(topic).or_insert(0);
            *n += 1;
            *n == 1
        } else {
            match self.topics.get_mut(&topic) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    false
                }
                Some(_) => {
                    self.topics.remove(&topic);
                    true
                }
                None => false,
            }
        }
    }
}

fn cross(socket: u64, op: u8, arg: u64, msg: Message) -> CrossMsg {
    CrossMsg {
        socket,
        op,
        from: 0,
        arg,
        msg,
    }
}

/// Where a shard's notices go.
#[derive(Clone, Copy)]
enum Dest {
    Core(usize),
    External,
}

/// One core's part of a sharded socket.
pub(crate) struct Shard {
    id: u64,
    index: usize,
    cores: usize,
    pub(crate) core: Rc<Core>,
    ctx: Rc<CoreContext>,
    to_external: RefCell<Outbox<CrossMsg>>,
    /// Notices that found a ring full, in order; nothing overtakes them.
    backlog: RefCell<VecDeque<(Dest, CrossMsg)>>,
    /// Other cores' subscription unions (PUB, XPUB).
    unions: RefCell<Vec<SubscriptionSet>>,
    /// Routing ids that live on other cores (ROUTER).
    remote_routes: RefCell<AHashMap<Bytes, usize>>,
    forwarding: std::cell::Cell<bool>,
}

impl Shard {
    fn new(
        id: u64,
        kind: SocketType,
        options: Options,
        ctx: &Rc<CoreContext>,
        to_external: Outbox<CrossMsg>,
    ) -> Rc<Shard> {
        let core = Core::new(kind, options);
        // Generated routing ids must be unique over all cores.
        core.set_id_prefix(ctx.index() as u8);
        let shard = Rc::new(Shard {
            id,
            index: ctx.index(),
            cores: ctx.cores(),
            core,
            ctx: Rc::clone(ctx),
            to_external: RefCell::new(to_external),
            backlog: RefCell::new(VecDeque::new()),
            unions: RefCell::new(
                (0..ctx.cores())
                    .map(|_| SubscriptionSet::default())
                    .collect(),
            ),
            remote_routes: RefCell::new(AHashMap::default()),
            forwarding: std::cell::Cell::new(false),
        });
        let observer: Rc<dyn CoreObserver> = Rc::clone(&shard) as Rc<dyn CoreObserver>;
        shard.core.set_observer(Rc::downgrade(&observer));
        shard
    }

    fn mark(&self, op: u8, arg: u64, msg: Message) -> CrossMsg {
        CrossMsg {
            socket: self.id,
            op,
            from: self.index as u16,
            arg,
            msg,
        }
    }

    /// Sends a notice that must not be lost, keeping order with earlier notices.
    fn post(self: &Rc<Self>, dest: Dest, msg: CrossMsg) {
        let mut backlog = self.backlog.borrow_mut();
        if backlog.is_empty() {
            match self.try_post(dest, msg) {
                Ok(()) => return,
                Err(msg) => backlog.push_back((dest, msg)),
            }
            drop(backlog);
            self.spawn_flusher();
        } else {
            backlog.push_back((dest, msg));
        }
    }

    #[allow(clippy::result_large_err)]
    fn try_post(&self, dest: Dest, msg: CrossMsg) -> std::result::Result<(), CrossMsg> {
        let sent = match dest {
            Dest::Core(c) => self.ctx.send_to(c, msg),
            Dest::External => self.to_external.borrow_mut().try_send(msg),
        };
        match sent {
            // A stopped core or a dropped handle needs no more notices.
            Err(e) if e.is_full() => Err(e.into_inner()),
            _ => Ok(()),
        }
    }

    fn spawn_flusher(self: &Rc<Self>) {
        let me = Rc::clone(self);
        self.core.lifecycle.spawn(async move {
            loop {
                let front = me.backlog.borrow_mut().pop_front();
                let Some((dest, msg)) = front else { break };
                if let Err(msg) = me.try_post(dest, msg) {
                    me.backlog.borrow_mut().push_front((dest, msg));
                    if me.core.lifecycle.is_closing() {
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
    fn broadcast(self: &Rc<Self>, op: u8, arg: u64, key: &Bytes) {
        for core in (0..self.cores).filter(|&c| c != self.index) {
            self.post(
                Dest::Core(core),
                self.mark(op, arg, Message::single(key.clone())),
            );
        }
        self.post(
            Dest::External,
            self.mark(op, arg, Message::single(key.clone())),
        );
    }

    /// Accepts on this core and deals connections out to the cores in turn.
    fn spawn_acceptor(
        self: &Rc<Self>,
        listener: monocoque_runtime::Listener,
        id: u64,
        rt: RuntimeHandle,
    ) {
        let me = Rc::clone(self);
        let lc = Rc::clone(&self.core.lifecycle);
        self.core.lifecycle.spawn(async move {
            let mut next = 0usize;
            loop {
                let accepted = futures_lite::future::or(
                    async { Some(listener.accept_shared().await) },
                    async {
                        lc.closing().await;
                        None
                    },
                )
                .await;
                match accepted {
                    None => break,
                    Some(Ok(stream)) => {
                        let target = next % me.cores;
                        next = next.wrapping_add(1);
                        if target == me.index {
                            me.core.adopt(stream.into_stream());
                        } else {
                            rt.run_on(target, move || {
                                if let Some(shard) = shard(id) {
                                    shard.core.adopt(stream.into_stream());
                                }
                            });
                        }
                    }
                    Some(Err(e)) => {
                        limited(&ACCEPT_FAILED, |suppressed| {
                            tracing::warn!(error = %e, suppressed, "sharded accept failed")
                        });
                        glommio::timer::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        });
    }

    /// Forwards everything this shard receives to the handle, in order.
    fn spawn_forwarder(self: &Rc<Self>) {
        if self.forwarding.replace(true) {
            return;
        }
        let me = Rc::clone(self);
        self.core.lifecycle.spawn(async move {
            let lc = Rc::clone(&me.core.lifecycle);
            loop {
                let next = futures_lite::future::or(async { me.core.recv().await.ok() }, async {
                    lc.closing().await;
                    None
                })
                .await;
                let Some((_, msg)) = next else { break };
                let cross = me.mark(OP_INBOUND, 0, msg);
                me.post(Dest::External, cross);
                // Back-pressure: do not run ahead of a full ring.
                while !me.backlog.borrow().is_empty() && !lc.is_aborted() {
                    glommio::timer::sleep(RETRY).await;
                }
            }
        });
    }
}

impl CoreObserver for Shard {
    fn union_changed(&self, topic: &Bytes, added: bool) {
        if let Some(me) = shard(self.id) {
            me.broadcast(OP_UNION, u64::from(added), topic);
        }
    }

    fn route_changed(&self, id: &Bytes, added: bool) {
        if let Some(me) = shard(self.id) {
            me.broadcast(OP_ROUTE, u64::from(added), id);
        }
    }
}

impl CrossHandler for Shard {
    fn on_cross(&self, mut m: CrossMsg) {
        let from = m.from as usize;
        match m.op {
            OP_PUBLISH => {
                let _ = self.core.fan_out(&m.msg);
            }
            OP_DELIVER => {
                let Some(id) = m.msg.pop_front() else { return };
                let peer = self.core.routing.borrow().routes.get(&id).cloned();
                match peer {
                    Some(peer) if peer.try_send(&m.msg).is_err() => self.core.dropped_at_hwm(&peer),
                    Some(_) => {}
                    // The peer left while the message crossed.
                    None => Counters::add(&self.core.counters.unroutable, 1),
                }
            }
            OP_UNION => {
                let mut unions = self.unions.borrow_mut();
                if m.arg == 1 {
                    unions[from].add(&m.msg[0]);
                } else {
                    unions[from].remove(&m.msg[0]);
                }
            }
            OP_ROUTE => {
                let mut routes = self.remote_routes.borrow_mut();
                if m.arg == 1 {
                    routes.insert(m.msg[0].clone(), from);
                } else if routes.get(&m.msg[0]) == Some(&from) {
                    routes.remove(&m.msg[0]);
                }
            }
            _ => {}
        }
    }

    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()>>> {
        let core = Rc::clone(&self.core);
        let id = self.id;
        Box::pin(async move {
            core.close().await;
            SHARDS.with(|s| s.borrow_mut().remove(&id));
        })
    }
}

/// One core's share of a [`ShardedSocket`], given to [`ShardedSocket::on_each_core`]
/// handlers. It serves the peers this core owns; sends reach other cores' peers where
/// the socket type needs it (PUB fan-out, ROUTER routing ids).
#[derive(Clone)]
pub struct ShardRef {
    shard: Rc<Shard>,
}

impl ShardRef {
    /// This core's index in the runtime.
    pub fn core_index(&self) -> usize {
        self.shard.index
    }

    /// Peers of this core whose handshake completed.
    pub fn peer_count(&self) -> usize {
        self.shard.core.attached_peers()
    }

    /// This core's share of the socket's counters: what was sent from this core (and
    /// what its rings to other cores missed), and what this core's peers missed at
    /// SNDHWM, whoever published it. [`ShardedSocket::stats`] adds up every core.
    pub fn stats(&self) -> Stats {
        self.shard.core.stats()
    }

    /// Each of this core's peers' queue and the messages it missed at SNDHWM.
    pub fn peer_stats(&self) -> Vec<PeerStats> {
        self.shard.core.peer_stats()
    }

    /// Receives the next message from this core's peers.
    pub async fn recv(&self) -> Result<Message> {
        self.shard.core.recv_message().await
    }

    /// Sends as the socket type does, across cores where needed: PUB/XPUB publish to
    /// matching subscribers on every core; ROUTER routes by id to whichever core owns
    /// the peer; the other types send to this core's peers.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        let msg = crate::socket::non_empty(msg.into())?;
        let shard = &self.shard;
        let core = &shard.core;
        match core.kind {
            SocketType::Pub | SocketType::XPub => {
                let marked = core.fan_out(&msg)?;
                Counters::add(&core.counters.sent, 1);
                for other in (0..shard.cores).filter(|&c| c != shard.index) {
                    if shard.unions.borrow()[other].matches(&msg[0]) {
                        let sent = shard
                            .ctx
                            .send_to(other, shard.mark(OP_PUBLISH, 0, msg.clone()));
                        if sent.is_err() {
                            // PUB semantics: a core whose ring is full misses it.
                            Counters::add(&core.counters.dropped_ring, 1);
                        }
                    }
                }
                // As Pub::send: let this core's connections write what built up, and
                // the executor run its other tasks.
                if marked {
                    core.yield_now().await;
                }
                Ok(())
            }
            SocketType::Router => {
                let mandatory = core.options.borrow().router_mandatory;
                let local = core.routing.borrow().routes.get(&msg[0]).cloned();
                if let Some(peer) = local {
                    let mut msg = msg;
                    msg.pop_front();
                    return core.send_to(&peer, &msg, mandatory).await;
                }
                core.pace().await;
                let remote = shard.remote_routes.borrow().get(&msg[0]).copied();
                match remote {
                    Some(other) => {
                        let mut cross = shard.mark(OP_DELIVER, 0, msg);
                        loop {
                            match shard.ctx.send_to(other, cross) {
                                Ok(()) => break,
                                Err(back) if mandatory && back.is_full() => {
                                    cross = back.into_inner();
                                    glommio::timer::sleep(RETRY).await;
                                }
                                Err(back) => {
                                    if back.is_full() {
                                        Counters::add(&core.counters.dropped_ring, 1);
                                    }
                                    break;
                                }
                            }
                        }
                        Counters::add(&core.counters.sent, 1);
                        Ok(())
                    }
                    None if mandatory => Err(Error::HostUnreachable(msg[0].to_vec())),
                    None => {
                        Counters::add(&core.counters.unroutable, 1);
                        Ok(())
                    }
                }
            }
            SocketType::Sub | SocketType::XSub | SocketType::Pull => {
                Err(Error::State("this socket type does not send"))
            }
            _ => core.send_load_balanced(&msg, false).await.map(drop),
        }
    }
}
