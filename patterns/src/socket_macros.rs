//! What every socket type has: construction, options, bind/connect, monitor, close.

/// Declares a typed socket around a [`crate::base::SocketBase`] with the methods all
/// types share. The type's rules come as `rules EXPR` (kept only by the base) or as
/// `state TYPE = EXPR` (also kept by the socket, as `self.state`, for its own
/// `send`/`recv`, which are written next to each type).
macro_rules! socket_type {
    ($(#[$doc:meta])* $name:ident, $kind:expr, rules $rules:expr) => {
        $(#[$doc])*
        pub struct $name {
            base: std::rc::Rc<$crate::base::SocketBase>,
        }

        impl $name {
            /// Creates the socket with the given options.
            pub fn with_options(options: $crate::Options) -> Self {
                let rules = std::rc::Rc::new($rules);
                Self {
                    base: $crate::base::SocketBase::new($kind, options, rules),
                }
            }
        }

        $crate::socket_macros::socket_common!($name);
    };
    ($(#[$doc:meta])* $name:ident, $kind:expr, state $state:ty = $init:expr) => {
        $(#[$doc])*
        pub struct $name {
            base: std::rc::Rc<$crate::base::SocketBase>,
            state: std::rc::Rc<$state>,
        }

        impl $name {
            /// Creates the socket with the given options.
            pub fn with_options(options: $crate::Options) -> Self {
                let state = std::rc::Rc::new($init);
                Self {
                    base: $crate::base::SocketBase::new($kind, options, state.clone()),
                    state,
                }
            }

            /// The type's own state (a sharded socket's shard reaches it here).
            #[allow(dead_code)]
            pub(crate) fn state(&self) -> &std::rc::Rc<$state> {
                &self.state
            }
        }

        $crate::socket_macros::socket_common!($name);
    };
}

/// The methods every typed socket has, around its `base`.
macro_rules! socket_common {
    ($name:ident) => {
        impl $name {
            /// The plumbing under this socket.
            pub(crate) fn base(&self) -> &std::rc::Rc<$crate::base::SocketBase> {
                &self.base
            }

            /// Creates the socket with libzmq's default options. It lives on the
            /// current glommio executor (it is `!Send`).
            ///
            /// Creating one touches no executor, but a socket can only work on a
            /// thread that runs a glommio executor: elsewhere (a plain thread, a tokio
            /// runtime) its `bind`, `connect`, `send` and `recv` fail with
            /// [`crate::Error::NoExecutor`] instead of panicking inside glommio, and
            /// `close` or dropping it just closes it. From other threads and runtimes,
            /// use a [`crate::ShardedSocket`] instead.
            ///
            /// ```
            #[doc = concat!("let socket = monocoque::", stringify!($name), "::new();")]
            /// // A plain thread runs no glommio executor:
            /// let err = socket.bind("tcp://127.0.0.1:0").unwrap_err();
            /// assert!(matches!(err, monocoque::Error::NoExecutor));
            ///
            /// glommio::LocalExecutor::default().run(async {
            #[doc = concat!("    let socket = monocoque::", stringify!($name), "::new();")]
            ///     socket.bind("tcp://127.0.0.1:0")?;
            ///     Ok::<(), monocoque::Error>(())
            /// })
            /// .unwrap();
            /// ```
            pub fn new() -> Self {
                Self::with_options($crate::Options::default())
            }

            /// Listens on `endpoint` (`tcp://host:port`, `tcp://*:port`,
            /// `tcp://127.0.0.1:0` for an ephemeral port, `ipc:///path`) and returns
            /// the endpoint actually bound. Fails with [`crate::Error::AddrInUse`] when
            /// another socket holds the address.
            pub fn bind(&self, endpoint: &str) -> $crate::Result<monocoque_runtime::Endpoint> {
                self.base.bind(endpoint)
            }

            /// Connects to `endpoint` in the background and returns at once; the
            /// connection is retried every RECONNECT_IVL until the peer appears, and
            /// re-established whenever it is lost.
            pub fn connect(&self, endpoint: &str) -> $crate::Result<()> {
                self.base.connect(endpoint)
            }

            /// The current options.
            pub fn options(&self) -> $crate::Options {
                self.base.options.borrow().clone()
            }

            /// Replaces the options; connections made afterwards use them.
            pub fn set_options(&self, options: $crate::Options) {
                *self.base.options.borrow_mut() = options;
            }

            /// The endpoint of the last `bind` or `connect` (LAST_ENDPOINT).
            pub fn last_endpoint(&self) -> Option<monocoque_runtime::Endpoint> {
                self.base.last_endpoint()
            }

            /// Number of peers whose handshake has completed.
            pub fn peer_count(&self) -> usize {
                self.base.attached_peers()
            }

            /// What this socket has sent, received and dropped (see [`crate::Stats`]).
            pub fn stats(&self) -> $crate::Stats {
                self.base.stats()
            }

            /// Each peer's queue and the messages it missed at SNDHWM.
            pub fn peer_stats(&self) -> Vec<$crate::PeerStats> {
                self.base.peer_stats()
            }

            /// Starts receiving this socket's monitor events.
            pub fn monitor(&self) -> $crate::Monitor {
                $crate::Monitor {
                    queue: self.base.monitor(),
                }
            }

            /// Closes the socket: stops listening and connecting, lets every
            /// connection send what is queued for up to LINGER, then drops the rest.
            /// Dropping the socket does the same in the background.
            pub async fn close(self) {
                self.base.close().await
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                self.base.shutdown_in_background();
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("peers", &self.base.attached_peers())
                    .finish()
            }
        }
    };
}

/// Adds `send` and the explicit batching API to a load-balancing sender (PUSH,
/// DEALER, PAIR): each message goes to the next peer with room, waiting while every
/// peer is at SNDHWM (or, for a connect peer, not there yet).
macro_rules! load_balanced_send {
    ($name:ident) => {
        impl $name {
            /// Queues `msg` for the next peer with room, waiting while all are full.
            pub async fn send(
                &self,
                msg: impl Into<monocoque_runtime::Message>,
            ) -> $crate::Result<()> {
                let msg = $crate::socket_macros::non_empty(msg.into())?;
                self.base.send_load_balanced(&msg, false).await.map(drop)
            }

            /// Queues `msg` like `send`, but does not wake the connection: it goes out
            /// with the next [`Self::flush`] (or when the peer's queue fills), together
            /// with everything else buffered, in as few writes as possible.
            pub async fn send_buffered(
                &self,
                msg: impl Into<monocoque_runtime::Message>,
            ) -> $crate::Result<()> {
                let msg = $crate::socket_macros::non_empty(msg.into())?;
                self.base.send_load_balanced(&msg, true).await.map(drop)
            }

            /// Hands every buffered message to its connection.
            pub fn flush(&self) {
                self.base.flush()
            }

            /// Sends every message of `msgs` as one batch ([`Self::send_buffered`] each,
            /// then [`Self::flush`]). Returns how many were sent.
            pub async fn send_batch<M: Into<monocoque_runtime::Message>>(
                &self,
                msgs: impl IntoIterator<Item = M>,
            ) -> $crate::Result<usize> {
                let mut n = 0;
                for msg in msgs {
                    self.send_buffered(msg).await?;
                    n += 1;
                }
                self.flush();
                Ok(n)
            }
        }
    };
}

/// Adds `recv`, `try_recv` and `recv_batch` to a socket that fair-queues what its
/// peers send (its per-type rules were applied on arrival).
macro_rules! fair_queued_recv {
    ($name:ident) => {
        impl $name {
            /// Waits for the next message from any peer.
            #[inline]
            pub async fn recv(&self) -> $crate::Result<monocoque_runtime::Message> {
                self.base.recv_message().await
            }

            /// Waits for the next message, as `recv` does, and returns with it the
            /// properties of the connection it came from (libzmq's
            /// `zmq_msg_gets`: `User-Id`, `Peer-Address`, `Socket-Type`, …; see
            /// [`crate::Properties`]). `recv` itself never looks at them.
            pub async fn recv_with_properties(
                &self,
            ) -> $crate::Result<(monocoque_runtime::Message, $crate::Properties)> {
                let (_, msg, properties) = self.base.recv_with_properties().await?;
                Ok((msg, properties))
            }

            /// The next message if one has already arrived.
            pub fn try_recv(&self) -> Option<monocoque_runtime::Message> {
                self.base.try_recv().map(|(_, m)| m)
            }

            /// Waits for one message, then also takes up to `max - 1` more that have
            /// already arrived, without waiting again; appends them to `out` and
            /// returns how many were taken.
            pub async fn recv_batch(
                &self,
                out: &mut Vec<monocoque_runtime::Message>,
                max: usize,
            ) -> $crate::Result<usize> {
                self.base.recv_batch(out, max.max(1)).await
            }
        }
    };
}

/// Rejects messages without frames.
#[inline]
pub(crate) fn non_empty(
    msg: monocoque_runtime::Message,
) -> crate::Result<monocoque_runtime::Message> {
    if msg.is_empty() {
        Err(crate::Error::InvalidMessage(
            "a message needs at least one frame",
        ))
    } else {
        Ok(msg)
    }
}

pub(crate) use {fair_queued_recv, load_balanced_send, socket_common, socket_type};
