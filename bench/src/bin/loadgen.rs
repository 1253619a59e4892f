//! `loadgen`: a multi-core ZeroMQ load generator, and the echo servers to point it at.
//!
//! ```text
//! loadgen serve tcp://127.0.0.1:5555 --impl monocoque --cores 1
//! loadgen run tcp://127.0.0.1:5555 --clients 1000 --in-flight 8 --duration 10 --json out.json --svg out.svg
//! loadgen run tcp://127.0.0.1:5555 --clients 100 --rate 50000 --impl libzmq
//! loadgen plot --out latency.svg a.json b.json
//! ```

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use monocoque_bench::harness::process_cpu_time;
use monocoque_bench::loadgen::{self, ClientKind, Clock, Impl, Live, Pace, Report, Spec};
use monocoque_bench::numbers::fmt_num;

#[derive(Parser)]
#[command(
    name = "loadgen",
    about = "A multi-core ZeroMQ load generator (Monocoque or libzmq clients) and echo servers to measure against",
    long_about = "A multi-core ZeroMQ load generator.\n\n\
        `loadgen run ENDPOINT` spreads N clients (DEALER, REQ or PUSH) over the chosen CPUs and \
        drives any ZeroMQ endpoint (libzmq, pyzmq, Monocoque…) that echoes each request back \
        (PUSH: anything that takes messages), in a closed loop (K requests in flight per client) \
        or an open loop (a target rate over all clients). It reports requests/s, the latency \
        distribution (HDR histogram of every round trip: p50/p99/p99.9/max) and errors, with \
        progress on stderr once a second, JSON (--json) and an SVG chart (--svg).\n\n\
        `loadgen serve ENDPOINT` runs a ROUTER echo server: Monocoque's sharded ROUTER over the \
        chosen cores, or libzmq's ROUTER.\n\n\
        `loadgen plot` draws the latency of several runs' JSON files in one chart.\n\n\
        Exit status: 0 when the run had no errors, 1 when it ran but counted errors, 2 when it \
        could not run."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drives an endpoint with N clients and reports throughput and latency.
    Run(RunArgs),
    /// Runs a ROUTER echo server (every message goes back to its sender).
    Serve(ServeArgs),
    /// Draws the latency distributions of several runs (their --json files) as one SVG.
    Plot(PlotArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The endpoint to load: tcp://HOST:PORT or ipc://PATH. It must echo each request
    /// back (a ROUTER echo, e.g. `loadgen serve`), unless --socket push.
    endpoint: String,
    /// Client library.
    #[arg(long = "impl", value_enum, default_value = "monocoque")]
    imp: Impl,
    /// Client socket type. DEALER and REQ measure round trips; PUSH only throughput.
    #[arg(long, value_enum, default_value = "dealer")]
    socket: ClientKind,
    /// Number of clients (one socket and one connection each), spread over --cores.
    #[arg(short, long, default_value_t = 100)]
    clients: usize,
    /// Comma-separated CPUs to run the clients on (default: every online CPU). Client i
    /// runs on the (i mod n)-th.
    #[arg(long, value_delimiter = ',')]
    cores: Vec<usize>,
    /// Closed loop: requests in flight per client (REQ: 1). PUSH sends flat out.
    #[arg(short = 'k', long, default_value_t = 1, conflicts_with = "rate")]
    in_flight: usize,
    /// Open loop: requests per second over all clients, evenly interleaved. Latency is
    /// measured from when each request was due, so a client that falls behind shows it.
    #[arg(short, long)]
    rate: Option<f64>,
    /// Request size in bytes (DEALER and REQ: at least 20, the header each request
    /// carries).
    #[arg(short, long, default_value_t = 64)]
    size: usize,
    /// How long the load runs, once every client is connected: seconds ("10", "2.5")
    /// or with a unit ("500ms", "2s").
    #[arg(short, long, default_value = "10", value_parser = parse_duration)]
    duration: Duration,
    /// How long clients may take to connect; one not connected by then counts as an
    /// error and sends nothing.
    #[arg(long, default_value = "5", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// After the load stops, how long in-flight requests may take to be answered;
    /// the rest count as unanswered.
    #[arg(long, default_value = "2", value_parser = parse_duration)]
    drain: Duration,
    /// Write the result as JSON to FILE ("-": stdout, the summary then goes to stderr).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Draw the latency distribution as an SVG chart into FILE.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Monocoque: glommio's spin_before_park, in µs (default 50 when given without a
    /// value): an idle executor spins this long before it sleeps. Costs CPU.
    #[arg(long, value_name = "US", num_args = 0..=1, default_missing_value = "50")]
    spin: Option<u64>,
    /// No progress lines.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The endpoint to bind (port 0 or * picks a free port; the bound endpoint is
    /// printed on stdout).
    #[arg(default_value = "tcp://127.0.0.1:5555")]
    endpoint: String,
    /// Server library: Monocoque's sharded ROUTER (one shard per core, each serving
    /// its own connections) or libzmq's ROUTER (one app thread, an I/O thread per CPU).
    #[arg(long = "impl", value_enum, default_value = "monocoque")]
    imp: Impl,
    /// Comma-separated CPUs to serve on (default: every online CPU).
    #[arg(long, value_delimiter = ',')]
    cores: Vec<usize>,
    /// Stop after this long (default: run until killed).
    #[arg(short, long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Monocoque: glommio's spin_before_park, in µs (default 50 when given without a
    /// value).
    #[arg(long, value_name = "US", num_args = 0..=1, default_missing_value = "50")]
    spin: Option<u64>,
    /// No progress lines.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct PlotArgs {
    /// The SVG file to write.
    #[arg(short, long)]
    out: PathBuf,
    /// Chart title.
    #[arg(long, default_value = "loadgen: round-trip latency")]
    title: String,
    /// Comma-separated labels for the lines, one per file (default: the client
    /// library, socket, count, cores and load of each run).
    #[arg(long, value_delimiter = ',')]
    labels: Vec<String>,
    /// JSON files written by `loadgen run --json`.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, scale) = if let Some(v) = s.strip_suffix("ms") {
        (v, 1e-3)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1.0)
    } else {
        (s, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(Duration::from_secs_f64(v * scale)),
        _ => Err(format!(
            "{s:?} is not a duration (seconds, or with ms/s: 10, 2.5, 500ms)"
        )),
    }
}

