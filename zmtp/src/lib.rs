//! # monocoque-zmtp
//!
//! The ZeroMQ Message Transport Protocol (ZMTP 3.1, with 3.0 peers) as a sans-IO
//! state machine: bytes in, events out; messages in, bytes out; time in, deadlines
//! out. Nothing here touches a socket, a timer or an executor, so the whole protocol
//! can be tested, fuzzed and benchmarked on plain byte buffers and a made-up clock.
//!
//! The entry point is [`Session`], one per connection:
//! - feed it what the peer sent with [`Session::handle_input`] (and the time of each
//!   read with [`Session::on_input`]) and act on the [`Event`]s it returns;
//! - encode messages with [`Session::encode_message`] (or, before the connection
//!   exists, with the [`Encoder`] its mechanism uses, [`Encoder::NULL`]) into an
//!   [`Outgoing`], and collect the session's own commands into the same
//!   [`Outgoing`] with [`Session::poll_transmit`]; a writer sends the
//!   [`Outgoing`] in order (large bodies by reference, see [`encoder`]);
//! - keep one timer at [`Session::poll_timeout`] and call
//!   [`Session::handle_timeout`] when it fires: that is where heartbeat PINGs are
//!   queued and where a handshake that takes too long or a silent peer ends the
//!   connection ([`Timeout`]).
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use monocoque_zmtp::{Encoder, Outgoing, Session, SessionConfig, SocketType};
//!
//! // A message queued before any connection exists, then the start of a session's
//! // greeting (its signature; the rest follows the peer's): one buffer, written in
//! // this order.
//! let mut out = Outgoing::new();
//! Encoder::NULL.encode_message(&mut out, [Bytes::from_static(b"hello")]);
//! let mut session = Session::new(SessionConfig::new(SocketType::Push), Instant::now());
//! assert_eq!(session.encoder(), Encoder::NULL);
//! session.poll_transmit(&mut out);
//! assert_eq!(out.len(), 2 + 5 + 10);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod command;
pub mod curve;
pub mod encoder;
pub mod error;
pub mod frame;
pub mod greeting;
pub mod mechanism;
pub mod metadata;
pub mod session;
pub mod socket_type;
pub mod timers;
pub mod z85;
pub mod zap;

pub use command::Command;
pub use curve::{CurveKeyPair, CurvePublicKey};
pub use encoder::{Encoder, Outgoing};
pub use error::ProtocolError;
pub use frame::{Frame, FrameDecoder};
pub use greeting::{Greeting, Mechanism, GREETING_LEN};
pub use mechanism::Security;
pub use metadata::Metadata;
pub use session::{Event, PeerInfo, Session, SessionConfig};
pub use socket_type::SocketType;
pub use timers::{HeartbeatOptions, Timeout};
pub use zap::{AuthReply, AuthRequest, AuthStatus, Credentials};
