//! `fanout`, `fanout-capacity` and `fanout-topics`: one PUB → N SUB.
//!
//! The PUB binds on the sender core; the N SUBs connect from the receiver core (one
//! executor with one task per SUB for Monocoque; one thread polling N sockets, plus
//! the context's I/O thread, for libzmq). With `shards` = 2 only Monocoque's publisher
//! side changes: a sharded PUB spread over both cores, its connections dealt to the
//! cores in turn, publishing from a handler on core 0 ([`SHARDED_LAYOUT`]); the
//! subscribers are the same. Every message carries a sequence number
//! after its optional 4-byte topic, so each subscriber counts what it got and the
//! drops are exact.
//!
//! Before the measured stream the publisher sends warm-up markers until every
//! subscriber has seen one (so no subscription is still in flight — the slow-joiner
//! problem), and after it end markers until every subscriber has seen one; the two
//! sides share an in-process counter for that, which is not on the measured path.
//! Deliveries/s = messages received over all subscribers / (last receipt − first
//! receipt).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::harness::{
    cpu, endpoint_channel, glommio_side, join2, mono_util, std_side, thread_side, zmq_util,
    BindAddr, EndpointRx, RunOptions, Side, Stopwatch, RECEIVER_CORE, SENDER_CORE,
};
use crate::result::{Case, Impl, Sample, Scenario};
use crate::Result;

/// Topics in `fanout-topics`; subscriber `j` of N subscribes to topic `j·1000/N`.
pub const TOPICS: usize = 1000;
/// Bytes of the topic prefix (`T042`) in `fanout-topics`.
const TOPIC_LEN: usize = 4;
const WARMUP: u64 = u64::MAX;
const END: u64 = u64::MAX - 1;
/// Paced publishers send what is due, then sleep this long.
const PACE_TICK: Duration = Duration::from_micros(100);
/// Marker rounds are this far apart.
const MARKER_TICK: Duration = Duration::from_millis(1);
/// Give up waiting for subscribers after this long.
const MARKER_DEADLINE: Duration = Duration::from_secs(30);

/// What one fan-out run does.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Subscribers.
    pub subs: usize,
    /// Message size (at least 12 bytes: topic and sequence number).
    pub size: usize,
    /// Messages published.
    pub count: u64,
    /// Each subscriber takes 1 of [`TOPICS`] topics (else all subscribe to everything).
    pub topics: bool,
    /// Publish rate (messages/s); `None` = flat out.
    pub rate: Option<f64>,
}

impl Spec {
    fn from_case(case: &Case) -> Spec {
        Spec {
            subs: case.peers.max(1),
            size: case.size.max(TOPIC_LEN + 8),
            count: case.count,
            topics: case.scenario == Scenario::FanoutTopics,
            rate: None,
        }
    }

    /// The topic subscriber `sub` takes, in topics mode.
    fn topic_of(&self, sub: usize) -> usize {
        sub * TOPICS / self.subs
    }

    /// What subscriber `sub` subscribes to.
    fn subscription(&self, sub: usize) -> Vec<u8> {
        if self.topics {
            topic_bytes(self.topic_of(sub)).to_vec()
        } else {
            Vec::new()
        }
    }

    /// Messages subscriber `sub` should get.
    fn expected(&self, sub: usize) -> u64 {
        if !self.topics {
            return self.count;
        }
        let t = self.topic_of(sub) as u64;
        let n = TOPICS as u64;
        self.count / n + u64::from(self.count % n > t)
    }

    /// The topic (if any) of message `seq` of the stream.
    fn topic_of_seq(&self, seq: u64) -> Option<usize> {
        self.topics.then_some((seq % TOPICS as u64) as usize)
    }

    /// Topics that markers go to: one per subscriber in topics mode, else one message.
    fn marker_topics(&self) -> Vec<Option<usize>> {
        if self.topics {
            (0..self.subs).map(|j| Some(self.topic_of(j))).collect()
        } else {
            vec![None]
        }
    }

    /// Writes topic and sequence number into a message body of `self.size` bytes.
    fn fill(&self, body: &mut [u8], topic: Option<usize>, seq: u64) {
        let at = if self.topics {
            body[..TOPIC_LEN].copy_from_slice(&topic_bytes(topic.unwrap_or(0)));
            TOPIC_LEN
        } else {
            0
        };
        body[at..at + 8].copy_from_slice(&seq.to_le_bytes());
    }

    fn seq(&self, body: &[u8]) -> Result<u64> {
        let at = if self.topics { TOPIC_LEN } else { 0 };
        body.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or_else(|| "fan-out message too short".into())
    }
}

