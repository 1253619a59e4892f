//! The CurveZMQ handshake (RFC 26): HELLO, WELCOME, INITIATE, READY, with the sizes
//! and checks libzmq uses. Each side ends with the boxes its MESSAGEs travel in.

use bytes::{Bytes, BytesMut};
use crypto_box::aead::{AeadCore, KeyInit, OsRng};
use crypto_box::{PublicKey, SalsaBox, SecretKey};
use crypto_secretbox::XSalsa20Poly1305;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::boxes::{open, seal, MessageOpener, MessageSealer, TAG};
use super::secretbox::SessionKey;
use super::{CurveKeyPair, CurvePublicKey};
use crate::frame::{encode_header, header_len};
use crate::{Metadata, ProtocolError};

const HELLO_LEN: usize = 200;
const WELCOME_LEN: usize = 168;
/// INITIATE without metadata: name, cookie, short nonce, box of C, vouch nonce, vouch.
const INITIATE_MIN: usize = 9 + 96 + 8 + TAG + 32 + 16 + 80;
const COOKIE_LEN: usize = 96;

/// Appends a command frame whose body is `parts` one after the other.
fn command(tx: &mut BytesMut, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    tx.reserve(header_len(len) + len);
    encode_header(tx, len, false, true);
    for part in parts {
        tx.extend_from_slice(part);
    }
}

fn malformed(command: &'static str, reason: &'static str) -> ProtocolError {
    ProtocolError::MalformedCommand { command, reason }
}

fn metadata_bytes(props: &Metadata) -> Vec<u8> {
    let mut out = BytesMut::with_capacity(props.encoded_len());
    props.encode(&mut out);
    out.to_vec()
}

fn random16() -> [u8; 16] {
    let mut n = [0u8; 16];
    n.copy_from_slice(&XSalsa20Poly1305::generate_nonce(&mut OsRng)[..16]);
    n
}

/// True when the X25519 agreement of `secret` with `public` contributes (is not all
/// zeros). A public key of low order (all zeros, for one) would make the boxes between
/// the two keys readable by anyone; libsodium refuses such keys, and so do we.
fn contributory(secret: &SecretKey, public: &PublicKey) -> bool {
    let ours = x25519_dalek::StaticSecret::from(secret.to_bytes());
    ours.diffie_hellman(&x25519_dalek::PublicKey::from(*public.as_bytes()))
        .was_contributory()
}

fn weak(what: &'static str) -> ProtocolError {
    ProtocolError::Cryptographic(what)
}

/// A command that is the peer's ERROR (either form), as the error it means.
fn peer_error(body: &[u8]) -> Option<ProtocolError> {
    match crate::Command::decode(Bytes::copy_from_slice(body)) {
        Ok(crate::Command::Error(reason)) => Some(ProtocolError::PeerError(
            String::from_utf8_lossy(&reason).into_owned(),
        )),
        _ => None,
    }
}

/// What a finished handshake hands the session.
pub(crate) struct Boxes {
    pub sealer: MessageSealer,
    pub opener: MessageOpener,
}

impl std::fmt::Debug for Boxes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Boxes")
    }
}

/// The client's side.
pub(crate) struct CurveClient {
    ours: CurveKeyPair,
    server: PublicKey,
    eph_secret: SecretKey,
    eph_public: [u8; 32],
    /// Our next short nonce.
    next: u64,
    /// Set by WELCOME: the server's short-term key.
    server_eph: Option<PublicKey>,
    /// Set by READY.
    done: Option<Boxes>,
}

impl CurveClient {
    /// Starts the handshake: queues HELLO. A server key of low order is refused.
    pub fn start(
        ours: CurveKeyPair,
        server: CurvePublicKey,
        tx: &mut BytesMut,
    ) -> Result<CurveClient, ProtocolError> {
        let eph_secret = SecretKey::generate(&mut OsRng);
        let eph_public = *eph_secret.public_key().as_bytes();
        let server = server.to_key();
        if !contributory(&eph_secret, &server) {
            return Err(weak("the server key is of low order"));
        }
        let mut client = CurveClient {
            ours,
            server,
            eph_secret,
            eph_public,
            next: 1,
            server_eph: None,
            done: None,
        };
        let short = client.take_nonce();
        let hello_box = SalsaBox::new(&client.server, &client.eph_secret);
        let boxed = seal(&hello_box, b"CurveZMQHELLO---", &short, &[0u8; 64]);
        command(
            tx,
            &[
                b"\x05HELLO",
                &[1, 0],
                &[0u8; 72],
                &eph_public,
                &short,
                &boxed,
            ],
        );
        Ok(client)
    }

