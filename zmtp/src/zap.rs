//! ZAP (RFC 27): how a server asks its authenticator whether to let a peer in, as
//! plain values ([`AuthRequest`], [`AuthReply`]) and as the frames a ZAP handler
//! socket exchanges ([`AuthRequest::to_frames`], [`AuthReply::from_frames`]).
//!
//! A [`Session`](crate::Session) that needs a verdict reports
//! [`Event::Authenticate`](crate::Event::Authenticate) with the peer's
//! [`Credentials`]; whoever runs the session asks the authenticator (in-process, or a
//! ZAP handler socket) and hands the reply to
//! [`Session::authenticated`](crate::Session::authenticated).

use bytes::Bytes;

use crate::{Mechanism, Metadata};

/// The ZAP version this crate speaks (the only one there is).
pub const ZAP_VERSION: &[u8] = b"1.0";

/// What a peer presented in its handshake.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// NULL: nothing.
    Null,
    /// PLAIN: a user name and password, in clear.
    Plain {
        /// The user name (0..=255 bytes).
        username: Bytes,
        /// The password (0..=255 bytes).
        password: Bytes,
    },
    /// CURVE: the client's long-term public key.
    Curve {
        /// The key's 32 bytes.
        public_key: [u8; 32],
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Null => f.write_str("Null"),
            // A password never goes to a log.
            Credentials::Plain { username, .. } => f
                .debug_struct("Plain")
                .field("username", username)
                .finish_non_exhaustive(),
            Credentials::Curve { public_key } => f
                .debug_struct("Curve")
                .field(
                    "public_key",
                    &crate::z85::encode(public_key).unwrap_or_default(),
                )
                .finish(),
        }
    }
}

impl Credentials {
    /// The mechanism these credentials belong to.
    pub fn mechanism(&self) -> Mechanism {
        match self {
            Credentials::Null => Mechanism::Null,
            Credentials::Plain { .. } => Mechanism::Plain,
            Credentials::Curve { .. } => Mechanism::Curve,
        }
    }
}

/// One authentication question, with what ZAP asks besides the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// ZAP_DOMAIN of the server socket (may be empty).
    pub domain: Bytes,
    /// The peer's address, without its port (as libzmq sends it).
    pub address: Bytes,
    /// The server socket's own routing id (libzmq sends this, not the peer's).
    pub routing_id: Bytes,
    /// What the peer presented.
    pub credentials: Credentials,
}

impl AuthRequest {
    /// The request as ZAP frames: empty delimiter, version, `request_id`, domain,
    /// address, identity, mechanism, then the credentials (PLAIN: user name and
    /// password; CURVE: the 32-byte key; NULL: none).
    pub fn to_frames(&self, request_id: &[u8]) -> Vec<Bytes> {
        let mut frames = vec![
            Bytes::new(),
            Bytes::from_static(ZAP_VERSION),
            Bytes::copy_from_slice(request_id),
            self.domain.clone(),
            self.address.clone(),
            self.routing_id.clone(),
            Bytes::from_static(self.credentials.mechanism().as_str().as_bytes()),
        ];
        match &self.credentials {
            Credentials::Null => {}
            Credentials::Plain { username, password } => {
                frames.push(username.clone());
                frames.push(password.clone());
            }
            Credentials::Curve { public_key } => frames.push(Bytes::copy_from_slice(public_key)),
        }
        frames
    }
}

/// A ZAP status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthStatus {
    /// 200: let the peer in.
    Success,
    /// 300: try again later; the connection closes without an ERROR.
    TemporaryError,
    /// 400: refused; the peer gets ERROR `400`.
    Failure,
    /// 500: the authenticator failed; the peer gets ERROR `500`.
    InternalError,
}

impl AuthStatus {
    /// The numeric code (200, 300, 400, 500).
    pub fn code(self) -> u16 {
        match self {
            AuthStatus::Success => 200,
            AuthStatus::TemporaryError => 300,
            AuthStatus::Failure => 400,
            AuthStatus::InternalError => 500,
        }
    }

