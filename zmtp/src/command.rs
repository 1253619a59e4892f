//! ZMTP commands: name-length (1 byte), name, data.

use bytes::{BufMut, Bytes, BytesMut};

use crate::frame::encode_header;
use crate::{Metadata, ProtocolError};

/// How libzmq 4.3 writes the start of an ERROR command's body in its PLAIN
/// mechanism: its C prefix `"\x05ERROR"` reads as the escape `\x05E` (0x5E) followed
/// by `RROR`, so the name-length byte is 0x5E and the name's first letter is missing.
/// libzmq's PLAIN client also expects it in that form (a well-formed ERROR is an
/// "unexpected command" to it), so the PLAIN server sends it so and
/// [`Command::decode`] takes both forms. libzmq's CURVE writes its prefix as
/// `"\5ERROR"`, a well-formed ERROR, and expects that form.
pub const LIBZMQ_ERROR_PREFIX: &[u8] = b"\x5eRROR";

/// Most bytes of PING context that PONG echoes.
pub const MAX_PING_CONTEXT: usize = 16;

/// A command frame's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `READY` with its properties.
    Ready(Metadata),
    /// `ERROR` with a reason (1-byte length + text).
    Error(Bytes),
    /// `SUBSCRIBE` + topic (ZMTP 3.1).
    Subscribe(Bytes),
    /// `CANCEL` + topic (ZMTP 3.1).
    Cancel(Bytes),
    /// `PING`: TTL in deciseconds and 0..=16 bytes of context.
    ///
    /// Decoding keeps whatever context the peer sent (libzmq truncates when echoing);
    /// encoding writes the context as given.
    Ping {
        /// Time-to-live the peer asks for, in tenths of a second (0 = none).
        ttl_deciseconds: u16,
        /// Opaque context to echo in PONG.
        context: Bytes,
    },
    /// `PONG` echoing a PING's context.
    Pong {
        /// The echoed context.
        context: Bytes,
    },
    /// Any other command (name, data), e.g. mechanism commands handled elsewhere.
    Other {
        /// The command name (1..=255 bytes).
        name: Bytes,
        /// Everything after the name.
        data: Bytes,
    },
}

impl Command {
    /// Parses a command frame body (zero-copy).
    pub fn decode(body: Bytes) -> Result<Command, ProtocolError> {
        let Some(&name_len) = body.first() else {
            return Err(ProtocolError::MalformedCommand {
                command: "unknown",
                reason: "empty command frame",
            });
        };
        let name_len = usize::from(name_len);
        if name_len == 0 {
            return Err(ProtocolError::MalformedCommand {
                command: "unknown",
                reason: "empty command name",
            });
        }
        if body.len() < 1 + name_len {
            if let Some(reason) = libzmq_error(&body) {
                return Ok(Command::Error(reason));
            }
            return Err(ProtocolError::MalformedCommand {
                command: "unknown",
                reason: "command name runs past the end of the frame",
            });
        }
        let data = body.slice(1 + name_len..);
        let cmd = match &body[1..1 + name_len] {
            b"READY" => Command::Ready(Metadata::decode(data)?),
            b"ERROR" => {
                let malformed = ProtocolError::MalformedCommand {
                    command: "ERROR",
                    reason: "reason length runs past the end",
                };
                let len = usize::from(*data.first().ok_or(malformed.clone())?);
                if data.len() < 1 + len {
                    return Err(malformed);
                }
                Command::Error(data.slice(1..1 + len))
            }
            b"SUBSCRIBE" => Command::Subscribe(data),
            b"CANCEL" => Command::Cancel(data),
            b"PING" => {
                if data.len() < 2 {
                    return Err(ProtocolError::MalformedCommand {
                        command: "PING",
                        reason: "shorter than its 2-byte TTL",
                    });
                }
                Command::Ping {
                    ttl_deciseconds: u16::from_be_bytes([data[0], data[1]]),
                    context: data.slice(2..),
                }
            }
            b"PONG" => Command::Pong { context: data },
            _ => Command::Other {
                name: body.slice(1..1 + name_len),
                data,
            },
        };
        Ok(cmd)
    }

    /// An ERROR as libzmq 4.3's PLAIN writes it (see [`LIBZMQ_ERROR_PREFIX`]).
    pub fn encode_libzmq_error(reason: &[u8], out: &mut BytesMut) {
        let reason = &reason[..reason.len().min(255)];
        let body_len = LIBZMQ_ERROR_PREFIX.len() + 1 + reason.len();
        out.reserve(crate::frame::header_len(body_len) + body_len);
        encode_header(out, body_len, false, true);
        out.extend_from_slice(LIBZMQ_ERROR_PREFIX);
        out.put_u8(reason.len() as u8);
        out.extend_from_slice(reason);
    }

    fn name_bytes(&self) -> &[u8] {
        match self {
            Command::Ready(_) => b"READY",
            Command::Error(_) => b"ERROR",
            Command::Subscribe(_) => b"SUBSCRIBE",
            Command::Cancel(_) => b"CANCEL",
            Command::Ping { .. } => b"PING",
            Command::Pong { .. } => b"PONG",
            Command::Other { name, .. } => name,
        }
    }

