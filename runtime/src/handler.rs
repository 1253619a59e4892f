//! The interface between a connection and the socket that owns it.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use monocoque_zmtp::zap::ZapError;
use monocoque_zmtp::{AuthReply, Credentials, SessionConfig, SocketType};

use crate::message::Message;
use crate::monitor::MonitorEvent;
use crate::peer::Peer;

/// An authenticator's answer on its way (it may take its time: a ZAP handler
/// socket, a database); an error when a ZAP handler answered with something that is
/// not a ZAP reply.
pub type Verdict = Pin<Box<dyn Future<Output = Result<AuthReply, ZapError>>>>;

/// What a socket does when a handshake asks about a peer ([`Handler::authenticate`]).
pub enum Admission {
    /// Its authenticator decides: the verdict is on its way.
    Ask(Verdict),
    /// The peer comes in unasked, with no user id (libzmq without a ZAP handler, for
    /// NULL and CURVE).
    Admit,
    /// Nobody can decide and the handshake cannot do without: the connection is
    /// closed ([`LinkEnd::NoAuthenticator`](crate::LinkEnd::NoAuthenticator),
    /// reported as HANDSHAKE_FAILED_NO_DETAIL).
    Refuse,
}

/// What a socket type does with its peers' traffic. Implemented by the socket
/// patterns; called by connection drivers on the socket's own executor.
pub trait Handler {
    /// The protocol settings for a new connection (socket type, identity, limits).
    fn session_config(&self) -> SessionConfig;

    /// The socket's type, as its connections' log spans name it. By default the one
    /// [`Handler::session_config`] gives; a socket that knows it at less cost says so.
    fn socket_type(&self) -> SocketType {
        self.session_config().socket_type
    }

    /// A peer for a newly accepted connection.
    fn new_peer(&self, remote: String) -> Rc<Peer>;

    /// The handshake with `peer` completed (its [`Peer::properties`] are set). Returning an
    /// error refuses the peer: the connection is closed with that reason.
    fn on_attach(&self, peer: &Rc<Peer>) -> Result<(), String>;

    /// Ready when the socket can take another inbound message from `peer` (RCVHWM);
    /// otherwise registers `cx` to be woken when it can.
    fn poll_inbound_room(&self, peer: &Rc<Peer>, cx: &mut Context<'_>) -> Poll<()> {
        if self.inbound_room(peer) > 0 {
            Poll::Ready(())
        } else {
            peer.wait_inbound_room(cx.waker());
            Poll::Pending
        }
    }

    /// How many more messages from `peer` the socket takes now before RCVHWM
    /// (`usize::MAX` when unbounded).
    fn inbound_room(&self, peer: &Rc<Peer>) -> usize;

    /// A complete message from `peer`.
    fn on_message(&self, peer: &Rc<Peer>, msg: Message);

    /// Several single-frame messages from `peer`, given as their bodies, in order, no
    /// more than [`Handler::inbound_room`] said; leaves `bodies` empty (its capacity is
    /// reused). The driver collects bodies rather than messages so that each message
    /// is built once, where the socket keeps it.
    fn on_single_frames(&self, peer: &Rc<Peer>, bodies: &mut Vec<Bytes>) {
        for body in bodies.drain(..) {
            self.on_message(peer, Message::single(body));
        }
    }

    /// A SUBSCRIBE (`subscribe = true`) or CANCEL command from `peer`.
    fn on_subscription(&self, peer: &Rc<Peer>, topic: Bytes, subscribe: bool);

    /// The connection to `peer` ended (after [`Handler::on_attach`] succeeded).
    fn on_detach(&self, peer: &Rc<Peer>);

    /// The connection of an accepted peer is gone for good.
    fn on_peer_gone(&self, peer: &Rc<Peer>);

    /// A handshake asks whether `peer`, connected from `address` (as
    /// [`Stream::peer_address`](crate::Stream::peer_address) gives it) and
    /// presenting `credentials`, may come in (ZAP, RFC 27). By default nobody is
    /// asked: NULL and CURVE peers come in, PLAIN ones are refused, as libzmq does
    /// without a ZAP handler.
    fn authenticate(&self, peer: &Rc<Peer>, address: &str, credentials: Credentials) -> Admission {
        let _ = (peer, address);
        match credentials {
            Credentials::Plain { .. } => Admission::Refuse,
            Credentials::Null | Credentials::Curve { .. } => Admission::Admit,
        }
    }

    /// A monitor event happened.
    fn on_monitor(&self, event: MonitorEvent);
}
