//! Monocoque's publisher side with shards = 1: a local `Pub` on one glommio executor
//! pinned to the sender core. [`MonoPub`] also serves the sharded side.

use std::time::Duration;

use super::job::{bytes_message, Bind, Fill, PubSocket, PublishJob, Published};
use crate::harness::{glommio_side, mono_util, RunOptions, Side, SENDER_CORE};
use crate::Result;

/// What publishes in a Monocoque run: a local `Pub` or one core's share of a sharded PUB.
pub(crate) enum MonoPub {
    Local(monocoque::Pub),
    Shard(monocoque::ShardRef),
}

impl PubSocket for MonoPub {
    async fn publish(&mut self, size: usize, write: impl FnOnce(&mut [u8])) -> Result<()> {
        let msg = bytes_message(size, write);
        match self {
            MonoPub::Local(p) => Ok(p.send(msg).await?),
            MonoPub::Shard(s) => Ok(s.send(msg).await?),
        }
    }

    async fn sleep(&mut self, d: Duration) {
        glommio::timer::sleep(d).await;
    }
}

/// Monocoque's publisher side with shards = 1: a local `Pub` on one glommio executor
/// pinned to the sender core.
pub(crate) fn mono_publisher<F: Fill>(
    at: Bind,
    opts: RunOptions,
    job: PublishJob<F>,
) -> Result<Side<Published>> {
    glommio_side("pub", SENDER_CORE, opts, move || async move {
        let _over = job.over_on_drop();
        let publisher = monocoque::Pub::with_options(mono_util::options(opts));
        at.announce(publisher.bind(at.endpoint())?.to_string())?;
        let mut publisher = MonoPub::Local(publisher);
        let published = job.run_until_subs_closed(&mut publisher).await;
        if let MonoPub::Local(p) = publisher {
            p.close().await;
        }
        published
    })
}
