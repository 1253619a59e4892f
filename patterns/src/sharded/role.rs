//! What a shard's socket type does across cores, with the state it needs for it.

use std::rc::Rc;

use crate::pubsub::{Publisher, Subscriber};
use crate::reqrep::RouterState;
use crate::AnySocket;

/// The cross-core part of a shard's type.
pub(crate) enum Role {
    /// PUB, XPUB: publishes to every core, tells the others its subscription union.
    Publisher(Rc<Publisher>),
    /// SUB, XSUB: subscribes on every core.
    Subscriber(Rc<Subscriber>),
    /// ROUTER: routes by id to the core that owns the peer.
    Router(Rc<RouterState>),
    /// The other types serve their own core's peers only.
    Local,
}

impl Role {
    /// The role of `socket`'s type.
    pub fn of(socket: &AnySocket) -> Role {
        match socket {
            AnySocket::Pub(s) => Role::Publisher(Rc::clone(s.state())),
            AnySocket::XPub(s) => Role::Publisher(Rc::clone(s.state())),
            AnySocket::Sub(s) => Role::Subscriber(Rc::clone(s.state())),
            AnySocket::XSub(s) => Role::Subscriber(Rc::clone(s.state())),
            AnySocket::Router(s) => Role::Router(Rc::clone(s.state())),
            _ => Role::Local,
        }
    }

    pub fn publisher(&self) -> Option<&Publisher> {
        match self {
            Role::Publisher(p) => Some(p),
            _ => None,
        }
    }

    pub fn subscriber(&self) -> Option<&Subscriber> {
        match self {
            Role::Subscriber(s) => Some(s),
            _ => None,
        }
    }

    pub fn router(&self) -> Option<&RouterState> {
        match self {
            Role::Router(r) => Some(r),
            _ => None,
        }
    }
}
