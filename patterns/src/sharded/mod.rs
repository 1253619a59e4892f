//! Sharded sockets: one socket spread over every core of a [`Runtime`].
//!
//! Each core holds a *shard* ([`shard`]): an ordinary local socket of the same type
//! that serves the connections that core owns. A bound sharded socket accepts on the
//! first core and hands each new connection to the core the runtime's
//! [`Placement`](monocoque_runtime::Placement) chooses (by default the one with the
//! fewest connections); a connecting one places each connection the same way. A
//! connection stays on its core for its whole life.
//!
//! Each socket has its own mesh of SPSC rings: between every two cores, and between
//! every core and the handle. What travels on them is a typed [`Mail`](mail::Mail):
//! a message to publish (PUB, XPUB) or deliver (ROUTER) on the receiving core, a
//! notice that a core's subscription union or its routing ids changed, or a message a
//! core received for the handle's reader. Each side keeps a
//! [`Directory`](mail::Directory) of the other cores from the notices, which both
//! directions route by: publishers skip cores with no matching subscriber, and a
//! ROUTER reply goes to the core that owns the routing id.
//!
//! Use a sharded socket either through handlers that run on every core
//! ([`ShardedSocket::on_each_core`], each serving its own core's peers; PUB and ROUTER
//! handlers also reach the other cores' peers), or through the `Send + Sync` handle
//! itself from any thread or async runtime ([`ShardedSocket::send_async`] and
//! [`ShardedSocket::recv_async`], or the blocking [`ShardedSocket::send`] and
//! [`ShardedSocket::recv`]), where every socket type keeps its semantics over all
//! cores: DEALER, PUSH and PAIR round-robin over all peers, receives are fair-queued
//! over the cores, REQ and REP keep their lock-step. Receive through one or the other,
//! not both.
//!
//! [`Runtime`]: monocoque_runtime::Runtime

mod handle;
mod mail;
mod monitor;
mod role;
mod shard;
mod shard_ref;

pub use handle::ShardedSocket;
pub use monitor::{CoreEvent, ShardedMonitor};
pub use shard_ref::ShardRef;

/// Each core's shards, by socket id: how jobs sent to a core find their shard.
mod registry {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use ahash::AHashMap;

    use super::shard::Shard;

    static NEXT_SOCKET: AtomicU64 = AtomicU64::new(1);

    thread_local! {
        static SHARDS: RefCell<AHashMap<u64, Rc<Shard>>> = RefCell::new(AHashMap::default());
    }

    /// A new socket id, unique in the process.
    pub fn next_id() -> u64 {
        NEXT_SOCKET.fetch_add(1, Ordering::Relaxed)
    }

    /// This core's shard of socket `id`.
    pub fn shard(id: u64) -> Option<Rc<Shard>> {
        SHARDS.with(|s| s.borrow().get(&id).cloned())
    }

    pub fn insert(id: u64, shard: Rc<Shard>) {
        SHARDS.with(|s| s.borrow_mut().insert(id, shard));
    }

    pub fn forget(id: u64) {
        SHARDS.with(|s| s.borrow_mut().remove(&id));
    }
}
