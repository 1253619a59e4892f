//! Network interface names in bind endpoints (`tcp://lo:5555`, `tcp://eth0:*`): the
//! address of a named interface, from `getifaddrs(3)`.
//!
//! libzmq accepts an interface name wherever a bind endpoint takes an address and
//! binds the interface's address: the first one the system lists whose family the
//! socket may use (IPv4, and IPv6 too with the IPV6 option). Linux lists an
//! interface's IPv4 addresses before its IPv6 ones, so `lo` is `127.0.0.1` in both
//! cases, and an interface with only IPv6 addresses needs IPV6.

use std::ffi::CStr;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// What the system knows of the interface called `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Interface {
    /// No interface has that name.
    Unknown,
    /// The interface exists but has no address of a family the socket may use:
    /// `has_ipv6` says whether it has an IPv6 one (which IPV6 would allow).
    NoAddress {
        /// The interface has an IPv6 address.
        has_ipv6: bool,
    },
    /// The interface's first usable address, with `port`.
    Address(SocketAddr),
}

/// Looks up the interface `name`: its first IPv4 address, or with `ipv6` its first
/// IPv4 or IPv6 address in the order the system lists them (link-local IPv6
/// addresses carry the interface's scope id).
pub(crate) fn interface_address(name: &str, port: u16, ipv6: bool) -> io::Result<Interface> {
    let list = IfAddrs::new()?;
    let mut known = false;
    let mut has_ipv6 = false;
    for (ifname, addr) in list.iter() {
        if ifname.to_bytes() != name.as_bytes() {
            continue;
        }
        known = true;
        match addr {
            Some(SocketAddr::V4(a)) => {
                return Ok(Interface::Address(SocketAddr::V4(SocketAddrV4::new(
                    *a.ip(),
                    port,
                ))))
            }
            Some(SocketAddr::V6(a)) if ipv6 => {
                return Ok(Interface::Address(SocketAddr::V6(SocketAddrV6::new(
                    *a.ip(),
                    port,
                    0,
                    a.scope_id(),
                ))))
            }
            Some(SocketAddr::V6(_)) => has_ipv6 = true,
            None => {}
        }
    }
    Ok(if known {
        Interface::NoAddress { has_ipv6 }
    } else {
        Interface::Unknown
    })
}

/// The list `getifaddrs` returns, freed when dropped.
struct IfAddrs {
    head: *mut libc::ifaddrs,
}

impl IfAddrs {
    fn new() -> io::Result<IfAddrs> {
        let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
        // SAFETY: `head` is a live local the call writes one pointer to; on success
        // it owns the list until `freeifaddrs` (in Drop), on failure it is not used.
        if unsafe { libc::getifaddrs(&mut head) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(IfAddrs { head })
    }

    /// Each entry's interface name and its address when it is an IPv4 or IPv6 one
    /// (`None` for other families, such as the AF_PACKET entries, and no address).
    fn iter(&self) -> impl Iterator<Item = (&CStr, Option<SocketAddr>)> + '_ {
        let mut cur = self.head;
        std::iter::from_fn(move || {
            while !cur.is_null() {
                // SAFETY: `cur` is the head or an `ifa_next` link of the list that
                // `self` owns and frees only when dropped, which the borrow of
                // `self` rules out while this iterator lives.
                let ifa = unsafe { &*cur };
                cur = ifa.ifa_next;
                if ifa.ifa_name.is_null() {
                    continue;
                }
                // SAFETY: a non-null `ifa_name` is a NUL-terminated string that is
                // part of the list (see above).
                let name = unsafe { CStr::from_ptr(ifa.ifa_name) };
                return Some((name, socket_addr(ifa.ifa_addr)));
            }
            None
        })
    }
}

impl Drop for IfAddrs {
    fn drop(&mut self) {
        // SAFETY: `head` came from a successful `getifaddrs` and is freed only here.
        unsafe { libc::freeifaddrs(self.head) }
    }
}

/// The IPv4 or IPv6 address `addr` points to, if it is one.
fn socket_addr(addr: *const libc::sockaddr) -> Option<SocketAddr> {
    if addr.is_null() {
        return None;
    }
    // SAFETY: a non-null `ifa_addr` points to a socket address of the list, at
    // least a `sockaddr` long; its family field says which structure it really is,
    // and only that structure is read below.
    let family = i32::from(unsafe { (*addr).sa_family });
    match family {
        libc::AF_INET => {
            // SAFETY: an AF_INET address is a `sockaddr_in` (see above).
            let sin = unsafe { &*addr.cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(ip, 0)))
        }
        libc::AF_INET6 => {
            // SAFETY: an AF_INET6 address is a `sockaddr_in6` (see above).
            let sin6 = unsafe { &*addr.cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                0,
                0,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_127_0_0_1_with_or_without_ipv6() {
        for ipv6 in [false, true] {
            assert_eq!(
                interface_address("lo", 7, ipv6).unwrap(),
                Interface::Address("127.0.0.1:7".parse().unwrap())
            );
        }
    }

    #[test]
    fn unknown_names_are_reported() {
        assert_eq!(
            interface_address("no-such-if0", 7, true).unwrap(),
            Interface::Unknown
        );
        assert_eq!(interface_address("", 7, true).unwrap(), Interface::Unknown);
    }
}
