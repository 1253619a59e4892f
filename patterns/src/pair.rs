//! PAIR (RFC 31): an exclusive connection to one peer.

use std::rc::Rc;

use monocoque_runtime::Peer;
use monocoque_zmtp::SocketType;

use bytes::Bytes;

use crate::base::{Rules, SocketBase};
use crate::socket_macros::{fair_queued_recv, load_balanced_send, socket_type};

socket_type!(
    /// Talks to exactly one PAIR peer; a second peer's connection is refused. `send`
    /// waits while there is no peer or it is at SNDHWM.
    ///
    /// ```
    /// use monocoque::Pair;
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let a = Pair::new();
    ///     let endpoint = a.bind("tcp://127.0.0.1:0")?.to_string();
    ///     let b = Pair::new();
    ///     b.connect(&endpoint)?;
    ///     b.send("ping").await?; // queued until the connection is up
    ///     assert_eq!(&a.recv().await?[0][..], b"ping");
    ///     a.send("pong").await?;
    ///     assert_eq!(&b.recv().await?[0][..], b"pong");
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    Pair,
    SocketType::Pair,
    rules PairRules
);
load_balanced_send!(Pair);
fair_queued_recv!(Pair);

/// PAIR's one rule: a second peer is refused while one is attached.
struct PairRules;

impl Rules for PairRules {
    fn queues_before_connect(&self) -> bool {
        true
    }

    fn sends_to_attached(&self) -> bool {
        true
    }

    fn on_single_frames(&self, base: &SocketBase, peer: &Rc<Peer>, bodies: &mut Vec<Bytes>) {
        base.enqueue_bodies(peer, bodies);
    }

    fn on_attach(&self, base: &SocketBase, peer: &Rc<Peer>) -> Result<(), String> {
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
