//! # monocoque-runtime
//!
//! The I/O half of Monocoque on glommio: endpoints and transports (TCP, IPC),
//! per-peer outbound queues, the connection driver that pumps bytes between a stream
//! and a sans-IO [`monocoque_zmtp::Session`], and the background tasks that accept,
//! connect and reconnect. It knows nothing of socket-type semantics: a socket plugs in
//! through the [`Handler`] trait.
//!
//! For the thread-per-core mode it also owns the [`Runtime`] (pinned executors), the
//! lock-free SPSC [`ring`] between cores, the [`doorbell`]s that wake parked cores and
//! the [`mesh`] of mailboxes built from them.

#![warn(missing_docs)]

pub mod arena;
pub mod coop;
pub mod doorbell;
pub mod driver;
pub mod endpoint;
pub mod executor;
pub mod handler;
pub mod lifecycle;
pub mod link;
pub mod log_limit;
pub mod mesh;
pub mod message;
pub mod monitor;
pub mod notify;
pub mod peer;
pub mod ring;
pub(crate) mod sync;
pub mod transport;

pub use driver::LinkEnd;
pub use endpoint::{Endpoint, EndpointError};
pub use executor::{
    CoreContext, CrossHandler, CrossMsg, Runtime, RuntimeBuilder, RuntimeError, RuntimeHandle,
};
pub use handler::Handler;
pub use lifecycle::Lifecycle;
pub use link::{spawn_accepted, spawn_connector, spawn_listener, LinkOptions};
pub use message::Message;
pub use monitor::MonitorEvent;
pub use monocoque_zmtp::HeartbeatOptions;
pub use notify::Notify;
pub use peer::{Peer, PeerId};
pub use transport::{connect, Listener, SharedStream, SocketBuffers, Stream};
