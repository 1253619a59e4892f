//! The publisher sides: the part every implementation shares ([`job`]), and one module
//! per implementation that owns its PUB socket and runtime.

mod job;
mod libzmq;
mod mono;
mod sharded;
mod zmqrs;

pub use job::Published;
pub(crate) use job::{Bind, PublishJob};
pub(crate) use libzmq::zmq_publisher;
pub(crate) use mono::mono_publisher;
pub(crate) use sharded::sharded_publisher;
pub use sharded::{PUBLISHING_CORE, SHARDED_LAYOUT};
pub(crate) use zmqrs::zmqrs_publisher;
