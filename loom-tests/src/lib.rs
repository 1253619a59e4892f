//! loom models of the runtime's cross-core primitives.
//!
//! This crate does not copy the code it checks: it compiles the runtime's own sources.
//!
//! - [`ring`] is `runtime/src/ring/` (`mod.rs` and its submodules), built against
//!   `runtime/src/sync.rs`, whose `cfg(loom)` branch (switched on for this crate only, by
//!   `build.rs`) maps the shim to loom's atomics, `Arc`, fences and access-tracking
//!   `UnsafeCell`. The models in `tests/ring.rs` run under a plain `cargo test`, no
//!   `RUSTFLAGS` needed.
//! - [`signal`] is `runtime/src/signal.rs`: the credit and wait/notify handshake a
//!   sharded socket's handle uses to wait for room on a core (`tests/signal.rs`).
//! - [`lane`] is `runtime/src/inproc/lane.rs`: a ring with wake-ups both ways (the
//!   reader parks, the writer waits for room on a signal), one direction of an inproc
//!   connection (`tests/lane.rs`).
//! - [`weak_publish`] and [`weak_park`] are the same ring sources again, each built against a
//!   deliberately broken shim. The models run them too and must *fail*: proof that they can
//!   see the bugs they exist to catch ("models have teeth"). The weakening lives entirely in
//!   the shim, so the ring's source is byte for byte the one that ships.
//!
//! The ring reaches its primitives through `super::sync`, which is what lets each copy here
//! pick up the `sync` module that sits next to it.
//!
//! Loom explores every interleaving up to a preemption bound (3 by default here, see
//! `tests/ring.rs`; `LOOM_MAX_PREEMPTIONS` overrides it). Set `LOOM_LOG=trace` and
//! `LOOM_LOCATION=1` to see a failing execution.

// Compiling the ring three times, against three shims, is the point of this crate.
#![allow(clippy::duplicate_mod)]

#[path = "../../runtime/src/sync.rs"]
pub(crate) mod sync;

#[path = "../../runtime/src/ring/mod.rs"]
pub mod ring;

#[path = "../../runtime/src/signal.rs"]
pub mod signal;

#[path = "../../runtime/src/inproc/lane.rs"]
pub mod lane;

pub mod weak_park;
pub mod weak_publish;
