//! TCP and IPC transports on glommio: listeners that report "address in use" like
//! libzmq, and one stream type over both (and over [`crate::inproc`]'s pipes).
//!
//! Both transports are held as glommio `TcpStream`s and `TcpListener`s. glommio's
//! stream types are one generic socket machine (non-blocking `recv`/`send` on the
//! descriptor, io_uring readiness polls and `accept`), whatever the address family;
//! its TCP types expose their descriptor and its Unix types do not, and the direct
//! reads, vectored writes and busy polling below need the descriptor. Unix sockets
//! are therefore created, bound and connected here with socket2 and handed to
//! glommio's TCP types; nothing TCP-specific (`set_nodelay`, `peer_addr`,
//! `local_addr`) is called on them.
//!
//! Kernel buffer sizes ([`SocketBuffers`], libzmq's SNDBUF and RCVBUF) are applied as
//! libzmq 4.3 applies them (`tcp_open_socket` in its `src/tcp.cpp`): to TCP sockets
//! only, before `connect` on connecting sockets and before `listen` on listening ones,
//! whose accepted connections inherit them (Linux copies both sizes at accept). Doing
//! it before the handshake matters for the receive buffer: TCP's window scale is
//! fixed by the SYN, from the receive buffer at that moment. IPC sockets keep the
//! system's sizes, as in libzmq.
//!
//! The other TCP options ([`TransportOptions`]: keepalive, TOS, PRIORITY) go where
//! libzmq puts them too: on connecting sockets (here before `connect`; libzmq sets
//! keepalive once connected, which comes to the same), on listeners, and again on
//! each accepted connection. The last is not redundant: Linux hands an accepted
//! socket its listener's keepalive and TOS, but not its SO_PRIORITY (seen in the
//! tests), and with `net.ipv4.tcp_reflect_tos` the TOS is the peer's SYN's.
//! [`TransportOptions::check`] tries them once on a scratch socket, so that a value
//! the kernel refuses is reported by the bind or connect that asked for it.

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::{TcpListener, TcpStream};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::endpoint::Endpoint;
use crate::inproc::{InprocListener, InprocStream};
use monocoque_zmtp::encoder::{Outgoing, MAX_SEGMENTS};

/// Kernel socket buffer sizes for a socket's TCP connections (SO_SNDBUF and
/// SO_RCVBUF; libzmq's SNDBUF and RCVBUF). `None` leaves the system's default (and,
/// for TCP, Linux's buffer autotuning). A size is handed to `setsockopt` as given, so
/// the kernel's rules apply: Linux doubles it (for its own bookkeeping; `getsockopt`
/// reports the doubled value), caps it at `net.core.wmem_max` / `rmem_max` and raises
/// it to a small minimum (so 0 means "as small as possible", as in libzmq 4.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketBuffers {
    /// SO_SNDBUF in bytes.
    pub sndbuf: Option<usize>,
    /// SO_RCVBUF in bytes.
    pub rcvbuf: Option<usize>,
}

impl SocketBuffers {
    /// Sets the sizes that are given on `sock`.
    fn apply(&self, sock: &Socket) -> io::Result<()> {
        // setsockopt takes an int: larger values are capped by the kernel anyway.
        let int = |n: usize| n.min(i32::MAX as usize);
        if let Some(n) = self.sndbuf {
            sock.set_send_buffer_size(int(n))
                .map_err(|e| io::Error::from(refused("SNDBUF", n, e)))?;
        }
        if let Some(n) = self.rcvbuf {
            sock.set_recv_buffer_size(int(n))
                .map_err(|e| io::Error::from(refused("RCVBUF", n, e)))?;
        }
        Ok(())
    }
}

