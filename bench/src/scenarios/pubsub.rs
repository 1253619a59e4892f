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

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::harness::{
    cpu, endpoint_channel, glommio_side, join2, mono_util, process_cpu_time, std_side, thread_side,
    tokio_side, zmq_util, zmqrs_util, BindAddr, EndpointRx, RunOptions, Side, Stopwatch,
    RECEIVER_CORE, RUN_DEADLINE, SENDER_CORE,
};
use crate::result::{Impl, Transport};
use crate::Result;

/// Topics in `fanout-topics`; subscriber `j` of N subscribes to topic `j·1000/N`.
pub const TOPICS: usize = 1000;
/// Bytes of the topic prefix (`T042`) in `fanout-topics`.
const TOPIC_LEN: usize = 4;
const WARMUP: u64 = u64::MAX;
const END: u64 = u64::MAX - 1;
/// Paced publishers send what is due, then sleep this long on their runtime's timer.
pub const PACE_TICK: Duration = Duration::from_micros(100);
/// Marker rounds are at least this far apart (see [`Spec::marker_tick`]); closing
/// publishers poll their subscribers this often.
const MARKER_TICK: Duration = Duration::from_millis(1);
/// …and at least this long per subscriber: a round every millisecond to 1000 subscribers
/// of 1 KiB messages kept a libzmq PUB so busy that a third of the subscribers had not
/// seen one after 30 s.
const MARKER_TICK_PER_SUB: Duration = Duration::from_micros(10);
/// A run fails when its subscribers have not all seen a warm-up marker by then (did
/// they connect?).
const WARMUP_DEADLINE: Duration = Duration::from_secs(30);
/// The publisher stops sending end markers after this long and the run reports what
/// was delivered (a subscriber whose connection stopped must not hang the bench).
pub const END_DEADLINE: Duration = Duration::from_secs(10);
/// A publisher waits at most this long for its subscribers to close before it closes
/// (closing first made subscribers reconnect and linger on close).
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// How often a subscriber side looks whether the publisher gave up.
const WATCH_TICK: Duration = Duration::from_millis(20);
/// A publisher behind its pace looks at the clock at least this often (messages), so
/// that it still stops at the time limit.
const CLOCK_EVERY: u64 = 256;

/// What one PUB → SUB run does.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Subscribers.
    pub subs: usize,
    /// Message size (at least the topic, if any, and the 8-byte sequence number).
    pub size: usize,
    /// Messages published (at most, with a time limit).
    pub count: u64,
    /// Each subscriber takes 1 of [`TOPICS`] topics (else all subscribe to everything).
    pub topics: bool,
    /// Publish rate (messages/s); `None` = flat out.
    pub rate: Option<f64>,
    /// Stop publishing after this long even if fewer than `count` messages were sent
    /// (`feed`: each run holds its rate for a fixed time).
    pub limit: Option<Duration>,
}

impl Spec {
    /// The topic subscriber `sub` takes, in topics mode.
    pub fn topic_of(&self, sub: usize) -> usize {
        sub * TOPICS / self.subs
    }

    /// What subscriber `sub` subscribes to.
    pub fn subscription(&self, sub: usize) -> Vec<u8> {
        if self.topics {
            topic_bytes(self.topic_of(sub)).to_vec()
        } else {
            Vec::new()
        }
    }

    /// Messages subscriber `sub` should get when all `count` are published.
    pub fn expected(&self, sub: usize) -> u64 {
        if !self.topics {
            return self.count;
        }
        let t = self.topic_of(sub) as u64;
        let n = TOPICS as u64;
        self.count / n + u64::from(self.count % n > t)
    }

