//! Start and stop of a socket's background tasks (listeners, connectors, drivers).
//!
//! Every task of a socket is spawned through its [`Lifecycle`], which counts the live
//! ones. Closing the socket first asks tasks to finish (drivers flush their queues:
//! LINGER), then, when the linger period ends, aborts whatever is left.
//!
//! A socket's lifecycle has a child for each of its endpoints ([`Lifecycle::child`]):
//! the listener of a `bind` and the connections it accepted, or the connector of a
//! `connect`. Stopping a child (`unbind`, `disconnect`) stops those tasks only;
//! closing the socket stops every child, and the socket's count of live tasks
//! includes its children's.
//!
//! Nothing here outlives the task it is for: a connection's [`StopWatch`] takes its
//! waker out of the socket's list when the connection ends (a kept waker would keep
//! the ended task's allocation alive until the socket closes).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};

use crate::notify::Notify;

/// Shared stop state of one socket's tasks.
#[derive(Debug, Default)]
pub struct Lifecycle {
    closing: Cell<bool>,
    aborted: Cell<bool>,
    live: Cell<usize>,
    /// Woken when closing starts and when abort is requested.
    stop: Notify,
    /// Connections' wakers, woken (and kept) when closing starts and when abort is
    /// requested; each [`StopWatch`] owns one slot and frees it when dropped.
    watchers: RefCell<Slots>,
    /// Woken when a task ends (for `idle`).
    ended: Notify,
    /// The socket's lifecycle, for an endpoint's (its live count includes ours).
    parent: Option<Rc<Lifecycle>>,
    /// The endpoints' lifecycles, stopped with this one.
    children: RefCell<Vec<Weak<Lifecycle>>>,
}

/// Waker slots, reused through a free list: as many as tasks watch at once.
#[derive(Debug, Default)]
struct Slots {
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
}

/// A task's registration for its socket's stop signal (see [`StopWatch::watch`]).
/// Dropping it unregisters the task.
#[derive(Debug)]
pub struct StopWatch {
    lifecycle: Rc<Lifecycle>,
    slot: Option<usize>,
}

impl StopWatch {
    /// A registration with `lifecycle`, empty until [`StopWatch::watch`] is called.
    pub fn new(lifecycle: &Rc<Lifecycle>) -> StopWatch {
        StopWatch {
            lifecycle: Rc::clone(lifecycle),
            slot: None,
        }
    }

    /// Makes `waker` be woken when closing starts or abort is requested. A connection
    /// calls this on every poll: once registered it costs a `will_wake` comparison.
    pub fn watch(&mut self, waker: &Waker) {
        let mut slots = self.lifecycle.watchers.borrow_mut();
        match self.slot {
            Some(i) => {
                let slot = &mut slots.wakers[i];
                if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    *slot = Some(waker.clone());
                }
            }
            None => {
                let i = match slots.free.pop() {
                    Some(i) => {
                        slots.wakers[i] = Some(waker.clone());
                        i
                    }
                    None => {
                        slots.wakers.push(Some(waker.clone()));
                        slots.wakers.len() - 1
                    }
                };
                self.slot = Some(i);
            }
        }
    }
}

impl Drop for StopWatch {
    fn drop(&mut self) {
        if let Some(i) = self.slot.take() {
            let mut slots = self.lifecycle.watchers.borrow_mut();
            slots.wakers[i] = None;
            slots.free.push(i);
        }
    }
}

impl Lifecycle {
    /// A running lifecycle with no tasks.
    pub fn new() -> Rc<Lifecycle> {
        Rc::new(Lifecycle::default())
    }

    /// A lifecycle for one endpoint's tasks: stopped with this one (or on its own),
    /// and counted in this one's live tasks.
    pub fn child(self: &Rc<Self>) -> Rc<Lifecycle> {
        let child = Rc::new(Lifecycle {
            closing: Cell::new(self.closing.get()),
            aborted: Cell::new(self.aborted.get()),
            parent: Some(Rc::clone(self)),
            ..Lifecycle::default()
        });
        let mut children = self.children.borrow_mut();
        // Forget the endpoints that are gone before the list grows.
        if children.len() == children.capacity() {
            children.retain(|c| c.strong_count() > 0);
        }
        children.push(Rc::downgrade(&child));
        child
    }

    /// Spawns `fut` on the current executor as one of this socket's tasks.
    pub fn spawn(self: &Rc<Self>, fut: impl Future<Output = ()> + 'static) {
        self.task_started();
        let me = Rc::clone(self);
        glommio::spawn_local(async move {
            fut.await;
            me.task_ended();
        })
        .detach();
    }

    fn task_started(&self) {
        self.live.set(self.live.get() + 1);
        if let Some(parent) = &self.parent {
            parent.task_started();
        }
    }

    fn task_ended(&self) {
        self.live.set(self.live.get() - 1);
        self.ended.notify_all();
        if let Some(parent) = &self.parent {
            parent.task_ended();
        }
    }

    /// Asks every task to finish (flushing what it holds).
    pub fn close(&self) {
        self.closing.set(true);
        self.wake_stop();
        self.each_child(|c| c.close());
    }

    /// Makes every task stop at once, dropping what it holds.
    pub fn abort(&self) {
        self.closing.set(true);
        self.aborted.set(true);
        self.wake_stop();
        self.each_child(|c| c.abort());
    }

    fn each_child(&self, f: impl Fn(&Lifecycle)) {
        let children: Vec<Rc<Lifecycle>> = self
            .children
            .borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for child in children {
            f(&child);
        }
    }

    fn wake_stop(&self) {
        self.stop.notify_all();
        // Clone the wakers out first: a woken task may be polled (and register or drop
        // its watch) before this returns on some executors.
        let wakers: Vec<Waker> = self
            .watchers
            .borrow()
            .wakers
            .iter()
            .flatten()
            .cloned()
            .collect();
        for w in wakers {
            w.wake();
        }
    }

    /// True once [`Lifecycle::close`] or [`Lifecycle::abort`] was called.
    pub fn is_closing(&self) -> bool {
        self.closing.get()
    }

    /// True once [`Lifecycle::abort`] was called.
    pub fn is_aborted(&self) -> bool {
        self.aborted.get()
    }

    /// True when this endpoint's lifecycle was stopped on its own (`disconnect`,
    /// `unbind`) while its socket's goes on: for logs that say why a connection ended.
    pub fn stopped_alone(&self) -> bool {
        self.is_closing() && self.parent.as_ref().is_some_and(|p| !p.is_closing())
    }

    /// Number of tasks still running.
    pub fn live_tasks(&self) -> usize {
        self.live.get()
    }

    /// Resolves when closing starts.
    pub async fn closing(&self) {
        Self::wait_until(&self.stop, || self.closing.get()).await
    }

    /// What `fut` gives, or `None` once closing starts first: for a task that waits
    /// on something (an accept, the next message, the next event) and must let its
    /// socket close meanwhile (a close waits for every task).
    pub async fn until_closing<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        futures_lite::future::or(async { Some(fut.await) }, async {
            self.closing().await;
            None
        })
        .await
    }

    /// Resolves when abort is requested.
    pub async fn aborted(&self) {
        Self::wait_until(&self.stop, || self.aborted.get()).await
    }

    /// Resolves when no task is left.
    pub async fn idle(&self) {
        Self::wait_until(&self.ended, || self.live.get() == 0).await
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
