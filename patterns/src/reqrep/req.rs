//! REQ: one request, then its reply, strictly alternating.

use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use monocoque_runtime::{Message, Peer, PeerId, Properties};
use monocoque_zmtp::SocketType;

use crate::base::{Rules, SocketBase};
use crate::socket_macros::{message_sink, non_empty, socket_type, try_sending};
use crate::{Error, Result, TrySendError};

socket_type!(
    /// Sends a request, then receives its reply, strictly alternating. Requests are
    /// load-balanced over the peers; only the peer asked may answer.
    ///
    /// ```
    /// use monocoque::{Rep, Req};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let rep = Rep::new();
    ///     let endpoint = rep.bind("tcp://127.0.0.1:0")?.to_string();
    ///     let req = Req::new();
    ///     req.connect(&endpoint)?;
    ///     req.send("ping").await?;
    ///     assert!(req.send("again").await.is_err()); // Error::State: reply first
    ///     let request = rep.recv().await?;
    ///     rep.send(request).await?; // echo
    ///     assert_eq!(&req.recv().await?[0][..], b"ping");
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    Req,
    SocketType::Req,
    state ReqState = ReqState::default()
);

impl Req {
    /// Sends a request, waiting for a peer with room for at most SNDTIMEO. Fails
    /// with [`Error::State`] while the previous request's reply has not been received
    /// (unless REQ_RELAXED). Cancel-safe as [`Dealer::send`](crate::Dealer::send): a
    /// request whose `send` was dropped still goes out, and its reply is the one
    /// [`Req::recv`] waits for.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        let mut msg = non_empty(msg.into())?;
        self.begin(&mut msg)?;
        let sent = self.base.send_load_balanced(msg, false).await;
        self.state.sent(sent.as_ref().ok().copied());
        sent.map(drop)
    }

    /// Sends a request if a peer has room now, or hands it back (see
    /// [`Dealer::try_send`](crate::Dealer::try_send)) without the envelope it added;
    /// the REQ is then ready for another `send`. Under REQ_RELAXED, a request still
    /// awaiting its reply is forgotten by the attempt, refused or not (libzmq's REQ
    /// also drops it before it tries to send).
    pub fn try_send(&self, msg: impl Into<Message>) -> std::result::Result<(), TrySendError> {
        try_sending(msg.into(), |mut msg| {
            let frames = msg.len();
            if let Err(e) = self.begin(&mut msg) {
                return Err(TrySendError::new(e, msg));
            }
            match self.base.try_send_now(msg) {
                Ok(peer) => {
                    self.state.sent(Some(peer));
                    Ok(())
                }
                Err(refused) => {
                    self.state.sent(None);
                    // Handed back as it was given: without the envelope begin() added.
                    let (error, mut msg) = refused.into_parts();
                    while msg.len() > frames {
                        msg.pop_front();
                    }
                    Err(TrySendError::new(error, msg))
                }
            }
        })
    }

    fn begin(&self, msg: &mut Message) -> Result<()> {
        let (relaxed, correlate) = {
            let opts = self.base.options.borrow();
            (opts.req_relaxed, opts.req_correlate)
        };
        self.state.begin(msg, relaxed, correlate)
    }

    /// Waits for the reply to the last request, for at most RCVTIMEO. Fails with
    /// [`Error::State`] if no request was sent. After a [`Error::Timeout`] the REQ
    /// still awaits that reply, as libzmq's does; with REQ_RELAXED
    /// ([`Options::req_relaxed`](crate::Options::req_relaxed)) it may send a new
    /// request instead, and the late reply to the old one is then dropped when
    /// REQ_CORRELATE is set too. A request sent while no server is connected
    /// waits in the queue of a connect peer (as in libzmq), so a client that resends
    /// after each timeout delivers every copy once the server appears; set
    /// IMMEDIATE ([`Options::immediate`](crate::Options::immediate)) with SNDTIMEO
    /// to have such sends time out instead (pyzmq's lazy-pirate client closes and
    /// reopens its socket for the same reason).
    pub async fn recv(&self) -> Result<Message> {
        self.reply(self.base.recv()).await.map(|(_, msg)| msg)
    }

    /// The reply to the last request if it has arrived (`Ok(None)` if not), with
    /// the errors of [`Req::recv`].
    pub fn try_recv(&self) -> Result<Option<Message>> {
        self.check_turn()?;
        let reply = self.base.try_recv()?;
        if reply.is_some() {
            self.state.pending.set(false);
        }
        Ok(reply.map(|(_, msg)| msg))
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
        self.check_turn()?;
        let reply = recv.await?;
        self.state.pending.set(false);
        Ok(reply)
    }

    /// A receive is in turn: a request awaits its reply. Off an executor, that is
    /// the problem to report (no request could have been sent).
    fn check_turn(&self) -> Result<()> {
        self.base.check_executor()?;
        if self.state.pending.get() {
            Ok(())
        } else {
            Err(Error::State("REQ must send a request before receiving"))
        }
    }
}

// Replies as a stream (each after its request, sent through the sink or `send`) and
// requests as a sink.
/// Replies as `recv` returns them, ending (`None`) once the socket is closed; out
/// of turn an `Err(Error::State)` item. RCVTIMEO does not apply (see
/// [`Pull`](crate::Pull)'s `Stream`).
impl futures_core::Stream for Req {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Message>>> {
        if let Err(e) = self.check_turn() {
            return Poll::Ready(Some(Err(e)));
        }
        let next = self.base.poll_stream(cx);
        if let Poll::Ready(Some(Ok(_))) = next {
            self.state.pending.set(false);
        }
        next.map(|next| next.map(|taken| taken.map(|(_, msg)| msg)))
    }
}

impl Req {
    /// `Sink::start_send`: a request as [`Req::send`] sends it, with the turn checked
    /// here, buffered until the sink is flushed.
    fn sink_send(&self, msg: Message) -> Result<()> {
        let mut msg = non_empty(msg)?;
        self.begin(&mut msg)?;
        if let Some(peer) = self.base.start_send_load_balanced(msg)? {
            self.state.sent(Some(peer));
        }
        Ok(())
    }
}

message_sink!(Req, room: |socket, cx| socket.base().poll_room(cx));

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

    /// A request whose `send` was cancelled went to `peer` after all: its reply is
    /// the one to wait for.
    fn late_sent(&self, peer: PeerId) {
        if self.pending.get() {
            self.awaiting.set(Some(peer));
        }
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
