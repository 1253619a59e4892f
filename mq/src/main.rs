//! `mq`: send and receive ZeroMQ messages from the shell with a Monocoque socket.
//!
//! Lines on standard input become messages (frames separated by TAB) and received
//! messages become lines on standard output; see `mq --help` for what each socket
//! type does. Exit status: 0 done, 1 `--timeout` fired, 2 error (one line on
//! standard error).

mod cli;
mod frames;
mod input;
mod keygen;
mod run;

use std::io::IsTerminal;

use glommio::{LocalExecutorBuilder, Placement};
use tracing_subscriber::EnvFilter;

use cli::{Config, Parsed};
use run::Failure;

/// Exit status when `--timeout` fired.
const EXIT_TIMEOUT: i32 = 1;
/// Exit status for every error.
const EXIT_ERROR: i32 = 2;

fn main() {
    let code = match cli::parse() {
        Ok(Parsed::Printed) => 0,
        Ok(Parsed::Keygen(out)) => match keygen::run(out.as_deref()) {
            Ok(()) => 0,
            Err(message) => {
                eprintln!("mq: {message}");
                EXIT_ERROR
            }
        },
        Ok(Parsed::Run(cfg)) => {
            init_logging();
            run(&cfg)
        }
        Err(message) => {
            eprintln!("mq: {message}");
            EXIT_ERROR
        }
    };
    // Exiting also ends the standard input reader, which may be blocked in read.
    std::process::exit(code);
}

/// Sends logs to standard error, at `warn` unless RUST_LOG says otherwise, colored
/// only on a terminal.
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Runs mq on a glommio executor and returns the exit status.
fn run(cfg: &Config) -> i32 {
    let executor = match LocalExecutorBuilder::new(Placement::Unbound)
        .io_memory(256 << 10)
        .name("mq")
        .make()
    {
        Ok(executor) => executor,
        Err(e) => {
            eprintln!("mq: cannot start the glommio executor: {e}");
            return EXIT_ERROR;
        }
    };
    match executor.run(run::run(cfg)) {
        Ok(()) | Err(Failure::OutputClosed) => 0,
        Err(Failure::Timeout(message)) => {
            eprintln!("mq: timed out: {message}");
            EXIT_TIMEOUT
        }
        Err(Failure::Error(message)) => {
            eprintln!("mq: {message}");
            EXIT_ERROR
        }
    }
}
