//! PUB, SUB, XPUB and XSUB (RFC 29): topic-filtered fan-out. The sending side's
//! rules are in [`publisher`], the receiving side's in [`subscriber`].

mod publisher;
mod subscriber;

pub(crate) use publisher::{publish_here, try_publish_here, AtHwm, Publisher};
pub use publisher::{Pub, XPub};
pub(crate) use subscriber::{change_subscription, Subscriber};
pub use subscriber::{Sub, XSub};
