//! The sans-IO ZMTP connection: greeting, NULL handshake, then frames and commands.
//!
//! See [`Session`] for an example of two sessions handshaking through byte buffers.

use bytes::{Bytes, BytesMut};

use crate::command::MAX_PING_CONTEXT;
use crate::frame::encode_frame;
use crate::greeting::SIGNATURE_LEN;
use crate::{
    Command, FrameDecoder, Greeting, Mechanism, Metadata, ProtocolError, SocketType, GREETING_LEN,
};

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
    /// Whether we are the server side of the mechanism (NULL: unused on the wire; libzmq
    /// sends 0 always, so we send 0 too and never check the peer's).
    pub as_server: bool,
}

impl SessionConfig {
    /// A configuration with defaults: empty identity, unlimited message size, no extra
    /// metadata, client role.
    pub fn new(socket_type: SocketType) -> SessionConfig {
        SessionConfig {
            socket_type,
            identity: Bytes::new(),
            max_msg_size: None,
            metadata: Metadata::new(),
            as_server: false,
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
    /// PING received; a PONG has already been queued for poll_transmit. `ttl_deciseconds`
    /// lets the I/O layer arm the peer-requested timeout.
    Ping {
        /// The TTL the peer asked for, in tenths of a second (0 = none).
        ttl_deciseconds: u16,
    },
    /// PONG received.
    Pong,
}

#[derive(Debug)]
enum State {
    /// Waiting for the peer's 64-byte greeting.
    Greeting,
    /// Greeting exchanged, our READY queued; waiting for the peer's READY.
    AwaitReady,
    /// Handshake done.
    Ready,
    /// A protocol error happened; every later call returns it again.
    Failed(ProtocolError),
}

/// One connection's protocol state. Create with [`Session::new`], which queues our
/// greeting at once (all 64 bytes, without waiting for the peer's).
///
/// The session speaks the NULL mechanism.
///
/// Two sessions talking through plain byte buffers:
///
/// ```
/// use bytes::BytesMut;
/// use monocoque_zmtp::{Event, Session, SessionConfig, SocketType};
///
/// let mut client = Session::new(SessionConfig::new(SocketType::Dealer));
/// let mut server = Session::new(SessionConfig::new(SocketType::Router));
/// let (mut to_server, mut to_client) = (BytesMut::new(), BytesMut::new());
///
/// // Pump bytes both ways until both sides report Ready.
/// let (mut client_peer, mut server_peer) = (None, None);
/// while client_peer.is_none() || server_peer.is_none() {
///     client.poll_transmit(&mut to_server);
///     server.poll_transmit(&mut to_client);
///     while let Some(ev) = server.handle_input(&mut to_server).unwrap() {
///         if let Event::Ready(p) = ev { server_peer = Some(p) }
///     }
///     while let Some(ev) = client.handle_input(&mut to_client).unwrap() {
///         if let Event::Ready(p) = ev { client_peer = Some(p) }
///     }
/// }
/// assert_eq!(server_peer.unwrap().socket_type, SocketType::Dealer);
/// assert_eq!(client_peer.unwrap().socket_type, SocketType::Router);
///
/// // A two-frame message from the DEALER to the ROUTER.
/// client.encode_frame(&mut to_server, b"hello", true);
/// client.encode_frame(&mut to_server, b"world", false);
/// assert_eq!(
///     server.handle_input(&mut to_server).unwrap(),
///     Some(Event::Frame { more: true, body: "hello".into() })
/// );
/// assert_eq!(
///     server.handle_input(&mut to_server).unwrap(),
///     Some(Event::Frame { more: false, body: "world".into() })
/// );
/// assert_eq!(server.handle_input(&mut to_server).unwrap(), None);
/// ```
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: State,
    decoder: FrameDecoder,
    tx: BytesMut,
    peer_greeting: Option<Greeting>,
    peer: Option<PeerInfo>,
}

impl Session {
    /// Starts a connection and queues our greeting (version 3.1, NULL, as-server 0).
    pub fn new(config: SessionConfig) -> Session {
        let mut tx = BytesMut::with_capacity(GREETING_LEN + 64);
        tx.extend_from_slice(&Greeting::new(Mechanism::Null, false).encode());
        let decoder = FrameDecoder::new(config.max_msg_size);
        Session {
            config,
            state: State::Greeting,
            decoder,
            tx,
            peer_greeting: None,
            peer: None,
        }
    }

    /// Moves bytes that must go to the peer (greeting, READY, PONG, ERROR, SUBSCRIBE…
    /// queued by the session itself) into `out`. Returns true if anything was appended.
    pub fn poll_transmit(&mut self, out: &mut BytesMut) -> bool {
        if self.tx.is_empty() {
            return false;
        }
        if out.is_empty() {
            std::mem::swap(out, &mut self.tx);
        } else {
            out.extend_from_slice(&self.tx);
            self.tx.clear();
        }
        true
    }

