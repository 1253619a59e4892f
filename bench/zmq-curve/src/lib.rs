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

use std::os::raw::{c_int, c_void};

/// Setters for libzmq 4.3 options the `zmq` crate 0.10 lacks (XPUB_NODROP,
/// XPUB_MANUAL, INVERT_MATCHING, CONNECT_ROUTING_ID),
/// through `zmq_setsockopt` itself.
///
/// ```
/// use zmq_curve::SocketExt;
/// let ctx = zmq_curve::Context::new();
/// let mut xpub = ctx.socket(zmq_curve::XPUB).unwrap();
/// xpub.set_xpub_nodrop(true).unwrap();
/// xpub.set_invert_matching(true).unwrap();
/// // An empty routing id is refused, as libzmq's documentation says.
/// let mut router = ctx.socket(zmq_curve::ROUTER).unwrap();
/// assert!(router.set_connect_routing_id(b"").is_err());
/// router.set_connect_routing_id(b"peer").unwrap();
/// ```
pub trait SocketExt {
    /// ZMQ_XPUB_NODROP.
    fn set_xpub_nodrop(&mut self, on: bool) -> Result<()>;
    /// ZMQ_XPUB_MANUAL.
    fn set_xpub_manual(&mut self, on: bool) -> Result<()>;
    /// ZMQ_INVERT_MATCHING.
    fn set_invert_matching(&mut self, on: bool) -> Result<()>;
    /// ZMQ_CONNECT_ROUTING_ID (for the next `connect`).
    fn set_connect_routing_id(&mut self, id: &[u8]) -> Result<()>;
}

fn set_raw(socket: &mut Socket, option: u32, value: &[u8]) -> Result<()> {
    let sock = socket.as_mut_ptr();
    // SAFETY: `sock` is the live libzmq socket `socket` owns (borrowed mutably for
    // the call), and `value` is valid for `value.len()` bytes; libzmq copies what it
    // keeps.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            sock,
            option as c_int,
            value.as_ptr() as *const c_void,
            value.len(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        // SAFETY: reads this thread's errno as libzmq left it.
        Err(Error::from_raw(unsafe { zmq_sys::zmq_errno() }))
    }
}

fn set_bool(socket: &mut Socket, option: u32, on: bool) -> Result<()> {
    set_raw(socket, option, &c_int::from(on).to_ne_bytes())
}

impl SocketExt for Socket {
    fn set_xpub_nodrop(&mut self, on: bool) -> Result<()> {
        set_bool(self, zmq_sys::ZMQ_XPUB_NODROP, on)
    }

    fn set_xpub_manual(&mut self, on: bool) -> Result<()> {
        set_bool(self, zmq_sys::ZMQ_XPUB_MANUAL, on)
    }

    fn set_invert_matching(&mut self, on: bool) -> Result<()> {
        set_bool(self, zmq_sys::ZMQ_INVERT_MATCHING, on)
    }

    fn set_connect_routing_id(&mut self, id: &[u8]) -> Result<()> {
        set_raw(self, zmq_sys::ZMQ_CONNECT_ROUTING_ID, id)
    }
}
