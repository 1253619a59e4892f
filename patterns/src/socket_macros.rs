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
            /// `tcp://127.0.0.1:0` for an ephemeral port, `ipc:///path`,
            /// `inproc://name` for sockets of this process) and returns
            /// the endpoint actually bound. Fails with [`crate::Error::AddrInUse`] when
            /// another socket holds the address.
            pub fn bind(&self, endpoint: &str) -> $crate::Result<monocoque_runtime::Endpoint> {
                self.base.bind(endpoint)
            }

            /// Connects to `endpoint` in the background and returns at once; the
            /// connection is retried every RECONNECT_IVL until the peer appears, and
            /// re-established whenever it is lost.
            ///
            /// A handshake that fails for a protocol reason (a peer of an incompatible
            /// socket type, another mechanism, refused credentials, malformed bytes) is
            /// not retried, as in libzmq: the peer would refuse again. The connection
            /// is given up (a failed-handshake monitor event, and a warn line
            /// "protocol error; not reconnecting"), what was
            /// queued for it is dropped, and, also as in libzmq, the endpoint keeps its
            /// place in the send rotation: later messages queue for it up to SNDHWM.
            /// Call `disconnect(endpoint)` to take it out.
            pub fn connect(&self, endpoint: &str) -> $crate::Result<()> {
                self.base.connect(endpoint)
            }

            /// Stops connecting to `endpoint`, as given to `connect` (libzmq's
            /// `zmq_disconnect`): the connection closes, reconnection stops and the
            /// messages still queued for that peer are dropped; what it already sent
            /// can still be received. [`crate::Error::NoSuchEndpoint`] if the socket
            /// has no such connect.
            pub fn disconnect(&self, endpoint: &str) -> $crate::Result<()> {
                self.base.disconnect(endpoint)
            }

            /// Stops listening on `endpoint` (libzmq's `zmq_unbind`), named as given to
            /// `bind` or as `bind` returned it (the only name of an ephemeral port),
            /// and closes the connections accepted there. Returns once the port can be
            /// bound again. [`crate::Error::NoSuchEndpoint`] if the socket has no such
            /// bind.
            pub async fn unbind(&self, endpoint: &str) -> $crate::Result<()> {
                self.base.unbind(endpoint).await
            }

            /// The current options.
            pub fn options(&self) -> $crate::Options {
                self.base.options.borrow().clone()
            }

            /// Replaces the options: SNDTIMEO, RCVTIMEO and the other per-call options
            /// apply from the next call, the connection options to connections made
            /// afterwards.
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
/// peer is at SNDHWM. A connect peer is in the rotation from `connect` on (as in
/// libzmq, unless IMMEDIATE), so messages queue for it before it connects; a bound
/// socket waits for its first peer.
macro_rules! load_balanced_send {
    ($name:ident) => {
        impl $name {
            /// Queues `msg` for the next peer with room, waiting while all are full (or,
            /// bound, while no peer is connected), for at most SNDTIMEO
            /// ([`crate::Options::sndtimeo`]; a send that times out fails with
            /// [`crate::Error::Timeout`] and did not queue the message).
            ///
            /// Cancel-safe: the message belongs to the socket once `send` is called.
            /// If the future is dropped before it completes (a `select!` that took
            /// another branch, a timeout around it), the message is queued anyway, for
            /// the next peer and past SNDHWM, or, when no peer exists yet, for the
            /// first to connect. To get a message back when it cannot be queued, use
            /// [`Self::try_send`].
            pub async fn send(
                &self,
                msg: impl Into<monocoque_runtime::Message>,
            ) -> $crate::Result<()> {
                let msg = $crate::socket_macros::non_empty(msg.into())?;
                self.base.send_load_balanced(msg, false).await.map(drop)
            }

            /// Queues `msg` for the next peer with room without waiting, or hands it
            /// back: [`crate::Error::WouldBlock`] when every peer is at SNDHWM or none
            /// is connected (libzmq's `ZMQ_DONTWAIT`).
            pub fn try_send(
                &self,
                msg: impl Into<monocoque_runtime::Message>,
            ) -> std::result::Result<(), $crate::TrySendError> {
                $crate::socket_macros::try_sending(msg.into(), |msg| {
                    self.base.try_send_now(msg).map(drop)
                })
            }

            /// Queues `msg` like `send`, but does not wake the connection: it goes out
            /// with the next [`Self::flush`] (or when the peer's queue fills), together
            /// with everything else buffered, in as few writes as possible.
            pub async fn send_buffered(
                &self,
                msg: impl Into<monocoque_runtime::Message>,
            ) -> $crate::Result<()> {
                let msg = $crate::socket_macros::non_empty(msg.into())?;
                self.base.send_load_balanced(msg, true).await.map(drop)
            }

            /// Hands every buffered message to its connection.
            pub fn flush(&self) {
                self.base.flush()
            }

            /// Sends every message of `msgs` as one batch ([`Self::send_buffered`] each,
            /// then [`Self::flush`]). Returns how many were sent. (As a
            /// `futures_sink::Sink`, the socket batches the same way: `feed` buffers,
            /// `flush` hands the batch over.)
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

        impl $name {
            /// `Sink::start_send`: buffered for the next peer with room.
            fn sink_send(&self, msg: monocoque_runtime::Message) -> $crate::Result<()> {
                let msg = $crate::socket_macros::non_empty(msg)?;
                self.base.start_send_load_balanced(msg).map(drop)
            }
        }

        $crate::socket_macros::message_sink!($name, room: |socket, cx| socket.base().poll_room(cx));
    };
}

/// The [`futures_sink::Sink`] of a socket type: `poll_ready` paces the caller (a yield
/// once its time slice is over) and then waits for `$room` (given the socket and the
/// context); `start_send` is the type's `sink_send`, which never waits; `poll_flush`
/// hands buffered messages to their connections. Closing the sink flushes; the
/// socket itself stays open until `close` or drop.
///
/// Load-balancing senders (PUSH, DEALER, PAIR, REQ) wait for a peer with room and
/// buffer as `send_buffered` does; the types whose send never waits (PUB, XPUB,
/// XSUB, REP, ROUTER) are always ready, and a ROUTER_MANDATORY peer without room
/// gets the message past SNDHWM instead of a refusal.
macro_rules! message_sink {
    ($name:ident, room: |$socket:ident, $cx:ident| $room:expr) => {
        impl<M: Into<monocoque_runtime::Message>> futures_sink::Sink<M> for $name {
            type Error = $crate::Error;

            fn poll_ready(
                self: std::pin::Pin<&mut Self>,
                $cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<$crate::Result<()>> {
                let $socket = &*self;
                if $socket.base().poll_pace($cx).is_pending() {
                    return std::task::Poll::Pending;
                }
                $room
            }

            fn start_send(self: std::pin::Pin<&mut Self>, msg: M) -> $crate::Result<()> {
                self.sink_send(msg.into())
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<$crate::Result<()>> {
                self.base().flush();
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<$crate::Result<()>> {
                <Self as futures_sink::Sink<M>>::poll_flush(self, cx)
            }
        }
    };
    ($name:ident, always_ready) => {
        $crate::socket_macros::message_sink!($name, room: |socket, _cx| {
            std::task::Poll::Ready(socket.base().check_open())
        });
    };
}

/// A [`futures_core::Stream`] of the messages a fair-queueing socket receives, as
/// `recv` returns them (RCVTIMEO aside: a stream waits), ending once the socket is
/// closed.
macro_rules! message_stream {
    ($name:ident) => {
        /// The messages as `recv` returns them, ending (`None`) once the socket is
        /// closed. RCVTIMEO does not apply: `next()` waits for the next message
        /// however long it takes; bound it with a timeout of your runtime
        /// (`glommio::timer::timeout`), or use `recv` for RCVTIMEO.
        impl futures_core::Stream for $name {
            type Item = $crate::Result<monocoque_runtime::Message>;

            fn poll_next(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                self.base
                    .poll_stream(cx)
                    .map(|next| next.map(|taken| taken.map(|(_, msg)| msg)))
            }
        }
    };
}

/// Adds `recv`, `try_recv` and `recv_batch` to a socket that fair-queues what its
/// peers send (its per-type rules were applied on arrival), and its `Stream`.
macro_rules! fair_queued_recv {
    ($name:ident) => {
        impl $name {
            /// Waits for the next message from any peer, for at most RCVTIMEO
            /// ([`crate::Options::rcvtimeo`]; then [`crate::Error::Timeout`]).
            /// Cancel-safe: a message is taken from the queue only when the future
            /// returns it.
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

            /// The next message if one has already arrived (`Ok(None)` if not;
            /// [`crate::Error::Closed`] once the socket is closed and drained).
            pub fn try_recv(&self) -> $crate::Result<Option<monocoque_runtime::Message>> {
                Ok(self.base.try_recv()?.map(|(_, m)| m))
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

        $crate::socket_macros::message_stream!($name);
    };
}

/// `try_send` of every type: `send` (one attempt, no wait) on `msg` if it has frames,
/// which takes the message or hands it back; `msg` back with the error otherwise.
#[inline]
pub(crate) fn try_sending(
    msg: monocoque_runtime::Message,
    send: impl FnOnce(monocoque_runtime::Message) -> std::result::Result<(), crate::TrySendError>,
) -> std::result::Result<(), crate::TrySendError> {
    if msg.is_empty() {
        return Err(crate::TrySendError::new(
            crate::Error::InvalidMessage("a message needs at least one frame"),
            msg,
        ));
    }
    send(msg)
}

/// A `send` for [`try_sending`] from one that reads the message where it is (a
/// fan-out's, or one that builds another message from it) and keeps it to hand back.
#[inline]
pub(crate) fn by_ref(
    send: impl FnOnce(&monocoque_runtime::Message) -> crate::Result<()>,
) -> impl FnOnce(monocoque_runtime::Message) -> std::result::Result<(), crate::TrySendError> {
    move |msg| send(&msg).map_err(|e| crate::TrySendError::new(e, msg))
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

pub(crate) use {
    fair_queued_recv, load_balanced_send, message_sink, message_stream, socket_common, socket_type,
};