fn online_cpus() -> Vec<usize> {
    let n = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|l| {
            l.trim()
                .split(',')
                .filter_map(|p| p.rsplit('-').next()?.parse::<usize>().ok())
                .max()
        })
        .map(|m| m + 1)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    (0..n).collect()
}

/// Raises RLIMIT_NOFILE's soft limit to the hard limit (1000 clients, or a server with
/// 1000 connections, need more than the usual soft 1024) and checks `needed`.
fn descriptors(needed: u64) -> Result<(), String> {
    let limit = rlimit::increase_nofile_limit(u64::MAX)
        .map_err(|e| format!("cannot raise RLIMIT_NOFILE: {e}"))?;
    if limit < needed {
        return Err(format!(
            "this run needs about {needed} file descriptors but RLIMIT_NOFILE allows {limit} \
             (raise the hard limit: `ulimit -Hn`, or run fewer clients)"
        ));
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(a) => run(a),
        Command::Serve(a) => serve(a),
        Command::Plot(a) => plot(a),
    };
    std::process::exit(match code {
        Ok(c) => c,
        Err(e) => {
            eprintln!("loadgen: {e}");
            2
        }
    });
}

/// Prints a progress line a second on stderr until `stop`; `line(elapsed, per-core
/// counts, cpu%)` formats it.
fn progress(
    live: Arc<Vec<Live>>,
    stop: Arc<AtomicBool>,
    line: impl Fn(f64, &[u64], &[u64], f64) -> String + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut last: Vec<u64> = vec![0; live.len()];
        let mut last_cpu = process_cpu_time();
        let mut last_t = Instant::now();
        let mut tick = 1;
        while !stop.load(Ordering::Relaxed) {
            let due = start + Duration::from_secs(tick);
            while Instant::now() < due {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(
                    due.saturating_duration_since(Instant::now())
                        .min(Duration::from_millis(50)),
                );
            }
            tick += 1;
            let now: Vec<u64> = live
                .iter()
                .map(|l| l.done.load(Ordering::Relaxed))
                .collect();
            let errors: Vec<u64> = live
                .iter()
                .map(|l| l.errors.load(Ordering::Relaxed))
                .collect();
            let dt = last_t.elapsed().as_secs_f64();
            let rates: Vec<u64> = now
                .iter()
                .zip(&last)
                .map(|(n, l)| (n.saturating_sub(*l) as f64 / dt) as u64)
                .collect();
            let cpu = process_cpu_time();
            let pct = (cpu - last_cpu).as_secs_f64() / dt * 100.0;
            eprintln!(
                "{}",
                line(start.elapsed().as_secs_f64(), &rates, &errors, pct)
            );
            last = now;
            last_cpu = cpu;
            last_t = Instant::now();
        }
    })
}

