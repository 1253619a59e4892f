//! [`ShardRef`]: a core's share of a sharded socket, for the handlers that run there.

use std::rc::Rc;

use monocoque_runtime::Message;
use smallvec::SmallVec;

use super::mail::{Delivery, Mail};
use super::role::Role;
use super::shard::{Shard, RETRY};
use crate::error::{Error, Result, TrySendError};
use crate::pubsub::Publisher;
use crate::reqrep::RouterState;
use crate::stats::{Counters, PeerStats, Stats};

/// One core's share of a [`ShardedSocket`](super::ShardedSocket), given to
/// [`ShardedSocket::on_each_core`](super::ShardedSocket::on_each_core) handlers. It
/// serves the peers this core owns; sends reach other cores' peers where the socket
/// type needs it (PUB fan-out, ROUTER routing ids).
///
/// ```
/// use monocoque::{Options, Runtime, ShardedSocket, SocketType};
///
/// let rt = Runtime::builder().cores(vec![0]).build()?;
/// let server = ShardedSocket::new(&rt, SocketType::Router, Options::default());
/// let endpoint = server.bind("tcp://127.0.0.1:0")?.to_string();
/// // A handler on every core, serving the peers that core owns.
/// let handlers = server.on_each_core(|shard| async move {
///     let request = shard.recv().await?; // [routing id, body]
///     let answer = format!("core {}", shard.core_index());
///     shard.send(vec![request[0].clone(), answer.into()]).await?;
///     Ok::<usize, monocoque::Error>(shard.peer_count())
/// });
///
/// let client = ShardedSocket::new(&rt, SocketType::Dealer, Options::default());
/// client.connect(&endpoint)?;
/// client.send("which core?")?; // blocking: this is a plain thread
/// assert_eq!(&client.recv()?[0][..], b"core 0");
/// for peers in handlers.join()? {
///     assert_eq!(peers?, 1); // each core's value, in core order
/// }
/// rt.shutdown();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ShardRef {
    pub(super) shard: Rc<Shard>,
}

impl ShardRef {
    /// This core's index in the runtime.
    pub fn core_index(&self) -> usize {
        self.shard.index
    }

    /// Peers of this core whose handshake completed.
    pub fn peer_count(&self) -> usize {
        self.shard.base.attached_peers()
    }

    /// This core's share of the socket's counters: what was sent from this core (and
    /// what its rings to other cores missed), and what this core's peers missed at
    /// SNDHWM, whoever published it. [`ShardedSocket::stats`](super::ShardedSocket::stats)
    /// adds up every core.
    pub fn stats(&self) -> Stats {
        self.shard.base.stats()
    }

    /// Each of this core's peers' queue and the messages it missed at SNDHWM.
    pub fn peer_stats(&self) -> Vec<PeerStats> {
        self.shard.base.peer_stats()
    }

    /// Receives the next message from this core's peers, as the socket type does
    /// (a ROUTER's starts with the routing id; a REQ's is the reply to its request, a
    /// REP's a request whose envelope is kept for the reply).
    pub async fn recv(&self) -> Result<Message> {
        self.shard.socket.recv().await
    }

    /// The next message from this core's peers if one has arrived (`Ok(None)` if
    /// not), as the socket type's `try_recv`.
    pub fn try_recv(&self) -> Result<Option<Message>> {
        self.shard.socket.try_recv()
    }

    /// [`ShardRef::recv`], with the properties of the connection the message came
    /// from (see [`crate::Properties`]).
    pub async fn recv_with_properties(&self) -> Result<(Message, crate::Properties)> {
        self.shard.socket.recv_with_properties().await
    }

