//! Start and stop of a socket's background tasks (listeners, connectors, drivers).
//!
//! Every task of a socket is spawned through its [`Lifecycle`], which counts the live
//! ones. Closing the socket first asks tasks to finish (drivers flush their queues:
//! LINGER), then, when the linger period ends, aborts whatever is left.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::task::Poll;

use crate::notify::Notify;

/// Shared stop state of one socket's tasks.
#[derive(Debug, Default)]
pub struct Lifecycle {
    closing: Cell<bool>,
    aborted: Cell<bool>,
    live: Cell<usize>,
    /// Woken when closing starts and when abort is requested.
    stop: Notify,
    /// Woken when a task ends (for `idle`).
    ended: Notify,
}

/// Which stop phase a task last registered for (see [`Lifecycle::watch`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StopWatch(Option<u8>);

impl Lifecycle {
    /// A running lifecycle with no tasks.
    pub fn new() -> Rc<Lifecycle> {
        Rc::new(Lifecycle::default())
    }

    /// Spawns `fut` on the current executor as one of this socket's tasks.
    pub fn spawn(self: &Rc<Self>, fut: impl Future<Output = ()> + 'static) {
        self.live.set(self.live.get() + 1);
        let me = Rc::clone(self);
        glommio::spawn_local(async move {
            fut.await;
            me.live.set(me.live.get() - 1);
            me.ended.notify_all();
        })
        .detach();
    }

    /// Asks every task to finish (flushing what it holds).
    pub fn close(&self) {
        self.closing.set(true);
        self.stop.notify_all();
    }

    /// Makes every task stop at once, dropping what it holds.
    pub fn abort(&self) {
        self.closing.set(true);
        self.aborted.set(true);
        self.stop.notify_all();
    }

    /// True once [`Lifecycle::close`] or [`Lifecycle::abort`] was called.
    pub fn is_closing(&self) -> bool {
        self.closing.get()
    }

    /// True once [`Lifecycle::abort`] was called.
    pub fn is_aborted(&self) -> bool {
        self.aborted.get()
    }

    /// Number of tasks still running.
    pub fn live_tasks(&self) -> usize {
        self.live.get()
    }

    /// Resolves when closing starts.
    pub async fn closing(&self) {
        Self::wait_until(&self.stop, || self.closing.get()).await
    }

    /// Resolves when abort is requested.
    pub async fn aborted(&self) {
        Self::wait_until(&self.stop, || self.aborted.get()).await
    }

    /// Resolves when no task is left.
    pub async fn idle(&self) {
        Self::wait_until(&self.ended, || self.live.get() == 0).await
    }

    /// Makes `waker` be woken when closing starts or abort is requested. A connection
    /// calls this on every poll; it registers only once per stop phase (`seen`
    /// remembers which), so polling costs nothing and the list holds each task once.
    pub fn watch(&self, seen: &mut StopWatch, waker: &std::task::Waker) {
        let phase = u8::from(self.closing.get()) + u8::from(self.aborted.get());
        if seen.0 != Some(phase) {
            self.stop.add(waker);
            seen.0 = Some(phase);
        }
    }

    async fn wait_until(notify: &Notify, cond: impl Fn() -> bool) {
        std::future::poll_fn(|cx| {
            if cond() {
                Poll::Ready(())
            } else {
                notify.register(cx.waker());
                Poll::Pending
            }
        })
        .await
    }
}
