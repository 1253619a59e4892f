//! `monocoque-bench compare`: Monocoque against libzmq, scenario by scenario.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use monocoque_bench::alloc_count::CountingAlloc;
use monocoque_bench::harness::RunOptions;
use monocoque_bench::result::{Impl, Scenario};
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
    /// Comma-separated scenarios to run (default: all).
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Comma-separated implementations to run (default: monocoque,libzmq).
    #[arg(long, value_delimiter = ',')]
    impls: Vec<String>,
    /// Turn on glommio's spin_before_park (50 µs) on Monocoque's executors.
    #[arg(long)]
    spin: bool,
    /// Tiny counts: checks that everything runs, measures nothing.
    #[arg(long, hide = true)]
    smoke: bool,
}

fn main() {
    let cli = Cli::parse();
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
        args.scenarios
            .iter()
            .map(|s| Scenario::parse(s).ok_or_else(|| format!("unknown scenario {s:?}")))
            .collect::<Result<_, _>>()?
    };
    let impls: Vec<Impl> = if args.impls.is_empty() {
        Impl::ALL.to_vec()
    } else {
        args.impls
            .iter()
            .map(|s| Impl::parse(s).ok_or_else(|| format!("unknown implementation {s:?}")))
            .collect::<Result<_, _>>()?
    };
    let cases: Vec<_> = selected
        .iter()
        .flat_map(|&s| scenarios::cases(s, effort))
        .collect();
    let opts = RunOptions { spin: args.spin };
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
        report::notes(&impls, args.spin)
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
