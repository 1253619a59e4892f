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
    /// A CURVE box did not open, or opened to the wrong contents.
    #[error("cryptographic error: {0}")]
    Cryptographic(&'static str),
    /// A CURVE short nonce did not increase (a replayed or reordered MESSAGE).
    #[error("CURVE nonce out of sequence")]
    InvalidSequence,
    /// A verdict was handed to a session that did not ask for one.
    #[error("authentication verdict given to a session that did not ask for one")]
    UnexpectedVerdict,
    /// The peer sent an ERROR command.
    #[error("peer refused the connection: {0}")]
    PeerError(String),
}

/// libzmq's `ZMQ_PROTOCOL_ERROR_*` numbers, which it reports as the value of
/// HANDSHAKE_FAILED_PROTOCOL.
pub mod libzmq_code {
    /// ZMTP, no more detail.
    pub const ZMTP_UNSPECIFIED: u32 = 0x1000_0000;
    /// A command where the protocol does not allow it.
    pub const ZMTP_UNEXPECTED_COMMAND: u32 = 0x1000_0001;
    /// A nonce out of sequence (CURVE).
    pub const ZMTP_INVALID_SEQUENCE: u32 = 0x1000_0002;
    /// Key exchange failed (CURVE).
    pub const ZMTP_KEY_EXCHANGE: u32 = 0x1000_0003;
    /// A malformed command, no more detail.
    pub const ZMTP_MALFORMED_COMMAND_UNSPECIFIED: u32 = 0x1000_0011;
    /// A malformed MESSAGE (CURVE).
    pub const ZMTP_MALFORMED_COMMAND_MESSAGE: u32 = 0x1000_0012;
    /// A malformed HELLO.
    pub const ZMTP_MALFORMED_COMMAND_HELLO: u32 = 0x1000_0013;
    /// A malformed INITIATE.
    pub const ZMTP_MALFORMED_COMMAND_INITIATE: u32 = 0x1000_0014;
    /// A malformed ERROR.
    pub const ZMTP_MALFORMED_COMMAND_ERROR: u32 = 0x1000_0015;
    /// A malformed READY.
    pub const ZMTP_MALFORMED_COMMAND_READY: u32 = 0x1000_0016;
    /// A malformed WELCOME.
    pub const ZMTP_MALFORMED_COMMAND_WELCOME: u32 = 0x1000_0017;
    /// Bad READY/INITIATE properties (a missing, unknown or incompatible socket type).
    pub const ZMTP_INVALID_METADATA: u32 = 0x1000_0018;
    /// A box did not open (CURVE).
    pub const ZMTP_CRYPTOGRAPHIC: u32 = 0x1100_0001;
    /// The peer uses another security mechanism.
    pub const ZMTP_MECHANISM_MISMATCH: u32 = 0x1100_0002;
    /// ZAP, no more detail.
    pub const ZAP_UNSPECIFIED: u32 = 0x2000_0000;
    /// A ZAP reply with the wrong frames.
    pub const ZAP_MALFORMED_REPLY: u32 = 0x2000_0001;
    /// A ZAP reply to another request.
    pub const ZAP_BAD_REQUEST_ID: u32 = 0x2000_0002;
    /// A ZAP reply of another version.
    pub const ZAP_BAD_VERSION: u32 = 0x2000_0003;
    /// A ZAP reply whose status code is not 200, 300, 400 or 500.
    pub const ZAP_INVALID_STATUS_CODE: u32 = 0x2000_0004;
    /// A ZAP reply with malformed metadata.
    pub const ZAP_INVALID_METADATA: u32 = 0x2000_0005;
}

impl ProtocolError {
    /// True for a CURVE MESSAGE that does not open: malformed, out of sequence, or a box
    /// that fails. libzmq reports these as HANDSHAKE_FAILED_PROTOCOL (with
    /// [`ProtocolError::libzmq_code`]) even after the handshake, where it reports any
    /// other failure as DISCONNECTED alone. (Before the handshake every protocol error
    /// is HANDSHAKE_FAILED_PROTOCOL.)
    pub fn reported_after_handshake(&self) -> bool {
        matches!(
            self,
            ProtocolError::InvalidSequence
                | ProtocolError::Cryptographic(_)
                | ProtocolError::MalformedCommand {
                    command: "MESSAGE",
                    ..
                }
        )
    }

    /// The number libzmq reports for this failure as HANDSHAKE_FAILED_PROTOCOL's value
    /// (`ZMQ_PROTOCOL_ERROR_*`, see [`libzmq_code`]).
    pub fn libzmq_code(&self) -> u32 {
        use crate::zap::ZapError;
        use libzmq_code::*;
        match self {
            ProtocolError::MechanismMismatch { .. } => ZMTP_MECHANISM_MISMATCH,
            ProtocolError::Cryptographic(_) => ZMTP_CRYPTOGRAPHIC,
            ProtocolError::InvalidSequence => ZMTP_INVALID_SEQUENCE,
            ProtocolError::UnexpectedCommand(_) | ProtocolError::MessageBeforeReady => {
                ZMTP_UNEXPECTED_COMMAND
            }
            ProtocolError::MalformedCommand { command, .. } => match *command {
                "HELLO" => ZMTP_MALFORMED_COMMAND_HELLO,
                "INITIATE" => ZMTP_MALFORMED_COMMAND_INITIATE,
                "ERROR" => ZMTP_MALFORMED_COMMAND_ERROR,
                "READY" => ZMTP_MALFORMED_COMMAND_READY,
                "WELCOME" => ZMTP_MALFORMED_COMMAND_WELCOME,
                "MESSAGE" => ZMTP_MALFORMED_COMMAND_MESSAGE,
                _ => ZMTP_MALFORMED_COMMAND_UNSPECIFIED,
            },
            ProtocolError::MissingSocketType
            | ProtocolError::UnknownSocketType(_)
            | ProtocolError::IncompatibleSocketType { .. } => ZMTP_INVALID_METADATA,
            ProtocolError::ZapReply(e) => match e {
                ZapError::RequestId => ZAP_BAD_REQUEST_ID,
                ZapError::Version => ZAP_BAD_VERSION,
                ZapError::StatusCode => ZAP_INVALID_STATUS_CODE,
                ZapError::Metadata => ZAP_INVALID_METADATA,
                ZapError::FrameCount(_) | ZapError::Delimiter => ZAP_MALFORMED_REPLY,
                ZapError::Unreachable => ZAP_UNSPECIFIED,
            },
            _ => ZMTP_UNSPECIFIED,
        }
    }
}
