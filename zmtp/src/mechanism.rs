//! Security mechanisms: the handshake a [`Session`](crate::Session) runs between the
//! greeting and READY. NULL (RFC 37) and PLAIN (RFC 24) are here, CURVE in
//! [`crate::curve`]; each is a small state machine fed the peer's commands and writing
//! its own into the session's transmit buffer. A server's mechanism may stop to ask for
//! a ZAP verdict ([`Event::Authenticate`](crate::Event::Authenticate)); so does a NULL
//! socket with a ZAP domain, before it sends its READY
//! ([`SessionConfig::authenticate_null`](crate::SessionConfig::authenticate_null)).

use bytes::{BufMut, Bytes, BytesMut};

use crate::curve::{CurveClient, CurveKeyPair, CurvePublicKey, CurveServer};
use crate::zap::{AuthReply, AuthStatus, Credentials};
use crate::{Command, Mechanism, Metadata, ProtocolError};

/// How a connection secures itself: its mechanism and role, with the credentials the
/// role needs (libzmq's PLAIN_SERVER, PLAIN_USERNAME, PLAIN_PASSWORD).
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Security {
    /// NULL: no authentication, no encryption.
    #[default]
    Null,
    /// PLAIN client: sends a user name and password, in clear.
    PlainClient {
        /// PLAIN_USERNAME (at most 255 bytes).
        username: Bytes,
        /// PLAIN_PASSWORD (at most 255 bytes).
        password: Bytes,
    },
    /// PLAIN server: asks ZAP about each client's user name and password.
    PlainServer,
    /// CURVE client (libzmq's CURVE_SERVERKEY, with CURVE_PUBLICKEY and
    /// CURVE_SECRETKEY as `keys`): encrypts everything, and proves its long-term key.
    CurveClient {
        /// Our long-term key pair (libzmq makes clients give one; any pair will do).
        keys: CurveKeyPair,
        /// The server's long-term public key.
        server_key: CurvePublicKey,
    },
    /// CURVE server (CURVE_SERVER with CURVE_SECRETKEY): asks ZAP about each client's
    /// long-term public key (with no authenticator every key is accepted, as libzmq
    /// does).
    CurveServer {
        /// Our long-term key pair.
        keys: CurveKeyPair,
    },
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Security::Null => f.write_str("Null"),
            Security::PlainClient { username, .. } => f
                .debug_struct("PlainClient")
                .field("username", username)
                .finish_non_exhaustive(),
            Security::PlainServer => f.write_str("PlainServer"),
            Security::CurveClient { keys, server_key } => f
                .debug_struct("CurveClient")
                .field("keys", keys)
                .field("server_key", server_key)
                .finish(),
            Security::CurveServer { keys } => {
                f.debug_struct("CurveServer").field("keys", keys).finish()
            }
        }
    }
}

impl Security {
    /// The mechanism named in the greeting.
    pub fn mechanism(&self) -> Mechanism {
        match self {
            Security::Null => Mechanism::Null,
            Security::PlainClient { .. } | Security::PlainServer => Mechanism::Plain,
            Security::CurveClient { .. } | Security::CurveServer { .. } => Mechanism::Curve,
        }
    }
}

/// What the handshake wants after a command.
#[derive(Debug)]
pub(crate) enum Step {
    /// Nothing yet: wait for the peer's next command.
    Wait,
    /// A server needs the verdict on these credentials before it goes on.
    Authenticate(Credentials),
    /// The handshake is complete; these are the peer's properties.
    Ready(Metadata),
}

/// One connection's handshake, as far as it got.
pub(crate) enum Handshake {
    /// NULL: both sides send READY at once (ours is sent; the peer's is awaited).
    Null,
    /// NULL with ZAP: the verdict on the peer is awaited before our READY goes out
    /// (libzmq's `null_mechanism_t` with a ZAP domain).
    NullVerdict,
    /// PLAIN client: HELLO sent, WELCOME awaited; then INITIATE sent, READY awaited.
    PlainClient { welcomed: bool },
    /// PLAIN server: HELLO awaited; then (after ZAP) WELCOME sent, INITIATE awaited.
    PlainServer(PlainAwaits),
    /// CURVE client: HELLO sent; then INITIATE; READY awaited.
    CurveClient(Box<CurveClient>),
    /// CURVE server: HELLO, then INITIATE awaited; then the verdict.
    CurveServer(Box<CurveServer>),
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handshake::Null => f.write_str("Null"),
            Handshake::NullVerdict => f.write_str("NullVerdict"),
            Handshake::PlainClient { welcomed } => f
                .debug_struct("PlainClient")
                .field("welcomed", welcomed)
                .finish(),
            Handshake::PlainServer(awaits) => f.debug_tuple("PlainServer").field(awaits).finish(),
            Handshake::CurveClient(_) => f.write_str("CurveClient"),
            Handshake::CurveServer(_) => f.write_str("CurveServer"),
        }
    }
}