    /// The topic (if any) of message `seq` of the stream.
    pub fn topic_of_seq(&self, seq: u64) -> Option<usize> {
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

    /// How far apart marker rounds are.
    fn marker_tick(&self) -> Duration {
        MARKER_TICK.max(MARKER_TICK_PER_SUB * self.subs as u32)
    }

    /// Where the sequence number starts in a message body.
    fn seq_at(&self) -> usize {
        if self.topics {
            TOPIC_LEN
        } else {
            0
        }
    }

    /// Where the bytes after the sequence number start (free for the scenario).
    pub fn payload_at(&self) -> usize {
        self.seq_at() + 8
    }

    /// Writes topic and sequence number into a message body of `self.size` bytes.
    pub fn fill(&self, body: &mut [u8], topic: Option<usize>, seq: u64) {
        if self.topics {
            body[..TOPIC_LEN].copy_from_slice(&topic_bytes(topic.unwrap_or(0)));
        }
        let at = self.seq_at();
        body[at..at + 8].copy_from_slice(&seq.to_le_bytes());
    }

    /// The sequence number of a message body.
    pub fn seq(&self, body: &[u8]) -> Result<u64> {
        let at = self.seq_at();
        body.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or_else(|| "PUB/SUB message too short".into())
    }
}

fn topic_bytes(t: usize) -> [u8; TOPIC_LEN] {
    let s = format!("T{:03}", t % TOPICS);
    s.as_bytes().try_into().expect("4-byte topic")
}

/// Decides how many messages are due: all at once when flat out, else by the clock.
struct Pacer {
    start: Instant,
    spec: Spec,
}

/// What a publisher does next.
enum Step {
    /// Send up to (excluding) this sequence number.
    Send(u64),
    /// Caught up with the pace: sleep [`PACE_TICK`].
    Wait,
    /// The stream is over (all sent, or the time limit passed).
    Done,
}

impl Pacer {
    fn new(spec: Spec) -> Pacer {
        Pacer {
            start: Instant::now(),
            spec,
        }
    }

    /// The next step once messages `0..seq` are sent.
    fn next(&self, seq: u64) -> Step {
        let count = self.spec.count;
        if seq >= count {
            return Step::Done;
        }
        let elapsed = self.start.elapsed();
        if self.spec.limit.is_some_and(|limit| elapsed >= limit) {
            return Step::Done;
        }
        let due = match self.spec.rate {
            None => count,
            Some(r) => ((elapsed.as_secs_f64() * r) as u64 + 1).min(count),
        };
        if seq < due {
            Step::Send(due.min(seq + CLOCK_EVERY))
        } else {
            Step::Wait
        }
    }
}

/// The two marker rounds around the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Warmup,
    End,
}

impl Phase {
    fn seq(self) -> u64 {
        match self {
            Phase::Warmup => WARMUP,
            Phase::End => END,
        }
    }
}

/// Counters the two sides share to agree on start and end (not on the measured path).
#[derive(Default)]
pub struct Rendezvous {
    ready: AtomicUsize,
    done: AtomicUsize,
    over: AtomicBool,
    subs_closed: AtomicBool,
}

impl Rendezvous {
    /// Where a marker phase stands after `start`: `Some(true)` once every subscriber
    /// has seen a marker, `Some(false)` when the end phase gives up, `None` to go on;
    /// an error when the warm-up times out.
    fn check(&self, phase: Phase, subs: usize, start: Instant) -> Result<Option<bool>> {
        let counter = match phase {
            Phase::Warmup => &self.ready,
            Phase::End => &self.done,
        };
        if counter.load(Ordering::SeqCst) >= subs {
            return Ok(Some(true));
        }
        match phase {
            Phase::Warmup if self.is_over() => Err("the subscriber side stopped".into()),
            Phase::Warmup if start.elapsed() > WARMUP_DEADLINE => Err(format!(
                "only {} of {subs} subscribers saw a warm-up marker within {WARMUP_DEADLINE:?} \
                 (did they connect?)",
                counter.load(Ordering::SeqCst)
            )
            .into()),
            Phase::End if self.is_over() || start.elapsed() > END_DEADLINE => Ok(Some(false)),
            _ => Ok(None),
        }
    }

    /// One side has finished (or failed): the other stops waiting for it.
    fn set_over(&self) {
        self.over.store(true, Ordering::SeqCst);
    }

    fn is_over(&self) -> bool {
        self.over.load(Ordering::SeqCst)
    }

    /// True while a publisher that finished at `since` should wait for its
    /// subscribers to close their sockets.
    fn closing(&self, since: Instant) -> bool {
        !self.subs_closed.load(Ordering::SeqCst) && since.elapsed() < CLOSE_WAIT
    }
}

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

