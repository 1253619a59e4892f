//! [`Properties`]: what is known of the connection a message came from, as libzmq
//! attaches it to every message it receives (`zmq_msg_gets`).

use std::rc::Rc;

use monocoque_zmtp::{PeerInfo, SocketType};

/// The properties of one connection: the peer's address, what the authenticator said
/// of it (ZAP's User-Id and metadata) and what the peer said of itself in its
/// handshake (READY or INITIATE: Socket-Type, Identity, any application property).
///
/// It is a shared handle: every message of a connection refers to the same
/// properties, and cloning one costs a reference count. A message received before its
/// connection ended keeps the properties of that connection, whatever happens to the
/// peer afterwards (a reconnection gets properties of its own).
///
/// ```
/// # mod monocoque { // users name these through `monocoque`
/// #     pub use bytes::Bytes;
/// #     pub use monocoque_runtime::Properties;
/// #     pub use monocoque_zmtp::{Metadata, PeerInfo, SocketType};
/// # }
/// use monocoque::{Bytes, Metadata, PeerInfo, Properties, SocketType};
///
/// let mut ready = Metadata::new();
/// ready.insert("Socket-Type", "DEALER");
/// ready.insert("X-Color", "blue");
/// let mut from_zap = Metadata::new();
/// from_zap.insert("Hello", "World");
/// let properties = Properties::new(
///     PeerInfo {
///         socket_type: SocketType::Dealer,
///         identity: Bytes::new(),
///         metadata: ready,
///         minor: 1,
///         user_id: Some(Bytes::from_static(b"alice")),
///         auth_metadata: from_zap,
///     },
///     "127.0.0.1".into(),
/// );
/// assert_eq!(properties.get("User-Id"), Some(&b"alice"[..]));
/// assert_eq!(properties.get_str("hello"), Some("World"));
/// assert_eq!(properties.get_str("Socket-Type"), Some("DEALER"));
/// assert_eq!(properties.peer_address(), Some("127.0.0.1"));
/// assert_eq!(properties.get("No-Such"), None);
/// ```
#[derive(Clone)]
pub struct Properties(Rc<Connection>);

struct Connection {
    peer: PeerInfo,
    address: String,
}

/// The name of the peer's address property.
const PEER_ADDRESS: &str = "Peer-Address";
/// The name of the user id property (from ZAP).
const USER_ID: &str = "User-Id";

impl Properties {
    /// The properties of a connection to `peer` (what its handshake said) from
    /// `address` (see [`Properties::peer_address`]; empty when unknown).
    pub fn new(peer: PeerInfo, address: String) -> Properties {
        Properties(Rc::new(Connection { peer, address }))
    }

    /// The value of property `name`, compared ignoring ASCII case (ZMTP's rule for
    /// property names; libzmq's `zmq_msg_gets` compares them exactly, so the
    /// spellings below work with both). Looked up in libzmq's order:
    ///
    /// 1. `Peer-Address`: see [`Properties::peer_address`];
    /// 2. `User-Id`: see [`Properties::user_id`];
    /// 3. the metadata of the authenticator's reply;
    /// 4. the peer's own properties: `Socket-Type`, `Identity` (sent by REQ, DEALER
    ///    and ROUTER peers, possibly empty), application properties (`X-…`). As in
    ///    libzmq, `Identity` falls back to a `Routing-Id` property.
    ///
    /// `Peer-Address` and `User-Id` are never the peer's own claims: a peer that
    /// puts a `User-Id` in its READY does not get it read back here (libzmq would
    /// show it when no ZAP handler answered for the connection).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        if name.eq_ignore_ascii_case(PEER_ADDRESS) {
            return self.peer_address().map(str::as_bytes);
        }
        if name.eq_ignore_ascii_case(USER_ID) {
            return self.user_id();
        }
        let peer = &self.0.peer;
        let lookup = |name: &str| peer.auth_metadata.get(name).or(peer.metadata.get(name));
        match lookup(name) {
            None if name.eq_ignore_ascii_case("Identity") => lookup("Routing-Id"),
            found => found,
        }
        .map(|v| &v[..])
    }

    /// [`Properties::get`] as text: `None` when the property is absent or its value
    /// is not UTF-8 (as the `zmq` crate's `Message::gets`; use `get` to tell them
    /// apart).
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The user id the authenticator gave the connection (ZAP's User-Id, possibly
    /// empty); `None` when no authenticator was asked about it (NULL without a ZAP
    /// domain, CURVE without an authenticator, and the client side of PLAIN and
    /// CURVE).
    pub fn user_id(&self) -> Option<&[u8]> {
        self.0.peer.user_id.as_deref()
    }

    /// The peer's address, as libzmq gives it (and as the authenticator was told):
    /// for TCP the IP address without the port (`"127.0.0.1"`, `"::1"`), for IPC
    /// `"localhost:UID:GID:PID"` with the peer process's credentials. `None` when it
    /// could not be learnt.
    pub fn peer_address(&self) -> Option<&str> {
        Some(self.0.address.as_str()).filter(|a| !a.is_empty())
    }

    /// The peer's socket type (its `Socket-Type`).
    pub fn socket_type(&self) -> SocketType {
        self.0.peer.socket_type
    }

    /// The peer's `Identity` (its ROUTING_ID), empty when it sent none.
    pub fn identity(&self) -> &[u8] {
        &self.0.peer.identity
    }

    /// Everything the handshake told of the peer.
    pub fn peer_info(&self) -> &PeerInfo {
        &self.0.peer
    }

    /// Every property, each name once, in the order of [`Properties::get`]: the
    /// value listed for a name is the one `get` returns.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        let peer = &self.0.peer;
        let ours = [
            self.peer_address().map(|a| (PEER_ADDRESS, a.as_bytes())),
            self.user_id().map(|u| (USER_ID, u)),
        ];
        // Ours are never taken from the metadata (see `get`).
        let mut seen = vec![PEER_ADDRESS, USER_ID];
        let theirs = peer
            .auth_metadata
            .iter()
            .chain(peer.metadata.iter())
            .filter(move |(name, _)| {
                let first = !seen.iter().any(|s| s.eq_ignore_ascii_case(name));
                if first {
                    seen.push(name);
                }
                first
            })
            .map(|(name, value)| (name, &value[..]));
        ours.into_iter().flatten().chain(theirs)
    }
}

