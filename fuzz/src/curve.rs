//! The CURVE targets' bodies (see `lib.rs`).
//!
//! `curve_server` and `curve_client` feed what a peer sent to one session, as the NULL
//! and PLAIN targets do; their seeds are what libzmq sent (pyzmq 27.3.0's libzmq 4.3.5,
//! `bench/src/bin/capture_corpus/curve.rs`) with the keys below, so that a captured
//! HELLO opens at the server. Past HELLO (server) or WELCOME (client) no input can go:
//! INITIATE needs the cookie of this run's WELCOME, and WELCOME is boxed to this run's
//! short-term key. `curve_session` goes further: an honest client and server handshake
//! for real through a wire that the input drives and tampers with.

use std::time::Instant;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use monocoque_zmtp::{
    AuthReply, AuthStatus, CurveKeyPair, Event, Outgoing, ProtocolError, Security, Session,
    SessionConfig, SocketType,
};

use super::{transcript, Transcript};

/// libzmq's CURVE test keys (its `zmq_curve` documentation): the capture of the seeds
/// used them too.
const SERVER_SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
const CLIENT_SECRET: &str = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";

fn server_config() -> SessionConfig {
    let mut config = SessionConfig::new(SocketType::Router);
    config.max_msg_size = Some(4096);
    config.security = Security::CurveServer {
        keys: CurveKeyPair::from_secret(SERVER_SECRET).expect("a key"),
    };
    config
}

fn client_config() -> SessionConfig {
    let mut config = SessionConfig::new(SocketType::Dealer);
    config.max_msg_size = Some(4096);
    config.security = Security::CurveClient {
        keys: CurveKeyPair::from_secret(CLIENT_SECRET).expect("a key"),
        server_key: CurveKeyPair::from_secret(SERVER_SECRET)
            .expect("a key")
            .public(),
    };
    config
}

/// A handshake session fed `input` at once and in reads of `step` bytes: the same
/// events and error either way, and as many bytes sent (not the same bytes: the
/// short-term keys and the cookie are new in each run). Nothing from the input gets
/// further than the first command (see the module's documentation): no event at all.
fn one_side(config: &SessionConfig, step: u8, input: &[u8]) {
    let step = usize::from(step).max(1);
    let cuts: Vec<usize> = (step..input.len()).step_by(step).collect();
    let whole = transcript(config, input, &[]);
    let split = transcript(config, input, &cuts);
    let outline = |t: &Transcript| (t.events.clone(), t.error.clone(), t.transmitted.len());
    assert_eq!(
        outline(&split),
        outline(&whole),
        "the verdict depends on the read boundaries"
    );
    assert!(
        whole.events.is_empty(),
        "a peer that could not know this run's keys got somewhere: {:?}",
        whole.events
    );
}

/// A CURVE server (a ROUTER with libzmq's test server key) fed what a client sent:
/// byte 0 is the read size, the rest the client's bytes (greeting, HELLO, INITIATE…).
pub fn curve_server(data: &[u8]) {
    if let [step, input @ ..] = data {
        one_side(&server_config(), *step, input);
    }
}

/// A CURVE client (a DEALER with libzmq's test client key, told libzmq's test server
/// key) fed what a server sent: byte 0 is the read size, the rest the server's bytes
/// (greeting, WELCOME, READY, ERROR…).
pub fn curve_client(data: &[u8]) {
    if let [step, input @ ..] = data {
        one_side(&client_config(), *step, input);
    }
}

/// What one end sent or received, in order.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Frame(bool, Bytes),
    Subscribe(Bytes),
    Cancel(Bytes),
    Ping(u16),
    Pong,
}

/// One end of the connection, and the wire towards the other end.
struct End {
    session: Session,
    /// Bytes delivered to this end that its session has not consumed.
    input: BytesMut,
    /// Bytes this end wrote that the wire has not delivered yet.
    in_flight: BytesMut,
    /// Each write of this end so far (for replays).
    writes: Vec<Bytes>,
    sent: Vec<Item>,
    received: Vec<Item>,
    error: Option<ProtocolError>,
    /// The wire into this end altered, dropped, replayed or added bytes.
    tampered: bool,
    authenticated: bool,
}

impl End {
    fn new(config: SessionConfig) -> End {
        let mut end = End {
            session: Session::new(config, Instant::now()),
            input: BytesMut::new(),
            in_flight: BytesMut::new(),
            writes: Vec::new(),
            sent: Vec::new(),
            received: Vec::new(),
            error: None,
            tampered: false,
            authenticated: false,
        };
        end.flush();
        end
    }

    /// Moves what the session queued (greeting, handshake, PONG, ERROR) onto the wire.
    fn flush(&mut self) {
        let mut out = Outgoing::new();
        self.session.poll_transmit(&mut out);
        self.write(&mut out);
    }

