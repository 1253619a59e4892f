//! REP: receive a request, then send its reply, strictly alternating.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use monocoque_runtime::{Message, Peer, PeerId, Properties};
use monocoque_zmtp::SocketType;

use crate::base::{Rules, SocketBase};
use crate::socket_macros::{message_sink, non_empty, socket_type, try_sending};
use crate::{Error, Result, TrySendError};

socket_type!(
    /// Receives a request, then sends its reply, strictly alternating. Requests are
    /// fair-queued from all peers; each reply returns to the requester with its
    /// envelope.
    ///
    /// ```
    /// use monocoque::{Rep, Req};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let rep = Rep::new();
    ///     let endpoint = rep.bind("tcp://127.0.0.1:0")?.to_string();
    ///     let req = Req::new();
    ///     req.connect(&endpoint)?;
    ///     req.send("2 + 2").await?;
    ///     let request = rep.recv().await?; // the envelope is kept aside
    ///     assert_eq!(&request[0][..], b"2 + 2");
    ///     assert!(rep.recv().await.is_err()); // Error::State: the reply comes first
    ///     rep.send("4").await?;
    ///     assert_eq!(&req.recv().await?[0][..], b"4");
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    Rep,
    SocketType::Rep,
    state RepState = RepState::default()
);

impl Rep {
    /// Waits for the next request (its envelope is kept for the reply).
    pub async fn recv(&self) -> Result<Message> {
        self.check_turn()?;
        let (peer, msg) = self.base.recv().await?;
        Ok(self.open(peer, msg))
    }

    /// The next request if one has arrived (`Ok(None)` if not), with the errors of
    /// [`Rep::recv`].
    pub fn try_recv(&self) -> Result<Option<Message>> {
        self.check_turn()?;
        Ok(self
            .base
            .try_recv()?
            .map(|(peer, msg)| self.open(peer, msg)))
    }

    /// [`Rep::recv`], with the properties of the connection the request came from
    /// (see [`Properties`]): who the authenticator said the requester is, say.
    ///
    /// ```no_run
    /// # glommio::LocalExecutor::default().run(async {
    /// let rep = monocoque::Rep::new();
    /// rep.bind("tcp://*:5555")?;
    /// let (request, properties) = rep.recv_with_properties().await?;
    /// let user = properties.user_id().unwrap_or(b"anonymous");
    /// rep.send(vec![user.to_vec(), request[0].to_vec()]).await?;
    /// # Ok::<(), monocoque::Error>(()) });
    /// ```
    pub async fn recv_with_properties(&self) -> Result<(Message, Properties)> {
        self.check_turn()?;
        let (peer, msg, properties) = self.base.recv_with_properties().await?;
        Ok((self.open(peer, msg), properties))
    }

    fn check_turn(&self) -> Result<()> {
        if self.state.reply_to.borrow().is_some() {
            return Err(Error::State(
                "REP must send the reply before receiving again",
            ));
        }
        Ok(())
    }

    /// Keeps the envelope of the request `msg` from `peer` for the reply; returns the
    /// rest.
    fn open(&self, peer: PeerId, mut msg: Message) -> Message {
        let split = msg.iter().position(|f| f.is_empty()).map_or(0, |i| i + 1);
        let mut envelope = Message::new();
        for _ in 0..split {
            envelope.push(msg.pop_front().expect("frame counted"));
        }
        *self.state.reply_to.borrow_mut() = Some((peer, envelope));
        msg
    }

    /// Sends the reply to the request last received. The reply is dropped if the
    /// requester has gone (or is at SNDHWM, as in libzmq: a REP never waits). Fails
    /// with [`Error::State`] if no request is pending.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        match self.reply(non_empty(msg.into())?)? {
            Some((peer, reply)) => self.base.send_to(&peer, reply, false).await,
            None => Ok(()),
        }
    }

    /// [`Rep::send`] without yielding to the executor (a REP never waits for room),
    /// with the message handed back on an error.
    pub fn try_send(&self, msg: impl Into<Message>) -> std::result::Result<(), TrySendError> {
        try_sending(msg.into(), |msg| self.reply_now(msg))
    }

    /// `Sink::start_send`: as [`Rep::try_send`].
    fn sink_send(&self, msg: Message) -> Result<()> {
        Ok(self.reply_now(non_empty(msg)?)?)
    }

    /// The reply, queued or dropped at once (a REP never waits): refused, and handed
    /// back as it was given, only by the checks made before it is put in its
    /// envelope (open, on an executor, a request pending).
    fn reply_now(&self, msg: Message) -> std::result::Result<(), TrySendError> {
        match self.reply(msg)? {
            // Open (checked above), and never waiting: queued or dropped.
            Some((peer, reply)) => self.base.offer_to(&peer, reply, false),
            None => Ok(()),
        }
    }

    /// The requester and the reply `msg` in its envelope; None when the requester
    /// has gone. Refused (the message handed back, the request still pending) when the
    /// socket is closed or off an executor, or with no request pending.
    fn reply(
        &self,
        msg: Message,
    ) -> std::result::Result<Option<(Rc<Peer>, Message)>, TrySendError> {
        if let Err(e) = self.base.check_open() {
            return Err(TrySendError::new(e, msg));
        }
        let Some((peer, mut reply)) = self.state.reply_to.borrow_mut().take() else {
            let e = Error::State("REP must receive a request before replying");
            return Err(TrySendError::new(e, msg));
        };
        for frame in msg {
            reply.push(frame);
        }
        Ok(self.base.peer(peer).map(|peer| (peer, reply)))
    }
}

// Requests as a stream (each must be answered, through the sink or `send`, before
// the next is taken) and replies as a sink.
/// Requests as `recv` returns them, ending (`None`) once the socket is closed; out
/// of turn an `Err(Error::State)` item. RCVTIMEO does not apply (see
/// [`Pull`](crate::Pull)'s `Stream`).
impl futures_core::Stream for Rep {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Message>>> {
        if let Err(e) = self.check_turn() {
            return Poll::Ready(Some(Err(e)));
        }
        self.base
            .poll_stream(cx)
            .map(|next| next.map(|taken| taken.map(|(peer, msg)| self.open(peer, msg))))
    }
}

message_sink!(Rep, always_ready);

/// REP's state: where the reply to the request just received goes.
#[derive(Default)]
pub(crate) struct RepState {
    /// The requester and the envelope its reply must carry.
    reply_to: RefCell<Option<(PeerId, Message)>>,
}

impl Rules for RepState {
    /// A request must carry an envelope (an empty delimiter); others are dropped.
    fn on_message(&self, base: &SocketBase, peer: &Rc<Peer>, msg: Message) {
        if msg.iter().any(|f| f.is_empty()) {
            base.enqueue(peer, msg);
        }
    }
}