fn per_core(cpus: &[usize], rates: &[u64]) -> String {
    cpus.iter()
        .zip(rates)
        .map(|(c, r)| format!("cpu {c}: {}", fmt_num(*r as f64)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn run(a: RunArgs) -> Result<i32, String> {
    let cores = if a.cores.is_empty() {
        online_cpus()
    } else {
        a.cores.clone()
    };
    let spec = Spec {
        endpoint: a.endpoint.clone(),
        imp: a.imp,
        kind: a.socket,
        clients: a.clients,
        cores,
        pace: match a.rate {
            Some(rate) => Pace::Open { rate },
            None => Pace::Closed {
                in_flight: a.in_flight,
            },
        },
        size: a.size,
        duration: a.duration,
        connect_timeout: a.connect_timeout,
        drain: a.drain,
        spin: a.spin.map(Duration::from_micros),
    };
    spec.validate().map_err(|e| e.to_string())?;
    if spec.duration.is_zero() {
        return Err("--duration must be more than 0".into());
    }
    descriptors(spec.descriptors_needed())?;
    let live = Live::per_core(spec.cores.len());
    let stop = Arc::new(AtomicBool::new(false));
    let printer = (!a.quiet).then(|| {
        let cpus = spec.cores.clone();
        let l = Arc::clone(&live);
        progress(
            Arc::clone(&live),
            Arc::clone(&stop),
            move |t, rates, errors, cpu| {
                if l.iter().all(|c| c.started.load(Ordering::Relaxed) == 0) {
                    return format!("[{t:>4.0}s] connecting…");
                }
                let total: u64 = rates.iter().sum();
                format!(
                    "[{t:>4.0}s] {} req/s ({}), errors {}, CPU {cpu:.0}%",
                    fmt_num(total as f64),
                    per_core(&cpus, rates),
                    errors.iter().sum::<u64>()
                )
            },
        )
    });
    let clock = Clock::new();
    let cpu0 = process_cpu_time();
    let t0 = Instant::now();
    let result = match spec.imp {
        Impl::Monocoque => loadgen::mono::run(&spec, clock, Arc::clone(&live)),
        Impl::Libzmq => loadgen::libzmq::run(&spec, clock, Arc::clone(&live)),
    };
    stop.store(true, Ordering::Relaxed);
    if let Some(p) = printer {
        let _ = p.join();
    }
    let cores = result.map_err(|e| e.to_string())?;
    let report = Report {
        spec,
        cores,
        cpu: process_cpu_time() - cpu0,
        wall: t0.elapsed(),
    };
    let summary = report.summary();
    let json = serde_json::to_string_pretty(&report.json()).map_err(|e| e.to_string())?;
    match a.json.as_deref() {
        Some(p) if p.as_os_str() == "-" => {
            eprint!("{summary}");
            println!("{json}");
        }
        Some(p) => {
            print!("{summary}");
            std::fs::write(p, json + "\n")
                .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        }
        None => print!("{summary}"),
    }
    let _ = std::io::stdout().flush();
    if let Some(svg) = &a.svg {
        if report.histogram().is_empty() {
            eprintln!(
                "loadgen: no latencies to draw, {} not written",
                svg.display()
            );
        } else {
            loadgen::draw_latency(svg, "loadgen: round-trip latency", &[report.json()])
                .map_err(|e| e.to_string())?;
        }
    }
    if report.connected() < report.spec.clients {
        let retries: u64 = report.cores.iter().filter_map(|c| c.connect_retries).sum();
        let hint = if retries > 0 {
            format!(" ({retries} connection attempts failed: is the server up?)")
        } else {
            String::new()
        };
        eprintln!(
            "loadgen: {} of {} clients could not connect to {} within {:?}{hint}",
            report.spec.clients - report.connected(),
            report.spec.clients,
            report.spec.endpoint,
            report.spec.connect_timeout
        );
    }
    Ok(if report.errors().total() == 0 { 0 } else { 1 })
}

fn serve(a: ServeArgs) -> Result<i32, String> {
    let cores = if a.cores.is_empty() {
        online_cpus()
    } else {
        a.cores.clone()
    };
    // Generous: a server is pointed at thousands of clients.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let spin = a.spin.map(Duration::from_micros);
    let stop = Arc::new(AtomicBool::new(false));
    let (endpoint, live, mono) = match a.imp {
        Impl::Monocoque => {
            let ep = a.endpoint.replace(":*", ":0");
            let s = loadgen::mono::Server::start(&ep, &cores, spin).map_err(|e| e.to_string())?;
            (s.endpoint.clone(), Arc::clone(&s.live), Some(s))
        }
        Impl::Libzmq => {
            let ep = if a.endpoint.ends_with(":0") {
                format!("{}*", &a.endpoint[..a.endpoint.len() - 1])
            } else {
                a.endpoint.clone()
            };
            let s = loadgen::libzmq::Server::start(&ep, &cores).map_err(|e| e.to_string())?;
            (s.endpoint.clone(), Arc::clone(&s.live), None)
        }
    };
    println!("listening on {endpoint}");
    let _ = std::io::stdout().flush();
    let labels: Vec<String> = match a.imp {
        Impl::Monocoque => cores.iter().map(|c| format!("cpu {c}")).collect(),
        Impl::Libzmq => vec!["app thread".into()],
    };
    let printer = (!a.quiet).then(|| {
        progress(
            Arc::clone(&live),
            Arc::clone(&stop),
            move |t, rates, _, cpu| {
                let split = labels
                    .iter()
                    .zip(rates)
                    .map(|(l, r)| format!("{l}: {}", fmt_num(*r as f64)))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "[{t:>4.0}s] echoed {} msg/s ({split}), CPU {cpu:.0}%",
                    fmt_num(rates.iter().sum::<u64>() as f64)
                )
            },
        )
    });
    match a.duration {
        Some(d) => std::thread::sleep(d),
        None => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(p) = printer {
        let _ = p.join();
    }
    if let Some(s) = mono {
        eprintln!("peers per core at the end: {:?}", s.peers_per_core());
        s.stop();
    }
    Ok(0)
}

fn plot(a: PlotArgs) -> Result<i32, String> {
    let mut reports = Vec::new();
    for f in &a.files {
        let text =
            std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        let mut v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a loadgen JSON file: {e}", f.display()))?;
        if let Some(label) = a.labels.get(reports.len()) {
            v["label"] = label.clone().into();
        }
        reports.push(v);
    }
    loadgen::draw_latency(&a.out, &a.title, &reports).map_err(|e| e.to_string())?;
    eprintln!("wrote {}", a.out.display());
    Ok(0)
}
