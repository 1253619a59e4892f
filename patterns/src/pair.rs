//! PAIR (RFC 31): an exclusive connection to one peer.

use monocoque_zmtp::SocketType;

use crate::socket::{fair_queued_recv, load_balanced_send, socket_type};

socket_type!(
    /// Talks to exactly one PAIR peer; a second peer's connection is refused. `send`
    /// waits while there is no peer or it is at SNDHWM.
    Pair,
    SocketType::Pair
);
load_balanced_send!(Pair);
fair_queued_recv!(Pair);
