//! Monocoque clients and the sharded Monocoque ROUTER echo server, written as the
//! README shows: a `Runtime` over the chosen cores, ordinary local sockets created on
//! each core by `on_each_core`, one glommio task per client.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_lite::future;
use glommio::timer::Timer;
use monocoque::{
    Dealer, Message, MonitorEvent, Options, Push, Req, Runtime, ShardedSocket, SocketType,
};

use super::{decode_reply, encode_request, ClientKind, Clock, CoreResult, Live, Pace, Spec};
use crate::Result;

/// One client socket.
enum Client {
    Dealer(Dealer),
    Req(Req),
    Push(Push),
}

impl Client {
    fn new(kind: ClientKind, options: Options) -> Client {
        match kind {
            ClientKind::Dealer => Client::Dealer(Dealer::with_options(options)),
            ClientKind::Req => Client::Req(Req::with_options(options)),
            ClientKind::Push => Client::Push(Push::with_options(options)),
        }
    }

    fn monitor(&self) -> monocoque::Monitor {
        match self {
            Client::Dealer(s) => s.monitor(),
            Client::Req(s) => s.monitor(),
            Client::Push(s) => s.monitor(),
        }
    }

    fn connect(&self, endpoint: &str) -> monocoque::Result<()> {
        match self {
            Client::Dealer(s) => s.connect(endpoint),
            Client::Req(s) => s.connect(endpoint),
            Client::Push(s) => s.connect(endpoint),
        }
    }

    async fn send(&self, body: Bytes) -> monocoque::Result<()> {
        match self {
            Client::Dealer(s) => s.send(body).await,
            Client::Req(s) => s.send(body).await,
            Client::Push(s) => s.send(body).await,
        }
    }

    async fn recv(&self) -> monocoque::Result<Message> {
        match self {
            Client::Dealer(s) => s.recv().await,
            Client::Req(s) => s.recv().await,
            Client::Push(_) => Err(monocoque::Error::Unsupported {
                socket: SocketType::Push,
                op: "receive",
            }),
        }
    }

    async fn close(self) {
        match self {
            Client::Dealer(s) => s.close().await,
            Client::Req(s) => s.close().await,
            Client::Push(s) => s.close().await,
        }
    }
}

/// Runs the clients of `spec` on a Monocoque runtime over `spec.cores`; returns each
/// core's result in core order. Fails only if the run cannot start (the runtime, an
/// endpoint `connect` rejects); everything else is counted in the results.
pub fn run(spec: &Spec, clock: Clock, live: Arc<Vec<Live>>) -> Result<Vec<CoreResult>> {
    let rt = Runtime::builder()
        .cores(spec.cores.clone())
        .spin_before_park(spec.spin)
        .build()?;
    let shared = Arc::new(spec.clone());
    let tasks = rt.on_each_core(move |shard| {
        let spec = Arc::clone(&shared);
        let live = Arc::clone(&live);
        async move { run_core(spec, shard, clock, live).await }
    });
    let results = tasks.join();
    rt.shutdown();
    results?
        .into_iter()
        .map(|r| r.map_err(Into::into))
        .collect()
}

/// What the tasks of one core share (one thread: a `RefCell`, no lock).
struct Shared {
    result: CoreResult,
}

type SharedRef = Rc<RefCell<Shared>>;