/// What a PLAIN server waits for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PlainAwaits {
    Hello,
    Verdict,
    Initiate,
}

impl Handshake {
    /// Starts the handshake once the peer's greeting has arrived: queues what we send
    /// first (`props`: our READY/INITIATE properties). A NULL handshake that must ask
    /// about the peer first (`authenticate_null`) sends nothing yet and
    /// [awaits its verdict](Handshake::awaits_verdict) at once.
    pub fn start(
        security: &Security,
        authenticate_null: bool,
        props: &Metadata,
        tx: &mut BytesMut,
    ) -> Result<Handshake, ProtocolError> {
        Ok(match security {
            Security::Null if authenticate_null => Handshake::NullVerdict,
            Security::Null => {
                Command::Ready(props.clone()).encode(tx);
                Handshake::Null
            }
            Security::PlainClient { username, password } => {
                let mut hello = BytesMut::with_capacity(2 + username.len() + password.len());
                for field in [username, password] {
                    let field = &field[..field.len().min(255)];
                    hello.put_u8(field.len() as u8);
                    hello.extend_from_slice(field);
                }
                other(b"HELLO", hello.freeze()).encode(tx);
                Handshake::PlainClient { welcomed: false }
            }
            Security::PlainServer => Handshake::PlainServer(PlainAwaits::Hello),
            Security::CurveClient { keys, server_key } => {
                Handshake::CurveClient(Box::new(CurveClient::start(keys.clone(), *server_key, tx)?))
            }
            Security::CurveServer { keys } => {
                Handshake::CurveServer(Box::new(CurveServer::new(keys.clone())))
            }
        })
    }

    /// A command from the peer before the handshake completed.
    pub fn on_command(
        &mut self,
        body: Bytes,
        props: &Metadata,
        tx: &mut BytesMut,
    ) -> Result<Step, ProtocolError> {
        match self {
            // CURVE's commands carry boxes, not ZMTP command data: its handshake reads
            // the bytes itself.
            Handshake::CurveClient(client) => Ok(match client.on_command(&body, props, tx)? {
                Some(metadata) => Step::Ready(metadata),
                None => Step::Wait,
            }),
            Handshake::CurveServer(server) => Ok(match server.on_command(&body, tx)? {
                Some(public_key) => Step::Authenticate(Credentials::Curve { public_key }),
                None => Step::Wait,
            }),
            // The session reads nothing while a verdict is awaited.
            Handshake::NullVerdict => Err(unexpected(&handshake_command(body)?)),
            Handshake::Null => match handshake_command(body)? {
                Command::Ready(metadata) => Ok(Step::Ready(metadata)),
                other => Err(unexpected(&other)),
            },
            Handshake::PlainClient { welcomed } => match (handshake_command(body)?, *welcomed) {
                (Command::Other { name, data }, false) if &name[..] == b"WELCOME" => {
                    if !data.is_empty() {
                        return Err(malformed("WELCOME", "carries data"));
                    }
                    *welcomed = true;
                    initiate(props).encode(tx);
                    Ok(Step::Wait)
                }
                (Command::Ready(metadata), true) => Ok(Step::Ready(metadata)),
                (other, _) => Err(unexpected(&other)),
            },
            Handshake::PlainServer(state) => match (handshake_command(body)?, &*state) {
                (Command::Other { name, data }, PlainAwaits::Hello) if &name[..] == b"HELLO" => {
                    let credentials = parse_plain_hello(data)?;
                    *state = PlainAwaits::Verdict;
                    Ok(Step::Authenticate(credentials))
                }
                (Command::Other { name, data }, PlainAwaits::Initiate)
                    if &name[..] == b"INITIATE" =>
                {
                    let metadata = Metadata::decode(data)?;
                    Command::Ready(props.clone()).encode(tx);
                    Ok(Step::Ready(metadata))
                }
                (other, _) => Err(unexpected(&other)),
            },
        }
    }

