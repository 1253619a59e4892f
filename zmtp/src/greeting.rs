//! The 64-byte ZMTP greeting.

use crate::ProtocolError;

/// Length of a ZMTP 3.x greeting.
pub const GREETING_LEN: usize = 64;

/// How many leading bytes [`Greeting::check_prefix`] needs to decide on the signature.
pub const SIGNATURE_LEN: usize = 10;

/// A security mechanism name as carried in the greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// `NULL`: no security.
    Null,
    /// `PLAIN`: clear-text user name and password (RFC 24).
    Plain,
    /// `CURVE`: CurveZMQ encryption (RFC 25/26).
    Curve,
}

impl Mechanism {
    /// `"NULL"`, `"PLAIN"` or `"CURVE"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Null => "NULL",
            Mechanism::Plain => "PLAIN",
            Mechanism::Curve => "CURVE",
        }
    }

    /// The 20-byte zero-padded field.
    pub fn to_field(self) -> [u8; 20] {
        let mut field = [0u8; 20];
        let name = self.as_str().as_bytes();
        field[..name.len()].copy_from_slice(name);
        field
    }
}

/// A decoded greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// Major protocol version (3 for ZMTP 3.x).
    pub major: u8,
    /// Minor protocol version (0 for ZMTP 3.0, 1 for 3.1).
    pub minor: u8,
    /// The raw 20-byte mechanism field (may name a mechanism we do not know).
    pub mechanism: [u8; 20],
    /// The as-server flag (libzmq always sends 0; never rely on it).
    pub as_server: bool,
}

impl Greeting {
    /// Our greeting: version 3.1, the given mechanism and role.
    pub fn new(mechanism: Mechanism, as_server: bool) -> Greeting {
        Greeting {
            major: 3,
            minor: 1,
            mechanism: mechanism.to_field(),
            as_server,
        }
    }

    /// The 64 bytes to send (padding bytes zero, byte 8 = 1 like libzmq's `0x00…01 0x7F`).
    pub fn encode(&self) -> [u8; GREETING_LEN] {
        let mut g = [0u8; GREETING_LEN];
        g[0] = 0xFF;
        g[8] = 0x01;
        g[9] = 0x7F;
        g[10] = self.major;
        g[11] = self.minor;
        g[12..32].copy_from_slice(&self.mechanism);
        g[32] = u8::from(self.as_server);
        g
    }

    /// Checks the first bytes seen so far (any length up to 64) for the signature so
    /// garbage is rejected after at most 10 bytes: byte 0 must be 0xFF, byte 9's low bit set.
    pub fn check_prefix(prefix: &[u8]) -> Result<(), ProtocolError> {
        if let Some(&b0) = prefix.first() {
            if b0 != 0xFF {
                return Err(ProtocolError::BadSignature);
            }
        }
        if let Some(&b9) = prefix.get(9) {
            if b9 & 0x01 == 0 {
                return Err(ProtocolError::BadSignature);
            }
        }
        Ok(())
    }

    /// Decodes a full greeting; rejects bad signature and major < 3.
    pub fn decode(bytes: &[u8; GREETING_LEN]) -> Result<Greeting, ProtocolError> {
        Greeting::check_prefix(&bytes[..])?;
        let (major, minor) = (bytes[10], bytes[11]);
        if major < 3 {
            return Err(ProtocolError::UnsupportedVersion { major, minor });
        }
        let mut mechanism = [0u8; 20];
        mechanism.copy_from_slice(&bytes[12..32]);
        Ok(Greeting {
            major,
            minor,
            mechanism,
            as_server: bytes[32] & 0x01 != 0,
        })
    }

    /// The mechanism, if it is one we know.
    pub fn mechanism(&self) -> Option<Mechanism> {
        [Mechanism::Null, Mechanism::Plain, Mechanism::Curve]
            .into_iter()
            .find(|m| m.to_field() == self.mechanism)
    }

    /// The peer's mechanism name for error messages (trailing zeros removed, lossy UTF-8).
    pub fn mechanism_name(&self) -> String {
        mechanism_name(&self.mechanism)
    }

    /// True when the peer is a ZMTP 3.0 peer (major 3, minor 0): subscriptions then travel
    /// as `\x01topic` / `\x00topic` data frames instead of SUBSCRIBE/CANCEL commands.
    pub fn is_zmtp30(&self) -> bool {
        self.major == 3 && self.minor == 0
    }
}

/// A greeting's mechanism field as text (lossy, trailing zeros removed).
pub(crate) fn mechanism_name(field: &[u8; 20]) -> String {
    let end = field.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    String::from_utf8_lossy(&field[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_checks() {
        assert_eq!(Greeting::check_prefix(b""), Ok(()));
        assert_eq!(Greeting::check_prefix(&[0xFF]), Ok(()));
        assert_eq!(
            Greeting::check_prefix(b"G"),
            Err(ProtocolError::BadSignature)
        );
        let mut g = Greeting::new(Mechanism::Null, false).encode();
        for n in 0..=GREETING_LEN {
            assert_eq!(Greeting::check_prefix(&g[..n]), Ok(()));
        }
        g[9] = 0x7E;
        assert_eq!(Greeting::check_prefix(&g[..9]), Ok(()));
        assert_eq!(
            Greeting::check_prefix(&g[..10]),
            Err(ProtocolError::BadSignature)
        );
    }

    #[test]
    fn decode_fields() {
        let mut g = Greeting::new(Mechanism::Curve, true).encode();
        assert_eq!(&g[12..17], b"CURVE");
        assert_eq!(g[32], 1);
        let d = Greeting::decode(&g).unwrap();
        assert_eq!(d.mechanism(), Some(Mechanism::Curve));
        assert!(d.as_server);
        g[11] = 0;
        assert!(Greeting::decode(&g).unwrap().is_zmtp30());
        g[10] = 2;
        assert_eq!(
            Greeting::decode(&g),
            Err(ProtocolError::UnsupportedVersion { major: 2, minor: 0 })
        );
        g[10] = 3;
        g[12..32].copy_from_slice(&[b'Z'; 20]);
        let d = Greeting::decode(&g).unwrap();
        assert_eq!(d.mechanism(), None);
        assert_eq!(d.mechanism_name(), "Z".repeat(20));
    }
}
