//! The state every socket type shares: its peers, its inbound queue, its options and
//! its background tasks, plus the per-type routing decisions (the [`Handler`] side).
//!
//! One `Core` lives on one executor; the typed sockets ([`crate::Dealer`], …) are thin
//! handles around an `Rc<Core>`.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use ahash::AHashMap;
use bytes::Bytes;
use monocoque_runtime::coop::{self, Slice};
use monocoque_runtime::log_limit::{limited, LogLimit};
use monocoque_runtime::{
    spawn_connector, spawn_listener, Endpoint, Handler, Lifecycle, Listener, Message, MonitorEvent,
    Notify, Peer, PeerId,
};
use monocoque_zmtp::{SessionConfig, SocketType};

use crate::error::{Error, Result};
use crate::inbound::Inbound;
use crate::monitor::MonitorQueue;
use crate::options::Options;
use crate::stats::{Counters, PeerStats, Stats};
use crate::subscriptions::{SubscriberIndex, SubscriptionSet};

thread_local! {
    /// Budget of the SNDHWM drop lines (each peer reports about once a second; a
    /// thousand slow subscribers must not make that a thousand lines a second).
    static DROPS: LogLimit = const { LogLimit::new() };
}

/// Per-type routing state.
#[derive(Default)]
pub(crate) struct Routing {
    /// PUB/XPUB: each subscriber's prefixes.
    pub peer_subs: AHashMap<PeerId, SubscriptionSet>,
    /// PUB/XPUB: prefix → subscribers, for fan-out.
    pub subscribers: SubscriberIndex,
    /// XPUB: union over subscribers (to pass up only new topics).
    pub all_subs: SubscriptionSet,
    /// SUB/XSUB: our own subscriptions, resent on every connect.
    pub my_subs: SubscriptionSet,
    /// ROUTER: routing id → peer.
    pub routes: AHashMap<Bytes, Rc<Peer>>,
    /// ROUTER: next generated routing id.
    pub next_route: u32,
    /// REQ: the peer whose reply we wait for.
    pub awaiting: Option<PeerId>,
    /// REQ: a request was sent and its reply not yet received.
    pub req_pending: bool,
    /// REQ: request id for REQ_CORRELATE.
    pub request_id: u32,
    /// REP: where the reply to the request just received goes, and its envelope.
    pub reply_to: Option<(PeerId, Message)>,
}

pub(crate) struct Core {
    pub kind: SocketType,
    pub options: RefCell<Options>,
    pub lifecycle: Rc<Lifecycle>,
    me: Weak<Core>,
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
    recv_ready: Notify,
    pub routing: RefCell<Routing>,
    last_endpoint: RefCell<Option<Endpoint>>,
    monitor: RefCell<Option<Rc<MonitorQueue>>>,
    observer: RefCell<Option<Weak<dyn CoreObserver>>>,
    /// ROUTER in a sharded socket: the core's index, put in every generated routing id
    /// so that ids are unique over all cores.
    id_prefix: Cell<Option<u8>>,
    closed: Cell<bool>,
    /// The reusable timer of [`Core::yield_now`] (taken while a yield is under way).
    slice: Cell<Option<Slice>>,
    pub counters: Counters,
}

/// Hears about changes a sharded socket must tell its other cores.
pub(crate) trait CoreObserver {
    /// PUB/XPUB: `topic` joined (`added`) or left the union of this socket's
    /// subscriptions.
    fn union_changed(&self, topic: &Bytes, added: bool);
    /// ROUTER: routing id `id` appeared on (`added`) or left this socket.
    fn route_changed(&self, id: &Bytes, added: bool);
}

impl Core {
    pub fn new(kind: SocketType, options: Options) -> Rc<Core> {
        Rc::new_cyclic(|me| Core {
            kind,
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
            recv_ready: Notify::new(),
            routing: RefCell::new(Routing {
                next_route: rand::random(),
                ..Routing::default()
            }),
            last_endpoint: RefCell::new(None),
            monitor: RefCell::new(None),
            observer: RefCell::new(None),
            id_prefix: Cell::new(None),
            closed: Cell::new(false),
            slice: Cell::new(None),
            counters: Counters::default(),
        })
    }

