//! PUSH and PULL (RFC 30): a pipeline that load-balances work.

use monocoque_zmtp::SocketType;

use crate::base::Plain;
use crate::socket_macros::{fair_queued_recv, load_balanced_send, socket_type};

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
    SocketType::Push,
    rules Plain { sends: true }
);
load_balanced_send!(Push);

socket_type!(
    /// Receives messages fair-queued from its PUSH peers.
    Pull,
    SocketType::Pull,
    rules Plain { sends: false }
);
fair_queued_recv!(Pull);
