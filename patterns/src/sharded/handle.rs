//! [`ShardedSocket`]: the `Send + Sync` handle of a socket spread over a runtime's
//! cores, usable from any plain thread.

use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ahash::AHashMap;
use bytes::Bytes;
use monocoque_runtime::ring::PushError;
use monocoque_runtime::Doorbell;
use monocoque_runtime::{link, Inbox, Outbox};
use monocoque_runtime::{
    CoreContext, CoreService, CoreTasks, Endpoint, Message, PeerId, Runtime, RuntimeHandle,
};
use smallvec::SmallVec;

use super::monitor::{CoreEvent, ShardedMonitor};
use monocoque_zmtp::SocketType;

use super::mail::{Directory, Mail, Shared};
use super::registry;
use super::shard::{Shard, ShardRings};
use super::ShardRef;
use crate::error::{Error, Result, TrySendError};
use crate::options::Options;
use crate::stats::{PeerStats, Stats};

/// A socket spread over every core of a [`Runtime`]: a `Send + Sync` handle.
///
/// ```no_run
/// use monocoque::{Options, Runtime, ShardedSocket, SocketType};
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
    forwarding: AtomicBool,
    /// Set by [`ShardedSocket::close`].
    closed: AtomicBool,
    /// Credit, peer counts and the handle's waiters, shared with the cores.
    shared: Arc<Shared>,
    external: Mutex<External>,
}

/// The handle's own end of the mesh.
struct External {
    to_cores: Vec<Option<Outbox<Mail>>>,
    inbox: Inbox<Mail>,
    /// Every core's unions and routes.
    directory: Directory,
    /// XPUB: how many cores have each topic, to pass a topic up once.
    topics: AHashMap<Bytes, usize>,
    /// Received messages (with their sender where it is known), by the core each
    /// came from.
    pending: Vec<VecDeque<(Option<PeerId>, Message)>>,
    /// XPUB_MANUAL: the core and subscriber of the request `recv` returned last.
    last_requester: Option<(usize, PeerId)>,
    /// Messages in `pending`.
    queued: usize,
    /// The core `pop` looks at first (fair-queueing over the cores).
    next_from: usize,
    /// REQ: the core its outstanding request went to.
    req_out: Option<usize>,
    /// REP: the core the request being answered came from.
    rep_to: Option<usize>,
    /// DEALER, PUSH, REQ, PAIR: turns taken in the round-robin over all peers.
    turn: usize,
    /// Reused buffer for what `absorb` takes from the rings.
    mail: Vec<Mail>,
    /// What the handle itself sent, received and dropped.
    stats: Stats,
}

