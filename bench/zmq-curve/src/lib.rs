//! The `zmq` crate over a libzmq with CURVE.
//!
//! The workspace's tests and benchmarks use libzmq, through the `zmq` crate, as the
//! reference peer. `zmq-sys` builds libzmq without libsodium, and so without CURVE.
//! This crate builds the same libzmq 4.3.4 source with libsodium (see `build.rs`),
//! `.cargo/config.toml` replaces zmq-sys's build script with nothing (an override of
//! its `links = "zmq"`), and the workspace renames this crate to `zmq`: code keeps
//! writing `zmq::Context`, and the one libzmq in the binary is the one with CURVE.
//! The override names the target `x86_64-unknown-linux-gnu` (the machines this project
//! builds on); on another target add the same `[target.<triple>.zmq]` entry, or zmq-sys
//! builds a second libzmq and the link sees both.
//!
//! ```
//! // In this workspace the crate is renamed to `zmq`; here it goes by its own name.
//! assert_eq!(zmq_curve::has("curve"), Some(true));
//! ```

pub use zmq::*;
