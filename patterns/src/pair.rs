//! PAIR (RFC 31): an exclusive connection to one peer.

use std::rc::Rc;

use monocoque_runtime::Peer;
use monocoque_zmtp::SocketType;

use crate::base::SocketBase;
use crate::socket::{fair_queued_recv, load_balanced_send, socket_type};

socket_type!(
    /// Talks to exactly one PAIR peer; a second peer's connection is refused. `send`
    /// waits while there is no peer or it is at SNDHWM.
    Pair,
    SocketType::Pair
);
load_balanced_send!(Pair);
fair_queued_recv!(Pair);

/// PAIR's one rule: a second peer is refused while one is attached.
pub(crate) struct PairRules;

impl PairRules {
    pub fn on_attach(&self, base: &SocketBase, peer: &Rc<Peer>) -> Result<(), String> {
        let taken = base
            .peers
            .borrow()
            .values()
            .any(|p| p.id() != peer.id() && p.is_attached());
        if taken {
            return Err("PAIR socket already has a peer".into());
        }
        Ok(())
    }
}
