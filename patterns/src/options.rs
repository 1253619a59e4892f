//! Socket options, with libzmq's names and defaults.

use std::time::Duration;

use bytes::Bytes;
use monocoque_runtime::{
    HeartbeatOptions, Keepalive, LinkOptions, SocketBuffers, TransportOptions,
};
use monocoque_zmtp::Security;

use crate::auth::SharedAuthenticator;

/// Options of one socket. Field names follow libzmq's `ZMQ_*` options and the defaults
/// are libzmq 4.3's. Set them before `bind`/`connect`; connections made later use the
/// values current at that time.
///
/// Each option has a chaining setter of the same name, so changing one reads as it
/// does in pyzmq (`socket.sndhwm = 10_000`), and struct update syntax works too:
///
/// ```
/// use std::time::Duration;
/// use monocoque::Options;
///
/// let opts = Options::default().sndhwm(10_000).linger(Duration::ZERO);
/// assert_eq!(opts.rcvhwm, 1000);
/// assert_eq!(opts.linger, Some(Duration::ZERO));
///
/// // The same, spelled out:
/// let same = Options { sndhwm: 10_000, linger: Some(Duration::ZERO), ..Options::default() };
/// assert_eq!(same.sndhwm, opts.sndhwm);
///
/// // On a socket, one option at a time:
/// # glommio::LocalExecutor::default().run(async {
/// let push = monocoque::Push::new();
/// push.set_options(push.options().sndtimeo(Duration::from_millis(100)));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    /// SNDHWM: messages queued per peer before the socket drops or waits (0 = no limit).
    pub sndhwm: usize,
    /// RCVHWM: messages queued from one peer before reading from it pauses (0 = no limit).
    pub rcvhwm: usize,
    /// LINGER: how long closing waits for queued messages to go out (`None` = forever,
    /// libzmq's −1 and default; `Some(Duration::ZERO)` drops them at once).
    pub linger: Option<Duration>,
    /// SNDTIMEO: how long a `send` waits for room (a peer below SNDHWM, or a peer at
    /// all) before failing with [`crate::Error::Timeout`]: `None` (libzmq's −1 and
    /// default) waits for ever, `Some(Duration::ZERO)` fails at once (libzmq's EAGAIN,
    /// as `try_send`). A send that times out did not queue its message. On a
    /// [`crate::ShardedSocket`] it bounds the handle's blocking `send`; `send_async`
    /// and [`crate::ShardRef::send`] wait (wrap them in your runtime's timeout).
    pub sndtimeo: Option<Duration>,
    /// RCVTIMEO: how long a `recv` waits for a message before failing with
    /// [`crate::Error::Timeout`]: `None` (default) for ever, `Some(Duration::ZERO)`
    /// returns at once. On a [`crate::ShardedSocket`] it bounds the handle's
    /// blocking `recv`, as SNDTIMEO does its `send`.
    pub rcvtimeo: Option<Duration>,
    /// ROUTING_ID: the identity announced to peers (REQ, DEALER, ROUTER send it).
    pub routing_id: Bytes,
    /// RECONNECT_IVL: delay before reconnecting (`None` = do not reconnect).
    pub reconnect_ivl: Option<Duration>,
    /// RECONNECT_IVL_MAX: cap of the doubling backoff (zero = no backoff).
    pub reconnect_ivl_max: Duration,
    /// HANDSHAKE_IVL: time allowed for the ZMTP handshake (`None` = no limit).
    pub handshake_ivl: Option<Duration>,
    /// HEARTBEAT_IVL: PING each peer this often (`None` = never).
    pub heartbeat_ivl: Option<Duration>,
    /// HEARTBEAT_TIMEOUT: close a connection that sends nothing this long after a PING
    /// (`None` = HEARTBEAT_IVL).
    pub heartbeat_timeout: Option<Duration>,
    /// HEARTBEAT_TTL: asks peers to close if they hear nothing from us this long
    /// (sent in our PINGs, in tenths of a second).
    pub heartbeat_ttl: Option<Duration>,
    /// MAXMSGSIZE: largest frame accepted from a peer (`None` = no limit).
    pub maxmsgsize: Option<u64>,
    /// BACKLOG: pending connections a listener queues (default 100, as libzmq). Raise
    /// it on a bound socket that must take bursts of connections, such as thousands of
    /// subscribers reconnecting after a restart: once the queue is full the kernel
    /// drops SYNs and those clients retry a second later (10 000 connects at once took
    /// 4.5 s with 100, 0.6 s with 4096). The kernel caps it at `net.core.somaxconn`.
    pub backlog: i32,
    /// SNDBUF: the kernel send buffer size (SO_SNDBUF) of every TCP connection, in
    /// bytes. `None` (libzmq's −1, its default since 4.2) leaves the system's default.
    /// As in libzmq 4.3, any other value is passed to `setsockopt` as it is, `Some(0)`
    /// included (Linux then uses its minimum; libzmq 4.1 took 0 to mean "default"),
    /// and Linux doubles it (`getsockopt` reports twice the value) and caps it at
    /// `net.core.wmem_max`. Set on a connecting socket before it connects and on a
    /// listening socket before it listens (accepted connections inherit it); IPC
    /// connections keep the system's size, as in libzmq.
    pub sndbuf: Option<usize>,
    /// RCVBUF: the kernel receive buffer size (SO_RCVBUF) of every TCP connection, in
    /// bytes, with the same rules as [`Options::sndbuf`] (the cap is
    /// `net.core.rmem_max`). Being set before the handshake, it also decides the TCP
    /// window scale the connection announces.
    pub rcvbuf: Option<usize>,
    /// TCP_KEEPALIVE: SO_KEEPALIVE on every TCP connection, so that the kernel probes
    /// a peer that has gone quiet and drops the connection if it does not answer:
    /// `Some(true)` on, `Some(false)` off, `None` (libzmq's −1 and default) leaves
    /// the system's (off on Linux). Set on connecting sockets before they connect,
    /// on listening sockets, and on each accepted connection; not on IPC.
    pub tcp_keepalive: Option<bool>,
    /// TCP_KEEPALIVE_IDLE: how long a connection is idle before the first keepalive
    /// probe (TCP_KEEPIDLE; Linux's default is `net.ipv4.tcp_keepalive_time`, 2
    /// hours). Whole seconds, 1 to 32767 s (libzmq's unit; anything else makes
    /// bind and connect fail with [`crate::Error::InvalidOption`]). `None` (libzmq's
    /// −1 and default) leaves the system's. As in libzmq, it is applied only when
    /// [`Options::tcp_keepalive`] is `Some(true)`, and so are the two below.
    pub tcp_keepalive_idle: Option<Duration>,
    /// TCP_KEEPALIVE_CNT: unanswered probes before the connection is dropped
    /// (TCP_KEEPCNT, 1 to 127; Linux's default 9). `None` (libzmq's −1) leaves the
    /// system's.
    pub tcp_keepalive_cnt: Option<u32>,
    /// TCP_KEEPALIVE_INTVL: time between keepalive probes (TCP_KEEPINTVL; whole
    /// seconds, 1 to 32767 s; Linux's default 75 s). `None` (libzmq's −1) leaves the
    /// system's.
    pub tcp_keepalive_intvl: Option<Duration>,
    /// CONNECT_TIMEOUT: how long one TCP connect attempt may take. An attempt not
    /// completed by then is abandoned, reported as [`crate::MonitorEvent::ConnectRetried`],
    /// and retried after RECONNECT_IVL like a refused one. `None` (libzmq's 0 and
    /// default) leaves it to the system: on Linux a peer that never answers the SYN
    /// (a host that is down, a listener whose backlog is full) takes about two
    /// minutes to fail. `Some(Duration::ZERO)` is refused (libzmq's 0 means "off",
    /// which is `None` here). IPC connects never wait.
    pub connect_timeout: Option<Duration>,
    /// TOS: the type-of-service byte (DSCP and ECN bits) of the socket's IP packets:
    /// IP_TOS, and IPV6_TCLASS on IPv6 connections. 0 to 255; other values make bind
    /// and connect fail with [`crate::Error::InvalidOption`]. `None` (libzmq's
    /// default 0, which it does not set) leaves the system's, 0. Set before connect,
    /// on listening sockets and on each accepted connection, as libzmq does; not on
    /// IPC.
    pub tos: Option<u32>,
    /// PRIORITY: SO_PRIORITY, the priority Linux queues the socket's packets with
    /// (it picks the traffic-control band). `None` (libzmq's default; it sets only
    /// non-zero values) leaves the system's, 0. Values above 6 need CAP_NET_ADMIN:
    /// without it bind and connect fail with [`crate::Error::InvalidOption`]. Set
    /// where TOS is.
    pub priority: Option<u32>,
    /// IPV6 (default false, as libzmq): with it, `tcp://*:port` binds `::`, one
    /// dual-stack socket that takes IPv6 and IPv4 connections, host names resolve to
    /// their IPv6 addresses too, and an interface name in a bind endpoint
    /// (`tcp://eth0:5555`) that has no IPv4 address binds its IPv6 one. Without it,
    /// `*` binds `0.0.0.0`, host names resolve to IPv4 addresses only and interface
    /// names to the interface's IPv4 address. An IPv6 address in the endpoint
    /// (`tcp://[::1]:5555`, `tcp://[::]:5555`) is used with or without it (libzmq
    /// refuses one unless IPV6 is set). A listener on an IPv6 address is always
    /// dual-stack.
    pub ipv6: bool,
    /// IMMEDIATE (default false, as libzmq): queue messages only to completed
    /// connections. By default a DEALER, PUSH, REQ or PAIR counts a peer it connects
    /// to in its send rotation from `connect` on, so messages wait for a peer that is
    /// not there yet (or is reconnecting) up to SNDHWM. With IMMEDIATE, a connect
    /// peer joins the rotation only once its handshake completes and leaves it when
    /// its connection ends, and what was still queued for it is dropped then (as
    /// libzmq drops its pipe). With no completed connection at all, `send` waits
    /// (up to [`Options::sndtimeo`], then [`crate::Error::Timeout`]) and `try_send`
    /// fails with [`crate::Error::WouldBlock`]. Other types, and bound sockets, whose
    /// peers only exist once connected, behave the same either way.
    pub immediate: bool,
    /// CONFLATE: keep only the newest message. Honoured by the types libzmq 4.3
    /// honours it for (DEALER, PUSH, PULL, PUB and SUB; other types ignore it, PAIR
    /// included), in both directions of each connection: a message received from a
    /// peer replaces the one from that peer still waiting to be read, and a message
    /// sent to a peer replaces the one still queued for it (what its connection has
    /// already handed to the kernel goes out as it is). RCVHWM and SNDHWM are ignored
    /// then, so a sender never waits and reading from a peer never pauses. A message
    /// is kept whole, all its frames (libzmq keeps only one frame of a multipart
    /// message: it does not support them with CONFLATE). The newest message of a peer
    /// that has disconnected is still delivered (libzmq 4.3 loses it: its end-of-pipe
    /// marker takes the message's place). A SUB conflates what passes its
    /// subscriptions. Subscriptions themselves are never conflated. Like the other
    /// options, it applies to connections made after it is set.
    pub conflate: bool,
    /// ROUTER_MANDATORY: a ROUTER reports unroutable messages instead of dropping them,
    /// and waits instead of dropping when the peer is at its high-water mark.
    pub router_mandatory: bool,
    /// ROUTER_HANDOVER: a peer that announces a routing id another peer has takes it
    /// over (the older connection is closed), instead of being refused. In a sharded
    /// ROUTER the older peer may be on another core.
    pub router_handover: bool,
    /// XPUB_VERBOSE: an XPUB passes up every subscription, not only new topics.
    pub xpub_verbose: bool,
    /// XPUB_NODROP (PUB and XPUB, default false): a message is never dropped for a
    /// subscriber at SNDHWM. When a subscriber that the message is for has no room,
    /// nobody gets it yet: `try_send` fails with [`crate::Error::WouldBlock`] (libzmq's
    /// EAGAIN with `ZMQ_DONTWAIT`) and hands the message back, and `send` waits until
    /// every such subscriber has room, for at most SNDTIMEO ([`Options::sndtimeo`];
    /// then [`crate::Error::Timeout`], nothing sent), as a blocking libzmq send does.
    /// A `send` whose future is dropped while it waits still publishes the message
    /// (past SNDHWM), as every cancelled Monocoque send does; a `Sink` cannot wait for
    /// one message's subscribers and publishes past SNDHWM too. In a
    /// [`crate::ShardedSocket`], a message sent through the handle waits the same way
    /// for the subscribers of every core (each core takes a bounded number of such
    /// messages ahead of its subscribers' room, then the handle's `send` waits and its
    /// `try_send` refuses); a [`crate::ShardRef::send`] on a core waits for that core's
    /// subscribers only, and subscribers on other cores miss its messages at SNDHWM (a
    /// core never waits for another).
    pub xpub_nodrop: bool,
    /// XPUB_MANUAL (XPUB only, default false): subscriptions are not applied by the
    /// socket. Every SUBSCRIBE and CANCEL a subscriber sends is passed up, duplicates
    /// included, and the application decides: after `recv` returned one, it calls
    /// [`crate::XPub::subscribe`] or [`crate::XPub::unsubscribe`] (libzmq's
    /// `ZMQ_SUBSCRIBE`/`ZMQ_UNSUBSCRIBE` on the XPUB) with any topic, and the change
    /// applies to the subscriber that message came from. When a subscriber leaves,
    /// each topic it had asked for is passed up as a cancel (`\x00topic`), and what it
    /// was subscribed to goes with it. A PUB ignores the option (libzmq's PUB would
    /// apply nothing and so deliver nothing, since it cannot read subscriptions). In a
    /// [`crate::ShardedSocket`] it works through the handle
    /// ([`crate::ShardedSocket::recv`], then [`crate::ShardedSocket::subscribe`], applied
    /// on the core of the request's subscriber) and on each core
    /// ([`crate::ShardRef::recv`], [`crate::ShardRef::subscribe`]).
    pub xpub_manual: bool,
    /// XPUB_WELCOME_MSG (PUB and XPUB, default none): a message sent to each new
    /// subscriber as soon as its connection is made, before anything else, whatever
    /// it subscribes to (a SUB keeps it only if it subscribes to a prefix of it, as
    /// libzmq's SUB does). An empty message counts as none, as in libzmq. It is sent
    /// on every connection, so a connecting PUB sends it again after a reconnect.
    pub xpub_welcome_msg: Option<Bytes>,
    /// INVERT_MATCHING (PUB, XPUB and SUB, default false): a PUB or XPUB sends each
    /// message to the subscribers that have no subscription matching it (so a
    /// subscriber with no subscriptions at all gets everything), and a SUB keeps the
    /// messages that match none of its subscriptions. As with libzmq, both ends must
    /// set it for PUB/SUB to work that way: an inverted PUB's subscriber that does not
    /// invert receives nothing it subscribed to. XSUB ignores it (it filters nothing).
    pub invert_matching: bool,
    /// PROBE_ROUTER (ROUTER, DEALER and REQ, default false): each new connection
    /// starts with an empty message, sent before anything queued, so that a ROUTER
    /// at the other end learns the peer's routing id at once (it receives
    /// `[id, ""]`); the application filters these out. libzmq documents it "when a
    /// new connection is made or accepted": Monocoque sends it on every connection,
    /// a reconnection included. Do not set it towards other socket types.
    pub probe_router: bool,
    /// CONNECT_ROUTING_ID (ROUTER, default none): the routing id the next
    /// `connect` names its peer by, locally, instead of the one the peer announces.
    /// That peer is routable at once: messages sent to it queue (up to SNDHWM) until
    /// the connection is made, and it keeps the id over reconnections. The `connect`
    /// takes the value (the option is `None` again afterwards), as in libzmq.
    /// [`crate::Router::connect_with_id`] does the same in one call. The id must be 1
    /// to 255 bytes and not start with a zero byte, and no other peer may have it
    /// (else `connect` fails with [`crate::Error::InvalidArgument`]; libzmq asserts on
    /// a duplicate). A [`crate::ShardedSocket`] ignores the option (it has no single
    /// "next connect"); use its
    /// [`connect_with_id`](crate::ShardedSocket::connect_with_id).
    pub connect_routing_id: Option<Bytes>,
    /// REQ_RELAXED: a REQ may send a new request without waiting for the reply.
    pub req_relaxed: bool,
    /// REQ_CORRELATE: a REQ tags requests with an id and accepts only matching replies.
    pub req_correlate: bool,
    /// Busy polling (a Monocoque option; libzmq has none): after its last traffic a
    /// connection (TCP or IPC) keeps checking its socket for this long instead of letting its
    /// executor sleep, so a reply that arrives within it is seen at once rather than
    /// after a wake-up. It keeps the core busy while it lasts, like Linux's
    /// SO_BUSY_POLL; use it where round-trip latency matters more than CPU time.
    /// `None` (the default) never busy-polls.
    pub busy_poll: Option<Duration>,
    /// The security mechanism and this socket's role in it: NULL (the default); PLAIN
    /// as a client ([`Security::PlainClient`]: libzmq's PLAIN_USERNAME and
    /// PLAIN_PASSWORD) or a server ([`Security::PlainServer`]: PLAIN_SERVER); CURVE as a
    /// client ([`Security::CurveClient`]: CURVE_PUBLICKEY, CURVE_SECRETKEY,
    /// CURVE_SERVERKEY) or a server ([`Security::CurveServer`]: CURVE_SERVER,
    /// CURVE_SECRETKEY). Both ends must use the same mechanism (else the handshake fails
    /// with a mechanism mismatch).
    pub security: Security,
    /// ZAP_DOMAIN: the domain a server names in its authentication requests. On a
    /// NULL socket a domain also turns authentication on: every peer is then asked
    /// about (credentials: none), as libzmq does; without one, NULL never asks.
    pub zap_domain: Bytes,
    /// ZAP_ENFORCE_DOMAIN (default false, as in libzmq 4.3): ZAP as RFC 27 has it.
    /// A socket with a ZAP domain and no authenticator then refuses every peer of a
    /// mechanism that would ask (NULL, PLAIN, CURVE; monitor:
    /// HANDSHAKE_FAILED_NO_DETAIL) instead of letting NULL and CURVE peers in; and a
    /// socket without a domain does no authentication at all: a CURVE server lets
    /// every client key in without asking its authenticator, and a PLAIN server
    /// refuses everyone. See docs/security.md.
    pub zap_enforce_domain: bool,
    /// Who decides, for a server, whether a client may come in (libzmq's ZAP
    /// handler); see [`crate::Authenticator`]. Without one a PLAIN server refuses every
    /// client and a CURVE server lets in every client key (traffic still encrypted), as
    /// libzmq without a ZAP handler does; ZAP_ENFORCE_DOMAIN changes that
    /// ([`Options::zap_enforce_domain`]).
    pub authenticator: Option<SharedAuthenticator>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            sndhwm: 1000,
            rcvhwm: 1000,
            linger: None,
            sndtimeo: None,
            rcvtimeo: None,
            routing_id: Bytes::new(),
            reconnect_ivl: Some(Duration::from_millis(100)),
            reconnect_ivl_max: Duration::ZERO,
            handshake_ivl: Some(Duration::from_secs(30)),
            heartbeat_ivl: None,
            heartbeat_timeout: None,
            heartbeat_ttl: None,
            maxmsgsize: None,
            backlog: 100,
            sndbuf: None,
            rcvbuf: None,
            tcp_keepalive: None,
            tcp_keepalive_idle: None,
            tcp_keepalive_cnt: None,
            tcp_keepalive_intvl: None,
            connect_timeout: None,
            tos: None,
            priority: None,
            ipv6: false,
            immediate: false,
            conflate: false,
            router_mandatory: false,
            router_handover: false,
            xpub_verbose: false,
            xpub_nodrop: false,
            xpub_manual: false,
            xpub_welcome_msg: None,
            invert_matching: false,
            probe_router: false,
            connect_routing_id: None,
            req_relaxed: false,
            req_correlate: false,
            busy_poll: None,
            security: Security::Null,
            zap_domain: Bytes::new(),
            zap_enforce_domain: false,
            authenticator: None,
        }
    }
}

