//! [`LinkEnd`]: why a connection ended, as logs, monitor events and the connect loop
//! read it.

use std::io;

use monocoque_zmtp::{ProtocolError, Timeout};

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
pub enum LinkEnd {
    /// The peer closed the connection.
    #[error("peer closed the connection")]
    PeerClosed,
    /// The peer closed the connection in the middle of a frame or message.
    #[error("peer closed the connection mid-message")]
    Truncated,
    /// Our socket closed it.
    #[error("socket closed")]
    Shutdown,
    /// An I/O error.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The peer broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The socket refused the peer after its handshake.
    #[error("peer refused: {0}")]
    Refused(String),
    /// The handshake did not finish within HANDSHAKE_IVL.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// The peer went silent (HEARTBEAT_TIMEOUT, or the TTL it asked for).
    #[error("{0}")]
    HeartbeatTimeout(&'static str),
    /// The handshake needs an authenticator and the socket has none (a PLAIN server
    /// without one refuses everyone, as libzmq without a ZAP handler does; so does
    /// any mechanism that would ask, with ZAP_ENFORCE_DOMAIN).
    #[error("no authenticator: this {0} handshake needs one")]
    NoAuthenticator(&'static str),
}

impl From<Timeout> for LinkEnd {
    fn from(timeout: Timeout) -> LinkEnd {
        match timeout {
            Timeout::Handshake => LinkEnd::HandshakeTimeout,
            other => LinkEnd::HeartbeatTimeout(other.reason()),
        }
    }
}

impl LinkEnd {
    /// A short, stable name of the reason, for the `reason` field of log lines
    /// (`peer_closed`, `heartbeat_timeout`, `protocol`, …). [`LinkEnd::Shutdown`] is
    /// `closed`; the driver's log says more precisely who stopped the connection.
    pub fn kind(&self) -> &'static str {
        match self {
            LinkEnd::PeerClosed => "peer_closed",
            LinkEnd::Truncated => "peer_closed_mid_message",
            LinkEnd::Shutdown => "closed",
            LinkEnd::Io(_) => "io_error",
            _ if self.auth_status().is_some() => "auth_failed",
            LinkEnd::Protocol(_) => "protocol",
            LinkEnd::Refused(_) => "refused",
            LinkEnd::HandshakeTimeout => "handshake_timeout",
            LinkEnd::HeartbeatTimeout(_) => "heartbeat_timeout",
            LinkEnd::NoAuthenticator(_) => "no_authenticator",
        }
    }

    /// True for endings caused by the peer's protocol violation or incompatibility.
    pub fn is_protocol(&self) -> bool {
        matches!(self, LinkEnd::Protocol(_) | LinkEnd::Refused(_))
    }

    /// The ZAP status code when the handshake ended in an authentication failure:
    /// ours (the authenticator refused the peer), or the peer's (its ERROR carried a
    /// status code, as a libzmq server's does).
    pub fn auth_status(&self) -> Option<u16> {
        match self {
            LinkEnd::Protocol(ProtocolError::AuthFailed { status }) => Some(*status),
            LinkEnd::Protocol(ProtocolError::PeerError(reason)) => {
                let code = reason.parse::<u16>().ok()?;
                (reason.len() == 3 && (300..600).contains(&code)).then_some(code)
            }
            _ => None,
        }
    }
}
