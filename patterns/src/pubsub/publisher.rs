//! PUB and XPUB: fan-out to the subscribers whose prefixes match, and the
//! subscriptions they send.

use std::cell::RefCell;
use std::rc::Rc;

use ahash::AHashMap;
use bytes::Bytes;
use monocoque_runtime::coop;
use monocoque_runtime::{Message, Peer, PeerId, Queued};
use monocoque_zmtp::SocketType;

use crate::base::{Rules, SocketBase};
use crate::socket_macros::{fair_queued_recv, immediate_sink, non_empty, socket_type, try_sending};
use crate::stats::Counters;
use crate::subscriptions::{SubscriberIndex, SubscriptionSet};
use crate::{Result, TrySendError};

socket_type!(
    /// Publishes each message to every subscriber whose subscription is a prefix of
    /// the message's first frame. A subscriber at SNDHWM misses messages; the others
    /// are never slowed. Payloads are shared, not copied, between subscribers.
    ///
    /// ```no_run
    /// # glommio::LocalExecutor::default().run(async {
    /// let publisher = monocoque::Pub::new();
    /// publisher.bind("tcp://*:5556")?;
    /// publisher.send(vec!["weather.paris", "21C"]).await?;
    /// # Ok::<(), monocoque::Error>(()) });
    /// ```
    Pub,
    SocketType::Pub,
    state Publisher = Publisher::new(false)
);

impl Pub {
    /// Publishes `msg` to the matching subscribers. Never waits for room: a subscriber
    /// at SNDHWM misses the message. When a subscriber's queue reaches half its SNDHWM
    /// the call yields once to the other tasks of the executor, so that a publisher
    /// looping flat out lets its connections write (many messages per write) instead of
    /// filling their queues; a subscriber that keeps up then misses nothing. Once its
    /// executor has run a time slice (500 µs to 2 ms) without polling I/O and timers,
    /// the call also yields
    /// through glommio's reactor, so a loop on `send` needs no yields of its own.
    /// Misses are counted in [`Pub::stats`] (`dropped_hwm`) and reported by
    /// [`MonitorEvent::MessagesDropped`](crate::MonitorEvent::MessagesDropped). SNDHWM
    /// bounds only this socket's queue: the kernel's buffers (see `Options::sndbuf`)
    /// and the subscriber's own queue hold more; `Options::conflate` keeps only the
    /// newest.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        publish(&self.base, &self.state, msg.into()).await
    }

    /// Publishes `msg` as [`Pub::send`] does (a PUB never waits), without yielding to
    /// the executor: a loop of `try_send` must await something else now and then, or
    /// its subscribers' connections never get to write.
    pub fn try_send(&self, msg: impl Into<Message>) -> std::result::Result<(), TrySendError> {
        try_sending(msg.into(), |msg| {
            publish_now(&self.base, &self.state, msg).map(drop)
        })
    }

    /// Publishes every message of `msgs` as [`Pub::send`] does; each subscriber's
    /// connection then writes its share in as few writes as possible. Returns how many
    /// were published.
    pub async fn send_batch<M: Into<Message>>(
        &self,
        msgs: impl IntoIterator<Item = M>,
    ) -> Result<usize> {
        let mut n = 0;
        for msg in msgs {
            publish(&self.base, &self.state, msg.into()).await?;
            n += 1;
        }
        Ok(n)
    }
}

/// PUB/XPUB send: fan-out, then a yield when a subscriber's queue reached its mark
/// or the time slice is over.
async fn publish(base: &SocketBase, publisher: &Publisher, msg: Message) -> Result<()> {
    if publish_now(base, publisher, &non_empty(msg)?)? {
        base.yield_now().await;
    }
    Ok(())
}

/// `Sink::start_send` of PUB and XPUB: the fan-out, with the yield it may ask for
/// left to the sink's next `poll_ready`.
fn sink_publish(base: &SocketBase, publisher: &Publisher, msg: Message) -> Result<()> {
    if publish_now(base, publisher, &non_empty(msg)?)? {
        base.yield_soon.set(true);
    }
    Ok(())
}

