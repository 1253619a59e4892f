//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::Instant;

use bytes::{BufMut, BytesMut};
use monocoque_zmtp::{Event, Outgoing, ProtocolError, Session, SessionConfig, SocketType};

/// Parses "ff 00 7f …" into bytes.
pub fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// Takes everything `out` holds, as the contiguous bytes a writer would send.
pub fn wire(out: &mut Outgoing) -> BytesMut {
    let mut bytes = BytesMut::new();
    bytes.put(out);
    bytes
}

/// What `s` has queued for the peer (`poll_transmit`), as bytes.
pub fn transmitted(s: &mut Session) -> BytesMut {
    let mut out = Outgoing::new();
    s.poll_transmit(&mut out);
    wire(&mut out)
}

/// Drains every event available in `buf`.
pub fn drain(s: &mut Session, buf: &mut BytesMut) -> Result<Vec<Event>, ProtocolError> {
    let mut events = Vec::new();
    while let Some(ev) = s.handle_input(buf)? {
        events.push(ev);
    }
    Ok(events)
}

/// Two sessions and the byte pipes between them.
pub struct Pair {
    pub a: Session,
    pub b: Session,
    pub a_to_b: BytesMut,
    pub b_to_a: BytesMut,
    pub a_events: Vec<Event>,
    pub b_events: Vec<Event>,
}

impl Pair {
    pub fn new(a: SessionConfig, b: SessionConfig) -> Pair {
        Pair {
            a: Session::new(a, Instant::now()),
            b: Session::new(b, Instant::now()),
            a_to_b: BytesMut::new(),
            b_to_a: BytesMut::new(),
            a_events: Vec::new(),
            b_events: Vec::new(),
        }
    }

    pub fn of(a: SocketType, b: SocketType) -> Pair {
        Pair::new(SessionConfig::new(a), SessionConfig::new(b))
    }

    /// Moves queued bytes and collects events until nothing moves. Returns the first error
    /// of each side.
    pub fn pump(&mut self) -> (Result<(), ProtocolError>, Result<(), ProtocolError>) {
        let (mut ra, mut rb) = (Ok(()), Ok(()));
        for _ in 0..10 {
            let mut out = Outgoing::new();
            let moved_a = self.a.poll_transmit(&mut out);
            self.a_to_b.put(&mut out);
            let moved_b = self.b.poll_transmit(&mut out);
            self.b_to_a.put(&mut out);
            if rb.is_ok() {
                match drain(&mut self.b, &mut self.a_to_b) {
                    Ok(ev) => self.b_events.extend(ev),
                    Err(e) => rb = Err(e),
                }
            }
            if ra.is_ok() {
                match drain(&mut self.a, &mut self.b_to_a) {
                    Ok(ev) => self.a_events.extend(ev),
                    Err(e) => ra = Err(e),
                }
            }
            if !moved_a && !moved_b {
                break;
            }
        }
        (ra, rb)
    }

    /// Handshakes and asserts success.
    pub fn connect(a: SocketType, b: SocketType) -> Pair {
        let mut p = Pair::of(a, b);
        let (ra, rb) = p.pump();
        ra.unwrap();
        rb.unwrap();
        assert!(p.a.is_ready() && p.b.is_ready());
        p.a_events.clear();
        p.b_events.clear();
        p
    }
}

/// A greeting as a peer would send it.
pub fn greeting(minor: u8, mechanism: &[u8], as_server: bool) -> Vec<u8> {
    let mut g = vec![0u8; 64];
    g[0] = 0xFF;
    g[8] = 1;
    g[9] = 0x7F;
    g[10] = 3;
    g[11] = minor;
    g[12..12 + mechanism.len()].copy_from_slice(mechanism);
    g[32] = u8::from(as_server);
    g
}

/// A READY command frame carrying just Socket-Type.
pub fn ready(socket_type: &[u8]) -> Vec<u8> {
    let mut body = vec![5u8];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    body.extend_from_slice(socket_type);
    let mut frame = vec![0x04, body.len() as u8];
    frame.extend(body);
    frame
}

/// A short command frame from a name and data.
pub fn command(name: &[u8], data: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x04, (1 + name.len() + data.len()) as u8, name.len() as u8];
    frame.extend_from_slice(name);
    frame.extend_from_slice(data);
    frame
}

/// Hands `s` the peer greeting `theirs` in libzmq's steps (signature, major version,
/// the rest) and returns everything `s` transmitted: its greeting, then what the
/// handshake queued (our READY, for NULL).
pub fn greeted(s: &mut Session, theirs: &[u8]) -> BytesMut {
    let mut input = BytesMut::new();
    let mut sent = transmitted(s);
    for step in [&theirs[..10], &theirs[10..11], &theirs[11..]] {
        input.extend_from_slice(step);
        drain(s, &mut input).unwrap();
        sent.extend_from_slice(&transmitted(s));
    }
    sent
}
