//! SUB and XSUB: subscriptions sent to every publisher, and the filter on what
//! arrives.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use monocoque_runtime::{Message, Peer};
use monocoque_zmtp::SocketType;

use crate::base::{Rules, SocketBase};
use crate::socket_macros::{
    by_ref, fair_queued_recv, message_sink, non_empty, socket_type, try_sending,
};
use crate::stats::Counters;
use crate::subscriptions::SubscriptionSet;
use crate::{Result, TrySendError};

socket_type!(
    /// Receives the messages of its publishers that match its subscriptions (with
    /// [`Options::invert_matching`](crate::Options::invert_matching), those that
    /// match none). Subscriptions are sent to every publisher, again after each
    /// reconnect.
    ///
    /// ```
    /// use monocoque::{Sub, XPub};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let publisher = XPub::new(); // to see when the subscription arrives
    ///     let endpoint = publisher.bind("tcp://127.0.0.1:0")?.to_string();
    ///     let sub = Sub::new();
    ///     sub.connect(&endpoint)?;
    ///     sub.subscribe(b"weather.")?;
    ///     publisher.recv().await?; // b"\x01weather."
    ///     publisher.send(vec!["traffic.a1", "jam"]).await?;
    ///     publisher.send(vec!["weather.paris", "21C"]).await?;
    ///     let msg = sub.recv().await?; // the first that matches
    ///     assert_eq!(&msg[0][..], b"weather.paris");
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    Sub,
    SocketType::Sub,
    state Subscriber = Subscriber::new(false)
);

impl Sub {
    /// Subscribes to messages whose first frame starts with `prefix` (empty: all).
    /// Subscriptions are counted: subscribing twice needs two unsubscribes.
    pub fn subscribe(&self, prefix: &[u8]) -> Result<()> {
        change_subscription(&self.base, &self.state, prefix, true)
    }

    /// Removes one subscription to `prefix`.
    pub fn unsubscribe(&self, prefix: &[u8]) -> Result<()> {
        change_subscription(&self.base, &self.state, prefix, false)
    }
}

socket_type!(
    /// A SUB whose subscriptions are sent as messages: `\x01topic` subscribes,
    /// `\x00topic` cancels; it receives everything its publishers send it.
    ///
    /// ```
    /// use monocoque::{XPub, XSub};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let xpub = XPub::new();
    ///     let endpoint = xpub.bind("tcp://127.0.0.1:0")?.to_string();
    ///     let xsub = XSub::new();
    ///     xsub.connect(&endpoint)?;
    ///     xsub.send(b"\x01weather.").await?; // subscribe, sent again on reconnect
    ///     assert_eq!(&xpub.recv().await?[0][..], b"\x01weather.");
    ///     xpub.send(vec!["weather.paris", "21C"]).await?;
    ///     assert_eq!(&xsub.recv().await?[0][..], b"weather.paris");
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    XSub,
    SocketType::XSub,
    state Subscriber = Subscriber::new(true)
);

impl XSub {
    /// Sends a subscription message (`\x01topic` / `\x00topic`) to every publisher;
    /// any other message goes to every connected publisher as is.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        self.send_now(&non_empty(msg.into())?)
    }

    /// [`XSub::send`] (which never waits) with the message handed back on an error.
    pub fn try_send(&self, msg: impl Into<Message>) -> std::result::Result<(), TrySendError> {
        try_sending(msg.into(), by_ref(|msg| self.send_now(msg)))
    }

    fn sink_send(&self, msg: Message) -> Result<()> {
        self.send_now(&non_empty(msg)?)
    }

    fn send_now(&self, msg: &Message) -> Result<()> {
        self.base.check_executor()?;
        let first = &msg[0];
        if msg.len() == 1 && !first.is_empty() && first[0] <= 1 {
            return change_subscription(&self.base, &self.state, &first[1..], first[0] == 1);
        }
        for peer in self.base.out.borrow().iter() {
            if peer.is_attached() && peer.try_send(msg).is_err() {
                self.base.dropped_at_hwm(peer);
            }
        }
        Counters::add(&self.base.counters.sent, 1);
        Ok(())
    }
}

message_sink!(XSub, always_ready);

fair_queued_recv!(Sub);
fair_queued_recv!(XSub);

/// Records a subscription change of a SUB or XSUB and tells every connected peer.
pub(crate) fn change_subscription(
    base: &SocketBase,
    subscriber: &Subscriber,
    topic: &[u8],
    subscribe: bool,
) -> Result<()> {
    base.check_open()?;
    let changed = {
        let mut subs = subscriber.subscriptions.borrow_mut();
        if subscribe {
            subs.add(topic)
        } else {
            subs.remove(topic)
        }
    };
    if changed {
        let topic = Bytes::copy_from_slice(topic);
        for peer in base.peers.borrow().values() {
            if peer.is_attached() {
                peer.send_subscription(topic.clone(), subscribe);
            }
        }
    }
    Ok(())
}

/// SUB/XSUB state: our own subscriptions, resent on every connect.
pub(crate) struct Subscriber {
    /// XSUB: what arrives is not filtered.
    raw: bool,
    subscriptions: RefCell<SubscriptionSet>,
}

impl Subscriber {
    pub fn new(raw: bool) -> Subscriber {
        Subscriber {
            raw,
            subscriptions: RefCell::default(),
        }
    }
}

impl Rules for Subscriber {
    /// XSUB sends (subscription messages and others) to its publishers.
    fn sends_to_attached(&self) -> bool {
        self.raw
    }

    /// A new publisher gets every subscription.
    fn on_attach(&self, _base: &SocketBase, peer: &Rc<Peer>) -> std::result::Result<(), String> {
        peer.clear_subscriptions();
        for topic in self.subscriptions.borrow().prefixes() {
            peer.send_subscription(topic.clone(), true);
        }
        Ok(())
    }

    /// XSUB queues what arrives as it is.
    fn on_single_frames(&self, base: &SocketBase, peer: &Rc<Peer>, bodies: &mut Vec<Bytes>) {
        if self.raw {
            base.enqueue_bodies(peer, bodies);
        } else {
            for body in bodies.drain(..) {
                self.on_message(base, peer, Message::single(body));
            }
        }
    }

    /// SUB keeps only messages that match a subscription (with INVERT_MATCHING, only
    /// those that match none).
    fn on_message(&self, base: &SocketBase, peer: &Rc<Peer>, msg: Message) {
        if self.raw {
            return base.enqueue(peer, msg);
        }
        let topic = msg.frames().first().map(|f| &f[..]).unwrap_or(&[]);
        let invert = base.options.borrow().invert_matching;
        if self.subscriptions.borrow().matches(topic) != invert {
            base.enqueue(peer, msg);
        }
    }
}