/// TCP keepalive (libzmq's TCP_KEEPALIVE, TCP_KEEPALIVE_IDLE, TCP_KEEPALIVE_CNT and
/// TCP_KEEPALIVE_INTVL; Linux's SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPCNT and
/// TCP_KEEPINTVL). `None` everywhere (libzmq's −1) leaves the system's settings.
/// As in libzmq, `idle`, `cnt` and `intvl` are applied only when `enabled` is
/// `Some(true)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keepalive {
    /// SO_KEEPALIVE: `Some(true)` turns keepalive probes on, `Some(false)` off.
    pub enabled: Option<bool>,
    /// TCP_KEEPIDLE: idle time before the first probe (whole seconds, 1 to 32767).
    pub idle: Option<Duration>,
    /// TCP_KEEPCNT: unanswered probes before the connection is dropped (1 to 127).
    pub cnt: Option<u32>,
    /// TCP_KEEPINTVL: time between probes (whole seconds, 1 to 32767).
    pub intvl: Option<Duration>,
}

/// Largest TCP_KEEPIDLE and TCP_KEEPINTVL Linux accepts, in seconds.
const MAX_KEEPALIVE_SECS: u64 = 32767;
/// Largest TCP_KEEPCNT Linux accepts.
const MAX_KEEPALIVE_CNT: u32 = 127;

/// The transport-level options of a socket's TCP connections, applied by
/// [`connect`] before connecting and by [`Listener::bind`] to the listener and to
/// every connection it accepts. IPC connections use none of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportOptions {
    /// SNDBUF and RCVBUF, set before `connect` and before `listen` (accepted
    /// connections inherit them).
    pub buffers: SocketBuffers,
    /// TCP keepalive, set on connecting sockets, on listeners and on each accepted
    /// connection.
    pub keepalive: Keepalive,
    /// TOS: the IP type-of-service byte (IP_TOS; IPV6_TCLASS on IPv6 sockets, and
    /// IP_TOS too for their IPv4-mapped traffic), 0 to 255, set before `connect`,
    /// on listeners and on each accepted connection. `None` leaves the system's (0).
    pub tos: Option<u32>,
    /// PRIORITY: SO_PRIORITY, the queueing priority of the socket's packets, set
    /// where TOS is. Linux lets a process without CAP_NET_ADMIN use 0 to 6 only.
    pub priority: Option<u32>,
    /// IPV6: `*` binds `::` (dual-stack) instead of `0.0.0.0`, and host names
    /// resolve to IPv6 addresses too (see [`Endpoint::resolve`]).
    pub ipv6: bool,
    /// CONNECT_TIMEOUT: a TCP connect attempt not completed in this time is given up
    /// (and retried after RECONNECT_IVL). `None` leaves it to the system (on Linux,
    /// SYN retries give up after about two minutes).
    pub connect_timeout: Option<Duration>,
}

/// A socket option the system refused, or a value out of its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{option} = {value}: {reason}")]
pub struct OptionError {
    /// libzmq's name of the option (`TOS`, `TCP_KEEPALIVE_IDLE`, …).
    pub option: &'static str,
    /// The value asked for, as text.
    pub value: String,
    /// Why it was refused.
    pub reason: String,
}

