//! # monocoque-runtime
//!
//! The I/O half of Monocoque on glommio: endpoints and transports (TCP, IPC),
//! per-peer outbound queues, the connection driver that pumps bytes between a stream
//! and a sans-IO [`monocoque_zmtp::Session`], and the background tasks that accept,
//! connect and reconnect. It knows nothing of socket-type semantics: a socket plugs in
//! through the [`Handler`] trait.
//!
//! For the thread-per-core mode it also owns the [`Runtime`] (pinned executors), the
//! lock-free SPSC [`ring`] between cores, the [`Doorbell`]s that wake parked cores and
//! the mailboxes ([`Outbox`], [`Inbox`]) built from them.
//!
//! The modules are private; what other crates use is re-exported here, by name. Two
//! modules are public as namespaces: [`ring`] (the primitive the loom models check)
//! and [`coop`] (how a task spends and yields its executor's time slice).

#![warn(missing_docs)]

mod arena;
pub mod coop;
mod cores;
mod doorbell;
mod driver;
mod endpoint;
mod executor;
mod handler;
pub mod inproc;
mod lifecycle;
mod link_end;
mod log_limit;
mod mesh;
mod message;
mod monitor;
mod netif;
mod notify;
mod options;
mod peer;
mod properties;
pub mod ring;
mod signal;
mod spawn;
mod sync;
mod transport;

pub use arena::{stats as arena_stats, ArenaStats, CHUNK as ARENA_CHUNK};
pub use cores::{
    CoreContext, CoreService, CoreSocket, CoreTaskLost, CoreTasks, Placement, Runtime,
    RuntimeBuilder, RuntimeError, RuntimeHandle,
};
pub use doorbell::{thread_waker, Doorbell, WakerSet};
pub use endpoint::{Endpoint, EndpointError};
pub use executor::on_glommio;
pub use handler::{Admission, Handler, Verdict};
pub use lifecycle::Lifecycle;
pub use link_end::LinkEnd;
pub use log_limit::{limited, LogLimit, BURST as LOG_BURST, INTERVAL as LOG_INTERVAL};
pub use mesh::{link, Inbox, Outbox};
pub use message::{IntoFrame, Message};
pub use monitor::MonitorEvent;
pub use monocoque_zmtp::HeartbeatOptions;
pub use notify::Notify;
pub use options::LinkOptions;
pub use peer::{Full, Peer, PeerId, Queued};
pub use properties::Properties;
pub use signal::{Credit, Signal};
pub use spawn::{spawn_accepted, spawn_connector, spawn_listener};
pub use transport::{
    connect, Keepalive, Listener, OptionError, SharedStream, SocketBuffers, Stream,
    TransportOptions,
};
