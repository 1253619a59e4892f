//! The options of a socket's connections that the runtime applies.

use std::time::Duration;

use monocoque_zmtp::HeartbeatOptions;

use crate::transport::TransportOptions;

/// Timing options of a socket's connections (libzmq's names and defaults).
#[derive(Debug, Clone, Copy)]
pub struct LinkOptions {
    /// RECONNECT_IVL; `None` (libzmq's −1) disables reconnection.
    pub reconnect_ivl: Option<Duration>,
    /// RECONNECT_IVL_MAX; zero keeps the interval constant, otherwise it doubles up to this.
    pub reconnect_ivl_max: Duration,
    /// HANDSHAKE_IVL; `None` = no limit.
    pub handshake_ivl: Option<Duration>,
    /// HEARTBEAT_IVL, HEARTBEAT_TIMEOUT, HEARTBEAT_TTL.
    pub heartbeat: HeartbeatOptions,
    /// How long an idle connection keeps polling its socket before it sleeps.
    pub busy_poll: Option<Duration>,
    /// The TCP-level options (SNDBUF, RCVBUF, keepalive, TOS, PRIORITY, IPV6,
    /// CONNECT_TIMEOUT) of each connecting TCP socket.
    pub transport: TransportOptions,
}

impl Default for LinkOptions {
    fn default() -> LinkOptions {
        LinkOptions {
            reconnect_ivl: Some(Duration::from_millis(100)),
            reconnect_ivl_max: Duration::ZERO,
            handshake_ivl: Some(Duration::from_secs(30)),
            heartbeat: HeartbeatOptions::default(),
            busy_poll: None,
            transport: TransportOptions::default(),
        }
    }
}
