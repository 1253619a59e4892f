//! libzmq's subscriber side: N SUBs polled by one thread pinned to the receiver core.

use std::sync::Arc;

use super::super::schedule::{Rendezvous, SubsClosedOnDrop, WATCH_TICK};
use super::super::spec::Spec;
use super::side::{Deliveries, SubSide};
use crate::harness::{
    thread_side, zmq_util, EndpointRx, Side, Stopwatch, RECEIVER_CORE, RUN_DEADLINE,
};
use crate::Result;

/// N libzmq SUBs polled by one thread pinned to the receiver core (its context's I/O
/// thread inherits the core).
pub(crate) fn zmq_subscribers<D: Deliveries>(
    rx: EndpointRx,
    spec: Spec,
    rv: Arc<Rendezvous>,
    deliveries: D,
) -> Result<Side<D::Output>> {
    thread_side("subs", RECEIVER_CORE, move || {
        let _closed = SubsClosedOnDrop(Arc::clone(&rv));
        let ctx = zmq::Context::new();
        let endpoint = rx.get()?;
        let mut subs = Vec::with_capacity(spec.subs);
        for j in 0..spec.subs {
            let sub = zmq_util::socket(&ctx, zmq::SUB)?;
            sub.set_subscribe(&spec.subscription(j))?;
            sub.connect(&endpoint)?;
            subs.push(sub);
        }
        let mut side = SubSide::new(spec, Arc::clone(&rv), deliveries);
        let mut items: Vec<_> = subs.iter().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
        let mut msg = zmq::Message::new();
        let watch = Stopwatch::start();
        while side.left() > 0 && !rv.is_over() {
            zmq::poll(&mut items, WATCH_TICK.as_millis() as i64)?;
            for (j, sub) in subs.iter().enumerate() {
                if !items[j].is_readable() {
                    continue;
                }
                while sub.recv(&mut msg, zmq::DONTWAIT).is_ok() {
                    side.on(j, &msg)?;
                }
            }
            if watch.elapsed() > RUN_DEADLINE {
                return Err("libzmq subscribers timed out".into());
            }
        }
        // Nothing the run needs is queued any more; libzmq sometimes lingered 5 s here.
        for sub in &subs {
            sub.set_linger(0)?;
        }
        side.finish()
    })
}
