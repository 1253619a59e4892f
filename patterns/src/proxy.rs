//! libzmq's proxy (`zmq_proxy`, `zmq_proxy_steerable`): moves messages between a
//! frontend and a backend socket, both ways where their types allow, with an
//! optional capture socket that gets a copy of everything and a control socket that
//! pauses, resumes, stops it and asks for its counters.
//!
//! A broker is a ROUTER frontend and a DEALER backend; a forwarder (pub/sub across a
//! network boundary) an XSUB frontend and an XPUB backend, whose subscriptions flow
//! back through the same proxy; a streamer a PULL frontend and a PUSH backend.
//!
//! ```no_run
//! use monocoque::{proxy, Dealer, Router};
//!
//! glommio::LocalExecutor::default().run(async {
//!     let clients = Router::new();
//!     clients.bind("tcp://*:5559")?;
//!     let workers = Dealer::new();
//!     workers.bind("tcp://*:5560")?;
//!     proxy::Proxy::new(&clients, &workers).run().await
//! })
//! .unwrap();
//! ```
//!
//! The proxy is a future on the sockets' executor; it waits like any socket call and
//! needs no thread of its own. Sharded sockets proxy the same way from any thread or
//! runtime, through their handles.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use monocoque_runtime::Message;
use monocoque_zmtp::SocketType;

use crate::{
    AnySocket, Dealer, Error, Pair, Pub, Pull, Push, Rep, Req, Result, Router, ShardedSocket, Sub,
    XPub, XSub,
};

/// A socket a [`Proxy`] can move messages through: every socket type, an
/// [`AnySocket`] and a [`ShardedSocket`] handle.
pub trait ProxySocket {
    /// The socket's type (which directions it can carry).
    fn kind(&self) -> SocketType;
    /// Waits for the next message (the type's `recv`).
    fn recv_message(&self) -> impl Future<Output = Result<Message>>;
    /// Sends `msg` (the type's `send`).
    fn send_message(&self, msg: Message) -> impl Future<Output = Result<()>>;
}

/// `ProxySocket` for the local types: their own `recv` and `send`, or `Unsupported`
/// for the direction the type lacks.
macro_rules! proxy_socket {
    ($($t:ident: $kind:ident, recv $recv:tt, send $send:tt;)*) => {$(
        impl ProxySocket for $t {
            fn kind(&self) -> SocketType {
                SocketType::$kind
            }
            fn recv_message(&self) -> impl Future<Output = Result<Message>> {
                proxy_socket!(@recv $recv, self)
            }
            fn send_message(&self, msg: Message) -> impl Future<Output = Result<()>> {
                proxy_socket!(@send $send, self, msg)
            }
        }
    )*};
    (@recv yes, $s:ident) => { $s.recv() };
    (@recv no, $s:ident) => { std::future::ready(Err(unsupported($s.kind(), "receive"))) };
    (@send yes, $s:ident, $m:ident) => { $s.send($m) };
    (@send no, $s:ident, $m:ident) => {{
        drop($m);
        std::future::ready(Err(unsupported($s.kind(), "send")))
    }};
}

proxy_socket! {
    Pair: Pair, recv yes, send yes;
    Pub: Pub, recv no, send yes;
    Sub: Sub, recv yes, send no;
    Req: Req, recv yes, send yes;
    Rep: Rep, recv yes, send yes;
    Dealer: Dealer, recv yes, send yes;
    Router: Router, recv yes, send yes;
    Pull: Pull, recv yes, send no;
    Push: Push, recv no, send yes;
    XPub: XPub, recv yes, send yes;
    XSub: XSub, recv yes, send yes;
}

fn unsupported(socket: SocketType, op: &'static str) -> Error {
    Error::Unsupported { socket, op }
}

impl ProxySocket for AnySocket {
    fn kind(&self) -> SocketType {
        AnySocket::kind(self)
    }
    fn recv_message(&self) -> impl Future<Output = Result<Message>> {
        self.recv()
    }
    fn send_message(&self, msg: Message) -> impl Future<Output = Result<()>> {
        self.send(msg)
    }
}

impl ProxySocket for ShardedSocket {
    fn kind(&self) -> SocketType {
        ShardedSocket::kind(self)
    }
    fn recv_message(&self) -> impl Future<Output = Result<Message>> {
        self.recv_async()
    }
    fn send_message(&self, msg: Message) -> impl Future<Output = Result<()>> {
        self.send_async(msg)
    }
}

