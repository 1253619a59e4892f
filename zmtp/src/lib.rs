//! # monocoque-zmtp
//!
//! The ZeroMQ Message Transport Protocol (ZMTP 3.1, with 3.0 peers) as a sans-IO
//! state machine: bytes in, events out; messages in, bytes out. Nothing here
//! touches a socket, a timer or an executor, so the whole protocol can be tested,
//! fuzzed and benchmarked on plain byte buffers.
//!
//! The entry point is [`Session`]: feed it what the peer sent with
//! [`Session::handle_input`], collect handshake and command bytes with
//! [`Session::poll_transmit`], and encode outgoing message frames with
//! [`Session::encode_frame`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod command;
pub mod error;
pub mod frame;
pub mod greeting;
pub mod metadata;
pub mod session;
pub mod socket_type;
pub mod z85;

pub use command::Command;
pub use error::ProtocolError;
pub use frame::{Frame, FrameDecoder};
pub use greeting::{Greeting, Mechanism, GREETING_LEN};
pub use metadata::Metadata;
pub use session::{Event, PeerInfo, Session, SessionConfig};
pub use socket_type::SocketType;
