//! [`AnySocket`]: a socket whose type is chosen at run time.

use monocoque_runtime::{Endpoint, Message};
use monocoque_zmtp::SocketType;

use crate::{
    Dealer, Error, Monitor, Options, Pair, PeerStats, Properties, Pub, Pull, Push, Rep, Req,
    Result, Router, Stats, Sub, TrySendError, XPub, XSub,
};

/// Matches `$value` (an [`AnySocket`] or a reference to one) and runs `$body` with `$s`
/// bound to the typed socket. With a list of variants, only those run `$body`; every
/// other type fails with [`Error::Unsupported`] for operation `$op`.
macro_rules! each {
    ($value:expr, $s:ident => $body:expr) => {
        each!(@only $value, [Pair, Pub, Sub, Req, Rep, Dealer, Router, Pull, Push, XPub, XSub],
              $s => $body)
    };
    (@only $value:expr, [$($v:ident),*], $s:ident => $body:expr) => {
        match $value {
            $(AnySocket::$v($s) => $body,)*
        }
    };
    ($value:expr, $op:literal, [$($v:ident),*], $s:ident => $body:expr) => {
        match $value {
            $(AnySocket::$v($s) => $body,)*
            other => Err(Error::Unsupported { socket: other.kind(), op: $op }),
        }
    };
}

/// Declares [`AnySocket`] with one variant per type (named as in [`SocketType`]), its
/// constructor and [`AnySocket::kind`], and the conversions from and to each type.
macro_rules! any_socket {
    ($($v:ident),*) => {
        /// A socket of any of the eleven types, chosen at run time, like pyzmq's
        /// `ctx.socket(zmq.DEALER)`. It forwards each call to the typed socket it
        /// holds; an operation that type lacks (`recv` on a PUB, `subscribe` on a
        /// DEALER) fails with [`Error::Unsupported`].
        ///
        /// ```no_run
        /// use monocoque::{AnySocket, SocketType};
        ///
        /// glommio::LocalExecutor::default().run(async {
        ///     let kind: SocketType = "dealer".parse().unwrap();
        ///     let socket = AnySocket::new(kind);
        ///     socket.connect("tcp://127.0.0.1:5555")?;
        ///     socket.send(vec!["", "hello"]).await?;
        ///     let reply = socket.recv().await?;
        ///     Ok::<(), monocoque::Error>(())
        /// })
        /// .unwrap();
        /// ```
        ///
        /// Each typed socket converts into an `AnySocket` and back (the way back
        /// returns the `AnySocket` unchanged when it holds another type):
        ///
        /// ```
        /// use monocoque::{AnySocket, Dealer, Router, SocketType};
        ///
        /// glommio::LocalExecutor::default().run(async {
        ///     let socket = AnySocket::from(Dealer::new());
        ///     assert_eq!(socket.kind(), SocketType::Dealer);
        ///     let socket = Router::try_from(socket).unwrap_err();
        ///     let dealer = Dealer::try_from(socket).unwrap();
        /// });
        /// ```
        #[derive(Debug)]
        pub enum AnySocket {
            $(
                #[doc = concat!("A [`", stringify!($v), "`].")]
                $v($v),
            )*
        }

        impl AnySocket {
            /// Creates a socket of type `kind` with the given options, on the
            /// current glommio executor.
            ///
            /// ```
            /// use monocoque::{AnySocket, Options, SocketType};
            ///
            /// glommio::LocalExecutor::default().run(async {
            ///     let options = Options { sndhwm: 10, ..Options::default() };
            ///     let socket = AnySocket::with_options(SocketType::Push, options);
            ///     assert_eq!(socket.options().sndhwm, 10);
            /// });
            /// ```
            pub fn with_options(kind: SocketType, options: Options) -> AnySocket {
                match kind {
                    $(SocketType::$v => AnySocket::$v($v::with_options(options)),)*
                }
            }

            /// The socket's type.
            ///
            /// ```
            /// use monocoque::{AnySocket, SocketType};
            ///
            /// glommio::LocalExecutor::default().run(async {
            ///     for kind in SocketType::ALL {
            ///         assert_eq!(AnySocket::new(kind).kind(), kind);
            ///     }
            /// });
            /// ```
            pub fn kind(&self) -> SocketType {
                match self {
                    $(AnySocket::$v(_) => SocketType::$v,)*
                }
            }
        }

        $(
            impl From<$v> for AnySocket {
                fn from(socket: $v) -> AnySocket {
                    AnySocket::$v(socket)
                }
            }

            impl TryFrom<AnySocket> for $v {
                type Error = AnySocket;

                fn try_from(socket: AnySocket) -> std::result::Result<$v, AnySocket> {
                    match socket {
                        AnySocket::$v(s) => Ok(s),
                        other => Err(other),
                    }
                }
            }
        )*
    };
}

