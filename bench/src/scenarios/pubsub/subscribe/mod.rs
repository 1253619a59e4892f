//! The subscriber sides: the bookkeeping every implementation shares ([`side`]), and
//! one module per implementation that owns its N SUB sockets and runtime.

mod libzmq;
mod mono;
mod side;
mod zmqrs;

pub(crate) use libzmq::zmq_subscribers;
pub(crate) use mono::mono_subscribers;
pub use side::Deliveries;
pub(crate) use zmqrs::zmqrs_subscribers;
