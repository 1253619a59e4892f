//! libzmq clients and the libzmq ROUTER echo server (the `zmq` crate), written as a
//! libzmq user writes them: one context with an I/O thread per core, one app thread
//! per core polling its share of the sockets with `zmq_poll`.
//!
//! The context and its I/O threads are started from a thread confined to the chosen
//! CPUs (they inherit its affinity); each app thread is pinned to one of them. The
//! open loop wakes on time with a timerfd in the poll set (`zmq_poll`'s own timeout
//! has millisecond resolution).

use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::{decode_reply, encode_request, ClientKind, Clock, CoreResult, Live, Pace, Spec};
use crate::Result;

/// Confines the calling thread (and the threads it starts afterwards) to `cpus`.
pub fn restrict_to(cpus: &[usize]) -> Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO and CPU_SET only write into the set
    // (CPU_SET ignores CPUs beyond its size), and sched_setaffinity only reads it.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        return Err(format!(
            "cannot run on CPUs {cpus:?}: {}",
            std::io::Error::last_os_error()
        )
        .into());
    }
    Ok(())
}

/// A one-shot CLOCK_MONOTONIC timerfd, for `zmq_poll` with sub-millisecond wake-ups.
struct TimerFd(RawFd);

impl TimerFd {
    fn new() -> std::io::Result<TimerFd> {
        // SAFETY: no pointers; the result is checked.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(TimerFd(fd))
    }

    /// Fires once, `after` from now (at least 1 ns: zero would disarm it).
    fn arm(&self, after: Duration) {
        let after = after.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs() as libc::time_t,
                tv_nsec: libc::c_long::from(after.subsec_nanos() as i32),
            },
        };
        // SAFETY: `spec` is a valid itimerspec for the call's duration; the old value
        // is not asked for (null).
        unsafe {
            libc::timerfd_settime(self.0, 0, &spec, std::ptr::null_mut());
        }
    }

    /// Consumes an expiry so the fd stops polling readable.
    fn clear(&self) {
        let mut count = [0u8; 8];
        // SAFETY: reads at most 8 bytes into an 8-byte buffer we own.
        unsafe {
            libc::read(self.0, count.as_mut_ptr().cast(), count.len());
        }
    }
}

impl Drop for TimerFd {
    fn drop(&mut self) {
        // SAFETY: the fd is ours and closed once.
        unsafe {
            libc::close(self.0);
        }
    }
}

fn ms_until(t: Instant) -> i64 {
    let d = t.saturating_duration_since(Instant::now());
    (d.as_micros().div_ceil(1000)) as i64
}

/// Runs the clients of `spec` with libzmq; returns each app thread's result.
pub fn run(spec: &Spec, clock: Clock, live: Arc<Vec<Live>>) -> Result<Vec<CoreResult>> {
    let spec = Arc::new(spec.clone());
    let setup = std::thread::Builder::new()
        .name("loadgen-libzmq".into())
        .spawn(move || -> std::result::Result<Vec<CoreResult>, String> {
            restrict_to(&spec.cores).map_err(|e| e.to_string())?;
            let ctx = zmq::Context::new();
            ctx.set_io_threads(spec.cores.len() as i32)
                .map_err(|e| format!("zmq_ctx_set(IO_THREADS): {e}"))?;
            // The first socket starts the I/O threads, here, within the chosen CPUs.
            drop(
                ctx.socket(zmq::DEALER)
                    .map_err(|e| format!("zmq_socket: {e}"))?,
            );
            let mut threads = Vec::new();
            for shard in 0..spec.cores.len() {
                let (ctx, spec, live) = (ctx.clone(), Arc::clone(&spec), Arc::clone(&live));
                let t = std::thread::Builder::new()
                    .name(format!("loadgen-zmq-{shard}"))
                    .spawn(move || {
                        core_affinity::set_for_current(core_affinity::CoreId {
                            id: spec.cores[shard],
                        });
                        run_thread(&ctx, &spec, shard, clock, &live[shard])
                    })
                    .map_err(|e| e.to_string())?;
                threads.push(t);
            }
            let mut out = Vec::new();
            for t in threads {
                out.push(t.join().map_err(|_| "a libzmq client thread panicked")??);
            }
            Ok(out)
        })?;
    Ok(setup
        .join()
        .map_err(|_| "the libzmq setup thread panicked")??)
}

