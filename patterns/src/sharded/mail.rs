//! What a sharded socket's cores and handle say to each other, and the view of the
//! other cores that both directions route by.

use ahash::AHashMap;
use bytes::Bytes;
use monocoque_runtime::ring::PushError;
use monocoque_runtime::Message;

use crate::subscriptions::SubscriptionSet;

/// One message on a sharded socket's rings.
pub(crate) enum Mail {
    /// PUB/XPUB: fan out to this core's matching subscribers.
    Publish(Message),
    /// ROUTER: send to this core's peer named by the first frame (its routing id).
    Deliver(Message),
    /// A change on core `from` that the others route by.
    Notice { from: usize, notice: Notice },
    /// A message a core received, for the handle's reader.
    Inbound(Message),
}

/// A change in what a core serves.
#[derive(Clone)]
pub(crate) enum Notice {
    /// PUB/XPUB: `topic` joined (`added`) or left the core's subscription union.
    Union { topic: Bytes, added: bool },
    /// ROUTER: routing id `id` appeared on or left the core.
    Route { id: Bytes, added: bool },
}

/// What one side (a core, or the handle) knows of the cores: each core's
/// subscription union and which core owns each routing id, kept up to date from
/// [`Notice`]s.
pub(crate) struct Directory {
    unions: Vec<SubscriptionSet>,
    routes: AHashMap<Bytes, usize>,
}

impl Directory {
    pub fn new(cores: usize) -> Directory {
        Directory {
            unions: (0..cores).map(|_| SubscriptionSet::default()).collect(),
            routes: AHashMap::default(),
        }
    }

    /// Applies a notice from core `from`.
    pub fn learn(&mut self, from: usize, notice: &Notice) {
        match notice {
            Notice::Union { topic, added: true } => {
                self.unions[from].add(topic);
            }
            Notice::Union {
                topic,
                added: false,
            } => {
                self.unions[from].remove(topic);
            }
            Notice::Route { id, added: true } => {
                self.routes.insert(id.clone(), from);
            }
            Notice::Route { id, added: false } => {
                if self.routes.get(id) == Some(&from) {
                    self.routes.remove(id);
                }
            }
        }
    }

    /// The core that owns routing id `id`.
    pub fn owner(&self, id: &[u8]) -> Option<usize> {
        self.routes.get(id).copied()
    }

    /// Offers `msg` to every core but `skip` whose union matches its topic (first
    /// frame), through `push`. Rings that were full miss it (PUB semantics).
    pub fn publish(
        &self,
        msg: &Message,
        skip: Option<usize>,
        mut push: impl FnMut(usize, Mail) -> Result<(), PushError<Mail>>,
    ) -> Published {
        let mut published = Published::default();
        for (core, union) in self.unions.iter().enumerate() {
            if Some(core) == skip || !union.matches(&msg[0]) {
                continue;
            }
            match push(core, Mail::Publish(msg.clone())) {
                Ok(()) => {}
                Err(e) if e.is_closed() => published.closed = true,
                Err(_) => published.full += 1,
            }
        }
        published
    }
}

/// How a publish to other cores went.
#[derive(Default)]
pub(crate) struct Published {
    /// Cores whose ring was full.
    pub full: u64,
    /// A core's ring was closed (the runtime is stopping).
    pub closed: bool,
}

/// What to do after offering a ROUTER delivery to its core's ring.
pub(crate) enum Delivery {
    /// It is in the ring.
    Sent,
    /// The ring is full and ROUTER_MANDATORY asks to wait: try again with this.
    Retry(Mail),
    /// The ring is full: the message is dropped (counted in `dropped_ring`).
    Dropped,
    /// The core is gone.
    Closed,
}

impl Delivery {
    /// Judges the outcome of one push under ROUTER_MANDATORY (`mandatory`) or not.
    pub fn judge(pushed: Result<(), PushError<Mail>>, mandatory: bool) -> Delivery {
        match pushed {
            Ok(()) => Delivery::Sent,
            Err(e) if e.is_closed() => Delivery::Closed,
            Err(e) if mandatory => Delivery::Retry(e.into_inner()),
            Err(_) => Delivery::Dropped,
        }
    }
}
