//! PUSH and PULL (RFC 30): a pipeline that load-balances work.

use monocoque_zmtp::SocketType;

use crate::base::Plain;
use crate::socket_macros::{fair_queued_recv, load_balanced_send, socket_type};

socket_type!(
    /// Sends messages round-robin to its PULL peers; waits when every peer is at SNDHWM.
    ///
    /// ```
    /// use monocoque::{Pull, Push};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let (first, second) = (Pull::new(), Pull::new());
    ///     let push = Push::new();
    ///     push.connect(&first.bind("tcp://127.0.0.1:0")?.to_string())?;
    ///     push.connect(&second.bind("tcp://127.0.0.1:0")?.to_string())?;
    ///     // As in libzmq, a connect joins the rotation at once, before its connection
    ///     // is up: one job each, in turn.
    ///     push.send_batch(["job 1", "job 2"]).await?;
    ///     let mut got = vec![first.recv().await?, second.recv().await?];
    ///     got.sort_by(|a, b| a[0].cmp(&b[0]));
    ///     assert_eq!(&got[0][0][..], b"job 1");
    ///     assert_eq!(&got[1][0][..], b"job 2");
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    Push,
    SocketType::Push,
    rules Plain { sends: true }
);
load_balanced_send!(Push);

socket_type!(
    /// Receives messages fair-queued from its PUSH peers.
    ///
    /// ```
    /// use monocoque::{Pull, Push};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let pull = Pull::new();
    ///     let endpoint = pull.bind("tcp://127.0.0.1:0")?.to_string();
    ///     let (a, b) = (Push::new(), Push::new());
    ///     a.connect(&endpoint)?;
    ///     b.connect(&endpoint)?;
    ///     a.send("from a").await?;
    ///     b.send("from b").await?;
    ///     let mut got = vec![pull.recv().await?, pull.recv().await?];
    ///     got.sort_by(|x, y| x[0].cmp(&y[0]));
    ///     assert_eq!(&got[0][0][..], b"from a");
    ///     assert_eq!(&got[1][0][..], b"from b");
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    Pull,
    SocketType::Pull,
    rules Plain { sends: false }
);
fair_queued_recv!(Pull);