impl From<OptionError> for io::Error {
    fn from(e: OptionError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

/// The error of a `setsockopt` that failed, naming the option.
fn refused(option: &'static str, value: impl std::fmt::Display, e: io::Error) -> OptionError {
    OptionError {
        option,
        value: value.to_string(),
        reason: e.to_string(),
    }
}

impl TransportOptions {
    /// Checks the values against the ranges the system accepts and, when any option
    /// that is not a buffer size is set, tries them on a scratch TCP socket (which
    /// catches what only the kernel knows, such as a PRIORITY above 6 without
    /// CAP_NET_ADMIN). A bind or connect calls this first, so that a bad option is
    /// reported there instead of by every background connect attempt.
    pub fn check(&self) -> Result<(), OptionError> {
        let bad = |option: &'static str, value: String, reason: &str| {
            Err(OptionError {
                option,
                value,
                reason: reason.to_owned(),
            })
        };
        if let Some(tos) = self.tos {
            if tos > 255 {
                return bad("TOS", tos.to_string(), "must be 0 to 255 (one byte)");
            }
        }
        for (option, d) in [
            ("TCP_KEEPALIVE_IDLE", self.keepalive.idle),
            ("TCP_KEEPALIVE_INTVL", self.keepalive.intvl),
        ] {
            if let Some(d) = d {
                if d.subsec_nanos() != 0 || d.as_secs() == 0 || d.as_secs() > MAX_KEEPALIVE_SECS {
                    return bad(
                        option,
                        format!("{d:?}"),
                        "must be a whole number of seconds, 1 to 32767",
                    );
                }
            }
        }
        if let Some(cnt) = self.keepalive.cnt {
            if cnt == 0 || cnt > MAX_KEEPALIVE_CNT {
                return bad("TCP_KEEPALIVE_CNT", cnt.to_string(), "must be 1 to 127");
            }
        }
        if let Some(d) = self.connect_timeout {
            if d.is_zero() {
                return bad(
                    "CONNECT_TIMEOUT",
                    "0".into(),
                    "must be above zero (None leaves it to the system)",
                );
            }
        }
        if self.tunes_accepted() {
            let probe = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
                .map_err(|e| refused("(a scratch TCP socket to try them on)", "", e))?;
            self.apply_tuning(&probe, false)?;
        }
        Ok(())
    }

    /// Everything, on a socket before it connects or listens.
    fn apply(&self, sock: &Socket, v6: bool) -> io::Result<()> {
        self.buffers.apply(sock)?;
        Ok(self.apply_tuning(sock, v6)?)
    }

    /// TOS, PRIORITY and keepalive (what an accepted connection is given again).
    fn apply_tuning(&self, sock: &Socket, v6: bool) -> Result<(), OptionError> {
        if let Some(tos) = self.tos {
            if v6 {
                sock.set_tclass_v6(tos)
                    .map_err(|e| refused("TOS", tos, e))?;
                // For the IPv4-mapped connections of a dual-stack socket; an IPv6-only
                // stack may refuse it, which only matters to IPv4 traffic.
                let _ = sock.set_tos(tos);
            } else {
                sock.set_tos(tos).map_err(|e| refused("TOS", tos, e))?;
            }
        }
        if let Some(priority) = self.priority {
            set_priority(sock, priority).map_err(|e| refused("PRIORITY", priority, e))?;
        }
        let ka = &self.keepalive;
        if let Some(on) = ka.enabled {
            sock.set_keepalive(on)
                .map_err(|e| refused("TCP_KEEPALIVE", on, e))?;
            if on && (ka.idle.is_some() || ka.intvl.is_some() || ka.cnt.is_some()) {
                let mut params = socket2::TcpKeepalive::new();
                if let Some(idle) = ka.idle {
                    params = params.with_time(idle);
                }
                if let Some(intvl) = ka.intvl {
                    params = params.with_interval(intvl);
                }
                if let Some(cnt) = ka.cnt {
                    params = params.with_retries(cnt);
                }
                sock.set_tcp_keepalive(&params)
                    .map_err(|e| refused("TCP_KEEPALIVE_IDLE/INTVL/CNT", format!("{ka:?}"), e))?;
            }
        }
        Ok(())
    }

    /// True when an accepted connection has anything to be given.
    fn tunes_accepted(&self) -> bool {
        self.tos.is_some() || self.priority.is_some() || self.keepalive.enabled.is_some()
    }
}

/// SO_PRIORITY (socket2 0.5 has no call for it).
fn set_priority(sock: &Socket, priority: u32) -> io::Result<()> {
    let value = libc::c_int::try_from(priority)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "above i32::MAX"))?;
    // SAFETY: `value` is a live c_int and the length passed is its size; `sock` is
    // an open socket borrowed for the whole call.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PRIORITY,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A connected byte stream over TCP or a Unix domain socket.
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// Unix domain socket (held by glommio's `TcpStream`, see the module docs).
    Ipc(TcpStream),
    /// An in-process pipe ([`crate::inproc`]).
    Inproc(InprocStream),
}

