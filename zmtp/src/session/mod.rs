//! The sans-IO ZMTP connection: greeting, the mechanism's handshake, then frames and
//! commands, with the connection's deadlines (HANDSHAKE_IVL, heartbeats). This file
//! is the input side and the state; `transmit.rs` the output side; `types.rs` the
//! configuration, the peer's information and the events.
//!
//! See [`Session`] for an example of two sessions handshaking through byte buffers.

mod transmit;
mod types;

use transmit::encode_command;
pub use types::{Event, PeerInfo, SessionConfig};

use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::command::MAX_PING_CONTEXT;
use crate::curve::{Boxes, INNER_COMMAND, INNER_MORE};
use crate::encoder::Outgoing;
use crate::greeting::SIGNATURE_LEN;
use crate::mechanism::{Handshake, Security, Step};
use crate::timers::{Timeout, Timers};
use crate::zap::{AuthReply, Credentials};
use crate::{
    Command, FrameDecoder, Greeting, Mechanism, Metadata, ProtocolError, SocketType, GREETING_LEN,
};

#[derive(Debug)]
enum State {
    /// Waiting for the peer's 64-byte greeting.
    Greeting,
    /// Greeting exchanged; the mechanism's handshake runs.
    Handshaking(Handshake),
    /// Handshake done.
    Ready,
    /// A protocol error happened; every later call returns it again.
    Failed(ProtocolError),
}

/// One connection's protocol state. Create with [`Session::new`], which queues the
/// signature that starts our greeting; as libzmq does, the major version follows once
/// the peer's signature is in, and the rest once its major version is (on the
/// accepting side, once the rest of the peer's has begun: see
/// [`SessionConfig::accepted`]). A libzmq peer of another mechanism closes the moment
/// it has read ours; sent in these steps, its own is on the wire by then, so both
/// sides can say what went wrong. Call [`Session::poll_transmit`] after every
/// [`Session::handle_input`].
///
/// The session speaks NULL, PLAIN or CURVE ([`SessionConfig::security`]). It owns what goes on the wire: its own
/// commands come out of [`Session::poll_transmit`], and messages are encoded the way
/// its connection frames them ([`Session::encoder`], [`Session::encode_message`]),
/// both into the caller's [`Outgoing`], which a writer then sends in order. It also
/// owns the connection's clock rules: see [`Session::poll_timeout`].
///
/// Two sessions talking through plain byte buffers:
///
/// ```
/// use std::time::Instant;
/// use bytes::{BufMut, Bytes, BytesMut};
/// use monocoque_zmtp::{Event, Outgoing, Session, SessionConfig, SocketType};
///
/// let now = Instant::now();
/// let mut client = Session::new(SessionConfig::new(SocketType::Dealer), now);
/// let mut server = Session::new(SessionConfig::new(SocketType::Router), now);
/// // What a side writes (its Outgoing) becomes what the other side reads.
/// let (mut client_out, mut server_out) = (Outgoing::new(), Outgoing::new());
/// let (mut to_server, mut to_client) = (BytesMut::new(), BytesMut::new());
///
/// // Pump bytes both ways until both sides report Ready.
/// let (mut client_peer, mut server_peer) = (None, None);
/// while client_peer.is_none() || server_peer.is_none() {
///     client.poll_transmit(&mut client_out);
///     server.poll_transmit(&mut server_out);
///     to_server.put(&mut client_out);
///     to_client.put(&mut server_out);
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
/// let msg = [Bytes::from_static(b"hello"), Bytes::from_static(b"world")];
/// client.encode_message(&mut client_out, &msg);
/// to_server.put(&mut client_out);
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
    /// Our greeting, and how much of it is queued (see [`Session::new`]).
    greeting: [u8; GREETING_LEN],
    greeting_sent: usize,
    /// NULL on the accepting side: our READY, until the peer has sent more than its
    /// greeting (see [`SessionConfig::accepted`]).
    held_ready: Option<BytesMut>,

    peer_greeting: Option<Greeting>,
    peer: Option<PeerInfo>,
    /// What the authenticator said of the peer.
    verdict: Option<AuthReply>,
    /// The peer's properties, when a verdict completed the handshake (CURVE) and the
    /// next `handle_input` reports Ready.
    ready_pending: Option<Metadata>,
    /// CURVE: the boxes every frame travels in after the handshake.
    curve: Option<Boxes>,
    timers: Timers,
}

