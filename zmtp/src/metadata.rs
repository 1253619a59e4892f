//! Metadata properties as carried in READY (and INITIATE): name-length (1 byte), name,
//! value-length (4 bytes BE), value.

use bytes::{BufMut, Bytes, BytesMut};

use crate::ProtocolError;

/// An ordered list of properties. Lookups by name are ASCII-case-insensitive (ZMTP says
/// names are case-insensitive); encoding keeps the spelling given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    // A Vec (not an inline SmallVec) keeps `Event`/`PeerInfo` small on the hot path.
    entries: Vec<(String, Bytes)>,
}

fn malformed(reason: &'static str) -> ProtocolError {
    ProtocolError::MalformedCommand {
        command: "READY",
        reason,
    }
}

impl Metadata {
    /// An empty property list.
    pub fn new() -> Metadata {
        Metadata::default()
    }

    /// Appends a property (name must be 1..=255 bytes; panics otherwise: a programming error).
    ///
    /// Values longer than `u32::MAX` bytes cannot be encoded and also panic.
    pub fn insert(&mut self, name: &str, value: impl Into<Bytes>) {
        assert!(
            (1..=255).contains(&name.len()),
            "metadata property name must be 1..=255 bytes, got {}",
            name.len()
        );
        let value = value.into();
        assert!(
            u32::try_from(value.len()).is_ok(),
            "metadata property value longer than u32::MAX bytes"
        );
        self.entries.push((name.to_owned(), value));
    }

    /// The first value whose name matches ignoring ASCII case.
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// (name, value) pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Bytes)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no properties.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Encoded size in bytes.
    pub fn encoded_len(&self) -> usize {
        self.entries
            .iter()
            .map(|(n, v)| 1 + n.len() + 4 + v.len())
            .sum()
    }

    /// Appends the encoding.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        for (name, value) in &self.entries {
            out.put_u8(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
            out.put_u32(value.len() as u32);
            out.extend_from_slice(value);
        }
    }

    /// Parses a property list that fills `data` exactly. Names must be valid UTF-8?
    /// (libzmq accepts any bytes in names; we require ASCII-ish: reject non-UTF-8 with
    /// MalformedCommand{command:"READY", ..}). Values are zero-copy slices of `data`.
    ///
    /// Empty names are rejected too (ZMTP requires 1..=255 bytes).
    pub fn decode(data: Bytes) -> Result<Metadata, ProtocolError> {
        let mut entries = Vec::new();
        let mut pos = 0usize;
        while pos < data.len() {
            let name_len = usize::from(data[pos]);
            pos += 1;
            if name_len == 0 {
                return Err(malformed("empty property name"));
            }
            let name = data
                .get(pos..pos + name_len)
                .ok_or_else(|| malformed("property name runs past the end"))?;
            let name = std::str::from_utf8(name)
                .map_err(|_| malformed("property name is not UTF-8"))?
                .to_owned();
            pos += name_len;
            let len_bytes = data
                .get(pos..pos + 4)
                .ok_or_else(|| malformed("property value length runs past the end"))?;
            let value_len =
                u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
            pos += 4;
            let value_len = usize::try_from(value_len)
                .map_err(|_| malformed("property value runs past the end"))?;
            if data.len() - pos < value_len {
                return Err(malformed("property value runs past the end"));
            }
            let value = data.slice(pos..pos + value_len);
            pos += value_len;
            entries.push((name, value));
        }
        Ok(Metadata { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode() {
        let mut m = Metadata::new();
        m.insert("Socket-Type", &b"DEALER"[..]);
        m.insert("Identity", Bytes::new());
        let mut out = BytesMut::new();
        m.encode(&mut out);
        assert_eq!(out.len(), m.encoded_len());
        assert_eq!(
            &out[..],
            b"\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x00\x00"
        );
        let d = Metadata::decode(out.freeze()).unwrap();
        assert_eq!(d, m);
        assert_eq!(d.get("socket-type").unwrap().as_ref(), b"DEALER");
        assert_eq!(d.get("IDENTITY").unwrap().len(), 0);
        assert!(d.get("X-Nope").is_none());
    }

    #[test]
    fn truncated_is_rejected() {
        let full = b"\x0bSocket-Type\x00\x00\x00\x06DEALER";
        for cut in 1..full.len() {
            assert!(Metadata::decode(Bytes::copy_from_slice(&full[..cut])).is_err());
        }
        assert!(Metadata::decode(Bytes::from_static(b"\x00\x00\x00\x00\x00")).is_err());
        assert!(Metadata::decode(Bytes::from_static(b"\x01\xff\x00\x00\x00\x00")).is_err());
        assert!(Metadata::decode(Bytes::new()).unwrap().is_empty());
    }
}