impl Stream {
    /// A printable description of the remote end, for logs.
    pub fn peer_description(&self) -> String {
        match self {
            Stream::Tcp(s) => s
                .peer_addr()
                .map(|a| format!("tcp://{a}"))
                .unwrap_or_else(|_| "tcp://?".into()),
            // A Unix peer has no address of its own: it is named by its process.
            Stream::Ipc(s) => match peer_credentials(s.as_raw_fd()) {
                Some(c) => format!("ipc peer pid {} uid {}", c.pid, c.uid),
                None => "ipc peer".into(),
            },
            Stream::Inproc(s) => format!("inproc://{}", s.name()),
        }
    }

    /// The local end as an endpoint, for logs: on an accepted connection, the address
    /// it was accepted on (`tcp://ip:port`, or the `ipc://` path the listener is
    /// bound to); `?` where it cannot be read.
    pub fn local_description(&self) -> String {
        let socket = match self {
            Stream::Inproc(s) => return format!("inproc://{}", s.name()),
            Stream::Tcp(s) | Stream::Ipc(s) => s,
        };
        with_socket(socket.as_raw_fd(), |sock| {
            let Ok(addr) = sock.local_addr() else {
                return "?".into();
            };
            match (self, addr.as_socket(), addr.as_pathname()) {
                (Stream::Tcp(_), Some(a), _) => format!("tcp://{a}"),
                (Stream::Ipc(_), _, Some(path)) => format!("ipc://{}", path.display()),
                _ => "?".into(),
            }
        })
    }

    /// The peer's address as libzmq reports it (its `Peer-Address` property, and the
    /// address a ZAP request carries): for TCP the IP address, without the port; for
    /// IPC `localhost:UID:GID:PID`, the credentials of the peer process (SO_PEERCRED,
    /// as libzmq built with it gives them), or `localhost` when they cannot be read.
    /// Empty when the TCP peer's address cannot be read.
    pub fn peer_address(&self) -> String {
        match self {
            Stream::Tcp(s) => s
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
            Stream::Ipc(s) => match peer_credentials(s.as_raw_fd()) {
                Some(c) => format!("localhost:{}:{}:{}", c.uid, c.gid, c.pid),
                None => "localhost".to_owned(),
            },
            Stream::Inproc(_) => String::new(),
        }
    }

    #[inline]
    fn socket(&self) -> Option<&TcpStream> {
        match self {
            Stream::Tcp(s) | Stream::Ipc(s) => Some(s),
            Stream::Inproc(_) => None,
        }
    }

    /// Reads up to `want` bytes onto the end of `buf`, which must have room for them
    /// (see the arena's `reserve`). With `direct`, the read goes straight into the
    /// spare capacity (no zero-fill), and only when nothing is waiting does a small
    /// glommio read follow, to arm the readiness poll. Without it, glommio reads into
    /// zero-filled room and, after a short read, arms its poll at once: one syscall per
    /// read where traffic comes in single messages (request/reply), where a direct read
    /// would find the socket empty and cost a second one.
    pub fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        want: usize,
        direct: bool,
    ) -> Poll<io::Result<usize>> {
        let mut want = want;
        if let (true, Some(socket)) = (direct, self.socket()) {
            match with_socket(socket.as_raw_fd(), |sock| {
                crate::arena::recv_into(buf, want, sock)
            }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return Poll::Ready(other),
            }
            // Nothing was waiting: glommio's read (which arms the readiness poll)
            // needs initialized memory, so keep that read small.
            want = want.min(SMALL_READ);
        }
        let start = buf.len();
        buf.resize(start + want, 0);
        let result = Pin::new(&mut *self).poll_read(cx, &mut buf[start..]);
        let read = match &result {
            Poll::Ready(Ok(n)) => *n,
            _ => 0,
        };
        buf.truncate(start + read);
        result
    }

    /// Writes the front of `out` (several pieces at once with vectored I/O when large
    /// bodies are queued) and marks what was written. Ready(Ok(n)) with the bytes
    /// written; Pending registers `cx` for writability.
    pub fn poll_write_out(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut Outgoing,
    ) -> Poll<io::Result<usize>> {
        let mut slices = [IoSlice::new(&[]); MAX_SEGMENTS];
        let mut count = 0;
        out.segments(|s| {
            slices[count] = IoSlice::new(s);
            count += 1;
        });
        let result = match self.socket() {
            Some(socket) if count >= 2 => {
                match send_vectored(socket.as_raw_fd(), &slices[..count]) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // Let glommio arm its readiness poll (it retries the send first).
                        Pin::new(&mut *self).poll_write(cx, out.first_segment())
                    }
                    other => Poll::Ready(other),
                }
            }
            _ => Pin::new(&mut *self).poll_write(cx, out.first_segment()),
        };
        if let Poll::Ready(Ok(n)) = result {
            out.advance(n);
        }
        result
    }
}

