//! # monocoque-bench
//!
//! Monocoque measured side by side with libzmq (through the `zmq` crate), and in `thr`,
//! `lat` and `feed` with zmq.rs (the `zeromq` crate, on tokio), following
//! `shared/BENCH.md`: the same scenario, sizes, counts, transport and core pinning for
//! every implementation, runs alternated, at least three repetitions, median and spread.
//!
//! - [`scenarios`]: one module per scenario family (`thr`, `lat`, `router`, `fanout`,
//!   `feed`, `alloc`), each with a Monocoque and a libzmq variant (`thr`, `lat` and
//!   `feed` also with a zmq.rs one; `feed` also with the mixed pairs Monocoque PUB →
//!   libzmq SUBs and libzmq PUB → Monocoque SUBs).
//! - [`runner`]: alternation, repetitions and summaries; [`result`]: the shared result
//!   types; [`report`]: the table and the JSON lines; [`plot`]: SVG charts; [`numbers`]:
//!   how numbers and sizes are written.
//! - [`harness`]: pinned executors and threads, endpoints, timeouts.
//! - [`alloc_count`]: the counting global allocator used by the `alloc` scenario.
//! - [`perf_tools`]: libzmq-compatible `local_thr`/`remote_thr`/`local_lat`/`remote_lat`.
//! - [`loadgen`]: the multi-core load generator (`loadgen run`) and its echo servers
//!   (`loadgen serve`), Monocoque and libzmq.

pub mod alloc_count;
pub mod harness;
pub mod loadgen;
pub mod numbers;
pub mod perf_tools;
pub mod plot;
pub mod report;
pub mod result;
pub mod runner;
pub mod scenarios;

/// Errors of a benchmark run: any error, with a message.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// Result of a benchmark run.
pub type Result<T> = std::result::Result<T, Error>;