/// One core's share of the clients: create, connect, wait for the handshakes, run the
/// load, close.
async fn run_core(
    spec: Arc<Spec>,
    shard: usize,
    clock: Clock,
    live: Arc<Vec<Live>>,
) -> std::result::Result<CoreResult, String> {
    let ids = spec.clients_on(shard);
    let options = Options {
        // Nothing is worth delivering after the run (PUSH: a second to send what is
        // queued), and an unreachable server must not hold the close up.
        linger: Some(match spec.kind {
            ClientKind::Push => Duration::from_secs(1),
            _ => Duration::ZERO,
        }),
        ..Options::default()
    };
    let mut clients = Vec::with_capacity(ids.len());
    let mut monitors = Vec::with_capacity(ids.len());
    let connect_start = Instant::now();
    for _ in &ids {
        let c = Client::new(spec.kind, options.clone());
        monitors.push(c.monitor());
        c.connect(&spec.endpoint)
            .map_err(|e| format!("cannot connect to {}: {e}", spec.endpoint))?;
        clients.push(c);
    }
    // The connect phase: every client's handshake, or the timeout.
    let mut result = CoreResult::new(spec.cores[shard], ids.len());
    let mut connected = vec![false; ids.len()];
    let mut retries = 0;
    let mut deadline = Timer::new(spec.connect_timeout);
    for (i, m) in monitors.iter().enumerate() {
        loop {
            let ev = future::or(async { Some(m.recv().await) }, async {
                (&mut deadline).await;
                None
            })
            .await;
            match ev {
                Some(MonitorEvent::HandshakeSucceeded { .. }) => {
                    connected[i] = true;
                    break;
                }
                Some(MonitorEvent::ConnectRetried { .. }) => retries += 1,
                Some(_) => {}
                None => break,
            }
        }
    }
    result.connect_time = connect_start.elapsed();
    result.connected = connected.iter().filter(|&&c| c).count();
    result.connect_retries = Some(retries);
    result.errors.not_connected = (ids.len() - result.connected) as u64;
    drop(monitors);

    let live_core = &live[shard];
    live_core
        .errors
        .store(result.errors.total(), Ordering::Relaxed);
    live_core.started.store(1, Ordering::Relaxed);
    let start = Instant::now();
    let end = start + spec.duration;
    let drain_end = end + spec.drain;
    let shared: SharedRef = Rc::new(RefCell::new(Shared { result }));
    let mut idle = Vec::new();
    let mut tasks = Vec::new();
    for ((client, id), up) in clients.into_iter().zip(ids).zip(connected) {
        if !up {
            idle.push(client);
            continue;
        }
        let t = Task {
            spec: Arc::clone(&spec),
            id,
            clock,
            start,
            end,
            drain_end,
            shared: Rc::clone(&shared),
            live: Arc::clone(&live),
            shard,
        };
        tasks.push(glommio::spawn_local(async move {
            match (t.spec.kind, t.spec.pace) {
                (ClientKind::Push, _) => t.push(&client).await,
                (ClientKind::Dealer, Pace::Open { .. }) => t.dealer_open(&client).await,
                (ClientKind::Req, Pace::Open { .. }) => t.req_open(&client).await,
                (_, Pace::Closed { in_flight }) => t.closed(&client, in_flight).await,
            }
            client
        }));
    }
    for t in tasks {
        idle.push(t.await);
    }
    // Closed together: each close waits for its connection to finish.
    let closing: Vec<_> = idle
        .into_iter()
        .map(|c| glommio::spawn_local(c.close()))
        .collect();
    for c in closing {
        c.await;
    }
    let shared = Rc::try_unwrap(shared)
        .map_err(|_| "a client task outlived the run".to_string())?
        .into_inner();
    let r = &shared.result;
    live_core.publish(r.completed, r.errors.total());
    Ok(shared.result)
}

/// One client's run: its place in the schedule and where it records.
struct Task {
    spec: Arc<Spec>,
    id: u32,
    clock: Clock,
    start: Instant,
    end: Instant,
    drain_end: Instant,
    shared: SharedRef,
    live: Arc<Vec<Live>>,
    shard: usize,
}

/// Waits for `recv` or `timer`, whichever is first (`None`: the timer).
async fn recv_or(c: &Client, timer: &mut Timer) -> Option<monocoque::Result<Message>> {
    future::or(async { Some(c.recv().await) }, async {
        timer.await;
        None
    })
    .await
}

impl Task {
    fn request(&self, buf: &mut Vec<u8>, seq: u64, stamp: Instant) -> Bytes {
        encode_request(buf, self.spec.size, self.id, seq, self.clock.ns(stamp));
        Bytes::copy_from_slice(buf)
    }