    fn take_nonce(&mut self) -> [u8; 8] {
        let n = self.next;
        self.next += 1;
        n.to_be_bytes()
    }

    /// A command from the server; Some(properties) once READY has arrived.
    pub fn on_command(
        &mut self,
        body: &[u8],
        props: &Metadata,
        tx: &mut BytesMut,
    ) -> Result<Option<Metadata>, ProtocolError> {
        if let Some(e) = peer_error(body) {
            return Err(e);
        }
        match &self.server_eph {
            None if body.starts_with(b"\x07WELCOME") => {
                self.on_welcome(body, props, tx)?;
                Ok(None)
            }
            Some(server_eph) if body.starts_with(b"\x05READY") => {
                let session = SalsaBox::new(server_eph, &self.eph_secret);
                if body.len() < 6 + 8 + TAG {
                    return Err(malformed("READY", "too short"));
                }
                let short: [u8; 8] = body[6..14].try_into().expect("8 bytes");
                let plain = open(&session, b"CurveZMQREADY---", &short, &body[14..])
                    .ok_or(ProtocolError::Cryptographic("READY box does not open"))?;
                let metadata = Metadata::decode(Bytes::from(plain))?;
                let key = SessionKey::new(server_eph, &self.eph_secret);
                self.done = Some(Boxes {
                    sealer: MessageSealer::new(&key, b"CurveZMQMESSAGEC", self.next),
                    opener: MessageOpener::new(
                        &key,
                        b"CurveZMQMESSAGES",
                        u64::from_be_bytes(short),
                    ),
                });
                Ok(Some(metadata))
            }
            _ => Err(ProtocolError::UnexpectedCommand(command_name(body))),
        }
    }

    fn on_welcome(
        &mut self,
        body: &[u8],
        props: &Metadata,
        tx: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        if body.len() != WELCOME_LEN {
            return Err(malformed("WELCOME", "not 168 bytes"));
        }
        let long = &body[8..24];
        let welcome_box = SalsaBox::new(&self.server, &self.eph_secret);
        let plain = Zeroizing::new(
            open(&welcome_box, b"WELCOME-", long, &body[24..])
                .ok_or(ProtocolError::Cryptographic("WELCOME box does not open"))?,
        );
        let server_eph = PublicKey::from(<[u8; 32]>::try_from(&plain[..32]).expect("32"));
        if !contributory(&self.eph_secret, &server_eph) {
            return Err(weak("WELCOME carries a key of low order"));
        }
        let cookie = &plain[32..32 + COOKIE_LEN];
        let session = SalsaBox::new(&server_eph, &self.eph_secret);
        // The vouch: our short-term key and the server's long-term key, boxed from our
        // long-term key to the server's short-term one.
        let vouch_nonce = random16();
        let vouch_box = SalsaBox::new(&server_eph, self.ours.secret_key());
        let mut vouched = [0u8; 64];
        vouched[..32].copy_from_slice(&self.eph_public);
        vouched[32..].copy_from_slice(self.server.as_bytes());
        let vouch = seal(&vouch_box, b"VOUCH---", &vouch_nonce, &vouched);
        let mut plain = Vec::with_capacity(32 + 16 + vouch.len() + props.encoded_len());
        plain.extend_from_slice(self.ours.public().as_bytes());
        plain.extend_from_slice(&vouch_nonce);
        plain.extend_from_slice(&vouch);
        plain.extend_from_slice(&metadata_bytes(props));
        let short = self.take_nonce();
        let boxed = seal(&session, b"CurveZMQINITIATE", &short, &plain);
        command(tx, &[b"\x08INITIATE", cookie, &short, &boxed]);
        self.server_eph = Some(server_eph);
        Ok(())
    }

    /// The MESSAGE boxes, once READY has arrived.
    pub fn take_boxes(&mut self) -> Option<Boxes> {
        self.done.take()
    }
}

/// The server's side.
pub(crate) struct CurveServer {
    ours: CurveKeyPair,
    state: ServerState,
    /// Our next short nonce.
    next: u64,
    done: Option<Boxes>,
}

