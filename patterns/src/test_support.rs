//! Helpers for the crate's unit tests.

use std::path::PathBuf;
use std::rc::Rc;

use monocoque_runtime::{Message, Notify, Peer, PeerId, Properties};
use monocoque_zmtp::{Metadata, PeerInfo, SocketType};

/// A detached peer with an unbounded queue.
pub fn peer(id: PeerId) -> Rc<Peer> {
    Rc::new(Peer::new(id, String::new(), 0, Rc::new(Notify::new())))
}

/// The properties of a connection whose authenticator named it `user`.
pub fn properties(user: &'static str) -> Properties {
    Properties::new(
        PeerInfo {
            socket_type: SocketType::Dealer,
            identity: bytes::Bytes::new(),
            metadata: Metadata::new(),
            minor: 1,
            user_id: Some(bytes::Bytes::from_static(user.as_bytes())),
            auth_metadata: Metadata::new(),
        },
        "127.0.0.1".into(),
    )
}

/// The user id of `properties`, as text.
pub fn user(properties: &Properties) -> &str {
    properties.get_str("User-Id").unwrap_or_default()
}

/// A one-frame message holding `n`.
pub fn msg(n: u8) -> Message {
    Message::single(vec![n])
}

/// A directory of the test's own under the system's temporary one, removed when
/// dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A new empty directory for `test` (a name unique among the crate's tests).
    pub fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("monocoque-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// Writes `text` into the file `name` of the directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