/// Largest read through glommio's own read, whose room is zero-filled first: after a
/// direct read found nothing, and while messages come one at a time (the driver).
pub(crate) const SMALL_READ: usize = 4096;

/// One non-blocking `sendmsg` of several buffers on the socket `fd`.
fn send_vectored(fd: RawFd, slices: &[IoSlice<'_>]) -> io::Result<usize> {
    with_socket(fd, |sock| {
        sock.send_vectored_with_flags(slices, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
    })
}

/// The credentials of the process at the other end of the Unix socket `fd`.
fn peer_credentials(fd: RawFd) -> Option<libc::ucred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are live locals, writable for the sizes passed, and
    // `fd` is the descriptor of a stream the caller borrows for the whole call.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(cred)
}

/// Runs `f` with a socket2 view of the descriptor of a glommio stream, for the
/// calls glommio does not offer (vectored writes, reads into uninitialized memory).
fn with_socket<R>(fd: RawFd, f: impl FnOnce(socket2::SockRef<'_>) -> R) -> R {
    // SAFETY: callers pass the descriptor of a stream they borrow for the whole of
    // this call, so `fd` stays open while the BorrowedFd (and the view) exist.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    f(socket2::SockRef::from(&fd))
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) | Stream::Ipc(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Inproc(s) => s.poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) | Stream::Ipc(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Inproc(s) => s.poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) | Stream::Ipc(s) => Pin::new(s).poll_flush(cx),
            Stream::Inproc(_) => Poll::Ready(Ok(())),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) | Stream::Ipc(s) => Pin::new(s).poll_close(cx),
            Stream::Inproc(_) => Poll::Ready(Ok(())),
        }
    }
}

/// A bound, listening endpoint.
pub enum Listener {
    /// TCP listener, and the options its accepted connections are given.
    Tcp(TcpListener, TransportOptions),
    /// Unix domain socket listener (held by glommio's `TcpListener`, see the module
    /// docs) and its path (removed when dropped).
    Ipc(TcpListener, std::path::PathBuf),
    /// A bound inproc name.
    Inproc(InprocListener),
}

