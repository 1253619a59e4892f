//! Endpoint strings: `tcp://host:port`, `tcp://*:port`, `tcp://[v6]:port`,
//! `tcp://interface:port` (bind), `ipc:///path`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;

/// A parsed transport endpoint. The host of a TCP endpoint is resolved only when it
/// is used, by [`Endpoint::resolve`] (`*`, IPv4 and `[IPv6]` addresses, interface names
/// for bind, host names).
///
/// ```
/// # use monocoque_runtime as monocoque; // users name these through `monocoque`
/// use monocoque::Endpoint;
/// let ep: Endpoint = "tcp://127.0.0.1:5555".parse().unwrap();
/// assert_eq!(ep.to_string(), "tcp://127.0.0.1:5555");
/// assert!("udp://x:1".parse::<Endpoint>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// TCP: a host name or address (`*` = every interface) and a port (0 = ephemeral).
    Tcp {
        /// Host name, interface name (bind), IPv4 address, `[IPv6]` address, or `*`.
        host: String,
        /// Port (0: ephemeral).
        port: u16,
    },
    /// A Unix domain socket path.
    Ipc(PathBuf),
    /// A name within the process: `inproc://name`, between sockets of one executor
    /// or of several threads and cores, without system calls or copies.
    Inproc(String),
}

/// Why an endpoint string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// No `scheme://`.
    #[error(
        "endpoint {0:?} has no transport (expected tcp://host:port, ipc:///path or inproc://name)"
    )]
    MissingScheme(String),
    /// A scheme other than tcp or ipc.
    #[error("unsupported transport {0:?} (supported: tcp, ipc, inproc)")]
    UnsupportedTransport(String),
    /// A TCP endpoint without a valid `host:port`.
    #[error("invalid TCP address {0:?} (expected host:port, *:port or [v6]:port)")]
    InvalidTcpAddress(String),
    /// An empty IPC path.
    #[error("ipc endpoint has an empty path")]
    EmptyIpcPath,
    /// An empty inproc name.
    #[error("inproc endpoint has an empty name")]
    EmptyInprocName,
    /// A host name that did not resolve.
    #[error("cannot resolve {0:?}")]
    Unresolvable(String),
    /// A bind endpoint whose host is neither an address, nor an interface name, nor a
    /// host name that resolves.
    #[error(
        "cannot bind {0:?}: not an IP address, `*`, a network interface name or a host \
         name that resolves"
    )]
    UnknownInterface(String),
    /// A bind endpoint names an interface that has no address the socket may use.
    #[error("cannot bind {endpoint:?}: interface {interface:?} has no IPv4 address{hint}")]
    InterfaceWithoutAddress {
        /// The endpoint asked for.
        endpoint: String,
        /// The interface name.
        interface: String,
        /// What would help (the IPV6 option when the interface has IPv6 addresses).
        hint: &'static str,
    },
    /// A host name that resolves to IPv6 addresses only, on a socket without the IPV6
    /// option.
    #[error("{0:?} resolves to IPv6 addresses only; set the IPV6 option to use them")]
    Ipv6Only(String),
}

