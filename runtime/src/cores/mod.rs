//! The thread-per-core runtime: one pinned glommio executor per chosen core. Other
//! threads reach a core by sending it jobs ([`RuntimeHandle::run_on`]); what lives on
//! a core and takes mail from other cores (a sharded socket's shard) registers as a
//! [`CoreService`], whose rings ([`RuntimeHandle::ring_to`]) wake the core when it
//! sleeps. The runtime carries no message type of its own: each service defines its
//! mail.

mod builder;
mod load;
mod pump;
mod runtime;
mod tasks;

pub use builder::{RuntimeBuilder, RuntimeError};
pub(crate) use load::ConnectionCount;
pub use load::Placement;
pub use pump::{CoreContext, CoreService, CoreSocket};
pub use runtime::{Runtime, RuntimeHandle};
pub use tasks::{CoreTaskLost, CoreTasks};
