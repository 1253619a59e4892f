//! Endpoint strings: `tcp://host:port`, `tcp://*:port`, `ipc:///path`.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;

/// A parsed transport endpoint.
///
/// ```
/// use monocoque_runtime::Endpoint;
/// let ep: Endpoint = "tcp://127.0.0.1:5555".parse().unwrap();
/// assert_eq!(ep.to_string(), "tcp://127.0.0.1:5555");
/// assert!("udp://x:1".parse::<Endpoint>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// TCP: a host name or address (`*` = every interface) and a port (0 = ephemeral).
    Tcp {
        /// Host name, IPv4 address, `[IPv6]` address, or `*`.
        host: String,
        /// Port (0: ephemeral).
        port: u16,
    },
    /// A Unix domain socket path.
    Ipc(PathBuf),
}

/// Why an endpoint string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// No `scheme://`.
    #[error("endpoint {0:?} has no transport (expected tcp://host:port or ipc:///path)")]
    MissingScheme(String),
    /// A scheme other than tcp or ipc.
    #[error("unsupported transport {0:?} (supported: tcp, ipc)")]
    UnsupportedTransport(String),
    /// A TCP endpoint without a valid `host:port`.
    #[error("invalid TCP address {0:?} (expected host:port, *:port or [v6]:port)")]
    InvalidTcpAddress(String),
    /// An empty IPC path.
    #[error("ipc endpoint has an empty path")]
    EmptyIpcPath,
    /// A host name that did not resolve.
    #[error("cannot resolve {0:?}")]
    Unresolvable(String),
}

impl Endpoint {
    /// Resolves a TCP endpoint to socket addresses (`*` → 0.0.0.0).
    pub fn socket_addrs(&self) -> Result<Vec<SocketAddr>, EndpointError> {
        match self {
            Endpoint::Tcp { host, port } => {
                let host = if host == "*" {
                    "0.0.0.0"
                } else {
                    host.as_str()
                };
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let addrs: Vec<SocketAddr> = (host, *port)
                    .to_socket_addrs()
                    .map_err(|_| EndpointError::Unresolvable(self.to_string()))?
                    .collect();
                if addrs.is_empty() {
                    Err(EndpointError::Unresolvable(self.to_string()))
                } else {
                    Ok(addrs)
                }
            }
            Endpoint::Ipc(_) => Err(EndpointError::InvalidTcpAddress(self.to_string())),
        }
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Endpoint, EndpointError> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| EndpointError::MissingScheme(s.to_string()))?;
        match scheme {
            "tcp" => {
                let (host, port) = rest
                    .rsplit_once(':')
                    .ok_or_else(|| EndpointError::InvalidTcpAddress(rest.to_string()))?;
                // libzmq's `*` port asks for an ephemeral one, like 0.
                let port: u16 = if port == "*" {
                    0
                } else {
                    port.parse()
                        .map_err(|_| EndpointError::InvalidTcpAddress(rest.to_string()))?
                };
                if host.is_empty() {
                    return Err(EndpointError::InvalidTcpAddress(rest.to_string()));
                }
                Ok(Endpoint::Tcp {
                    host: host.to_string(),
                    port,
                })
            }
            "ipc" => {
                if rest.is_empty() {
                    return Err(EndpointError::EmptyIpcPath);
                }
                Ok(Endpoint::Ipc(PathBuf::from(rest)))
            }
            other => Err(EndpointError::UnsupportedTransport(other.to_string())),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Endpoint::Ipc(path) => write!(f, "ipc://{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_libzmq_accepts() {
        assert_eq!(
            "tcp://*:5555".parse::<Endpoint>().unwrap(),
            Endpoint::Tcp {
                host: "*".into(),
                port: 5555
            }
        );
        assert_eq!(
            "tcp://[::1]:80".parse::<Endpoint>().unwrap(),
            Endpoint::Tcp {
                host: "[::1]".into(),
                port: 80
            }
        );
        assert_eq!(
            "tcp://127.0.0.1:*".parse::<Endpoint>().unwrap(),
            Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 0
            }
        );
        assert_eq!(
            "ipc:///tmp/x.sock".parse::<Endpoint>().unwrap(),
            Endpoint::Ipc("/tmp/x.sock".into())
        );
        assert_eq!(
            "tcp://[::1]:80"
                .parse::<Endpoint>()
                .unwrap()
                .socket_addrs()
                .unwrap()[0],
            "[::1]:80".parse().unwrap()
        );
    }

    #[test]
    fn rejects_malformed_endpoints() {
        for bad in [
            "",
            "tcp://",
            "tcp://host",
            "tcp://:5",
            "tcp://h:99999",
            "udp://h:1",
            "ipc://",
            "5555",
        ] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad:?} accepted");
        }
    }
}