/// One app thread's sockets and their state.
struct Clients<'a> {
    spec: &'a Spec,
    clock: Clock,
    ids: Vec<u32>,
    /// Next sequence number per socket.
    seq: Vec<u64>,
    /// Requests in flight per socket.
    out: Vec<u64>,
    /// REQ, open loop: requests that came due while one was in flight.
    backlog: Vec<VecDeque<Instant>>,
    buf: Vec<u8>,
    msg: zmq::Message,
    result: CoreResult,
    live: &'a Live,
    end: Instant,
}

impl Clients<'_> {
    fn in_flight(&self) -> u64 {
        self.out.iter().sum::<u64>() + self.backlog.iter().map(|b| b.len() as u64).sum::<u64>()
    }

    fn publish(&self) {
        self.live
            .publish(self.result.completed, self.result.errors.total());
    }

    /// Sends request of socket `i` stamped `stamp`; `wait`: block at SNDHWM.
    fn send(&mut self, socks: &[zmq::Socket], i: usize, stamp: Instant, wait: bool) -> bool {
        encode_request(
            &mut self.buf,
            self.spec.size,
            self.ids[i],
            self.seq[i],
            self.clock.ns(stamp),
        );
        let flags = if wait { 0 } else { zmq::DONTWAIT };
        match socks[i].send(&self.buf[..self.spec.size], flags) {
            Ok(()) => {
                self.seq[i] += 1;
                self.result.sent += 1;
                if self.spec.kind.has_replies() {
                    self.out[i] += 1;
                } else if Instant::now() < self.end {
                    // PUSH: a message handed to libzmq within the window is done.
                    self.result.completed += 1;
                }
                true
            }
            Err(e) => {
                if e == zmq::Error::EAGAIN {
                    self.result.errors.hwm += 1;
                } else {
                    self.result.errors.send += 1;
                }
                self.publish();
                false
            }
        }
    }

    /// A request of socket `i` is due at `due` (open loop).
    fn due(&mut self, socks: &[zmq::Socket], i: usize, due: Instant) {
        if self.spec.kind == ClientKind::Req && self.out[i] > 0 {
            self.backlog[i].push_back(due);
        } else {
            self.send(socks, i, due, false);
        }
    }

    /// Takes every reply waiting on socket `i`; in the closed loop each is followed
    /// by the next request (before the end).
    fn replies(&mut self, socks: &[zmq::Socket], i: usize, closed: bool) {
        loop {
            match socks[i].recv(&mut self.msg, zmq::DONTWAIT) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) => return,
                Err(_) => {
                    self.result.errors.recv += 1;
                    self.publish();
                    return;
                }
            }
            // The body is the last frame (a REQ strips the envelope itself).
            while self.msg.get_more() {
                if socks[i].recv(&mut self.msg, 0).is_err() {
                    break;
                }
            }
            let now = Instant::now();
            self.out[i] = self.out[i].saturating_sub(1);
            match decode_reply(&self.msg, self.spec.size, self.ids[i], self.seq[i]) {
                Some(stamp) => {
                    let ns = self.clock.ns(now).saturating_sub(stamp);
                    self.result.hist.saturating_record(ns.max(1));
                    if now < self.end {
                        self.result.completed += 1;
                    }
                }
                None => self.result.errors.bad_reply += 1,
            }
            if closed && now < self.end {
                self.send(socks, i, now, true);
            } else if let Some(due) = self.backlog[i].pop_front() {
                self.send(socks, i, due, false);
            }
            self.publish();
        }
    }
}

