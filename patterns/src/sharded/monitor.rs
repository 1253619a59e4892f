//! A sharded socket's monitor: the events of every core's shard in one stream, each
//! tagged with its core, readable from any thread.

use std::sync::mpsc;
use std::time::Duration;

use monocoque_runtime::MonitorEvent;

/// Events kept when nobody reads them; past that, new events are dropped (and
/// counted, see [`ShardedMonitor::dropped`]).
pub(super) const CAPACITY: usize = 4096;

/// One monitor event and the core whose connection it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreEvent {
    /// The core (index into the runtime's cores).
    pub core: usize,
    /// What happened.
    pub event: MonitorEvent,
}

/// Receives a [`ShardedSocket`](super::ShardedSocket)'s monitor events from every
/// core (libzmq's `zmq_socket_monitor` for a socket whose connections live on several
/// cores). Made by `ShardedSocket::monitor`; events start once it has returned. Up to
/// 4096 unread events are kept; later ones are dropped while the queue is full. The
/// stream ends (`None`) once every core's shard is gone (the socket closed, or the
/// runtime stopped).
pub struct ShardedMonitor {
    pub(super) events: mpsc::Receiver<CoreEvent>,
    pub(super) dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl ShardedMonitor {
    /// Waits, blocking this thread, for the next event; `None` once the stream ended.
    pub fn next(&self) -> Option<CoreEvent> {
        self.events.recv().ok()
    }

    /// [`ShardedMonitor::next`] for at most `timeout`.
    pub fn next_timeout(&self, timeout: Duration) -> Option<CoreEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// The next event if one is waiting.
    pub fn try_next(&self) -> Option<CoreEvent> {
        self.events.try_recv().ok()
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl std::fmt::Debug for ShardedMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardedMonitor")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}
