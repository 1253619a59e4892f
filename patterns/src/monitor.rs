//! A socket's monitor: a bounded queue of [`MonitorEvent`]s.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::{Context, Poll};

use monocoque_runtime::{MonitorEvent, Notify};

/// Events kept when nobody reads them; past that, new events are dropped and
/// counted (as libzmq's monitor socket drops at its HWM, and as a ShardedMonitor does).
const CAPACITY: usize = 4096;

#[derive(Default)]
pub(crate) struct MonitorQueue {
    events: RefCell<VecDeque<MonitorEvent>>,
    dropped: Cell<u64>,
    ready: Notify,
}

impl MonitorQueue {
    pub fn push(&self, event: MonitorEvent) {
        let mut events = self.events.borrow_mut();
        if events.len() == CAPACITY {
            self.dropped.set(self.dropped.get() + 1);
            return;
        }
        events.push_back(event);
        drop(events);
        self.ready.notify_all();
    }
}

/// Receives a socket's monitor events (libzmq's `zmq_socket_monitor`, as a stream).
/// Created by the sockets' `monitor()` method; events start at that moment. Up to
/// 4096 unread events are kept; later ones are dropped while the queue is full, and
/// counted ([`Monitor::dropped`]).
///
/// ```
/// use monocoque::{MonitorEvent, Pull, Push};
///
/// glommio::LocalExecutor::default().run(async {
///     let pull = Pull::new();
///     let monitor = pull.monitor(); // before bind: its Listening event is seen too
///     let endpoint = pull.bind("tcp://127.0.0.1:0")?.to_string();
///     let push = Push::new();
///     push.connect(&endpoint)?;
///     loop {
///         match monitor.recv().await {
///             MonitorEvent::HandshakeSucceeded { remote } => {
///                 println!("{remote} is in");
///                 break;
///             }
///             other => println!("{other:?} (code {:#x})", other.code()),
///         }
///     }
///     Ok::<(), monocoque::Error>(())
/// })
/// .unwrap();
/// ```
pub struct Monitor {
    pub(crate) queue: Rc<MonitorQueue>,
}

impl Monitor {
    /// Waits for the next event (as a socket's `recv` waits for a message).
    pub async fn recv(&self) -> MonitorEvent {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    /// The next event, or a wake-up when one arrives.
    fn poll_event(&self, cx: &mut Context<'_>) -> Poll<MonitorEvent> {
        match self.queue.events.borrow_mut().pop_front() {
            Some(ev) => Poll::Ready(ev),
            None => {
                self.queue.ready.register(cx.waker());
                Poll::Pending
            }
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<MonitorEvent> {
        self.queue.events.borrow_mut().pop_front()
    }

    /// Events dropped because 4096 were waiting unread.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped.get()
    }
}

/// The events as a [`futures_core::Stream`] (the same as [`Monitor::recv`], wrapped
/// in `Some`), so `StreamExt::next` and the other combinators apply. It never ends on
/// its own (a monitor outlives its socket's connections): end it with a combinator
/// (`take_while`, `take_until`, a timeout) where that matters.
impl futures_core::Stream for Monitor {
    type Item = MonitorEvent;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<MonitorEvent>> {
        self.poll_event(cx).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_monitor_keeps_the_oldest_events_and_counts_the_rest() {
        let monitor = Monitor {
            queue: Rc::default(),
        };
        for i in 0..CAPACITY + 10 {
            monitor.queue.push(MonitorEvent::Closed {
                endpoint: i.to_string(),
            });
        }
        assert_eq!(monitor.dropped(), 10);
        assert!(
            matches!(monitor.try_recv(), Some(MonitorEvent::Closed { endpoint }) if endpoint == "0")
        );
        // Room again: the next event is kept.
        monitor.queue.push(MonitorEvent::Closed {
            endpoint: "new".into(),
        });
        let last = std::iter::from_fn(|| monitor.try_recv()).last();
        assert!(matches!(last, Some(MonitorEvent::Closed { endpoint }) if endpoint == "new"));
        assert_eq!(monitor.dropped(), 10);
    }
}