    /// The authenticator's verdict for the credentials of [`Step::Authenticate`]: on
    /// success the handshake goes on; otherwise it fails with
    /// [`ProtocolError::AuthFailed`], after queueing ERROR with the status code for
    /// 400 and 500 (300 closes without a word, as libzmq does).
    pub fn on_verdict(
        &mut self,
        reply: &AuthReply,
        props: &Metadata,
        tx: &mut BytesMut,
    ) -> Result<Option<Metadata>, ProtocolError> {
        if !self.awaits_verdict() {
            return Err(ProtocolError::UnexpectedVerdict);
        }
        match reply.status {
            AuthStatus::Success => match self {
                Handshake::NullVerdict => {
                    // Our READY, at last; the peer's is read next.
                    Command::Ready(props.clone()).encode(tx);
                    *self = Handshake::Null;
                    Ok(None)
                }
                Handshake::PlainServer(state) => {
                    *state = PlainAwaits::Initiate;
                    other(b"WELCOME", Bytes::new()).encode(tx);
                    Ok(None)
                }
                Handshake::CurveServer(server) => server.accept(props, tx).map(Some),
                _ => Err(ProtocolError::UnexpectedVerdict),
            },
            status => {
                if status != AuthStatus::TemporaryError {
                    let code = status.code().to_string();
                    if matches!(self, Handshake::PlainServer(_)) {
                        // In the form libzmq 4.3's PLAIN expects (LIBZMQ_ERROR_PREFIX).
                        Command::encode_libzmq_error(code.as_bytes(), tx);
                    } else {
                        // libzmq's NULL and CURVE write (and its CURVE expects) a
                        // well-formed ERROR.
                        Command::Error(Bytes::from(code)).encode(tx);
                    }
                }
                Err(ProtocolError::AuthFailed {
                    status: status.code(),
                })
            }
        }
    }

    /// True while a server waits for the authenticator.
    pub fn awaits_verdict(&self) -> bool {
        match self {
            Handshake::NullVerdict => true,
            Handshake::PlainServer(state) => *state == PlainAwaits::Verdict,
            Handshake::CurveServer(server) => server.awaits_verdict(),
            _ => false,
        }
    }

    /// CURVE: the boxes MESSAGEs travel in, once the handshake is complete.
    pub fn take_boxes(&mut self) -> Option<crate::curve::Boxes> {
        match self {
            Handshake::CurveClient(client) => client.take_boxes(),
            Handshake::CurveServer(server) => server.take_boxes(),
            _ => None,
        }
    }
}

/// A NULL or PLAIN handshake command; the peer's ERROR is the error it means.
fn handshake_command(body: Bytes) -> Result<Command, ProtocolError> {
    match Command::decode(body)? {
        Command::Error(reason) => Err(ProtocolError::PeerError(
            String::from_utf8_lossy(&reason).into_owned(),
        )),
        command => Ok(command),
    }
}

/// HELLO's body: a length-prefixed user name, then a length-prefixed password, and
/// nothing after.
fn parse_plain_hello(data: Bytes) -> Result<Credentials, ProtocolError> {
    let field = |at: usize| -> Result<(Bytes, usize), ProtocolError> {
        let len = usize::from(
            *data
                .get(at)
                .ok_or(malformed("HELLO", "ends before a length"))?,
        );
        let end = at + 1 + len;
        if data.len() < end {
            return Err(malformed("HELLO", "a field runs past the end"));
        }
        Ok((data.slice(at + 1..end), end))
    };
    let (username, next) = field(0)?;
    let (password, end) = field(next)?;
    if end != data.len() {
        return Err(malformed("HELLO", "bytes after the password"));
    }
    Ok(Credentials::Plain { username, password })
}

fn initiate(props: &Metadata) -> Command {
    let mut data = BytesMut::with_capacity(props.encoded_len());
    props.encode(&mut data);
    other(b"INITIATE", data.freeze())
}

fn other(name: &'static [u8], data: Bytes) -> Command {
    Command::Other {
        name: Bytes::from_static(name),
        data,
    }
}

fn unexpected(command: &Command) -> ProtocolError {
    ProtocolError::UnexpectedCommand(command.name())
}

fn malformed(command: &'static str, reason: &'static str) -> ProtocolError {
    ProtocolError::MalformedCommand { command, reason }
}
