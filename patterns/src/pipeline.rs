//! PUSH and PULL (RFC 30): a pipeline that load-balances work.

use monocoque_runtime::Message;
use monocoque_zmtp::SocketType;

use crate::socket::{batch_recv, batch_send, non_empty, socket_type};
use crate::Result;

socket_type!(
    /// Sends messages round-robin to its PULL peers; waits when every peer is at SNDHWM.
    ///
    /// ```no_run
    /// # glommio::LocalExecutor::default().run(async {
    /// let push = monocoque::Push::new();
    /// push.connect("tcp://127.0.0.1:5557")?;
    /// push.send("work item").await?;
    /// # Ok::<(), monocoque::Error>(()) });
    /// ```
    Push,
    SocketType::Push
);

impl Push {
    /// Queues `msg` for the next peer with room, waiting while all are full.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        self.core
            .send_load_balanced(non_empty(msg.into())?)
            .await
            .map(drop)
    }
}

socket_type!(
    /// Receives messages fair-queued from its PUSH peers.
    Pull,
    SocketType::Pull
);

impl Pull {
    /// Waits for the next message.
    pub async fn recv(&self) -> Result<Message> {
        Ok(self.core.recv().await?.1)
    }

    /// The next message if one has already arrived.
    pub fn try_recv(&self) -> Option<Message> {
        self.core.try_recv().map(|(_, m)| m)
    }
}

batch_send!(Push);
batch_recv!(Pull);