enum ServerState {
    Hello,
    Initiate {
        cookie_key: Zeroizing<[u8; 32]>,
        client_eph: PublicKey,
        eph_secret: SecretKey,
        hello_nonce: u64,
    },
    Verdict {
        client_eph: PublicKey,
        eph_secret: SecretKey,
        metadata: Metadata,
        client_nonce: u64,
    },
    Done,
}

impl CurveServer {
    /// A server with long-term key pair `ours`, waiting for HELLO.
    pub fn new(ours: CurveKeyPair) -> CurveServer {
        CurveServer {
            ours,
            state: ServerState::Hello,
            next: 1,
            done: None,
        }
    }

    /// A command from the client; Some(client key, properties) after a valid
    /// INITIATE, when the verdict is due.
    pub fn on_command(
        &mut self,
        body: &[u8],
        tx: &mut BytesMut,
    ) -> Result<Option<[u8; 32]>, ProtocolError> {
        if let Some(e) = peer_error(body) {
            return Err(e);
        }
        match &self.state {
            ServerState::Hello if body.starts_with(b"\x05HELLO") => {
                self.on_hello(body, tx)?;
                Ok(None)
            }
            ServerState::Initiate { .. } if body.starts_with(b"\x08INITIATE") => {
                self.on_initiate(body).map(Some)
            }
            _ => Err(ProtocolError::UnexpectedCommand(command_name(body))),
        }
    }

    fn on_hello(&mut self, body: &[u8], tx: &mut BytesMut) -> Result<(), ProtocolError> {
        if body.len() != HELLO_LEN {
            return Err(malformed("HELLO", "not 200 bytes"));
        }
        if body[6..8] != [1, 0] {
            return Err(malformed("HELLO", "unknown CURVE version"));
        }
        let client_eph = PublicKey::from(<[u8; 32]>::try_from(&body[80..112]).expect("32"));
        if !contributory(self.ours.secret_key(), &client_eph) {
            return Err(weak("HELLO carries a key of low order"));
        }
        let short = &body[112..120];
        let hello_box = SalsaBox::new(&client_eph, self.ours.secret_key());
        let zeros = open(&hello_box, b"CurveZMQHELLO---", short, &body[120..200])
            .ok_or(ProtocolError::Cryptographic("HELLO box does not open"))?;
        if !bool::from(zeros.ct_eq(&[0u8; 64][..])) {
            return Err(ProtocolError::Cryptographic(
                "HELLO box does not hold zeros",
            ));
        }
        // A fresh short-term key and cookie key for this client.
        let eph_secret = SecretKey::generate(&mut OsRng);
        let cookie_key =
            Zeroizing::new(<[u8; 32]>::from(XSalsa20Poly1305::generate_key(&mut OsRng)));
        let cookie_nonce = random16();
        let mut sealed_keys = Zeroizing::new([0u8; 64]);
        sealed_keys[..32].copy_from_slice(client_eph.as_bytes());
        sealed_keys[32..].copy_from_slice(&eph_secret.to_bytes());
        let cookie_box = secretbox(&cookie_key);
        let mut cookie = Vec::with_capacity(COOKIE_LEN);
        cookie.extend_from_slice(&cookie_nonce);
        cookie.extend_from_slice(&seal(
            &cookie_box,
            b"COOKIE--",
            &cookie_nonce,
            &sealed_keys[..],
        ));
        let mut welcome_plain = Zeroizing::new(Vec::with_capacity(32 + COOKIE_LEN));
        welcome_plain.extend_from_slice(eph_secret.public_key().as_bytes());
        welcome_plain.extend_from_slice(&cookie);
        let long = random16();
        let boxed = seal(&hello_box, b"WELCOME-", &long, &welcome_plain);
        command(tx, &[b"\x07WELCOME", &long, &boxed]);
        self.state = ServerState::Initiate {
            cookie_key,
            client_eph,
            eph_secret,
            hello_nonce: u64::from_be_bytes(short.try_into().expect("8")),
        };
        Ok(())
    }