/// What a subscriber side does with the stream's messages. One value serves all N
/// subscribers of a side: they all run on the receiver core's one thread.
pub trait Deliveries: Send + 'static {
    /// What the side reports at the end.
    type Output: Send + 'static;
    /// Message `seq` of the stream (not a marker), whose body is `body`, reached
    /// subscriber `sub`.
    fn deliver(&mut self, sub: usize, seq: u64, body: &[u8]) -> Result<()>;
    /// The report.
    fn finish(self) -> Self::Output;
}

/// A subscriber side's state: markers seen per subscriber and the scenario's
/// [`Deliveries`].
struct SubSide<D> {
    spec: Spec,
    rv: Arc<Rendezvous>,
    warmed: Vec<bool>,
    ended: Vec<bool>,
    left: usize,
    deliveries: Option<D>,
}

impl<D: Deliveries> SubSide<D> {
    fn new(spec: Spec, rv: Arc<Rendezvous>, deliveries: D) -> SubSide<D> {
        SubSide {
            spec,
            rv,
            warmed: vec![false; spec.subs],
            ended: vec![false; spec.subs],
            left: spec.subs,
            deliveries: Some(deliveries),
        }
    }

    /// Accounts for a message to subscriber `sub`; true once `sub` saw an end marker.
    fn on(&mut self, sub: usize, body: &[u8]) -> Result<bool> {
        if self.ended[sub] {
            return Ok(true);
        }
        match self.spec.seq(body)? {
            WARMUP => {
                if !self.warmed[sub] {
                    self.warmed[sub] = true;
                    self.rv.ready.fetch_add(1, Ordering::SeqCst);
                }
            }
            END => {
                self.ended[sub] = true;
                self.left -= 1;
                self.rv.done.fetch_add(1, Ordering::SeqCst);
                return Ok(true);
            }
            seq => {
                if let Some(d) = self.deliveries.as_mut() {
                    d.deliver(sub, seq, body)?;
                }
            }
        }
        Ok(false)
    }