impl Session {
    /// Starts a connection at `now` (from which HANDSHAKE_IVL counts) and queues the
    /// start of our greeting (version 3.1, our mechanism, as-server 0).
    pub fn new(config: SessionConfig, now: Instant) -> Session {
        let mut tx = BytesMut::with_capacity(GREETING_LEN + 64);
        // libzmq sends as-server 0 whatever its role; roles come from each side's options.
        let greeting = Greeting::new(config.security.mechanism(), false).encode();
        tx.extend_from_slice(&greeting[..SIGNATURE_LEN]);
        let decoder = FrameDecoder::new(config.max_msg_size);
        let timers = Timers::new(config.handshake_ivl, config.heartbeat, now);
        Session {
            config,
            state: State::Greeting,
            decoder,
            tx,
            greeting,
            greeting_sent: SIGNATURE_LEN,
            held_ready: None,

            peer_greeting: None,
            peer: None,
            verdict: None,
            ready_pending: None,
            curve: None,
            timers,
        }
    }

    /// Moves bytes that must go to the peer (greeting, READY, PING, PONG, ERROR…
    /// queued by the session itself) to the end of `out`. Returns true if anything was
    /// appended.
    pub fn poll_transmit(&mut self, out: &mut Outgoing) -> bool {
        if self.tx.is_empty() {
            return false;
        }
        let tail = out.tail();
        if tail.is_empty() {
            std::mem::swap(tail, &mut self.tx);
        } else {
            tail.extend_from_slice(&self.tx);
            self.tx.clear();
        }
        true
    }

    /// Records that bytes arrived from the peer at `now` (call once per read, before
    /// [`Session::handle_input`] sees them). Any byte is a sign of life for the
    /// heartbeat; this only stores the time, so it costs nothing on the hot path.
    #[inline]
    pub fn on_input(&mut self, now: Instant) {
        self.timers.on_input(now);
    }

