//! TCP and IPC transports on glommio: listeners that report "address in use" like
//! libzmq, and one stream type over both.

use std::io;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::endpoint::Endpoint;

/// A connected byte stream over TCP or a Unix domain socket.
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// Unix domain socket.
    Ipc(UnixStream),
}

impl Stream {
    /// A printable description of the remote end, for logs.
    pub fn peer_description(&self) -> String {
        match self {
            Stream::Tcp(s) => s
                .peer_addr()
                .map(|a| format!("tcp://{a}"))
                .unwrap_or_else(|_| "tcp://?".into()),
            Stream::Ipc(_) => "ipc peer".into(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Ipc(s) => Pin::new(s).poll_read(cx, buf),
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
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Ipc(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Ipc(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_close(cx),
            Stream::Ipc(s) => Pin::new(s).poll_close(cx),
        }
    }
}

/// A bound, listening endpoint.
pub enum Listener {
    /// TCP listener.
    Tcp(TcpListener),
    /// Unix domain socket listener and its path (removed when dropped).
    Ipc(UnixListener, std::path::PathBuf),
}

impl Listener {
    /// Binds `endpoint` on the current glommio executor.
    ///
    /// TCP listeners are built with socket2 with SO_REUSEADDR but without SO_REUSEPORT,
    /// so a port that is already bound fails with `AddrInUse` (glommio's own `bind`
    /// would silently share it). IPC follows libzmq: a stale socket file at the path is
    /// removed before binding.
    pub fn bind(endpoint: &Endpoint, backlog: i32) -> io::Result<Listener> {
        match endpoint {
            Endpoint::Tcp { .. } => {
                let addrs = endpoint
                    .socket_addrs()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                let mut last = None;
                for addr in addrs {
                    match bind_tcp(addr, backlog) {
                        Ok(sock) => {
                            // SAFETY: `into_raw_fd` hands over sole ownership of a valid,
                            // bound and listening socket; the TcpListener becomes its only
                            // owner and closes it on drop.
                            let listener = unsafe { TcpListener::from_raw_fd(sock.into_raw_fd()) };
                            return Ok(Listener::Tcp(listener));
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
                let listener = UnixListener::bind(path)?;
                Ok(Listener::Ipc(listener, path.clone()))
            }
        }
    }

    /// The endpoint actually bound (with the real port for `tcp://…:0`).
    pub fn local_endpoint(&self) -> io::Result<Endpoint> {
        match self {
            Listener::Tcp(l) => {
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
        }
    }

    /// Accepts the next connection.
    pub async fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => {
                let s = l.accept().await?;
                let _ = s.set_nodelay(true);
                Ok(Stream::Tcp(s))
            }
            Listener::Ipc(l, _) => Ok(Stream::Ipc(l.accept().await?)),
        }
    }
}

/// An accepted connection that can move to another core's executor.
pub enum SharedStream {
    /// TCP.
    Tcp(glommio::net::AcceptedTcpStream),
    /// Unix domain socket.
    Ipc(glommio::net::AcceptedUnixStream),
}

impl SharedStream {
    /// Attaches the connection to the current executor.
    pub fn into_stream(self) -> Stream {
        match self {
            SharedStream::Tcp(s) => {
                let s = s.bind_to_executor();
                let _ = s.set_nodelay(true);
                Stream::Tcp(s)
            }
            SharedStream::Ipc(s) => Stream::Ipc(s.bind_to_executor()),
        }
    }
}

impl Listener {
    /// Accepts the next connection in a form that can be handed to another core.
    pub async fn accept_shared(&self) -> io::Result<SharedStream> {
        match self {
            Listener::Tcp(l) => Ok(SharedStream::Tcp(l.shared_accept().await?)),
            Listener::Ipc(l, _) => Ok(SharedStream::Ipc(l.shared_accept().await?)),
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

fn bind_tcp(addr: std::net::SocketAddr, backlog: i32) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        let _ = sock.set_only_v6(false);
    }
    sock.bind(&SockAddr::from(addr))?;
    sock.listen(backlog)?;
    Ok(sock)
}

/// Opens a connection to `endpoint` (one attempt).
pub async fn connect(endpoint: &Endpoint) -> io::Result<Stream> {
    match endpoint {
        Endpoint::Tcp { .. } => {
            let addrs = endpoint
                .socket_addrs()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let mut last = None;
            for addr in addrs {
                match TcpStream::connect(addr).await {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        return Ok(Stream::Tcp(s));
                    }
                    Err(e) => last = Some(io::Error::from(e)),
                }
            }
            Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address")))
        }
        Endpoint::Ipc(path) => Ok(Stream::Ipc(UnixStream::connect(path).await?)),
    }
}