    /// Sends one request; false (and counted) if `send` failed.
    async fn send(&self, c: &Client, buf: &mut Vec<u8>, seq: u64, stamp: Instant) -> bool {
        let body = self.request(buf, seq, stamp);
        match c.send(body).await {
            Ok(()) => {
                self.shared.borrow_mut().result.sent += 1;
                true
            }
            Err(_) => {
                let mut s = self.shared.borrow_mut();
                s.result.errors.send += 1;
                self.publish(&s);
                false
            }
        }
    }

    fn publish(&self, s: &Shared) {
        self.live[self.shard].publish(s.result.completed, s.result.errors.total());
    }

    /// Handles one reply: records its latency; true if it was valid.
    fn reply(&self, msg: &Message, next_seq: u64) -> bool {
        let now = Instant::now();
        let body = msg.frames().last().map_or(&[][..], |b| &b[..]);
        let mut s = self.shared.borrow_mut();
        let ok = match decode_reply(body, self.spec.size, self.id, next_seq) {
            Some(stamp) => {
                let ns = self.clock.ns(now).saturating_sub(stamp);
                s.result.hist.saturating_record(ns.max(1));
                if now < self.end {
                    s.result.completed += 1;
                }
                true
            }
            None => {
                s.result.errors.bad_reply += 1;
                false
            }
        };
        self.publish(&s);
        ok
    }

    fn lost(&self, unanswered: u64, recv_error: bool) {
        let mut s = self.shared.borrow_mut();
        s.result.errors.unanswered += unanswered;
        s.result.errors.recv += u64::from(recv_error);
        self.publish(&s);
    }

    /// DEALER or REQ, closed loop: `k` requests in flight, a new one for each reply
    /// until the end, then the drain.
    async fn closed(&self, c: &Client, k: usize) {
        let mut buf = Vec::with_capacity(self.spec.size);
        let mut seq = 0;
        let mut out = 0u64;
        let mut drain = Timer::new(self.drain_end.saturating_duration_since(Instant::now()));
        for _ in 0..k {
            if !self.send(c, &mut buf, seq, Instant::now()).await {
                break;
            }
            seq += 1;
            out += 1;
        }
        while out > 0 {
            match recv_or(c, &mut drain).await {
                None => return self.lost(out, false),
                Some(Err(_)) => return self.lost(out, true),
                Some(Ok(msg)) => {
                    self.reply(&msg, seq);
                    out -= 1;
                    let now = Instant::now();
                    if now < self.end {
                        if !self.send(c, &mut buf, seq, now).await {
                            continue;
                        }
                        seq += 1;
                        out += 1;
                    }
                }
            }
        }
    }

    /// DEALER, open loop: sends on schedule (late ones at once, stamped with when
    /// they were due), takes replies in between.
    async fn dealer_open(&self, c: &Client) {
        let period = self.spec.period().expect("open loop");
        let mut buf = Vec::with_capacity(self.spec.size);
        let mut next = self.start + self.spec.phase(self.id);
        let mut seq = 0;
        let mut out = 0u64;
        let mut timer = Timer::new(Duration::ZERO);
        loop {
            let now = Instant::now();
            if next < self.end {
                if next <= now {
                    if self.send(c, &mut buf, seq, next).await {
                        seq += 1;
                        out += 1;
                    }
                    next += period;
                    continue;
                }
                timer.reset(next - now);
            } else {
                if out == 0 {
                    return;
                }
                if now >= self.drain_end {
                    return self.lost(out, false);
                }
                timer.reset(self.drain_end - now);
            }
            match recv_or(c, &mut timer).await {
                None => {}
                Some(Err(_)) => return self.lost(out, true),
                Some(Ok(msg)) => {
                    self.reply(&msg, seq);
                    out = out.saturating_sub(1);
                }
            }
        }
    }

