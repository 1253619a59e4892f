//! What a sharded socket's cores and handle say to each other, and the view of the
//! other cores that both directions route by.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ahash::AHashMap;
use bytes::Bytes;
use monocoque_runtime::ring::PushError;
use monocoque_runtime::{Credit, Message, PeerId, Signal, WakerSet};

use crate::subscriptions::SubscriptionSet;

/// One message on a sharded socket's rings.
pub(crate) enum Mail {
    /// PUB/XPUB: fan out to this core's matching subscribers.
    Publish(Message),
    /// XPUB_NODROP, from another core's [`ShardRef`](super::ShardRef): fan out to this
    /// core's matching subscribers, waiting for room rather than dropping. The sender
    /// took a unit of this core's [`Shared::held`] credit for it; the core gives it
    /// back once the message went out.
    PublishHeld(Message),
    /// ROUTER: send to this core's peer named by the first frame (its routing id).
    Deliver(Message),
    /// From the handle: send through this core's socket (DEALER, PUSH, PAIR, XSUB
    /// load-balance over the core's peers; REQ sends a request and forwards the reply;
    /// REP answers the request it forwarded last).
    Send(Message),
    /// ROUTER_HANDOVER: a peer on core `from` took routing id `id`; this core's peer
    /// with that id must go.
    Evict { from: usize, id: Bytes },
    /// A change on core `from` that the others route by.
    Notice { from: usize, notice: Notice },
    /// A message core `from` received, for the handle's reader; `peer` is the
    /// sender, where the handle needs it (an XPUB_MANUAL's requests).
    Inbound {
        from: usize,
        peer: Option<PeerId>,
        msg: Message,
    },
}

/// What a socket's handle and cores share besides their rings: the handle's credit
/// on each core (so that what it hands a core is bounded, and it can wait for room),
/// how many peers each core sends to (for round-robin over all peers), and how the
/// cores wake a handle that waits for either.
pub(crate) struct Shared {
    /// Mail the handle may still put in flight to each core.
    pub credit: Vec<Credit>,
    /// XPUB_NODROP publishes from other cores that each core may still have to hold
    /// (its subscribers at SNDHWM); a core's senders wait while it has none.
    pub held: Vec<Credit>,
    /// DEALER, PUSH, REQ, PAIR: each core's peers to send to.
    pub targets: Vec<AtomicUsize>,
    /// Raised while the handle waits for credit or peers.
    pub signal: Signal,
    /// The handle's waiters (also woken by its rings' doorbell).
    pub wakers: Arc<WakerSet>,
}

impl Shared {
    pub fn new(cores: usize, credit: usize) -> Shared {
        Shared {
            credit: (0..cores).map(|_| Credit::new(credit)).collect(),
            held: (0..cores).map(|_| Credit::new(credit)).collect(),
            targets: (0..cores).map(|_| AtomicUsize::new(0)).collect(),
            signal: Signal::default(),
            wakers: Arc::new(WakerSet::default()),
        }
    }

    /// Core `core` is done with `units` of the handle's mail.
    pub fn give_back(&self, core: usize, units: usize) {
        self.credit[core].give_back(units);
        self.wake_handle();
    }

    /// Takes one unit of the handle's credit on each of `cores`, or on none: false
    /// (nothing taken) when one of them has none left.
    pub fn take_on_all(&self, cores: &[usize]) -> bool {
        match take_on_all(&self.credit, cores) {
            Ok(()) => true,
            Err(undone) => {
                // What was handed back may be what another waiter needs.
                if undone > 0 {
                    self.wake_handle();
                }
                false
            }
        }
    }

    /// [`Shared::take_on_all`] for the cores' [`Shared::held`] credit.
    pub fn take_held_on_all(&self, cores: &[usize]) -> bool {
        take_on_all(&self.held, cores).is_ok()
    }

    /// Core `core` now sends to `targets` peers.
    pub fn set_targets(&self, core: usize, targets: usize) {
        self.targets[core].store(targets, Ordering::Relaxed);
        self.wake_handle();
    }

    fn wake_handle(&self) {
        if self.signal.notify() {
            self.wakers.wake_all();
        }
    }
}

/// One unit of `credit[core]` for each of `cores`, or none: the number of units it
/// took and handed back when one of them had none left.
fn take_on_all(credit: &[Credit], cores: &[usize]) -> Result<(), usize> {
    for (i, &core) in cores.iter().enumerate() {
        if !credit[core].try_take() {
            cores[..i].iter().for_each(|&c| credit[c].give_back(1));
            return Err(i);
        }
    }
    Ok(())
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

    /// The cores but `skip` a publish of `msg` goes to: those whose union matches its
    /// topic, or every one with `invert` (see [`Directory::publish`]).
    pub fn cores_for<'a>(
        &'a self,
        msg: &'a Message,
        skip: Option<usize>,
        invert: bool,
    ) -> impl Iterator<Item = usize> + 'a {
        self.unions
            .iter()
            .enumerate()
            .filter(move |(core, union)| Some(*core) != skip && (invert || union.matches(&msg[0])))
            .map(|(core, _)| core)
    }

    /// The core that owns routing id `id`.
    pub fn owner(&self, id: &[u8]) -> Option<usize> {
        self.routes.get(id).copied()
    }

    /// Offers `msg` to every core but `skip` whose union matches its topic (first
    /// frame), through `push`; with `invert` (INVERT_MATCHING), to every core but
    /// `skip` (any core may have a subscriber it does not match). Rings that were
    /// full miss it (PUB semantics).
    pub fn publish(
        &self,
        msg: &Message,
        skip: Option<usize>,
        invert: bool,
        mut push: impl FnMut(usize, Mail) -> Result<(), PushError<Mail>>,
    ) -> Published {
        let mut published = Published::default();
        for core in self.cores_for(msg, skip, invert) {
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
