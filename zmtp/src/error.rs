//! Protocol errors: every way a peer's bytes can be wrong.

/// A violation of ZMTP by the peer (or an incompatible peer). The connection
/// that produced it must be closed; the message says why, for logs and
/// monitor events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The first bytes are not a ZMTP greeting (signature `0xFF … 0x7F`).
    #[error("not a ZMTP peer: bad greeting signature")]
    BadSignature,
    /// The peer speaks a ZMTP version older than 3.0.
    #[error("unsupported ZMTP version {major}.{minor} (need 3.x)")]
    UnsupportedVersion {
        /// The peer's major version.
        major: u8,
        /// The peer's minor version.
        minor: u8,
    },
    /// The peer's mechanism differs from ours.
    #[error("security mechanism mismatch: we use {ours}, peer uses {theirs}")]
    MechanismMismatch {
        /// Our mechanism name.
        ours: String,
        /// The peer's mechanism name (lossy, trailing zeros removed).
        theirs: String,
    },
    /// A frame's size field exceeds MAXMSGSIZE.
    #[error("frame of {size} bytes exceeds the maximum message size of {limit} bytes")]
    MessageTooLarge {
        /// The size announced in the frame header.
        size: u64,
        /// The limit it exceeded.
        limit: u64,
    },
    /// A frame header or body is malformed.
    #[error("malformed frame: {0}")]
    MalformedFrame(&'static str),
    /// A command body is malformed.
    #[error("malformed {command} command: {reason}")]
    MalformedCommand {
        /// The command's name (`"unknown"` when the name itself is unreadable).
        command: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A command arrived where the protocol does not allow it.
    #[error("unexpected {0} command")]
    UnexpectedCommand(String),
    /// A message frame arrived before the handshake finished.
    #[error("message frame received before the handshake completed")]
    MessageBeforeReady,
    /// The peer's READY lacks a Socket-Type property.
    #[error("peer's READY has no Socket-Type property")]
    MissingSocketType,
    /// The peer's Socket-Type is not a ZMQ socket type name.
    #[error("peer announced unknown socket type {0:?}")]
    UnknownSocketType(String),
    /// The peer's socket type cannot talk to ours (e.g. PUB to PUSH).
    #[error("incompatible socket types: we are {ours}, peer is {theirs}")]
    IncompatibleSocketType {
        /// Our socket type's wire name.
        ours: &'static str,
        /// The peer's socket type's wire name.
        theirs: &'static str,
    },
    /// The authenticator refused the peer (ZAP status 300, 400 or 500).
    #[error("authentication failed (ZAP status {status})")]
    AuthFailed {
        /// The ZAP status code.
        status: u16,
    },
    /// The ZAP handler's reply was not a valid ZAP reply (libzmq closes the
    /// connection then, and reports a ZAP protocol error).
    #[error("bad ZAP reply: {0}")]
    ZapReply(crate::zap::ZapError),
    /// A verdict was handed to a session that did not ask for one.
    #[error("authentication verdict given to a session that did not ask for one")]
    UnexpectedVerdict,
    /// The peer sent an ERROR command.
    #[error("peer refused the connection: {0}")]
    PeerError(String),
}