impl<T: ProxySocket + ?Sized> ProxySocket for &T {
    fn kind(&self) -> SocketType {
        (**self).kind()
    }
    fn recv_message(&self) -> impl Future<Output = Result<Message>> {
        (**self).recv_message()
    }
    fn send_message(&self, msg: Message) -> impl Future<Output = Result<()>> {
        (**self).send_message(msg)
    }
}

fn receives(kind: SocketType) -> bool {
    !matches!(kind, SocketType::Pub | SocketType::Push)
}

fn sends(kind: SocketType) -> bool {
    !matches!(kind, SocketType::Sub | SocketType::Pull)
}

/// What one side of a proxy received and sent: whole messages (a multipart message
/// counts once, as in libzmq) and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SideStats {
    /// Messages received from this socket.
    pub received: u64,
    /// Their bytes (all frames).
    pub received_bytes: u64,
    /// Messages sent through this socket.
    pub sent: u64,
    /// Their bytes.
    pub sent_bytes: u64,
}

/// A proxy's counters: the answer to STATISTICS, and what [`Proxy::run`] ends with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// The frontend's traffic.
    pub frontend: SideStats,
    /// The backend's traffic.
    pub backend: SideStats,
}

impl ProxyStats {
    /// The STATISTICS reply: eight frames of one native-endian `u64` each, in
    /// libzmq's order (frontend received messages, bytes, sent messages, bytes, then
    /// the backend's).
    pub fn to_message(&self) -> Message {
        let f = &self.frontend;
        let b = &self.backend;
        [
            f.received,
            f.received_bytes,
            f.sent,
            f.sent_bytes,
            b.received,
            b.received_bytes,
            b.sent,
            b.sent_bytes,
        ]
        .iter()
        .map(|n| n.to_ne_bytes())
        .collect()
    }
}

/// A proxy between two sockets, built with [`Proxy::new`] and started with
/// [`Proxy::run`].
///
/// Messages received on the frontend are sent on the backend, and (when the
/// frontend can send and the backend receive) the other way too; a send that must
/// wait (a backend with no peer with room) holds the proxy, as libzmq's does.
///
/// A control socket (REP or PAIR, as libzmq's, or any type that receives) takes
/// commands in the first frame of a message (any other frames are ignored):
///
/// - `PAUSE`: stop moving messages (they wait in the sockets' queues);
/// - `RESUME`: move them again;
/// - `TERMINATE`: `run` returns;
/// - `STATISTICS`: the reply is [`ProxyStats::to_message`].
///
/// A REP control socket answers the other commands (and unknown ones, which change
/// nothing) with an empty message, so that it can take the next; a PAIR answers only
/// STATISTICS.
pub struct Proxy<'a, F, B, C = NoSocket, K = NoSocket> {
    frontend: &'a F,
    backend: &'a B,
    capture: Option<&'a C>,
    control: Option<&'a K>,
}

/// The type of a [`Proxy`]'s capture or control socket when it has none.
#[derive(Debug)]
pub enum NoSocket {}

impl ProxySocket for NoSocket {
    fn kind(&self) -> SocketType {
        match *self {}
    }
    fn recv_message(&self) -> impl Future<Output = Result<Message>> {
        std::future::pending()
    }
    fn send_message(&self, _msg: Message) -> impl Future<Output = Result<()>> {
        std::future::pending()
    }
}

/// What the proxy's wait ended with.
enum Event<'k, K> {
    Frontend(Result<Message>),
    Backend(Result<Message>),
    /// A command, and the control socket it came from (to answer on).
    Control(&'k K, Result<Message>),
}

impl<'a, F: ProxySocket, B: ProxySocket> Proxy<'a, F, B> {
    /// A proxy between `frontend` and `backend` (zmq_proxy).
    pub fn new(frontend: &'a F, backend: &'a B) -> Self {
        Proxy {
            frontend,
            backend,
            capture: None,
            control: None,
        }
    }
}

