//! libzmq's publisher side: an app thread pinned to the sender core (its context's I/O
//! thread inherits the core).

use std::time::Duration;

use super::job::{Bind, Fill, PubSocket, PublishJob, Published};
use crate::harness::{thread_side, zmq_util, Side, SENDER_CORE};
use crate::Result;

/// libzmq's calls block, so these `async fn`s never wait: the job runs under
/// `block_on` on the side's own thread and makes exactly the calls of a plain loop, a
/// fresh `zmq_msg_t` per message, as `remote_thr` does, paced with
/// `std::thread::sleep`.
impl PubSocket for zmq::Socket {
    async fn publish(&mut self, size: usize, write: impl FnOnce(&mut [u8])) -> Result<()> {
        let mut msg = zmq::Message::with_size(size);
        write(&mut msg);
        Ok(self.send(msg, 0)?)
    }

    async fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// libzmq's publisher side: an app thread pinned to the sender core (its context's
/// I/O thread inherits the core).
pub(crate) fn zmq_publisher<F: Fill>(at: Bind, job: PublishJob<F>) -> Result<Side<Published>> {
    thread_side("pub", SENDER_CORE, move || {
        let _over = job.over_on_drop();
        let ctx = zmq::Context::new();
        let mut publisher = zmq_util::socket(&ctx, zmq::PUB)?;
        at.announce(zmq_util::bind(&publisher, at.endpoint())?)?;
        let published = futures_lite::future::block_on(job.run_until_subs_closed(&mut publisher));
        // Every subscriber has seen an end marker (or the run gave up): what is still
        // queued is extra end markers, and waiting for it made some runs 5 s longer.
        publisher.set_linger(0)?;
        published
    })
}
