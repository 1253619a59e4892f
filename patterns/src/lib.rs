//! # Monocoque
//!
//! ZeroMQ-compatible sockets in safe Rust on glommio. Monocoque speaks ZMTP 3.1 on the
//! wire, so its sockets talk to libzmq, pyzmq, JeroMQ and NetMQ peers, and follows
//! libzmq's socket semantics: background connect and reconnect, many peers per
//! socket, high-water marks, REQ/REP envelopes, ROUTER identities, prefix
//! subscriptions.
//!
//! Sockets are typed (a [`Pub`] has no `recv`) and live on the glommio executor that
//! creates them: no background thread, no lock. An [`AnySocket`] holds a socket whose
//! type is chosen at run time.
//!
//! ```no_run
//! use monocoque::{Dealer, Router};
//!
//! glommio::LocalExecutor::default().run(async {
//!     let router = Router::new();
//!     let endpoint = router.bind("tcp://127.0.0.1:0")?;
//!     let dealer = Dealer::new();
//!     dealer.connect(&endpoint.to_string())?;
//!     dealer.send("hello").await?;
//!     let msg = router.recv().await?; // [routing id, "hello"]
//!     router.send(msg).await?;        // back to the dealer
//!     assert_eq!(&dealer.recv().await?[0][..], b"hello");
//!     Ok::<(), monocoque::Error>(())
//! })
//! .unwrap();
//! ```

#![forbid(unsafe_code)]
// `try_send` hands a refused message back by value in its `TrySendError` (a `Message`
// keeps a few frames inline): boxing it would allocate on every refusal, in the loop
// of a sender that polls for room.
#![allow(clippy::result_large_err)]
#![warn(missing_docs)]

mod any_socket;
mod auth;
mod base;
pub mod certificate;
mod conflate;
mod error;
mod inbound;
mod monitor;
mod options;
mod pair;
mod pipeline;
pub mod proxy;
mod pubsub;
mod reqrep;
mod sharded;
mod socket_macros;
mod stats;
mod subscriptions;
#[cfg(test)]
mod test_support;

pub use any_socket::AnySocket;
pub use auth::{
    Auth, AuthReply, AuthRequest, AuthStatus, Authenticator, Credentials, SharedAuthenticator,
    ZapHandler,
};
pub use error::{Error, Result, TrySendError};
pub use monitor::Monitor;
pub use monocoque_runtime::{
    CoreTaskLost, CoreTasks, Placement, Runtime, RuntimeBuilder, RuntimeError, RuntimeHandle,
    Verdict,
};
pub use monocoque_runtime::{Endpoint, IntoFrame, Message, MonitorEvent, Properties};
pub use monocoque_zmtp::error::libzmq_code;
pub use monocoque_zmtp::zap::ZapError;
pub use monocoque_zmtp::{
    CurveKeyPair, CurvePublicKey, Mechanism, Metadata, PeerInfo, Security, SocketType,
};
pub use options::Options;
pub use pair::Pair;
pub use pipeline::{Pull, Push};
pub use proxy::proxy;
pub use pubsub::{Pub, Sub, XPub, XSub};
pub use reqrep::{Dealer, Rep, Req, Router};
pub use sharded::{CoreEvent, ShardRef, ShardedMonitor, ShardedSocket};
pub use stats::{PeerStats, Stats};
pub use subscriptions::SubscriptionSet;

/// Re-exported so callers can name frame types without adding `bytes` themselves.
pub use bytes::Bytes;

/// The README's examples, compiled as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// The security guide's examples, compiled as doc tests too.
#[cfg(doctest)]
#[doc = include_str!("../../docs/security.md")]
struct SecurityGuideDoctests;

/// The guide for pyzmq users, compiled as doc tests too.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide-from-pyzmq.md")]
struct PyzmqGuideDoctests;
