//! What every socket type shares: its peers, its inbound queue, its options, its
//! background tasks, and the plumbing its type's [`Rules`] build on (load balancing,
//! fair queueing, waiting for room). libzmq calls this part `socket_base_t`.
//!
//! One `SocketBase` lives on one executor; the typed sockets ([`crate::Dealer`], …)
//! are thin handles around an `Rc<SocketBase>`. Its files: this one (construction,
//! bind/connect/close, counters), [`recv`](self::recv) and [`send`](self::send) (the
//! two directions), `handler.rs` (what the connections call, passed on to the rules) and
//! [`rules`] (the seam to the socket types).

mod endpoints;
mod handler;
mod limits;
mod recv;
mod rules;
mod send;

pub(crate) use endpoints::check_connect;
pub(crate) use limits::bounded;
pub(crate) use rules::{Plain, Rules};

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use ahash::AHashMap;
use bytes::Bytes;
use monocoque_runtime::coop::Slice;
use monocoque_runtime::{
    spawn_accepted, Endpoint, Handler, Lifecycle, Listener, Message, MonitorEvent, Notify, Peer,
    PeerId, Stream,
};
use monocoque_zmtp::SocketType;

use crate::error::{Error, Result};
use crate::inbound::Inbound;
use crate::monitor::MonitorQueue;
use crate::options::Options;
use crate::stats::{Counters, PeerStats, Stats};

pub(crate) struct SocketBase {
    pub kind: SocketType,
    /// The socket type's own state and rules.
    rules: Rc<dyn Rules>,
    pub options: RefCell<Options>,
    pub lifecycle: Rc<Lifecycle>,
    me: Weak<SocketBase>,
    next_peer: Cell<PeerId>,
    pub peers: RefCell<AHashMap<PeerId, Rc<Peer>>>,
    /// How many of `peers` completed their handshake (kept as a count: `peer_count`
    /// is called per message by some servers, and walking 10 000 peers costs ~1 ms).
    attached: Cell<usize>,
    /// Peers that load balancing, PAIR and fan-out send to, in round-robin order.
    pub out: RefCell<Vec<Rc<Peer>>>,
    rr: Cell<usize>,
    /// Received messages in arrival order, with the peers they came from.
    inbound: RefCell<Inbound>,
    pub send_room: Rc<Notify>,
    /// Messages of cancelled sends that found no peer (see
    /// [`SocketBase::keep_cancelled`]), for the first peer that attaches.
    cancelled: RefCell<std::collections::VecDeque<Message>>,
    recv_ready: Notify,
    last_endpoint: RefCell<Option<Endpoint>>,
    /// What each `bind` and `connect` started (for `unbind` and `disconnect`).
    endpoints: endpoints::Endpoints,
    monitor: RefCell<Option<Rc<MonitorQueue>>>,
    observer: RefCell<Option<Weak<dyn ShardObserver>>>,
    closed: Cell<bool>,
    /// Seen on a glommio executor (see [`SocketBase::check_executor`]).
    on_executor: Cell<bool>,
    /// The reusable timer of [`SocketBase::yield_now`] (taken while a yield is under way).
    slice: Cell<Option<Slice>>,
    /// A `Sink` send asked for a yield (a PUB whose subscriber queue reached its
    /// mark): the sink's next `poll_ready` yields.
    pub(crate) yield_soon: Cell<bool>,
    pub counters: Counters,
}

/// Hears about changes a sharded socket must tell its other cores.
pub(crate) trait ShardObserver {
    /// PUB/XPUB: `topic` joined (`added`) or left the union of this socket's
    /// subscriptions.
    fn union_changed(&self, topic: &Bytes, added: bool);
    /// ROUTER: routing id `id` appeared on (`added`) or left this socket.
    fn route_changed(&self, id: &Bytes, added: bool);
    /// ROUTER: the other core, if any, that has a peer with routing id `id`.
    fn route_elsewhere(&self, id: &Bytes) -> Option<usize>;
    /// ROUTER_HANDOVER: this core's new peer took `id`; core `owner`'s peer must go.
    fn hand_over(&self, owner: usize, id: &Bytes);
    /// DEALER, PUSH, REQ, PAIR: the number of peers this socket sends to changed.
    fn targets_changed(&self, targets: usize);
}