    /// Sends as the socket type does, across cores where needed: PUB/XPUB publish to
    /// matching subscribers on every core (under XPUB_NODROP waiting, on this core and
    /// the others, rather than dropping); ROUTER routes by id to whichever core owns
    /// the peer; the other types send to this core's peers as their local socket
    /// does (DEALER and PUSH round-robin, REQ and REP in lock-step with `recv`).
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        let msg = crate::socket_macros::non_empty(msg.into())?;
        match &self.shard.role {
            Role::Publisher(publisher) => self.publish(publisher, msg).await,
            Role::Router(router) => self.route(router, msg).await,
            _ => self.shard.socket.send(msg).await,
        }
    }

    /// XPUB_MANUAL on an XPUB: [`XPub::subscribe`](crate::XPub::subscribe) for
    /// this core, applied to the subscriber whose message [`ShardRef::recv`] returned
    /// last here (an XPUB's subscribers are served by their own core, so its
    /// handler applies their subscriptions). Fails with [`Error::Unsupported`] on
    /// other types, and as `XPub::subscribe` does otherwise.
    pub fn subscribe(&self, topic: &[u8]) -> Result<()> {
        self.manual_change(topic, true)
    }

    /// XPUB_MANUAL on an XPUB: [`XPub::unsubscribe`](crate::XPub::unsubscribe) for
    /// this core, as [`ShardRef::subscribe`].
    pub fn unsubscribe(&self, topic: &[u8]) -> Result<()> {
        self.manual_change(topic, false)
    }

    fn manual_change(&self, topic: &[u8], subscribe: bool) -> Result<()> {
        match (&self.shard.role, self.shard.base.kind) {
            (Role::Publisher(publisher), monocoque_zmtp::SocketType::XPub) => {
                publisher.manual_change(&self.shard.base, topic, subscribe)
            }
            (_, socket) => Err(Error::Unsupported {
                socket,
                op: if subscribe {
                    "subscribe"
                } else {
                    "unsubscribe"
                },
            }),
        }
    }

    /// The other cores with subscribers `msg` may be for.
    fn other_cores_for(&self, msg: &Message) -> SmallVec<[usize; 8]> {
        let shard = &self.shard;
        let invert = shard.base.options.borrow().invert_matching;
        let directory = shard.directory.borrow();
        directory
            .cores_for(msg, Some(shard.index), invert)
            .collect()
    }

    /// XPUB_NODROP's [`ShardRef::publish_elsewhere`]: every other core it is for takes
    /// it on credit (`Shared::held`), waited for while that core already holds its
    /// share for subscribers without room; nothing is dropped.
    async fn publish_elsewhere_held(&self, msg: &Message) -> Result<()> {
        let shard = &self.shard;
        for core in self.other_cores_for(msg) {
            while !shard.shared.held[core].try_take() {
                shard.base.check_open()?;
                glommio::timer::sleep(RETRY).await;
            }
            shard.post_held(core, msg);
        }
        Ok(())
    }

    /// Publishes `msg` to the other cores' subscribers (after this core's).
    fn publish_elsewhere(&self, msg: &Message) {
        let shard = &self.shard;
        let base = &shard.base;
        let invert = base.options.borrow().invert_matching;
        let published =
            shard
                .directory
                .borrow()
                .publish(msg, Some(shard.index), invert, |core, mail| {
                    shard.push_to(core, mail)
                });
        // PUB semantics: a core whose ring is full (or gone) misses it.
        let missed = published.full + u64::from(published.closed);
        Counters::add(&base.counters.dropped_ring, missed);
    }

    /// Sends as [`ShardRef::send`] does if that needs no wait, or gives the message
    /// back: [`Error::WouldBlock`] when no peer of this core has room (DEALER, PUSH,
    /// PAIR, REQ), a ROUTER_MANDATORY peer or its core's ring is full, or XPUB_NODROP
    /// would wait for this core's subscribers or for another core (one that holds its
    /// share of publishes for subscribers without room): then no core gets it. Never
    /// yields: a loop of `try_send` must await something now and then.
    pub fn try_send(&self, msg: impl Into<Message>) -> std::result::Result<(), TrySendError> {
        use crate::socket_macros::{by_ref, try_sending};
        match &self.shard.role {
            Role::Publisher(publisher) => try_sending(
                msg.into(),
                by_ref(|msg| {
                    let shard = &self.shard;
                    if !shard.base.options.borrow().xpub_nodrop {
                        // Checks that the socket is open.
                        crate::pubsub::try_publish_here(&shard.base, publisher, msg)?;
                        self.publish_elsewhere(msg);
                        return Ok(());
                    }
                    // XPUB_NODROP: every core it is for has room, or none gets it.
                    let cores = self.other_cores_for(msg);
                    if !shard.shared.take_held_on_all(&cores) {
                        shard.base.check_open()?;
                        return Err(Error::WouldBlock);
                    }
                    if let Err(e) = crate::pubsub::try_publish_here(&shard.base, publisher, msg) {
                        cores
                            .iter()
                            .for_each(|&c| shard.shared.held[c].give_back(1));
                        return Err(e);
                    }
                    cores.iter().for_each(|&c| shard.post_held(c, msg));
                    Ok(())
                }),
            ),
            Role::Router(router) => {
                try_sending(msg.into(), by_ref(|msg| self.try_route(router, msg)))
            }
            _ => self.shard.socket.try_send(msg),
        }
    }

    /// [`ShardRef::route`] without waiting.
    fn try_route(&self, router: &RouterState, msg: &Message) -> Result<()> {
        let shard = &self.shard;
        let base = &shard.base;
        base.check_open()?;
        let mandatory = base.options.borrow().router_mandatory;
        if let Some(peer) = router.peer(&msg[0]) {
            let mut body = msg.clone();
            body.pop_front();
            return Ok(base.offer_to(&peer, body, mandatory)?);
        }
        let Some(core) = self.owner_of(&msg[0], mandatory)? else {
            return Ok(());
        };
        self.deliver(core, Mail::Deliver(msg.clone()), mandatory)
            .map_err(|_| Error::WouldBlock)
    }

    #[allow(clippy::result_large_err)]
    async fn publish(&self, publisher: &Publisher, msg: Message) -> Result<()> {
        let shard = &self.shard;
        let base = &shard.base;
        // This core's subscribers, waited for under XPUB_NODROP (counted in `sent`).
        let marked = crate::pubsub::publish_here(base, publisher, &msg).await?;
        if base.options.borrow().xpub_nodrop {
            self.publish_elsewhere_held(&msg).await?;
        } else {
            self.publish_elsewhere(&msg);
        }
        // As Pub::send: let this core's connections write what built up, and the
        // executor run its other tasks.
        if marked {
            base.yield_now().await;
        }
        Ok(())
    }

    async fn route(&self, router: &RouterState, msg: Message) -> Result<()> {
        let base = &self.shard.base;
        let mandatory = base.options.borrow().router_mandatory;
        if let Some(peer) = router.peer(&msg[0]) {
            let mut msg = msg;
            msg.pop_front();
            return base.send_to(&peer, msg, mandatory).await;
        }
        base.pace().await;
        let Some(core) = self.owner_of(&msg[0], mandatory)? else {
            return Ok(());
        };
        let mut mail = Mail::Deliver(msg);
        while let Err(back) = self.deliver(core, mail, mandatory) {
            mail = back;
            glommio::timer::sleep(RETRY).await;
        }
        Ok(())
    }

    /// The other core that owns routing id `id`: `None` when no core does (counted
    /// as unroutable), [`Error::HostUnreachable`] instead under ROUTER_MANDATORY.
    fn owner_of(&self, id: &[u8], mandatory: bool) -> Result<Option<usize>> {
        let base = &self.shard.base;
        let owner = self.shard.directory.borrow().owner(id);
        if owner.is_none() {
            if mandatory {
                return Err(Error::HostUnreachable(id.to_vec()));
            }
            Counters::add(&base.counters.unroutable, 1);
        }
        Ok(owner)
    }

    /// Puts `mail` in `core`'s ring, counting it as sent (or, ring full, dropped);
    /// gives it back when the ring is full and ROUTER_MANDATORY waits for room.
    fn deliver(&self, core: usize, mail: Mail, mandatory: bool) -> std::result::Result<(), Mail> {
        let base = &self.shard.base;
        match Delivery::judge(self.shard.push_to(core, mail), mandatory) {
            Delivery::Retry(back) => return Err(back),
            Delivery::Dropped => Counters::add(&base.counters.dropped_ring, 1),
            Delivery::Sent | Delivery::Closed => {}
        }
        Counters::add(&base.counters.sent, 1);
        Ok(())
    }
}