impl std::fmt::Debug for Properties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(name, value)| (name, String::from_utf8_lossy(value))),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use monocoque_zmtp::Metadata;

    fn metadata(pairs: &[(&str, &str)]) -> Metadata {
        let mut m = Metadata::new();
        for (name, value) in pairs {
            m.insert(name, Bytes::copy_from_slice(value.as_bytes()));
        }
        m
    }

    fn properties(
        user_id: Option<&'static str>,
        zap: &[(&str, &str)],
        ready: &[(&str, &str)],
    ) -> Properties {
        Properties::new(
            PeerInfo {
                socket_type: SocketType::Dealer,
                identity: Bytes::new(),
                metadata: metadata(ready),
                minor: 1,
                user_id: user_id.map(|u| Bytes::from_static(u.as_bytes())),
                auth_metadata: metadata(zap),
            },
            "10.0.0.7".into(),
        )
    }

    #[test]
    fn lookups_follow_libzmqs_order_and_never_take_the_peers_word_for_its_user_id() {
        let p = properties(
            Some("alice"),
            &[("Hello", "from ZAP"), ("User-Id", "zap metadata")],
            &[
                ("Socket-Type", "DEALER"),
                ("Hello", "from the peer"),
                ("Peer-Address", "1.2.3.4"),
                ("X-Mine", "1"),
            ],
        );
        assert_eq!(p.get_str("user-id"), Some("alice"));
        assert_eq!(p.get_str("HELLO"), Some("from ZAP"));
        assert_eq!(p.get_str("Peer-Address"), Some("10.0.0.7"));
        assert_eq!(p.get_str("X-Mine"), Some("1"));
        let listed: Vec<(&str, &[u8])> = p.iter().collect();
        assert_eq!(
            listed,
            [
                ("Peer-Address", &b"10.0.0.7"[..]),
                ("User-Id", b"alice"),
                ("Hello", b"from ZAP"),
                ("Socket-Type", b"DEALER"),
                ("X-Mine", b"1"),
            ]
        );
        // Without a verdict there is no User-Id, whatever the peer says.
        let p = properties(None, &[], &[("User-Id", "root"), ("Routing-Id", "r-1")]);
        assert_eq!(p.user_id(), None);
        assert_eq!(p.get("User-Id"), None);
        assert!(p.iter().all(|(name, _)| name != "User-Id"));
        // Identity falls back to Routing-Id, as in libzmq.
        assert_eq!(p.get_str("Identity"), Some("r-1"));
        assert_eq!(p.get("No-Such"), None);
        assert_eq!(
            format!("{p:?}"),
            r#"{"Peer-Address": "10.0.0.7", "Routing-Id": "r-1"}"#
        );
    }

    #[test]
    fn an_empty_user_id_is_a_user_id_and_an_unknown_address_is_none() {
        let mut p = properties(Some(""), &[], &[]);
        assert_eq!(p.get("User-Id"), Some(&b""[..]));
        p = Properties::new(p.peer_info().clone(), String::new());
        assert_eq!(p.peer_address(), None);
        assert_eq!(p.get("Peer-Address"), None);
    }
}
