//! What a socket's connections call ([`Handler`]): the plumbing every type shares,
//! with each event passed to the type's [`Rules`](super::Rules).

use std::rc::Rc;

use bytes::Bytes;
use monocoque_runtime::{Admission, Handler, Message, MonitorEvent, Peer};
use monocoque_zmtp::{AuthRequest, Credentials, Mechanism, SessionConfig, SocketType};

use super::SocketBase;
use crate::stats::Counters;

impl Handler for SocketBase {
    fn session_config(&self) -> SessionConfig {
        let opts = self.options.borrow();
        let mut config = SessionConfig::new(self.kind);
        config.identity = opts.routing_id.clone();
        config.max_msg_size = opts.maxmsgsize;
        config.security = opts.security.clone();
        // As libzmq: a NULL socket with a ZAP domain asks about every peer.
        config.authenticate_null = !opts.zap_domain.is_empty();
        config
    }

    fn socket_type(&self) -> SocketType {
        self.kind
    }

    /// libzmq's rules (null_mechanism.cpp, plain_server.cpp, curve_server.cpp), with
    /// the socket's authenticator as the ZAP handler. With ZAP_ENFORCE_DOMAIN, ZAP
    /// is for sockets with a domain only: without one, CURVE lets every client in
    /// unasked and PLAIN, which cannot do without it, refuses everyone (libzmq
    /// asserts); with one but no authenticator, every mechanism refuses. Without
    /// ZAP_ENFORCE_DOMAIN and with no authenticator, PLAIN refuses and NULL and
    /// CURVE let everyone in.
    fn authenticate(&self, _peer: &Rc<Peer>, address: &str, credentials: Credentials) -> Admission {
        let opts = self.options.borrow();
        let mechanism = credentials.mechanism();
        if opts.zap_enforce_domain && opts.zap_domain.is_empty() {
            return match mechanism {
                Mechanism::Plain => Admission::Refuse,
                Mechanism::Null | Mechanism::Curve => Admission::Admit,
            };
        }
        let Some(authenticator) = opts.authenticator.as_ref() else {
            return if mechanism == Mechanism::Plain || opts.zap_enforce_domain {
                Admission::Refuse
            } else {
                Admission::Admit
            };
        };
        let request = AuthRequest {
            domain: opts.zap_domain.clone(),
            address: Bytes::copy_from_slice(address.as_bytes()),
            routing_id: opts.routing_id.clone(),
            credentials,
        };
        Admission::Ask(authenticator.authenticate(request))
    }

    fn new_peer(&self, remote: String) -> Rc<Peer> {
        self.make_peer(remote)
    }

    fn on_attach(&self, peer: &Rc<Peer>) -> Result<(), String> {
        if let Some(previous) = peer.take_superseded() {
            // A reconnection: what the last connection sent keeps its properties.
            self.inbound.borrow_mut().pin(peer, &previous);
        }
        self.rules.on_attach(self, peer)?;
        if self.options.borrow().probe_router
            && matches!(
                self.kind,
                SocketType::Router | SocketType::Dealer | SocketType::Req
            )
        {
            // PROBE_ROUTER: an empty message opens every connection.
            peer.send_ahead(&Message::single(Bytes::new()));
        }
        if self.rules.sends_to_attached() {
            let mut out = self.out.borrow_mut();
            if !out.iter().any(|p| p.id() == peer.id()) {
                out.push(Rc::clone(peer));
            }
            drop(out);
            self.targets_changed();
            if !self.cancelled.borrow().is_empty() {
                self.release_cancelled(peer);
            }
        }
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
        self.rules.on_single_frames(self, peer, bodies);
    }

    fn on_message(&self, peer: &Rc<Peer>, msg: Message) {
        self.rules.on_message(self, peer, msg);
    }

    fn on_subscription(&self, peer: &Rc<Peer>, topic: Bytes, subscribe: bool) {
        self.rules.on_subscription(self, peer, topic, subscribe);
    }

    fn on_detach(&self, peer: &Rc<Peer>) {
        self.attached.set(self.attached.get().saturating_sub(1));
        self.rules.on_detach(self, peer);
        if !self.queues_before_connect() {
            self.out.borrow_mut().retain(|p| p.id() != peer.id());
            self.targets_changed();
            if self.rules.queues_before_connect() {
                // IMMEDIATE: a connect peer's queue goes with its connection (libzmq
                // terminates the pipe); the next connection starts empty.
                peer.clear_messages();
            }
        }
    }

    fn on_peer_gone(&self, peer: &Rc<Peer>) {
        self.rules.on_peer_gone(self, peer);
        Counters::add(&self.counters.conflated_gone, peer.conflated());
        self.peers.borrow_mut().remove(&peer.id());
        self.out.borrow_mut().retain(|p| p.id() != peer.id());
        self.targets_changed();
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
