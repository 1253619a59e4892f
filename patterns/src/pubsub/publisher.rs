//! PUB and XPUB: fan-out to the subscribers whose prefixes match, and the
//! subscriptions they send.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use ahash::AHashMap;
use bytes::Bytes;
use monocoque_runtime::coop;
use monocoque_runtime::{Message, Peer, PeerId, Queued};
use monocoque_zmtp::SocketType;

use crate::base::{Rules, SocketBase};
use crate::socket_macros::{
    by_ref, fair_queued_recv, message_sink, non_empty, socket_type, try_sending,
};
use crate::stats::Counters;
use crate::subscriptions::{SubscriberIndex, SubscriptionSet};
use crate::{Error, Result, TrySendError};

socket_type!(
    /// Publishes each message to every subscriber whose subscription is a prefix of
    /// the message's first frame. A subscriber at SNDHWM misses messages; the others
    /// are never slowed. Payloads are shared, not copied, between subscribers.
    ///
    /// ```
    /// use std::time::Duration;
    /// use monocoque::{Pub, Sub};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let publisher = Pub::new();
    ///     let endpoint = publisher.bind("tcp://127.0.0.1:0")?.to_string();
    ///     let subscriber = Sub::new();
    ///     subscriber.connect(&endpoint)?;
    ///     subscriber.subscribe(b"weather.")?;
    ///     // A PUB cannot tell when a subscription has arrived (use an XPub for
    ///     // that): until it has, what it publishes goes nowhere.
    ///     let msg = loop {
    ///         publisher.send(vec!["traffic.a1", "jam"]).await?; // never delivered
    ///         publisher.send(vec!["weather.paris", "21C"]).await?;
    ///         glommio::timer::sleep(Duration::from_millis(10)).await;
    ///         if let Some(msg) = subscriber.try_recv()? {
    ///             break msg;
    ///         }
    ///     };
    ///     assert_eq!(&msg[0][..], b"weather.paris");
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
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
    ///
    /// With XPUB_NODROP ([`Options::xpub_nodrop`](crate::Options::xpub_nodrop)) it
    /// waits instead, up to SNDTIMEO, until every subscriber the message is for has
    /// room.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        publish(&self.base, &self.state, msg.into()).await
    }

    /// Publishes `msg` as [`Pub::send`] does (a PUB never waits), without yielding to
    /// the executor: a loop of `try_send` must await something else now and then, or
    /// its subscribers' connections never get to write. With XPUB_NODROP it fails
    /// with [`Error::WouldBlock`] instead, and hands the message back, when a
    /// subscriber the message is for is at SNDHWM (nobody gets it then).
    pub fn try_send(&self, msg: impl Into<Message>) -> std::result::Result<(), TrySendError> {
        try_sending(
            msg.into(),
            by_ref(|msg| try_publish_here(&self.base, &self.state, msg).map(drop)),
        )
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

/// PUB/XPUB send: fan-out (waiting for room under XPUB_NODROP), then a yield when a
/// subscriber's queue reached its mark or the time slice is over.
async fn publish(base: &SocketBase, publisher: &Publisher, msg: Message) -> Result<()> {
    if publish_here(base, publisher, &non_empty(msg)?).await? {
        base.yield_now().await;
    }
    Ok(())
}

/// The fan-out of a send to this socket's (or shard's) own subscribers, counted in
/// `sent`: at once, dropping for subscribers at SNDHWM; or, under XPUB_NODROP, once
/// every subscriber the message is for has room, waiting up to SNDTIMEO. True when a
/// yield is due. A send dropped while it waits publishes past SNDHWM.
pub(crate) async fn publish_here(
    base: &SocketBase,
    publisher: &Publisher,
    msg: &Message,
) -> Result<bool> {
    if let Some(due) = publish_now(base, publisher, msg, at_hwm(base, AtHwm::Refuse))? {
        return Ok(due);
    }
    // XPUB_NODROP, and a subscriber without room: the message waits (and is the
    // socket's from now on, whatever becomes of this future).
    let mut waiting = Unpublished {
        base,
        publisher,
        msg: Some(msg.clone()),
    };
    let limit = base.options.borrow().sndtimeo;
    let done = base
        .until_room(limit, || {
            publish_now(base, publisher, waiting.message(), AtHwm::Refuse)
        })
        .await;
    waiting.msg = None;
    done
}

/// A message an XPUB_NODROP send waits to publish: published past SNDHWM if the
/// send's future is dropped first (the message belonged to the socket once `send`
/// was called, as with every Monocoque send).
struct Unpublished<'a> {
    base: &'a SocketBase,
    publisher: &'a Publisher,
    msg: Option<Message>,
}