impl Endpoint {
    /// Resolves a TCP endpoint to the addresses to bind (`bind`) or connect to, as
    /// libzmq does with its IPV6 option `ipv6`:
    ///
    /// - `*` is every interface: `0.0.0.0`, or with `ipv6` the dual-stack `::` (IPv6
    ///   and IPv4-mapped connections on one socket).
    /// - An IP address, bracketed or not for IPv6 (`[::1]`, `::1`), is taken as it is.
    ///   libzmq refuses IPv6 addresses unless IPV6 is set; here the address says what
    ///   is wanted, so it needs no option.
    /// - For `bind`, a network interface name (`lo`, `eth0`) stands for the
    ///   interface's first IPv4 address, or with `ipv6` its first address of either
    ///   family, in the order the system lists them (Linux lists IPv4 first).
    /// - Anything else is a host name, resolved by the system; without `ipv6` only
    ///   its IPv4 addresses are used. libzmq resolves host names only to connect;
    ///   binding one (`tcp://localhost:5555`) is an extension.
    pub fn resolve(&self, ipv6: bool, bind: bool) -> Result<Vec<SocketAddr>, EndpointError> {
        let Endpoint::Tcp { host, port } = self else {
            return Err(EndpointError::InvalidTcpAddress(self.to_string()));
        };
        let port = *port;
        if host == "*" {
            let any = if ipv6 {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            };
            return Ok(vec![SocketAddr::new(any, port)]);
        }
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        if bind {
            use crate::netif::{interface_address, Interface};
            match interface_address(bare, port, ipv6) {
                Ok(Interface::Address(addr)) => return Ok(vec![addr]),
                Ok(Interface::NoAddress { has_ipv6 }) => {
                    return Err(EndpointError::InterfaceWithoutAddress {
                        endpoint: self.to_string(),
                        interface: bare.to_owned(),
                        hint: if ipv6 {
                            " or IPv6 address"
                        } else if has_ipv6 {
                            " (it has IPv6 ones: set the IPV6 option to bind them)"
                        } else {
                            ""
                        },
                    })
                }
                // Not an interface (or no list of them): try it as a host name.
                Ok(Interface::Unknown) | Err(_) => {}
            }
        }
        let unresolvable = || {
            if bind {
                EndpointError::UnknownInterface(self.to_string())
            } else {
                EndpointError::Unresolvable(self.to_string())
            }
        };
        let all: Vec<SocketAddr> = (bare, port)
            .to_socket_addrs()
            .map_err(|_| unresolvable())?
            .collect();
        if all.is_empty() {
            return Err(unresolvable());
        }
        if ipv6 {
            return Ok(all);
        }
        let v4: Vec<SocketAddr> = all.into_iter().filter(SocketAddr::is_ipv4).collect();
        if v4.is_empty() {
            return Err(EndpointError::Ipv6Only(self.to_string()));
        }
        Ok(v4)
    }

    /// Resolves a TCP endpoint to socket addresses of both families (`*` →
    /// 0.0.0.0), as for connecting with the IPV6 option; see [`Endpoint::resolve`]
    /// for the rules bind and connect follow.
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
            Endpoint::Ipc(_) | Endpoint::Inproc(_) => {
                Err(EndpointError::InvalidTcpAddress(self.to_string()))
            }
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
            "inproc" => {
                if rest.is_empty() {
                    return Err(EndpointError::EmptyInprocName);
                }
                Ok(Endpoint::Inproc(rest.to_string()))
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
            Endpoint::Inproc(name) => write!(f, "inproc://{name}"),
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

    fn resolve(ep: &str, ipv6: bool, bind: bool) -> Result<Vec<SocketAddr>, EndpointError> {
        ep.parse::<Endpoint>().unwrap().resolve(ipv6, bind)
    }

    #[test]
    fn star_is_ipv4_any_or_dual_stack_with_ipv6() {
        for bind in [true, false] {
            assert_eq!(
                resolve("tcp://*:7", false, bind).unwrap(),
                ["0.0.0.0:7".parse().unwrap()]
            );
            assert_eq!(
                resolve("tcp://*:7", true, bind).unwrap(),
                ["[::]:7".parse().unwrap()]
            );
        }
    }

    #[test]
    fn addresses_are_taken_as_given_whatever_ipv6_says() {
        for ipv6 in [false, true] {
            for ep in ["tcp://[::1]:7", "tcp://::1:7"] {
                assert_eq!(
                    resolve(ep, ipv6, true).unwrap(),
                    ["[::1]:7".parse().unwrap()]
                );
            }
            assert_eq!(
                resolve("tcp://127.0.0.1:7", ipv6, false).unwrap(),
                ["127.0.0.1:7".parse().unwrap()]
            );
        }
    }

    #[test]
    fn interface_names_are_for_binding() {
        assert_eq!(
            resolve("tcp://lo:7", false, true).unwrap(),
            ["127.0.0.1:7".parse().unwrap()]
        );
        assert!(matches!(
            resolve("tcp://no-such-if0:7", false, true),
            Err(EndpointError::UnknownInterface(_))
        ));
        assert!(matches!(
            resolve("tcp://no-such-if0:7", false, false),
            Err(EndpointError::Unresolvable(_))
        ));
    }

    #[test]
    fn host_names_resolve_to_ipv4_only_without_ipv6() {
        let v4 = resolve("tcp://localhost:7", false, false).unwrap();
        assert!(
            !v4.is_empty() && v4.iter().all(SocketAddr::is_ipv4),
            "{v4:?}"
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