    /// The next deadline: when [`Session::handle_timeout`] must be called (`None`:
    /// none). It moves only when the handshake completes, when a PING carries a TTL
    /// and when `handle_timeout` runs, never with [`Session::on_input`], so a caller
    /// keeps one timer and re-arms it when this changes.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use monocoque_zmtp::{Session, SessionConfig, SocketType, Timeout};
    ///
    /// let start = Instant::now();
    /// let mut config = SessionConfig::new(SocketType::Dealer);
    /// config.handshake_ivl = Some(Duration::from_secs(30));
    /// let mut session = Session::new(config, start);
    /// let deadline = session.poll_timeout().unwrap();
    /// assert_eq!(deadline, start + Duration::from_secs(30));
    /// // The peer never completed its handshake.
    /// assert_eq!(session.handle_timeout(deadline), Err(Timeout::Handshake));
    /// ```
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Handles the deadlines reached at `now`: queues a PING (with our HEARTBEAT_TTL)
    /// for [`Session::poll_transmit`] when one is due, or reports why the connection
    /// must close: the handshake took longer than HANDSHAKE_IVL, nothing arrived within
    /// HEARTBEAT_TIMEOUT after our PING, or the peer was silent longer than the TTL it
    /// asked for. Calling it early does nothing.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Timeout> {
        if self.timers.expire(now)? {
            let ping = Command::Ping {
                ttl_deciseconds: self.config.heartbeat.ttl_deciseconds(),
                context: Bytes::new(),
            };
            encode_command(&mut self.curve, &ping, &mut self.tx);
        }
        Ok(())
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
        if data && matches!(self.state, State::Ready) && self.curve.is_none() {
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
            if let State::Handshaking(h) = &self.state {
                if h.awaits_verdict() {
                    // NULL with ZAP: the peer presents nothing, and is asked about
                    // before we say anything.
                    return Ok(Some(Event::Authenticate(Credentials::Null)));
                }
            }
        }
        loop {
            if let Some(metadata) = self.ready_pending.take() {
                // A server's handshake completed with its verdict (CURVE).
                return self.accept_ready(metadata).map(Some);
            }
            if let State::Handshaking(h) = &self.state {
                if h.awaits_verdict() {
                    // Nothing more is read until the authenticator has spoken.
                    return Ok(None);
                }
            }
            if !buf.is_empty() {
                // The peer has sent more than its greeting: our READY may go.
                if let Some(ready) = self.held_ready.take() {
                    self.tx.extend_from_slice(&ready);
                }
            }
            let Some(frame) = self.decoder.decode(buf)? else {
                return Ok(None);
            };
            if let State::Handshaking(handshake) = &mut self.state {
                if !frame.command {
                    return Err(ProtocolError::MessageBeforeReady);
                }
                let props = ready_properties(&self.config);
                match handshake.on_command(frame.body, &props, &mut self.tx)? {
                    Step::Wait => continue,
                    Step::Authenticate(credentials) => {
                        return Ok(Some(Event::Authenticate(credentials)))
                    }
                    Step::Ready(metadata) => {
                        self.curve = handshake.take_boxes();
                        return self.accept_ready(metadata).map(Some);
                    }
                }
            }
            let command = match &mut self.curve {
                // Under CURVE every frame is a MESSAGE (libzmq sends it as a data
                // frame, others as a command): open it, then it is data or a command.
                Some(boxes) => {
                    let (flags, payload) = boxes.opener.open(&frame.body)?;
                    if flags & INNER_COMMAND == 0 {
                        return Ok(Some(Event::Frame {
                            more: flags & INNER_MORE != 0,
                            body: payload,
                        }));
                    }
                    Command::decode(payload)?
                }
                None if !frame.command => {
                    return Ok(Some(Event::Frame {
                        more: frame.more,
                        body: frame.body,
                    }))
                }
                None => Command::decode(frame.body)?,
            };
            match command {
                Command::Subscribe(topic) => return Ok(Some(Event::Subscribe(topic))),
                Command::Cancel(topic) => return Ok(Some(Event::Cancel(topic))),
                Command::Ping {
                    ttl_deciseconds,
                    context,
                } => {
                    let context = context.slice(..context.len().min(MAX_PING_CONTEXT));
                    let pong = Command::Pong { context };
                    encode_command(&mut self.curve, &pong, &mut self.tx);
                    self.timers.on_peer_ping(ttl_deciseconds);
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
        // Our major version once the peer's signature is in; the rest once its major
        // version says ZMTP 3 (an older peer is refused below), or, on the accepting
        // side, once the rest of its greeting has begun (SessionConfig::accepted).
        // What goes out depends only on the bytes seen, not on how reads split them.
        let rest_after = if self.config.accepted { 12 } else { 11 };
        let due = match seen {
            n if n >= rest_after && buf[10] >= 3 => GREETING_LEN,
            n if n >= SIGNATURE_LEN => SIGNATURE_LEN + 1,
            _ => self.greeting_sent,
        };
        if due > self.greeting_sent {
            self.tx
                .extend_from_slice(&self.greeting[self.greeting_sent..due]);
            self.greeting_sent = due;
        }
        // The version is judged once both its bytes are in, so that the error names the
        // same version whatever the reads' boundaries.
        if seen > 11 && buf[10] < 3 {
            return Err(ProtocolError::UnsupportedVersion {
                major: buf[10],
                minor: buf[11],
            });
        }
        // The mechanism is judged as soon as its 20 bytes are in: a peer of another
        // mechanism (libzmq) closes the moment it has read ours, often before the
        // rest of its greeting is out.
        let ours = self.config.security.mechanism();
        if seen >= 32 && buf[12..32] != ours.to_field() {
            let mut field = [0u8; 20];
            field.copy_from_slice(&buf[12..32]);
            return Err(ProtocolError::MechanismMismatch {
                ours: ours.as_str().to_owned(),
                theirs: crate::greeting::mechanism_name(&field),
            });
        }
        if seen < GREETING_LEN {
            return Ok(false);
        }
        let mut raw = [0u8; GREETING_LEN];
        raw.copy_from_slice(&buf[..GREETING_LEN]);
        let greeting = Greeting::decode(&raw)?;
        if greeting.mechanism != ours.to_field() {
            return Err(ProtocolError::MechanismMismatch {
                ours: ours.as_str().to_owned(),
                theirs: greeting.mechanism_name(),
            });
        }
        let _ = buf.split_to(GREETING_LEN);
        self.peer_greeting = Some(greeting);
        let props = ready_properties(&self.config);
        let handshake = if self.config.accepted && matches!(self.config.security, Security::Null) {
            // On the accepting side the end of our greeting leaves only now, and a
            // libzmq peer that read it and our READY together, and found our type
            // incompatible, would close before its own READY was out. It sends that
            // READY as soon as our greeting is complete; ours follows it.
            let mut ready = BytesMut::new();
            let handshake = Handshake::start(
                &self.config.security,
                self.config.authenticate_null,
                &props,
                &mut ready,
            )?;
            self.held_ready = Some(ready);
            handshake
        } else {
            Handshake::start(
                &self.config.security,
                self.config.authenticate_null,
                &props,
                &mut self.tx,
            )?
        };
        self.state = State::Handshaking(handshake);
        Ok(true)
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
        let (user_id, auth_metadata) = match self.verdict.take() {
            Some(reply) => (Some(reply.user_id), reply.metadata),
            None => (None, Metadata::new()),
        };
        let info = PeerInfo {
            socket_type,
            identity,
            metadata,
            minor,
            user_id,
            auth_metadata,
        };
        self.peer = Some(info.clone());
        self.state = State::Ready;
        self.timers.on_ready();
        Ok(Event::Ready(info))
    }

    /// Hands the authenticator's verdict to a handshake that asked for it
    /// ([`Event::Authenticate`]). A refusal fails the session with
    /// [`ProtocolError::AuthFailed`] (after queueing ERROR with the status code for
    /// 400 and 500, which [`Session::poll_transmit`] then yields).
    pub fn authenticated(&mut self, reply: AuthReply) -> Result<(), ProtocolError> {
        self.apply_verdict(&reply)?;
        self.verdict = Some(reply);
        Ok(())
    }

    /// Goes on with a handshake that asked for a verdict ([`Event::Authenticate`])
    /// as if the peer had been let in, but with no verdict: the peer gets no user id
    /// ([`PeerInfo::user_id`] stays `None`). This is libzmq without a ZAP handler,
    /// where NULL and CURVE let everyone in.
    pub fn proceed_unauthenticated(&mut self) -> Result<(), ProtocolError> {
        self.apply_verdict(&AuthReply::accept(Bytes::new()))
    }

    fn apply_verdict(&mut self, reply: &AuthReply) -> Result<(), ProtocolError> {
        let State::Handshaking(handshake) = &mut self.state else {
            return Err(ProtocolError::UnexpectedVerdict);
        };
        let props = ready_properties(&self.config);
        match handshake.on_verdict(reply, &props, &mut self.tx) {
            Ok(done) => {
                if let Some(metadata) = done {
                    self.curve = handshake.take_boxes();
                    self.ready_pending = Some(metadata);
                }
                Ok(())
            }
            Err(e) => {
                self.state = State::Failed(e.clone());
                Err(e)
            }
        }
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

    /// Our security mechanism (the one our greeting announces).
    pub fn mechanism(&self) -> Mechanism {
        self.config.security.mechanism()
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
}

fn peer_error(reason: &[u8]) -> ProtocolError {
    ProtocolError::PeerError(String::from_utf8_lossy(reason).into_owned())
}

/// Our READY (or INITIATE) properties.
fn ready_properties(config: &SessionConfig) -> Metadata {
    let mut props = Metadata::new();
    props.insert("Socket-Type", config.socket_type.as_str());
    let always_identity = matches!(
        config.socket_type,
        SocketType::Req | SocketType::Dealer | SocketType::Router
    );
    if always_identity || !config.identity.is_empty() {
        props.insert("Identity", config.identity.clone());
    }
    for (name, value) in config.metadata.iter() {
        props.insert(name, value.clone());
    }
    props
}
