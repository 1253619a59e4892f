//! CurveZMQ (RFC 25 and 26): the keys, the boxes and the handshake, sans-IO.
//!
//! Boxes are NaCl's `crypto_box` (X25519, XSalsa20, Poly1305): the handshake's through
//! the `crypto_box` crate, MESSAGE's with the key computed once per session
//! (`secretbox.rs`, over `salsa20` and `orion`'s Poly1305), and the server's cookie a `crypto_secretbox` under a key made
//! fresh for each WELCOME; on the wire a box is the 16-byte tag then the ciphertext
//! (NaCl's output without its 16 leading zero bytes), which is what these crates
//! produce. Nonces are 24 bytes: a 16- or 8-byte prefix naming the command, then a
//! long (16-byte, random) or short (8-byte, counting up from 1 per direction) nonce.
//!
//! Nothing here is cryptography written by hand: only the RFC's constructions over
//! those crates. Secret keys (long-term and per-connection) are zeroed when dropped.

mod boxes;
mod handshake;
mod keys;
mod secretbox;

pub(crate) use boxes::{INNER_COMMAND, INNER_MORE};
pub(crate) use handshake::{Boxes, CurveClient, CurveServer};
pub use keys::{CurveKeyPair, CurvePublicKey, KeyError};
