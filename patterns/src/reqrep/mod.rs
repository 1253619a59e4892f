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
    /// ```
    /// use monocoque::{Dealer, Rep};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let rep = Rep::new();
    ///     let endpoint = rep.bind("tcp://127.0.0.1:0")?.to_string();
    ///     let dealer = Dealer::new();
    ///     dealer.connect(&endpoint)?;
    ///     // To a REP, a DEALER adds the empty delimiter a REQ would have sent.
    ///     dealer.send(vec!["", "hello"]).await?;
    ///     dealer.send(vec!["", "again"]).await?; // no lock-step: both go out
    ///     for _ in 0..2 {
    ///         let request = rep.recv().await?;
    ///         rep.send(request).await?;
    ///     }
    ///     let reply = dealer.recv().await?;
    ///     assert_eq!(reply.len(), 2); // ["", "hello"]
    ///     assert_eq!(&reply[1][..], b"hello");
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    Dealer,
    SocketType::Dealer,
    rules Plain { sends: true }
);

load_balanced_send!(Dealer);
fair_queued_recv!(Dealer);