impl Unpublished<'_> {
    fn message(&self) -> &Message {
        self.msg.as_ref().expect("held until the send returns")
    }
}

impl Drop for Unpublished<'_> {
    fn drop(&mut self) {
        if let Some(msg) = self.msg.take() {
            let _ = publish_now(self.base, self.publisher, &msg, AtHwm::Exceed);
        }
    }
}

/// `Sink::start_send` of PUB and XPUB: the fan-out, with the yield it may ask for
/// left to the sink's next `poll_ready`. Under XPUB_NODROP a subscriber at SNDHWM
/// gets the message past its mark (a sink cannot wait for one message's
/// subscribers).
fn sink_publish(base: &SocketBase, publisher: &Publisher, msg: Message) -> Result<()> {
    let msg = non_empty(msg)?;
    if publish_now(base, publisher, &msg, at_hwm(base, AtHwm::Exceed))? == Some(true) {
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

message_sink!(Pub, always_ready);
message_sink!(XPub, always_ready);

/// [`publish_here`] without waiting (`try_send` of PUB and XPUB):
/// [`Error::WouldBlock`] when XPUB_NODROP would wait. True when a yield is due.
pub(crate) fn try_publish_here(
    base: &SocketBase,
    publisher: &Publisher,
    msg: &Message,
) -> Result<bool> {
    publish_now(base, publisher, msg, at_hwm(base, AtHwm::Refuse))?.ok_or(Error::WouldBlock)
}

/// What a fan-out does for a subscriber at SNDHWM: PUB's rule, or under XPUB_NODROP
/// `nodrop` (refuse, so as to wait or hand the message back; or, where nothing can
/// wait, exceed the mark).
fn at_hwm(base: &SocketBase, nodrop: AtHwm) -> AtHwm {
    if base.options.borrow().xpub_nodrop {
        nodrop
    } else {
        AtHwm::Drop
    }
}

/// The fan-out of a PUB/XPUB send, counted in `sent` when it happened: whether a
/// yield is due, or None when [`AtHwm::Refuse`] found a subscriber without room.
fn publish_now(
    base: &SocketBase,
    publisher: &Publisher,
    msg: &Message,
    at_hwm: AtHwm,
) -> Result<Option<bool>> {
    let due = publisher.fan_out_with(base, msg, at_hwm)?;
    if due.is_some() {
        Counters::add(&base.counters.sent, 1);
    }
    Ok(due)
}

/// What a fan-out does for a subscriber at SNDHWM.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtHwm {
    /// It misses the message (PUB's rule).
    Drop,
    /// Nobody gets the message (XPUB_NODROP).
    Refuse,
    /// It gets the message past its mark (a cancelled XPUB_NODROP send).
    Exceed,
}

socket_type!(
    /// A PUB whose subscriptions can be read: `recv` returns `\x01topic` for each new
    /// subscription and `\x00topic` when the last subscriber of a topic cancels or
    /// leaves (every subscription with XPUB_VERBOSE).
    ///
    /// ```
    /// use monocoque::{Sub, XPub};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let xpub = XPub::new();
    ///     let endpoint = xpub.bind("tcp://127.0.0.1:0")?.to_string();
    ///     let sub = Sub::new();
    ///     sub.connect(&endpoint)?;
    ///     sub.subscribe(b"prices.")?;
    ///     // Once the subscription is read, it is in force: no slow joiner.
    ///     assert_eq!(&xpub.recv().await?[0][..], b"\x01prices.");
    ///     xpub.send(vec!["prices.ACME", "101.25"]).await?;
    ///     assert_eq!(&sub.recv().await?[1][..], b"101.25");
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
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
        try_sending(
            msg.into(),
            by_ref(|msg| try_publish_here(&self.base, &self.state, msg).map(drop)),
        )
    }

    /// XPUB_MANUAL ([`Options::xpub_manual`](crate::Options::xpub_manual)):
    /// subscribes the subscriber whose message `recv` returned last to `topic`
    /// (libzmq's `ZMQ_SUBSCRIBE` on an XPUB). A subscriber's subscriptions are a set:
    /// subscribing it twice to a topic is subscribing it once. Does nothing when no
    /// message was received yet or its subscriber has left since; fails with
    /// [`Error::State`] without XPUB_MANUAL.
    ///
    /// ```no_run
    /// # glommio::LocalExecutor::default().run(async {
    /// use monocoque::{Options, XPub};
    ///
    /// let xpub = XPub::with_options(Options::default().xpub_manual(true));
    /// xpub.bind("tcp://127.0.0.1:5556")?;
    /// let request = xpub.recv().await?; // b"\x01topic" from some subscriber
    /// if request[0].starts_with(b"\x01weather.") {
    ///     // Grant it the whole weather feed instead of what it asked for.
    ///     xpub.subscribe(b"weather.")?;
    /// }
    /// # Ok::<(), monocoque::Error>(()) });
    /// ```
    pub fn subscribe(&self, topic: &[u8]) -> Result<()> {
        self.state.manual_change(&self.base, topic, true)
    }

    /// XPUB_MANUAL: removes `topic` from the subscriptions of the subscriber whose
    /// message `recv` returned last (libzmq's `ZMQ_UNSUBSCRIBE` on an XPUB), as
    /// [`XPub::subscribe`] adds one.
    pub fn unsubscribe(&self, topic: &[u8]) -> Result<()> {
        self.state.manual_change(&self.base, topic, false)
    }
}

