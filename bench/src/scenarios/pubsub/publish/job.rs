//! The publisher's part of a run, written once for every implementation: warm-up
//! markers, the paced stream, end markers. Each implementation only says how its PUB
//! sends one message and how its runtime sleeps ([`PubSocket`]).

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::super::schedule::{OverOnDrop, Pacer, Rendezvous, Step, PACE_TICK};
use super::super::spec::{Phase, Spec, END, MARKER_TICK, WARMUP};
use crate::harness::process_cpu_time;
use crate::Result;

/// What the publisher side of a run reports.
#[derive(Debug, Clone, Copy)]
pub struct Published {
    /// Messages of the stream published.
    pub count: u64,
    /// Time from the first message of the stream to the last.
    pub secs: f64,
    /// CPU time of the whole process from the start of the stream until every
    /// subscriber saw an end marker (or the publisher gave up).
    pub cpu: Duration,
    /// False when the publisher gave up waiting for some subscriber's end marker.
    pub all_ended: bool,
}

/// A PUB socket as [`PublishJob::run`] drives it: each implementation's way to send a
/// fresh message and to sleep on its runtime's timer.
pub(crate) trait PubSocket {
    /// Sends a new message of `size` bytes, which `write` fills first.
    async fn publish(&mut self, size: usize, write: impl FnOnce(&mut [u8])) -> Result<()>;
    /// Sleeps `d` on this runtime's timer.
    async fn sleep(&mut self, d: Duration);
}

/// What completes the body of a stream message: `fill(body, seq)` (see
/// [`run`](super::super::run)).
pub(crate) trait Fill: Fn(&mut [u8], u64) + Send + 'static {}

impl<F: Fn(&mut [u8], u64) + Send + 'static> Fill for F {}

/// Where a publisher side binds, and how it tells the subscriber side the endpoint it
/// got (an ephemeral TCP port is only known after the bind).
pub(crate) struct Bind {
    endpoint: String,
    announce: mpsc::Sender<String>,
}

impl Bind {
    pub(crate) fn new(endpoint: String, announce: mpsc::Sender<String>) -> Bind {
        Bind { endpoint, announce }
    }

    /// The endpoint to bind.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Hands the bound endpoint to the subscriber side.
    pub(crate) fn announce(&self, bound: String) -> Result<()> {
        Ok(self.announce.send(bound)?)
    }
}

/// A fresh message of `size` bytes that `write` fills, for the PUBs that send [`Bytes`].
pub(crate) fn bytes_message(size: usize, write: impl FnOnce(&mut [u8])) -> Bytes {
    let mut body = BytesMut::zeroed(size);
    write(&mut body);
    body.freeze()
}

/// The publisher's part of a run, the same for every implementation: warm-up markers,
/// the stream, end markers.
pub(crate) struct PublishJob<F> {
    pub(crate) spec: Spec,
    pub(crate) rv: Arc<Rendezvous>,
    pub(crate) fill: F,
}

impl<F: Fn(&mut [u8], u64)> PublishJob<F> {
    /// Writes message `seq` of the stream (or a marker) into `body`.
    pub(crate) fn write(&self, body: &mut [u8], topic: Option<usize>, seq: u64) {
        self.spec.fill(body, topic, seq);
        if seq != WARMUP && seq != END {
            (self.fill)(body, seq);
        }
    }

    /// Ends the run for the subscriber side when dropped: a publisher side holds one
    /// from its start, so that a failure before the stream (a bind) stops the run too.
    pub(crate) fn over_on_drop(&self) -> OverOnDrop {
        OverOnDrop(Arc::clone(&self.rv))
    }

    fn published(&self, count: u64, secs: f64, cpu_start: Duration, all_ended: bool) -> Published {
        Published {
            count,
            secs,
            cpu: process_cpu_time().saturating_sub(cpu_start),
            all_ended,
        }
    }

    /// Message `seq` (or a marker) to `topic`: one fresh message per send, as each
    /// library's users write it (one allocation, as libzmq's `zmq_msg_init_size`).
    async fn send<P: PubSocket>(
        &self,
        publisher: &mut P,
        topic: Option<usize>,
        seq: u64,
    ) -> Result<()> {
        publisher
            .publish(self.spec.size, |body| self.write(body, topic, seq))
            .await
    }

    /// Marker rounds until every subscriber has seen one (`true`) or the end phase gives
    /// up (`false`).
    async fn markers<P: PubSocket>(&self, publisher: &mut P, phase: Phase) -> Result<bool> {
        let start = Instant::now();
        loop {
            for topic in self.spec.marker_topics() {
                self.send(publisher, topic, phase.seq()).await?;
            }
            if let Some(all) = self.rv.check(phase, self.spec.subs, start)? {
                return Ok(all);
            }
            publisher.sleep(self.spec.marker_tick()).await;
        }
    }

    /// The publisher's part on `publisher`: `send` in a loop, as a user writes it; paced
    /// runs sleep [`PACE_TICK`] on the publisher's runtime when they are caught up.
    pub(crate) async fn run<P: PubSocket>(self, publisher: &mut P) -> Result<Published> {
        let _over = self.over_on_drop();
        self.markers(publisher, Phase::Warmup).await?;
        let cpu_start = process_cpu_time();
        let pacer = Pacer::new(self.spec);
        let mut seq = 0;
        loop {
            match pacer.next(seq) {
                Step::Send(end) => {
                    while seq < end {
                        self.send(publisher, self.spec.topic_of_seq(seq), seq)
                            .await?;
                        seq += 1;
                    }
                }
                Step::Wait => publisher.sleep(PACE_TICK).await,
                Step::Done => break,
            }
        }
        let secs = pacer.start.elapsed().as_secs_f64();
        let all_ended = self.markers(publisher, Phase::End).await?;
        Ok(self.published(seq, secs, cpu_start, all_ended))
    }

    /// [`run`](Self::run), then a wait (polling every [`MARKER_TICK`] on the publisher's
    /// timer) until the subscribers have closed, so that the caller may close the PUB.
    pub(crate) async fn run_until_subs_closed<P: PubSocket>(
        self,
        publisher: &mut P,
    ) -> Result<Published> {
        let rv = Arc::clone(&self.rv);
        let published = self.run(publisher).await;
        let since = Instant::now();
        while rv.closing(since) {
            publisher.sleep(MARKER_TICK).await;
        }
        published
    }
}