impl Options {
    pub(crate) fn link(&self) -> LinkOptions {
        LinkOptions {
            reconnect_ivl: self.reconnect_ivl,
            reconnect_ivl_max: self.reconnect_ivl_max,
            handshake_ivl: self.handshake_ivl,
            heartbeat: HeartbeatOptions {
                ivl: self.heartbeat_ivl,
                timeout: self.heartbeat_timeout,
                ttl: self.heartbeat_ttl,
            },
            busy_poll: self.busy_poll,
            transport: self.transport(),
        }
    }

    /// The options the transports apply to TCP sockets.
    pub(crate) fn transport(&self) -> TransportOptions {
        TransportOptions {
            buffers: SocketBuffers {
                sndbuf: self.sndbuf,
                rcvbuf: self.rcvbuf,
            },
            keepalive: Keepalive {
                enabled: self.tcp_keepalive,
                idle: self.tcp_keepalive_idle,
                cnt: self.tcp_keepalive_cnt,
                intvl: self.tcp_keepalive_intvl,
            },
            tos: self.tos,
            priority: self.priority,
            ipv6: self.ipv6,
            connect_timeout: self.connect_timeout,
        }
    }
}

/// A chaining setter for each option: `Options::default().sndhwm(10).rcvhwm(10)`.
/// Options marked `into` take their value through `Into`, so an `Option<Duration>`
/// option takes a `Duration` or `None`, and a `Bytes` option a `&'static str` or a
/// `Vec<u8>`; the others take their type as it is (integer literals infer).
macro_rules! setters {
    (
        exact { $($name:ident: $ty:ty),* $(,)? }
        into { $($iname:ident: $ity:ty),* $(,)? }
    ) => {
        impl Options {
            $(
                #[doc = concat!("Sets [`Options::", stringify!($name), "`].")]
                #[must_use]
                pub fn $name(mut self, value: $ty) -> Options {
                    self.$name = value;
                    self
                }
            )*
            $(
                #[doc = concat!("Sets [`Options::", stringify!($iname), "`].")]
                #[must_use]
                pub fn $iname(mut self, value: impl Into<$ity>) -> Options {
                    self.$iname = value.into();
                    self
                }
            )*
        }
    };
}

