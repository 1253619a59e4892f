//! What a session is configured with, what it learns of the peer, and what it reports.

use std::time::Duration;

use bytes::Bytes;

use crate::mechanism::Security;
use crate::timers::HeartbeatOptions;
use crate::zap::Credentials;
use crate::{Metadata, SocketType};

/// What the local side of a connection is.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Our socket type (sent in READY's Socket-Type).
    pub socket_type: SocketType,
    /// Our routing id, sent as READY's `Identity` (REQ, DEALER and ROUTER always send it,
    /// even empty; other types send it only when non-empty).
    pub identity: Bytes,
    /// MAXMSGSIZE: data frames larger than this are a protocol error. None = unlimited.
    pub max_msg_size: Option<u64>,
    /// Extra properties for READY (e.g. `X-Hello`).
    pub metadata: Metadata,
    /// HANDSHAKE_IVL: the handshake must complete this long after the session starts
    /// (`None`: no limit).
    pub handshake_ivl: Option<Duration>,
    /// HEARTBEAT_IVL, HEARTBEAT_TIMEOUT and HEARTBEAT_TTL, from the end of the
    /// handshake on.
    pub heartbeat: HeartbeatOptions,
    /// The security mechanism and our role in it.
    pub security: Security,
    /// This side accepted the connection. It then sends the rest of its greeting (the
    /// mechanism) only once the peer's has begun to arrive: a libzmq peer closes the
    /// moment it has read a mechanism other than its own, so its own must be on the
    /// wire first for this side to learn of the mismatch. For the same reason, under
    /// NULL, its READY follows the peer's (a libzmq peer of an incompatible type closes
    /// on reading ours). The connecting side keeps libzmq's order (the rest after the
    /// peer's major version, READY after the peer's greeting), so two sessions never
    /// wait for each other.
    pub accepted: bool,
    /// NULL only: ask for a verdict on every peer ([`Event::Authenticate`] with
    /// [`Credentials::Null`]) before sending our READY, and send ERROR instead when
    /// it refuses. libzmq does this on any NULL socket whose ZAP_DOMAIN is set,
    /// whether it binds or connects. Other mechanisms ignore it.
    pub authenticate_null: bool,
}

impl SessionConfig {
    /// A configuration with defaults: empty identity, unlimited message size, no extra
    /// metadata, NULL, the connecting side, no handshake limit, no heartbeats.
    pub fn new(socket_type: SocketType) -> SessionConfig {
        SessionConfig {
            socket_type,
            identity: Bytes::new(),
            max_msg_size: None,
            metadata: Metadata::new(),
            handshake_ivl: None,
            heartbeat: HeartbeatOptions::default(),
            security: Security::Null,
            accepted: false,
            authenticate_null: false,
        }
    }
}

/// Who the peer turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's socket type (READY's Socket-Type).
    pub socket_type: SocketType,
    /// READY's Identity (empty if absent).
    pub identity: Bytes,
    /// All READY properties.
    pub metadata: Metadata,
    /// Peer's greeting minor version (0 → ZMTP 3.0 subscription encoding).
    pub minor: u8,
    /// The identity the authenticator (ZAP) gave the peer, possibly empty; `None`
    /// when no authenticator was asked about it (libzmq's `User-Id` property exists
    /// exactly when a ZAP handler answered).
    pub user_id: Option<Bytes>,
    /// Properties the authenticator added (ZAP metadata; empty when none was asked).
    pub auth_metadata: Metadata,
}

/// Something the peer said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Handshake complete; data frames may flow both ways now.
    Ready(PeerInfo),
    /// One data frame (the driver assembles multipart messages using `more`).
    Frame {
        /// More frames of this message follow.
        more: bool,
        /// The frame body (a zero-copy view of the receive buffer).
        body: Bytes,
    },
    /// SUBSCRIBE command (3.1).
    Subscribe(Bytes),
    /// CANCEL command (3.1).
    Cancel(Bytes),
    /// PING received; a PONG has already been queued for poll_transmit, and the TTL the
    /// peer asked for is now one of the session's deadlines.
    Ping {
        /// The TTL the peer asked for, in tenths of a second (0 = none).
        ttl_deciseconds: u16,
    },
    /// PONG received.
    Pong,
    /// The handshake needs the authenticator's verdict on these credentials (ZAP,
    /// RFC 27): a PLAIN or CURVE server's, or a NULL one's with
    /// [`SessionConfig::authenticate_null`]. Answer with
    /// [`Session::authenticated`](crate::Session::authenticated) (or
    /// [`Session::proceed_unauthenticated`](crate::Session::proceed_unauthenticated)
    /// when nobody can be asked and the mechanism may do without). Until then the
    /// session takes no more input.
    Authenticate(Credentials),
}
