//! PUB, SUB, XPUB and XSUB (RFC 29): topic-filtered fan-out.

use monocoque_runtime::Message;
use monocoque_zmtp::SocketType;

use crate::socket::{fair_queued_recv, non_empty, socket_type};
use crate::stats::Counters;
use crate::Result;

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
    SocketType::Pub
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
        publish(&self.core, msg.into()).await
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
            publish(&self.core, msg.into()).await?;
            n += 1;
        }
        Ok(n)
    }
}

/// PUB/XPUB send: fan-out, then a yield when a subscriber's queue reached its mark
/// or the time slice is over.
async fn publish(core: &crate::core::Core, msg: Message) -> Result<()> {
    let due = core.fan_out(&non_empty(msg)?)?;
    Counters::add(&core.counters.sent, 1);
    if due {
        core.yield_now().await;
    }
    Ok(())
}

socket_type!(
    /// Receives the messages of its publishers that match its subscriptions.
    /// Subscriptions are sent to every publisher, again after each reconnect.
    ///
    /// ```no_run
    /// # glommio::LocalExecutor::default().run(async {
    /// let sub = monocoque::Sub::new();
    /// sub.connect("tcp://127.0.0.1:5556")?;
    /// sub.subscribe(b"weather.")?;
    /// let msg = sub.recv().await?;
    /// # Ok::<(), monocoque::Error>(()) });
    /// ```
    Sub,
    SocketType::Sub
);

impl Sub {
    /// Subscribes to messages whose first frame starts with `prefix` (empty: all).
    /// Subscriptions are counted: subscribing twice needs two unsubscribes.
    pub fn subscribe(&self, prefix: &[u8]) -> Result<()> {
        self.core.change_subscription(prefix, true)
    }

    /// Removes one subscription to `prefix`.
    pub fn unsubscribe(&self, prefix: &[u8]) -> Result<()> {
        self.core.change_subscription(prefix, false)
    }
}

socket_type!(
    /// A PUB whose subscriptions can be read: `recv` returns `\x01topic` for each new
    /// subscription and `\x00topic` when the last subscriber of a topic cancels or
    /// leaves (every subscription with XPUB_VERBOSE).
    XPub,
    SocketType::XPub
);

impl XPub {
    /// Publishes `msg` to the matching subscribers, as [`Pub::send`] does.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        publish(&self.core, msg.into()).await
    }
}

socket_type!(
    /// A SUB whose subscriptions are sent as messages: `\x01topic` subscribes,
    /// `\x00topic` cancels; it receives everything its publishers send it.
    XSub,
    SocketType::XSub
);

impl XSub {
    /// Sends a subscription message (`\x01topic` / `\x00topic`) to every publisher;
    /// any other message goes to every connected publisher as is.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        let msg = non_empty(msg.into())?;
        let first = &msg[0];
        if msg.len() == 1 && !first.is_empty() && first[0] <= 1 {
            return self.core.change_subscription(&first[1..], first[0] == 1);
        }
        for peer in self.core.out.borrow().iter() {
            if peer.is_attached() && peer.try_send(&msg).is_err() {
                self.core.dropped_at_hwm(peer);
            }
        }
        Counters::add(&self.core.counters.sent, 1);
        Ok(())
    }
}

fair_queued_recv!(Sub);
fair_queued_recv!(XPub);
fair_queued_recv!(XSub);