impl SocketBase {
    pub fn new(kind: SocketType, options: Options, rules: Rc<dyn Rules>) -> Rc<SocketBase> {
        Rc::new_cyclic(|me| SocketBase {
            kind,
            rules,
            options: RefCell::new(options),
            lifecycle: Lifecycle::new(),
            me: me.clone(),
            next_peer: Cell::new(1),
            peers: RefCell::default(),
            attached: Cell::new(0),
            out: RefCell::default(),
            rr: Cell::new(0),
            inbound: RefCell::default(),
            send_room: Rc::new(Notify::new()),
            cancelled: RefCell::default(),
            recv_ready: Notify::new(),
            last_endpoint: RefCell::new(None),
            endpoints: endpoints::Endpoints::default(),
            monitor: RefCell::new(None),
            observer: RefCell::new(None),
            closed: Cell::new(false),
            on_executor: Cell::new(false),
            slice: Cell::new(None),
            yield_soon: Cell::new(false),
            counters: Counters::default(),
        })
    }

    fn handler_rc(&self) -> Rc<SocketBase> {
        self.me.upgrade().expect("socket base alive while in use")
    }

    fn handler(&self) -> Rc<dyn Handler> {
        self.handler_rc()
    }

    fn make_peer(&self, remote: String) -> Rc<Peer> {
        let id = self.next_peer.get();
        self.next_peer.set(id + 1);
        let peer = Rc::new(Peer::new(
            id,
            remote,
            self.options.borrow().sndhwm,
            Rc::clone(&self.send_room),
        ));
        if self.options.borrow().conflate && crate::conflate::honoured_by(self.kind) {
            peer.set_conflate();
            self.inbound.borrow_mut().expect_conflation();
        }
        self.peers.borrow_mut().insert(id, Rc::clone(&peer));
        peer
    }

