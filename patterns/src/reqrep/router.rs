//! ROUTER: routing by peer identity.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use ahash::AHashMap;
use bytes::Bytes;
use monocoque_runtime::{Message, Peer, PeerId};
use monocoque_zmtp::SocketType;

use crate::base::{Rules, SocketBase};
use crate::socket_macros::{fair_queued_recv, message_sink, socket_type, try_sending};
use crate::stats::Counters;
use crate::{Error, Result, TrySendError};

socket_type!(
    /// Routes by peer identity: every received message starts with the sender's
    /// routing id, and every sent message starts with the recipient's. A peer's id is
    /// the Identity it announced, or a generated 5-byte id.
    ///
    /// ```
    /// use monocoque::{Dealer, Options, Router};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let router = Router::new();
    ///     let endpoint = router.bind("tcp://127.0.0.1:0")?.to_string();
    ///     let dealer = Dealer::with_options(Options::default().routing_id("client-1"));
    ///     dealer.connect(&endpoint)?;
    ///     dealer.send("hello").await?;
    ///     let msg = router.recv().await?; // [id, payload...]
    ///     assert_eq!(&msg[0][..], b"client-1");
    ///     router.send(("client-1", "welcome")).await?; // by id
    ///     assert_eq!(&dealer.recv().await?[0][..], b"welcome");
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    Router,
    SocketType::Router,
    state RouterState = RouterState::new()
);

impl Router {
    /// Sends `msg` (first frame: the routing id) to that peer. An unknown id is
    /// dropped, or fails with [`Error::HostUnreachable`] under ROUTER_MANDATORY. A
    /// peer at SNDHWM misses the message, or, under ROUTER_MANDATORY, is waited for
    /// (at most SNDTIMEO; cancel-safe as [`Dealer::send`](crate::Dealer::send)).
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        self.base.check_executor()?;
        let mut msg = msg.into();
        match self.route(&msg)? {
            Some((peer, mandatory)) => {
                msg.pop_front();
                self.base.send_to(&peer, msg, mandatory).await
            }
            None => Ok(()),
        }
    }

    /// Sends `msg` without waiting, or hands it back: [`Error::WouldBlock`] when the
    /// peer is at SNDHWM under ROUTER_MANDATORY (libzmq's EAGAIN), the errors of
    /// [`Router::send`] otherwise.
    pub fn try_send(&self, msg: impl Into<Message>) -> std::result::Result<(), TrySendError> {
        try_sending(msg.into(), |msg| self.route_now(msg, false))
    }

    /// `Sink::start_send`: [`Router::try_send`], except that a ROUTER_MANDATORY peer
    /// at SNDHWM gets the message past its mark (a sink cannot wait for one peer).
    fn sink_send(&self, msg: Message) -> Result<()> {
        Ok(self.route_now(msg, true)?)
    }

    /// Routes `msg` without waiting. A ROUTER_MANDATORY peer at SNDHWM takes it past
    /// its mark with `past_hwm`, or refuses it ([`Error::WouldBlock`]). A refused
    /// message comes back whole, routing id first.
    fn route_now(&self, mut msg: Message, past_hwm: bool) -> std::result::Result<(), TrySendError> {
        let (peer, mandatory) = match self.base.check_open().and_then(|()| self.route(&msg)) {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(()),
            Err(e) => return Err(TrySendError::new(e, msg)),
        };
        let id = msg.pop_front().expect("route() read the routing id");
        let Err(refused) = self.base.offer_to(&peer, msg, mandatory) else {
            return Ok(());
        };
        if past_hwm && refused.would_block() {
            self.base
                .keep_cancelled(Some(&peer), refused.into_message());
            return Ok(());
        }
        let (error, mut body) = refused.into_parts();
        body.push_front(id);
        Err(TrySendError::new(error, body))
    }

    /// The peer `msg` is for (named by its first frame, the routing id, which a body
    /// of at least one frame follows) and ROUTER_MANDATORY; None for an unknown id,
    /// which is dropped (or fails with [`Error::HostUnreachable`] under
    /// ROUTER_MANDATORY). The message is only read.
    fn route(&self, msg: &Message) -> Result<Option<(Rc<Peer>, bool)>> {
        match msg.len() {
            0 => {
                return Err(Error::InvalidMessage(
                    "a ROUTER message starts with a routing id",
                ))
            }
            1 => return Err(Error::InvalidMessage("a message needs at least one frame")),
            _ => {}
        }
        let mandatory = self.base.options.borrow().router_mandatory;
        match self.state.peer(&msg[0]) {
            Some(peer) => Ok(Some((peer, mandatory))),
            None => self.unroutable(&msg[0], mandatory).map(|()| None),
        }
    }

    /// Connects to `endpoint` as `connect` does, naming that peer `id` locally
    /// (libzmq's CONNECT_ROUTING_ID set before a `zmq_connect`): the peer is routable
    /// by `id` at once, before the connection is made, so a ROUTER can talk to a
    /// ROUTER without waiting to hear from it first. Messages sent to it meanwhile
    /// queue, up to SNDHWM, and it keeps the id over reconnections; the Identity
    /// the peer announces is not used. Fails with [`Error::InvalidArgument`] when `id`
    /// is empty, longer than 255 bytes, starts with a zero byte (libzmq's rule: those
    /// are its generated ids) or is another peer's. See also
    /// [`Options::connect_routing_id`](crate::Options::connect_routing_id).
    ///
    /// ```no_run
    /// # glommio::LocalExecutor::default().run(async {
    /// let router = monocoque::Router::new();
    /// router.connect_with_id("tcp://127.0.0.1:5555", &b"backend"[..])?;
    /// // No need to wait for the backend to speak first:
    /// router.send(vec!["backend", "hello"]).await?;
    /// # Ok::<(), monocoque::Error>(()) });
    /// ```
    pub fn connect_with_id(&self, endpoint: &str, id: impl Into<Bytes>) -> Result<()> {
        self.base.connect_named(endpoint, id.into())
    }

    fn unroutable(&self, id: &[u8], mandatory: bool) -> Result<()> {
        if mandatory {
            return Err(Error::HostUnreachable(id.to_vec()));
        }
        Counters::add(&self.base.counters.unroutable, 1);
        Ok(())
    }
}