    /// REQ, open loop: a REQ waits for each reply before the next request, so a
    /// request due while one is in flight goes out when the reply comes, stamped with
    /// when it was due.
    async fn req_open(&self, c: &Client) {
        let period = self.spec.period().expect("open loop");
        let mut buf = Vec::with_capacity(self.spec.size);
        let mut next = self.start + self.spec.phase(self.id);
        let mut seq = 0;
        let mut drain = Timer::new(self.drain_end.saturating_duration_since(Instant::now()));
        while next < self.end {
            let now = Instant::now();
            if next > now {
                glommio::timer::sleep(next - now).await;
            }
            if !self.send(c, &mut buf, seq, next).await {
                next += period;
                continue;
            }
            seq += 1;
            next += period;
            match recv_or(c, &mut drain).await {
                None => return self.lost(1, false),
                Some(Err(_)) => return self.lost(1, true),
                Some(Ok(msg)) => {
                    self.reply(&msg, seq);
                }
            }
        }
    }

    /// PUSH: flat out (closed loop) or on schedule (open loop); counts what was sent
    /// within the window.
    async fn push(&self, c: &Client) {
        let period = self.spec.period();
        let mut buf = Vec::with_capacity(self.spec.size);
        let mut next = self.start + self.spec.phase(self.id);
        let mut seq = 0;
        loop {
            let now = Instant::now();
            let stamp = match period {
                Some(p) => {
                    if next >= self.end {
                        return;
                    }
                    if next > now {
                        glommio::timer::sleep(next - now).await;
                    }
                    let due = next;
                    next += p;
                    due
                }
                None if now >= self.end => return,
                None => now,
            };
            let body = if self.spec.size >= super::HEADER {
                self.request(&mut buf, seq, stamp)
            } else {
                Bytes::from(vec![0u8; self.spec.size])
            };
            seq += 1;
            let sent = c.send(body).await.is_ok();
            let mut s = self.shared.borrow_mut();
            if sent {
                s.result.sent += 1;
                if Instant::now() < self.end {
                    s.result.completed += 1;
                }
            } else {
                s.result.errors.send += 1;
            }
            self.publish(&s);
        }
    }
}

/// The sharded Monocoque ROUTER echo server: binds `endpoint` on a runtime over
/// `cores`, and on every core sends each message back to its sender. Returns the
/// bound endpoint and a handle that stops it.
pub struct Server {
    rt: Option<Runtime>,
    socket: ShardedSocket,
    /// The endpoint actually bound.
    pub endpoint: String,
    /// Messages echoed so far, per core.
    pub live: Arc<Vec<Live>>,
}

impl Server {
    /// Starts the server.
    pub fn start(endpoint: &str, cores: &[usize], spin: Option<Duration>) -> Result<Server> {
        let rt = Runtime::builder()
            .cores(cores.to_vec())
            .spin_before_park(spin)
            .build()?;
        let socket = ShardedSocket::new(&rt, SocketType::Router, Options::default());
        let bound = socket
            .bind(endpoint)
            .map_err(|e| format!("cannot bind {endpoint}: {e}"))?;
        let live = Live::per_core(cores.len());
        let counters = Arc::clone(&live);
        // The handlers run until the socket closes; nobody waits for their values.
        drop(socket.on_each_core(move |shard| {
            let live = Arc::clone(&counters);
            async move {
                let counter = &live[shard.core_index()];
                let mut echoed = 0;
                loop {
                    let msg = shard.recv().await?;
                    shard.send(msg).await?;
                    echoed += 1;
                    counter.done.store(echoed, Ordering::Relaxed);
                }
                #[allow(unreachable_code)]
                Ok::<(), monocoque::Error>(())
            }
        }));
        Ok(Server {
            rt: Some(rt),
            socket,
            endpoint: bound.to_string(),
            live,
        })
    }

    /// Connections per core.
    pub fn peers_per_core(&self) -> Vec<usize> {
        self.socket.peers_per_core().unwrap_or_default()
    }

    /// Closes the socket and stops the runtime.
    pub fn stop(mut self) {
        self.socket.close();
        if let Some(rt) = self.rt.take() {
            rt.shutdown();
        }
    }
}