impl Pub {
    fn sink_send(&self, msg: Message) -> Result<()> {
        sink_publish(&self.base, &self.state, msg)
    }
}

impl XPub {
    fn sink_send(&self, msg: Message) -> Result<()> {
        sink_publish(&self.base, &self.state, msg)
    }
}

immediate_sink!(Pub);
immediate_sink!(XPub);

/// The fan-out of a PUB/XPUB send; true when a yield is due.
fn publish_now(base: &SocketBase, publisher: &Publisher, msg: &Message) -> Result<bool> {
    let due = publisher.fan_out(base, msg)?;
    Counters::add(&base.counters.sent, 1);
    Ok(due)
}

socket_type!(
    /// A PUB whose subscriptions can be read: `recv` returns `\x01topic` for each new
    /// subscription and `\x00topic` when the last subscriber of a topic cancels or
    /// leaves (every subscription with XPUB_VERBOSE).
    XPub,
    SocketType::XPub,
    state Publisher = Publisher::new(true)
);

impl XPub {
    /// Publishes `msg` to the matching subscribers, as [`Pub::send`] does.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        publish(&self.base, &self.state, msg.into()).await
    }

    /// Publishes `msg` as [`Pub::try_send`] does.
    pub fn try_send(&self, msg: impl Into<Message>) -> std::result::Result<(), TrySendError> {
        try_sending(msg.into(), |msg| {
            publish_now(&self.base, &self.state, msg).map(drop)
        })
    }
}

fair_queued_recv!(XPub);

/// PUB/XPUB state: every subscriber's prefixes, indexed for fan-out.
pub(crate) struct Publisher {
    /// XPUB: subscriptions are passed up to the reader.
    xpub: bool,
    /// Each subscriber's prefixes.
    peer_subs: RefCell<AHashMap<PeerId, SubscriptionSet>>,
    /// Prefix → subscribers, for fan-out.
    subscribers: RefCell<SubscriberIndex>,
    /// The union over subscribers (counted), to pass up only new topics and to tell a
    /// sharded socket's other cores.
    all_subs: RefCell<SubscriptionSet>,
}

impl Publisher {
    pub fn new(xpub: bool) -> Publisher {
        Publisher {
            xpub,
            peer_subs: RefCell::default(),
            subscribers: RefCell::default(),
            all_subs: RefCell::default(),
        }
    }

    /// Queues `msg` for every subscriber whose prefixes match its first frame; a
    /// subscriber at SNDHWM misses it (counted in `dropped_hwm`; the caller counts
    /// `sent`, once per publish however many cores fan it out). Never waits, never
    /// copies a large payload. Returns true when the publisher should yield
    /// ([`SocketBase::yield_now`]): a subscriber's queue has just reached its mark
    /// ([`at_mark`], so its connection should write what built up), or this
    /// thread's time slice is over ([`coop::spend`]).
    pub fn fan_out(&self, base: &SocketBase, msg: &Message) -> Result<bool> {
        base.check_open()?;
        let topic = msg.frames().first().map(|f| &f[..]).unwrap_or(&[]);
        let mut marked = false;
        let mut matched = 0u32;
        self.subscribers.borrow().for_each_match(topic, |peer| {
            matched += 1;
            match peer.try_send(msg) {
                Ok(queued) => marked |= at_mark(queued),
                Err(_) => base.dropped_at_hwm(peer),
            }
        });
        Ok(coop::spend(matched + 1) | marked)
    }
}

impl Rules for Publisher {
    fn sends_to_attached(&self) -> bool {
        true
    }

    fn on_attach(&self, _base: &SocketBase, peer: &Rc<Peer>) -> std::result::Result<(), String> {
        self.peer_subs
            .borrow_mut()
            .insert(peer.id(), SubscriptionSet::default());
        Ok(())
    }