any_socket!(Pair, Pub, Sub, Req, Rep, Dealer, Router, Pull, Push, XPub, XSub);

impl AnySocket {
    /// Creates a socket of type `kind` with libzmq's default options, on the current
    /// glommio executor (it is `!Send`).
    ///
    /// ```no_run
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let pull = AnySocket::new(SocketType::Pull);
    ///     pull.bind("tcp://*:5557")?;
    ///     let work = pull.recv().await?;
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn new(kind: SocketType) -> AnySocket {
        AnySocket::with_options(kind, Options::default())
    }

    /// Listens on `endpoint` and returns the endpoint actually bound, as
    /// [`Dealer::bind`] does.
    ///
    /// ```
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let socket = AnySocket::new(SocketType::Rep);
    ///     let endpoint = socket.bind("tcp://127.0.0.1:0")?;
    ///     assert_eq!(socket.last_endpoint(), Some(endpoint));
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn bind(&self, endpoint: &str) -> Result<Endpoint> {
        each!(self, s => s.bind(endpoint))
    }

    /// Connects to `endpoint` in the background, as [`Dealer::connect`] does.
    ///
    /// ```
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let socket = AnySocket::new(SocketType::Req);
    ///     socket.connect("tcp://127.0.0.1:5555")?; // no peer needed yet
    ///     assert_eq!(socket.peer_count(), 0);
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        each!(self, s => s.connect(endpoint))
    }

    /// Stops connecting to `endpoint`, as [`Dealer::disconnect`] does.
    pub fn disconnect(&self, endpoint: &str) -> Result<()> {
        each!(self, s => s.disconnect(endpoint))
    }

    /// Stops listening on `endpoint`, as [`Dealer::unbind`] does.
    pub async fn unbind(&self, endpoint: &str) -> Result<()> {
        each!(self, s => s.unbind(endpoint).await)
    }

    /// The current options.
    ///
    /// ```
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     assert_eq!(AnySocket::new(SocketType::Sub).options().rcvhwm, 1000);
    /// });
    /// ```
    pub fn options(&self) -> Options {
        each!(self, s => s.options())
    }

    /// Replaces the options, as the typed socket's `set_options` does (per-call
    /// options from the next call, connection options for later connections).
    ///
    /// ```
    /// use monocoque::{AnySocket, Options, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let socket = AnySocket::new(SocketType::Router);
    ///     socket.set_options(Options { router_mandatory: true, ..socket.options() });
    ///     assert!(socket.options().router_mandatory);
    /// });
    /// ```
    pub fn set_options(&self, options: Options) {
        each!(self, s => s.set_options(options))
    }

    /// The endpoint of the last `bind` or `connect` (LAST_ENDPOINT).
    ///
    /// ```
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     assert_eq!(AnySocket::new(SocketType::Pair).last_endpoint(), None);
    /// });
    /// ```
    pub fn last_endpoint(&self) -> Option<Endpoint> {
        each!(self, s => s.last_endpoint())
    }

    /// Number of peers whose handshake has completed.
    ///
    /// ```
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     assert_eq!(AnySocket::new(SocketType::Pub).peer_count(), 0);
    /// });
    /// ```
    pub fn peer_count(&self) -> usize {
        each!(self, s => s.peer_count())
    }

    /// What this socket has sent, received and dropped (see [`Stats`]).
    ///
    /// ```
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     assert_eq!(AnySocket::new(SocketType::Push).stats().sent, 0);
    /// });
    /// ```
    pub fn stats(&self) -> Stats {
        each!(self, s => s.stats())
    }

    /// Each peer's queue and the messages it missed at SNDHWM.
    ///
    /// ```
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     assert!(AnySocket::new(SocketType::XPub).peer_stats().is_empty());
    /// });
    /// ```
    pub fn peer_stats(&self) -> Vec<PeerStats> {
        each!(self, s => s.peer_stats())
    }

    /// Starts receiving this socket's monitor events.
    ///
    /// ```no_run
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let socket = AnySocket::new(SocketType::Dealer);
    ///     let monitor = socket.monitor();
    ///     socket.connect("tcp://127.0.0.1:5555")?;
    ///     println!("{:?}", monitor.recv().await);
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn monitor(&self) -> Monitor {
        each!(self, s => s.monitor())
    }

    /// Sends `msg` as the typed socket's `send` does: a ROUTER's message starts with
    /// the recipient's routing id, an XSUB's `\x01topic` / `\x00topic` changes a
    /// subscription, and a REQ or REP alternates strictly with `recv`
    /// ([`Error::State`] out of turn). Fails with [`Error::Unsupported`] on a SUB or
    /// PULL.
    ///
    /// ```no_run
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let push = AnySocket::new(SocketType::Push);
    ///     push.connect("tcp://127.0.0.1:5557")?;
    ///     push.send("work item").await?;
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn send(&self, msg: impl Into<Message>) -> Result<()> {
        let msg = msg.into();
        each!(self, "send", [Pair, Pub, Req, Rep, Dealer, Router, Push, XPub, XSub],
              s => s.send(msg).await)
    }

    /// Queues `msg` without waiting, as the typed socket's `try_send` does, or hands
    /// it back ([`Error::WouldBlock`] when it would have to wait for room).
    pub fn try_send(&self, msg: impl Into<Message>) -> std::result::Result<(), TrySendError> {
        let msg = msg.into();
        match self {
            AnySocket::Pair(s) => s.try_send(msg),
            AnySocket::Pub(s) => s.try_send(msg),
            AnySocket::Req(s) => s.try_send(msg),
            AnySocket::Rep(s) => s.try_send(msg),
            AnySocket::Dealer(s) => s.try_send(msg),
            AnySocket::Router(s) => s.try_send(msg),
            AnySocket::Push(s) => s.try_send(msg),
            AnySocket::XPub(s) => s.try_send(msg),
            AnySocket::XSub(s) => s.try_send(msg),
            other => {
                let e = Error::Unsupported {
                    socket: other.kind(),
                    op: "send",
                };
                Err(TrySendError::new(e, msg))
            }
        }
    }

    /// Waits for the next message, as the typed socket's `recv` does (a ROUTER's
    /// starts with the sender's routing id; an XPUB's are subscriptions). Fails with
    /// [`Error::Unsupported`] on a PUB or PUSH.
    ///
    /// ```no_run
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let rep = AnySocket::new(SocketType::Rep);
    ///     rep.bind("tcp://*:5555")?;
    ///     let request = rep.recv().await?;
    ///     rep.send(request).await?; // echo
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn recv(&self) -> Result<Message> {
        each!(self, "receive", [Pair, Sub, Req, Rep, Dealer, Router, Pull, XPub, XSub],
              s => s.recv().await)
    }

    /// Waits for the next message as [`AnySocket::recv`] does, and returns with it the
    /// properties of the connection it came from (see [`Properties`]). Fails with
    /// [`Error::Unsupported`] on a PUB or PUSH.
    ///
    /// ```no_run
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let pull = AnySocket::new(SocketType::Pull);
    ///     pull.bind("tcp://*:5557")?;
    ///     let (work, properties) = pull.recv_with_properties().await?;
    ///     if let Some(user) = properties.get_str("User-Id") {
    ///         println!("{user} sent {} frames", work.len());
    ///     }
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn recv_with_properties(&self) -> Result<(Message, Properties)> {
        each!(self, "receive", [Pair, Sub, Req, Rep, Dealer, Router, Pull, XPub, XSub],
              s => s.recv_with_properties().await)
    }

    /// The next message if one has already arrived (`Ok(None)` if not). Fails with
    /// [`Error::Unsupported`] on a PUB or PUSH, and as `recv` does on a REQ or REP out
    /// of turn.
    ///
    /// ```
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     assert!(AnySocket::new(SocketType::Pull).try_recv()?.is_none());
    ///     // A REQ receives only after a request:
    ///     assert!(AnySocket::new(SocketType::Req).try_recv().is_err());
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn try_recv(&self) -> Result<Option<Message>> {
        self.base().check_executor()?;
        each!(self, "receive without waiting",
              [Pair, Sub, Req, Rep, Dealer, Router, Pull, XPub, XSub],
              s => s.try_recv())
    }

    /// Subscribes a SUB or XSUB to messages whose first frame starts with `prefix`
    /// (empty: all): [`Sub::subscribe`], or an XSUB's `\x01prefix` message; on an
    /// XPUB, [`XPub::subscribe`] (XPUB_MANUAL). Fails with [`Error::Unsupported`] on
    /// the other types.
    ///
    /// ```no_run
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let sub = AnySocket::new(SocketType::XSub);
    ///     sub.connect("tcp://127.0.0.1:5556")?;
    ///     sub.subscribe(b"weather.")?;
    ///     let msg = sub.recv().await?;
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn subscribe(&self, prefix: &[u8]) -> Result<()> {
        self.change_subscription(prefix, true, "subscribe")
    }

    /// Removes one subscription to `prefix` from a SUB or XSUB
    /// ([`Sub::unsubscribe`], or an XSUB's `\x00prefix` message); on an XPUB,
    /// [`XPub::unsubscribe`] (XPUB_MANUAL). Fails with [`Error::Unsupported`] on the
    /// other types.
    ///
    /// ```
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     let sub = AnySocket::new(SocketType::Sub);
    ///     sub.subscribe(b"news")?;
    ///     sub.unsubscribe(b"news")?;
    ///     assert!(AnySocket::new(SocketType::Pub).unsubscribe(b"news").is_err());
    ///     Ok::<(), monocoque::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn unsubscribe(&self, prefix: &[u8]) -> Result<()> {
        self.change_subscription(prefix, false, "unsubscribe")
    }

    fn change_subscription(&self, prefix: &[u8], on: bool, op: &'static str) -> Result<()> {
        match self {
            AnySocket::Sub(s) if on => s.subscribe(prefix),
            AnySocket::Sub(s) => s.unsubscribe(prefix),
            AnySocket::XPub(s) if on => s.subscribe(prefix),
            AnySocket::XPub(s) => s.unsubscribe(prefix),
            AnySocket::XSub(s) => {
                let mut frame = Vec::with_capacity(prefix.len() + 1);
                frame.push(u8::from(on));
                frame.extend_from_slice(prefix);
                // An XSUB's subscription message never waits (see XSub::send).
                s.try_send(bytes::Bytes::from(frame))
                    .map_err(|e| e.into_parts().0)
            }
            other => Err(Error::Unsupported {
                socket: other.kind(),
                op,
            }),
        }
    }

    /// Closes the socket, as [`Dealer::close`] does: queued messages get up to
    /// LINGER to be delivered.
    ///
    /// ```
    /// use monocoque::{AnySocket, SocketType};
    ///
    /// glommio::LocalExecutor::default().run(async {
    ///     AnySocket::new(SocketType::Push).close().await;
    /// });
    /// ```
    pub async fn close(self) {
        each!(self, s => s.close().await)
    }
}

impl AnySocket {
    /// The plumbing under the socket, whatever its type.
    pub(crate) fn base(&self) -> &std::rc::Rc<crate::base::SocketBase> {
        each!(self, s => s.base())
    }
}