fair_queued_recv!(XPub);

/// PUB/XPUB state: every subscriber's prefixes, indexed for fan-out.
pub(crate) struct Publisher {
    /// XPUB: subscriptions are passed up to the reader.
    xpub: bool,
    /// Each subscriber's prefixes.
    peer_subs: RefCell<AHashMap<PeerId, SubscriptionSet>>,
    /// XPUB_MANUAL: the topics each subscriber asked for (what it cancels when it
    /// leaves), whatever the application applied.
    requested: RefCell<AHashMap<PeerId, SubscriptionSet>>,
    /// Prefix → subscribers, for fan-out.
    subscribers: RefCell<SubscriberIndex>,
    /// The union over subscribers (counted), to pass up only new topics and to tell a
    /// sharded socket's other cores.
    all_subs: RefCell<SubscriptionSet>,
}

/// What a subscription change did to a subscriber's set.
enum Applied {
    /// The subscriber is not (or no longer) attached.
    Unknown,
    /// It had the topic already (subscribe), or did not have it (cancel).
    Unchanged,
    /// Its set changed; `union`: the topic also joined or left the union.
    Changed { union: bool },
}

impl Publisher {
    pub fn new(xpub: bool) -> Publisher {
        Publisher {
            xpub,
            peer_subs: RefCell::default(),
            requested: RefCell::default(),
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
    /// thread's time slice is over ([`coop::spend`]). With INVERT_MATCHING the
    /// message goes to the subscribers that do not match instead.
    pub fn fan_out(&self, base: &SocketBase, msg: &Message) -> Result<bool> {
        Ok(self.fan_out_with(base, msg, AtHwm::Drop)?.unwrap_or(false))
    }

    /// XPUB_NODROP's fan-out of a publish counted elsewhere (a sharded handle's):
    /// waits, with no limit, until every subscriber the message is for has room.
    pub(crate) async fn fan_out_when_room(&self, base: &SocketBase, msg: &Message) -> Result<()> {
        base.until_room(None, || self.fan_out_with(base, msg, AtHwm::Refuse))
            .await
            .map(drop)
    }

    /// [`Publisher::fan_out`] with the given rule for subscribers at SNDHWM: None
    /// when it is [`AtHwm::Refuse`] and one of the message's subscribers has no room
    /// (nothing was queued then).
    pub fn fan_out_with(
        &self,
        base: &SocketBase,
        msg: &Message,
        at_hwm: AtHwm,
    ) -> Result<Option<bool>> {
        base.check_open()?;
        let topic = msg.frames().first().map(|f| &f[..]).unwrap_or(&[]);
        let invert = base.options.borrow().invert_matching;
        if at_hwm == AtHwm::Refuse {
            let mut full = false;
            self.for_each_target(base, topic, invert, |peer| full |= !peer.has_room());
            if full {
                return Ok(None);
            }
        }
        let mut marked = false;
        let mut matched = 0u32;
        self.for_each_target(base, topic, invert, |peer| {
            matched += 1;
            if at_hwm == AtHwm::Exceed && !peer.has_room() {
                peer.queue(Cow::Borrowed(msg), true);
                return;
            }
            match peer.try_send(msg) {
                Ok(queued) => marked |= at_mark(queued),
                Err(_) => base.dropped_at_hwm(peer),
            }
        });
        Ok(Some(coop::spend(matched + 1) | marked))
    }

    /// Calls `f` for each subscriber `topic` is for: those with a matching prefix,
    /// or with `invert` (INVERT_MATCHING) every attached subscriber without one.
    #[inline]
    fn for_each_target(
        &self,
        base: &SocketBase,
        topic: &[u8],
        invert: bool,
        mut f: impl FnMut(&Peer),
    ) {
        let subscribers = self.subscribers.borrow();
        if !invert {
            subscribers.for_each_match(topic, f);
            return;
        }
        let mut matching: smallvec::SmallVec<[PeerId; 16]> = smallvec::SmallVec::new();
        subscribers.for_each_match(topic, |peer| matching.push(peer.id()));
        matching.sort_unstable();
        for peer in base.out.borrow().iter() {
            if matching.binary_search(&peer.id()).is_err() {
                f(peer);
            }
        }
    }

    /// Adds `topic` to (or removes it from) `peer`'s subscriptions, keeping the
    /// index and the union (and a sharded socket's other cores) up to date.
    fn apply(&self, base: &SocketBase, peer: &Rc<Peer>, topic: &Bytes, subscribe: bool) -> Applied {
        let mut peer_subs = self.peer_subs.borrow_mut();
        let Some(subs) = peer_subs.get_mut(&peer.id()) else {
            return Applied::Unknown;
        };
        // A peer's subscriptions are a set, as in libzmq: a libzmq SUB/XSUB sends
        // SUBSCRIBE on every subscribe call but CANCEL only when its own count drops
        // to zero, so counting per peer here would keep it subscribed forever.
        let union = if subscribe {
            if subs.contains(topic) {
                return Applied::Unchanged;
            }
            subs.add(topic);
            self.subscribers.borrow_mut().add(topic, peer);
            self.all_subs.borrow_mut().add(topic)
        } else {
            if !subs.contains(topic) {
                return Applied::Unchanged;
            }
            subs.remove(topic);
            self.subscribers.borrow_mut().remove(topic, peer.id());
            self.all_subs.borrow_mut().remove(topic)
        };
        drop(peer_subs);
        if union {
            if let Some(observer) = base.observer() {
                observer.union_changed(topic, subscribe);
            }
        }
        if !subscribe {
            // An XPUB_NODROP send waiting for this subscriber need not any more.
            base.send_room.notify_all();
        }
        Applied::Changed { union }
    }

    /// XPUB_MANUAL: applies a change to the subscriber of the message received last.
    pub fn manual_change(&self, base: &SocketBase, topic: &[u8], subscribe: bool) -> Result<()> {
        base.check_open()?;
        if !self.manual(base) {
            return Err(Error::State(
                "an XPUB subscribes its peers itself only with XPUB_MANUAL",
            ));
        }
        if let Some(peer) = base.last_sender() {
            self.manual_change_for(base, peer, &Bytes::copy_from_slice(topic), subscribe);
        }
        Ok(())
    }

    /// XPUB_MANUAL: applies a change to subscriber `peer` (nothing if it has gone).
    pub(crate) fn manual_change_for(
        &self,
        base: &SocketBase,
        peer: PeerId,
        topic: &Bytes,
        subscribe: bool,
    ) {
        if let Some(peer) = base.peer(peer) {
            self.apply(base, &peer, topic, subscribe);
        }
    }

    fn manual(&self, base: &SocketBase) -> bool {
        self.xpub && base.options.borrow().xpub_manual
    }
}

impl Rules for Publisher {
    fn sends_to_attached(&self) -> bool {
        true
    }

    fn on_attach(&self, base: &SocketBase, peer: &Rc<Peer>) -> std::result::Result<(), String> {
        self.peer_subs
            .borrow_mut()
            .insert(peer.id(), SubscriptionSet::default());
        if self.manual(base) {
            self.requested
                .borrow_mut()
                .insert(peer.id(), SubscriptionSet::default());
        }
        let welcome = base.options.borrow().xpub_welcome_msg.clone();
        if let Some(welcome) = welcome.filter(|w| !w.is_empty()) {
            // XPUB_WELCOME_MSG: the first thing the new subscriber gets.
            peer.send_ahead(&Message::single(welcome));
        }
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
        if self.manual(base) {
            // XPUB_MANUAL: the application decides; it sees every request.
            let mut requested = self.requested.borrow_mut();
            let Some(asked) = requested.get_mut(&peer.id()) else {
                return;
            };
            if !subscribe {
                asked.remove(&topic);
            } else if !asked.contains(&topic) {
                asked.add(&topic);
            }
            drop(requested);
            base.enqueue(peer, subscription_message(&topic, subscribe));
            return;
        }
        let verbose = base.options.borrow().xpub_verbose;
        let pass_up = match (self.apply(base, peer, &topic, subscribe), subscribe) {
            (Applied::Unknown, _) | (Applied::Unchanged, false) => return,
            (Applied::Unchanged, true) => verbose,
            (Applied::Changed { union }, true) => union || verbose,
            (Applied::Changed { union }, false) => union,
        };
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
        // An XPUB_NODROP send waiting for this subscriber need not any more.
        base.send_room.notify_all();
        let requested = self.requested.borrow_mut().remove(&peer.id());
        if let Some(requested) = requested {
            // XPUB_MANUAL: a cancel for every topic it had asked for, as libzmq does.
            for topic in requested.prefixes() {
                base.enqueue(peer, subscription_message(topic, false));
            }
        } else if self.xpub {
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
