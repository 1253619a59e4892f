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
    changed: Notify,
}

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
            me.changed.notify_all();
        })
        .detach();
    }

    /// Asks every task to finish (flushing what it holds).
    pub fn close(&self) {
        self.closing.set(true);
        self.changed.notify_all();
    }

    /// Makes every task stop at once, dropping what it holds.
    pub fn abort(&self) {
        self.closing.set(true);
        self.aborted.set(true);
        self.changed.notify_all();
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
        self.wait_until(|lc| lc.closing.get()).await
    }

    /// Resolves when abort is requested.
    pub async fn aborted(&self) {
        self.wait_until(|lc| lc.aborted.get()).await
    }

    /// Resolves when no task is left.
    pub async fn idle(&self) {
        self.wait_until(|lc| lc.live.get() == 0).await
    }

    /// Registers `waker` for any change (close, abort, a task ending).
    pub fn register(&self, waker: &std::task::Waker) {
        self.changed.register(waker);
    }

    async fn wait_until(&self, cond: impl Fn(&Lifecycle) -> bool) {
        std::future::poll_fn(|cx| {
            if cond(self) {
                Poll::Ready(())
            } else {
                self.changed.register(cx.waker());
                Poll::Pending
            }
        })
        .await
    }
}