impl<'a, F: ProxySocket, B: ProxySocket, C: ProxySocket, K: ProxySocket> Proxy<'a, F, B, C, K> {
    /// Sends a copy of every message moved, either way, to `capture` (a PUB, PUSH,
    /// PAIR, DEALER, …; a failed copy stops the proxy with that error, as in libzmq).
    pub fn capture<C2: ProxySocket>(self, capture: &'a C2) -> Proxy<'a, F, B, C2, K> {
        Proxy {
            frontend: self.frontend,
            backend: self.backend,
            capture: Some(capture),
            control: self.control,
        }
    }

    /// Takes commands from `control` (zmq_proxy_steerable; see [`Proxy`]).
    pub fn control<K2: ProxySocket>(self, control: &'a K2) -> Proxy<'a, F, B, C, K2> {
        Proxy {
            frontend: self.frontend,
            backend: self.backend,
            capture: self.capture,
            control: Some(control),
        }
    }

    /// Moves messages until a TERMINATE command (then `Ok` with the counters) or an
    /// error on any of the sockets (a socket closed under it: [`Error::Closed`]).
    pub async fn run(self) -> Result<ProxyStats> {
        let forward = receives(self.frontend.kind()) && sends(self.backend.kind());
        let backward = receives(self.backend.kind()) && sends(self.frontend.kind());
        if !forward && !backward {
            return Err(Error::InvalidMessage(
                "a proxy needs a frontend that receives and a backend that sends, or the reverse",
            ));
        }
        let mut stats = ProxyStats::default();
        let mut paused = false;
        // Which side is polled first: alternated, so that a busy side cannot starve
        // the other.
        let mut backend_first = false;
        loop {
            let event = {
                let mut front = pin!(async {
                    if forward && !paused {
                        Event::Frontend(self.frontend.recv_message().await)
                    } else {
                        std::future::pending().await
                    }
                });
                let mut back = pin!(async {
                    if backward && !paused {
                        Event::Backend(self.backend.recv_message().await)
                    } else {
                        std::future::pending().await
                    }
                });
                let mut control = pin!(async {
                    match self.control {
                        Some(c) => Event::Control(c, c.recv_message().await),
                        None => std::future::pending().await,
                    }
                });
                std::future::poll_fn(|cx| {
                    if let Poll::Ready(e) = control.as_mut().poll(cx) {
                        return Poll::Ready(e);
                    }
                    type Side<'f, 'k, K> = std::pin::Pin<&'f mut dyn Future<Output = Event<'k, K>>>;
                    let (first, second): (Side<'_, '_, K>, Side<'_, '_, K>) = if backend_first {
                        (back.as_mut(), front.as_mut())
                    } else {
                        (front.as_mut(), back.as_mut())
                    };
                    if let Poll::Ready(e) = first.poll(cx) {
                        return Poll::Ready(e);
                    }
                    second.poll(cx)
                })
                .await
            };
            backend_first = !backend_first;
            match event {
                Event::Frontend(msg) => {
                    let ProxyStats { frontend, backend } = &mut stats;
                    self.pass(msg?, frontend, self.backend, backend).await?;
                }
                Event::Backend(msg) => {
                    let ProxyStats { frontend, backend } = &mut stats;
                    self.pass(msg?, backend, self.frontend, frontend).await?;
                }
                Event::Control(control, command) => {
                    let command = command?;
                    let word = command.frames().first().map(|f| &f[..]).unwrap_or_default();
                    let (reply, terminate) = match word {
                        b"PAUSE" => {
                            paused = true;
                            (None, false)
                        }
                        b"RESUME" => {
                            paused = false;
                            (None, false)
                        }
                        b"TERMINATE" => (None, true),
                        b"STATISTICS" => (Some(stats.to_message()), false),
                        other => {
                            tracing::warn!(
                                command = %String::from_utf8_lossy(other),
                                "proxy: unknown control command ignored"
                            );
                            (None, false)
                        }
                    };
                    // A REP control socket answers every command.
                    let reply = reply.or_else(|| (control.kind() == SocketType::Rep).then(empty));
                    if let Some(reply) = reply {
                        control.send_message(reply).await?;
                    }
                    if terminate {
                        return Ok(stats);
                    }
                }
            }
        }
    }

    /// Counts `msg` as received on the side `from` stands for, and sends it through
    /// `to` (whose counters are `to_stats`), with its copy to the capture socket
    /// first.
    async fn pass(
        &self,
        msg: Message,
        from: &mut SideStats,
        to: &impl ProxySocket,
        to_stats: &mut SideStats,
    ) -> Result<()> {
        let bytes = msg.byte_len() as u64;
        from.received += 1;
        from.received_bytes += bytes;
        if let Some(capture) = self.capture {
            capture.send_message(msg.clone()).await?;
        }
        to.send_message(msg).await?;
        to_stats.sent += 1;
        to_stats.sent_bytes += bytes;
        Ok(())
    }
}

/// A REP control socket's answer to a command that has no reply of its own.
fn empty() -> Message {
    Message::single(bytes::Bytes::new())
}

/// `zmq_proxy`: [`Proxy::new`]`(frontend, backend).run()`, which returns only with
/// an error (there is no control socket to stop it).
pub async fn proxy(frontend: &impl ProxySocket, backend: &impl ProxySocket) -> Result<ProxyStats> {
    Proxy::new(frontend, backend).run().await
}