    /// `Closed` once closed, `NoExecutor` off a glommio executor (every call that
    /// needs glommio, a send, a bind, a connect, passes here).
    #[inline]
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.get() {
            Err(Error::Closed)
        } else {
            self.check_executor()
        }
    }

    /// [`Error::NoExecutor`] unless this thread runs a glommio executor. A socket is
    /// `!Send`: once seen on an executor it stays on that thread, so the probe
    /// ([`monocoque_runtime::on_glommio`]) runs until it first succeeds, then this is
    /// a `Cell` read.
    #[inline]
    pub(crate) fn check_executor(&self) -> Result<()> {
        if self.on_executor.get() {
            Ok(())
        } else {
            self.probe_executor()
        }
    }

    #[cold]
    fn probe_executor(&self) -> Result<()> {
        if monocoque_runtime::on_glommio() {
            self.on_executor.set(true);
            // On a runtime core: closed, with its LINGER, when the runtime stops;
            // unless it is a shard's socket (it has the shard as observer, set when
            // the shard is made), which its shard closes once the handle's mail is in
            // (`Shard::close_after_flush`).
            let shards = self.observer.borrow().is_some();
            if let Some(core) = monocoque_runtime::CoreContext::current().filter(|_| !shards) {
                core.adopt_socket(self.me.clone());
            }
            Ok(())
        } else {
            Err(Error::NoExecutor)
        }
    }

    /// Binds `endpoint` and reports it, without starting to accept.
    pub fn open_listener(&self, endpoint: &str) -> Result<(Listener, Endpoint)> {
        self.check_open()?;
        let ep: Endpoint = endpoint.parse()?;
        let (backlog, transport) = {
            let opts = self.options.borrow();
            (opts.backlog, opts.transport())
        };
        if let Endpoint::Tcp { .. } = ep {
            ep.resolve(transport.ipv6, true)?;
            transport.check()?;
        }
        let listener = Listener::bind(&ep, backlog, &transport).map_err(|e| {
            self.on_monitor(MonitorEvent::BindFailed {
                endpoint: endpoint.to_string(),
                reason: e.to_string(),
            });
            if e.kind() == std::io::ErrorKind::AddrInUse {
                Error::AddrInUse(endpoint.to_string())
            } else {
                Error::Bind {
                    endpoint: endpoint.to_string(),
                    source: e,
                }
            }
        })?;
        let bound = listener.local_endpoint().map_err(|e| Error::Bind {
            endpoint: endpoint.to_string(),
            source: e,
        })?;
        self.on_monitor(MonitorEvent::Listening {
            endpoint: bound.to_string(),
        });
        *self.last_endpoint.borrow_mut() = Some(bound.clone());
        Ok((listener, bound))
    }

    /// Serves a connection accepted by the listener of `endpoint` (this core's or
    /// another core's, for a sharded socket), under that endpoint's lifecycle so
    /// that `unbind` closes it.
    pub fn adopt(&self, endpoint: &str, stream: Stream) {
        if self.closed.get() {
            return;
        }
        let lifecycle = self.endpoints.bound(endpoint, &self.lifecycle);
        let link = self.options.borrow().link();
        spawn_accepted(&lifecycle, stream, self.handler(), link);
    }

    /// Makes `observer` hear about subscription-union and routing-id changes.
    pub fn set_observer(&self, observer: Weak<dyn ShardObserver>) {
        *self.observer.borrow_mut() = Some(observer);
    }

    pub(crate) fn observer(&self) -> Option<Rc<dyn ShardObserver>> {
        self.observer.borrow().as_ref().and_then(Weak::upgrade)
    }

    /// Tells a sharded socket's core how many peers it now sends to.
    pub(crate) fn targets_changed(&self) {
        if let Some(observer) = self.observer() {
            observer.targets_changed(self.out.borrow().len());
        }
    }

    /// A connect peer joins the send rotation at `connect` (its type queues before
    /// connecting, and IMMEDIATE is off), rather than when its handshake completes.
    pub(crate) fn queues_before_connect(&self) -> bool {
        self.rules.queues_before_connect() && !self.options.borrow().immediate
    }

    pub fn last_endpoint(&self) -> Option<Endpoint> {
        self.last_endpoint.borrow().clone()
    }

    /// Stops accepting and connecting; connections flush what is queued and close.
    pub fn shutdown(&self) {
        if self.closed.replace(true) {
            return;
        }
        self.lifecycle.close();
        for peer in self.peers.borrow().values() {
            peer.close();
        }
        self.recv_ready.notify_all();
        self.send_room.notify_all();
    }

    /// True once the socket has shut down (closed, or dropped and lingering).
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Shuts down and waits up to LINGER for queued messages to go out. Off a glommio
    /// executor (where the socket never ran a task) it only shuts down.
    pub async fn close(&self) {
        let linger = self.options.borrow().linger;
        self.close_within(linger).await;
    }

    /// [`close`](Self::close) waiting up to `linger` (`None`: for ever) instead of the
    /// option, for a caller that has spent part of LINGER already.
    pub async fn close_within(&self, linger: Option<std::time::Duration>) {
        self.shutdown();
        if self.check_executor().is_err() {
            return;
        }
        let lc = Rc::clone(&self.lifecycle);
        let mut idle = std::pin::pin!(lc.idle());
        let _ = bounded(linger, |cx| {
            std::future::Future::poll(idle.as_mut(), cx).map(Ok)
        })
        .await;
        lc.abort();
    }

    /// Shutdown from `Drop`: lingers in a background task (on a runtime core, the
    /// runtime's stop waits for it: see [`monocoque_runtime::CoreSocket`]).
    pub fn shutdown_in_background(&self) {
        if self.closed.get() {
            return;
        }
        self.shutdown();
        let lc = Rc::clone(&self.lifecycle);
        let linger = self.options.borrow().linger;
        // Off an executor no task was ever spawned (and none can be).
        if lc.live_tasks() == 0 || self.check_executor().is_err() {
            return;
        }
        glommio::spawn_local(async move {
            if let Some(d) = linger {
                let _ = glommio::timer::timeout(d, async {
                    lc.idle().await;
                    Ok(())
                })
                .await;
                lc.abort();
            } else {
                lc.idle().await;
            }
        })
        .detach();
    }

    pub fn monitor(&self) -> Rc<MonitorQueue> {
        Rc::clone(
            self.monitor
                .borrow_mut()
                .get_or_insert_with(|| Rc::new(MonitorQueue::default())),
        )
    }

    /// The socket's counters.
    pub fn stats(&self) -> Stats {
        let mut stats = self.counters.snapshot();
        stats.conflated += self.inbound.borrow().conflated()
            + self
                .peers
                .borrow()
                .values()
                .map(|p| p.conflated())
                .sum::<u64>();
        stats
    }

    /// Each peer's queue and drops.
    pub fn peer_stats(&self) -> Vec<PeerStats> {
        self.peers
            .borrow()
            .values()
            .map(|p| PeerStats {
                remote: p.remote(),
                queued: p.queued(),
                dropped_hwm: p.dropped(),
            })
            .collect()
    }

    /// Number of peers that completed their handshake.
    pub fn attached_peers(&self) -> usize {
        self.attached.get()
    }

    /// The peer of the message received last (by any receive call), if any.
    pub fn last_sender(&self) -> Option<PeerId> {
        self.inbound.borrow().last_from()
    }

    /// The peer with id `id`, if it is still one of this socket's.
    pub fn peer(&self, id: PeerId) -> Option<Rc<Peer>> {
        self.peers.borrow().get(&id).cloned()
    }
}

impl monocoque_runtime::CoreSocket for SocketBase {
    fn close_for_stop(self: Rc<Self>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
        Box::pin(async move { self.close().await })
    }
}
