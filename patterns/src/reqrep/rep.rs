//! REP: receive a request, then send its reply, strictly alternating.

use std::cell::RefCell;
use std::rc::Rc;

use monocoque_runtime::{Message, Peer, PeerId, Properties};
use monocoque_zmtp::SocketType;

use crate::base::{Rules, SocketBase};
use crate::socket_macros::{non_empty, socket_type};
use crate::{Error, Result};

socket_type!(
    /// Receives a request, then sends its reply, strictly alternating. Requests are
    /// fair-queued from all peers; each reply returns to the requester with its
    /// envelope.
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
    /// requester has gone. Fails with [`Error::State`] if no request is pending.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        self.base.check_executor()?;
        let msg = non_empty(msg.into())?;
        let (peer, mut reply) = self
            .state
            .reply_to
            .borrow_mut()
            .take()
            .ok_or(Error::State("REP must receive a request before replying"))?;
        for frame in msg {
            reply.push(frame);
        }
        match self.base.peer(peer) {
            Some(peer) => self.base.send_to(&peer, &reply, false).await,
            None => Ok(()),
        }
    }
}

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
