//! [`ShardedSocket`]: the `Send + Sync` handle of a socket spread over a runtime's
//! cores, usable from any plain thread.

use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ahash::AHashMap;
use bytes::Bytes;
use monocoque_runtime::ring::PushError;
use monocoque_runtime::Doorbell;
use monocoque_runtime::{link, Inbox, Outbox};
use monocoque_runtime::{
    CoreContext, CoreService, CoreTasks, Endpoint, Message, Runtime, RuntimeHandle,
};

use super::monitor::{CoreEvent, ShardedMonitor};
use monocoque_zmtp::SocketType;

use super::mail::{Delivery, Directory, Mail};
use super::registry;
use super::shard::{Shard, ShardRings};
use super::ShardRef;
use crate::error::{Error, Result};
use crate::options::Options;
use crate::stats::Stats;

/// How long a blocked plain thread sleeps before looking at its rings again even
/// without a doorbell (a safety net when the handle moves between threads).
const PARK_LIMIT: Duration = Duration::from_millis(5);

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
    pending: VecDeque<Message>,
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
        let (mut rings, external) = mesh(&handle);
        for (core, rings) in rings.drain(..).enumerate() {
            let opts = options.clone();
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
                external: Mutex::new(External {
                    to_cores: external.to_cores,
                    inbox: external.inbox,
                    directory: Directory::new(cores),
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
            if let Some(shard) = registry::shard(id) {
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
        let rt = self.inner.rt.clone();
        self.ask(0, move |shard| {
            let (listener, bound) = shard.base.open_listener(&endpoint)?;
            shard.spawn_acceptor(listener, rt);
            Ok(bound)
        })?
    }

    /// Connects to `endpoint` from the runtime's next core in turn
    /// ([`RuntimeHandle::next_core`]: one turn for every sharded socket of the runtime,
    /// so N sockets with one connect each spread as N connects of one socket do).
    /// Returns at once; the connection is made and kept in the background. See
    /// [`ShardedSocket::peers_per_core`] for where connections went.
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
        self.check_open()?;
        let cores = self.inner.rt.cores();
        if core >= cores {
            return Err(Error::NoSuchCore { core, cores });
        }
        let ep: Endpoint = endpoint.parse()?;
        if let Endpoint::Tcp { .. } = ep {
            ep.socket_addrs()?;
        }
        let endpoint = endpoint.to_string();
        let id = self.inner.id;
        self.inner.rt.run_on(core, move || {
            if let Some(shard) = registry::shard(id) {
                if let Err(e) = shard.base.connect(&endpoint) {
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
    /// while let Some(e) = monitor.next_timeout(Duration::from_secs(1)) {
    ///     if let MonitorEvent::Accepted { remote } = &e.event {
    ///         println!("{remote} on core {}", e.core);
    ///     }
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn monitor(&self) -> Result<ShardedMonitor> {
        self.check_open()?;
        let (tx, events) = std::sync::mpsc::sync_channel(super::monitor::CAPACITY);
        let dropped = Arc::new(std::sync::atomic::AtomicU64::new(0));
        for core in 0..self.inner.rt.cores() {
            let (tx, dropped) = (tx.clone(), Arc::clone(&dropped));
            self.ask(core, move |shard| {
                let queue = crate::Monitor {
                    queue: shard.base.monitor(),
                };
                let lifecycle = Rc::clone(&shard.base.lifecycle);
                shard.base.lifecycle.spawn(async move {
                    loop {
                        // Until the shard closes (its close waits for its tasks).
                        let Some(event) = lifecycle.until_closing(queue.next()).await else {
                            return;
                        };
                        let event = CoreEvent { core, event };
                        match tx.try_send(event) {
                            Ok(()) => {}
                            Err(std::sync::mpsc::TrySendError::Full(_)) => {
                                dropped.fetch_add(1, Ordering::Relaxed);
                            }
                            // The monitor was dropped: stop forwarding.
                            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return,
                        }
                    }
                });
            })?;
        }
        Ok(ShardedMonitor { events, dropped })
    }

    /// The whole socket's counters: every core's shard plus this handle's own sends
    /// and receives (a message published from one core or the handle counts once in
    /// `sent`; each core whose ring was full counts once in `dropped_ring`). Asks
    /// every core, so call it from a plain thread: from a runtime core it fails with
    /// [`Error::State`] (use [`ShardRef::stats`] there for that core's share).
    pub fn stats(&self) -> Result<Stats> {
        let cores = (0..self.inner.rt.cores())
            .map(|core| self.ask(core, |shard| shard.base.stats()))
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
        let msg = crate::socket_macros::non_empty(msg.into())?;
        let mut ext = self.external();
        ext.absorb(self.inner.kind, self.inner.options.xpub_verbose);
        match self.inner.kind {
            SocketType::Pub | SocketType::XPub => {
                let External {
                    directory,
                    to_cores,
                    stats,
                    ..
                } = &mut *ext;
                let published =
                    directory.publish(&msg, None, |core, mail| match to_cores[core].as_mut() {
                        Some(out) => out.try_send(mail),
                        None => Err(PushError::Closed(mail)),
                    });
                if published.closed {
                    return Err(Error::Closed);
                }
                stats.dropped_ring += published.full;
                stats.sent += 1;
                Ok(())
            }
            SocketType::Router => {
                let Some(core) = ext.directory.owner(&msg[0]) else {
                    return if self.inner.options.router_mandatory {
                        Err(Error::HostUnreachable(msg[0].to_vec()))
                    } else {
                        ext.stats.unroutable += 1;
                        Ok(())
                    };
                };
                let mandatory = self.inner.options.router_mandatory;
                let mut mail = Mail::Deliver(msg);
                loop {
                    let pushed = match ext.to_cores[core].as_mut() {
                        Some(out) => out.try_send(mail),
                        None => return Err(Error::Closed),
                    };
                    match Delivery::judge(pushed, mandatory) {
                        Delivery::Sent => break,
                        Delivery::Retry(back) => {
                            mail = back;
                            std::thread::yield_now();
                        }
                        Delivery::Dropped => {
                            ext.stats.dropped_ring += 1;
                            break;
                        }
                        Delivery::Closed => return Err(Error::Closed),
                    }
                }
                ext.stats.sent += 1;
                Ok(())
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
                if let Some(shard) = registry::shard(id) {
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
                if let Some(shard) = registry::shard(id) {
                    glommio::spawn_local(async move {
                        shard.base.close().await;
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
            match m {
                Mail::Notice { from, notice } => self.directory.learn(from, &notice),
                Mail::Inbound(msg) => {
                    if kind == SocketType::XPub && !verbose && !self.first_or_last(&msg) {
                        continue;
                    }
                    self.pending.push_back(msg);
                }
                // Cores send the handle nothing else.
                Mail::Publish(_) | Mail::Deliver(_) => {}
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

/// The handle's ends of a new socket's rings.
struct HandleRings {
    to_cores: Vec<Option<Outbox<Mail>>>,
    inbox: Inbox<Mail>,
}

/// Builds a socket's mesh: a ring from every core to every other core, from the
/// handle to every core and from every core to the handle (which the calling thread
/// is woken by).
fn mesh(rt: &RuntimeHandle) -> (Vec<ShardRings>, HandleRings) {
    let n = rt.cores();
    let bell = Arc::new(Doorbell::Thread(std::thread::current()));
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
        shards[to].inbox.add(rx);
    }
    (shards, handle)
}
