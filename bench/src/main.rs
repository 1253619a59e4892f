//! `monocoque-bench compare`: Monocoque against libzmq, scenario by scenario.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use monocoque_bench::alloc_count::CountingAlloc;
use monocoque_bench::harness::RunOptions;
use monocoque_bench::result::{Impl, Scenario, Transport};
use monocoque_bench::runner::Runner;
use monocoque_bench::scenarios::{self, Effort};
use monocoque_bench::{plot, report};

// Counts allocations per thread for the `alloc` scenario; costs one thread-local
// increment per allocation in every other scenario, for every implementation alike
// (libzmq allocates through C malloc, which this does not see).
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[derive(Parser)]
#[command(about = "Monocoque benchmarks, side by side with libzmq (see shared/BENCH.md)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the scenarios for every implementation and prints the comparison.
    Compare(CompareArgs),
}

#[derive(clap::Args)]
struct CompareArgs {
    /// Smaller counts and shorter holds: the whole table in under two minutes.
    #[arg(long)]
    quick: bool,
    /// Print one JSON object per result on stdout (the table then goes to stderr).
    #[arg(long)]
    json: bool,
    /// Draw throughput-vs-size and latency charts as SVG files into DIR.
    #[arg(long, value_name = "DIR")]
    plot: Option<PathBuf>,
    /// Repetitions per implementation and case (at least 3 for a claim).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Comma-separated scenarios to run (default: all; `curve` stands for curve-thr,
    /// curve-lat and curve-alloc).
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Comma-separated implementations to run (default: monocoque,zmq.rs,libzmq).
    #[arg(long, value_delimiter = ',')]
    impls: Vec<String>,
    /// Comma-separated transports to keep: tcp, ipc, inproc (default: every transport
    /// a scenario has; inproc is in thr and lat only).
    #[arg(long, value_delimiter = ',')]
    transports: Vec<String>,
    /// Comma-separated message sizes in bytes to keep (default: every size).
    #[arg(long, value_delimiter = ',')]
    sizes: Vec<usize>,
    /// Comma-separated peer counts (clients, subscribers) to keep (default: every count).
    #[arg(long, value_delimiter = ',')]
    peers: Vec<usize>,
    /// Comma-separated publish rates (messages/s) to keep in paced scenarios with fixed
    /// rates (`feed`; default: every rate).
    #[arg(long, value_delimiter = ',')]
    rates: Vec<f64>,
    /// Override every case's message/round-trip count (for profiling runs).
    #[arg(long)]
    count: Option<u64>,
    /// Turn on glommio's spin_before_park on Monocoque's executors: an executor with
    /// nothing to do spins this many µs before it sleeps (default 50 µs when given
    /// without a value). Costs CPU; always reported.
    #[arg(long, value_name = "US", num_args = 0..=1, default_missing_value = "50")]
    spin: Option<u64>,
    /// Turn on busy polling on Monocoque's sockets (`Options::busy_poll`): an idle TCP
    /// connection keeps polling its socket this many µs after its last traffic
    /// (default 200 µs when given without a value). Costs CPU; always reported.
    #[arg(long, value_name = "US", num_args = 0..=1, default_missing_value = "200")]
    busy_poll: Option<u64>,
    /// Tiny counts: checks that everything runs, measures nothing.
    #[arg(long, hide = true)]
    smoke: bool,
}

fn main() {
    let cli = Cli::parse();
    // 1000 subscribers need more descriptors than a default soft limit: take what the
    // hard limit allows (the feed scenario says what it needs if that is too little).
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let Command::Compare(args) = cli.command;
    if let Err(e) = compare(args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn compare(args: CompareArgs) -> monocoque_bench::Result<()> {
    let effort = if args.smoke {
        Effort::Smoke
    } else if args.quick {
        Effort::Quick
    } else {
        Effort::Full
    };
    let selected: Vec<Scenario> = if args.scenarios.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        let mut selected = Vec::new();
        for name in &args.scenarios {
            match Scenario::parse(name) {
                Some(s) => selected.push(s),
                None if name == "curve" => selected.extend(Scenario::CURVE),
                None => return Err(format!("unknown scenario {name:?}").into()),
            }
        }
        selected
    };
    let impls: Vec<Impl> = if args.impls.is_empty() {
        Impl::ALL.to_vec()
    } else {
        args.impls
            .iter()
            .map(|s| Impl::parse(s).ok_or_else(|| format!("unknown implementation {s:?}")))
            .collect::<Result<_, _>>()?
    };
    let transports: Vec<Transport> = args
        .transports
        .iter()
        .map(|s| Transport::parse(s).ok_or_else(|| format!("unknown transport {s:?}")))
        .collect::<Result<_, _>>()?;
    let cases: Vec<_> = selected
        .iter()
        .flat_map(|&s| scenarios::cases(s, effort))
        .filter(|c| transports.is_empty() || transports.contains(&c.transport))
        .filter(|c| args.sizes.is_empty() || args.sizes.contains(&c.size))
        .filter(|c| args.peers.is_empty() || args.peers.contains(&c.peers))
        .filter(|c| match c.rate {
            Some(rate) => args.rates.is_empty() || args.rates.contains(&rate),
            None => true,
        })
        .map(|mut c| {
            if let Some(n) = args.count {
                c.count = n;
            }
            c
        })
        .collect();
    let opts = RunOptions {
        spin: args.spin.map(std::time::Duration::from_micros),
        busy_poll: args.busy_poll.map(std::time::Duration::from_micros),
    };
    eprintln!(
        "monocoque-bench compare: {} cases × {} implementations × {} repetitions ({:?})",
        cases.len(),
        impls.len(),
        args.reps,
        effort
    );
    let mut runner = Runner::new(args.reps, impls.clone(), opts, cases.len());
    let mut results = Vec::new();
    let stdout = std::io::stdout();
    for case in &cases {
        for summary in runner.run_case(case) {
            if args.json {
                let mut out = stdout.lock();
                writeln!(out, "{}", report::json_line(&summary))?;
                out.flush()?;
            }
            results.push(summary);
        }
    }
    let text = format!(
        "\n{}\n{}",
        report::table(&results),
        report::notes(&impls, opts)
    );
    if args.json {
        eprintln!("{text}");
    } else {
        println!("{text}");
    }
    if let Some(dir) = &args.plot {
        for file in plot::draw(&results, dir)? {
            eprintln!("wrote {}", file.display());
        }
    }
    Ok(())
}