fn topic_bytes(t: usize) -> [u8; TOPIC_LEN] {
    let s = format!("T{:03}", t % TOPICS);
    s.as_bytes().try_into().expect("4-byte topic")
}

/// Counters the two sides share to agree on start and end (not on the measured path).
#[derive(Default)]
struct Rendezvous {
    ready: AtomicUsize,
    done: AtomicUsize,
}

/// What one subscriber saw.
#[derive(Debug, Clone, Copy, Default)]
struct Tracker {
    received: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    warmed: bool,
}

impl Tracker {
    /// Accounts for message `seq`; true at the end marker.
    fn on(&mut self, seq: u64, rv: &Rendezvous) -> bool {
        match seq {
            WARMUP => {
                if !self.warmed {
                    self.warmed = true;
                    rv.ready.fetch_add(1, Ordering::SeqCst);
                }
                false
            }
            END => {
                rv.done.fetch_add(1, Ordering::SeqCst);
                true
            }
            _ => {
                let now = Instant::now();
                self.first.get_or_insert(now);
                self.last = Some(now);
                self.received += 1;
                false
            }
        }
    }
}

/// Decides how many messages are due: all at once when flat out, else by the clock.
struct Pacer {
    start: Instant,
    spec: Spec,
}

impl Pacer {
    fn new(spec: Spec) -> Pacer {
        Pacer {
            start: Instant::now(),
            spec,
        }
    }

    /// Send up to (excluding) this sequence number now (flat out: everything).
    fn due(&self) -> u64 {
        match self.spec.rate {
            None => self.spec.count,
            Some(r) => ((self.start.elapsed().as_secs_f64() * r) as u64 + 1).min(self.spec.count),
        }
    }
}

/// The outcome of one run: per-subscriber trackers and the publisher's stream time.
struct Outcome {
    trackers: Vec<Tracker>,
    publish_secs: f64,
}

impl Outcome {
    fn sample(&self, spec: &Spec) -> Sample {
        let received: u64 = self.trackers.iter().map(|t| t.received).sum();
        let expected: u64 = (0..spec.subs).map(|j| spec.expected(j)).sum();
        let first = self.trackers.iter().filter_map(|t| t.first).min();
        let last = self.trackers.iter().filter_map(|t| t.last).max();
        let secs = match (first, last) {
            (Some(f), Some(l)) => (l - f).as_secs_f64(),
            _ => 0.0,
        };
        let mut s = Sample::throughput(received, spec.size, secs);
        s.dropped = Some(if expected == 0 {
            0.0
        } else {
            1.0 - received as f64 / expected as f64
        });
        s
    }

    /// True when nothing was dropped and the publisher kept (95% of) the pace.
    fn kept_up(&self, spec: &Spec) -> bool {
        let dropped = self.sample(spec).dropped.unwrap_or(1.0);
        let achieved = spec.count as f64 / self.publish_secs.max(1e-9);
        dropped == 0.0 && !matches!(spec.rate, Some(r) if achieved < 0.95 * r)
    }
}

/// Runs `fanout` or `fanout-topics` once (publisher flat out).
pub fn run(imp: Impl, case: &Case, opts: RunOptions) -> Result<Sample> {
    let spec = Spec::from_case(case);
    Ok(run_spec(imp, case, spec, opts)?.sample(&spec))
}

fn run_spec(imp: Impl, case: &Case, spec: Spec, opts: RunOptions) -> Result<Outcome> {
    let addr = BindAddr::new(imp, case.transport);
    match imp {
        Impl::Monocoque => monocoque(&addr.endpoint, spec, case.shards, opts),
        Impl::Libzmq => libzmq(&addr.endpoint, spec),
        Impl::ZmqRs => Err("zmq.rs is not run in the fan-out scenarios".into()),
    }
}

/// First publish rate tried by `fanout-capacity`.
const CAPACITY_START: f64 = 10_000.0;
/// Highest rate tried.
const CAPACITY_MAX: f64 = 20_000_000.0;

/// How the capacity search steps: full runs (holds of a second or more) double the
/// rate and then bisect 3 times; quick runs (shorter holds) multiply it by 8 and bisect
/// once, so that a fast implementation still takes few steps (each connects every
/// subscriber afresh).
fn capacity_steps(hold: Duration) -> (f64, usize) {
    if hold >= Duration::from_secs(1) {
        (2.0, 3)
    } else {
        (8.0, 1)
    }
}