setters! {
    exact {
        sndhwm: usize,
        rcvhwm: usize,
        reconnect_ivl_max: Duration,
        backlog: i32,
        ipv6: bool,
        immediate: bool,
        conflate: bool,
        router_mandatory: bool,
        router_handover: bool,
        xpub_verbose: bool,
        xpub_nodrop: bool,
        xpub_manual: bool,
        invert_matching: bool,
        probe_router: bool,
        req_relaxed: bool,
        req_correlate: bool,
        security: Security,
        zap_enforce_domain: bool,
    }
    into {
        linger: Option<Duration>,
        sndtimeo: Option<Duration>,
        rcvtimeo: Option<Duration>,
        routing_id: Bytes,
        reconnect_ivl: Option<Duration>,
        handshake_ivl: Option<Duration>,
        heartbeat_ivl: Option<Duration>,
        heartbeat_timeout: Option<Duration>,
        heartbeat_ttl: Option<Duration>,
        maxmsgsize: Option<u64>,
        sndbuf: Option<usize>,
        rcvbuf: Option<usize>,
        tcp_keepalive: Option<bool>,
        tcp_keepalive_idle: Option<Duration>,
        tcp_keepalive_cnt: Option<u32>,
        tcp_keepalive_intvl: Option<Duration>,
        connect_timeout: Option<Duration>,
        tos: Option<u32>,
        priority: Option<u32>,
        busy_poll: Option<Duration>,
        zap_domain: Bytes,
        xpub_welcome_msg: Option<Bytes>,
        connect_routing_id: Option<Bytes>,
        authenticator: Option<SharedAuthenticator>,
    }
}
