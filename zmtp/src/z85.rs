//! Z85 (ZeroMQ RFC 32): printable encoding of binary keys.
//!
//! Every 4 bytes (a big-endian u32) become 5 characters of an 85-letter alphabet.
//!
//! ```
//! use monocoque_zmtp::z85;
//!
//! let bytes = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
//! assert_eq!(z85::encode(&bytes).unwrap(), "HelloWorld");
//! assert_eq!(z85::decode("HelloWorld").unwrap(), bytes);
//! assert!(z85::decode("Hello").is_ok());
//! assert!(z85::decode("Hell").is_err()); // not a multiple of 5
//! ```

const ALPHABET: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Character → digit, 0xFF for characters outside the alphabet.
const DECODE: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut i = 0;
    while i < 85 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Encodes `data` (length a multiple of 4) as Z85. Err if the length is not a multiple of 4.
pub fn encode(data: &[u8]) -> Result<String, Z85Error> {
    let chunks = data.chunks_exact(4);
    if !chunks.remainder().is_empty() {
        return Err(Z85Error::BadLength { len: data.len() });
    }
    let mut out = String::with_capacity(data.len() / 4 * 5);
    for chunk in chunks {
        let mut value = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let mut group = [0u8; 5];
        for slot in group.iter_mut().rev() {
            *slot = ALPHABET[(value % 85) as usize];
            value /= 85;
        }
        for &c in &group {
            out.push(char::from(c));
        }
    }
    Ok(out)
}

/// Decodes Z85 text (length a multiple of 5); rejects characters outside the alphabet and
/// groups above 0xFFFF_FFFF.
pub fn decode(text: &str) -> Result<Vec<u8>, Z85Error> {
    let bytes = text.as_bytes();
    let groups = bytes.chunks_exact(5);
    if !groups.remainder().is_empty() {
        return Err(Z85Error::BadLength { len: bytes.len() });
    }
    let mut out = Vec::with_capacity(bytes.len() / 5 * 4);
    for (g, group) in groups.enumerate() {
        let mut value: u64 = 0;
        for (i, &c) in group.iter().enumerate() {
            let digit = DECODE[usize::from(c)];
            if digit == 0xFF {
                let position = g * 5 + i;
                let ch = text
                    .get(position..)
                    .and_then(|s| s.chars().next())
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                return Err(Z85Error::BadCharacter { position, ch });
            }
            value = value * 85 + u64::from(digit);
        }
        let value = u32::try_from(value).map_err(|_| Z85Error::Overflow { position: g * 5 })?;
        out.extend_from_slice(&value.to_be_bytes());
    }
    Ok(out)
}

/// Why Z85 input was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Z85Error {
    /// Input length is not a multiple of 4 bytes (encode) or 5 characters (decode).
    #[error("Z85: bad length {len} (need a multiple of 4 bytes / 5 characters)")]
    BadLength {
        /// The offending length (bytes for both directions).
        len: usize,
    },
    /// A character outside the Z85 alphabet.
    #[error("Z85: character {ch:?} at byte {position} is not in the alphabet")]
    BadCharacter {
        /// Byte offset in the text.
        position: usize,
        /// The character found there.
        ch: char,
    },
    /// A 5-character group decodes to more than 0xFFFF_FFFF.
    #[error("Z85: group at byte {position} exceeds 0xFFFFFFFF")]
    Overflow {
        /// Byte offset of the group's first character.
        position: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_vector() {
        let bytes = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
        assert_eq!(encode(&bytes).unwrap(), "HelloWorld");
        assert_eq!(decode("HelloWorld").unwrap(), bytes);
    }

    #[test]
    fn limits() {
        assert_eq!(decode("%nSc0").unwrap(), [0xFF; 4]);
        assert_eq!(encode(&[0xFF; 4]).unwrap(), "%nSc0");
        assert_eq!(decode("%nSc1"), Err(Z85Error::Overflow { position: 0 }));
        assert_eq!(
            decode("00000#####"),
            Err(Z85Error::Overflow { position: 5 })
        );
        assert_eq!(decode("00000").unwrap(), [0; 4]);
        assert_eq!(
            decode("Hell\""),
            Err(Z85Error::BadCharacter {
                position: 4,
                ch: '"'
            })
        );
        assert_eq!(
            decode("Hellé\0\0\0\0"),
            Err(Z85Error::BadCharacter {
                position: 4,
                ch: 'é'
            })
        );
        assert_eq!(decode("Hell"), Err(Z85Error::BadLength { len: 4 }));
        assert_eq!(encode(&[1, 2, 3]), Err(Z85Error::BadLength { len: 3 }));
        assert_eq!(encode(&[]).unwrap(), "");
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
    }
}
