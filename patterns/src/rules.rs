//! The registry of socket types: which state and rules each type brings to its
//! [`SocketBase`], and how the base reaches them. A socket type's own rules live in
//! the file named after its pattern (`pair.rs`, `pipeline.rs`, `pubsub/`, `reqrep/`);
//! adding a type means writing its file and one arm in each `match` here.

use std::rc::Rc;

use bytes::Bytes;
use monocoque_runtime::{Message, Peer};
use monocoque_zmtp::SocketType;

use crate::base::SocketBase;
use crate::pair::PairRules;
use crate::pubsub::{Publisher, Subscriber};
use crate::reqrep::{RepState, ReqState, RouterState};

/// One socket type's state and rules.
pub(crate) enum Rules {
    Pair(PairRules),
    /// PUB and XPUB.
    Publisher(Publisher),
    /// SUB and XSUB.
    Subscriber(Subscriber),
    Req(ReqState),
    Rep(RepState),
    Router(RouterState),
    Dealer,
    Push,
    Pull,
}

impl Rules {
    pub fn new(kind: SocketType) -> Rules {
        match kind {
            SocketType::Pair => Rules::Pair(PairRules),
            SocketType::Pub => Rules::Publisher(Publisher::new(false)),
            SocketType::XPub => Rules::Publisher(Publisher::new(true)),
            SocketType::Sub => Rules::Subscriber(Subscriber::new(false)),
            SocketType::XSub => Rules::Subscriber(Subscriber::new(true)),
            SocketType::Req => Rules::Req(ReqState::default()),
            SocketType::Rep => Rules::Rep(RepState::default()),
            SocketType::Router => Rules::Router(RouterState::new()),
            SocketType::Dealer => Rules::Dealer,
            SocketType::Push => Rules::Push,
            SocketType::Pull => Rules::Pull,
        }
    }

    /// Outgoing messages queue for a connect peer before it is connected (libzmq
    /// creates the pipe at connect time), and the peer stays in the send rotation
    /// while it reconnects.
    pub fn queues_before_connect(&self) -> bool {
        matches!(
            self,
            Rules::Dealer | Rules::Push | Rules::Req(_) | Rules::Pair(_)
        )
    }

    /// Attached peers join the socket's send rotation (`SocketBase::out`).
    fn sends_to_attached(&self) -> bool {
        match self {
            Rules::Subscriber(s) => s.is_raw(),
            Rules::Rep(_) | Rules::Router(_) | Rules::Pull => false,
            _ => true,
        }
    }

    /// The handshake with `peer` completed; an error refuses it.
    pub fn on_attach(&self, base: &SocketBase, peer: &Rc<Peer>) -> Result<(), String> {
        match self {
            Rules::Pair(pair) => pair.on_attach(base, peer)?,
            Rules::Router(router) => router.on_attach(base, peer)?,
            Rules::Subscriber(sub) => sub.on_attach(peer),
            Rules::Publisher(publisher) => publisher.on_attach(peer),
            _ => {}
        }
        if self.sends_to_attached() {
            let mut out = base.out.borrow_mut();
            if !out.iter().any(|p| p.id() == peer.id()) {
                out.push(Rc::clone(peer));
            }
        }
        Ok(())
    }

    /// A complete message from `peer`.
    #[inline]
    pub fn on_message(&self, base: &SocketBase, peer: &Rc<Peer>, msg: Message) {
        match self {
            Rules::Publisher(publisher) => publisher.on_message(base, peer, msg),
            Rules::Subscriber(sub) => sub.on_message(base, peer, msg),
            Rules::Req(req) => req.on_message(base, peer, msg),
            Rules::Rep(rep) => rep.on_message(base, peer, msg),
            Rules::Router(router) => router.on_message(base, peer, msg),
            Rules::Pair(_) | Rules::Dealer | Rules::Push | Rules::Pull => base.enqueue(peer, msg),
        }
    }

    /// Several single-frame messages from `peer` (see `Handler::on_single_frames`):
    /// types that queue what they receive as it is take the batch at once.
    #[inline]
    pub fn on_single_frames(&self, base: &SocketBase, peer: &Rc<Peer>, bodies: &mut Vec<Bytes>) {
        match self {
            Rules::Router(router) => router.on_single_frames(base, peer, bodies),
            Rules::Subscriber(sub) if sub.is_raw() => base.enqueue_bodies(peer, bodies),
            Rules::Pair(_) | Rules::Dealer | Rules::Push | Rules::Pull => {
                base.enqueue_bodies(peer, bodies)
            }
            _ => {
                for body in bodies.drain(..) {
                    self.on_message(base, peer, Message::single(body));
                }
            }
        }
    }

    /// A SUBSCRIBE or CANCEL command from `peer`.
    pub fn on_subscription(&self, base: &SocketBase, peer: &Rc<Peer>, topic: Bytes, on: bool) {
        if let Rules::Publisher(publisher) = self {
            publisher.on_subscription(base, peer, topic, on);
        }
    }

    /// The connection to `peer` ended (after its attach succeeded).
    pub fn on_detach(&self, base: &SocketBase, peer: &Rc<Peer>) {
        match self {
            Rules::Router(router) => router.on_detach(base, peer),
            Rules::Publisher(publisher) => publisher.on_detach(base, peer),
            _ => {}
        }
        if !self.queues_before_connect() {
            base.out.borrow_mut().retain(|p| p.id() != peer.id());
        }
    }

    /// PUB/XPUB state (the sharded layer and the typed sockets reach it here).
    pub fn publisher(&self) -> Option<&Publisher> {
        match self {
            Rules::Publisher(p) => Some(p),
            _ => None,
        }
    }

    /// SUB/XSUB state.
    pub fn subscriber(&self) -> Option<&Subscriber> {
        match self {
            Rules::Subscriber(s) => Some(s),
            _ => None,
        }
    }

    /// ROUTER state.
    pub fn router(&self) -> Option<&RouterState> {
        match self {
            Rules::Router(r) => Some(r),
            _ => None,
        }
    }

    /// REQ state.
    pub fn req(&self) -> Option<&ReqState> {
        match self {
            Rules::Req(r) => Some(r),
            _ => None,
        }
    }

    /// REP state.
    pub fn rep(&self) -> Option<&RepState> {
        match self {
            Rules::Rep(r) => Some(r),
            _ => None,
        }
    }
}