fair_queued_recv!(Router);
message_sink!(Router, always_ready);

/// ROUTER's state: which routing id names which peer.
pub(crate) struct RouterState {
    /// Routing id → peer.
    routes: RefCell<AHashMap<Bytes, Rc<Peer>>>,
    /// Peer → its routing id, while attached.
    ids: RefCell<AHashMap<PeerId, Bytes>>,
    /// The next generated routing id.
    next_route: Cell<u32>,
    /// In a sharded socket, the core's index: put in every generated id so that ids
    /// are unique over all cores.
    id_prefix: Cell<Option<u8>>,
    /// Connect peers named by CONNECT_ROUTING_ID: their id outlives their connections.
    named: RefCell<ahash::AHashSet<PeerId>>,
}

/// A random start for generated routing ids (libzmq starts from a random number too),
/// from the random keys std seeds each `RandomState` with.
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_usize(&hasher as *const _ as usize);
    hasher.finish() as u32
}

impl RouterState {
    pub fn new() -> RouterState {
        RouterState {
            routes: RefCell::default(),
            ids: RefCell::default(),
            next_route: Cell::new(random_u32()),
            id_prefix: Cell::new(None),
            named: RefCell::default(),
        }
    }

    /// The attached peer whose routing id is `id`.
    #[inline]
    pub fn peer(&self, id: &[u8]) -> Option<Rc<Peer>> {
        self.routes.borrow().get(id).cloned()
    }

    /// Generated routing ids get `prefix` as their second byte (sharded ROUTER).
    pub fn set_id_prefix(&self, prefix: u8) {
        self.id_prefix.set(Some(prefix));
    }

    /// CONNECT_ROUTING_ID: `peer`, about to connect, is routable by `id` from now on.
    fn name(&self, base: &SocketBase, peer: &Rc<Peer>, id: Bytes) -> Result<()> {
        if id.is_empty() || id.len() > 255 || id[0] == 0 {
            return Err(Error::InvalidArgument(
                "a connect routing id is 1 to 255 bytes and does not start with a zero byte",
            ));
        }
        let (here, elsewhere) = self.holders(base, &id);
        if here.is_some() || elsewhere.is_some() {
            return Err(Error::InvalidArgument(
                "another peer of this ROUTER has that routing id",
            ));
        }
        self.named.borrow_mut().insert(peer.id());
        self.register(base, peer, id);
        Ok(())
    }

    /// Who has routing id `id`: a peer of this socket, and (sharded) another core.
    fn holders(&self, base: &SocketBase, id: &Bytes) -> (Option<Rc<Peer>>, Option<usize>) {
        let here = self.routes.borrow().get(id).cloned();
        let elsewhere = base.observer().and_then(|o| o.route_elsewhere(id));
        (here, elsewhere)
    }

    /// `peer` is routable by `id` from now on (and the other cores learn it).
    fn register(&self, base: &SocketBase, peer: &Rc<Peer>, id: Bytes) {
        self.routes.borrow_mut().insert(id.clone(), Rc::clone(peer));
        self.ids.borrow_mut().insert(peer.id(), id.clone());
        if let Some(observer) = base.observer() {
            observer.route_changed(&id, true);
        }
    }

