//! The load generator (`loadgen`, issue 13): N clients (DEALER, REQ or PUSH) spread
//! over the chosen cores, driving any ZeroMQ endpoint in a closed loop (K requests in
//! flight per client) or an open loop (a target rate over all clients), with a latency
//! histogram per core merged at the end.
//!
//! - [`mono`]: Monocoque clients on a [`monocoque::Runtime`], one share of ordinary
//!   local sockets per core, one glommio task per client; and the sharded Monocoque
//!   ROUTER echo server.
//! - [`libzmq`]: the same load from libzmq clients (one context with an I/O thread per
//!   core, one plain thread per core polling its share of the sockets), and the libzmq
//!   ROUTER echo server.
//! - This module: what a run is ([`Spec`]), what each core measured ([`CoreResult`]),
//!   the request layout, and the report ([`Report`]: text, JSON, SVG).
//!
//! Every request carries its client's number, a sequence number and a timestamp, so an
//! echoed reply gives its own round trip without any table. In the open loop the
//! timestamp is the time the request was *due*, not the time it went out: a client that
//! falls behind its schedule sends late, and the delay counts in the latency (no
//! coordinated omission).

pub mod libzmq;
pub mod mono;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::Result;

/// Which library the clients (or the server) use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Impl {
    /// Monocoque sockets on a thread-per-core `Runtime`.
    Monocoque,
    /// libzmq (the `zmq` crate): one context, an I/O thread and an app thread per core.
    Libzmq,
}

impl Impl {
    /// The name used on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Monocoque => "monocoque",
            Impl::Libzmq => "libzmq",
        }
    }
}

/// The clients' socket type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientKind {
    /// DEALER: any number of requests in flight; replies matched by their contents.
    Dealer,
    /// REQ: one request in flight, strictly alternating with its reply.
    Req,
    /// PUSH: no replies; throughput only.
    Push,
}

impl ClientKind {
    /// The name used on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Dealer => "dealer",
            ClientKind::Req => "req",
            ClientKind::Push => "push",
        }
    }

    /// Whether a client of this kind gets replies (and so latencies).
    pub fn has_replies(self) -> bool {
        self != ClientKind::Push
    }
}

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Each client keeps this many requests in flight: a new one as soon as a reply
    /// comes (PUSH: sends flat out).
    Closed {
        /// Requests in flight per client.
        in_flight: usize,
    },
    /// Requests are due at this rate over all clients, evenly interleaved: request j
    /// goes to client j mod N at start + j / rate.
    Open {
        /// Requests per second over all clients.
        rate: f64,
    },
}

/// One load-generator run.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The endpoint every client connects to.
    pub endpoint: String,
    /// Library of the clients.
    pub imp: Impl,
    /// Socket type of the clients.
    pub kind: ClientKind,
    /// Number of clients (sockets, each with one connection).
    pub clients: usize,
    /// CPUs to run the clients on; client i goes to `cores[i % cores.len()]`.
    pub cores: Vec<usize>,
    /// Closed or open loop.
    pub pace: Pace,
    /// Request size in bytes.
    pub size: usize,
    /// How long the load runs (after every client has connected).
    pub duration: Duration,
    /// How long clients may take to connect (handshake done) before the load starts;
    /// a client not connected by then is counted as an error and sends nothing.
    pub connect_timeout: Duration,
    /// After the load stops, how long requests still in flight may take to be
    /// answered; those that are not count as unanswered.
    pub drain: Duration,
    /// glommio `spin_before_park` for Monocoque's executors (`None`: off).
    pub spin: Option<Duration>,
}

/// Bytes at the start of every request: client (u32), sequence (u64), timestamp (u64,
/// nanoseconds since the run's clock base), little-endian.
pub const HEADER: usize = 20;

