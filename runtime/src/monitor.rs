//! Socket monitor events, numbered as libzmq numbers them.

/// Something that happened to a socket's connections. [`MonitorEvent::code`] gives
/// libzmq's event number (`ZMQ_EVENT_*`). Fields: `endpoint` is a local or connect
/// endpoint, `remote` the peer's address, `reason` a human-readable cause, `retry_ms`
/// the delay before the next connection attempt.
#[allow(missing_docs)] // fields documented on the enum
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorEvent {
    /// A connection to `endpoint` was established.
    Connected { endpoint: String },
    /// A connection attempt failed; the next one is in `retry_ms`.
    ConnectRetried { endpoint: String, retry_ms: u64 },
    /// Bound and listening on `endpoint`.
    Listening { endpoint: String },
    /// Binding failed.
    BindFailed { endpoint: String, reason: String },
    /// A connection from `remote` was accepted.
    Accepted { remote: String },
    /// Accepting failed.
    AcceptFailed { reason: String },
    /// A listener was closed.
    Closed { endpoint: String },
    /// A connection ended.
    Disconnected { remote: String, reason: String },
    /// The ZMTP handshake with `remote` succeeded.
    HandshakeSucceeded { remote: String },
    /// The handshake failed because the peer broke the protocol or is incompatible;
    /// `error` is libzmq's `ZMQ_PROTOCOL_ERROR_*` number for it (HANDSHAKE_FAILED_PROTOCOL's
    /// value; the numbers are in `monocoque::libzmq_code`).
    HandshakeFailedProtocol {
        remote: String,
        reason: String,
        error: u32,
    },
    /// The handshake failed on authentication: our authenticator refused `remote`, or
    /// `remote` refused us; `status` is the ZAP status code (300, 400, 500).
    HandshakeFailedAuth { remote: String, status: u16 },
    /// The handshake failed without a protocol reason (timeout, I/O error).
    HandshakeFailedNoDetail { remote: String, reason: String },
    /// Monocoque's own (libzmq has none): `count` messages for `remote` were dropped
    /// because its queue was at SNDHWM (a PUB's slow subscriber, a ROUTER's busy peer)
    /// since the previous such event for it. A peer that starts dropping is reported
    /// at once, then at most about once a second while it keeps dropping, once more
    /// when it has stopped, and a last time when its connection ends: the counts
    /// reported for a peer add up to all its drops once it has disconnected.
    MessagesDropped { remote: String, count: u64 },
}

impl MonitorEvent {
    /// libzmq's `ZMQ_EVENT_*` number; Monocoque's own events have the top bit set
    /// ([`MonitorEvent::MessagesDropped`]: `0x8000_0001`).
    pub fn code(&self) -> u32 {
        match self {
            MonitorEvent::Connected { .. } => 0x1,
            MonitorEvent::ConnectRetried { .. } => 0x4,
            MonitorEvent::Listening { .. } => 0x8,
            MonitorEvent::BindFailed { .. } => 0x10,
            MonitorEvent::Accepted { .. } => 0x20,
            MonitorEvent::AcceptFailed { .. } => 0x40,
            MonitorEvent::Closed { .. } => 0x80,
            MonitorEvent::Disconnected { .. } => 0x200,
            MonitorEvent::HandshakeFailedNoDetail { .. } => 0x800,
            MonitorEvent::HandshakeSucceeded { .. } => 0x1000,
            MonitorEvent::HandshakeFailedProtocol { .. } => 0x2000,
            MonitorEvent::HandshakeFailedAuth { .. } => 0x4000,
            MonitorEvent::MessagesDropped { .. } => 0x8000_0001,
        }
    }
}