fn run_thread(
    ctx: &zmq::Context,
    spec: &Spec,
    shard: usize,
    clock: Clock,
    live: &Live,
) -> std::result::Result<CoreResult, String> {
    let ids = spec.clients_on(shard);
    let kind = match spec.kind {
        ClientKind::Dealer => zmq::DEALER,
        ClientKind::Req => zmq::REQ,
        ClientKind::Push => zmq::PUSH,
    };
    let zerr = |what: &str| {
        let what = what.to_string();
        move |e: zmq::Error| format!("{what}: {e}")
    };
    let connect_start = Instant::now();
    let mut socks = Vec::with_capacity(ids.len());
    for _ in &ids {
        let s = ctx.socket(kind).map_err(zerr("zmq_socket"))?;
        s.set_linger(if spec.kind == ClientKind::Push {
            1000
        } else {
            0
        })
        .map_err(zerr("ZMQ_LINGER"))?;
        // Writable only once the connection is up: the connect phase waits on that.
        s.set_immediate(true).map_err(zerr("ZMQ_IMMEDIATE"))?;
        s.connect(&spec.endpoint)
            .map_err(|e| format!("cannot connect to {}: {e}", spec.endpoint))?;
        socks.push(s);
    }
    let mut result = CoreResult::new(spec.cores[shard], ids.len());
    let mut up = vec![false; ids.len()];
    let deadline = connect_start + spec.connect_timeout;
    loop {
        let pending: Vec<usize> = (0..socks.len()).filter(|&i| !up[i]).collect();
        if pending.is_empty() || Instant::now() >= deadline {
            break;
        }
        let mut items: Vec<_> = pending
            .iter()
            .map(|&i| socks[i].as_poll_item(zmq::POLLOUT))
            .collect();
        zmq::poll(&mut items, ms_until(deadline)).map_err(zerr("zmq_poll"))?;
        for (k, &i) in pending.iter().enumerate() {
            up[i] |= items[k].is_writable();
        }
    }
    result.connect_time = connect_start.elapsed();
    result.connected = up.iter().filter(|&&u| u).count();
    result.errors.not_connected = (ids.len() - result.connected) as u64;
    live.errors
        .store(result.errors.not_connected, Ordering::Relaxed);
    live.started.store(1, Ordering::Relaxed);

    // Only the connected clients take part.
    let (ids, socks): (Vec<u32>, Vec<zmq::Socket>) = ids
        .into_iter()
        .zip(socks)
        .zip(up)
        .filter(|(_, u)| *u)
        .map(|(p, _)| p)
        .unzip();
    let n = socks.len();
    let start = Instant::now();
    let end = start + spec.duration;
    let drain_end = end + spec.drain;
    let mut c = Clients {
        spec,
        clock,
        ids,
        seq: vec![0; n],
        out: vec![0; n],
        backlog: vec![VecDeque::new(); n],
        buf: Vec::with_capacity(spec.size),
        msg: zmq::Message::new(),
        result,
        live,
        end,
    };
    if n == 0 {
        return Ok(c.result);
    }
    match (spec.kind, spec.pace) {
        (ClientKind::Push, Pace::Closed { .. }) => push_flat_out(&mut c, &socks),
        (_, Pace::Closed { in_flight }) => closed(&mut c, &socks, in_flight, drain_end)?,
        (_, Pace::Open { .. }) => open(&mut c, &socks, start, drain_end)?,
    }
    c.result.errors.unanswered += c.in_flight();
    c.publish();
    Ok(c.result)
}

fn closed(
    c: &mut Clients,
    socks: &[zmq::Socket],
    k: usize,
    drain_end: Instant,
) -> std::result::Result<(), String> {
    for i in 0..socks.len() {
        for _ in 0..k {
            c.send(socks, i, Instant::now(), true);
        }
    }
    let mut items: Vec<_> = socks.iter().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
    while c.in_flight() > 0 && Instant::now() < drain_end {
        let ready =
            zmq::poll(&mut items, ms_until(drain_end)).map_err(|e| format!("zmq_poll: {e}"))?;
        if ready == 0 {
            continue;
        }
        for (i, item) in items.iter().enumerate() {
            if item.is_readable() {
                c.replies(socks, i, true);
            }
        }
    }
    Ok(())
}