    fn finish(&mut self) -> Result<D::Output> {
        self.deliveries
            .take()
            .map(D::finish)
            .ok_or_else(|| "subscriber side finished twice".into())
    }
}

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
    let bind = addr.endpoint.clone();
    let (pub_imp, sub_imp) = imp.sides();
    let job = PublishJob {
        spec,
        rv: Arc::clone(&rv),
        fill,
    };
    let publisher = match pub_imp {
        Impl::Monocoque => mono_publisher(bind, tx, shards, opts, job)?,
        Impl::Libzmq => zmq_publisher(bind, tx, job)?,
        Impl::ZmqRs => zmqrs_publisher(bind, tx, job)?,
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

/// The publisher's part of a run, the same for every implementation: warm-up markers,
/// the stream, end markers.
struct PublishJob<F> {
    spec: Spec,
    rv: Arc<Rendezvous>,
    fill: F,
}

impl<F: Fn(&mut [u8], u64)> PublishJob<F> {
    /// Writes message `seq` of the stream (or a marker) into `body`.
    fn write(&self, body: &mut [u8], topic: Option<usize>, seq: u64) {
        self.spec.fill(body, topic, seq);
        if seq != WARMUP && seq != END {
            (self.fill)(body, seq);
        }
    }

    fn published(&self, count: u64, secs: f64, cpu_start: Duration, all_ended: bool) -> Published {
        Published {
            count,
            secs,
            cpu: process_cpu_time().saturating_sub(cpu_start),
            all_ended,
        }
    }
}

/// Sets [`Rendezvous::set_over`] when dropped: however a side ends, the other stops
/// waiting for it.
struct OverOnDrop(Arc<Rendezvous>);

impl Drop for OverOnDrop {
    fn drop(&mut self) {
        self.0.set_over();
    }
}

/// A subscriber side's first local: dropped last, once its sockets are closed, it
/// tells the publisher it may close too (and, like [`OverOnDrop`], that this side is
/// over).
struct SubsClosedOnDrop(Arc<Rendezvous>);

impl Drop for SubsClosedOnDrop {
    fn drop(&mut self) {
        self.0.subs_closed.store(true, Ordering::SeqCst);
        self.0.set_over();
    }
}

/// What publishes in a Monocoque run: a local `Pub` or one core's share of a sharded PUB.
enum MonoPub {
    Local(monocoque::Pub),
    Shard(monocoque::ShardRef),
}

impl MonoPub {
    async fn send(&self, msg: Bytes) -> Result<()> {
        match self {
            MonoPub::Local(p) => Ok(p.send(msg).await?),
            MonoPub::Shard(s) => Ok(s.send(msg).await?),
        }
    }
}

impl<F: Fn(&mut [u8], u64)> PublishJob<F> {
    /// A Monocoque message: one allocation per message, as libzmq's
    /// `zmq_msg_init_size`.
    fn mono_message(&self, topic: Option<usize>, seq: u64) -> Bytes {
        let mut body = BytesMut::zeroed(self.spec.size);
        self.write(&mut body, topic, seq);
        body.freeze()
    }

    async fn mono_markers(&self, publisher: &MonoPub, phase: Phase) -> Result<bool> {
        let start = Instant::now();
        loop {
            for topic in self.spec.marker_topics() {
                publisher
                    .send(self.mono_message(topic, phase.seq()))
                    .await?;
            }
            if let Some(all) = self.rv.check(phase, self.spec.subs, start)? {
                return Ok(all);
            }
            glommio::timer::sleep(self.spec.marker_tick()).await;
        }
    }

    /// The publisher's part on a Monocoque PUB: `send` in a loop, as a user writes it.
    async fn mono(self, publisher: &MonoPub) -> Result<Published> {
        let _over = OverOnDrop(Arc::clone(&self.rv));
        self.mono_markers(publisher, Phase::Warmup).await?;
        let cpu_start = process_cpu_time();
        let pacer = Pacer::new(self.spec);
        let mut seq = 0;
        loop {
            match pacer.next(seq) {
                Step::Send(end) => {
                    while seq < end {
                        let msg = self.mono_message(self.spec.topic_of_seq(seq), seq);
                        publisher.send(msg).await?;
                        seq += 1;
                    }
                }
                Step::Wait => glommio::timer::sleep(PACE_TICK).await,
                Step::Done => break,
            }
        }
        let secs = pacer.start.elapsed().as_secs_f64();
        let all_ended = self.mono_markers(publisher, Phase::End).await?;
        Ok(self.published(seq, secs, cpu_start, all_ended))
    }

    fn zmq_send(&self, publisher: &zmq::Socket, topic: Option<usize>, seq: u64) -> Result<()> {
        let mut msg = zmq::Message::with_size(self.spec.size);
        self.write(&mut msg, topic, seq);
        Ok(publisher.send(msg, 0)?)
    }

    fn zmq_markers(&self, publisher: &zmq::Socket, phase: Phase) -> Result<bool> {
        let start = Instant::now();
        loop {
            for topic in self.spec.marker_topics() {
                self.zmq_send(publisher, topic, phase.seq())?;
            }
            if let Some(all) = self.rv.check(phase, self.spec.subs, start)? {
                return Ok(all);
            }
            std::thread::sleep(self.spec.marker_tick());
        }
    }

    /// The publisher's part on a libzmq PUB: a fresh `zmq_msg_t` per message, as
    /// `remote_thr` does, paced with `std::thread::sleep`.
    fn zmq(self, publisher: &zmq::Socket) -> Result<Published> {
        let _over = OverOnDrop(Arc::clone(&self.rv));
        self.zmq_markers(publisher, Phase::Warmup)?;
        let cpu_start = process_cpu_time();
        let pacer = Pacer::new(self.spec);
        let mut seq = 0;
        loop {
            match pacer.next(seq) {
                Step::Send(end) => {
                    while seq < end {
                        self.zmq_send(publisher, self.spec.topic_of_seq(seq), seq)?;
                        seq += 1;
                    }
                }
                Step::Wait => std::thread::sleep(PACE_TICK),
                Step::Done => break,
            }
        }
        let secs = pacer.start.elapsed().as_secs_f64();
        let all_ended = self.zmq_markers(publisher, Phase::End)?;
        Ok(self.published(seq, secs, cpu_start, all_ended))
    }

    async fn zmqrs_send(
        &self,
        publisher: &mut zeromq::PubSocket,
        topic: Option<usize>,
        seq: u64,
    ) -> Result<()> {
        use zeromq::SocketSend as _;
        let mut body = BytesMut::zeroed(self.spec.size);
        self.write(&mut body, topic, seq);
        publisher
            .send(zeromq::ZmqMessage::from(body.freeze()))
            .await
            .map_err(zmqrs_util::err("send"))
    }

    async fn zmqrs_markers(&self, publisher: &mut zeromq::PubSocket, phase: Phase) -> Result<bool> {
        let start = Instant::now();
        loop {
            for topic in self.spec.marker_topics() {
                self.zmqrs_send(publisher, topic, phase.seq()).await?;
            }
            if let Some(all) = self.rv.check(phase, self.spec.subs, start)? {
                return Ok(all);
            }
            tokio::time::sleep(self.spec.marker_tick()).await;
        }
    }

    /// The publisher's part on a zmq.rs PUB, paced with `tokio::time::sleep` (whose
    /// timer rounds up to whole milliseconds).
    async fn zmqrs(self, publisher: &mut zeromq::PubSocket) -> Result<Published> {
        let _over = OverOnDrop(Arc::clone(&self.rv));
        self.zmqrs_markers(publisher, Phase::Warmup).await?;
        let cpu_start = process_cpu_time();
        let pacer = Pacer::new(self.spec);
        let mut seq = 0;
        loop {
            match pacer.next(seq) {
                Step::Send(end) => {
                    while seq < end {
                        self.zmqrs_send(publisher, self.spec.topic_of_seq(seq), seq)
                            .await?;
                        seq += 1;
                    }
                }
                Step::Wait => tokio::time::sleep(PACE_TICK).await,
                Step::Done => break,
            }
        }
        let secs = pacer.start.elapsed().as_secs_f64();
        let all_ended = self.zmqrs_markers(publisher, Phase::End).await?;
        Ok(self.published(seq, secs, cpu_start, all_ended))
    }
}

/// Monocoque's publisher side. Shards = 1: a local `Pub` on one glommio executor
/// pinned to the sender core. Shards ≥ 2: see [`SHARDED_LAYOUT`].
fn mono_publisher<F>(
    bind: String,
    tx: mpsc::Sender<String>,
    shards: usize,
    opts: RunOptions,
    job: PublishJob<F>,
) -> Result<Side<Published>>
where
    F: Fn(&mut [u8], u64) + Send + 'static,
{
    if shards <= 1 {
        return glommio_side("pub", SENDER_CORE, opts, move || async move {
            let rv = Arc::clone(&job.rv);
            let _over = OverOnDrop(Arc::clone(&rv));
            let publisher = monocoque::Pub::with_options(mono_util::options(opts));
            tx.send(publisher.bind(&bind)?.to_string())?;
            let publisher = MonoPub::Local(publisher);
            let published = job.mono(&publisher).await;
            let since = Instant::now();
            while rv.closing(since) {
                glommio::timer::sleep(MARKER_TICK).await;
            }
            if let MonoPub::Local(p) = publisher {
                p.close().await;
            }
            published
        });
    }
    sharded_publisher(bind, tx, shards, opts, job)
}

/// Shards ≥ 2: a sharded PUB on a runtime with one executor per core, starting at the
/// sender core (on 2 cores: both). Its acceptor on the first core deals the subscriber
/// connections to the cores in turn. The stream is published by an `on_each_core`
/// handler on the first core ([`PUBLISHING_CORE`]) with `ShardRef::send`: its own core's
/// subscribers are served there, the other cores' through the runtime's rings. An
/// unpinned plain thread owns the runtime and only binds, starts the handler and waits
/// (asleep) for it.
fn sharded_publisher<F>(
    bind: String,
    tx: mpsc::Sender<String>,
    shards: usize,
    opts: RunOptions,
    job: PublishJob<F>,
) -> Result<Side<Published>>
where
    F: Fn(&mut [u8], u64) + Send + 'static,
{
    std_side("pub-owner", move || {
        let rv = Arc::clone(&job.rv);
        let _over = OverOnDrop(Arc::clone(&rv));
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
                    let _ = done.send(job.mono(&MonoPub::Shard(shard)).await);
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

/// libzmq's publisher side: an app thread pinned to the sender core (its context's
/// I/O thread inherits the core).
fn zmq_publisher<F>(
    bind: String,
    tx: mpsc::Sender<String>,
    job: PublishJob<F>,
) -> Result<Side<Published>>
where
    F: Fn(&mut [u8], u64) + Send + 'static,
{
    thread_side("pub", SENDER_CORE, move || {
        let rv = Arc::clone(&job.rv);
        let _over = OverOnDrop(Arc::clone(&rv));
        let ctx = zmq::Context::new();
        let publisher = zmq_util::socket(&ctx, zmq::PUB)?;
        tx.send(zmq_util::bind(&publisher, &bind)?)?;
        let published = job.zmq(&publisher);
        let since = Instant::now();
        while rv.closing(since) {
            std::thread::sleep(MARKER_TICK);
        }
        // Every subscriber has seen an end marker (or the run gave up): what is still
        // queued is extra end markers, and waiting for it made some runs 5 s longer.
        publisher.set_linger(0)?;
        published
    })
}

/// zmq.rs's publisher side: a current-thread tokio runtime pinned to the sender core.
fn zmqrs_publisher<F>(
    bind: String,
    tx: mpsc::Sender<String>,
    job: PublishJob<F>,
) -> Result<Side<Published>>
where
    F: Fn(&mut [u8], u64) + Send + 'static,
{
    use zeromq::Socket as _;
    tokio_side("pub", SENDER_CORE, move || async move {
        let rv = Arc::clone(&job.rv);
        let _over = OverOnDrop(Arc::clone(&rv));
        let mut publisher = zeromq::PubSocket::new();
        let endpoint = publisher
            .bind(&bind)
            .await
            .map_err(zmqrs_util::err("bind"))?;
        tx.send(endpoint.to_string())?;
        let published = job.zmqrs(&mut publisher).await;
        let since = Instant::now();
        while rv.closing(since) {
            tokio::time::sleep(MARKER_TICK).await;
        }
        publisher.close().await;
        published
    })
}

/// N Monocoque SUBs, one task each, on one executor pinned to the receiver core.
fn mono_subscribers<D: Deliveries>(
    rx: EndpointRx,
    spec: Spec,
    rv: Arc<Rendezvous>,
    opts: RunOptions,
    deliveries: D,
) -> Result<Side<D::Output>> {
    glommio_side("subs", RECEIVER_CORE, opts, move || async move {
        let _closed = SubsClosedOnDrop(Arc::clone(&rv));
        let endpoint = rx.get()?;
        let side = Rc::new(RefCell::new(SubSide::new(
            spec,
            Arc::clone(&rv),
            deliveries,
        )));
        // Closed when the publisher is done: a subscriber still waiting for its end
        // marker then stops and closes its socket (a task cancelled instead would drop
        // its SUB when the executor is torn down, which Monocoque does not allow).
        let stop = Rc::new(glommio::sync::Semaphore::new(0));
        let mut tasks = Vec::with_capacity(spec.subs);
        for j in 0..spec.subs {
            let sub = monocoque::Sub::with_options(mono_util::options(opts));
            sub.subscribe(&spec.subscription(j))?;
            sub.connect(&endpoint)?;
            let side = Rc::clone(&side);
            let stop = Rc::clone(&stop);
            tasks.push(glommio::spawn_local(async move {
                let receive = async {
                    loop {
                        let msg = sub.recv().await?;
                        if side.borrow_mut().on(j, &msg[0])? {
                            return Ok(());
                        }
                    }
                };
                let stopped = async {
                    let _ = stop.acquire(1).await;
                    Ok(())
                };
                let result: Result<()> = futures_lite::future::or(receive, stopped).await;
                sub.close().await;
                result
            }));
        }
        let watcher = glommio::spawn_local(async move {
            while !rv.is_over() {
                glommio::timer::sleep(WATCH_TICK).await;
            }
            stop.close();
        });
        // Every task is awaited, even after one failed (see `stop`).
        let mut failed = None;
        for t in tasks {
            if let Err(e) = t.await {
                failed.get_or_insert(e);
            }
        }
        watcher.await;
        if let Some(e) = failed {
            return Err(e);
        }
        let output = side.borrow_mut().finish();
        output
    })
}

/// N libzmq SUBs polled by one thread pinned to the receiver core (its context's I/O
/// thread inherits the core).
fn zmq_subscribers<D: Deliveries>(
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
        while side.left > 0 && !rv.is_over() {
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

/// N zmq.rs SUBs, one task each, on a current-thread tokio runtime pinned to the
/// receiver core.
fn zmqrs_subscribers<D: Deliveries>(
    rx: EndpointRx,
    spec: Spec,
    rv: Arc<Rendezvous>,
    deliveries: D,
) -> Result<Side<D::Output>> {
    use zeromq::{Socket as _, SocketRecv as _};
    use zmqrs_util::err;
    tokio_side("subs", RECEIVER_CORE, move || async move {
        let _closed = SubsClosedOnDrop(Arc::clone(&rv));
        let endpoint = rx.get()?;
        let side = Rc::new(RefCell::new(SubSide::new(
            spec,
            Arc::clone(&rv),
            deliveries,
        )));
        let mut subs = Vec::with_capacity(spec.subs);
        for j in 0..spec.subs {
            let mut sub = zeromq::SubSocket::new();
            sub.connect(&endpoint).await.map_err(err("connect"))?;
            let prefix = String::from_utf8(spec.subscription(j))?;
            sub.subscribe(&prefix).await.map_err(err("subscribe"))?;
            subs.push(sub);
        }
        let local = tokio::task::LocalSet::new();
        let run = local
            .run_until(async {
                let tasks: Vec<_> = subs
                    .into_iter()
                    .enumerate()
                    .map(|(j, mut sub)| {
                        let side = Rc::clone(&side);
                        tokio::task::spawn_local(async move {
                            loop {
                                let msg = sub.recv().await.map_err(err("recv"))?;
                                let body = msg.get(0).ok_or("empty zmq.rs message")?;
                                if side.borrow_mut().on(j, body)? {
                                    break;
                                }
                            }
                            sub.close().await;
                            Ok::<(), crate::Error>(())
                        })
                    })
                    .collect();
                let all = async {
                    for t in tasks {
                        t.await??;
                    }
                    Ok::<(), crate::Error>(())
                };
                let gave_up = async {
                    while !rv.is_over() {
                        tokio::time::sleep(WATCH_TICK).await;
                    }
                    Ok(())
                };
                futures_lite::future::or(all, gave_up).await
            })
            .await;
        // Tasks still waiting (the publisher gave up) are dropped with the set.
        drop(local);
        run?;
        let output = side.borrow_mut().finish();
        output
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rate: Option<f64>, limit: Option<Duration>) -> Spec {
        Spec {
            subs: 1,
            size: 64,
            count: 1_000,
            topics: false,
            rate,
            limit,
        }
    }

    #[test]
    fn flat_out_sends_everything_in_clock_sized_steps() {
        let pacer = Pacer::new(spec(None, None));
        assert!(matches!(pacer.next(0), Step::Send(n) if n == CLOCK_EVERY));
        assert!(matches!(pacer.next(900), Step::Send(1_000)));
        assert!(matches!(pacer.next(1_000), Step::Done));
    }

    #[test]
    fn paced_waits_when_caught_up_and_stops_at_the_limit() {
        let pacer = Pacer::new(spec(Some(1.0), None));
        // One message is due at once, the next a second later.
        assert!(matches!(pacer.next(0), Step::Send(1)));
        assert!(matches!(pacer.next(1), Step::Wait));
        let pacer = Pacer::new(spec(Some(1.0), Some(Duration::ZERO)));
        assert!(matches!(pacer.next(0), Step::Done));
    }

    #[test]
    fn stamps_leave_markers_alone() {
        let job = PublishJob {
            spec: spec(None, None),
            rv: Arc::new(Rendezvous::default()),
            fill: |body: &mut [u8], seq: u64| body[8] = seq as u8 + 1,
        };
        let mut body = vec![0u8; 64];
        job.write(&mut body, None, 4);
        assert_eq!((job.spec.seq(&body).unwrap(), body[8]), (4, 5));
        let mut body = vec![0u8; 64];
        job.write(&mut body, None, END);
        assert_eq!((job.spec.seq(&body).unwrap(), body[8]), (END, 0));
    }
}
