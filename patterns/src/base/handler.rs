//! What a socket's connections call ([`Handler`]): the plumbing every type shares,
//! with each event passed to the type's [`Rules`](super::Rules).

use std::rc::Rc;

use bytes::Bytes;
use monocoque_runtime::{Handler, Message, MonitorEvent, Peer, Verdict};
use monocoque_zmtp::SessionConfig;
use monocoque_zmtp::{AuthRequest, Credentials};

use super::SocketBase;
use crate::auth::zap_address;
use crate::stats::Counters;

impl Handler for SocketBase {
    fn session_config(&self) -> SessionConfig {
        let opts = self.options.borrow();
        let mut config = SessionConfig::new(self.kind);
        config.identity = opts.routing_id.clone();
        config.max_msg_size = opts.maxmsgsize;
        config.security = opts.security.clone();
        config
    }

    fn authenticate(&self, peer: &Rc<Peer>, credentials: Credentials) -> Option<Verdict> {
        let opts = self.options.borrow();
        let authenticator = opts.authenticator.as_ref()?;
        let request = AuthRequest {
            domain: opts.zap_domain.clone(),
            address: Bytes::copy_from_slice(zap_address(&peer.remote()).as_bytes()),
            routing_id: opts.routing_id.clone(),
            credentials,
        };
        Some(authenticator.authenticate(request))
    }

    fn new_peer(&self, remote: String) -> Rc<Peer> {
        self.make_peer(remote)
    }

    fn on_attach(&self, peer: &Rc<Peer>) -> Result<(), String> {
        self.rules.on_attach(self, peer)?;
        if self.rules.sends_to_attached() {
            let mut out = self.out.borrow_mut();
            if !out.iter().any(|p| p.id() == peer.id()) {
                out.push(Rc::clone(peer));
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
        if !self.rules.queues_before_connect() {
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
