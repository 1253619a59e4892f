//! The PUB → SUB machinery shared by `fanout`, `fanout-capacity`, `fanout-topics` and
//! `feed`: the message layout, the pacing, the warm-up and end markers, and each
//! implementation's publisher and subscriber sides. A scenario only says what goes
//! into a message (a fill function) and what its subscribers make of a delivery (a
//! [`Deliveries`]).
//!
//! The PUB binds on the sender core; the N SUBs connect from the receiver core: one
//! glommio executor with one task per SUB for Monocoque; one thread polling N sockets,
//! plus the context's I/O thread, for libzmq; one current-thread tokio runtime with
//! one task per SUB for zmq.rs. With shards = 2 only Monocoque's publisher side
//! changes ([`SHARDED_LAYOUT`]). A mixed pair runs one implementation's publisher side
//! against the other's subscriber side.
//!
//! Every message carries a sequence number after its optional 4-byte topic. Before the
//! measured stream the publisher sends warm-up markers until every subscriber has seen
//! one (so no subscription is still in flight — the slow-joiner problem), and after it
//! end markers until every subscriber has seen one; the two sides share an in-process
//! counter for that, which is not on the measured path. A run cannot hang on a
//! subscriber that never sees an end marker: after [`END_DEADLINE`] the publisher gives
//! up, the subscriber sides stop, and the run reports what was delivered.
//!
//! Publishers and subscribers are written the way each library's users write them:
//! Monocoque's as the README shows, a flat-out publisher is a plain `send` loop with
//! no yields of its own, a paced one sends what is due and then sleeps on its
//! runtime's timer ([`PACE_TICK`]).
//!
//! The modules, by role: [`spec`] (what a run publishes: the message layout and the
//! markers), [`schedule`] (the pacing, the rendezvous of the two sides, the deadlines),
//! [`publish`] (the publisher's part written once, and each implementation's publisher
//! side: Monocoque local and sharded, libzmq, zmq.rs) and [`subscribe`] (the marker
//! bookkeeping, and each implementation's subscriber side); [`run`], here, puts one
//! publisher side and one subscriber side together.

mod publish;
mod schedule;
mod spec;
mod subscribe;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::harness::{endpoint_channel, join2, BindAddr, RunOptions};
use crate::result::{Impl, Transport};
use crate::Result;
use publish::{
    mono_publisher, sharded_publisher, zmq_publisher, zmqrs_publisher, Bind, PublishJob,
};
pub use publish::{Published, PUBLISHING_CORE, SHARDED_LAYOUT};
use schedule::Rendezvous;
pub use schedule::{END_DEADLINE, PACE_TICK};
pub use spec::{Spec, TOPICS};
pub use subscribe::Deliveries;
use subscribe::{mono_subscribers, zmq_subscribers, zmqrs_subscribers};

/// Runs one PUB → SUB measurement: `imp`'s publisher side (sharded over `shards` cores
/// for Monocoque) publishes `spec`'s stream, and `imp`'s subscriber side hands every
/// stream message to `deliveries`. `fill(body, seq)` completes the body of stream
/// message `seq` (topic and sequence number are already written) just before it is
/// sent; markers are not passed to it.
pub fn run<F, D>(
    imp: Impl,
    transport: Transport,
    spec: Spec,
    shards: usize,
    opts: RunOptions,
    fill: F,
    deliveries: D,
) -> Result<(Published, D::Output)>
where
    F: Fn(&mut [u8], u64) + Send + 'static,
    D: Deliveries,
{
    let addr = BindAddr::new(imp, transport);
    let rv = Arc::new(Rendezvous::default());
    let (tx, rx) = endpoint_channel();
    let at = Bind::new(addr.endpoint.clone(), tx);
    let (pub_imp, sub_imp) = imp.sides();
    let job = PublishJob {
        spec,
        rv: Arc::clone(&rv),
        fill,
    };
    let publisher = match pub_imp {
        Impl::Monocoque if shards <= 1 => mono_publisher(at, opts, job)?,
        Impl::Monocoque => sharded_publisher(at, shards, opts, job)?,
        Impl::Libzmq => zmq_publisher(at, job)?,
        Impl::ZmqRs => zmqrs_publisher(at, job)?,
        _ => return Err(format!("{pub_imp} has no publisher side").into()),
    };
    let subscribers = match sub_imp {
        Impl::Monocoque => mono_subscribers(rx, spec, Arc::clone(&rv), opts, deliveries),
        Impl::Libzmq => zmq_subscribers(rx, spec, Arc::clone(&rv), deliveries),
        Impl::ZmqRs => zmqrs_subscribers(rx, spec, Arc::clone(&rv), deliveries),
        _ => Err(format!("{sub_imp} has no subscriber side").into()),
    };
    match subscribers {
        Ok(subscribers) => {
            let (published, output) = join2(publisher, subscribers)?;
            if !published.all_ended {
                eprintln!(
                    "warning: {imp}: some subscribers saw no end marker within {END_DEADLINE:?}; \
                     reporting what was delivered"
                );
            }
            Ok((published, output))
        }
        Err(e) => {
            // The publisher is waiting for subscribers that will not come.
            rv.set_over();
            let _ = publisher.join();
            Err(e)
        }
    }
}
