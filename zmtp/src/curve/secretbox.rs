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
use salsa20::cipher::generic_array::GenericArray;
use salsa20::cipher::{KeyIvInit, StreamCipher};
use salsa20::XSalsa20;
use zeroize::Zeroizing;

use super::boxes::TAG;

/// A session's precomputed box key, zeroed when dropped (each copy).
#[derive(Clone)]
pub(crate) struct SessionKey(Zeroizing<[u8; 32]>);

impl SessionKey {
    /// The key `crypto_box` would use between `their` public key and `our` secret key.
    pub fn new(their: &crypto_box::PublicKey, our: &crypto_box::SecretKey) -> SessionKey {
        let secret = x25519_dalek::StaticSecret::from(our.to_bytes());
        let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(*their.as_bytes()));
        let key = salsa20::hsalsa::<salsa20::cipher::consts::U10>(
            GenericArray::from_slice(shared.as_bytes()),
            &GenericArray::default(),
        );
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&key);
        SessionKey(out)
    }

    /// The stream for `nonce`, with its first 32 bytes taken as the Poly1305 key.
    fn stream(&self, nonce: &[u8; 24]) -> (XSalsa20, OneTimeKey) {
        let mut cipher = XSalsa20::new(self.0.as_ref().into(), nonce.into());
        let mut mac_key = Zeroizing::new([0u8; 32]);
        cipher.apply_keystream(mac_key.as_mut());
        let mac_key = OneTimeKey::from_slice(mac_key.as_ref()).expect("32 bytes");
        (cipher, mac_key)
    }

    /// Encrypts `data` in place; returns the tag that goes in front of it.
    pub fn seal(&self, nonce: &[u8; 24], data: &mut [u8]) -> [u8; TAG] {
        let (mut cipher, mac_key) = self.stream(nonce);
        cipher.apply_keystream(data);
        let tag = Poly1305::poly1305(&mac_key, data).expect("Poly1305 takes any length");
        let mut out = [0u8; TAG];
        out.copy_from_slice(tag.unprotected_as_bytes());
        out
    }

    /// Checks `tag` over `data` (in constant time) and decrypts `data` in place;
    /// Err (and `data` untouched) when the box does not open.
    pub fn open(&self, nonce: &[u8; 24], data: &mut [u8], tag: &[u8]) -> Result<(), ()> {
        let (mut cipher, mac_key) = self.stream(nonce);
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
        fn boxes_as_crypto_box_does(data in proptest::collection::vec(any::<u8>(), 0..2000), nonce in any::<[u8; 24]>()) {
            let (a, b) = pair();
            let ours = SessionKey::new(&b.public_key(), &a);
            let reference = SalsaBox::new(&b.public_key(), &a);
            let mut mine = data.clone();
            let tag = ours.seal(&nonce, &mut mine);
            let mut theirs = data.clone();
            let their_tag = reference
                .encrypt_in_place_detached(&nonce.into(), b"", &mut theirs)
                .unwrap();
            prop_assert_eq!(&mine, &theirs);
            prop_assert_eq!(&tag[..], &their_tag[..]);
            // And the other end opens it with its own view of the key.
            let peer = SessionKey::new(&a.public_key(), &b);
            prop_assert!(peer.open(&nonce, &mut mine, &tag).is_ok());
            prop_assert_eq!(mine, data);
        }
    }

    #[test]
    fn refuses_an_altered_box_and_leaves_it_as_it_was() {
        let (a, b) = pair();
        let key = SessionKey::new(&b.public_key(), &a);
        let nonce = [9u8; 24];
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
        other_nonce[23] ^= 1;
        assert!(key.open(&other_nonce, &mut data.clone(), &tag).is_err());
        assert!(key.open(&nonce, &mut data, &tag[..15]).is_err());
    }
}
