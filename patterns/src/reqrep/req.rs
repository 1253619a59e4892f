//! REQ: one request, then its reply, strictly alternating.

use std::cell::Cell;
use std::rc::Rc;

use bytes::Bytes;
use monocoque_runtime::{Message, Peer, PeerId, Properties};
use monocoque_zmtp::SocketType;

use crate::base::{Rules, SocketBase};
use crate::socket_macros::{non_empty, socket_type};
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
    SocketType::Req,
    state ReqState = ReqState::default()
);

impl Req {
    /// Sends a request. Fails with [`Error::State`] while the previous request's
    /// reply has not been received (unless REQ_RELAXED).
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        let mut msg = non_empty(msg.into())?;
        let state = &self.state;
        let (relaxed, correlate) = {
            let opts = self.base.options.borrow();
            (opts.req_relaxed, opts.req_correlate)
        };
        state.begin(&mut msg, relaxed, correlate)?;
        let sent = self.base.send_load_balanced(&msg, false).await;
        state.sent(sent.as_ref().ok().copied());
        sent.map(drop)
    }

    /// Waits for the reply to the last request. Fails with [`Error::State`] if no
    /// request was sent.
    pub async fn recv(&self) -> Result<Message> {
        self.reply(self.base.recv()).await.map(|(_, msg)| msg)
    }

    /// [`Req::recv`], with the properties of the connection the reply came from
    /// (see [`Properties`]).
    ///
    /// ```no_run
    /// # glommio::LocalExecutor::default().run(async {
    /// let req = monocoque::Req::new();
    /// req.connect("tcp://127.0.0.1:5555")?;
    /// req.send("ping").await?;
    /// let (reply, properties) = req.recv_with_properties().await?;
    /// println!("from a {:?} at {:?}", properties.socket_type(), properties.peer_address());
    /// # Ok::<(), monocoque::Error>(()) });
    /// ```
    pub async fn recv_with_properties(&self) -> Result<(Message, Properties)> {
        let (_, msg, properties) = self.reply(self.base.recv_with_properties()).await?;
        Ok((msg, properties))
    }

    /// Receives with `recv` if a reply is awaited.
    async fn reply<T>(&self, recv: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        // Off an executor, that is the problem to report (no request could be sent).
        self.base.check_executor()?;
        let state = &self.state;
        if !state.pending.get() {
            return Err(Error::State("REQ must send a request before receiving"));
        }
        let reply = recv.await?;
        state.pending.set(false);
        Ok(reply)
    }
}

/// REQ's state: the request in flight and the peer that must answer it.
#[derive(Default)]
pub(crate) struct ReqState {
    /// The peer whose reply we wait for.
    awaiting: Cell<Option<PeerId>>,
    /// A request was sent and its reply not yet received.
    pending: Cell<bool>,
    /// Request id for REQ_CORRELATE.
    request_id: Cell<u32>,
}

impl ReqState {
    /// Starts a request: wraps `msg` in its envelope (the empty delimiter, and the
    /// request id first when correlating).
    fn begin(&self, msg: &mut Message, relaxed: bool, correlate: bool) -> Result<()> {
        if self.pending.get() && !relaxed {
            return Err(Error::State(
                "REQ must receive the reply before sending another request",
            ));
        }
        self.awaiting.set(None);
        let id = self.request_id.get().wrapping_add(1);
        self.request_id.set(id);
        msg.push_front(Bytes::new());
        if correlate {
            msg.push_front(Bytes::copy_from_slice(&id.to_be_bytes()));
        }
        self.pending.set(true);
        Ok(())
    }

    /// The request went to `peer` (None: it could not be sent).
    fn sent(&self, peer: Option<PeerId>) {
        match peer {
            Some(peer) => self.awaiting.set(Some(peer)),
            None => self.pending.set(false),
        }
    }

    fn accept_reply(&self, peer: &Peer, mut msg: Message, correlate: bool) -> Option<Message> {
        if self.awaiting.get() != Some(peer.id()) {
            return None;
        }
        if correlate {
            let id = msg.pop_front()?;
            if id[..] != self.request_id.get().to_be_bytes() {
                return None;
            }
        }
        if !msg.pop_front()?.is_empty() {
            return None;
        }
        self.awaiting.set(None);
        Some(msg)
    }
}

impl Rules for ReqState {
    fn queues_before_connect(&self) -> bool {
        true
    }

    fn sends_to_attached(&self) -> bool {
        true
    }

    /// A reply must come from the peer we asked, carry our request id when
    /// correlating, and start with the empty delimiter; anything else is dropped.
    fn on_message(&self, base: &SocketBase, peer: &Rc<Peer>, msg: Message) {
        let correlate = base.options.borrow().req_correlate;
        if let Some(reply) = self.accept_reply(peer, msg, correlate) {
            base.enqueue(peer, reply);
        }
    }
}
