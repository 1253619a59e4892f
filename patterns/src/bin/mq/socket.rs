//! One value for any socket type, so the rest of `mq` need not be generic: it
//! forwards to the typed socket and reports the operations a type lacks as errors.

use monocoque::{
    Bytes, Dealer, Endpoint, Error, Message, Options, Pair, Pub, Pull, Push, Rep, Req, Result,
    Router, SocketType, Sub, XPub, XSub,
};

/// A socket of any of the eleven types.
pub enum AnySocket {
    /// PAIR.
    Pair(Pair),
    /// PUB.
    Pub(Pub),
    /// SUB.
    Sub(Sub),
    /// REQ.
    Req(Req),
    /// REP.
    Rep(Rep),
    /// DEALER.
    Dealer(Dealer),
    /// ROUTER.
    Router(Router),
    /// PULL.
    Pull(Pull),
    /// PUSH.
    Push(Push),
    /// XPUB.
    XPub(XPub),
    /// XSUB.
    XSub(XSub),
}

/// Runs `$body` with `$s` bound to the typed socket, whatever the variant.
macro_rules! each {
    ($value:expr, $s:ident => $body:expr) => {
        match $value {
            AnySocket::Pair($s) => $body,
            AnySocket::Pub($s) => $body,
            AnySocket::Sub($s) => $body,
            AnySocket::Req($s) => $body,
            AnySocket::Rep($s) => $body,
            AnySocket::Dealer($s) => $body,
            AnySocket::Router($s) => $body,
            AnySocket::Pull($s) => $body,
            AnySocket::Push($s) => $body,
            AnySocket::XPub($s) => $body,
            AnySocket::XSub($s) => $body,
        }
    };
}

impl AnySocket {
    /// Creates a socket of type `kind` on the current executor.
    pub fn new(kind: SocketType, options: Options) -> AnySocket {
        match kind {
            SocketType::Pair => AnySocket::Pair(Pair::with_options(options)),
            SocketType::Pub => AnySocket::Pub(Pub::with_options(options)),
            SocketType::Sub => AnySocket::Sub(Sub::with_options(options)),
            SocketType::Req => AnySocket::Req(Req::with_options(options)),
            SocketType::Rep => AnySocket::Rep(Rep::with_options(options)),
            SocketType::Dealer => AnySocket::Dealer(Dealer::with_options(options)),
            SocketType::Router => AnySocket::Router(Router::with_options(options)),
            SocketType::Pull => AnySocket::Pull(Pull::with_options(options)),
            SocketType::Push => AnySocket::Push(Push::with_options(options)),
            SocketType::XPub => AnySocket::XPub(XPub::with_options(options)),
            SocketType::XSub => AnySocket::XSub(XSub::with_options(options)),
        }
    }

    /// Listens on `endpoint`; returns the endpoint actually bound.
    pub fn bind(&self, endpoint: &str) -> Result<Endpoint> {
        each!(self, s => s.bind(endpoint))
    }

    /// Connects to `endpoint` in the background.
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        each!(self, s => s.connect(endpoint))
    }

    /// Subscribes a SUB or XSUB to messages starting with `prefix`.
    pub async fn subscribe(&self, prefix: &Bytes) -> Result<()> {
        match self {
            AnySocket::Sub(s) => s.subscribe(prefix),
            AnySocket::XSub(s) => {
                let mut frame = Vec::with_capacity(prefix.len() + 1);
                frame.push(1);
                frame.extend_from_slice(prefix);
                s.send(Bytes::from(frame)).await
            }
            _ => Err(Error::State("only SUB and XSUB sockets subscribe")),
        }
    }

    /// Sends `msg` (for a ROUTER, its first frame is the recipient's routing id).
    pub async fn send(&self, msg: Message) -> Result<()> {
        match self {
            AnySocket::Pair(s) => s.send(msg).await,
            AnySocket::Pub(s) => s.send(msg).await,
            AnySocket::Req(s) => s.send(msg).await,
            AnySocket::Rep(s) => s.send(msg).await,
            AnySocket::Dealer(s) => s.send(msg).await,
            AnySocket::Router(s) => s.send(msg).await,
            AnySocket::Push(s) => s.send(msg).await,
            AnySocket::XPub(s) => s.send(msg).await,
            AnySocket::XSub(s) => s.send(msg).await,
            AnySocket::Sub(_) | AnySocket::Pull(_) => {
                Err(Error::State("SUB and PULL sockets cannot send"))
            }
        }
    }

    /// Waits for the next message (for a ROUTER, its first frame is the sender's
    /// routing id).
    pub async fn recv(&self) -> Result<Message> {
        match self {
            AnySocket::Pair(s) => s.recv().await,
            AnySocket::Sub(s) => s.recv().await,
            AnySocket::Req(s) => s.recv().await,
            AnySocket::Rep(s) => s.recv().await,
            AnySocket::Dealer(s) => s.recv().await,
            AnySocket::Router(s) => s.recv().await,
            AnySocket::Pull(s) => s.recv().await,
            AnySocket::XPub(s) => s.recv().await,
            AnySocket::XSub(s) => s.recv().await,
            AnySocket::Pub(_) | AnySocket::Push(_) => {
                Err(Error::State("PUB and PUSH sockets cannot receive"))
            }
        }
    }

    /// Closes the socket, waiting until its queued messages are delivered.
    pub async fn close(self) {
        each!(self, s => s.close().await)
    }
}