    fn write(&mut self, out: &mut Outgoing) {
        if !out.is_empty() {
            let bytes = out.copy_to_bytes(out.remaining());
            self.in_flight.extend_from_slice(&bytes);
            self.writes.push(bytes);
        }
    }

    /// True when this end may send messages (ready, not failed).
    fn can_send(&self) -> bool {
        self.error.is_none() && self.session.is_ready()
    }

    /// Hands `bytes` to the session and takes every event, answering the
    /// authenticator's question with `verdict`.
    fn receive(&mut self, bytes: &[u8], verdict: &AuthReply) {
        if self.error.is_some() {
            return;
        }
        self.input.extend_from_slice(bytes);
        loop {
            match self.session.handle_input(&mut self.input) {
                Ok(None) => break,
                Ok(Some(event)) => match event {
                    Event::Ready(_) => {}
                    Event::Authenticate(_) => {
                        self.authenticated = verdict.status == AuthStatus::Success;
                        if let Err(e) = self.session.authenticated(verdict.clone()) {
                            self.error = Some(e);
                            break;
                        }
                    }
                    Event::Frame { more, body } => self.received.push(Item::Frame(more, body)),
                    Event::Subscribe(topic) => self.received.push(Item::Subscribe(topic)),
                    Event::Cancel(topic) => self.received.push(Item::Cancel(topic)),
                    Event::Ping { ttl_deciseconds } => {
                        self.received.push(Item::Ping(ttl_deciseconds));
                        // The session queued the PONG.
                        self.sent.push(Item::Pong);
                    }
                    Event::Pong => self.received.push(Item::Pong),
                },
                Err(e) => {
                    self.error = Some(e);
                    break;
                }
            }
        }
        // As the driver does, even after an error (an ERROR may be queued).
        self.flush();
    }
}

/// The input, read from the front.
struct Script<'a>(&'a [u8]);

impl Script<'_> {
    fn byte(&mut self) -> u8 {
        let [first, rest @ ..] = self.0 else {
            return 0;
        };
        self.0 = rest;
        *first
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// A length byte, then that many bytes (fewer at the end of the input).
    fn bytes(&mut self) -> Bytes {
        let len = usize::from(self.byte()).min(self.0.len());
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        Bytes::copy_from_slice(taken)
    }
}

/// True when `sub` is `of` with some items left out (none added, repeated or moved).
fn is_subsequence(sub: &[Item], of: &[Item]) -> bool {
    let mut of = of.iter();
    sub.iter().all(|item| of.any(|o| o == item))
}

/// An honest CURVE client (DEALER) and server (ROUTER) through a wire the input drives.
///
/// Byte 0 picks the authenticator's verdict (like `plain_handshake`). Then each
/// operation is a byte: its low 3 bits the kind, bit 3 the direction (0: client to
/// server), the high 4 bits an argument; the kinds read more of the input:
///
/// | kind | what | reads |
/// |---|---|---|
/// | 0 | deliver the next N bytes in flight (0: all) | N |
/// | 1 | the sender sends a message of 1 + arg % 4 frames (if it is ready) | each frame: length, bytes |
/// | 2 | the sender sends SUBSCRIBE, CANCEL or PING by arg % 3 (if it is ready) | topic (length, bytes); PING: context (length, bytes), then TTL (2 bytes) |
/// | 3 | flip bit arg % 8 of the byte at P % (bytes in flight) | P (2 bytes) |
/// | 4 | replay the sender's write number K % (writes so far) | K |
/// | 5 | drop the next N bytes in flight | N |
/// | 6 | insert bytes in front of those in flight | length, bytes |
/// | 7 | insert a frame in front of those in flight (a command if arg is odd) | length, body |
///
/// Kinds 3 to 7 tamper with that direction. At the end, everything in flight is
/// delivered. Whatever the input: an end receives the other's items in order, each at
/// most once, none it did not send; a server is ready only after a verdict of 200.
/// With no tampering in a direction and its receiver unfailed, the receiver has
/// everything that was sent; with no tampering at all and a verdict of 200 both ends
/// are ready.
pub fn curve_session(data: &[u8]) {
    let [pick, ops @ ..] = data else {
        return;
    };
    let verdict = match pick % 4 {
        0 | 1 => AuthReply::accept("client"),
        2 => AuthReply::refuse(AuthStatus::Failure, "no"),
        _ => AuthReply::refuse(AuthStatus::TemporaryError, "later"),
    };
    let mut ends = [End::new(client_config()), End::new(server_config())];
    let mut script = Script(ops);
    while !script.0.is_empty() {
        let op = script.byte();
        let from = usize::from(op >> 3 & 1);
        let arg = op >> 4;
        let [sender, receiver] = pair(&mut ends, from);
        match op & 7 {
            0 => {
                let n = usize::from(script.byte());
                let n = if n == 0 { sender.in_flight.len() } else { n };
                let chunk = sender.in_flight.split_to(n.min(sender.in_flight.len()));
                receiver.receive(&chunk, &verdict);
            }
            1 => {
                let frames: Vec<Bytes> = (0..=arg % 4).map(|_| script.bytes()).collect();
                if sender.can_send() {
                    let mut out = Outgoing::new();
                    sender.session.encode_message(&mut out, &frames);
                    sender.write(&mut out);
                    let last = frames.len() - 1;
                    for (i, body) in frames.into_iter().enumerate() {
                        sender.sent.push(Item::Frame(i < last, body));
                    }
                }
            }
            2 => send_command(sender, arg % 3, &mut script),
            3 => {
                let at = usize::from(script.u16());
                if !sender.in_flight.is_empty() {
                    let at = at % sender.in_flight.len();
                    sender.in_flight[at] ^= 1 << (arg % 8);
                    receiver.tampered = true;
                }
            }
            4 => {
                let k = usize::from(script.byte());
                if !sender.writes.is_empty() {
                    let replayed = sender.writes[k % sender.writes.len()].clone();
                    insert_front(&mut sender.in_flight, &replayed);
                    receiver.tampered = true;
                }
            }
            5 => {
                let n = usize::from(script.byte()).min(sender.in_flight.len());
                let _ = sender.in_flight.split_to(n);
                receiver.tampered = true;
            }
            6 => {
                insert_front(&mut sender.in_flight, &script.bytes());
                receiver.tampered = true;
            }
            _ => {
                let body = script.bytes();
                let mut frame = BytesMut::new();
                frame.put_u8(if arg % 2 == 1 { 0x04 } else { 0x00 });
                frame.put_u8(body.len() as u8);
                frame.extend_from_slice(&body);
                insert_front(&mut sender.in_flight, &frame);
                receiver.tampered = true;
            }
        }
    }
    // Deliver what is still in flight (answers may follow: a PONG, READY).
    for _ in 0..8 {
        if ends.iter().all(|e| e.in_flight.is_empty()) {
            break;
        }
        for from in [0, 1] {
            let [sender, receiver] = pair(&mut ends, from);
            let rest = sender.in_flight.split();
            receiver.receive(&rest, &verdict);
        }
    }
    assert!(
        ends.iter().all(|e| e.in_flight.is_empty()),
        "the ends keep talking"
    );
    check(&ends, &verdict);
}

