//! The error type of socket operations.

use monocoque_runtime::EndpointError;

/// What went wrong in a socket call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The endpoint string is malformed.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// Another socket is bound to this address.
    #[error("address already in use: {0}")]
    AddrInUse(String),
    /// Binding failed for another reason.
    #[error("cannot bind {endpoint}: {source}")]
    Bind {
        /// The endpoint asked for.
        endpoint: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A socket option has a value the system does not accept (a TOS above 255, a
    /// keepalive time that is not whole seconds, a PRIORITY above 6 without
    /// CAP_NET_ADMIN, …); reported by the `bind` or `connect` that would use it.
    #[error("invalid option {}", .0)]
    InvalidOption(#[from] monocoque_runtime::OptionError),
    /// ROUTER_MANDATORY: no peer has this routing id.
    #[error("no peer with routing id {0:02x?}")]
    HostUnreachable(Vec<u8>),
    /// The call is not allowed in the socket's current state (e.g. REQ `send` twice).
    #[error("operation not allowed now: {0}")]
    State(&'static str),
    /// The socket's type has no such operation (e.g. `recv` on an
    /// [`AnySocket`](crate::AnySocket) holding a PUB).
    #[error("{socket} sockets cannot {op}")]
    Unsupported {
        /// The socket's type.
        socket: monocoque_zmtp::SocketType,
        /// The operation asked for (`"send"`, `"receive"`, `"subscribe"`, …).
        op: &'static str,
    },
    /// An argument or option value the call cannot take (libzmq's EINVAL), such as
    /// a routing id for [`Router::connect_with_id`](crate::Router::connect_with_id)
    /// that is empty, longer than 255 bytes, starts with a zero byte or is taken.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The message has no frames, or lacks a frame the socket type needs.
    #[error("invalid message: {0}")]
    InvalidMessage(&'static str),
    /// The socket was closed.
    #[error("socket closed")]
    Closed,
    /// A bounded wait elapsed: SNDTIMEO or RCVTIMEO ([`Options::sndtimeo`],
    /// [`Options::rcvtimeo`]), or the limit given to a call such as
    /// [`ShardedSocket::recv_timeout`](crate::ShardedSocket::recv_timeout). libzmq
    /// reports this as EAGAIN (pyzmq's `zmq.Again`).
    ///
    /// [`Options::sndtimeo`]: crate::Options::sndtimeo
    /// [`Options::rcvtimeo`]: crate::Options::rcvtimeo
    #[error("timed out")]
    Timeout,
    /// A `try_send` found no peer with room (every peer at SNDHWM, or none yet):
    /// libzmq's EAGAIN for a send with `ZMQ_DONTWAIT`. The message comes back in the
    /// [`TrySendError`].
    #[error("no peer can take the message now")]
    WouldBlock,
    /// A local socket ([`Dealer`](crate::Dealer), [`AnySocket`](crate::AnySocket), …)
    /// was used on a thread that runs no glommio executor (a plain thread, a tokio
    /// runtime): its connections would have nowhere to run. Create and use local
    /// sockets inside a glommio executor, or use a [`ShardedSocket`](crate::ShardedSocket)
    /// handle, which works from any thread and any async runtime.
    #[error(
        "no glommio executor runs on this thread: create and use local sockets inside one \
         (glommio::LocalExecutorBuilder::new(..).spawn(..), LocalExecutor::run, or a \
         monocoque Runtime core via Runtime::on_each_core), or use a ShardedSocket handle, \
         which works from any thread and any async runtime (tokio included)"
    )]
    NoExecutor,
    /// `unbind` or `disconnect` of an endpoint the socket is not bound or connected
    /// to (libzmq's ENOENT). A bind to an ephemeral port (`tcp://127.0.0.1:0`) is
    /// named by the endpoint `bind` returned.
    #[error("not bound or connected to {0}")]
    NoSuchEndpoint(String),
    /// A core index past the runtime's cores.
    #[error("core {core} does not exist (the runtime has {cores})")]
    NoSuchCore {
        /// The index asked for.
        core: usize,
        /// How many cores the runtime has.
        cores: usize,
    },
}

/// Result of socket operations.
pub type Result<T> = std::result::Result<T, Error>;

/// A message a `try_send` could not queue, handed back with the reason.
///
/// ```no_run
/// # glommio::LocalExecutor::default().run(async {
/// use monocoque::{Error, Push};
///
/// let push = Push::new();
/// push.bind("tcp://127.0.0.1:5557")?;
/// match push.try_send("tick") {
///     Ok(()) => {}
///     // Nobody connected yet (or every puller is at SNDHWM): keep the message.
///     Err(e) if e.would_block() => {
///         let tick = e.into_message();
///         assert_eq!(&tick[0][..], b"tick");
///     }
///     Err(e) => return Err(e.into()),
/// }
/// # Ok::<(), Error>(()) });
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct TrySendError {
    error: Error,
    message: monocoque_runtime::Message,
}

impl TrySendError {
    pub(crate) fn new(error: Error, message: monocoque_runtime::Message) -> TrySendError {
        TrySendError { error, message }
    }

    /// Why the message was not queued.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The send would have had to wait for room ([`Error::WouldBlock`]); trying
    /// again later can succeed.
    pub fn would_block(&self) -> bool {
        matches!(self.error, Error::WouldBlock)
    }

    /// The message, as it was given.
    pub fn into_message(self) -> monocoque_runtime::Message {
        self.message
    }

    /// The reason and the message.
    pub fn into_parts(self) -> (Error, monocoque_runtime::Message) {
        (self.error, self.message)
    }

    /// The message back when it was refused for want of room, the error otherwise
    /// (the message then goes with it).
    pub(crate) fn wanting_room(self) -> Result<monocoque_runtime::Message> {
        match self.error {
            Error::WouldBlock => Ok(self.message),
            error => Err(error),
        }
    }
}

impl From<TrySendError> for Error {
    fn from(e: TrySendError) -> Error {
        e.error
    }
}