    /// A subscription sent as a data frame (`\x01topic`/`\x00topic`, ZMTP 3.0 peers and
    /// XSUB); XPUB passes any other message up.
    fn on_message(&self, base: &SocketBase, peer: &Rc<Peer>, msg: Message) {
        let first = msg.frames().first().cloned().unwrap_or_default();
        if msg.len() == 1 && !first.is_empty() && first[0] <= 1 {
            self.on_subscription(base, peer, first.slice(1..), first[0] == 1);
        } else if self.xpub {
            base.enqueue(peer, msg);
        }
    }

    /// A SUBSCRIBE or CANCEL from `peer`.
    fn on_subscription(&self, base: &SocketBase, peer: &Rc<Peer>, topic: Bytes, subscribe: bool) {
        let verbose = base.options.borrow().xpub_verbose;
        let mut peer_subs = self.peer_subs.borrow_mut();
        let Some(subs) = peer_subs.get_mut(&peer.id()) else {
            return;
        };
        let union_changed;
        // A peer's subscriptions are a set, as in libzmq: a libzmq SUB/XSUB sends
        // SUBSCRIBE on every subscribe call but CANCEL only when its own count drops
        // to zero, so counting per peer here would keep it subscribed forever.
        let pass_up = if subscribe {
            let fresh = !subs.contains(&topic);
            if fresh {
                subs.add(&topic);
                self.subscribers.borrow_mut().add(&topic, peer);
            }
            let new = fresh && self.all_subs.borrow_mut().add(&topic);
            union_changed = new;
            new || verbose
        } else {
            if !subs.contains(&topic) {
                return;
            }
            subs.remove(&topic);
            self.subscribers.borrow_mut().remove(&topic, peer.id());
            union_changed = self.all_subs.borrow_mut().remove(&topic);
            union_changed
        };
        drop(peer_subs);
        if union_changed {
            if let Some(observer) = base.observer() {
                observer.union_changed(&topic, subscribe);
            }
        }
        if self.xpub && pass_up {
            base.enqueue(peer, subscription_message(&topic, subscribe));
        }
    }

    /// The subscriber left: its prefixes leave the index and the union.
    fn on_detach(&self, base: &SocketBase, peer: &Rc<Peer>) {
        let subs = self
            .peer_subs
            .borrow_mut()
            .remove(&peer.id())
            .unwrap_or_default();
        let mut gone = Vec::new();
        {
            let mut subscribers = self.subscribers.borrow_mut();
            for topic in subs.prefixes() {
                subscribers.remove(topic, peer.id());
            }
            let mut all = self.all_subs.borrow_mut();
            for (topic, count) in subs.iter() {
                for _ in 0..count {
                    if all.remove(topic) {
                        gone.push(topic.clone());
                    }
                }
            }
        }
        if let Some(observer) = base.observer() {
            for topic in &gone {
                observer.union_changed(topic, false);
            }
        }
        if self.xpub {
            for topic in gone {
                base.enqueue(peer, subscription_message(&topic, false));
            }
        }
    }
}

/// With no SNDHWM, a subscriber's queue reaches a mark every this many messages.
const UNBOUNDED_MARK: usize = 1024;

/// True when the message just queued brought a subscriber's queue to half its
/// SNDHWM (to another 1024 messages when unbounded). A publisher never waits, so it
/// yields then: the connection writes what has built up in one go before the queue
/// fills and messages are dropped.
#[inline]
fn at_mark(queued: Queued) -> bool {
    match queued.hwm {
        0 => queued.messages.is_multiple_of(UNBOUNDED_MARK),
        hwm => queued.messages == (hwm / 2).max(1),
    }
}

/// `\x01topic` or `\x00topic`, as XPUB's reader gets subscriptions.
fn subscription_message(topic: &[u8], subscribe: bool) -> Message {
    let mut frame = Vec::with_capacity(topic.len() + 1);
    frame.push(u8::from(subscribe));
    frame.extend_from_slice(topic);
    Message::single(frame)
}