    /// Length of the frame body (name length byte, name, data).
    pub fn body_len(&self) -> usize {
        let data_len = match self {
            Command::Ready(m) => m.encoded_len(),
            Command::Error(r) => 1 + r.len().min(255),
            Command::Subscribe(t) | Command::Cancel(t) => t.len(),
            Command::Ping { context, .. } => 2 + context.len(),
            Command::Pong { context } => context.len(),
            Command::Other { data, .. } => data.len(),
        };
        1 + self.name_bytes().len() + data_len
    }

    /// Appends the whole command frame (header with COMMAND flag, LONG when the body
    /// exceeds 255 bytes, then body).
    ///
    /// An ERROR reason is cut to 255 bytes. Panics if an `Other` name is empty or longer
    /// than 255 bytes (a programming error).
    pub fn encode(&self, out: &mut BytesMut) {
        let name = self.name_bytes();
        assert!(
            (1..=255).contains(&name.len()),
            "command name must be 1..=255 bytes"
        );
        let body_len = self.body_len();
        out.reserve(crate::frame::header_len(body_len) + body_len);
        encode_header(out, body_len, false, true);
        out.put_u8(name.len() as u8);
        out.extend_from_slice(name);
        match self {
            Command::Ready(m) => m.encode(out),
            Command::Error(r) => {
                let r = &r[..r.len().min(255)];
                out.put_u8(r.len() as u8);
                out.extend_from_slice(r);
            }
            Command::Subscribe(t) | Command::Cancel(t) => out.extend_from_slice(t),
            Command::Ping {
                ttl_deciseconds,
                context,
            } => {
                out.put_u16(*ttl_deciseconds);
                out.extend_from_slice(context);
            }
            Command::Pong { context } => out.extend_from_slice(context),
            Command::Other { data, .. } => out.extend_from_slice(data),
        }
    }

    /// The command's name, e.g. `"READY"` (lossy for Other).
    pub fn name(&self) -> String {
        String::from_utf8_lossy(self.name_bytes()).into_owned()
    }
}

/// The reason of an ERROR in libzmq 4.3's mechanism form, if `body` is one.
fn libzmq_error(body: &Bytes) -> Option<Bytes> {
    let rest = body.strip_prefix(LIBZMQ_ERROR_PREFIX)?;
    let len = usize::from(*rest.first()?);
    (rest.len() > len)
        .then(|| body.slice(LIBZMQ_ERROR_PREFIX.len() + 1..LIBZMQ_ERROR_PREFIX.len() + 1 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(c: &Command) -> Vec<u8> {
        let mut out = BytesMut::new();
        c.encode(&mut out);
        out.to_vec()
    }

    #[test]
    fn exact_encodings() {
        assert_eq!(
            enc(&Command::Subscribe(Bytes::from_static(b"A"))),
            b"\x04\x0b\x09SUBSCRIBEA"
        );
        assert_eq!(
            enc(&Command::Cancel(Bytes::from_static(b"A"))),
            b"\x04\x08\x06CANCELA"
        );
        assert_eq!(
            enc(&Command::Error(Bytes::from_static(b"400"))),
            b"\x04\x0a\x05ERROR\x03400"
        );
        assert_eq!(
            enc(&Command::Ping {
                ttl_deciseconds: 10,
                context: Bytes::new()
            }),
            b"\x04\x07\x04PING\x00\x0a"
        );
        assert_eq!(
            enc(&Command::Pong {
                context: Bytes::from_static(b"c")
            }),
            b"\x04\x06\x04PONGc"
        );
        let other = Command::Other {
            name: Bytes::from_static(b"HELLO"),
            data: Bytes::from_static(b"\x00"),
        };
        assert_eq!(enc(&other), b"\x04\x07\x05HELLO\x00");
        assert_eq!(other.name(), "HELLO");
    }

    #[test]
    fn decode_edge_cases() {
        assert!(Command::decode(Bytes::new()).is_err());
        assert!(Command::decode(Bytes::from_static(b"\x00")).is_err());
        assert!(Command::decode(Bytes::from_static(b"\x05READ")).is_err());
        assert!(Command::decode(Bytes::from_static(b"\x05ERROR")).is_err());
        // libzmq 4.3's mechanism ERROR, and ours in that form.
        assert_eq!(
            Command::decode(Bytes::from_static(b"\x5eRROR\x03400")),
            Ok(Command::Error(Bytes::from_static(b"400")))
        );
        let mut out = BytesMut::new();
        Command::encode_libzmq_error(b"400", &mut out);
        assert_eq!(&out[..], b"\x04\x09\x5eRROR\x03400");
        assert!(Command::decode(Bytes::from_static(b"\x5eRROR\x05400")).is_err());
        assert_eq!(
            Command::decode(Bytes::from_static(b"\x05ERROR\x00")),
            Ok(Command::Error(Bytes::new()))
        );
        // Names are case-sensitive, like libzmq: "ready" is some other command.
        assert!(matches!(
            Command::decode(Bytes::from_static(b"\x05ready")),
            Ok(Command::Other { .. })
        ));
        assert_eq!(
            Command::decode(Bytes::from_static(b"\x04PING\x01\x02ctx")),
            Ok(Command::Ping {
                ttl_deciseconds: 0x0102,
                context: Bytes::from_static(b"ctx")
            })
        );
    }
}