    fn on_initiate(&mut self, body: &[u8]) -> Result<[u8; 32], ProtocolError> {
        // Taken, not borrowed: whatever happens next this state is over (an error ends
        // the session), and the short-term secret moves on into the Verdict state
        // instead of being copied.
        let ServerState::Initiate {
            cookie_key,
            client_eph,
            eph_secret,
            hello_nonce,
        } = std::mem::replace(&mut self.state, ServerState::Done)
        else {
            return Err(ProtocolError::UnexpectedCommand("INITIATE".into()));
        };
        if body.len() < INITIATE_MIN {
            return Err(malformed("INITIATE", "too short"));
        }
        let cookie = &body[9..9 + COOKIE_LEN];
        let opened = open(
            &secretbox(&cookie_key),
            b"COOKIE--",
            &cookie[..16],
            &cookie[16..],
        )
        .ok_or(ProtocolError::Cryptographic(
            "INITIATE cookie does not open",
        ))?;
        let opened = Zeroizing::new(opened);
        let mut expected = Zeroizing::new([0u8; 64]);
        expected[..32].copy_from_slice(client_eph.as_bytes());
        expected[32..].copy_from_slice(&eph_secret.to_bytes());
        if !bool::from(opened.ct_eq(&expected[..])) {
            return Err(ProtocolError::Cryptographic("INITIATE cookie is not ours"));
        }
        let short: [u8; 8] = body[105..113].try_into().expect("8 bytes");
        let client_nonce = u64::from_be_bytes(short);
        if client_nonce <= hello_nonce {
            return Err(ProtocolError::InvalidSequence);
        }
        let session = SalsaBox::new(&client_eph, &eph_secret);
        let plain = Zeroizing::new(
            open(&session, b"CurveZMQINITIATE", &short, &body[113..])
                .ok_or(ProtocolError::Cryptographic("INITIATE box does not open"))?,
        );
        let client_key: [u8; 32] = plain[..32].try_into().expect("32");
        if !contributory(&eph_secret, &PublicKey::from(client_key)) {
            return Err(weak("INITIATE carries a long-term key of low order"));
        }
        let vouch_box = SalsaBox::new(&PublicKey::from(client_key), &eph_secret);
        let vouched = open(&vouch_box, b"VOUCH---", &plain[32..48], &plain[48..128])
            .ok_or(ProtocolError::Cryptographic("INITIATE vouch does not open"))?;
        let mut expected = [0u8; 64];
        expected[..32].copy_from_slice(client_eph.as_bytes());
        expected[32..].copy_from_slice(self.ours.public().as_bytes());
        if !bool::from(vouched.ct_eq(&expected[..])) {
            return Err(ProtocolError::Cryptographic(
                "INITIATE vouch is for other keys",
            ));
        }
        let metadata = Metadata::decode(Bytes::copy_from_slice(&plain[128..]))
            .map_err(|_| malformed("INITIATE", "malformed properties"))?;
        self.state = ServerState::Verdict {
            client_eph,
            eph_secret,
            metadata,
            client_nonce,
        };
        Ok(client_key)
    }

    /// The verdict came: on success READY is queued and the client's properties
    /// returned (the handshake is complete).
    pub fn accept(
        &mut self,
        props: &Metadata,
        tx: &mut BytesMut,
    ) -> Result<Metadata, ProtocolError> {
        let ServerState::Verdict {
            client_eph,
            eph_secret,
            metadata,
            client_nonce,
        } = std::mem::replace(&mut self.state, ServerState::Done)
        else {
            return Err(ProtocolError::UnexpectedVerdict);
        };
        let session = SalsaBox::new(&client_eph, &eph_secret);
        let short = self.next.to_be_bytes();
        self.next += 1;
        let boxed = seal(
            &session,
            b"CurveZMQREADY---",
            &short,
            &metadata_bytes(props),
        );
        command(tx, &[b"\x05READY", &short, &boxed]);
        let key = SessionKey::new(&client_eph, &eph_secret);
        self.done = Some(Boxes {
            sealer: MessageSealer::new(&key, b"CurveZMQMESSAGES", self.next),
            opener: MessageOpener::new(&key, b"CurveZMQMESSAGEC", client_nonce),
        });
        Ok(metadata)
    }

    /// True while the server waits for the verdict.
    pub fn awaits_verdict(&self) -> bool {
        matches!(self.state, ServerState::Verdict { .. })
    }

    /// The MESSAGE boxes, once READY is queued.
    pub fn take_boxes(&mut self) -> Option<Boxes> {
        self.done.take()
    }
}

fn secretbox(key: &[u8; 32]) -> XSalsa20Poly1305 {
    XSalsa20Poly1305::new(key.into())
}

/// A command's name, for errors.
fn command_name(body: &[u8]) -> String {
    let len = usize::from(body.first().copied().unwrap_or(0));
    String::from_utf8_lossy(body.get(1..1 + len).unwrap_or(b"?")).into_owned()
}