    /// Gives `peer` its routing id: the one it was named by at connect time, else the
    /// Identity it announced (refused if another peer has it), else a generated one.
    fn attach(&self, base: &SocketBase, peer: &Rc<Peer>) -> std::result::Result<(), String> {
        if self.named.borrow().contains(&peer.id()) {
            if self.ids.borrow().contains_key(&peer.id()) {
                return Ok(());
            }
            // A ROUTER_HANDOVER gave its id to another peer: from now on it is
            // named as any other peer.
            self.named.borrow_mut().remove(&peer.id());
        }
        let identity = peer
            .properties()
            .map(|p| p.peer_info().identity.clone())
            .unwrap_or_default();
        let handover = base.options.borrow().router_handover;
        let id = if identity.is_empty() {
            self.generate(&self.routes.borrow())
        } else {
            let (here, elsewhere) = self.holders(base, &identity);
            if (here.is_some() || elsewhere.is_some()) && !handover {
                return Err(format!("duplicate routing id {:02x?}", &identity[..]));
            }
            if let Some(old) = here {
                // ROUTER_HANDOVER: the new connection takes the id over.
                self.ids.borrow_mut().remove(&old.id());
                old.close();
            }
            if let (Some(owner), Some(observer)) = (elsewhere, base.observer()) {
                observer.hand_over(owner, &identity);
            }
            identity
        };
        self.register(base, peer, id);
        Ok(())
    }

    /// A fresh id: a zero byte, then four bytes of a counter (its first byte replaced
    /// by the core's index in a sharded socket).
    fn generate(&self, routes: &AHashMap<Bytes, Rc<Peer>>) -> Bytes {
        loop {
            let n = self.next_route.get();
            self.next_route.set(n.wrapping_add(1));
            let mut id = vec![0u8];
            id.extend_from_slice(&n.to_be_bytes());
            if let Some(prefix) = self.id_prefix.get() {
                id[1] = prefix;
            }
            let id = Bytes::from(id);
            if !routes.contains_key(&id) {
                return id;
            }
        }
    }

    fn id_of(&self, peer: &Peer) -> Bytes {
        self.ids
            .borrow()
            .get(&peer.id())
            .cloned()
            .unwrap_or_default()
    }
}

impl Rules for RouterState {
    fn on_attach(&self, base: &SocketBase, peer: &Rc<Peer>) -> std::result::Result<(), String> {
        self.attach(base, peer)
    }

    /// Every message received starts with its sender's routing id.
    fn on_message(&self, base: &SocketBase, peer: &Rc<Peer>, mut msg: Message) {
        msg.push_front(self.id_of(peer));
        base.enqueue(peer, msg);
    }

    /// [`RouterState::on_message`] for a batch: the id is looked up once.
    fn on_single_frames(&self, base: &SocketBase, peer: &Rc<Peer>, bodies: &mut Vec<Bytes>) {
        let id = self.id_of(peer);
        base.enqueue_all(
            peer,
            bodies.drain(..).map(|body| {
                let mut msg = Message::single(body);
                msg.push_front(id.clone());
                msg
            }),
        );
    }

    fn name_peer(&self, base: &SocketBase, peer: &Rc<Peer>, id: Bytes) -> Result<()> {
        self.name(base, peer, id)
    }

    /// The peer's id is free again (unless a newer peer took it meanwhile). A peer
    /// named at connect time keeps its id, and its queue, while it reconnects.
    fn on_detach(&self, base: &SocketBase, peer: &Rc<Peer>) {
        if !self.named.borrow().contains(&peer.id()) {
            self.forget(base, peer);
        }
    }

    /// A peer named at connect time loses its id only now (disconnected).
    fn on_peer_gone(&self, base: &SocketBase, peer: &Rc<Peer>) {
        if self.named.borrow_mut().remove(&peer.id()) {
            self.forget(base, peer);
        }
    }
}

impl RouterState {
    /// Frees `peer`'s routing id (unless a newer peer took it meanwhile).
    fn forget(&self, base: &SocketBase, peer: &Rc<Peer>) {
        let Some(id) = self.ids.borrow_mut().remove(&peer.id()) else {
            return;
        };
        let mut routes = self.routes.borrow_mut();
        if routes.get(&id).is_some_and(|p| p.id() == peer.id()) {
            routes.remove(&id);
            drop(routes);
            if let Some(observer) = base.observer() {
                observer.route_changed(&id, false);
            }
        }
    }
}