impl Spec {
    /// Checks the combination of options; the error says what to change.
    pub fn validate(&self) -> Result<()> {
        if self.clients == 0 {
            return Err("--clients must be at least 1".into());
        }
        if self.cores.is_empty() {
            return Err("--cores needs at least one CPU".into());
        }
        if self.kind.has_replies() && self.size < HEADER {
            return Err(format!(
                "--size must be at least {HEADER} bytes for {}: each request carries its client, \
                 sequence number and timestamp",
                self.kind.name()
            )
            .into());
        }
        if self.size == 0 {
            return Err("--size must be at least 1 byte".into());
        }
        match self.pace {
            Pace::Closed { in_flight: 0 } => Err("--in-flight must be at least 1".into()),
            Pace::Closed { in_flight } if in_flight > 1 && self.kind == ClientKind::Req => Err(
                "a REQ socket has one request in flight at a time: use --socket dealer for --in-flight > 1"
                    .into(),
            ),
            Pace::Open { rate } if !(rate > 0.0 && rate.is_finite()) => {
                Err("--rate must be a positive number of requests per second".into())
            }
            _ => Ok(()),
        }
    }

    /// The clients of shard `shard` (the index into `cores`).
    pub fn clients_on(&self, shard: usize) -> Vec<u32> {
        (0..self.clients as u32)
            .filter(|&i| i as usize % self.cores.len() == shard)
            .collect()
    }

    /// Open loop: the interval between two requests of one client.
    pub fn period(&self) -> Option<Duration> {
        match self.pace {
            Pace::Open { rate } => Some(Duration::from_secs_f64(self.clients as f64 / rate)),
            Pace::Closed { .. } => None,
        }
    }

    /// Open loop: when client `id`'s first request is due after `start`.
    pub fn phase(&self, id: u32) -> Duration {
        match self.pace {
            Pace::Open { rate } => Duration::from_secs_f64(f64::from(id) / rate),
            Pace::Closed { .. } => Duration::ZERO,
        }
    }

    /// File descriptors the clients need (sockets plus what the library keeps per
    /// socket), with some room for the rest of the process.
    pub fn descriptors_needed(&self) -> u64 {
        let per_client = match self.imp {
            Impl::Monocoque => 1,
            // A TCP connection plus the socket's mailbox (an eventfd).
            Impl::Libzmq => 2,
        };
        self.clients as u64 * per_client + 64 + 8 * self.cores.len() as u64
    }
}

/// The clock every core stamps requests with: nanoseconds since one `Instant`.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    /// A clock starting now.
    pub fn new() -> Clock {
        Clock(Instant::now())
    }

    /// `t` as nanoseconds since the clock's start.
    pub fn ns(self, t: Instant) -> u64 {
        t.saturating_duration_since(self.0).as_nanos() as u64
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Writes a request into `buf` (cleared first): header, then zeros up to `size`.
pub fn encode_request(buf: &mut Vec<u8>, size: usize, client: u32, seq: u64, stamp: u64) {
    buf.clear();
    buf.extend_from_slice(&client.to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&stamp.to_le_bytes());
    buf.resize(size.max(HEADER), 0);
    buf.truncate(size.max(HEADER));
}

/// Reads a reply: its timestamp, if it is the echo of a request of `client` with a
/// sequence number below `next_seq`, of `size` bytes.
pub fn decode_reply(body: &[u8], size: usize, client: u32, next_seq: u64) -> Option<u64> {
    if body.len() != size || body.len() < HEADER {
        return None;
    }
    let id = u32::from_le_bytes(body[0..4].try_into().ok()?);
    let seq = u64::from_le_bytes(body[4..12].try_into().ok()?);
    let stamp = u64::from_le_bytes(body[12..20].try_into().ok()?);
    (id == client && seq < next_seq).then_some(stamp)
}

/// A new latency histogram: 1 ns to 60 s, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

/// What went wrong during a run, by kind. None of these stops the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Errors {
    /// Clients whose connection was not up (handshake done) within the connect timeout.
    pub not_connected: u64,
    /// `send` failed.
    pub send: u64,
    /// The send would have blocked at SNDHWM (libzmq's open loop sends with DONTWAIT).
    pub hwm: u64,
    /// `recv` failed.
    pub recv: u64,
    /// A reply that is not the echo of one of the client's requests (size, client or
    /// sequence number wrong).
    pub bad_reply: u64,
    /// Requests without a reply when the drain time after the run ended.
    pub unanswered: u64,
}

