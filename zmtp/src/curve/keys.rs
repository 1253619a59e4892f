//! CURVE keys: a long-term key pair, and a public key given as 32 bytes or as the
//! 40 characters of its Z85 form (libzmq's CURVE_PUBLICKEY, CURVE_SECRETKEY and
//! CURVE_SERVERKEY accept both).

use crypto_box::aead::OsRng;
use crypto_box::{PublicKey, SecretKey};

use crate::z85;

/// A key that is not 32 bytes, nor 40 characters of Z85.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a CURVE key is 32 bytes or 40 characters of Z85, not {0}")]
pub struct KeyError(String);

/// Reads a key given as 32 raw bytes or as its 40-character Z85 text. The decoded
/// bytes are zeroed once copied out (the key may be a secret one).
fn key_bytes(key: &[u8]) -> Result<[u8; 32], KeyError> {
    if let Ok(raw) = <[u8; 32]>::try_from(key) {
        return Ok(raw);
    }
    if key.len() == 40 {
        if let Some(raw) = std::str::from_utf8(key)
            .ok()
            .and_then(|text| z85::decode(text).ok())
            .map(zeroize::Zeroizing::new)
        {
            if let Ok(raw) = <[u8; 32]>::try_from(&raw[..]) {
                return Ok(raw);
            }
        }
        return Err(KeyError("40 characters that are not Z85".into()));
    }
    Err(KeyError(format!("{} bytes", key.len())))
}

/// A CURVE public key (a server's, for CURVE_SERVERKEY; a client's, in an allow list).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CurvePublicKey([u8; 32]);

impl CurvePublicKey {
    /// Reads 32 bytes, or the 40-character Z85 form.
    pub fn new(key: impl AsRef<[u8]>) -> Result<CurvePublicKey, KeyError> {
        key_bytes(key.as_ref()).map(CurvePublicKey)
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key in Z85 (40 characters).
    pub fn to_z85(&self) -> String {
        z85::encode(&self.0).expect("32 bytes are whole Z85 groups")
    }

    pub(crate) fn to_key(self) -> PublicKey {
        PublicKey::from(self.0)
    }
}

impl From<[u8; 32]> for CurvePublicKey {
    /// The key of these 32 bytes (as a CURVE authenticator receives it).
    fn from(key: [u8; 32]) -> CurvePublicKey {
        CurvePublicKey(key)
    }
}

impl std::fmt::Debug for CurvePublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CurvePublicKey({})", self.to_z85())
    }
}

/// A long-term CURVE key pair. The secret half is zeroed when the pair is dropped,
/// and never shown by `Debug`.
#[derive(Clone)]
pub struct CurveKeyPair {
    public: CurvePublicKey,
    secret: SecretKey,
}

impl CurveKeyPair {
    /// A new random pair (from the operating system's generator).
    pub fn generate() -> CurveKeyPair {
        CurveKeyPair::from_secret_key(SecretKey::generate(&mut OsRng))
    }

    /// The pair of a secret key given as 32 bytes or 40 characters of Z85.
    pub fn from_secret(secret: impl AsRef<[u8]>) -> Result<CurveKeyPair, KeyError> {
        let mut raw = key_bytes(secret.as_ref())?;
        let pair = CurveKeyPair::from_secret_key(SecretKey::from(raw));
        zeroize::Zeroize::zeroize(&mut raw);
        Ok(pair)
    }

    fn from_secret_key(secret: SecretKey) -> CurveKeyPair {
        let public = CurvePublicKey(*secret.public_key().as_bytes());
        CurveKeyPair { public, secret }
    }

    /// The public half.
    pub fn public(&self) -> CurvePublicKey {
        self.public
    }

    /// The secret half in Z85, for writing a certificate (handle with care).
    pub fn secret_z85(&self) -> zeroize::Zeroizing<String> {
        let mut raw = self.secret.to_bytes();
        let text = z85::encode(&raw).expect("32 bytes are whole Z85 groups");
        zeroize::Zeroize::zeroize(&mut raw);
        zeroize::Zeroizing::new(text)
    }

    pub(crate) fn secret_key(&self) -> &SecretKey {
        &self.secret
    }
}

impl PartialEq for CurveKeyPair {
    fn eq(&self, other: &CurveKeyPair) -> bool {
        // SecretKey compares in constant time.
        self.secret == other.secret
    }
}

impl Eq for CurveKeyPair {}

impl std::fmt::Debug for CurveKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurveKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libzmq's test keys (its `zmq_curve` documentation).
    const CLIENT_PUBLIC: &str = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
    const CLIENT_SECRET: &str = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";
    const SERVER_PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    const SERVER_SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

    #[test]
    fn libzmqs_test_keys_derive_their_public_halves() {
        let client = CurveKeyPair::from_secret(CLIENT_SECRET).unwrap();
        assert_eq!(client.public().to_z85(), CLIENT_PUBLIC);
        let server = CurveKeyPair::from_secret(SERVER_SECRET).unwrap();
        assert_eq!(server.public(), CurvePublicKey::new(SERVER_PUBLIC).unwrap());
        assert_eq!(&*server.secret_z85(), SERVER_SECRET);
    }

    #[test]
    fn wrong_sized_keys_are_refused() {
        assert!(CurvePublicKey::new([0u8; 31]).is_err());
        assert!(CurvePublicKey::new("short").is_err());
        assert!(CurvePublicKey::new("~".repeat(40)).is_err());
        assert!(CurveKeyPair::from_secret([1u8; 33]).is_err());
        assert_eq!(
            CurvePublicKey::new([7u8; 32]).unwrap().as_bytes(),
            &[7u8; 32]
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let pair = CurveKeyPair::from_secret(CLIENT_SECRET).unwrap();
        let shown = format!("{pair:?}");
        assert!(shown.contains(CLIENT_PUBLIC));
        assert!(!shown.contains(CLIENT_SECRET));
    }
}
