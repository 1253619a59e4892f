//! PAIR (RFC 31): an exclusive connection to one peer.

use monocoque_runtime::Message;
use monocoque_zmtp::SocketType;

use crate::socket::{batch_recv, batch_send, non_empty, socket_type};
use crate::Result;

socket_type!(
    /// Talks to exactly one PAIR peer; a second peer's connection is refused.
    Pair,
    SocketType::Pair
);

impl Pair {
    /// Queues `msg` for the peer, waiting while none is there or it is at SNDHWM.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        self.core
            .send_load_balanced(non_empty(msg.into())?)
            .await
            .map(drop)
    }

    /// Waits for the next message.
    pub async fn recv(&self) -> Result<Message> {
        Ok(self.core.recv().await?.1)
    }
}

batch_send!(Pair);
batch_recv!(Pair);
