//! The eleven ZeroMQ socket types, their wire names and which pairs may talk.

/// A ZeroMQ socket type, as announced in READY's `Socket-Type` property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketType {
    /// `PAIR`: exclusive pair.
    Pair,
    /// `PUB`: publisher.
    Pub,
    /// `SUB`: subscriber.
    Sub,
    /// `REQ`: requester.
    Req,
    /// `REP`: replier.
    Rep,
    /// `DEALER`: asynchronous requester.
    Dealer,
    /// `ROUTER`: identity-routing replier.
    Router,
    /// `PULL`: pipeline sink.
    Pull,
    /// `PUSH`: pipeline source.
    Push,
    /// `XPUB`: publisher that sees subscriptions.
    XPub,
    /// `XSUB`: subscriber that sends subscriptions as messages.
    XSub,
}

impl SocketType {
    /// All eleven types.
    pub const ALL: [SocketType; 11] = [
        SocketType::Pair,
        SocketType::Pub,
        SocketType::Sub,
        SocketType::Req,
        SocketType::Rep,
        SocketType::Dealer,
        SocketType::Router,
        SocketType::Pull,
        SocketType::Push,
        SocketType::XPub,
        SocketType::XSub,
    ];

    /// The exact wire spelling (`"PAIR"`, `"XPUB"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            SocketType::Pair => "PAIR",
            SocketType::Pub => "PUB",
            SocketType::Sub => "SUB",
            SocketType::Req => "REQ",
            SocketType::Rep => "REP",
            SocketType::Dealer => "DEALER",
            SocketType::Router => "ROUTER",
            SocketType::Pull => "PULL",
            SocketType::Push => "PUSH",
            SocketType::XPub => "XPUB",
            SocketType::XSub => "XSUB",
        }
    }

    /// Parses the exact wire spelling (case-sensitive, as libzmq compares it).
    pub fn from_wire(name: &[u8]) -> Option<SocketType> {
        SocketType::ALL
            .iter()
            .copied()
            .find(|t| t.as_str().as_bytes() == name)
    }

    /// Whether a peer of type `peer` may connect to a socket of type `self`
    /// (ZMTP-NOTES: REQ↔REP/ROUTER, DEALER↔REP/DEALER/ROUTER, …).
    pub fn is_compatible(self, peer: SocketType) -> bool {
        use SocketType::*;
        match self {
            Req => matches!(peer, Rep | Router),
            Rep => matches!(peer, Req | Dealer),
            Dealer => matches!(peer, Rep | Dealer | Router),
            Router => matches!(peer, Req | Dealer | Router),
            Pub | XPub => matches!(peer, Sub | XSub),
            Sub | XSub => matches!(peer, Pub | XPub),
            Push => peer == Pull,
            Pull => peer == Push,
            Pair => peer == Pair,
        }
    }
}

impl std::fmt::Display for SocketType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Case-insensitive parse, for command lines and configuration (`"sub"`, `"Sub"`).
impl std::str::FromStr for SocketType {
    type Err = String;

    fn from_str(s: &str) -> Result<SocketType, String> {
        SocketType::ALL
            .iter()
            .copied()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = SocketType::ALL.iter().map(|t| t.as_str()).collect();
                format!(
                    "unknown socket type {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_roundtrip() {
        for t in SocketType::ALL {
            assert_eq!(SocketType::from_wire(t.as_str().as_bytes()), Some(t));
            assert_eq!(t.as_str().parse::<SocketType>(), Ok(t));
            assert_eq!(t.as_str().to_lowercase().parse::<SocketType>(), Ok(t));
            assert_eq!(t.to_string(), t.as_str());
        }
        assert_eq!(SocketType::from_wire(b"dealer"), None);
        assert_eq!(SocketType::from_wire(b""), None);
        assert!("nope".parse::<SocketType>().unwrap_err().contains("DEALER"));
    }

    #[test]
    fn compatibility_is_symmetric() {
        for a in SocketType::ALL {
            for b in SocketType::ALL {
                assert_eq!(a.is_compatible(b), b.is_compatible(a), "{a} vs {b}");
            }
        }
        let count = SocketType::ALL
            .iter()
            .flat_map(|a| SocketType::ALL.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.is_compatible(*b))
            .count();
        // REQ:2 REP:2 DEALER:3 ROUTER:3 PUB:2 XPUB:2 SUB:2 XSUB:2 PUSH:1 PULL:1 PAIR:1
        assert_eq!(count, 21);
    }
}
