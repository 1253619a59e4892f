//! The box every MESSAGE travels in: NaCl's `crypto_box` with its key computed once
//! per session (`crypto_box_beforenm`, then `crypto_box_afternm` per message, as
//! libzmq does), that is NaCl's secretbox (XSalsa20 and Poly1305) under
//! HSalsa20 of the X25519 shared secret.
//!
//! The handshake's few boxes go through `crypto_box::SalsaBox`. The MESSAGE path does
//! not: the `poly1305` crate under it (0.8) picks an AVX2 path at run time whose
//! helpers do not inline their intrinsics with current compilers, which costs about
//! 2.5 µs a 64-byte box on the machines we measure (its portable path ~0.1 µs). So
//! here the same construction is put together from `salsa20` (XSalsa20, HSalsa20;
//! the crate `crypto_box` uses) and `orion`'s portable Poly1305. The tests check it
//! box for box against `SalsaBox`.

use orion::hazardous::mac::poly1305::{OneTimeKey, Poly1305, Tag};
use salsa20::cipher::consts::U10;
use salsa20::cipher::generic_array::GenericArray;
use salsa20::cipher::{KeyIvInit, StreamCipher};
use salsa20::{hsalsa, Salsa20};
use zeroize::Zeroizing;

use super::boxes::TAG;

/// A session's precomputed box key (`crypto_box_beforenm`), zeroed when dropped.
pub(crate) struct SessionKey(Zeroizing<[u8; 32]>);

impl SessionKey {
    /// The key `crypto_box` would use between `their` public key and `our` secret key.
    pub fn new(their: &crypto_box::PublicKey, our: &crypto_box::SecretKey) -> SessionKey {
        let secret = x25519_dalek::StaticSecret::from(our.to_bytes());
        let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(*their.as_bytes()));
        SessionKey(derive(shared.as_bytes(), &[0; 16]))
    }

    /// The key of the boxes whose nonces start with `prefix`. XSalsa20 turns the key
    /// and a nonce's first 16 bytes into a Salsa20 key (HSalsa20) and encrypts with
    /// Salsa20 under the last 8; every MESSAGE nonce of a direction has the same 16-byte
    /// prefix (`CurveZMQMESSAGEC` or `…S`), so that step is done here, once, instead
    /// of once a message.
    pub fn for_prefix(&self, prefix: &[u8; 16]) -> MessageKey {
        MessageKey(derive(&self.0, prefix))
    }
}

/// HSalsa20 of `key` and `input`, zeroed when dropped.
fn derive(key: &[u8; 32], input: &[u8; 16]) -> Zeroizing<[u8; 32]> {
    let mut derived = hsalsa::<U10>(
        GenericArray::from_slice(key),
        GenericArray::from_slice(input),
    );
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&derived);
    zeroize::Zeroize::zeroize(derived.as_mut_slice());
    out
}

/// The key of one direction's MESSAGE boxes (see [`SessionKey::for_prefix`]): a box
/// is named by its 8-byte short nonce.
pub(crate) struct MessageKey(Zeroizing<[u8; 32]>);

impl MessageKey {
    /// The stream for `short`, with its first 32 bytes taken as the Poly1305 key.
    fn stream(&self, short: &[u8; 8]) -> (Salsa20, OneTimeKey) {
        let mut cipher = Salsa20::new(self.0.as_ref().into(), short.into());
        let mut mac_key = Zeroizing::new([0u8; 32]);
        cipher.apply_keystream(mac_key.as_mut());
        let mac_key = OneTimeKey::from_slice(mac_key.as_ref()).expect("32 bytes");
        (cipher, mac_key)
    }

    /// Encrypts `data` in place; returns the tag that goes in front of it.
    pub fn seal(&self, short: &[u8; 8], data: &mut [u8]) -> [u8; TAG] {
        let (mut cipher, mac_key) = self.stream(short);
        cipher.apply_keystream(data);
        let tag = Poly1305::poly1305(&mac_key, data).expect("Poly1305 takes any length");
        let mut out = [0u8; TAG];
        out.copy_from_slice(tag.unprotected_as_bytes());
        out
    }

    /// Checks `tag` over `data` (in constant time) and decrypts `data` in place;
    /// Err (and `data` untouched) when the box does not open.
    pub fn open(&self, short: &[u8; 8], data: &mut [u8], tag: &[u8]) -> Result<(), ()> {
        let (mut cipher, mac_key) = self.stream(short);
        let tag = Tag::from_slice(tag).map_err(|_| ())?;
        Poly1305::verify(&tag, &mac_key, data).map_err(|_| ())?;
        cipher.apply_keystream(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto_box::aead::{AeadInPlace, OsRng};
    use crypto_box::{SalsaBox, SecretKey};
    use proptest::prelude::*;

    fn pair() -> (SecretKey, SecretKey) {
        (
            SecretKey::generate(&mut OsRng),
            SecretKey::generate(&mut OsRng),
        )
    }

    proptest! {
        #[test]
        fn boxes_as_crypto_box_does(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            prefix in any::<[u8; 16]>(),
            short in any::<[u8; 8]>(),
        ) {
            let (a, b) = pair();
            let ours = SessionKey::new(&b.public_key(), &a).for_prefix(&prefix);
            let reference = SalsaBox::new(&b.public_key(), &a);
            let mut nonce = [0u8; 24];
            nonce[..16].copy_from_slice(&prefix);
            nonce[16..].copy_from_slice(&short);
            let mut mine = data.clone();
            let tag = ours.seal(&short, &mut mine);
            let mut theirs = data.clone();
            let their_tag = reference
                .encrypt_in_place_detached(&nonce.into(), b"", &mut theirs)
                .unwrap();
            prop_assert_eq!(&mine, &theirs);
            prop_assert_eq!(&tag[..], &their_tag[..]);
            // And the other end opens it with its own view of the key.
            let peer = SessionKey::new(&a.public_key(), &b).for_prefix(&prefix);
            prop_assert!(peer.open(&short, &mut mine, &tag).is_ok());
            prop_assert_eq!(mine, data);
        }
    }

    #[test]
    fn refuses_an_altered_box_and_leaves_it_as_it_was() {
        let (a, b) = pair();
        let key = SessionKey::new(&b.public_key(), &a).for_prefix(b"CurveZMQMESSAGEC");
        let nonce = [9u8; 8];
        let mut data = b"market data".to_vec();
        let tag = key.seal(&nonce, &mut data);
        for i in 0..data.len() {
            let mut bad = data.clone();
            bad[i] ^= 0x40;
            let before = bad.clone();
            assert!(key.open(&nonce, &mut bad, &tag).is_err());
            assert_eq!(bad, before);
        }
        let mut bad_tag = tag;
        bad_tag[3] ^= 1;
        assert!(key.open(&nonce, &mut data.clone(), &bad_tag).is_err());
        let mut other_nonce = nonce;
        other_nonce[7] ^= 1;
        assert!(key.open(&other_nonce, &mut data.clone(), &tag).is_err());
        assert!(key.open(&nonce, &mut data.clone(), &tag[..15]).is_err());
        let other_direction = SessionKey::new(&b.public_key(), &a).for_prefix(b"CurveZMQMESSAGES");
        assert!(other_direction.open(&nonce, &mut data, &tag).is_err());
    }
}