    /// Consumes bytes from the front of `buf` and returns the next event, or Ok(None) when
    /// more input is needed (leaving any incomplete bytes in `buf`). Call repeatedly until
    /// Ok(None). Any Err means: close the connection (after flushing poll_transmit, which
    /// may hold an ERROR command).
    /// Handshake rules (NULL): after the peer's greeting, check version (major>=3) and
    /// mechanism (exactly NULL, else MechanismMismatch), then queue our READY. The peer's READY
    /// must carry a known Socket-Type compatible with ours (IncompatibleSocketType, etc.).
    /// An ERROR command from the peer → Err(PeerError). Any non-READY command before READY →
    /// UnexpectedCommand. Data frames before READY → MessageBeforeReady.
    /// After READY: data frames → Event::Frame; SUBSCRIBE/CANCEL → events; PING → queue
    /// PONG (context truncated to 16 bytes) + Event::Ping; PONG → Event::Pong; ERROR →
    /// Err(PeerError); READY again → UnexpectedCommand; unknown commands are ignored.
    ///
    /// While the greeting is incomplete, the bytes seen so far are checked as they arrive,
    /// so a non-ZMTP peer is rejected after at most 10 bytes (and a pre-3.0 peer after 12).
    /// After an error, every later call returns the same error.
    #[inline]
    pub fn handle_input(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        // The hot path, small enough to inline into the caller's loop: a data frame
        // after the handshake.
        let data = buf
            .first()
            .is_some_and(|f| f & crate::frame::flags::COMMAND == 0);
        if data && matches!(self.state, State::Ready) {
            return match self.decoder.decode(buf) {
                Ok(frame) => Ok(frame.map(|f| Event::Frame {
                    more: f.more,
                    body: f.body,
                })),
                Err(e) => {
                    self.state = State::Failed(e.clone());
                    Err(e)
                }
            };
        }
        self.handle_other_input(buf)
    }

    fn handle_other_input(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        if let State::Failed(e) = &self.state {
            return Err(e.clone());
        }
        let result = self.step(buf);
        if let Err(e) = &result {
            self.state = State::Failed(e.clone());
        }
        result
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        if let State::Greeting = self.state {
            if !self.take_greeting(buf)? {
                return Ok(None);
            }
        }
        loop {
            let Some(frame) = self.decoder.decode(buf)? else {
                return Ok(None);
            };
            let ready = matches!(self.state, State::Ready);
            if !frame.command {
                if !ready {
                    return Err(ProtocolError::MessageBeforeReady);
                }
                return Ok(Some(Event::Frame {
                    more: frame.more,
                    body: frame.body,
                }));
            }
            let command = Command::decode(frame.body)?;
            if !ready {
                return match command {
                    Command::Ready(metadata) => self.accept_ready(metadata).map(Some),
                    Command::Error(reason) => Err(peer_error(&reason)),
                    other => Err(ProtocolError::UnexpectedCommand(other.name())),
                };
            }
            match command {
                Command::Subscribe(topic) => return Ok(Some(Event::Subscribe(topic))),
                Command::Cancel(topic) => return Ok(Some(Event::Cancel(topic))),
                Command::Ping {
                    ttl_deciseconds,
                    context,
                } => {
                    let context = context.slice(..context.len().min(MAX_PING_CONTEXT));
                    Command::Pong { context }.encode(&mut self.tx);
                    return Ok(Some(Event::Ping { ttl_deciseconds }));
                }
                Command::Pong { .. } => return Ok(Some(Event::Pong)),
                Command::Error(reason) => return Err(peer_error(&reason)),
                Command::Ready(_) => {
                    return Err(ProtocolError::UnexpectedCommand("READY".to_owned()))
                }
                // Unknown commands are ignored, as ZMTP asks.
                Command::Other { .. } => continue,
            }
        }
    }

    /// Returns Ok(true) once the greeting has been consumed and our READY queued.
    fn take_greeting(&mut self, buf: &mut BytesMut) -> Result<bool, ProtocolError> {
        let seen = buf.len().min(GREETING_LEN);
        Greeting::check_prefix(&buf[..seen.min(SIGNATURE_LEN)])?;
        // The version is judged once both its bytes are in, so that the error names the
        // same version whatever the reads' boundaries.
        if seen > 11 && buf[10] < 3 {
            return Err(ProtocolError::UnsupportedVersion {
                major: buf[10],
                minor: buf[11],
            });
        }
        if seen < GREETING_LEN {
            return Ok(false);
        }
        let mut raw = [0u8; GREETING_LEN];
        raw.copy_from_slice(&buf[..GREETING_LEN]);
        let greeting = Greeting::decode(&raw)?;
        if greeting.mechanism != Mechanism::Null.to_field() {
            return Err(ProtocolError::MechanismMismatch {
                ours: Mechanism::Null.as_str().to_owned(),
                theirs: greeting.mechanism_name(),
            });
        }
        let _ = buf.split_to(GREETING_LEN);
        self.peer_greeting = Some(greeting);
        Command::Ready(self.ready_properties()).encode(&mut self.tx);
        self.state = State::AwaitReady;
        Ok(true)
    }