impl Listener {
    /// Binds `endpoint` on the current glommio executor.
    ///
    /// TCP listeners are built with socket2 with SO_REUSEADDR but without SO_REUSEPORT,
    /// so a port that is already bound fails with `AddrInUse` (glommio's own `bind`
    /// would silently share it). The host is resolved by [`Endpoint::resolve`] for
    /// binding (`*`, addresses, interface names; `options.ipv6`); an IPv6 listener is
    /// dual-stack. `options` are set on TCP listeners before `listen`, so every
    /// accepted connection has the buffer sizes from its first segment, and TOS,
    /// PRIORITY and keepalive are set again on each accepted connection. IPC follows
    /// libzmq: a stale socket file at the path is removed before binding.
    pub fn bind(
        endpoint: &Endpoint,
        backlog: i32,
        options: &TransportOptions,
    ) -> io::Result<Listener> {
        match endpoint {
            Endpoint::Tcp { .. } => {
                let addrs = endpoint
                    .resolve(options.ipv6, true)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                let mut last = None;
                for addr in addrs {
                    match bind_tcp(addr, backlog, options) {
                        Ok(sock) => {
                            return Ok(Listener::Tcp(into_listener(sock), *options));
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Err(last
                    .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address")))
            }
            Endpoint::Ipc(path) => {
                if let Ok(meta) = std::fs::symlink_metadata(path) {
                    use std::os::unix::fs::FileTypeExt;
                    if meta.file_type().is_socket() {
                        let _ = std::fs::remove_file(path);
                    }
                }
                let sock = Socket::new(Domain::UNIX, Type::STREAM, None)?;
                sock.bind(&SockAddr::unix(path)?)?;
                sock.listen(backlog)?;
                Ok(Listener::Ipc(into_listener(sock), path.clone()))
            }
            Endpoint::Inproc(name) => Ok(Listener::Inproc(InprocListener::bind(name)?)),
        }
    }

    /// The endpoint actually bound (with the real port for `tcp://…:0`).
    pub fn local_endpoint(&self) -> io::Result<Endpoint> {
        match self {
            Listener::Tcp(l, _) => {
                let addr = l.local_addr()?;
                Ok(Endpoint::Tcp {
                    host: match addr.ip() {
                        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                        ip => ip.to_string(),
                    },
                    port: addr.port(),
                })
            }
            Listener::Ipc(_, path) => Ok(Endpoint::Ipc(path.clone())),
            Listener::Inproc(l) => Ok(Endpoint::Inproc(l.name().to_string())),
        }
    }
}

/// A glommio listener owning `sock`, which is bound and listening.
fn into_listener(sock: Socket) -> TcpListener {
    // SAFETY: `into_raw_fd` hands over sole ownership of a valid, bound and listening
    // socket; the TcpListener becomes its only owner and closes it on drop.
    unsafe { TcpListener::from_raw_fd(sock.into_raw_fd()) }
}

/// An accepted connection that can move to another core's executor.
pub enum SharedStream {
    /// TCP, and the options to give it (its listener's).
    Tcp(glommio::net::AcceptedTcpStream, TransportOptions),
    /// Unix domain socket.
    Ipc(glommio::net::AcceptedTcpStream),
    /// An inproc connection (nothing binds it to an executor).
    Inproc(InprocStream),
}

impl SharedStream {
    /// Attaches the connection to the current executor.
    pub fn into_stream(self) -> Stream {
        match self {
            SharedStream::Tcp(s, options) => {
                let s = s.bind_to_executor();
                let _ = s.set_nodelay(true);
                if options.tunes_accepted() {
                    with_socket(s.as_raw_fd(), |sock| {
                        let v6 = sock.local_addr().is_ok_and(|a| a.is_ipv6());
                        // The listener took these values, so a connection takes them
                        // too; should one fail, the connection runs without it.
                        if let Err(e) = options.apply_tuning(&sock, v6) {
                            tracing::debug!(error = %e, "option not set on an accepted connection");
                        }
                    });
                }
                Stream::Tcp(s)
            }
            SharedStream::Ipc(s) => Stream::Ipc(s.bind_to_executor()),
            SharedStream::Inproc(s) => Stream::Inproc(s),
        }
    }
}

impl Listener {
    /// Accepts the next connection, in a form that can run here or move to another
    /// core ([`SharedStream::into_stream`] attaches it to the executor that runs it).
    pub async fn accept(&self) -> io::Result<SharedStream> {
        match self {
            Listener::Tcp(l, options) => Ok(SharedStream::Tcp(l.shared_accept().await?, *options)),
            Listener::Ipc(l, _) => Ok(SharedStream::Ipc(l.shared_accept().await?)),
            Listener::Inproc(l) => Ok(SharedStream::Inproc(l.accept().await)),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Ipc(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn bind_tcp(
    addr: std::net::SocketAddr,
    backlog: i32,
    options: &TransportOptions,
) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    options.apply(&sock, addr.is_ipv6())?;
    if addr.is_ipv6() {
        let _ = sock.set_only_v6(false);
    }
    sock.bind(&SockAddr::from(addr))?;
    sock.listen(backlog)?;
    Ok(sock)
}

/// Opens a connection to `endpoint` (one attempt per address the host resolves to,
/// see [`Endpoint::resolve`]). TCP sockets get `options` before they connect, and
/// each address is given up after `options.connect_timeout` (a [`io::ErrorKind::TimedOut`]
/// error when it was the last).
pub async fn connect(endpoint: &Endpoint, options: &TransportOptions) -> io::Result<Stream> {
    match endpoint {
        Endpoint::Tcp { .. } => {
            let addrs = endpoint
                .resolve(options.ipv6, false)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let mut last = None;
            for addr in addrs {
                match connect_tcp(addr, options).await {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        return Ok(Stream::Tcp(s));
                    }
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address")))
        }
        Endpoint::Ipc(path) => {
            let sock = connect_unix(path)?;
            // SAFETY: `into_raw_fd` hands over sole ownership of a valid, connected
            // socket; the TcpStream becomes its only owner and closes it on drop.
            Ok(Stream::Ipc(unsafe {
                TcpStream::from_raw_fd(sock.into_raw_fd())
            }))
        }
        Endpoint::Inproc(name) => Ok(Stream::Inproc(crate::inproc::connect(name).await)),
    }
}

/// Connects a TCP socket built here (glommio's `connect` makes its own socket, so
/// options that must precede the SYN could not be set): a non-blocking `connect`,
/// then a zero-length send through glommio, which waits for writability and reports
/// the outcome. While the connection is being set up Linux answers that send with
/// `EAGAIN` (glommio then polls for writability); once it is established, with 0; if
/// it failed, with the error (`ECONNREFUSED`, …). With a connect timeout, the wait
/// is abandoned when it expires, and the socket (still connecting) closed.
async fn connect_tcp(
    addr: std::net::SocketAddr,
    options: &TransportOptions,
) -> io::Result<TcpStream> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    options.apply(&sock, addr.is_ipv6())?;
    sock.set_nonblocking(true)?;
    match sock.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    // glommio expects blocking-mode descriptors (it passes MSG_DONTWAIT itself); the
    // connect under way is not affected.
    sock.set_nonblocking(false)?;
    // SAFETY: `into_raw_fd` hands over sole ownership of a valid socket (connecting or
    // connected); the TcpStream becomes its only owner and closes it on drop.
    let mut stream = unsafe { TcpStream::from_raw_fd(sock.into_raw_fd()) };
    let established = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_write(cx, &[]));
    match options.connect_timeout {
        None => established.await?,
        Some(limit) => {
            futures_lite::future::or(established, async {
                glommio::timer::sleep(limit).await;
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connect to {addr} not completed within {limit:?} (CONNECT_TIMEOUT)"),
                ))
            })
            .await?
        }
    };
    Ok(stream)
}

/// Connects a Unix stream socket to `path` without blocking: a Unix connect completes
/// at once or fails (`WouldBlock` when the listener's backlog is full, refused when
/// nobody listens), and the caller's reconnect timer handles both. The socket is left
/// in blocking mode, as glommio expects (it passes `MSG_DONTWAIT` itself).
fn connect_unix(path: &std::path::Path) -> io::Result<Socket> {
    let sock = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    sock.set_nonblocking(true)?;
    sock.connect(&SockAddr::unix(path)?)?;
    sock.set_nonblocking(false)?;
    Ok(sock)
}
