//! What runs on each core besides the sockets' own tasks: the *pump*, which runs the
//! jobs other threads send to the core and serves the core's [`CoreService`]s (their
//! mail from other cores), and parks on the core's doorbell when all are idle.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use super::RuntimeHandle;
use crate::doorbell::CoreBell;
use crate::ring::Consumer;

/// Items a service takes from each of its rings before the pump looks at the others.
const DRAIN_BATCH: usize = 64;

pub(super) type Job = Box<dyn FnOnce() + Send>;

thread_local! {
    pub(super) static CONTEXT: RefCell<Option<Rc<CoreContext>>> = const { RefCell::new(None) };
}

/// Something on a core that other cores and threads send mail to: the per-core part
/// of a sharded socket. The pump drains it, parks only when it is empty, and shuts it
/// down when the runtime stops. Its rings come from [`RuntimeHandle::ring_to`], so
/// that a producer rings this core's doorbell.
pub trait CoreService {
    /// Handles up to `max` items from each of the service's rings; returns how many
    /// were handled.
    fn drain(&self, max: usize) -> usize;
    /// The pump is about to sleep: announce it on every ring (see
    /// [`Consumer::prepare_park`]). Returns false, having cancelled, when some ring
    /// already holds items.
    fn prepare_park(&self) -> bool;
    /// Withdraws a successful [`CoreService::prepare_park`] (the core woke).
    fn cancel_park(&self);
    /// The runtime is stopping: close, honouring LINGER.
    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()>>>;
}

/// A socket that lives on a runtime core (not a sharded socket's shard, which is a
/// [`CoreService`]): closed, honouring its LINGER, when the runtime stops, so that
/// what it accepted is delivered as a libzmq context's termination would wait for.
pub trait CoreSocket {
    /// Closes the socket (or, if it is closing already, waits for it), for at most
    /// its LINGER.
    fn close_for_stop(self: Rc<Self>) -> Pin<Box<dyn Future<Output = ()>>>;
}

/// What a core knows about itself, available to code running on it.
pub struct CoreContext {
    index: usize,
    cores: usize,
    runtime: RuntimeHandle,
    services: RefCell<Vec<Rc<dyn CoreService>>>,
    sockets: RefCell<Vec<Weak<dyn CoreSocket>>>,
    stop: Cell<bool>,
}

impl CoreContext {
    pub(super) fn new(index: usize, cores: usize, runtime: RuntimeHandle) -> CoreContext {
        CoreContext {
            index,
            cores,
            runtime,
            services: RefCell::new(Vec::new()),
            sockets: RefCell::new(Vec::new()),
            stop: Cell::new(false),
        }
    }

    /// The context of the core this code runs on (None outside a runtime core).
    pub fn current() -> Option<Rc<CoreContext>> {
        CONTEXT.with(|c| c.borrow().clone())
    }

    /// This core's index in the runtime (0-based).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Number of cores in the runtime.
    pub fn cores(&self) -> usize {
        self.cores
    }

    /// The runtime.
    pub fn runtime(&self) -> &RuntimeHandle {
        &self.runtime
    }

    /// Makes the pump serve `service` until the runtime stops.
    pub fn register(&self, service: Rc<dyn CoreService>) {
        self.services.borrow_mut().push(service);
    }

    /// Makes the runtime close `socket` when it stops (if it is still alive then).
    pub fn adopt_socket(&self, socket: Weak<dyn CoreSocket>) {
        let mut sockets = self.sockets.borrow_mut();
        // Forget the ones that have gone, so that churn does not grow the list.
        if sockets.len() >= 64 && sockets.len().is_power_of_two() {
            sockets.retain(|s| s.strong_count() > 0);
        }
        sockets.push(socket);
    }

    pub(super) fn request_stop(&self) {
        self.stop.set(true);
    }

    /// Closes the services (sharded sockets' shards) and the sockets living here, all
    /// at once, each honouring its LINGER: one LINGER for the lot, as `zmq_ctx_term`.
    pub(super) async fn shutdown_services(&self) {
        let services: Vec<_> = self.services.borrow_mut().drain(..).collect();
        let sockets: Vec<_> = self.sockets.borrow_mut().drain(..).collect();
        let sockets = sockets.iter().filter_map(Weak::upgrade);
        all_at_once(
            services
                .iter()
                .map(|s| s.shutdown())
                .chain(sockets.map(|s| s.close_for_stop())),
        )
        .await;
    }

    /// The services, cloned out so that one may register another while served.
    fn services(&self) -> Vec<Rc<dyn CoreService>> {
        self.services.borrow().clone()
    }

    fn drain(&self) -> usize {
        self.services().iter().map(|s| s.drain(DRAIN_BATCH)).sum()
    }

    /// Announces sleep on every service; false (all cancelled) if one has mail.
    fn prepare_park(&self) -> bool {
        let services = self.services();
        for (i, service) in services.iter().enumerate() {
            if !service.prepare_park() {
                for earlier in &services[..i] {
                    earlier.cancel_park();
                }
                return false;
            }
        }
        true
    }

    fn cancel_park(&self) {
        for service in self.services() {
            service.cancel_park();
        }
    }
}

/// Runs every future as a task of its own and waits for them all.
async fn all_at_once(closing: impl Iterator<Item = Pin<Box<dyn Future<Output = ()>>>>) {
    let tasks: Vec<_> = closing.map(|f| glommio::spawn_local(f).detach()).collect();
    for task in tasks {
        task.await;
    }
}

pub(super) async fn pump(ctx: &Rc<CoreContext>, mut control: Consumer<Job>, mut bell: CoreBell) {
    let mut jobs = Vec::new();
    let mut slice = crate::coop::Slice::new();
    loop {
        control.pop_batch(64, |job| jobs.push(job));
        let had_jobs = !jobs.is_empty();
        for job in jobs.drain(..) {
            job();
        }
        if ctx.stop.get() {
            control.close();
            return;
        }
        let n = ctx.drain();
        if n > 0 || had_jobs {
            // Let the connections this batch woke write before taking more (a PUB
            // fan-out batch must not outrun its subscribers' queues), and, once the
            // time slice is over, the reactor run: a plain thread publishing flat out
            // keeps the rings full, and must not starve this core's other tasks.
            crate::coop::spend(n as u32);
            slice.yield_now().await;
            continue;
        }
        if !control.prepare_park() {
            continue;
        }
        if !ctx.prepare_park() {
            control.cancel_park();
            continue;
        }
        bell.wait().await;
        control.cancel_park();
        ctx.cancel_park();
    }
}
