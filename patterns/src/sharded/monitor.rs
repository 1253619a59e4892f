//! A sharded socket's monitor: the events of every core's shard in one stream, each
//! tagged with its core, readable from any thread or async runtime.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use monocoque_runtime::{MonitorEvent, WakerSet};

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

/// The queue the cores fill and the monitor reads.
#[derive(Default)]
pub(super) struct Events {
    state: Mutex<State>,
    wakers: WakerSet,
}

#[derive(Default)]
struct State {
    queue: VecDeque<CoreEvent>,
    /// Cores still forwarding.
    cores: usize,
    dropped: u64,
    /// The monitor was dropped: cores stop forwarding.
    gone: bool,
}

impl Events {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A core starts forwarding.
    pub fn join(&self) {
        self.state().cores += 1;
    }

    /// Queues `event` from a core; false once the monitor is gone.
    pub fn push(&self, event: CoreEvent) -> bool {
        {
            let mut state = self.state();
            if state.gone {
                return false;
            }
            if state.queue.len() >= CAPACITY {
                state.dropped += 1;
                return true;
            }
            state.queue.push_back(event);
        }
        self.wakers.wake_all();
        true
    }

    /// A core stopped forwarding (its shard closed).
    pub fn leave(&self) {
        self.state().cores -= 1;
        self.wakers.wake_all();
    }

    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<CoreEvent>> {
        let mut state = self.state();
        if let Some(event) = state.queue.pop_front() {
            return Poll::Ready(Some(event));
        }
        if state.cores == 0 {
            return Poll::Ready(None);
        }
        // Registered under the lock: a push after it wakes this waker.
        self.wakers.register(cx.waker());
        Poll::Pending
    }
}

/// Receives a [`ShardedSocket`](super::ShardedSocket)'s monitor events from every
/// core (libzmq's `zmq_socket_monitor` for a socket whose connections live on several
/// cores). Made by `ShardedSocket::monitor`; events start once it has returned. Up to
/// 4096 unread events are kept; later ones are dropped while the queue is full. The
/// stream ends (`None`) once every core's shard is gone (the socket closed, or the
/// runtime stopped). Read it from a plain thread ([`ShardedMonitor::recv`],
/// [`ShardedMonitor::recv_timeout`]) or from any async runtime
/// ([`ShardedMonitor::recv_async`]).
///
/// ```
/// use std::time::Duration;
/// use monocoque::{MonitorEvent, Options, Runtime, ShardedSocket, SocketType};
///
/// let rt = Runtime::builder().cores(vec![0]).build()?;
/// let pull = ShardedSocket::new(&rt, SocketType::Pull, Options::default());
/// let monitor = pull.monitor()?;
/// let endpoint = pull.bind("tcp://127.0.0.1:0")?.to_string();
/// let push = ShardedSocket::new(&rt, SocketType::Push, Options::default());
/// push.connect(&endpoint)?;
/// loop {
///     let e = monitor.recv_timeout(Duration::from_secs(5)).expect("an event");
///     println!("core {}: {:?}", e.core, e.event); // Listening, Accepted, ...
///     if matches!(e.event, MonitorEvent::HandshakeSucceeded { .. }) {
///         break;
///     }
/// }
/// rt.shutdown();
/// while monitor.recv().is_some() {} // what was left, then the end of the stream
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ShardedMonitor {
    pub(super) events: Arc<Events>,
}

impl ShardedMonitor {
    /// Waits, blocking this thread, for the next event; `None` once the stream ended
    /// (as [`ShardedSocket::recv`](crate::ShardedSocket::recv) waits for a message).
    pub fn recv(&self) -> Option<CoreEvent> {
        super::handle::block_until(None, |cx| self.events.poll_next(cx)).flatten()
    }

    /// [`ShardedMonitor::recv`] for at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<CoreEvent> {
        super::handle::block_until(Some(Instant::now() + timeout), |cx| {
            self.events.poll_next(cx)
        })
        .flatten()
    }

    /// The next event, as a future for any executor; `None` once the stream ended.
    ///
    /// ```no_run
    /// use monocoque::{Options, Runtime, ShardedSocket, SocketType};
    /// let rt = Runtime::builder().build()?;
    /// let router = ShardedSocket::new(&rt, SocketType::Router, Options::default());
    /// let monitor = router.monitor()?;
    /// let tokio = tokio::runtime::Builder::new_current_thread().build()?;
    /// tokio.block_on(async {
    ///     while let Some(e) = monitor.recv_async().await {
    ///         println!("core {}: {:?}", e.core, e.event);
    ///     }
    /// });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn recv_async(&self) -> Option<CoreEvent> {
        std::future::poll_fn(|cx| self.events.poll_next(cx)).await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<CoreEvent> {
        self.events.state().queue.pop_front()
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.events.state().dropped
    }
}

/// The events as a [`futures_core::Stream`] (the same as [`ShardedMonitor::recv_async`]),
/// ending once every core's shard of the socket has gone; `StreamExt::next` and the
/// other combinators apply.
impl futures_core::Stream for ShardedMonitor {
    type Item = CoreEvent;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<CoreEvent>> {
        self.events.poll_next(cx)
    }
}

impl Drop for ShardedMonitor {
    fn drop(&mut self) {
        let mut state = self.events.state();
        state.gone = true;
        state.queue.clear();
    }
}

impl std::fmt::Debug for ShardedMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardedMonitor")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}