    fn ready_properties(&self) -> Metadata {
        let mut props = Metadata::new();
        props.insert("Socket-Type", self.config.socket_type.as_str());
        let always_identity = matches!(
            self.config.socket_type,
            SocketType::Req | SocketType::Dealer | SocketType::Router
        );
        if always_identity || !self.config.identity.is_empty() {
            props.insert("Identity", self.config.identity.clone());
        }
        for (name, value) in self.config.metadata.iter() {
            props.insert(name, value.clone());
        }
        props
    }

    fn accept_ready(&mut self, metadata: Metadata) -> Result<Event, ProtocolError> {
        let raw = metadata
            .get("Socket-Type")
            .ok_or(ProtocolError::MissingSocketType)?;
        let socket_type = SocketType::from_wire(raw).ok_or_else(|| {
            ProtocolError::UnknownSocketType(String::from_utf8_lossy(raw).into_owned())
        })?;
        let ours = self.config.socket_type;
        if !ours.is_compatible(socket_type) {
            return Err(ProtocolError::IncompatibleSocketType {
                ours: ours.as_str(),
                theirs: socket_type.as_str(),
            });
        }
        let identity = metadata.get("Identity").cloned().unwrap_or_default();
        let minor = self.peer_greeting.as_ref().map_or(1, |g| g.minor);
        let info = PeerInfo {
            socket_type,
            identity,
            metadata,
            minor,
        };
        self.peer = Some(info.clone());
        self.state = State::Ready;
        Ok(Event::Ready(info))
    }

    /// True once both READYs are exchanged (ours queued, theirs received).
    pub fn is_ready(&self) -> bool {
        matches!(self.state, State::Ready)
    }

    /// The peer, once ready.
    pub fn peer(&self) -> Option<&PeerInfo> {
        self.peer.as_ref()
    }

    /// The peer's greeting, once received.
    pub fn peer_greeting(&self) -> Option<&Greeting> {
        self.peer_greeting.as_ref()
    }

    /// The frame decoder's hint of how many more input bytes the next frame needs
    /// (see [`FrameDecoder::needed`]); during the greeting, the bytes it still lacks are
    /// not tracked and 1 is returned.
    pub fn needed(&self) -> usize {
        match self.state {
            State::Greeting => 1,
            _ => self.decoder.needed().max(1),
        }
    }

    /// Appends one data frame for the peer (hot path; no allocation beyond `out` growth).
    pub fn encode_frame(&mut self, out: &mut BytesMut, body: &[u8], more: bool) {
        encode_frame(out, body, more, false);
    }

    /// Appends a subscription (subscribe=true) or cancellation for the peer, in 3.1 command
    /// form, or as a `\x01topic`/`\x00topic` data frame when the peer is ZMTP 3.0.
    ///
    /// Before the peer's greeting has arrived its version is unknown and the 3.1 command
    /// form is used; call this only after [`Event::Ready`] to be sure of the encoding.
    pub fn encode_subscription(&mut self, out: &mut BytesMut, topic: &[u8], subscribe: bool) {
        let zmtp30 = self.peer_greeting.as_ref().is_some_and(Greeting::is_zmtp30);
        if zmtp30 {
            let len = 1 + topic.len();
            out.reserve(crate::frame::header_len(len) + len);
            crate::frame::encode_header(out, len, false, false);
            out.extend_from_slice(&[u8::from(subscribe)]);
            out.extend_from_slice(topic);
        } else {
            let name: &[u8] = if subscribe { b"SUBSCRIBE" } else { b"CANCEL" };
            let len = 1 + name.len() + topic.len();
            out.reserve(crate::frame::header_len(len) + len);
            crate::frame::encode_header(out, len, false, true);
            out.extend_from_slice(&[name.len() as u8]);
            out.extend_from_slice(name);
            out.extend_from_slice(topic);
        }
    }

    /// Appends a PING with the given TTL and context (context cut to 16 bytes).
    pub fn encode_ping(&mut self, out: &mut BytesMut, ttl_deciseconds: u16, context: &[u8]) {
        let context = &context[..context.len().min(MAX_PING_CONTEXT)];
        Command::Ping {
            ttl_deciseconds,
            context: Bytes::copy_from_slice(context),
        }
        .encode(out);
    }

    /// Queues an ERROR command with `reason` (≤255 bytes) for poll_transmit.
    ///
    /// A longer reason is cut to 255 bytes.
    pub fn queue_error(&mut self, reason: &str) {
        Command::Error(Bytes::copy_from_slice(reason.as_bytes())).encode(&mut self.tx);
    }
}

fn peer_error(reason: &[u8]) -> ProtocolError {
    ProtocolError::PeerError(String::from_utf8_lossy(reason).into_owned())
}
