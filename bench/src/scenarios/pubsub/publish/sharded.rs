//! Monocoque's publisher side with shards ≥ 2: a sharded PUB over a multi-core runtime.

use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use super::super::spec::MARKER_TICK;
use super::job::{Bind, Fill, PublishJob, Published};
use super::mono::MonoPub;
use crate::harness::{cpu, mono_util, std_side, RunOptions, Side, RUN_DEADLINE, SENDER_CORE};
use crate::Result;

/// The runtime core whose `on_each_core` handler publishes in the sharded case.
pub const PUBLISHING_CORE: usize = 0;

/// Where the sharded variant runs, for the notes under the table and the docs.
pub const SHARDED_LAYOUT: &str =
    "PUB/SUB scenarios with shards = 2: a sharded PUB on a 2-core runtime (executors pinned to \
     cores 0 and 1), subscriber connections dealt to the two cores in turn by its acceptor on \
     core 0; the stream is published by an on_each_core handler on core 0 (ShardRef::send in \
     a loop, no yields of its own) and reaches core 1's connections over the cross-core ring \
     (4096 messages; a full ring drops, counted by the subscribers); the subscribers are the \
     same Monocoque SUBs as with shards = 1, on their own executor on core 1, so core 1 runs \
     half the publisher's connections and all the subscribers";

/// Shards ≥ 2: a sharded PUB on a runtime with one executor per core, starting at the
/// sender core (on 2 cores: both). Its acceptor on the first core deals the subscriber
/// connections to the cores in turn. The stream is published by an `on_each_core`
/// handler on the first core ([`PUBLISHING_CORE`]) with `ShardRef::send`: its own core's
/// subscribers are served there, the other cores' through the runtime's rings. An
/// unpinned plain thread owns the runtime and only binds, starts the handler and waits
/// (asleep) for it.
pub(crate) fn sharded_publisher<F: Fill>(
    at: Bind,
    shards: usize,
    opts: RunOptions,
    job: PublishJob<F>,
) -> Result<Side<Published>> {
    std_side("pub-owner", move || {
        let rv = Arc::clone(&job.rv);
        let _over = job.over_on_drop();
        let rt = monocoque::Runtime::builder()
            .cores((0..shards).map(|i| cpu(SENDER_CORE + i)).collect())
            .spin_before_park(opts.spin)
            .build()?;
        let socket = monocoque::ShardedSocket::new(
            &rt,
            monocoque::SocketType::Pub,
            mono_util::options(opts),
        );
        at.announce(socket.bind(at.endpoint())?.to_string())?;
        let (done_tx, done_rx) = mpsc::channel::<Result<Published>>();
        // on_each_core takes a handler for every core; only the publishing core's
        // takes the job.
        let job = Mutex::new(Some(job));
        socket.on_each_core(move |shard| {
            let mine = (shard.core_index() == PUBLISHING_CORE)
                .then(|| job.lock().ok().and_then(|mut j| j.take()))
                .flatten()
                .map(|job| (job, done_tx.clone()));
            async move {
                if let Some((job, done)) = mine {
                    let _ = done.send(job.run(&mut MonoPub::Shard(shard)).await);
                }
            }
        });
        let published = done_rx
            .recv_timeout(RUN_DEADLINE)
            .map_err(|_| "the sharded publisher did not finish")?;
        let since = Instant::now();
        while rv.closing(since) {
            std::thread::sleep(MARKER_TICK);
        }
        socket.close();
        rt.shutdown();
        published
    })
}
