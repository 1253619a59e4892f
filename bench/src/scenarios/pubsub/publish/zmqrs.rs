//! zmq.rs's publisher side: a current-thread tokio runtime pinned to the sender core.

use std::time::Duration;

use super::job::{bytes_message, Bind, Fill, PubSocket, PublishJob, Published};
use crate::harness::{tokio_side, zmqrs_util, Side, SENDER_CORE};
use crate::Result;

/// Paced with `tokio::time::sleep` (whose timer rounds up to whole milliseconds).
impl PubSocket for zeromq::PubSocket {
    async fn publish(&mut self, size: usize, write: impl FnOnce(&mut [u8])) -> Result<()> {
        let msg = zeromq::ZmqMessage::from(bytes_message(size, write));
        zeromq::SocketSend::send(self, msg)
            .await
            .map_err(zmqrs_util::err("send"))
    }

    async fn sleep(&mut self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// zmq.rs's publisher side: a current-thread tokio runtime pinned to the sender core.
pub(crate) fn zmqrs_publisher<F: Fill>(at: Bind, job: PublishJob<F>) -> Result<Side<Published>> {
    use zeromq::Socket as _;
    tokio_side("pub", SENDER_CORE, move || async move {
        let _over = job.over_on_drop();
        let mut publisher = zeromq::PubSocket::new();
        let endpoint = publisher
            .bind(at.endpoint())
            .await
            .map_err(zmqrs_util::err("bind"))?;
        at.announce(endpoint.to_string())?;
        let published = job.run_until_subs_closed(&mut publisher).await;
        publisher.close().await;
        published
    })
}