/// The properties [`curve_session`] promises.
fn check(ends: &[End; 2], verdict: &AuthReply) {
    let [client, server] = ends;
    for (sender, receiver) in [(client, server), (server, client)] {
        assert!(
            is_subsequence(&receiver.received, &sender.sent),
            "received {:?}, but sent {:?}",
            receiver.received,
            sender.sent
        );
        if !receiver.tampered && receiver.error.is_none() {
            assert_eq!(receiver.received, sender.sent, "lost on an honest wire");
        }
    }
    if server.session.is_ready() {
        assert!(server.authenticated, "a client got in without a 200");
    }
    if !client.tampered && !server.tampered && verdict.status == AuthStatus::Success {
        assert!(
            client.session.is_ready() && server.session.is_ready(),
            "an honest handshake did not complete: {:?} {:?}",
            client.error,
            server.error
        );
    }
}

/// The sender and the receiver, `from` being the sender's index.
fn pair(ends: &mut [End; 2], from: usize) -> [&mut End; 2] {
    let [client, server] = ends;
    if from == 0 {
        [client, server]
    } else {
        [server, client]
    }
}

fn insert_front(buf: &mut BytesMut, bytes: &[u8]) {
    let mut joined = BytesMut::with_capacity(bytes.len() + buf.len());
    joined.extend_from_slice(bytes);
    joined.extend_from_slice(buf);
    *buf = joined;
}

/// Kind 2 of [`curve_session`]: a subscription, a cancel or a PING.
fn send_command(sender: &mut End, which: u8, script: &mut Script) {
    // SUBSCRIBE's and CANCEL's topic, or PING's context.
    let topic = script.bytes();
    let ttl = if which == 2 { script.u16() } else { 0 };
    if !sender.can_send() {
        return;
    }
    let mut out = Outgoing::new();
    let zmtp30 = sender
        .session
        .peer_greeting()
        .is_some_and(|g| g.is_zmtp30());
    let item = match which {
        2 => {
            sender.session.encode_ping(&mut out, ttl, &topic);
            Item::Ping(ttl)
        }
        _ => {
            let subscribe = which == 0;
            sender
                .session
                .encode_subscription(&mut out, &topic, subscribe);
            match (zmtp30, subscribe) {
                // A 3.0 peer gets the data-frame form.
                (true, _) => {
                    let mut body = vec![u8::from(subscribe)];
                    body.extend_from_slice(&topic);
                    Item::Frame(false, Bytes::from(body))
                }
                (false, true) => Item::Subscribe(topic),
                (false, false) => Item::Cancel(topic),
            }
        }
    };
    sender.write(&mut out);
    sender.sent.push(item);
}