/// The open loop: request j of this thread goes to its client j mod n when due (see
/// [`Spec::phase`]); replies are taken in between. The thread sleeps in `zmq_poll` on
/// the sockets and a timerfd set for the next due request.
fn open(
    c: &mut Clients,
    socks: &[zmq::Socket],
    start: Instant,
    drain_end: Instant,
) -> std::result::Result<(), String> {
    let period = c.spec.period().expect("open loop");
    let n = socks.len();
    let phases: Vec<Duration> = c.ids.iter().map(|&id| c.spec.phase(id)).collect();
    let due_at = |j: u64| {
        let (k, i) = (j / n as u64, (j % n as u64) as usize);
        (i, start + phases[i] + period * k as u32)
    };
    let timer = TimerFd::new().map_err(|e| format!("timerfd_create: {e}"))?;
    let events = if c.spec.kind.has_replies() {
        zmq::POLLIN
    } else {
        zmq::PollEvents::empty()
    };
    let mut items: Vec<_> = socks.iter().map(|s| s.as_poll_item(events)).collect();
    items.push(zmq::PollItem::from_fd(timer.0, zmq::POLLIN));
    let mut j = 0u64;
    loop {
        let now = Instant::now();
        loop {
            let (i, due) = due_at(j);
            if due > now || due >= c.end {
                break;
            }
            c.due(socks, i, due);
            j += 1;
        }
        let (_, next) = due_at(j);
        let wake = if next < c.end {
            next
        } else if !c.spec.kind.has_replies() || c.in_flight() == 0 || now >= drain_end {
            return Ok(());
        } else {
            drain_end
        };
        timer.arm(wake.saturating_duration_since(now));
        zmq::poll(&mut items, -1).map_err(|e| format!("zmq_poll: {e}"))?;
        if items[n].is_readable() {
            timer.clear();
        }
        if c.spec.kind.has_replies() {
            for (i, item) in items[..n].iter().enumerate() {
                if item.is_readable() {
                    c.replies(socks, i, false);
                }
            }
        }
    }
}

fn push_flat_out(c: &mut Clients, socks: &[zmq::Socket]) {
    let n = socks.len();
    let mut i = 0;
    while Instant::now() < c.end {
        for _ in 0..64 {
            c.send(socks, i, Instant::now(), true);
            i = (i + 1) % n;
        }
        c.publish();
    }
}

/// The libzmq ROUTER echo server: one context with an I/O thread per CPU, one app
/// thread receiving each message and sending it back.
pub struct Server {
    /// The endpoint actually bound.
    pub endpoint: String,
    /// Messages echoed so far (one entry: one app thread).
    pub live: Arc<Vec<Live>>,
}

impl Server {
    /// Starts the server on `cpus` (process-wide confinement of its threads).
    pub fn start(endpoint: &str, cpus: &[usize]) -> Result<Server> {
        let (tx, rx) = mpsc::channel::<std::result::Result<String, String>>();
        let live = Live::per_core(1);
        let counter = Arc::clone(&live);
        let (endpoint, cpus) = (endpoint.to_string(), cpus.to_vec());
        std::thread::Builder::new()
            .name("loadgen-serve-zmq".into())
            .spawn(move || {
                let setup =
                    || -> std::result::Result<(zmq::Context, zmq::Socket, String), String> {
                        restrict_to(&cpus).map_err(|e| e.to_string())?;
                        let ctx = zmq::Context::new();
                        ctx.set_io_threads(cpus.len() as i32)
                            .map_err(|e| format!("zmq_ctx_set(IO_THREADS): {e}"))?;
                        let router = ctx.socket(zmq::ROUTER).map_err(|e| e.to_string())?;
                        router
                            .bind(&endpoint)
                            .map_err(|e| format!("cannot bind {endpoint}: {e}"))?;
                        let bound = router
                            .get_last_endpoint()
                            .map_err(|e| e.to_string())?
                            .map_err(|_| "bound endpoint is not UTF-8".to_string())?;
                        Ok((ctx, router, bound))
                    };
                let (_ctx, router) = match setup() {
                    Ok((ctx, router, bound)) => {
                        let _ = tx.send(Ok(bound));
                        (ctx, router)
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let mut frames: Vec<zmq::Message> = Vec::with_capacity(4);
                let mut echoed = 0;
                loop {
                    frames.clear();
                    loop {
                        let mut m = zmq::Message::new();
                        if router.recv(&mut m, 0).is_err() {
                            return;
                        }
                        let more = m.get_more();
                        frames.push(m);
                        if !more {
                            break;
                        }
                    }
                    let last = frames.len() - 1;
                    for (i, m) in frames.drain(..).enumerate() {
                        let flags = if i < last { zmq::SNDMORE } else { 0 };
                        if router.send(m, flags).is_err() {
                            return;
                        }
                    }
                    echoed += 1;
                    counter[0].done.store(echoed, Ordering::Relaxed);
                }
            })?;
        let endpoint = rx
            .recv()
            .map_err(|_| "the libzmq server thread ended before binding")??;
        Ok(Server { endpoint, live })
    }
}