impl ShardedSocket {
    /// Creates a socket of `kind` with a shard on every core of `rt`.
    pub fn new(rt: &Runtime, kind: SocketType, options: Options) -> ShardedSocket {
        let handle = rt.handle();
        let id = registry::next_id();
        let cores = handle.cores();
        let shared = Arc::new(Shared::new(cores, handle.mesh_capacity()));
        let (mut rings, external) = mesh(&handle, &shared);
        for (core, rings) in rings.drain(..).enumerate() {
            let mut opts = options.clone();
            // Per connect: see ShardedSocket::connect_with_id.
            opts.connect_routing_id = None;
            // The limits are the handle's (its blocking send and recv): the cores'
            // own tasks that forward to and from it wait as long as it takes.
            opts.sndtimeo = None;
            opts.rcvtimeo = None;
            handle.run_on(core, move || {
                let ctx = CoreContext::current().expect("runs on a runtime core");
                let shard = Shard::new(id, kind, opts, &ctx, rings);
                ctx.register(Rc::clone(&shard) as Rc<dyn CoreService>);
                registry::insert(id, shard);
            });
        }
        ShardedSocket {
            inner: Arc::new(Inner {
                id,
                kind,
                options,
                rt: handle,
                forwarding: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                shared,
                external: Mutex::new(External {
                    to_cores: external.to_cores,
                    inbox: external.inbox,
                    directory: Directory::new(cores),
                    topics: AHashMap::default(),
                    pending: (0..cores).map(|_| VecDeque::new()).collect(),
                    queued: 0,
                    last_requester: None,
                    next_from: 0,
                    req_out: None,
                    rep_to: None,
                    turn: 0,
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
        self.ask_task(core, move |shard| std::future::ready(job(&shard)))
    }

    /// [`ShardedSocket::ask`] for a job that must wait on the core (a future run as
    /// one of its tasks).
    fn ask_task<T, Fut>(
        &self,
        core: usize,
        job: impl FnOnce(Rc<Shard>) -> Fut + Send + 'static,
    ) -> Result<T>
    where
        T: Send + 'static,
        Fut: Future<Output = T> + 'static,
    {
        if CoreContext::current().is_some() {
            return Err(Error::State(
                "call this ShardedSocket method from a plain thread, not from a runtime core",
            ));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let id = self.inner.id;
        let sent = self.inner.rt.run_on(core, move || {
            if let Some(shard) = registry::shard(id) {
                glommio::spawn_local(async move {
                    let _ = tx.send(job(shard).await);
                })
                .detach();
            }
        });
        if !sent {
            return Err(Error::Closed);
        }
        rx.recv().map_err(|_| Error::Closed)
    }

    /// Stops connecting to `endpoint` on whichever core connected to it, as
    /// [`Dealer::disconnect`](crate::Dealer::disconnect) does. Blocks until every
    /// core has done it; call it from a plain thread.
    pub fn disconnect(&self, endpoint: &str) -> Result<()> {
        self.check_open()?;
        let mut found = false;
        for core in 0..self.inner.rt.cores() {
            let name = endpoint.to_string();
            match self.ask(core, move |shard| shard.base.disconnect(&name))? {
                Ok(()) => found = true,
                Err(Error::NoSuchEndpoint(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if found {
            Ok(())
        } else {
            Err(Error::NoSuchEndpoint(endpoint.to_string()))
        }
    }

    /// Stops listening on `endpoint` and closes the connections accepted there, on
    /// every core, as [`Dealer::unbind`](crate::Dealer::unbind) does; returns once the
    /// port can be bound again. Call it from a plain thread.
    pub fn unbind(&self, endpoint: &str) -> Result<()> {
        self.check_open()?;
        let name = endpoint.to_string();
        // The first core listens; the others know the endpoint by its bound name.
        let bound = self.ask_task(0, move |shard| async move {
            shard.base.unbind_resolved(&name).await
        })??;
        for core in 1..self.inner.rt.cores() {
            let bound = bound.clone();
            let closed =
                self.ask_task(
                    core,
                    move |shard| async move { shard.base.unbind(&bound).await },
                )?;
            match closed {
                Ok(()) | Err(Error::NoSuchEndpoint(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Binds `endpoint` on the first core, which accepts and hands each new connection
    /// to the core the runtime's placement chooses ([`RuntimeHandle::next_core`]).
    /// Returns the endpoint bound. It waits for the first core: call it from any
    /// thread but a runtime core's (from a tokio task, it blocks that worker briefly;
    /// `spawn_blocking` if that matters).
    pub fn bind(&self, endpoint: &str) -> Result<Endpoint> {
        self.check_open()?;
        let endpoint = endpoint.to_string();
        let rt = self.inner.rt.clone();
        self.ask(0, move |shard| {
            let (listener, bound) = shard.base.open_listener(&endpoint)?;
            shard.spawn_acceptor(&endpoint, &bound, listener, rt);
            Ok(bound)
        })?
    }

    /// Connects to `endpoint` from the core the runtime's placement chooses
    /// ([`RuntimeHandle::next_core`]: one choice for every sharded socket of the
    /// runtime, so N sockets with one connect each spread as N connects of one socket
    /// do). Returns once that core has started connecting (at once when called from a
    /// runtime core): from then on DEALER, PUSH and REQ sends count the connection in
    /// their round-robin, as libzmq's do. The connection is made (and remade) in the
    /// background; [`ShardedSocket::peers_per_core`] counts it once its handshake is
    /// done, [`RuntimeHandle::connections_per_core`] at once.
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        self.connect_on(self.inner.rt.next_core(), endpoint)
    }

    /// [`ShardedSocket::connect`] from core `core` (an index into the runtime's cores),
    /// for an application that knows where the connection belongs.
    ///
    /// ```no_run
    /// use monocoque::{Options, Runtime, ShardedSocket, SocketType};
    /// let rt = Runtime::builder().cores(vec![0, 1]).build()?;
    /// let dealer = ShardedSocket::new(&rt, SocketType::Dealer, Options::default());
    /// dealer.connect_on(1, "tcp://127.0.0.1:5555")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_on(&self, core: usize, endpoint: &str) -> Result<()> {
        self.connect_from(core, endpoint, None)
    }

    /// ROUTER: [`ShardedSocket::connect`], naming that peer `id` as
    /// [`Router::connect_with_id`](crate::Router::connect_with_id) does: every core
    /// and the handle can send to it by `id` at once (when called from a plain
    /// thread, as soon as this returns), before the connection is made. This is how
    /// a sharded ROUTER uses CONNECT_ROUTING_ID: its shards ignore
    /// [`Options::connect_routing_id`], since a socket spread over cores has no single
    /// "next connect". Fails as `connect_with_id` does (an invalid or taken `id`: from a
    /// runtime core, the connect is started in the background and such a failure is
    /// only logged), or with [`Error::Unsupported`] on other socket types.
    ///
    /// ```no_run
    /// use monocoque::{Options, Runtime, ShardedSocket, SocketType};
    /// let rt = Runtime::builder().build()?;
    /// let router = ShardedSocket::new(&rt, SocketType::Router, Options::default());
    /// router.connect_with_id("tcp://127.0.0.1:5555", &b"backend"[..])?;
    /// router.send(vec!["backend", "hello"])?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_with_id(&self, endpoint: &str, id: impl Into<Bytes>) -> Result<()> {
        if self.inner.kind != SocketType::Router {
            return Err(Error::Unsupported {
                socket: self.inner.kind,
                op: "connect with a routing id",
            });
        }
        self.connect_from(self.inner.rt.next_core(), endpoint, Some(id.into()))
    }

    /// Connects from core `core`, naming the peer `id` (ROUTER) if given.
    fn connect_from(&self, core: usize, endpoint: &str, id: Option<Bytes>) -> Result<()> {
        self.check_open()?;
        let cores = self.inner.rt.cores();
        if core >= cores {
            return Err(Error::NoSuchCore { core, cores });
        }
        // Refused here as the shard would refuse it (from a core, the shard's
        // connect runs later and can only log).
        crate::base::check_connect(&endpoint.parse()?, &self.inner.options.link())?;
        let endpoint = endpoint.to_string();
        if CoreContext::current().is_none() {
            // From a plain thread, wait for the core: when this returns the peer
            // exists, and DEALER/PUSH/REQ sends already count it in their turns (as
            // libzmq's connect makes the pipe at once).
            return self.ask(core, move |shard| connect_shard(shard, &endpoint, id))?;
        }
        let socket = self.inner.id;
        self.inner.rt.run_on(core, move || {
            if let Some(shard) = registry::shard(socket) {
                if let Err(e) = connect_shard(&shard, &endpoint, id) {
                    tracing::warn!(%endpoint, error = %e, "sharded connect failed");
                }
            }
        });
        Ok(())
    }

    /// SUB/XSUB: subscribes every core's shard to `prefix`.
    ///
    /// XPUB with XPUB_MANUAL: subscribes the subscriber whose request
    /// [`ShardedSocket::recv`] (or `recv_async`, `try_recv`) returned last to
    /// `prefix`, on the core that serves it, as [`XPub::subscribe`](crate::XPub::subscribe)
    /// does for a local XPUB; nothing if no request was received yet or its
    /// subscriber has gone. Under XPUB_MANUAL every request is passed up, from every
    /// core. It waits for the core to apply the change, so what the handle publishes
    /// next is routed by it; it fails with [`Error::State`] on a runtime core (use
    /// [`ShardRef::subscribe`] there) or without XPUB_MANUAL.
    ///
    /// ```no_run
    /// use monocoque::{Options, Runtime, ShardedSocket, SocketType};
    ///
    /// let rt = Runtime::builder().build()?;
    /// let options = Options::default().xpub_manual(true);
    /// let xpub = ShardedSocket::new(&rt, SocketType::XPub, options);
    /// xpub.bind("tcp://127.0.0.1:5557")?;
    /// let request = xpub.recv()?; // b"\x01" and the topic a subscriber asked for
    /// if request[0].starts_with(b"\x01") {
    ///     xpub.subscribe(b"granted.")?; // what it gets instead
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscribe(&self, prefix: &[u8]) -> Result<()> {
        match self.inner.kind {
            SocketType::XPub => self.manual_change(prefix, true),
            _ => self.change_subscription(prefix, true),
        }
    }

    /// SUB/XSUB: removes one subscription to `prefix` on every core. XPUB with
    /// XPUB_MANUAL: unsubscribes the subscriber of the request received last, as
    /// [`ShardedSocket::subscribe`].
    pub fn unsubscribe(&self, prefix: &[u8]) -> Result<()> {
        match self.inner.kind {
            SocketType::XPub => self.manual_change(prefix, false),
            _ => self.change_subscription(prefix, false),
        }
    }

    fn change_subscription(&self, prefix: &[u8], subscribe: bool) -> Result<()> {
        self.check_open()?;
        for core in 0..self.inner.rt.cores() {
            let prefix = prefix.to_vec();
            self.ask(core, move |shard| match shard.role.subscriber() {
                Some(subscriber) => {
                    crate::pubsub::change_subscription(&shard.base, subscriber, &prefix, subscribe)
                }
                None => Err(Error::State("only SUB and XSUB sockets subscribe")),
            })??;
        }
        Ok(())
    }

    /// Peers whose handshake completed, per core. Call from a plain thread.
    pub fn peers_per_core(&self) -> Result<Vec<usize>> {
        (0..self.inner.rt.cores())
            .map(|core| self.ask(core, |shard| shard.base.attached_peers()))
            .collect()
    }

    /// Runs `f` on every core with that core's shard; the returned future runs as a
    /// task there, serving the peers of that core. [`CoreTasks::join`] (from a plain
    /// thread) collects what the tasks return, in core order; a core whose shard is
    /// gone (the socket closed) is reported as
    /// [`CoreTaskLost`](monocoque_runtime::CoreTaskLost).
    ///
    /// ```no_run
    /// use monocoque::{Options, Runtime, ShardedSocket, SocketType};
    /// let rt = Runtime::builder().cores(vec![0, 1]).build()?;
    /// let router = ShardedSocket::new(&rt, SocketType::Router, Options::default());
    /// router.bind("tcp://127.0.0.1:5555")?;
    /// // Each core answers its own peers' first 100 requests, then says how many
    /// // bytes it saw.
    /// let bytes = router
    ///     .on_each_core(|shard| async move {
    ///         let mut seen = 0;
    ///         for _ in 0..100 {
    ///             let msg = shard.recv().await?;
    ///             seen += msg.byte_len();
    ///             shard.send(msg).await?;
    ///         }
    ///         Ok::<usize, monocoque::Error>(seen)
    ///     })
    ///     .join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_each_core<F, Fut, T>(&self, f: F) -> CoreTasks<T>
    where
        F: Fn(ShardRef) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        let id = self.inner.id;
        let closed = self.inner.closed.load(Ordering::Acquire);
        self.inner.rt.on_each_core_where(move |_| {
            let shard = registry::shard(id).filter(|_| !closed)?;
            Some(f(ShardRef { shard }))
        })
    }

    /// One stream of the monitor events of every core's shard, each tagged with its
    /// core ([`ShardedMonitor`]). Call from a plain thread: it waits until every core
    /// watches, so that no event after this call returns is missed.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use monocoque::{MonitorEvent, Options, Runtime, ShardedSocket, SocketType};
    /// let rt = Runtime::builder().cores(vec![0, 1]).build()?;
    /// let router = ShardedSocket::new(&rt, SocketType::Router, Options::default());
    /// let monitor = router.monitor()?;
    /// router.bind("tcp://127.0.0.1:5555")?;
    /// while let Some(e) = monitor.recv_timeout(Duration::from_secs(1)) {
    ///     if let MonitorEvent::Accepted { remote } = &e.event {
    ///         println!("{remote} on core {}", e.core);
    ///     }
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn monitor(&self) -> Result<ShardedMonitor> {
        self.check_open()?;
        let events = Arc::new(super::monitor::Events::default());
        for core in 0..self.inner.rt.cores() {
            let events = Arc::clone(&events);
            self.ask(core, move |shard| {
                let queue = crate::Monitor {
                    queue: shard.base.monitor(),
                };
                let lifecycle = Rc::clone(&shard.base.lifecycle);
                events.join();
                shard.base.lifecycle.spawn(async move {
                    // Until the shard closes (its close waits for its tasks), or the
                    // monitor is dropped.
                    while let Some(event) = lifecycle.until_closing(queue.recv()).await {
                        if !events.push(CoreEvent { core, event }) {
                            break;
                        }
                    }
                    events.leave();
                });
            })?;
        }
        Ok(ShardedMonitor { events })
    }

    /// The whole socket's counters: every core's shard plus what only the handle
    /// sees. Each message counts once: one published (PUB, XPUB) or routed (ROUTER)
    /// from a core or the handle once in `sent`; one the handle hands a core to send
    /// (DEALER, PUSH, PAIR, REQ, REP) in that core's `sent`, an XSUB's on each core it
    /// is sent on; one received, in `received` of the core that received it, whoever
    /// reads it. Each core whose ring was full counts once in `dropped_ring`. Asks
    /// every core, so call it from a plain thread: from a runtime core it fails with
    /// [`Error::State`] (use [`ShardRef::stats`] there for that core's share).
    pub fn stats(&self) -> Result<Stats> {
        let cores = (0..self.inner.rt.cores())
            .map(|core| self.ask(core, |shard| shard.base.stats()))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.external().stats + cores.into_iter().sum())
    }

    /// Every core's peers' queues and SNDHWM drops ([`ShardRef::peer_stats`] of each
    /// core), core 0's first. Asks every core, so call it from a plain thread: from a
    /// runtime core it fails with [`Error::State`].
    pub fn peer_stats(&self) -> Result<Vec<PeerStats>> {
        let mut all = Vec::new();
        for core in 0..self.inner.rt.cores() {
            all.extend(self.ask(core, |shard| shard.base.peer_stats())?);
        }
        Ok(all)
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

    /// Sends `msg` as the socket type does, over all cores, waiting (without blocking
    /// any thread) while it cannot be handed on. A future for any executor: tokio,
    /// async-std, a plain `block_on`; it is woken by the cores, never by a timer.
    ///
    /// - PUB/XPUB: published to every core with a matching subscriber (the payload is
    ///   shared, never copied); a core with no room for it misses it. Never waits,
    ///   except under XPUB_NODROP, where it waits until every such core takes it
    ///   ([`Options::xpub_nodrop`]).
    /// - ROUTER: delivered to the core that owns the routing id (first frame); unknown
    ///   ids are dropped, or [`Error::HostUnreachable`] under ROUTER_MANDATORY, which
    ///   also waits for room instead of dropping.
    /// - DEALER, PUSH, PAIR: round-robin over the peers of all cores (each core gets
    ///   its share of the turns); waits while no peer anywhere has room, or none is
    ///   connected, as libzmq's `zmq_send` does.
    /// - REQ: a request to the next peer in turn; then [`ShardedSocket::recv_async`]
    ///   must take its reply before the next request ([`Error::State`] otherwise).
    /// - REP: the reply to the request received last.
    /// - XSUB: a (un)subscription, passed up on every core.
    ///
    /// What the handle has taken and a core has not yet handed to its socket waits in
    /// that core's ring from the handle: besides each peer's SNDHWM, up to
    /// [`RuntimeBuilder::mesh_capacity`](crate::RuntimeBuilder::mesh_capacity)
    /// messages per core (4096 by default) can be accepted before a send waits; size
    /// that, or SNDHWM, for the memory large messages may take.
    ///
    /// Cancel-safe: if the future is dropped before it completes, the message is
    /// still sent, by a task on one of the runtime's cores (waiting there as the
    /// future would have).
    ///
    /// ```no_run
    /// use monocoque::{Options, Runtime, ShardedSocket, SocketType};
    ///
    /// let rt = Runtime::builder().build()?;
    /// let dealer = ShardedSocket::new(&rt, SocketType::Dealer, Options::default());
    /// dealer.connect("tcp://127.0.0.1:5555")?;
    /// let tokio = tokio::runtime::Builder::new_current_thread().build()?;
    /// tokio.block_on(async {
    ///     dealer.send_async(vec!["", "hello"]).await?;
    ///     let reply = dealer.recv_async().await?;
    ///     println!("{} frames back", reply.len());
    ///     Ok::<(), monocoque::Error>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn send_async(&self, msg: impl Into<Message>) -> Result<()> {
        let mut pending = PendingSend {
            socket: self,
            msg: Some(crate::socket_macros::non_empty(msg.into())?),
            done: 0,
        };
        std::future::poll_fn(|cx| {
            let PendingSend { msg, done, .. } = &mut pending;
            let sent = self.poll_send(cx, msg, done);
            if sent.is_ready() {
                // Handed on (or failed): nothing left for the guard.
                *msg = None;
            }
            sent
        })
        .await
    }

    /// Hands `msg` on as [`ShardedSocket::send_async`] would, if that needs no wait,
    /// or gives it back: [`Error::WouldBlock`] when no peer (DEALER, PUSH, PAIR, REQ)
    /// or core (ROUTER_MANDATORY, REP, XSUB: every core or none) can take it now.
    /// Works from any thread, runtime cores included.
    pub fn try_send(&self, msg: impl Into<Message>) -> std::result::Result<(), TrySendError> {
        use crate::socket_macros::{by_ref, try_sending};
        try_sending(
            msg.into(),
            by_ref(|msg| {
                self.check_open()?;
                let mut ext = self.external();
                ext.absorb(self.inner.kind, self.every_subscription());
                if self.inner.kind == SocketType::XSub {
                    return self.try_send_everywhere(&mut ext, msg);
                }
                let mut done = 0;
                match self.try_hand_on(&mut ext, msg.clone(), &mut done) {
                    Handed::Done(result) => result,
                    Handed::Wait(_) => Err(Error::WouldBlock),
                }
            }),
        )
    }

    /// XSUB's `try_send`: credit on every core first (given back if one has none),
    /// so that a message refused reached no core and can be offered again.
    fn try_send_everywhere(&self, ext: &mut External, msg: &Message) -> Result<()> {
        let cores: SmallVec<[usize; 8]> = (0..ext.to_cores.len()).collect();
        if !self.inner.shared.take_on_all(&cores) {
            return Err(Error::WouldBlock);
        }
        for core in cores {
            push(&mut ext.to_cores, core, Mail::Send(msg.clone())).map_err(|_| Error::Closed)?;
        }
        Ok(())
    }

    /// Finishes, on a core, a send whose future was dropped while it waited.
    fn finish_in_background(&self, msg: Message, done: usize) {
        let socket = self.clone();
        let core = self.inner.rt.next_core();
        self.inner.rt.run_on(core, move || {
            glommio::spawn_local(async move {
                let mut msg = Some(msg);
                let mut done = done;
                let sent =
                    std::future::poll_fn(|cx| socket.poll_send(cx, &mut msg, &mut done)).await;
                if let Err(e) = sent {
                    tracing::debug!(error = %e, "a cancelled sharded send failed");
                }
            })
            .detach();
        });
    }

    /// [`ShardedSocket::send_async`] for a plain thread: blocks it until the message
    /// is handed on, for at most SNDTIMEO ([`Options::sndtimeo`]; then
    /// [`Error::Timeout`], and the message was not sent — a PUB's may have reached
    /// some cores). From a runtime core this fails with [`Error::State`] (a core that
    /// blocked could be the one it waits for): use [`ShardRef::send`] there.
    pub fn send(&self, msg: impl Into<Message>) -> Result<()> {
        self.check_not_on_core(
            "ShardedSocket::send blocks its thread; on a runtime core use send_async().await (or a ShardRef from ShardedSocket::on_each_core)",
        )?;
        let mut msg = Some(crate::socket_macros::non_empty(msg.into())?);
        let mut done = 0;
        let deadline = self.inner.options.sndtimeo.map(|t| Instant::now() + t);
        block_until(deadline, |cx| self.poll_send(cx, &mut msg, &mut done))
            .unwrap_or(Err(Error::Timeout))
    }

    /// Receives the next message from any core, fair-queued, as the socket type does:
    /// ROUTER messages start with the routing id; XPUB gets each topic's subscription
    /// once over all cores (every one with XPUB_VERBOSE); REQ gets the reply to its
    /// request, REP the next request. A future for any executor, woken by the cores'
    /// doorbell (never by a timer). Receiving through the handle and through
    /// [`ShardRef::recv`] on the same socket is not supported: each message goes to
    /// one of them.
    pub async fn recv_async(&self) -> Result<Message> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Receives the next message, blocking this thread up to `timeout` (`None`:
    /// forever); `Ok(None)` when the time is up. From a runtime core this fails with
    /// [`Error::State`]: use [`ShardRef::recv`] there.
    pub fn recv_timeout(&self, timeout: Option<Duration>) -> Result<Option<Message>> {
        self.check_not_on_core(
            "ShardedSocket::recv blocks its thread; on a runtime core use recv_async().await (or a ShardRef from ShardedSocket::on_each_core)",
        )?;
        let deadline = timeout.map(|t| Instant::now() + t);
        block_until(deadline, |cx| self.poll_recv(cx)).transpose()
    }

    /// Receives the next message, blocking this thread for at most RCVTIMEO
    /// ([`Options::rcvtimeo`]; then [`Error::Timeout`]), by default as long as it
    /// takes.
    pub fn recv(&self) -> Result<Message> {
        self.recv_timeout(self.inner.options.rcvtimeo)?
            .ok_or(Error::Timeout)
    }

    /// The next message if one has already arrived from any core (`Ok(None)` if
    /// not), without blocking or waiting.
    pub fn try_recv(&self) -> Result<Option<Message>> {
        // No waker registered and no ring parked: nobody would wait for them.
        self.take_received().transpose()
    }

    /// XPUB: every subscription is passed up (XPUB_VERBOSE, or XPUB_MANUAL, where
    /// each request is the application's to decide).
    fn every_subscription(&self) -> bool {
        self.inner.options.xpub_verbose || self.inner.options.xpub_manual
    }

    fn manual_change(&self, topic: &[u8], subscribe: bool) -> Result<()> {
        if !self.inner.options.xpub_manual {
            return Err(Error::State(
                "an XPUB subscribes its peers itself only with XPUB_MANUAL",
            ));
        }
        self.check_open()?;
        let Some((core, peer)) = self.external().last_requester else {
            return Ok(());
        };
        let topic = Bytes::copy_from_slice(topic);
        // Done on the core and waited for: the union change it causes is in the
        // handle's ring before this returns, so the handle's next publish sees it.
        self.ask(core, move |shard| {
            if let Some(publisher) = shard.role.publisher() {
                publisher.manual_change_for(&shard.base, peer, &topic, subscribe);
            }
        })
    }

    fn check_not_on_core(&self, what: &'static str) -> Result<()> {
        if CoreContext::current().is_some() {
            // Parking a core's thread would stall the very core that must forward.
            Err(Error::State(what))
        } else {
            Ok(())
        }
    }

    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Result<Message>> {
        loop {
            if let Some(received) = self.take_received() {
                return Poll::Ready(received);
            }
            // Register, then park on the rings (which looks at them once more): a core
            // that pushes after this wakes us. The park flags stay raised from an
            // earlier wait (no cancel_park): another reader may still be waiting on
            // them, and the cores' next push must wake it. It costs at most one
            // spurious wake-up per wait.
            self.inner.shared.wakers.register(cx.waker());
            if self.external().inbox.prepare_park() {
                return Poll::Pending;
            }
        }
    }

    /// The next received message if one has arrived, or why there can be none; None
    /// when there is nothing yet.
    fn take_received(&self) -> Option<Result<Message>> {
        self.start_forwarding();
        if let Err(e) = self.check_open() {
            return Some(Err(e));
        }
        let mut ext = self.external();
        ext.absorb(self.inner.kind, self.every_subscription());
        match self.inner.kind {
            SocketType::Req if ext.req_out.is_none() => {
                return Some(Err(Error::State(
                    "REQ must send a request before receiving",
                )))
            }
            SocketType::Rep if ext.rep_to.is_some() => {
                return Some(Err(Error::State(
                    "REP must send the reply before receiving another request",
                )))
            }
            _ => {}
        }
        if let Some((from, peer, msg)) = ext.pop() {
            match self.inner.kind {
                SocketType::Req => ext.req_out = None,
                SocketType::Rep => ext.rep_to = Some(from),
                SocketType::XPub => ext.last_requester = peer.map(|p| (from, p)),
                _ => {}
            }
            // Counted in `received` by the core that forwarded it.
            return Some(Ok(msg));
        }
        // Every core is gone: their rings closed and are drained.
        (ext.inbox.rings() == 0).then_some(Err(Error::Closed))
    }

    /// One attempt (two, around announcing a wait) at handing `msg` on; `done` counts
    /// the cores an XSUB's message has reached.
    fn poll_send(
        &self,
        cx: &mut Context<'_>,
        msg: &mut Option<Message>,
        done: &mut usize,
    ) -> Poll<Result<()>> {
        let shared = &self.inner.shared;
        let mut announced = false;
        loop {
            self.check_open()?;
            let mut ext = self.external();
            ext.absorb(self.inner.kind, self.every_subscription());
            let m = msg.take().expect("polled after completion");
            match self.try_hand_on(&mut ext, m, done) {
                Handed::Done(result) => return Poll::Ready(result),
                Handed::Wait(back) => *msg = Some(back),
            }
            drop(ext);
            if announced {
                return Poll::Pending;
            }
            // Register, announce, and look once more: a core that makes room after
            // this wakes us.
            shared.wakers.register(cx.waker());
            shared.signal.prepare_wait();
            announced = true;
        }
    }

    #[allow(clippy::result_large_err)]
    fn try_hand_on(&self, ext: &mut External, msg: Message, done: &mut usize) -> Handed {
        let shared = &self.inner.shared;
        let kind = self.inner.kind;
        match kind {
            SocketType::Pub | SocketType::XPub => {
                let External {
                    directory,
                    to_cores,
                    stats,
                    ..
                } = ext;
                let invert = self.inner.options.invert_matching;
                if self.inner.options.xpub_nodrop {
                    // Every core the message is for takes it, or none does (the cores
                    // give the credit back once their subscribers had room).
                    let cores: SmallVec<[usize; 8]> =
                        directory.cores_for(&msg, None, invert).collect();
                    if !shared.take_on_all(&cores) {
                        return Handed::Wait(msg);
                    }
                    for &core in &cores {
                        if push(to_cores, core, Mail::Publish(msg.clone())).is_err() {
                            return Handed::Done(Err(Error::Closed));
                        }
                    }
                    stats.sent += 1;
                    return Handed::Done(Ok(()));
                }
                let published = directory.publish(&msg, None, invert, |core, mail| {
                    if !shared.credit[core].try_take() {
                        return Err(PushError::Full(mail));
                    }
                    push(to_cores, core, mail)
                });
                if published.closed {
                    return Handed::Done(Err(Error::Closed));
                }
                stats.dropped_ring += published.full;
                stats.sent += 1;
                Handed::Done(Ok(()))
            }
            SocketType::Router => {
                let Some(core) = ext.directory.owner(&msg[0]) else {
                    return Handed::Done(if self.inner.options.router_mandatory {
                        Err(Error::HostUnreachable(msg[0].to_vec()))
                    } else {
                        ext.stats.unroutable += 1;
                        Ok(())
                    });
                };
                if !shared.credit[core].try_take() {
                    if self.inner.options.router_mandatory {
                        return Handed::Wait(msg);
                    }
                    ext.stats.dropped_ring += 1;
                    return Handed::Done(Ok(()));
                }
                ext.stats.sent += 1;
                Handed::Done(
                    push(&mut ext.to_cores, core, Mail::Deliver(msg)).map_err(|_| Error::Closed),
                )
            }
            SocketType::Dealer | SocketType::Push | SocketType::Pair | SocketType::Req => {
                if kind == SocketType::Req && ext.req_out.is_some() {
                    return Handed::Done(Err(Error::State(
                        "REQ must receive the reply before sending another request",
                    )));
                }
                let Some(core) = ext.next_target(shared) else {
                    return Handed::Wait(msg);
                };
                if kind == SocketType::Req {
                    ext.req_out = Some(core);
                }
                Handed::Done(
                    push(&mut ext.to_cores, core, Mail::Send(msg)).map_err(|_| Error::Closed),
                )
            }
            SocketType::Rep => {
                let Some(core) = ext.rep_to else {
                    return Handed::Done(Err(Error::State(
                        "REP must receive a request before sending",
                    )));
                };
                if !shared.credit[core].try_take() {
                    return Handed::Wait(msg);
                }
                ext.rep_to = None;
                Handed::Done(
                    push(&mut ext.to_cores, core, Mail::Send(msg)).map_err(|_| Error::Closed),
                )
            }
            SocketType::XSub => {
                while *done < ext.to_cores.len() {
                    if !shared.credit[*done].try_take() {
                        return Handed::Wait(msg);
                    }
                    if push(&mut ext.to_cores, *done, Mail::Send(msg.clone())).is_err() {
                        return Handed::Done(Err(Error::Closed));
                    }
                    *done += 1;
                }
                Handed::Done(Ok(()))
            }
            SocketType::Sub | SocketType::Pull => Handed::Done(Err(Error::Unsupported {
                socket: kind,
                op: "send",
            })),
        }
    }

    /// Makes every core forward what its shard receives to this handle (once).
    fn start_forwarding(&self) {
        if self.inner.forwarding.swap(true, Ordering::Relaxed) {
            return;
        }
        let id = self.inner.id;
        for core in 0..self.inner.rt.cores() {
            self.inner.rt.run_on(core, move || {
                if let Some(shard) = registry::shard(id) {
                    shard.spawn_forwarder();
                }
            });
        }
    }

    /// Closes the shard on every core and waits for it, honouring LINGER: what the
    /// handle had accepted reaches the shards' sockets first, then their queues reach
    /// their peers, all within one LINGER ([`Options::linger`], by default for ever,
    /// as libzmq's). Afterwards every method of this socket (and of its
    /// clones) fails with [`Error::Closed`], including sends and receives that were
    /// waiting.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.shared.wakers.wake_all();
        let id = self.inner.id;
        // Every core closes at once (one LINGER for all); then wait for them all. A
        // core without the shard, or stopped, drops its sender: its `recv` returns.
        let closing: Vec<_> = (0..self.inner.rt.cores())
            .filter_map(|core| {
                let (tx, rx) = std::sync::mpsc::channel::<()>();
                let sent = self.inner.rt.run_on(core, move || {
                    if let Some(shard) = registry::shard(id) {
                        glommio::spawn_local(async move {
                            shard.close_after_flush().await;
                            let _ = tx.send(());
                        })
                        .detach();
                    }
                });
                sent.then_some(rx)
            })
            .collect();
        for rx in closing {
            let _ = rx.recv();
        }
    }
}

/// A shard's connect, naming the peer `id` if given.
fn connect_shard(shard: &Shard, endpoint: &str, id: Option<Bytes>) -> Result<()> {
    match id {
        Some(id) => shard.base.connect_named(endpoint, id),
        None => shard.base.connect(endpoint),
    }
}

/// What came of one attempt at handing a message on.
enum Handed {
    /// Handed on, or failed for good.
    Done(Result<()>),
    /// No room (or no peer) now: the message comes back, to try again when woken.
    Wait(Message),
}

/// Pushes into the ring to core `core` (whose credit the caller holds, so the ring has
/// room); fails only when the core is gone.
#[allow(clippy::result_large_err)]
fn push(
    to_cores: &mut [Option<Outbox<Mail>>],
    core: usize,
    mail: Mail,
) -> std::result::Result<(), PushError<Mail>> {
    match to_cores[core].as_mut() {
        Some(out) => out.try_send(mail),
        None => Err(PushError::Closed(mail)),
    }
}

/// Polls `poll` on this thread until it is ready or `deadline` passes (`None`), parking
/// in between; the cores' doorbell or signal unparks the thread.
pub(super) fn block_until<T>(
    deadline: Option<Instant>,
    mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>,
) -> Option<T> {
    let waker = monocoque_runtime::thread_waker();
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = poll(&mut cx) {
            return Some(v);
        }
        match deadline {
            None => std::thread::park(),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return None;
                }
                std::thread::park_timeout(d - now);
            }
        }
    }
}

/// The message of a `send_async` under way; handed to a core if the future is
/// dropped first (see [`ShardedSocket::finish_in_background`]).
struct PendingSend<'a> {
    socket: &'a ShardedSocket,
    msg: Option<Message>,
    done: usize,
}

impl Drop for PendingSend<'_> {
    fn drop(&mut self) {
        if let Some(msg) = self.msg.take() {
            if self.socket.check_open().is_ok() {
                self.socket.finish_in_background(msg, self.done);
            }
        }
    }
}

/// Received messages the handle holds before it stops taking more from the rings.
const ABSORB_LIMIT: usize = 1024;

impl External {
    /// Applies routing and union updates from the cores; queues inbound messages.
    /// `verbose`: an XPUB passes every subscription up, not only each topic's first.
    fn absorb(&mut self, kind: SocketType, verbose: bool) {
        if self.queued >= ABSORB_LIMIT {
            // Nobody reads: leave the rest in the rings, which hold the cores back.
            return;
        }
        let mut mail = std::mem::take(&mut self.mail);
        self.inbox.drain(1024, |m| mail.push(m));
        for m in mail.drain(..) {
            match m {
                Mail::Notice { from, notice } => self.directory.learn(from, &notice),
                Mail::Inbound { from, peer, msg } => {
                    if kind == SocketType::XPub && !verbose && !self.first_or_last(&msg) {
                        continue;
                    }
                    self.pending[from].push_back((peer, msg));
                    self.queued += 1;
                }
                // Cores send the handle nothing else.
                Mail::Publish(_)
                | Mail::PublishHeld(_)
                | Mail::Deliver(_)
                | Mail::Send(_)
                | Mail::Evict { .. } => {}
            }
        }
        self.mail = mail;
    }
    /// The next received message, taking the cores in turn (each core's own socket
    /// fair-queues its peers), with the core it came from.
    fn pop(&mut self) -> Option<(usize, Option<PeerId>, Message)> {
        if self.queued == 0 {
            return None;
        }
        let cores = self.pending.len();
        for from in (0..cores).map(|i| (self.next_from + i) % cores) {
            if let Some((peer, msg)) = self.pending[from].pop_front() {
                self.next_from = (from + 1) % cores;
                self.queued -= 1;
                return Some((from, peer, msg));
            }
        }
        None
    }

    /// The core for the next load-balanced message: the turn walks over every core's
    /// peers (a core with three peers gets three turns in a row), skipping cores
    /// whose credit is used up, so that each peer gets its share as with one socket.
    /// Takes that core's credit. None when no core has both a peer and room.
    fn next_target(&mut self, shared: &Shared) -> Option<usize> {
        let counts: smallvec::SmallVec<[usize; 16]> = shared
            .targets
            .iter()
            .map(|t| t.load(Ordering::Relaxed))
            .collect();
        let total: usize = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let mut slot = self.turn % total;
        let mut first = 0;
        while slot >= counts[first] {
            slot -= counts[first];
            first += 1;
        }
        let cores = counts.len();
        for core in (0..cores).map(|i| (first + i) % cores) {
            if counts[core] > 0 && shared.credit[core].try_take() {
                // Skipped (full) cores' turns pass too, as libzmq skips a full pipe.
                self.turn = self.turn.wrapping_add(1);
                return Some(core);
            }
        }
        None
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

/// The handle's ends of a new socket's rings.
struct HandleRings {
    to_cores: Vec<Option<Outbox<Mail>>>,
    inbox: Inbox<Mail>,
}

/// Builds a socket's mesh: a ring from every core to every other core, from the
/// handle to every core and from every core to the handle (whose waiters, futures or
/// threads, are woken through `shared`'s wakers).
fn mesh(rt: &RuntimeHandle, shared: &Arc<Shared>) -> (Vec<ShardRings>, HandleRings) {
    let n = rt.cores();
    let bell = Arc::new(Doorbell::Wakers(Arc::clone(&shared.wakers)));
    let mut handle = HandleRings {
        to_cores: Vec::with_capacity(n),
        inbox: Inbox::default(),
    };
    let mut shards: Vec<ShardRings> = (0..n)
        .map(|_| {
            let (to_handle, from_core) = link(rt.mesh_capacity(), Arc::clone(&bell));
            handle.inbox.add(from_core);
            ShardRings {
                to_cores: (0..n).map(|_| None).collect(),
                to_handle,
                inbox: Inbox::default(),
                from_handle: Inbox::default(),
                shared: Arc::clone(shared),
            }
        })
        .collect();
    for to in 0..n {
        for from in (0..n).filter(|&from| from != to) {
            let (tx, rx) = rt.ring_to(to);
            shards[from].to_cores[to] = Some(tx);
            shards[to].inbox.add(rx);
        }
        let (tx, rx) = rt.ring_to(to);
        handle.to_cores.push(Some(tx));
        shards[to].from_handle.add(rx);
    }
    (shards, handle)
}
