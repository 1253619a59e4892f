//! REQ, REP, DEALER and ROUTER (RFC 28): request-reply and its asynchronous forms.
//! REQ and REP keep the envelope rules ([`req`], [`rep`]); ROUTER routes by identity
//! ([`router`]); DEALER is plain load balancing and fair queueing.

mod rep;
mod req;
mod router;

use monocoque_zmtp::SocketType;

use crate::base::Plain;
use crate::socket_macros::{fair_queued_recv, load_balanced_send, socket_type};

pub use rep::Rep;
pub use req::Req;
pub use router::Router;
pub(crate) use router::RouterState;

socket_type!(
    /// Sends round-robin to its peers and receives fair-queued from them, with no
    /// envelope rules: the asynchronous REQ.
    ///
    /// ```no_run
    /// # glommio::LocalExecutor::default().run(async {
    /// let dealer = monocoque::Dealer::new();
    /// dealer.connect("tcp://127.0.0.1:5555")?;
    /// dealer.send(vec!["", "hello"]).await?;
    /// let reply = dealer.recv().await?;
    /// # Ok::<(), monocoque::Error>(()) });
    /// ```
    Dealer,
    SocketType::Dealer,
    rules Plain { sends: true }
);

load_balanced_send!(Dealer);
fair_queued_recv!(Dealer);
