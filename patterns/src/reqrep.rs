//! REQ, REP, DEALER and ROUTER (RFC 28): request-reply and its asynchronous forms.

use monocoque_runtime::Message;
use monocoque_zmtp::SocketType;

use crate::socket::{fair_queued_recv, load_balanced_send, non_empty, socket_type};
use crate::{Error, Result};

socket_type!(
    /// Sends a request, then receives its reply, strictly alternating. Requests are
    /// load-balanced over the peers; only the peer asked may answer.
    ///
    /// ```no_run
    /// # glommio::LocalExecutor::default().run(async {
    /// let req = monocoque::Req::new();
    /// req.connect("tcp://127.0.0.1:5555")?;
    /// req.send("ping").await?;
    /// let reply = req.recv().await?;
    /// # Ok::<(), monocoque::Error>(()) });
    /// ```
    Req,
    SocketType::Req
);

impl Req {
    /// Sends a request. Fails with [`Error::State`] while the previous request's
    /// reply has not been received (unless REQ_RELAXED).
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        let mut msg = non_empty(msg.into())?;
        let opts = self.core.options.borrow().clone();
        {
            let mut routing = self.core.routing.borrow_mut();
            if routing.req_pending && !opts.req_relaxed {
                return Err(Error::State(
                    "REQ must receive the reply before sending another request",
                ));
            }
            routing.awaiting = None;
            routing.request_id = routing.request_id.wrapping_add(1);
            msg.push_front(bytes::Bytes::new());
            if opts.req_correlate {
                msg.push_front(bytes::Bytes::copy_from_slice(
                    &routing.request_id.to_be_bytes(),
                ));
            }
            routing.req_pending = true;
        }
        match self.core.send_load_balanced(&msg, false).await {
            Ok(peer) => {
                self.core.routing.borrow_mut().awaiting = Some(peer);
                Ok(())
            }
            Err(e) => {
                self.core.routing.borrow_mut().req_pending = false;
                Err(e)
            }
        }
    }

    /// Waits for the reply to the last request. Fails with [`Error::State`] if no
    /// request was sent.
    pub async fn recv(&self) -> Result<Message> {
        if !self.core.routing.borrow().req_pending {
            return Err(Error::State("REQ must send a request before receiving"));
        }
        let (_, msg) = self.core.recv().await?;
        self.core.routing.borrow_mut().req_pending = false;
        Ok(msg)
    }
}

socket_type!(
    /// Receives a request, then sends its reply, strictly alternating. Requests are
    /// fair-queued from all peers; each reply returns to the requester with its
    /// envelope.
    Rep,
    SocketType::Rep
);

impl Rep {
    /// Waits for the next request (its envelope is kept for the reply).
    pub async fn recv(&self) -> Result<Message> {
        if self.core.routing.borrow().reply_to.is_some() {
            return Err(Error::State(
                "REP must send the reply before receiving again",
            ));
        }
        let (peer, mut msg) = self.core.recv().await?;
        let split = msg.iter().position(|f| f.is_empty()).map_or(0, |i| i + 1);
        let mut envelope = Message::new();
        for _ in 0..split {
            envelope.push(msg.pop_front().expect("frame counted"));
        }
        self.core.routing.borrow_mut().reply_to = Some((peer, envelope));
        Ok(msg)
    }

    /// Sends the reply to the request last received. The reply is dropped if the
    /// requester has gone. Fails with [`Error::State`] if no request is pending.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        let msg = non_empty(msg.into())?;
        let (peer, mut reply) = self
            .core
            .routing
            .borrow_mut()
            .reply_to
            .take()
            .ok_or(Error::State("REP must receive a request before replying"))?;
        for frame in msg {
            reply.push(frame);
        }
        match self.core.peer(peer) {
            Some(peer) => self.core.send_to(&peer, &reply, false).await,
            None => Ok(()),
        }
    }
}

socket_type!(
    /// Sends round-robin to its peers and receives fair-queued from them, with no
    /// envelope rules: the asynchronous REQ.
    ///
    /// ```no_run
    /// # glommio::LocalExecutor::default().run(async {
    /// let dealer = monocoque::Dealer::new();
    /// dealer.connect("tcp://127.0.0.1:5555")?;
    /// dealer.send(vec!["", "hello"]).await?;
    /// let reply = dealer.recv().await?;
    /// # Ok::<(), monocoque::Error>(()) });
    /// ```
    Dealer,
    SocketType::Dealer
);

load_balanced_send!(Dealer);
fair_queued_recv!(Dealer);

socket_type!(
    /// Routes by peer identity: every received message starts with the sender's
    /// routing id, and every sent message starts with the recipient's. A peer's id is
    /// the Identity it announced, or a generated 5-byte id.
    ///
    /// ```no_run
    /// # glommio::LocalExecutor::default().run(async {
    /// let router = monocoque::Router::new();
    /// router.bind("tcp://*:5555")?;
    /// let msg = router.recv().await?; // [id, payload...]
    /// router.send(msg).await?;        // echoes to the sender
    /// # Ok::<(), monocoque::Error>(()) });
    /// ```
    Router,
    SocketType::Router
);

impl Router {
    /// Sends `msg` (first frame: the routing id) to that peer. An unknown id is
    /// dropped, or fails with [`Error::HostUnreachable`] under ROUTER_MANDATORY. A
    /// peer at SNDHWM misses the message, or is waited for under ROUTER_MANDATORY.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        let mut msg = msg.into();
        let id = msg.pop_front().ok_or(Error::InvalidMessage(
            "a ROUTER message starts with a routing id",
        ))?;
        let msg = non_empty(msg)?;
        let mandatory = self.core.options.borrow().router_mandatory;
        let peer = self.core.routing.borrow().routes.get(&id).cloned();
        match peer {
            Some(peer) => self.core.send_to(&peer, &msg, mandatory).await,
            None if mandatory => Err(Error::HostUnreachable(id.to_vec())),
            None => {
                crate::stats::Counters::add(&self.core.counters.unroutable, 1);
                Ok(())
            }
        }
    }
}

fair_queued_recv!(Router);