impl Errors {
    /// Every error counted.
    pub fn total(&self) -> u64 {
        self.not_connected + self.send + self.hwm + self.recv + self.bad_reply + self.unanswered
    }

    fn add(&mut self, o: &Errors) {
        self.not_connected += o.not_connected;
        self.send += o.send;
        self.hwm += o.hwm;
        self.recv += o.recv;
        self.bad_reply += o.bad_reply;
        self.unanswered += o.unanswered;
    }

    fn json(&self) -> Value {
        json!({
            "not_connected": self.not_connected,
            "send": self.send,
            "hwm": self.hwm,
            "recv": self.recv,
            "bad_reply": self.bad_reply,
            "unanswered": self.unanswered,
        })
    }
}

/// What one core (Monocoque executor, or libzmq app thread) measured.
#[derive(Debug, Clone)]
pub struct CoreResult {
    /// The CPU it ran on.
    pub cpu: usize,
    /// Clients it drove.
    pub clients: usize,
    /// Clients connected within the connect timeout.
    pub connected: usize,
    /// Time from the first connect to the last handshake (or to the timeout).
    pub connect_time: Duration,
    /// Failed connection attempts seen during the connect phase (Monocoque's monitor
    /// events; `None` for libzmq).
    pub connect_retries: Option<u64>,
    /// Requests sent, including those after the window (none) and the drain.
    pub sent: u64,
    /// Replies received within the window (PUSH: messages sent within it).
    pub completed: u64,
    /// Latency of every reply, in nanoseconds.
    pub hist: Histogram<u64>,
    /// Errors.
    pub errors: Errors,
}

impl CoreResult {
    /// An empty result for `clients` clients on `cpu`.
    pub fn new(cpu: usize, clients: usize) -> CoreResult {
        CoreResult {
            cpu,
            clients,
            connected: 0,
            connect_time: Duration::ZERO,
            connect_retries: None,
            sent: 0,
            completed: 0,
            hist: new_histogram(),
            errors: Errors::default(),
        }
    }
}

/// Counters a core publishes for the once-a-second progress line: written only by
/// their core (plain stores), read by the main thread. One cache line each.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Live {
    /// Replies (PUSH: messages) so far within the window.
    pub done: AtomicU64,
    /// Errors so far.
    pub errors: AtomicU64,
    /// Set once the core has connected its clients and started the load.
    pub started: AtomicU64,
}

impl Live {
    /// One per shard.
    pub fn per_core(n: usize) -> std::sync::Arc<Vec<Live>> {
        std::sync::Arc::new((0..n).map(|_| Live::default()).collect())
    }

    /// Publishes a core's counts.
    pub fn publish(&self, done: u64, errors: u64) {
        self.done.store(done, Ordering::Relaxed);
        self.errors.store(errors, Ordering::Relaxed);
    }
}

/// A run's outcome: the spec, every core's result and the process's CPU time.
#[derive(Debug)]
pub struct Report {
    /// What was run.
    pub spec: Spec,
    /// Per core, in the order of `spec.cores`.
    pub cores: Vec<CoreResult>,
    /// CPU time (user + system) of the whole process during the run.
    pub cpu: Duration,
    /// Wall time of the whole run (connect phase, load, drain, close).
    pub wall: Duration,
}

/// Percentiles drawn in the chart and listed in the JSON.
const QUANTILES: [f64; 12] = [
    0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999, 0.999999,
];

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

impl Report {
    /// Every core's histogram merged.
    pub fn histogram(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        for c in &self.cores {
            h.add(&c.hist).expect("histograms with the same bounds");
        }
        h
    }

    /// Replies (PUSH: messages sent) within the window, over all cores.
    pub fn completed(&self) -> u64 {
        self.cores.iter().map(|c| c.completed).sum()
    }