/// `fanout-capacity`: steps the publish rate up (multiplying, then bisecting between
/// the last rate that held and the first that did not); each step is a fresh run holding
/// the rate for `case.hold`. Reports the highest rate at which no subscriber dropped
/// anything and the publisher kept pace.
pub fn capacity(imp: Impl, case: &Case, opts: RunOptions) -> Result<Sample> {
    let base = Spec::from_case(case);
    let step = |rate: f64| -> Result<bool> {
        let spec = Spec {
            rate: Some(rate),
            count: ((rate * case.hold.as_secs_f64()) as u64).max(10),
            ..base
        };
        Ok(run_spec(imp, case, spec, opts)?.kept_up(&spec))
    };
    let (factor, bisect) = capacity_steps(case.hold);
    let mut good: Option<f64> = None;
    let mut bad: Option<f64> = None;
    let mut rate = CAPACITY_START;
    while rate <= CAPACITY_MAX {
        if step(rate)? {
            good = Some(rate);
            rate *= factor;
        } else {
            bad = Some(rate);
            break;
        }
    }
    if let (Some(mut lo), Some(mut hi)) = (good, bad) {
        for _ in 0..bisect {
            let mid = (lo * hi).sqrt();
            if step(mid)? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        good = Some(lo);
    }
    let rate = good.unwrap_or(0.0);
    Ok(Sample {
        msgs_per_sec: Some(rate),
        mb_per_sec: Some(rate * base.size as f64 / 1e6),
        dropped: Some(0.0),
        ..Sample::default()
    })
}

/// True once `counter` reached `want`; an error after [`MARKER_DEADLINE`].
fn wait_for(counter: &AtomicUsize, want: usize, start: Instant) -> Result<bool> {
    if counter.load(Ordering::SeqCst) >= want {
        return Ok(true);
    }
    if start.elapsed() > MARKER_DEADLINE {
        return Err("subscribers never saw the markers (did they connect?)".into());
    }
    Ok(false)
}

/// Monocoque's publisher side, then the subscribers (the same for every shard count).
fn monocoque(endpoint: &str, spec: Spec, shards: usize, opts: RunOptions) -> Result<Outcome> {
    let rv = Arc::new(Rendezvous::default());
    let (tx, rx) = endpoint_channel();
    let bind = endpoint.to_string();
    let pub_rv = Arc::clone(&rv);
    let publisher = if shards <= 1 {
        local_publisher(bind, tx, spec, pub_rv, opts)?
    } else {
        sharded_publisher(bind, tx, spec, pub_rv, shards, opts)?
    };
    let subscribers = mono_subscribers(rx, spec, rv, opts)?;
    let (publish_secs, trackers) = join2(publisher, subscribers)?;
    Ok(Outcome {
        trackers,
        publish_secs,
    })
}

/// Shards = 1: a local `Pub` on one glommio executor pinned to the sender core.
fn local_publisher(
    bind: String,
    tx: mpsc::Sender<String>,
    spec: Spec,
    rv: Arc<Rendezvous>,
    opts: RunOptions,
) -> Result<Side<f64>> {
    glommio_side("fanout-pub", SENDER_CORE, opts, move || async move {
        let publisher = monocoque::Pub::with_options(mono_util::options(opts));
        tx.send(publisher.bind(&bind)?.to_string())?;
        let publish_secs = mono_publish(&publisher, spec, &rv).await?;
        publisher.close().await;
        Ok(publish_secs)
    })
}

/// Shards ≥ 2: a sharded PUB on a runtime with one executor per core, starting at the
/// sender core (on 2 cores: both). Its acceptor on the first core deals the subscriber
/// connections to the cores in turn. The stream is published by an `on_each_core`
/// handler on the first core ([`PUBLISHING_CORE`]) with `ShardRef::send`: its own core's
/// subscribers are served there, the other cores' through the runtime's rings. An
/// unpinned plain thread owns the runtime and only binds, starts the handler and waits
/// (asleep) for it.
fn sharded_publisher(
    bind: String,
    tx: mpsc::Sender<String>,
    spec: Spec,
    rv: Arc<Rendezvous>,
    shards: usize,
    opts: RunOptions,
) -> Result<Side<f64>> {
    std_side("fanout-pub-owner", move || {
        let rt = monocoque::Runtime::builder()
            .cores((0..shards).map(|i| cpu(SENDER_CORE + i)).collect())
            .spin_before_park(opts.spin)
            .build()?;
        let socket = monocoque::ShardedSocket::new(
            &rt,
            monocoque::SocketType::Pub,
            mono_util::options(opts),
        );
        tx.send(socket.bind(&bind)?.to_string())?;
        let (done_tx, done_rx) = mpsc::channel::<Result<f64>>();
        socket.on_each_core(move |shard| {
            let done = (shard.core_index() == PUBLISHING_CORE).then(|| done_tx.clone());
            let rv = Arc::clone(&rv);
            async move {
                if let Some(done) = done {
                    let _ = done.send(mono_publish(&shard, spec, &rv).await);
                }
            }
        });
        let publish_secs = done_rx
            .recv_timeout(crate::harness::RUN_DEADLINE)
            .map_err(|_| "the sharded publisher did not finish")??;
        socket.close();
        rt.shutdown();
        Ok(publish_secs)
    })
}

/// The runtime core whose `on_each_core` handler publishes in the sharded case.
pub const PUBLISHING_CORE: usize = 0;

/// Where the sharded variant runs, for the notes under the table and the docs.
pub const SHARDED_LAYOUT: &str =
    "fan-out with shards = 2: a sharded PUB on a 2-core runtime (executors pinned to cores 0 \
     and 1), subscriber connections dealt to the two cores in turn by its acceptor on core 0; \
     the stream is published by an on_each_core handler on core 0 (ShardRef::send, which \
     yields when a subscriber's queue on core 0 reaches half its SNDHWM) and reaches core 1's connections over the cross-core \
     ring (4096 messages; a full ring drops, counted by the subscribers); the subscribers are \
     the same Monocoque SUBs as with shards = 1, on their own executor on core 1, so core 1 \
     runs half the publisher's connections and all the subscribers";

/// What publishes in a Monocoque run: a local `Pub` or one core's share of a sharded PUB.
trait Publisher {
    async fn publish(&self, msg: bytes::Bytes) -> Result<()>;
}

impl Publisher for monocoque::Pub {
    async fn publish(&self, msg: bytes::Bytes) -> Result<()> {
        Ok(self.send(msg).await?)
    }
}

impl Publisher for monocoque::ShardRef {
    async fn publish(&self, msg: bytes::Bytes) -> Result<()> {
        Ok(self.send(msg).await?)
    }
}

/// The publisher's part of a run: warm-up markers, the (paced or flat-out) stream, end
/// markers. Returns the stream's duration. Flat out, it only calls glommio's
/// `yield_if_needed` (glommio's own cooperation point): the PUB yields to its
/// connections by itself when a subscriber's queue reaches half its SNDHWM.
async fn mono_publish<P: Publisher>(publisher: &P, spec: Spec, rv: &Rendezvous) -> Result<f64> {
    mono_markers(publisher, &spec, WARMUP, &rv.ready).await?;
    let pacer = Pacer::new(spec);
    let mut seq = 0;
    while seq < spec.count {
        let due = pacer.due();
        while seq < due {
            publisher
                .publish(mono_message(&spec, spec.topic_of_seq(seq), seq))
                .await?;
            seq += 1;
            if spec.rate.is_none() {
                glommio::yield_if_needed().await;
            }
        }
        if spec.rate.is_some() {
            glommio::timer::sleep(PACE_TICK).await;
        }
    }
    let publish_secs = pacer.start.elapsed().as_secs_f64();
    mono_markers(publisher, &spec, END, &rv.done).await?;
    Ok(publish_secs)
}

/// N Monocoque SUBs, one task each, on one executor pinned to the receiver core.
fn mono_subscribers(
    rx: EndpointRx,
    spec: Spec,
    rv: Arc<Rendezvous>,
    opts: RunOptions,
) -> Result<Side<Vec<Tracker>>> {
    glommio_side("fanout-subs", RECEIVER_CORE, opts, move || async move {
        let endpoint = rx.get()?;
        let mut tasks = Vec::with_capacity(spec.subs);
        for j in 0..spec.subs {
            let sub = monocoque::Sub::with_options(mono_util::options(opts));
            sub.subscribe(&spec.subscription(j))?;
            sub.connect(&endpoint)?;
            let rv = Arc::clone(&rv);
            tasks.push(glommio::spawn_local(async move {
                let mut t = Tracker::default();
                loop {
                    let msg = sub.recv().await?;
                    if t.on(spec.seq(&msg[0])?, &rv) {
                        break;
                    }
                }
                sub.close().await;
                Ok::<Tracker, crate::Error>(t)
            }));
        }
        let mut trackers = Vec::with_capacity(spec.subs);
        for t in tasks {
            trackers.push(t.await?);
        }
        Ok(trackers)
    })
}

/// A Monocoque message: one allocation per message, as libzmq's `zmq_msg_init_size`.
fn mono_message(spec: &Spec, topic: Option<usize>, seq: u64) -> bytes::Bytes {
    let mut body = BytesMut::zeroed(spec.size);
    spec.fill(&mut body, topic, seq);
    body.freeze()
}

/// Sends marker rounds until `counter` says every subscriber has seen one.
async fn mono_markers<P: Publisher>(
    publisher: &P,
    spec: &Spec,
    seq: u64,
    counter: &AtomicUsize,
) -> Result<()> {
    let start = Instant::now();
    loop {
        for topic in spec.marker_topics() {
            publisher.publish(mono_message(spec, topic, seq)).await?;
        }
        if wait_for(counter, spec.subs, start)? {
            return Ok(());
        }
        glommio::timer::sleep(MARKER_TICK).await;
    }
}

fn libzmq(endpoint: &str, spec: Spec) -> Result<Outcome> {
    let rv = Arc::new(Rendezvous::default());
    let (tx, rx) = endpoint_channel();
    let bind = endpoint.to_string();
    let pub_rv = Arc::clone(&rv);
    let publisher = thread_side("fanout-pub", SENDER_CORE, move || {
        let ctx = zmq::Context::new();
        let publisher = zmq_util::socket(&ctx, zmq::PUB)?;
        tx.send(zmq_util::bind(&publisher, &bind)?)?;
        let send = |topic: Option<usize>, seq: u64| {
            let mut msg = zmq::Message::with_size(spec.size);
            spec.fill(&mut msg, topic, seq);
            publisher.send(msg, 0)
        };
        let markers = |seq: u64, counter: &AtomicUsize| -> Result<()> {
            let start = Instant::now();
            loop {
                for topic in spec.marker_topics() {
                    send(topic, seq)?;
                }
                if wait_for(counter, spec.subs, start)? {
                    return Ok(());
                }
                std::thread::sleep(MARKER_TICK);
            }
        };
        markers(WARMUP, &pub_rv.ready)?;
        let pacer = Pacer::new(spec);
        let mut seq = 0;
        while seq < spec.count {
            let due = pacer.due();
            while seq < due {
                send(spec.topic_of_seq(seq), seq)?;
                seq += 1;
            }
            if spec.rate.is_some() {
                std::thread::sleep(PACE_TICK);
            }
        }
        let publish_secs = pacer.start.elapsed().as_secs_f64();
        markers(END, &pub_rv.done)?;
        Ok(publish_secs)
    })?;
    let sub_rv = Arc::clone(&rv);
    let subscribers = thread_side("fanout-subs", RECEIVER_CORE, move || {
        let ctx = zmq::Context::new();
        let endpoint = rx.get()?;
        let mut subs = Vec::with_capacity(spec.subs);
        for j in 0..spec.subs {
            let sub = zmq_util::socket(&ctx, zmq::SUB)?;
            sub.set_subscribe(&spec.subscription(j))?;
            sub.connect(&endpoint)?;
            subs.push(sub);
        }
        let mut trackers = vec![Tracker::default(); spec.subs];
        let mut finished = vec![false; spec.subs];
        let mut left = spec.subs;
        let mut items: Vec<_> = subs.iter().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
        let mut msg = zmq::Message::new();
        let watch = Stopwatch::start();
        while left > 0 {
            zmq::poll(&mut items, 100)?;
            for (j, sub) in subs.iter().enumerate() {
                if !items[j].is_readable() {
                    continue;
                }
                while sub.recv(&mut msg, zmq::DONTWAIT).is_ok() {
                    if !finished[j] && trackers[j].on(spec.seq(&msg)?, &sub_rv) {
                        finished[j] = true;
                        left -= 1;
                    }
                }
            }
            if left > 0 && watch_expired(&watch) {
                return Err("libzmq subscribers timed out".into());
            }
        }
        Ok(trackers)
    })?;
    let (publish_secs, trackers) = join2(publisher, subscribers)?;
    Ok(Outcome {
        trackers,
        publish_secs,
    })
}

fn watch_expired(watch: &Stopwatch) -> bool {
    watch.elapsed() > crate::harness::RUN_DEADLINE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_spread_and_counted() {
        let spec = Spec {
            subs: 100,
            size: 64,
            count: 2_005,
            topics: true,
            rate: None,
        };
        assert_eq!(spec.topic_of(0), 0);
        assert_eq!(spec.topic_of(1), 10);
        assert_eq!(spec.topic_of(99), 990);
        assert_eq!(spec.expected(0), 3);
        assert_eq!(spec.expected(1), 2);
        let total: u64 = (0..1000u64).filter(|s| s % 1000 == 10).count() as u64;
        assert_eq!(total, 1);
        let mut body = vec![0u8; 64];
        spec.fill(&mut body, Some(42), 7);
        assert_eq!(&body[..4], b"T042");
        assert_eq!(spec.seq(&body).unwrap(), 7);
    }
}