    fn handler(&self) -> Rc<dyn Handler> {
        self.me.upgrade().expect("socket core alive while in use")
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

    fn check_open(&self) -> Result<()> {
        if self.closed.get() {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    // ----- bind / connect / close -------------------------------------------------

    pub fn bind(&self, endpoint: &str) -> Result<Endpoint> {
        let (listener, bound) = self.open_listener(endpoint)?;
        let link = self.options.borrow().link();
        spawn_listener(&self.lifecycle, listener, self.handler(), link);
        Ok(bound)
    }

    /// Binds `endpoint` and reports it, without starting to accept.
    pub fn open_listener(&self, endpoint: &str) -> Result<(Listener, Endpoint)> {
        self.check_open()?;
        let ep: Endpoint = endpoint.parse()?;
        let (backlog, buffers) = {
            let opts = self.options.borrow();
            (opts.backlog, opts.buffers())
        };
        let listener = Listener::bind(&ep, backlog, buffers).map_err(|e| {
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

    /// Serves a connection accepted elsewhere (another core's listener).
    pub fn adopt(&self, stream: monocoque_runtime::Stream) {
        if self.closed.get() {
            return;
        }
        let link = self.options.borrow().link();
        monocoque_runtime::spawn_accepted(&self.lifecycle, stream, self.handler(), link);
    }

    /// Generated routing ids get `prefix` as their second byte (sharded ROUTER).
    pub fn set_id_prefix(&self, prefix: u8) {
        self.id_prefix.set(Some(prefix));
    }

    /// Makes `observer` hear about subscription-union and routing-id changes.
    pub fn set_observer(&self, observer: Weak<dyn CoreObserver>) {
        *self.observer.borrow_mut() = Some(observer);
    }

    fn observer(&self) -> Option<Rc<dyn CoreObserver>> {
        self.observer.borrow().as_ref().and_then(Weak::upgrade)
    }

    pub fn connect(&self, endpoint: &str) -> Result<()> {
        self.check_open()?;
        let ep: Endpoint = endpoint.parse()?;
        if let Endpoint::Tcp { .. } = ep {
            ep.socket_addrs()?;
        }
        let peer = self.make_peer(ep.to_string());
        if self.routes_to_unattached_peers() {
            self.out.borrow_mut().push(Rc::clone(&peer));
        }
        let link = self.options.borrow().link();
        spawn_connector(&self.lifecycle, ep.clone(), peer, self.handler(), link);
        *self.last_endpoint.borrow_mut() = Some(ep);
        Ok(())
    }

    pub fn last_endpoint(&self) -> Option<Endpoint> {
        self.last_endpoint.borrow().clone()
    }

    /// Socket types whose outgoing messages queue for a connect peer before it is
    /// connected (libzmq creates the pipe at connect time).
    fn routes_to_unattached_peers(&self) -> bool {
        matches!(
            self.kind,
            SocketType::Dealer | SocketType::Push | SocketType::Req | SocketType::Pair
        )
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

    /// Shuts down and waits up to LINGER for queued messages to go out.
    pub async fn close(&self) {
        self.shutdown();
        let linger = self.options.borrow().linger;
        let lc = Rc::clone(&self.lifecycle);
        match linger {
            None => lc.idle().await,
            Some(d) => {
                let _ = glommio::timer::timeout(d, async {
                    lc.idle().await;
                    Ok(())
                })
                .await;
            }
        }
        lc.abort();
    }

    /// Shutdown from `Drop`: lingers in a background task.
    pub fn shutdown_in_background(&self) {
        if self.closed.get() {
            return;
        }
        self.shutdown();
        let lc = Rc::clone(&self.lifecycle);
        let linger = self.options.borrow().linger;
        if lc.live_tasks() == 0 {
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

    // ----- receiving --------------------------------------------------------------

    #[inline]
    fn enqueue(&self, peer: &Rc<Peer>, msg: Message) {
        self.inbound.borrow_mut().push(peer, msg);
        self.recv_ready.notify_all();
    }

    /// Takes the next inbound message with the peer it came from, releasing a reader
    /// paused at RCVHWM.
    #[inline]
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Result<(PeerId, Message)>> {
        self.poll_recv_with(cx, |id, msg| (id, msg))
    }

    /// [`Core::poll_recv`] without the peer: the message is moved once, straight
    /// into the caller's result (the fair-queued sockets' hot path).
    #[inline]
    pub fn poll_recv_message(&self, cx: &mut Context<'_>) -> Poll<Result<Message>> {
        self.poll_recv_with(cx, |_, msg| msg)
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
        let rcvhwm = self.options.borrow().rcvhwm;
        let taken = take(&mut self.inbound.borrow_mut(), rcvhwm);
        if let Some(t) = taken {
            return Poll::Ready(Ok(t));
        }
        if self.closed.get() {
            return Poll::Ready(Err(Error::Closed));
        }
        self.recv_ready.register(cx.waker());
        Poll::Pending
    }

    /// The next inbound message with its peer (after a yield if the time slice is
    /// over: a reader that always finds messages must not starve its executor).
    #[inline]
    pub async fn recv(&self) -> Result<(PeerId, Message)> {
        self.pace().await;
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// [`Core::recv`] without the peer (the fair-queued sockets' `recv`).
    #[inline]
    pub async fn recv_message(&self) -> Result<Message> {
        self.pace().await;
        std::future::poll_fn(|cx| self.poll_recv_message(cx)).await
    }

    /// Takes the next inbound message if one is queued.
    pub fn try_recv(&self) -> Option<(PeerId, Message)> {
        let mut cx = Context::from_waker(Waker::noop());
        match self.poll_recv(&mut cx) {
            Poll::Ready(Ok(x)) => Some(x),
            _ => None,
        }
    }

    // ----- sending ----------------------------------------------------------------

    /// Round-robin over the `out` peers that have room; waits while none has. With
    /// `defer` (the batching API) the chosen peer's connection is not woken until
    /// [`Core::flush`] or its queue fills, so many messages leave in one write.
    #[inline]
    pub async fn send_load_balanced(&self, msg: &Message, defer: bool) -> Result<PeerId> {
        // Yield (when due) before the message is queued, never between queueing it and
        // returning: a REQ records the peer it awaits a reply from after this returns,
        // and a reply that arrived during a yield would find nobody awaiting it.
        self.pace().await;
        // The common case, a peer with room, without building the waiting future.
        if let Some(id) = self.try_send_load_balanced(msg, defer)? {
            return Ok(id);
        }
        std::future::poll_fn(|cx| match self.try_send_load_balanced(msg, defer) {
            Ok(None) => {
                self.send_room.register(cx.waker());
                Poll::Pending
            }
            Ok(Some(id)) => Poll::Ready(Ok(id)),
            Err(e) => Poll::Ready(Err(e)),
        })
        .await
    }

    /// Offers `msg` to the `out` peers in round-robin order; the id of the peer that
    /// took it, or None when all are full.
    #[inline]
    fn try_send_load_balanced(&self, msg: &Message, defer: bool) -> Result<Option<PeerId>> {
        self.check_open()?;
        let out = self.out.borrow();
        let n = out.len();
        let mut idx = if self.rr.get() < n { self.rr.get() } else { 0 };
        for _ in 0..n {
            let peer = &out[idx];
            let sent = if defer {
                peer.try_send_deferred(msg)
            } else {
                peer.try_send(msg)
            };
            idx = if idx + 1 == n { 0 } else { idx + 1 };
            if sent.is_ok() {
                Counters::add(&self.counters.sent, 1);
                self.rr.set(idx);
                return Ok(Some(peer.id()));
            }
            // Full: deferred messages must get out before we wait on it.
            peer.flush();
        }
        Ok(None)
    }

    /// Wakes every connection that has deferred messages.
    pub fn flush(&self) {
        for peer in self.peers.borrow().values() {
            peer.flush();
        }
    }

    /// Waits for at least one inbound message, then moves up to `max` (at least 1)
    /// queued ones onto the end of `out` without further waiting. Returns how many
    /// were moved. Into an empty `out`, a whole queue moves without copying.
    pub async fn recv_batch(&self, out: &mut Vec<Message>, max: usize) -> Result<usize> {
        let n = std::future::poll_fn(|cx| {
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

    /// Queues `msg` for `peer`, waiting while it is at SNDHWM (`wait`) or dropping.
    pub async fn send_to(&self, peer: &Rc<Peer>, msg: &Message, wait: bool) -> Result<()> {
        self.pace().await;
        std::future::poll_fn(|cx| {
            self.check_open()?;
            if peer.try_send(msg).is_ok() {
                Counters::add(&self.counters.sent, 1);
                return Poll::Ready(Ok(()));
            }
            if !wait {
                Counters::add(&self.counters.sent, 1);
                self.dropped_at_hwm(peer);
                return Poll::Ready(Ok(()));
            }
            if !self.peers.borrow().contains_key(&peer.id()) {
                // The peer left while we waited for room (libzmq drops it too).
                return Poll::Ready(Ok(()));
            }
            self.send_room.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Counts a delivery `peer` missed at SNDHWM, and reports it (monitor and log)
    /// when the peer starts dropping, then about once a second while it goes on.
    #[cold]
    pub fn dropped_at_hwm(&self, peer: &Peer) {
        Counters::add(&self.counters.dropped_hwm, 1);
        if let Some(count) = peer.note_dropped() {
            let remote = peer.remote();
            limited(&DROPS, |suppressed| {
                tracing::warn!(
                    socket = ?self.kind,
                    %remote,
                    count,
                    suppressed,
                    "peer at SNDHWM: messages dropped"
                )
            });
            self.on_monitor(MonitorEvent::MessagesDropped { remote, count });
        }
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

    /// PUB/XPUB: queues `msg` for every subscriber whose prefixes match its first
    /// frame; a subscriber at SNDHWM misses it (counted in `dropped_hwm`; the caller
    /// counts `sent`, once per publish however many cores fan it out). Never waits,
    /// never copies a large payload. Returns true when the publisher should yield ([`Core::yield_now`]):
    /// a subscriber's queue has just reached its mark ([`Peer::reached_mark`], so its
    /// connection should write what built up), or this thread's time slice is over
    /// ([`coop::spend`]).
    pub fn fan_out(&self, msg: &Message) -> Result<bool> {
        self.check_open()?;
        let topic = msg.frames().first().map(|f| &f[..]).unwrap_or(&[]);
        let mut marked = false;
        let mut matched = 0u32;
        self.routing
            .borrow()
            .subscribers
            .for_each_match(topic, |peer| {
                matched += 1;
                if peer.try_send(msg).is_ok() {
                    marked |= peer.reached_mark();
                } else {
                    self.dropped_at_hwm(peer);
                }
            });
        Ok(coop::spend(matched + 1) | marked)
    }

    /// Yields to the executor (see [`coop`]): a plain requeue, or a pass through the
    /// reactor once this thread's time slice is over.
    pub async fn yield_now(&self) {
        let mut slice = self.slice.take().unwrap_or_default();
        slice.yield_now().await;
        self.slice.set(Some(slice));
    }

    /// Counts one message sent or received and yields if the time slice is over.
    #[inline]
    pub async fn pace(&self) {
        if coop::spend(1) {
            self.yield_now().await;
        }
    }

    /// SUB/XSUB: records a subscription change and tells every connected peer.
    pub fn change_subscription(&self, topic: &[u8], subscribe: bool) -> Result<()> {
        self.check_open()?;
        let changed = {
            let mut routing = self.routing.borrow_mut();
            if subscribe {
                routing.my_subs.add(topic)
            } else {
                routing.my_subs.remove(topic)
            }
        };
        if changed {
            let topic = Bytes::copy_from_slice(topic);
            for peer in self.peers.borrow().values() {
                if peer.is_attached() {
                    peer.send_subscription(topic.clone(), subscribe);
                }
            }
        }
        Ok(())
    }

    /// Number of peers that completed their handshake.
    pub fn attached_peers(&self) -> usize {
        self.attached.get()
    }

    pub fn peer(&self, id: PeerId) -> Option<Rc<Peer>> {
        self.peers.borrow().get(&id).cloned()
    }

    // ----- per-type inbound rules -------------------------------------------------

    fn accept_subscription(&self, peer: &Rc<Peer>, topic: Bytes, subscribe: bool) {
        if !matches!(self.kind, SocketType::Pub | SocketType::XPub) {
            return;
        }
        let mut routing = self.routing.borrow_mut();
        let verbose = self.options.borrow().xpub_verbose;
        let Some(subs) = routing.peer_subs.get_mut(&peer.id()) else {
            return;
        };
        let union_changed;
        // A peer's subscriptions are a set, as in libzmq: a libzmq SUB/XSUB sends
        // SUBSCRIBE on every subscribe call but CANCEL only when its own count drops
        // to zero, so counting per peer here would keep it subscribed forever.
        let pass_up = if subscribe {
            let fresh = !subs.contains(&topic);
            if fresh {
                subs.add(&topic);
                routing.subscribers.add(&topic, peer);
            }
            let new = fresh && routing.all_subs.add(&topic);
            union_changed = new;
            new || verbose
        } else {
            if !subs.contains(&topic) {
                return;
            }
            subs.remove(&topic);
            routing.subscribers.remove(&topic, peer.id());
            union_changed = routing.all_subs.remove(&topic);
            union_changed
        };
        drop(routing);
        if union_changed {
            if let Some(observer) = self.observer() {
                observer.union_changed(&topic, subscribe);
            }
        }
        if self.kind == SocketType::XPub && pass_up {
            let mut frame = Vec::with_capacity(topic.len() + 1);
            frame.push(u8::from(subscribe));
            frame.extend_from_slice(&topic);
            self.enqueue(peer, Message::single(frame));
        }
    }

    /// REQ: the reply must come from the peer we asked, carry our request id when
    /// correlating, and start with the empty delimiter; anything else is dropped.
    fn accept_reply(&self, peer: &Rc<Peer>, mut msg: Message) -> Option<Message> {
        let mut routing = self.routing.borrow_mut();
        if routing.awaiting != Some(peer.id()) {
            return None;
        }
        if self.options.borrow().req_correlate {
            let id = msg.pop_front()?;
            if id[..] != routing.request_id.to_be_bytes() {
                return None;
            }
        }
        if !msg.pop_front()?.is_empty() {
            return None;
        }
        routing.awaiting = None;
        Some(msg)
    }
}

impl Handler for Core {
    fn session_config(&self) -> SessionConfig {
        let opts = self.options.borrow();
        let mut config = SessionConfig::new(self.kind);
        config.identity = opts.routing_id.clone();
        config.max_msg_size = opts.maxmsgsize;
        config
    }

    fn new_peer(&self, remote: String) -> Rc<Peer> {
        self.make_peer(remote)
    }

    fn on_attach(&self, peer: &Rc<Peer>) -> std::result::Result<(), String> {
        let identity = peer
            .info()
            .as_ref()
            .map(|i| i.identity.clone())
            .unwrap_or_default();
        match self.kind {
            SocketType::Pair => {
                let others = self
                    .peers
                    .borrow()
                    .values()
                    .any(|p| p.id() != peer.id() && p.is_attached());
                if others {
                    return Err("PAIR socket already has a peer".into());
                }
            }
            SocketType::Router => {
                let mut routing = self.routing.borrow_mut();
                let id = if identity.is_empty() {
                    loop {
                        let n = routing.next_route;
                        routing.next_route = n.wrapping_add(1);
                        let mut id = vec![0u8];
                        id.extend_from_slice(&n.to_be_bytes());
                        if let Some(prefix) = self.id_prefix.get() {
                            id[1] = prefix;
                        }
                        let id = Bytes::from(id);
                        if !routing.routes.contains_key(&id) {
                            break id;
                        }
                    }
                } else if routing.routes.contains_key(&identity) {
                    return Err(format!("duplicate routing id {:02x?}", &identity[..]));
                } else {
                    identity
                };
                peer.set_routing_id(id.clone());
                routing.routes.insert(id.clone(), Rc::clone(peer));
                drop(routing);
                if let Some(observer) = self.observer() {
                    observer.route_changed(&id, true);
                }
            }
            SocketType::Sub | SocketType::XSub => {
                peer.clear_subscriptions();
                for topic in self.routing.borrow().my_subs.prefixes() {
                    peer.send_subscription(topic.clone(), true);
                }
            }
            SocketType::Pub | SocketType::XPub => {
                self.routing
                    .borrow_mut()
                    .peer_subs
                    .insert(peer.id(), SubscriptionSet::default());
            }
            _ => {}
        }
        let mut out = self.out.borrow_mut();
        let routed = matches!(
            self.kind,
            SocketType::Dealer
                | SocketType::Push
                | SocketType::Req
                | SocketType::Pair
                | SocketType::Pub
                | SocketType::XPub
                | SocketType::XSub
        );
        if routed && !out.iter().any(|p| p.id() == peer.id()) {
            out.push(Rc::clone(peer));
        }
        drop(out);
        self.attached.set(self.attached.get() + 1);
        self.send_room.notify_all();
        self.on_monitor(MonitorEvent::HandshakeSucceeded {
            remote: peer.remote(),
        });
        Ok(())
    }

    fn inbound_room(&self, peer: &Rc<Peer>) -> usize {
        peer.inbound_room(self.options.borrow().rcvhwm)
    }

    fn on_single_frames(&self, peer: &Rc<Peer>, bodies: &mut Vec<Bytes>) {
        // Types that queue every message as it is (the last arm of `on_message`) take
        // the whole batch at once; the others apply their rule message by message.
        let as_received = !matches!(
            self.kind,
            SocketType::Pub
                | SocketType::XPub
                | SocketType::Sub
                | SocketType::Req
                | SocketType::Rep
                | SocketType::Router
        );
        if !as_received {
            for body in bodies.drain(..) {
                self.on_message(peer, Message::single(body));
            }
            return;
        }
        self.inbound
            .borrow_mut()
            .extend(peer, bodies.drain(..).map(Message::single));
        self.recv_ready.notify_all();
    }

    fn on_message(&self, peer: &Rc<Peer>, mut msg: Message) {
        match self.kind {
            SocketType::Pub | SocketType::XPub => {
                let first = msg.frames().first().cloned().unwrap_or_default();
                if msg.len() == 1 && !first.is_empty() && first[0] <= 1 {
                    self.accept_subscription(peer, first.slice(1..), first[0] == 1);
                } else if self.kind == SocketType::XPub {
                    self.enqueue(peer, msg);
                }
            }
            SocketType::Sub => {
                let topic = msg.frames().first().map(|f| &f[..]).unwrap_or(&[]);
                if self.routing.borrow().my_subs.matches(topic) {
                    self.enqueue(peer, msg);
                }
            }
            SocketType::Req => {
                if let Some(reply) = self.accept_reply(peer, msg) {
                    self.enqueue(peer, reply);
                }
            }
            SocketType::Rep => {
                if msg.iter().any(|f| f.is_empty()) {
                    self.enqueue(peer, msg);
                }
            }
            SocketType::Router => {
                msg.push_front(peer.routing_id());
                self.enqueue(peer, msg);
            }
            // Keep `on_single_frames` in step: it queues batches for exactly these types.
            _ => self.enqueue(peer, msg),
        }
    }

    fn on_subscription(&self, peer: &Rc<Peer>, topic: Bytes, subscribe: bool) {
        self.accept_subscription(peer, topic, subscribe);
    }

    fn on_detach(&self, peer: &Rc<Peer>) {
        self.attached.set(self.attached.get().saturating_sub(1));
        match self.kind {
            SocketType::Router => {
                let mut routing = self.routing.borrow_mut();
                let id = peer.routing_id();
                if routing.routes.get(&id).is_some_and(|p| p.id() == peer.id()) {
                    routing.routes.remove(&id);
                    drop(routing);
                    if let Some(observer) = self.observer() {
                        observer.route_changed(&id, false);
                    }
                }
            }
            SocketType::Pub | SocketType::XPub => {
                let mut routing = self.routing.borrow_mut();
                let subs = routing.peer_subs.remove(&peer.id()).unwrap_or_default();
                let mut gone = Vec::new();
                for topic in subs.prefixes() {
                    routing.subscribers.remove(topic, peer.id());
                }
                for (topic, count) in subs.iter() {
                    for _ in 0..count {
                        if routing.all_subs.remove(topic) {
                            gone.push(topic.clone());
                        }
                    }
                }
                drop(routing);
                if let Some(observer) = self.observer() {
                    for topic in &gone {
                        observer.union_changed(topic, false);
                    }
                }
                if self.kind == SocketType::XPub {
                    for topic in gone {
                        let mut frame = Vec::with_capacity(topic.len() + 1);
                        frame.push(0);
                        frame.extend_from_slice(&topic);
                        self.enqueue(peer, Message::single(frame));
                    }
                }
            }
            _ => {}
        }
        if !self.routes_to_unattached_peers() {
            self.out.borrow_mut().retain(|p| p.id() != peer.id());
        }
    }

    fn on_peer_gone(&self, peer: &Rc<Peer>) {
        Counters::add(&self.counters.conflated_gone, peer.conflated());
        self.peers.borrow_mut().remove(&peer.id());
        self.out.borrow_mut().retain(|p| p.id() != peer.id());
        peer.forget_inbound_waiter();
        peer.clear_messages();
        self.send_room.notify_all();
    }

    fn on_monitor(&self, event: MonitorEvent) {
        if let Some(q) = self.monitor.borrow().as_ref() {
            q.push(event);
        }
    }
}