    /// The status for a code, None for any other code.
    pub fn from_code(code: u16) -> Option<AuthStatus> {
        match code {
            200 => Some(AuthStatus::Success),
            300 => Some(AuthStatus::TemporaryError),
            400 => Some(AuthStatus::Failure),
            500 => Some(AuthStatus::InternalError),
            _ => None,
        }
    }
}

/// An authenticator's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthReply {
    /// The verdict.
    pub status: AuthStatus,
    /// Why, for people (not sent to the peer).
    pub text: Bytes,
    /// The identity the authenticator gives the peer (ZAP's User-Id), kept in the
    /// peer's [`PeerInfo::user_id`](crate::PeerInfo::user_id). Every message received
    /// on the connection carries it, as libzmq's `zmq_msg_gets("User-Id")` reads it:
    /// `monocoque::Properties`, which the sockets' `recv_with_properties`
    /// returns with each message.
    pub user_id: Bytes,
    /// Further properties of the connection.
    pub metadata: Metadata,
}

impl AuthReply {
    /// A 200 reply for `user_id`.
    pub fn accept(user_id: impl Into<Bytes>) -> AuthReply {
        AuthReply {
            status: AuthStatus::Success,
            text: Bytes::from_static(b"OK"),
            user_id: user_id.into(),
            metadata: Metadata::new(),
        }
    }

    /// A reply refusing the peer with `status` (not [`AuthStatus::Success`]).
    pub fn refuse(status: AuthStatus, text: impl Into<Bytes>) -> AuthReply {
        AuthReply {
            status,
            text: text.into(),
            user_id: Bytes::new(),
            metadata: Metadata::new(),
        }
    }

    /// Parses a ZAP handler's reply to request `request_id`, as libzmq checks it:
    /// exactly seven frames (delimiter, version `1.0`, the same request id, a status
    /// code of 200, 300, 400 or 500, status text, user id, metadata).
    pub fn from_frames(frames: &[Bytes], request_id: &[u8]) -> Result<AuthReply, ZapError> {
        if frames.len() != 7 {
            return Err(ZapError::FrameCount(frames.len()));
        }
        if !frames[0].is_empty() {
            return Err(ZapError::Delimiter);
        }
        if frames[1][..] != *ZAP_VERSION {
            return Err(ZapError::Version);
        }
        if frames[2][..] != *request_id {
            return Err(ZapError::RequestId);
        }
        let status = std::str::from_utf8(&frames[3])
            .ok()
            .filter(|s| s.len() == 3)
            .and_then(|s| s.parse::<u16>().ok())
            .and_then(AuthStatus::from_code)
            .ok_or(ZapError::StatusCode)?;
        let metadata = Metadata::decode(frames[6].clone()).map_err(|_| ZapError::Metadata)?;
        Ok(AuthReply {
            status,
            text: frames[4].clone(),
            user_id: frames[5].clone(),
            metadata,
        })
    }

    /// The reply as the seven ZAP frames.
    pub fn to_frames(&self, request_id: &[u8]) -> Vec<Bytes> {
        let mut metadata = bytes::BytesMut::new();
        self.metadata.encode(&mut metadata);
        vec![
            Bytes::new(),
            Bytes::from_static(ZAP_VERSION),
            Bytes::copy_from_slice(request_id),
            Bytes::from(self.status.code().to_string()),
            self.text.clone(),
            self.user_id.clone(),
            metadata.freeze(),
        ]
    }
}