    /// Requests per second over all cores.
    pub fn rate(&self) -> f64 {
        self.completed() as f64 / self.spec.duration.as_secs_f64()
    }

    /// Every core's errors added up.
    pub fn errors(&self) -> Errors {
        let mut e = Errors::default();
        for c in &self.cores {
            e.add(&c.errors);
        }
        e
    }

    /// Clients connected, over all cores.
    pub fn connected(&self) -> usize {
        self.cores.iter().map(|c| c.connected).sum()
    }

    /// (quantile, µs) points of the latency distribution (empty without replies).
    pub fn percentiles(&self) -> Vec<(f64, f64)> {
        let h = self.histogram();
        if h.is_empty() {
            return Vec::new();
        }
        QUANTILES
            .iter()
            .filter(|&&q| q == 0.0 || 1.0 / (1.0 - q) <= h.len() as f64)
            .map(|&q| (q, us(h.value_at_quantile(q))))
            .collect()
    }

    /// The report as JSON (see docs/performance.md for the fields).
    pub fn json(&self) -> Value {
        let s = &self.spec;
        let h = self.histogram();
        let latency = (!h.is_empty()).then(|| {
            json!({
                "count": h.len(),
                "min": us(h.min()),
                "mean": h.mean() / 1e3,
                "p50": us(h.value_at_quantile(0.5)),
                "p90": us(h.value_at_quantile(0.9)),
                "p99": us(h.value_at_quantile(0.99)),
                "p999": us(h.value_at_quantile(0.999)),
                "max": us(h.max()),
            })
        });
        let (mode, in_flight, rate) = match s.pace {
            Pace::Closed { in_flight } => ("closed", Some(in_flight), None),
            Pace::Open { rate } => ("open", None, Some(rate)),
        };
        let secs = s.duration.as_secs_f64();
        let per_core: Vec<Value> = self
            .cores
            .iter()
            .map(|c| {
                json!({
                    "cpu": c.cpu,
                    "clients": c.clients,
                    "connected": c.connected,
                    "connect_s": c.connect_time.as_secs_f64(),
                    "connect_retries": c.connect_retries,
                    "sent": c.sent,
                    "requests": c.completed,
                    "requests_per_sec": c.completed as f64 / secs,
                    "p50_us": (!c.hist.is_empty()).then(|| us(c.hist.value_at_quantile(0.5))),
                    "p99_us": (!c.hist.is_empty()).then(|| us(c.hist.value_at_quantile(0.99))),
                    "errors": c.errors.total(),
                })
            })
            .collect();
        let completed = self.completed();
        json!({
            "tool": "monocoque-bench loadgen",
            "impl": s.imp.name(),
            "socket": s.kind.name(),
            "endpoint": s.endpoint,
            "clients": s.clients,
            "cores": s.cores,
            "mode": mode,
            "in_flight": in_flight,
            "rate": rate,
            "size": s.size,
            "duration_s": secs,
            "spin_before_park_us": s.spin.map(|d| d.as_micros() as u64),
            "connected": self.connected(),
            "sent": self.cores.iter().map(|c| c.sent).sum::<u64>(),
            "requests": completed,
            "requests_per_sec": self.rate(),
            "errors": self.errors().total(),
            "error_kinds": self.errors().json(),
            "latency_us": latency,
            "percentiles_us": self.percentiles().iter().map(|&(q, v)| json!([q, v])).collect::<Vec<_>>(),
            "cpu_s": self.cpu.as_secs_f64(),
            "cpu_us_per_request": (completed > 0).then(|| self.cpu.as_secs_f64() * 1e6 / completed as f64),
            "wall_s": self.wall.as_secs_f64(),
            "per_core": per_core,
        })
    }