/// A malformed ZAP reply (libzmq closes the connection and reports a ZAP protocol
/// error for each of these).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZapError {
    /// Not seven frames.
    #[error("ZAP reply has {0} frames, not 7")]
    FrameCount(usize),
    /// The first frame is not empty.
    #[error("ZAP reply does not start with an empty delimiter")]
    Delimiter,
    /// The version is not `1.0`.
    #[error("ZAP reply has a bad version")]
    Version,
    /// The request id is not the request's.
    #[error("ZAP reply answers another request")]
    RequestId,
    /// The status code is not 200, 300, 400 or 500.
    #[error("ZAP reply has an invalid status code")]
    StatusCode,
    /// The metadata frame is not a property list.
    #[error("ZAP reply has malformed metadata")]
    Metadata,
    /// The request could not be sent: the connection to the ZAP handler is closed.
    #[error("the ZAP handler cannot be reached")]
    Unreachable,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain_request() -> AuthRequest {
        AuthRequest {
            domain: Bytes::from_static(b"global"),
            address: Bytes::from_static(b"127.0.0.1"),
            routing_id: Bytes::from_static(b"IDENT"),
            credentials: Credentials::Plain {
                username: Bytes::from_static(b"admin"),
                password: Bytes::from_static(b"secret"),
            },
        }
    }

    #[test]
    fn request_frames_follow_rfc_27() {
        let frames = plain_request().to_frames(b"7");
        let expected: [&[u8]; 9] = [
            b"",
            b"1.0",
            b"7",
            b"global",
            b"127.0.0.1",
            b"IDENT",
            b"PLAIN",
            b"admin",
            b"secret",
        ];
        assert_eq!(frames, expected.map(Bytes::copy_from_slice));
        let curve = AuthRequest {
            credentials: Credentials::Curve {
                public_key: [9; 32],
            },
            ..plain_request()
        };
        assert_eq!(curve.to_frames(b"1")[6], "CURVE");
        assert_eq!(curve.to_frames(b"1")[7], Bytes::from(vec![9u8; 32]));
        let null = AuthRequest {
            credentials: Credentials::Null,
            ..plain_request()
        };
        assert_eq!(null.to_frames(b"1").len(), 7);
    }

    #[test]
    fn replies_round_trip_and_are_checked_like_libzmq() {
        let mut reply = AuthReply::accept("alice");
        reply.metadata.insert("Hello", "World");
        let frames = reply.to_frames(b"42");
        assert_eq!(AuthReply::from_frames(&frames, b"42"), Ok(reply.clone()));

        let with = |i: usize, v: &'static [u8]| {
            let mut f = frames.clone();
            f[i] = Bytes::from_static(v);
            AuthReply::from_frames(&f, b"42")
        };
        assert_eq!(with(0, b"x"), Err(ZapError::Delimiter));
        assert_eq!(with(1, b"2.0"), Err(ZapError::Version));
        assert_eq!(with(2, b"43"), Err(ZapError::RequestId));
        for bad in [&b"201"[..], b"2000", b"abc", b"", b"600"] {
            let mut f = frames.clone();
            f[3] = Bytes::copy_from_slice(bad);
            assert_eq!(
                AuthReply::from_frames(&f, b"42"),
                Err(ZapError::StatusCode),
                "{bad:?}"
            );
        }
        for code in [300u16, 400, 500] {
            let mut f = frames.clone();
            f[3] = Bytes::from(code.to_string());
            assert_eq!(
                AuthReply::from_frames(&f, b"42").unwrap().status.code(),
                code
            );
        }
        assert_eq!(with(6, b"\x05Hel"), Err(ZapError::Metadata));
        let mut more = frames.clone();
        more.push(Bytes::new());
        assert_eq!(
            AuthReply::from_frames(&more, b"42"),
            Err(ZapError::FrameCount(8))
        );
        assert_eq!(
            AuthReply::from_frames(&frames[..6], b"42"),
            Err(ZapError::FrameCount(6))
        );
    }

    #[test]
    fn passwords_stay_out_of_debug_output() {
        let shown = format!("{:?}", plain_request());
        assert!(shown.contains("admin"));
        assert!(!shown.contains("secret"));
    }
}