    /// A few lines for a human.
    pub fn summary(&self) -> String {
        use crate::numbers::fmt_num;
        use std::fmt::Write as _;
        let s = &self.spec;
        let mut out = String::new();
        let pace = match s.pace {
            Pace::Closed { in_flight } => format!("closed loop, {in_flight} in flight per client"),
            Pace::Open { rate } => format!("open loop at {} req/s", fmt_num(rate)),
        };
        let _ = writeln!(
            out,
            "{} {} × {} clients on CPUs {:?} → {}, {}, {} B, {:.1} s",
            s.imp.name(),
            s.kind.name(),
            s.clients,
            s.cores,
            s.endpoint,
            pace,
            s.size,
            s.duration.as_secs_f64()
        );
        let per_request = match self.completed() {
            0 => String::new(),
            n => format!(
                " ({:.1} µs/request)",
                self.cpu.as_secs_f64() * 1e6 / n as f64
            ),
        };
        let _ = writeln!(
            out,
            "  connected {}/{}; {} requests, {} req/s; CPU {:.2} s{per_request}",
            self.connected(),
            s.clients,
            self.completed(),
            fmt_num(self.rate()),
            self.cpu.as_secs_f64(),
        );
        let h = self.histogram();
        if h.is_empty() {
            let why = if s.kind.has_replies() {
                "no replies"
            } else {
                "n/a (PUSH has no replies)"
            };
            let _ = writeln!(out, "  latency: {why}");
        } else {
            let _ = writeln!(
                out,
                "  latency µs: p50 {} p99 {} p99.9 {} max {} (mean {})",
                fmt_num(us(h.value_at_quantile(0.5))),
                fmt_num(us(h.value_at_quantile(0.99))),
                fmt_num(us(h.value_at_quantile(0.999))),
                fmt_num(us(h.max())),
                fmt_num(h.mean() / 1e3),
            );
        }
        let e = self.errors();
        if e.total() == 0 {
            let _ = writeln!(out, "  errors: 0");
        } else {
            let _ = writeln!(
                out,
                "  errors: {} (not connected {}, send {}, at HWM {}, recv {}, bad reply {}, unanswered {})",
                e.total(),
                e.not_connected,
                e.send,
                e.hwm,
                e.recv,
                e.bad_reply,
                e.unanswered
            );
        }
        for c in &self.cores {
            let retries = c
                .connect_retries
                .map_or(String::new(), |r| format!(", {r} connect retries"));
            let _ = writeln!(
                out,
                "  cpu {}: {} clients ({} connected in {:.2} s{}), {} req/s",
                c.cpu,
                c.clients,
                c.connected,
                c.connect_time.as_secs_f64(),
                retries,
                fmt_num(c.completed as f64 / s.duration.as_secs_f64()),
            );
        }
        out
    }

    /// A one-line label for charts: "monocoque dealer ×100, K=1".
    pub fn label(&self) -> String {
        label_of(&self.json())
    }
}

/// A chart label from a report's JSON.
fn label_of(v: &Value) -> String {
    if let Some(label) = v["label"].as_str() {
        return label.to_string();
    }
    let pace = match v["mode"].as_str() {
        Some("open") => format!(
            "{} req/s",
            crate::numbers::fmt_num(v["rate"].as_f64().unwrap_or(0.0))
        ),
        _ => format!("K={}", v["in_flight"]),
    };
    format!(
        "{} {} ×{} on {} cores, {}",
        v["impl"].as_str().unwrap_or("?"),
        v["socket"].as_str().unwrap_or("?"),
        v["clients"],
        v["cores"].as_array().map_or(0, Vec::len),
        pace
    )
}

/// Draws the latency distributions of the given reports' JSON into one SVG.
pub fn draw_latency(path: &Path, title: &str, reports: &[Value]) -> Result<()> {
    let series: Vec<(String, Vec<(f64, f64)>)> = reports
        .iter()
        .map(|v| {
            let points = v["percentiles_us"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| Some((p[0].as_f64()?, p[1].as_f64()?)))
                        .collect()
                })
                .unwrap_or_default();
            (label_of(v), points)
        })
        .filter(|(_, p): &(String, Vec<_>)| !p.is_empty())
        .collect();
    if series.is_empty() {
        return Err("no latencies to draw (PUSH runs, or runs without replies)".into());
    }
    crate::plot::latency_percentiles(path, title, &series)
}
